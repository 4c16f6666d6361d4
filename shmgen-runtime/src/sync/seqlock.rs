//! `SeqLock<T>`: one writer at a time; readers never block and never see a torn value.

use core::cell::UnsafeCell;
use core::sync::atomic::AtomicU64;

use crate::layout::{Element, Field};
use crate::sync::mutex::RawMutex;
use crate::table::Kind;

/// A seqlock-protected value (`lock = "seqlock"`). Two copies of the value: a writer fills the
/// copy readers are not using, then publishes it by bumping the sequence, so a writer that dies
/// mid-write never exposes a torn value. Writers are serialised by a robust mutex.
#[repr(C)]
pub struct SeqLock<T> {
    pub(crate) seq: AtomicU64,
    pub(crate) writer: RawMutex,
    pub(crate) slots: [UnsafeCell<T>; 2],
}

// SAFETY: `SeqLock<T>` is `repr(C) { u64, [u8; 48], [T; 2] }`, exactly `abi::seqlock_layout`;
// the `seqlock_layouts_match` test checks it.
unsafe impl<T: Element + Copy> Field for SeqLock<T> {
    const KIND: Kind<'static> = Kind::SeqLock(T::TY);
}
