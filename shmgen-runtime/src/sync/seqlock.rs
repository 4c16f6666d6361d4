//! `SeqLock<T>`: one writer at a time; readers never block and never see a torn value.
//!
//! Bytes and protocol: `docs/FORMAT.md` §4 ("SeqLock"). Two copies of the value; the current one
//! is copy `seq & 1`. A writer (serialised by a robust mutex) fills the other copy and then
//! publishes it by storing `seq + 1` with release ordering. A reader copies the current copy and
//! keeps it only if `seq` did not move meanwhile.

use core::cell::UnsafeCell;
use core::fmt;
use core::mem::MaybeUninit;
use core::sync::atomic::{fence, AtomicU64, Ordering};

use crate::layout::{Element, Field};
use crate::sync::mutex::RawMutex;
use crate::sys::LockStatus;
use crate::table::Kind;

/// A seqlock-protected value (`lock = "seqlock"`). Two copies of the value: a writer fills the
/// copy readers are not using, then publishes it by bumping the sequence, so a writer that dies
/// mid-write never exposes a torn value. Writers are serialised by a robust mutex.
///
/// `read()` never blocks and never returns a torn value; `write(v)` / `update(f)` wait for other
/// writers only. If a writer died holding the writer lock, the next writer takes it over
/// silently: the published copy is always whole, so there is nothing to repair.
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

// SAFETY: writers are serialised by the process-shared writer mutex and only write the copy
// that is not published; readers only copy bytes out (with volatile reads) and discard copies
// that may have raced with a writer (the sequence moved). Values cross threads by copy, which
// needs `T: Send` (and `T: Copy`, so no drop glue or ownership is involved).
unsafe impl<T: Copy + Send> Sync for SeqLock<T> {}

/// Copies `len` bytes from shared memory at `src` into private memory at `dst` with volatile
/// loads (8 bytes at a time where `src` is aligned), so the compiler neither elides nor
/// invents accesses to memory another process may be writing.
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `len` bytes, and they do not overlap.
#[inline(always)]
unsafe fn volatile_copy_in(src: *const u8, dst: *mut u8, len: usize) {
    let mut i = 0;
    // SAFETY: every access is at `src + i`/`dst + i` with `i < len`, in bounds per the
    // contract; the 8-byte loads are at 8-aligned source addresses (checked by the first loop),
    // and the destination writes are `write_unaligned`.
    unsafe {
        while i < len && (src.add(i) as usize) % 8 != 0 {
            *dst.add(i) = core::ptr::read_volatile(src.add(i));
            i += 1;
        }
        while i + 8 <= len {
            let w = core::ptr::read_volatile(src.add(i).cast::<u64>());
            core::ptr::write_unaligned(dst.add(i).cast::<u64>(), w);
            i += 8;
        }
        while i < len {
            *dst.add(i) = core::ptr::read_volatile(src.add(i));
            i += 1;
        }
    }
}

/// Copies `len` bytes from private memory at `src` into shared memory at `dst` with volatile
/// stores (8 bytes at a time where `dst` is aligned).
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `len` bytes, and they do not overlap.
#[inline(always)]
unsafe fn volatile_copy_out(src: *const u8, dst: *mut u8, len: usize) {
    let mut i = 0;
    // SAFETY: as in `volatile_copy_in`, with the roles swapped: aligned volatile 8-byte stores
    // to `dst`, unaligned plain loads from private `src`, all in bounds.
    unsafe {
        while i < len && (dst.add(i) as usize) % 8 != 0 {
            core::ptr::write_volatile(dst.add(i), *src.add(i));
            i += 1;
        }
        while i + 8 <= len {
            let w = core::ptr::read_unaligned(src.add(i).cast::<u64>());
            core::ptr::write_volatile(dst.add(i).cast::<u64>(), w);
            i += 8;
        }
        while i < len {
            core::ptr::write_volatile(dst.add(i), *src.add(i));
            i += 1;
        }
    }
}

