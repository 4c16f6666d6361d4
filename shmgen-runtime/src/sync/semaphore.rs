//! `Semaphore` and `Event`: futex-based, process-shared, 8 bytes each.

use core::sync::atomic::AtomicU32;

use crate::layout::Field;
use crate::table::Kind;

/// A counting semaphore (`semaphore`, `initial = K`), like `multiprocessing.Semaphore`.
/// `INITIAL` is the count a new segment starts with.
#[repr(C)]
pub struct Semaphore<const INITIAL: u32 = 0> {
    pub(crate) count: AtomicU32,
    pub(crate) waiters: AtomicU32,
}

/// A set/clear/wait flag (`event`), like `multiprocessing.Event`.
#[repr(C)]
pub struct Event {
    pub(crate) state: AtomicU32,
    pub(crate) waiters: AtomicU32,
}

// SAFETY: `{ u32 count, u32 waiters }`: 8 bytes, alignment 4 (`abi::SEMAPHORE_SIZE/ALIGN`).
unsafe impl<const INITIAL: u32> Field for Semaphore<INITIAL> {
    const KIND: Kind<'static> = Kind::Semaphore { initial: INITIAL };
}

// SAFETY: `{ u32 state, u32 waiters }`: 8 bytes, alignment 4 (`abi::EVENT_SIZE/ALIGN`).
unsafe impl Field for Event {
    const KIND: Kind<'static> = Kind::Event;
}
