//! `Ring<T, N>`: a bounded multi-producer multi-consumer FIFO in shared memory.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, AtomicU64};

use crate::layout::{Element, Field};
use crate::table::Kind;

/// One cache line of a ring's control block: a position counter and a futex word with its
/// waiter count.
#[repr(C, align(64))]
pub(crate) struct RingLine {
    pub(crate) pos: AtomicU64,
    pub(crate) futex: AtomicU32,
    pub(crate) waiters: AtomicU32,
}

/// The metadata line of a ring.
#[repr(C, align(64))]
pub(crate) struct RingMeta {
    pub(crate) capacity: u64,
    pub(crate) slot_size: u64,
    pub(crate) closed: AtomicU32,
}

/// One slot: a sequence number (Vyukov's scheme) and the item.
#[repr(C)]
pub(crate) struct RingSlot<T> {
    pub(crate) seq: AtomicU64,
    pub(crate) item: UnsafeCell<T>,
}

/// A bounded FIFO of `N` items of `T` (`ring`, `item = T`, `capacity = N`), like
/// `multiprocessing.Queue` for fixed-size items.
#[repr(C, align(64))]
pub struct Ring<T, const N: usize> {
    pub(crate) head: RingLine,
    pub(crate) tail: RingLine,
    pub(crate) meta: RingMeta,
    pub(crate) slots: [RingSlot<T>; N],
}

// SAFETY: the control block is atomics (and `capacity`/`slot_size`, written only by the
// segment initialiser before the segment is published); a slot's item is written by the one
// producer that claimed it and read by the one consumer that claimed it, the claim being made
// through the slot's sequence number (Vyukov's protocol, FORMAT.md §4), which also orders the
// item's bytes. Items cross threads by copy, which needs `T: Send`. (Until the ring's methods
// exist nothing touches the slots at all.)
unsafe impl<T: Send, const N: usize> Sync for Ring<T, N> {}

// SAFETY: `Ring<T, N>` is a 192-byte control block then N `{ u64, T }` slots, aligned to 64:
// exactly `abi::ring_layout`; the `ring_layouts_match` test checks it.
unsafe impl<T: Element + Copy, const N: usize> Field for Ring<T, N> {
    const KIND: Kind<'static> = Kind::Ring {
        item: T::TY,
        capacity: N,
    };
}