/// Unlocks the writer mutex when dropped (also when an `update` closure panics).
struct WriterGuard<'a>(&'a RawMutex);

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: a `WriterGuard` is created right after this thread locked the writer mutex
        // (in `SeqLock::lock_writer`), and it never leaves that function's caller.
        unsafe { self.0.unlock() }
    }
}

impl<T: Copy> SeqLock<T> {
    fn lock_writer(&self) -> WriterGuard<'_> {
        // Owner death: `sys` already marked the mutex consistent; the published copy is whole
        // (a writer only ever writes the unpublished copy), so just go on.
        let _: LockStatus = self.writer.lock();
        WriterGuard(&self.writer)
    }

    /// A copy of the current value. Never blocks and never returns a torn value; retries while
    /// a writer publishes concurrently.
    #[inline]
    pub fn read(&self) -> T {
        let mut out = MaybeUninit::<T>::uninit();
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            let src = self.slots[(s1 & 1) as usize].get();
            // SAFETY: `src` is one of this seqlock's copies (in bounds, mapped while `&self`
            // lives); `out` is private memory of `size_of::<T>()` bytes.
            unsafe {
                volatile_copy_in(
                    src.cast_const().cast::<u8>(),
                    out.as_mut_ptr().cast::<u8>(),
                    core::mem::size_of::<T>(),
                );
            }
            fence(Ordering::Acquire);
            let s2 = self.seq.load(Ordering::Relaxed);
            if s1 == s2 {
                // SAFETY: the sequence did not move while copying, so no writer wrote this copy
                // during the copy (a writer only writes the copy a *later* sequence publishes,
                // and publishes before the next writer may start): `out` holds a whole value
                // that a writer stored from a valid `T`.
                return unsafe { out.assume_init() };
            }
            core::hint::spin_loop();
        }
    }

    /// Publishes `value`: waits for other writers (never for readers).
    pub fn write(&self, value: T) {
        let _g = self.lock_writer();
        self.publish_locked(&value);
    }

    /// Replaces the value with `f(current)` atomically with respect to other writers.
    pub fn update(&self, f: impl FnOnce(T) -> T) {
        let _g = self.lock_writer();
        let s = self.seq.load(Ordering::Relaxed);
        // SAFETY: this thread holds the writer mutex, so no one writes either copy now; the
        // published copy `s & 1` was completely written before `seq` became `s`.
        let current = unsafe { core::ptr::read_volatile(self.slots[(s & 1) as usize].get()) };
        let next = f(current);
        self.publish_locked(&next);
    }

    /// Writes `value` into the unpublished copy and publishes it. The writer mutex is held.
    fn publish_locked(&self, value: &T) {
        let s = self.seq.load(Ordering::Relaxed);
        let dst = self.slots[((s.wrapping_add(1)) & 1) as usize].get();
        // Order the sequence we observed before the data stores, so a reader that sees any of
        // them also sees (at least) sequence `s` and, if it copied this slot for an older
        // sequence, retries (FORMAT.md §4).
        fence(Ordering::Release);
        // SAFETY: the writer mutex is held, so this thread is the only writer; `dst` is the
        // copy readers do not keep (they keep only copy `seq & 1`); both pointers are valid
        // for `size_of::<T>()` bytes.
        unsafe {
            volatile_copy_out(
                (value as *const T).cast::<u8>(),
                dst.cast::<u8>(),
                core::mem::size_of::<T>(),
            );
        }
        self.seq.store(s.wrapping_add(1), Ordering::Release);
    }

    /// The current value, without any synchronisation: `&mut self` proves nobody else can
    /// reach it (used in a segment's `init` closure).
    pub fn get_mut(&mut self) -> &mut T {
        let s = *self.seq.get_mut();
        self.slots[(s & 1) as usize].get_mut()
    }

    /// The sequence number: how many writes were published since the segment was created.
    pub fn sequence(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }
}

impl<T: Copy + fmt::Debug> fmt::Debug for SeqLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeqLock")
            .field("value", &self.read())
            .finish()
    }
}
