//! `Mutex<T>` and `RMutex<T>`: robust, process-shared pthread mutexes in front of a value.

use core::cell::UnsafeCell;

use crate::layout::{Element, Field};
use crate::table::Kind;

/// The 48 bytes reserved for a glibc `pthread_mutex_t` (see `abi::RAW_MUTEX_SIZE`).
#[repr(C, align(8))]
pub struct RawMutex {
    pub(crate) bytes: UnsafeCell<[u8; crate::abi::RAW_MUTEX_SIZE]>,
}

/// A field with its own robust, process-shared mutex (`lock = "mutex"`, like
/// `multiprocessing.Lock`). A holder that dies does not deadlock the others: the next `lock()`
/// reports [`crate::OwnerDied`] and the value can be repaired.
#[repr(C)]
pub struct Mutex<T> {
    pub(crate) raw: RawMutex,
    pub(crate) value: UnsafeCell<T>,
}

/// A reentrant robust mutex (`lock = "rmutex"`, like `multiprocessing.RLock`).
#[repr(C)]
pub struct RMutex<T> {
    pub(crate) raw: RawMutex,
    pub(crate) value: UnsafeCell<T>,
}

// SAFETY: `Mutex<T>` is `repr(C) { [u8; 48] align 8, T }`, exactly `abi::mutex_layout`; the
// `mutex_layouts_match` test checks it.
unsafe impl<T: Element> Field for Mutex<T> {
    const KIND: Kind<'static> = Kind::Mutex(T::TY);
}

// SAFETY: as for `Mutex<T>`: the same bytes, initialised as a recursive mutex.
unsafe impl<T: Element> Field for RMutex<T> {
    const KIND: Kind<'static> = Kind::RMutex(T::TY);
}
