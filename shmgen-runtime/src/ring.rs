//! `Ring<T, N>`: a bounded multi-producer multi-consumer FIFO in shared memory, like
//! `multiprocessing.Queue` for fixed-size items.
//!
//! The protocol (`docs/FORMAT.md` §4 "Ring", which the Python runtime implements too) is
//! Dmitry Vyukov's bounded MPMC queue — one sequence number per slot — made crash-recoverable:
//! a process claims a slot with a compare-and-swap on the slot's sequence number that writes a
//! *busy word* naming the position and the claimer's thread id. Producers and consumers never
//! take a lock, so a process that dies in the middle of a push or a pop cannot wedge the ring:
//! whoever is blocked by its busy word finds the thread gone (`kill(tid, 0)`, or a zombie), and
//! repairs the slot. The loss is bounded: at most the one item the dead process was pushing or
//! popping. `head` and `tail` are only hints (every position below them is taken), raised by
//! whoever claims a position; positions found taken are skipped.
//!
//! One producer and one consumer touch only their own position's cache line and the slots
//! (no read-modify-write on the other side's line): per operation one compare-and-swap (the
//! claim), plain stores, and a plain load of the sleep registrations on the caller's own line
//! (sleepers pay for the Dekker pairing with a global `membarrier`; a process that cannot
//! register for those barriers swaps instead). Futexes are only used when the ring is empty
//! (consumers sleep) or full (producers sleep), after a short bounded spin. `docs/RING.md`
//! describes the API and the guarantees.
//!
//! # Items
//! Items are copied in and out (`T: Copy`, an [`Element`]: scalars, arrays, `Str`, `Bytes`,
//! generated structs), or filled and read in place with [`Ring::push_with`] / [`Ring::pop_with`]. Like every shmgen type, a ring trusts the processes that map it: an item
//! is read back as the bytes a producer wrote, so a foreign writer storing anything but 0 or 1
//! in a `bool` (the one element type with invalid bit patterns) breaks Rust's validity rules.
//! The ring itself never indexes with anything read from shared memory: the slot of position
//! `p` is `p % N` with the compile-time `N`.

use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::hint::spin_loop;
use core::sync::atomic::{compiler_fence, AtomicU32, AtomicU64, Ordering};
use core::time::Duration;
use std::sync::Once;
use std::time::Instant;

use crate::layout::{Element, Field};
use crate::sys;
use crate::table::Kind;

/// One cache line of a ring's control block: a position counter and a futex word with its
/// waiter count.
///
/// On the consumer line (`head`), `futex` is "not full" (consumers advance it, producers sleep
/// on it) and `waiters` counts producers' sleep registrations since the last wake-up. On the
/// producer line (`tail`), `futex` is "not empty" (producers advance it, consumers sleep on it)
/// and `waiters` counts consumers' registrations. So each side's fast path only writes its own
/// line.
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
/// `multiprocessing.Queue` for fixed-size items. Many producers and many consumers, in any
/// number of processes and languages; blocking, non-blocking and timed operations; [`close`]
/// lets consumers end cleanly once the ring is drained.
///
/// ```no_run
/// # use shmgen_runtime::Ring;
/// # fn demo(jobs: &Ring<u64, 1024>) -> Result<(), shmgen_runtime::ring::Closed> {
/// jobs.push(42)?;                      // blocks while the ring is full
/// assert_eq!(jobs.pop()?, 42);         // blocks while it is empty
/// jobs.close();                        // pushes fail from now on; pops drain, then fail
/// # Ok(()) }
/// ```
///
/// `N` must be between 1 and [`MAX_CAPACITY`]; using a ring with another `N` fails to compile.
///
/// [`close`]: Ring::close
#[repr(C, align(64))]
pub struct Ring<T, const N: usize> {
    pub(crate) head: RingLine,
    pub(crate) tail: RingLine,
    pub(crate) meta: RingMeta,
    pub(crate) slots: [RingSlot<T>; N],
}

// SAFETY: the control block is atomics (and `capacity`/`slot_size`, written only by the
// segment initialiser before the segment is published, and never used for indexing); a slot's
// item is written only by the producer that claimed the slot and read only by the consumer that
// claimed it, each claim being a compare-and-swap on the slot's sequence number, which also
// orders the item's bytes (release store after writing, acquire CAS before reading). Items
// cross threads by copy, which needs `T: Send`.
unsafe impl<T: Send, const N: usize> Sync for Ring<T, N> {}

// SAFETY: `Ring<T, N>` is a 192-byte control block then N `{ u64, T }` slots, aligned to 64:
// exactly `abi::ring_layout`; the `ring_layouts_match` test checks it.
unsafe impl<T: Element + Copy, const N: usize> Field for Ring<T, N> {
    const KIND: Kind<'static> = Kind::Ring {
        item: T::TY,
        capacity: N,
    };
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The ring was closed ([`Ring::close`]): no more pushes, and (for pops) nothing is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the ring is closed")
    }
}

impl std::error::Error for Closed {}

/// Why [`Ring::try_push`] did not push; gives the item back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TryPushError<T> {
    /// The ring is full.
    Full(T),
    /// The ring is closed.
    Closed(T),
}

/// Why [`Ring::push_timeout`] did not push; gives the item back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PushTimeoutError<T> {
    /// The ring stayed full for the whole timeout.
    Timeout(T),
    /// The ring is closed.
    Closed(T),
}

/// Why [`Ring::try_pop`] did not pop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryPopError {
    /// The ring is empty (and not closed).
    Empty,
    /// The ring is closed and drained.
    Closed,
}

/// Why [`Ring::pop_timeout`] did not pop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopTimeoutError {
    /// The ring stayed empty for the whole timeout.
    Timeout,
    /// The ring is closed and drained.
    Closed,
}

impl<T> TryPushError<T> {
    /// The item that was not pushed.
    pub fn into_inner(self) -> T {
        match self {
            TryPushError::Full(v) | TryPushError::Closed(v) => v,
        }
    }

    /// Whether the ring was full (rather than closed).
    pub fn is_full(&self) -> bool {
        matches!(self, TryPushError::Full(_))
    }
}

impl<T> PushTimeoutError<T> {
    /// The item that was not pushed.
    pub fn into_inner(self) -> T {
        match self {
            PushTimeoutError::Timeout(v) | PushTimeoutError::Closed(v) => v,
        }
    }

    /// Whether the timeout elapsed (rather than the ring being closed).
    pub fn is_timeout(&self) -> bool {
        matches!(self, PushTimeoutError::Timeout(_))
    }
}

// Like std's `TrySendError`, Debug does not require `T: Debug`.
impl<T> fmt::Debug for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPushError::Full(_) => f.write_str("Full(..)"),
            TryPushError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Debug for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            PushTimeoutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPushError::Full(_) => f.write_str("the ring is full"),
            TryPushError::Closed(_) => f.write_str("the ring is closed"),
        }
    }
}

impl<T> fmt::Display for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(_) => f.write_str("timed out waiting for room in the ring"),
            PushTimeoutError::Closed(_) => f.write_str("the ring is closed"),
        }
    }
}

impl fmt::Display for TryPopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPopError::Empty => f.write_str("the ring is empty"),
            TryPopError::Closed => f.write_str("the ring is closed and drained"),
        }
    }
}

impl fmt::Display for PopTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopTimeoutError::Timeout => f.write_str("timed out waiting for an item"),
            PopTimeoutError::Closed => f.write_str("the ring is closed and drained"),
        }
    }
}

impl<T> std::error::Error for TryPushError<T> {}
impl<T> std::error::Error for PushTimeoutError<T> {}
impl std::error::Error for TryPopError {}
impl std::error::Error for PopTimeoutError {}

// ---------------------------------------------------------------------------------------------
// Sequence numbers and busy words (FORMAT.md §4 "Ring")
// ---------------------------------------------------------------------------------------------

/// The largest capacity a ring may have (2^28 slots): busy words keep 30 bits of a position,
/// which must tell apart the positions `p - N`, `p` and `p + N`.
pub const MAX_CAPACITY: usize = 1 << 28;

/// Bit 63 of a sequence number: the slot is claimed (a *busy word*).
pub const BUSY: u64 = 1 << 63;
/// Bit 62 of a busy word: claimed by a consumer (pop); clear for a producer (push).
pub const BUSY_POP: u64 = 1 << 62;
/// A busy word keeps the low 30 bits of the claimed position in bits 32..61.
pub const BUSY_POS_BITS: u32 = 30;
const POS_MASK: u64 = (1 << BUSY_POS_BITS) - 1;

/// How many taken positions one attempt skips before giving up (reporting full or empty, so
/// that timeouts apply): far more than the hints ever lag in a ring used by this protocol; only
/// a corrupted ring gets there.
const MAX_SKIP: u64 = 1 << 16;

/// Longest futex sleep while the slot we wait for is claimed by someone (then we check whether
/// the claimer is still alive).
const BUSY_NAP: Duration = Duration::from_millis(10);
/// Longest futex sleep otherwise (only guards against a waker killed between publishing an item
/// and waking the sleepers).
const IDLE_NAP: Duration = Duration::from_millis(100);
/// Spin rounds (each `2^min(round, 6)` pause instructions) before yielding.
const SPIN_ROUNDS: u32 = 12;
/// `sched_yield` rounds after spinning, before sleeping.
const YIELD_ROUNDS: u32 = 8;

/// A busy word: claimed by `tid` for a push (`pop == false`) or a pop of position `pos`.
const fn busy_word(pop: bool, pos: u64, tid: u32) -> u64 {
    BUSY | (if pop { BUSY_POP } else { 0 }) | ((pos & POS_MASK) << 32) | tid as u64
}

/// `busy position - p` as a signed number of positions (only meaningful within ±2^29).
const fn busy_delta(w: u64, p: u64) -> i64 {
    let d = ((w >> 32).wrapping_sub(p)) & POS_MASK;
    // Sign-extend 30 bits.
    ((d << 34) as i64) >> 34
}

/// The thread id in a busy word.
const fn busy_tid(w: u64) -> u32 {
    w as u32
}

// ---------------------------------------------------------------------------------------------
// Thread ids, cached per thread and refreshed after fork()
// ---------------------------------------------------------------------------------------------

/// Bumped in the child after every `fork()`, invalidating the cached thread ids.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(1);
static ATFORK: Once = Once::new();

unsafe extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

std::thread_local! {
    static TID: Cell<(u64, u32)> = const { Cell::new((0, 0)) };
}

/// The fork generation in which this process registered for `MEMBARRIER_CMD_GLOBAL_EXPEDITED`
/// barriers (0: not registered). Registration does not survive a fork.
static MEMBARRIER_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Whether this process is registered, so that sleepers' global barriers reach its threads and
/// its wakers may check the sleep registrations with a plain load.
#[inline(always)]
fn membarrier_registered() -> bool {
    MEMBARRIER_GENERATION.load(Ordering::Relaxed) == FORK_GENERATION.load(Ordering::Relaxed)
}

/// This thread's kernel thread id, cached (the cache is dropped in a forked child).
#[inline]
fn my_tid() -> u32 {
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    TID.with(|c| {
        let (g, tid) = c.get();
        if g == generation {
            return tid;
        }
        ATFORK.call_once(|| {
            // If registration fails (out of memory) a forked child would name its parent's
            // thread in busy words; refuse to cache instead.
            if !sys::atfork_child(after_fork_in_child) {
                FORK_GENERATION.store(0, Ordering::Relaxed);
            }
        });
        let tid = sys::gettid();
        let generation = FORK_GENERATION.load(Ordering::Relaxed);
        if generation != 0 {
            c.set((generation, tid));
            if MEMBARRIER_GENERATION.load(Ordering::Relaxed) != generation
                && sys::membarrier(sys::MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)
            {
                MEMBARRIER_GENERATION.store(generation, Ordering::Relaxed);
            }
        }
        tid
    })
}

// ---------------------------------------------------------------------------------------------
// The protocol
// ---------------------------------------------------------------------------------------------

/// What stopped an attempt: the slot (index and sequence number seen) it could not use.
#[derive(Clone, Copy)]
struct Blocked {
    index: usize,
    seq: u64,
}

/// Frees a claimed slot when dropped: `pop_with` is done with the item (returned or unwound),
/// or `push_with`'s closure unwound (the position is given up: consumers skip it; everyone
/// is woken, as for any give-up). A completed push forgets it and publishes instead.
struct ReleaseOnDrop<'a, T: Copy, const N: usize> {
    ring: &'a Ring<T, N>,
    claim: Claim,
    push: bool,
}

impl<T: Copy, const N: usize> Drop for ReleaseOnDrop<'_, T, N> {
    fn drop(&mut self) {
        self.ring.release(self.claim);
        if self.push {
            self.ring.wake_all();
        } else {
            self.ring.wake_producers();
        }
    }
}

/// A claimed position `p` in slot `index` (the slot's sequence number is our busy word).
#[derive(Clone, Copy)]
struct Claim {
    index: usize,
    p: u64,
}

enum Attempt<R> {
    Done(R),
    /// Full (push) or empty (pop).
    Blocked(Blocked),
    /// Push only: the ring was closed (seen after claiming; the claim was given up).
    Closed,
}

/// A caller's waiting state: spin, then yield, then sleep on a futex.
struct Backoff {
    round: u32,
    deadline: Option<Instant>,
}

impl Backoff {
    fn new(deadline: Option<Instant>) -> Backoff {
        Backoff { round: 0, deadline }
    }

    /// Spins or yields for one round; `false` once it is time to sleep instead.
    #[inline]
    fn snooze(&mut self) -> bool {
        if self.round < SPIN_ROUNDS {
            for _ in 0..(1u32 << self.round.min(6)) {
                spin_loop();
            }
        } else if self.round < SPIN_ROUNDS + YIELD_ROUNDS {
            std::thread::yield_now();
        } else {
            return false;
        }
        self.round += 1;
        true
    }

    /// How long the next sleep may last: `None` when the deadline has passed.
    fn nap(&self, busy: bool) -> Option<Duration> {
        let cap = if busy { BUSY_NAP } else { IDLE_NAP };
        match self.deadline {
            None => Some(cap),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    None
                } else {
                    Some(left.min(cap))
                }
            }
        }
    }

    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

fn deadline_after(d: Duration) -> Option<Instant> {
    // A timeout too large for `Instant` means "no deadline".
    Instant::now().checked_add(d)
}

impl<T: Copy, const N: usize> Ring<T, N> {
    /// Checked when a ring is used: 1 <= N <= MAX_CAPACITY.
    const CAPACITY_OK: () = assert!(
        N >= 1 && N <= MAX_CAPACITY,
        "a ring's capacity must be between 1 and MAX_CAPACITY (2^28)"
    );
    /// Sequence numbers count positions in steps of 1, or of 2 when N == 1 (with one slot,
    /// "full for p" (p + 1) and "free for p + 1" (p + N) would be the same number otherwise).
    const STEP: u64 = if N == 1 { 2 } else { 1 };

    /// Sequence number of a slot that is free for the producer of position `p`.
    #[inline(always)]
    const fn free(p: u64) -> u64 {
        p.wrapping_mul(Self::STEP)
    }

    /// Sequence number of a slot holding the item of position `p`: `free(p) + 1`.
    #[inline(always)]
    const fn full(p: u64) -> u64 {
        Self::free(p).wrapping_add(1)
    }

    #[inline(always)]
    fn slot(&self, p: u64) -> (usize, &RingSlot<T>) {
        let i = (p % N as u64) as usize;
        (i, &self.slots[i])
    }

    /// Raises the hint `line` to `p + 1` after position `p` was claimed (check-then-store: a
    /// racing store may leave it a little lower, which only costs later callers a few skips).
    #[inline(always)]
    fn raise_hint(line: &RingLine, p: u64) {
        let next = p.wrapping_add(1);
        if (line.pos.load(Ordering::Relaxed).wrapping_sub(next) as i64) < 0 {
            line.pos.store(next, Ordering::Relaxed);
        }
    }

    /// One attempt to claim a position for a push (no waiting, no wake-ups): on success the
    /// slot holds our busy word, `tail` was raised and `closed` checked; the caller fills the
    /// item and then [`publish`](Self::publish)es.
    #[inline(always)]
    fn claim_push(&self) -> Attempt<Claim> {
        let tid = my_tid();
        // `tail` is a hint: every position below it is taken. Start there and skip taken ones.
        let mut p = self.tail.pos.load(Ordering::Relaxed);
        let give_up_at = p.wrapping_add(N as u64 + MAX_SKIP);
        loop {
            let (index, slot) = self.slot(p);
            let s = slot.seq.load(Ordering::SeqCst);
            let free = Self::free(p);
            if s == free {
                let w = busy_word(false, p, tid);
                if slot
                    .seq
                    .compare_exchange(free, w, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
                {
                    continue; // look at the same position again
                }
                Self::raise_hint(&self.tail, p);
                // Closed? Checked after the claim (both SeqCst): a consumer that saw `closed`
                // and then this slot free reports "closed and drained", and then this push
                // must not succeed. Give the position up: consumers skip it.
                if self.meta.closed.load(Ordering::SeqCst) != 0 {
                    slot.seq
                        .store(Self::free(p.wrapping_add(N as u64)), Ordering::Release);
                    return Attempt::Closed;
                }
                return Attempt::Done(Claim { index, p });
            }
            let delta = if s & BUSY != 0 {
                busy_delta(s, p)
            } else {
                // `s - free(p)` in positions' terms: < 0 an older lap, 0 free, >= 1 p is taken.
                s.wrapping_sub(free) as i64
            };
            if delta < 0 {
                // The slot still holds (or is busy with) the previous lap: full at p.
                return Attempt::Blocked(Blocked { index, seq: s });
            }
            // Position p was claimed (or given up) already: try the next one.
            p = p.wrapping_add(1);
            if p == give_up_at {
                return Attempt::Blocked(Blocked { index, seq: s });
            }
        }
    }

    /// A claimed push's item: the claim gives this thread exclusive use of it until
    /// `publish` (no other producer can claim the slot while its sequence number is our busy
    /// word, and no consumer reads it before seeing `full(p)`).
    #[inline(always)]
    fn push_slot(&self, c: Claim) -> *mut T {
        self.slots[c.index].item.get()
    }

    /// Publishes a claimed push's item: `seq = full(p)` (release).
    #[inline(always)]
    fn publish(&self, c: Claim) {
        self.slots[c.index]
            .seq
            .store(Self::full(c.p), Ordering::Release);
    }

    /// Frees a claimed slot for the next lap without publishing (a push that cannot finish;
    /// consumers skip the position) or after a pop read the item: `seq = free(p + N)`.
    #[inline(always)]
    fn release(&self, c: Claim) {
        self.slots[c.index]
            .seq
            .store(Self::free(c.p.wrapping_add(N as u64)), Ordering::Release);
    }

    /// One push attempt (no waiting, no wake-ups).
    #[inline]
    fn push_once(&self, v: T) -> Attempt<()> {
        match self.claim_push() {
            Attempt::Done(c) => {
                // SAFETY: `c` is our claim (see `push_slot`); `v` is a whole `T`.
                unsafe { self.push_slot(c).write(v) };
                self.publish(c);
                Attempt::Done(())
            }
            Attempt::Blocked(b) => Attempt::Blocked(b),
            Attempt::Closed => Attempt::Closed,
        }
    }

    /// One attempt to claim a position for a pop (no waiting, no wake-ups): on success the
    /// slot holds our busy word and `head` was raised; the caller reads the item and then
    /// [`release`](Self::release)s the slot.
    #[inline(always)]
    fn claim_pop(&self) -> Attempt<Claim> {
        let tid = my_tid();
        // `head` is a hint: every position below it is taken. Start there and skip taken ones.
        let mut p = self.head.pos.load(Ordering::Relaxed);
        let give_up_at = p.wrapping_add(N as u64 + MAX_SKIP);
        loop {
            let (index, slot) = self.slot(p);
            let s = slot.seq.load(Ordering::SeqCst);
            let full = Self::full(p);
            if s == full {
                let w = busy_word(true, p, tid);
                if slot
                    .seq
                    .compare_exchange(full, w, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                Self::raise_hint(&self.head, p);
                return Attempt::Done(Claim { index, p });
            }
            let delta = if s & BUSY != 0 {
                let d = busy_delta(s, p);
                if d == 0 && s & BUSY_POP == 0 {
                    // A producer is writing position p's item: nothing to take yet.
                    return Attempt::Blocked(Blocked { index, seq: s });
                }
                d
            } else {
                // `s - full(p)`: < 0 not published yet (free for p, or older); >= 1 taken.
                s.wrapping_sub(full) as i64
            };
            if delta < 0 {
                return Attempt::Blocked(Blocked { index, seq: s });
            }
            // Position p was taken by another consumer or given up: try the next one.
            p = p.wrapping_add(1);
            if p == give_up_at {
                return Attempt::Blocked(Blocked { index, seq: s });
            }
        }
    }

    /// A claimed pop's item: the claim gives this thread exclusive use of it until `release`;
    /// the producer's release store of `full(p)`, read by the claiming CAS, made the whole item
    /// visible. It is a valid `T`: plain data written by a trusted process (module docs).
    #[inline(always)]
    fn pop_slot(&self, c: Claim) -> *const T {
        self.slots[c.index].item.get()
    }

    /// One pop attempt (no waiting, no wake-ups).
    #[inline]
    fn pop_once(&self) -> Attempt<T> {
        match self.claim_pop() {
            Attempt::Done(c) => {
                // SAFETY: `c` is our claim (see `pop_slot`); `T: Copy`.
                let v = unsafe { self.pop_slot(c).read() };
                self.release(c);
                Attempt::Done(v)
            }
            Attempt::Blocked(b) => Attempt::Blocked(b),
            Attempt::Closed => Attempt::Closed,
        }
    }

    /// After items were published: wakes the consumers registered as sleepers, if any.
    #[inline]
    fn wake_consumers(&self) {
        Self::wake(&self.tail);
    }

    /// After slots were freed: wakes the producers registered as sleepers, if any.
    #[inline]
    fn wake_producers(&self) {
        Self::wake(&self.head);
    }

    /// The waker's half of the Dekker pairing with a sleeper's "register, barrier, re-check"
    /// (FORMAT.md §4 "Ring", *Waiting*). A registered process reads the registrations with a
    /// plain load (the sleeper's `membarrier` orders it against our `seq` store); otherwise the
    /// SeqCst swap does. The swap also clears the registrations, so one wake-up call serves one
    /// sleeping episode.
    #[inline(always)]
    fn wake(line: &RingLine) {
        if membarrier_registered() {
            // Keep the compiler from moving this load above the `seq` store: the sleeper's
            // barrier orders the CPU, not the compiler.
            compiler_fence(Ordering::SeqCst);
            if line.waiters.load(Ordering::Relaxed) == 0 {
                return;
            }
        }
        let c = line.waiters.swap(0, Ordering::SeqCst);
        if c != 0 {
            line.futex.fetch_add(1, Ordering::SeqCst);
            sys::futex_wake(&line.futex, c.min(i32::MAX as u32) as i32);
        }
    }

    fn wake_all(&self) {
        for line in [&self.head, &self.tail] {
            line.waiters.swap(0, Ordering::SeqCst);
            line.futex.fetch_add(1, Ordering::SeqCst);
            sys::futex_wake(&line.futex, i32::MAX);
        }
    }

    /// If `b` is a busy word whose thread is gone, gives the slot up (the item is lost), moves
    /// the claimer's position past it and wakes everyone. `true` when something changed (the
    /// caller should retry at once).
    fn repair_if_dead(&self, b: Blocked) -> bool {
        let w = b.seq;
        if w & BUSY == 0 || !sys::thread_gone(busy_tid(w)) {
            return false;
        }
        let pop = w & BUSY_POP != 0;
        let line = if pop { &self.head } else { &self.tail };
        // The claimer's line (a hint within a few positions of the truth), read before
        // re-checking the slot: the claimed position q is the one nearest to it with the busy
        // word's 30 bits (|q - hint| is at most about N, far below 2^29).
        let t = line.pos.load(Ordering::SeqCst);
        let slot = &self.slots[b.index];
        if slot.seq.load(Ordering::SeqCst) != w {
            return true;
        }
        let q = t.wrapping_add(busy_delta(w, t) as u64);
        if (q % N as u64) as usize != b.index {
            return false; // not a word this protocol writes: leave it alone
        }
        if slot
            .seq
            .compare_exchange(
                w,
                Self::free(q.wrapping_add(N as u64)),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            Self::raise_hint(line, q);
            self.wake_all();
        }
        true
    }

    /// Sleeps on `line`'s futex unless `recheck` succeeds after registering in the line's
    /// waiter count (a registration is never taken back: the next waker clears it, a stale one
    /// only costs that waker a wake-up call). Returns `recheck`'s result if it had one.
    fn sleep_on<R>(
        &self,
        line: &RingLine,
        nap: Duration,
        recheck: impl FnOnce() -> Option<R>,
    ) -> Option<R> {
        line.waiters.fetch_add(1, Ordering::SeqCst);
        // Every thread of every registered process passes a full barrier during this call, so
        // a waker that read the registrations with a plain load before it also made its `seq`
        // store visible before it (the re-check sees it), and one that reads them after it sees
        // this registration. Without the barrier (not available here) a registered waker could
        // miss us: nap at most 1 ms then.
        let nap = if sys::membarrier(sys::MEMBARRIER_CMD_GLOBAL_EXPEDITED) {
            nap
        } else {
            nap.min(Duration::from_millis(1))
        };
        let f = line.futex.load(Ordering::SeqCst);
        let r = recheck();
        if r.is_none() {
            let _ = sys::futex_wait(&line.futex, f, Some(nap));
        }
        r
    }

    /// Claims a position for a push, waiting until `deadline` for room (see `claim_push`).
    fn claim_push_until(&self, deadline: Option<Instant>) -> Result<Claim, PushTimeoutError<()>> {
        let mut backoff = Backoff::new(deadline);
        loop {
            let b = match self.claim_push() {
                Attempt::Done(c) => return Ok(c),
                Attempt::Closed => return Err(PushTimeoutError::Closed(())),
                Attempt::Blocked(b) => b,
            };
            if self.is_closed() {
                return Err(PushTimeoutError::Closed(()));
            }
            if backoff.snooze() {
                continue;
            }
            if b.seq & BUSY != 0 && self.repair_if_dead(b) {
                continue;
            }
            let Some(nap) = backoff.nap(b.seq & BUSY != 0) else {
                return Err(PushTimeoutError::Timeout(()));
            };
            // Producers sleep on the consumer line's futex ("slots freed").
            let done = self.sleep_on(&self.head, nap, || match self.claim_push() {
                Attempt::Done(c) => Some(Ok(c)),
                Attempt::Closed => Some(Err(())),
                Attempt::Blocked(_) if self.is_closed() => Some(Err(())),
                Attempt::Blocked(_) => None,
            });
            match done {
                Some(Ok(c)) => return Ok(c),
                Some(Err(())) => return Err(PushTimeoutError::Closed(())),
                None => {}
            }
            if backoff.expired() {
                return Err(PushTimeoutError::Timeout(()));
            }
        }
    }

    /// Pushes `v`, waiting until `deadline` for room. Wakes consumers on success.
    fn push_until(&self, v: T, deadline: Option<Instant>) -> Result<(), PushTimeoutError<T>> {
        match self.claim_push_until(deadline) {
            Ok(c) => {
                // SAFETY: `c` is our claim (see `push_slot`); `v` is a whole `T`.
                unsafe { self.push_slot(c).write(v) };
                self.publish(c);
                self.wake_consumers();
                Ok(())
            }
            Err(PushTimeoutError::Closed(())) => Err(PushTimeoutError::Closed(v)),
            Err(PushTimeoutError::Timeout(())) => Err(PushTimeoutError::Timeout(v)),
        }
    }

    /// Claims a position for a pop, waiting until `deadline` for an item (see `claim_pop`).
    fn claim_pop_until(&self, deadline: Option<Instant>) -> Result<Claim, PopTimeoutError> {
        let mut backoff = Backoff::new(deadline);
        loop {
            let b = match self.claim_pop() {
                Attempt::Done(c) => return Ok(c),
                Attempt::Closed => return Err(PopTimeoutError::Closed),
                Attempt::Blocked(b) => b,
            };
            if self.drained_and_closed() {
                return Err(PopTimeoutError::Closed);
            }
            if backoff.snooze() {
                continue;
            }
            if b.seq & BUSY != 0 && self.repair_if_dead(b) {
                continue;
            }
            let Some(nap) = backoff.nap(b.seq & BUSY != 0) else {
                return Err(PopTimeoutError::Timeout);
            };
            // Consumers sleep on the producer line's futex ("items published").
            let got = self.sleep_on(&self.tail, nap, || match self.claim_pop() {
                Attempt::Done(c) => Some(Some(c)),
                Attempt::Closed => Some(None),
                Attempt::Blocked(_) if self.meta.closed.load(Ordering::SeqCst) != 0 => Some(None),
                Attempt::Blocked(_) => None,
            });
            // (Closed: re-checked properly at the top of the loop.)
            if let Some(Some(c)) = got {
                return Ok(c);
            }
            if backoff.expired() && !self.drained_and_closed() {
                return Err(PopTimeoutError::Timeout);
            }
        }
    }

    /// Pops, waiting until `deadline` for an item. Wakes producers on success.
    fn pop_until(&self, deadline: Option<Instant>) -> Result<T, PopTimeoutError> {
        let c = self.claim_pop_until(deadline)?;
        // SAFETY: `c` is our claim (see `pop_slot`); `T: Copy`.
        let v = unsafe { self.pop_slot(c).read() };
        self.release(c);
        self.wake_producers();
        Ok(v)
    }

    /// Closed, and nothing left to pop: `closed` seen set, and then the slot at `head`
    /// neither holds an item nor is being filled (both loads SeqCst, pairing with a
    /// producer's claim-then-check in `push_once`).
    fn drained_and_closed(&self) -> bool {
        if self.meta.closed.load(Ordering::SeqCst) == 0 {
            return false;
        }
        let mut p = self.head.pos.load(Ordering::SeqCst);
        let give_up_at = p.wrapping_add(N as u64 + MAX_SKIP);
        loop {
            let (_, slot) = self.slot(p);
            let s = slot.seq.load(Ordering::SeqCst);
            if s & BUSY != 0 {
                let d = busy_delta(s, p);
                if d < 0 {
                    return true; // the previous lap's pop: nothing at p
                }
                if d == 0 && s & BUSY_POP == 0 {
                    return false; // a push of p in flight: it will publish or give up
                }
            } else {
                let d = s.wrapping_sub(Self::full(p)) as i64;
                if d < 0 {
                    return true;
                }
                if d == 0 {
                    return false; // an item
                }
            }
            p = p.wrapping_add(1); // p taken or given up: look at the next one
            if p == give_up_at {
                return false; // only a corrupted ring gets here
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Public API
    // -----------------------------------------------------------------------------------------

    /// Pushes `v`, blocking while the ring is full. `Err(Closed)` if the ring is (or gets)
    /// closed.
    pub fn push(&self, v: T) -> Result<(), Closed> {
        let () = Self::CAPACITY_OK;
        self.push_until(v, None).map_err(|_| Closed)
    }

    /// Pushes `v` if there is room now.
    pub fn try_push(&self, v: T) -> Result<(), TryPushError<T>> {
        let () = Self::CAPACITY_OK;
        // A slot whose consumer is still copying its item out is as good as free: wait for
        // it a little rather than report "full".
        let mut spins = 0u32;
        loop {
            match self.push_once(v) {
                Attempt::Done(()) => {
                    self.wake_consumers();
                    return Ok(());
                }
                Attempt::Closed => return Err(TryPushError::Closed(v)),
                Attempt::Blocked(b) => {
                    if self.is_closed() {
                        return Err(TryPushError::Closed(v));
                    }
                    if b.seq & BUSY == 0 {
                        return Err(TryPushError::Full(v));
                    }
                    if spins >= 64 {
                        if self.repair_if_dead(b) {
                            spins = 0;
                            continue;
                        }
                        return Err(TryPushError::Full(v));
                    }
                    spins += 1;
                    spin_loop();
                }
            }
        }
    }

    /// Pushes `v`, waiting at most `timeout` for room.
    pub fn push_timeout(&self, v: T, timeout: Duration) -> Result<(), PushTimeoutError<T>> {
        let () = Self::CAPACITY_OK;
        self.push_until(v, deadline_after(timeout))
    }

    /// Pops the oldest item, blocking while the ring is empty. `Err(Closed)` once the ring is
    /// closed and drained.
    pub fn pop(&self) -> Result<T, Closed> {
        let () = Self::CAPACITY_OK;
        self.pop_until(None).map_err(|_| Closed)
    }

    /// Pops the oldest item if there is one now.
    pub fn try_pop(&self) -> Result<T, TryPopError> {
        let () = Self::CAPACITY_OK;
        let mut spins = 0u32;
        loop {
            match self.pop_once() {
                Attempt::Done(v) => {
                    self.wake_producers();
                    return Ok(v);
                }
                Attempt::Closed => return Err(TryPopError::Closed),
                Attempt::Blocked(b) => {
                    if self.drained_and_closed() {
                        return Err(TryPopError::Closed);
                    }
                    // A producer in the middle of writing the next item: wait for it a little.
                    if b.seq & BUSY == 0 {
                        return Err(TryPopError::Empty);
                    }
                    if spins >= 64 {
                        if self.repair_if_dead(b) {
                            spins = 0;
                            continue;
                        }
                        return Err(TryPopError::Empty);
                    }
                    spins += 1;
                    spin_loop();
                }
            }
        }
    }

    /// Pops the oldest item, waiting at most `timeout` for one.
    pub fn pop_timeout(&self, timeout: Duration) -> Result<T, PopTimeoutError> {
        let () = Self::CAPACITY_OK;
        self.pop_until(deadline_after(timeout))
    }

    /// Pushes an item written in place: blocks while the ring is full, then calls `fill` with
    /// the claimed slot's item and publishes it when `fill` returns. No copy of the item is
    /// made, which matters for large items (a 4 KiB buffer filled straight into shared
    /// memory). `Err(Closed)` if the ring is (or gets) closed; `fill` is not called then.
    ///
    /// The slot holds an earlier item (or zeros): `fill` must set every part of the item the
    /// consumers read. While `fill` runs the position is claimed, so consumers wait for it:
    /// keep `fill` short and never wait on this ring inside it. If `fill` panics, the position
    /// is given up (consumers skip it) and the panic goes on.
    ///
    /// ```no_run
    /// # use shmgen_runtime::{Bytes, Ring};
    /// # fn demo(frames: &Ring<Bytes<4096>, 64>, src: &[u8; 4096]) -> Result<(), shmgen_runtime::ring::Closed> {
    /// frames.push_with(|frame| frame.copy_from_slice(src))?;
    /// let first = frames.pop_with(|frame| frame[0])?; // read in place
    /// # Ok(()) }
    /// ```
    pub fn push_with(&self, fill: impl FnOnce(&mut T)) -> Result<(), Closed> {
        let () = Self::CAPACITY_OK;
        let c = self.claim_push_until(None).map_err(|_| Closed)?;
        let unwinding = ReleaseOnDrop {
            ring: self,
            claim: c,
            push: true,
        };
        // SAFETY: `c` is our claim (see `push_slot`): nobody else reads or writes the item
        // until `publish`. It holds a valid `T` (zeros or an earlier item: plain data written
        // by a trusted process, module docs).
        fill(unsafe { &mut *self.push_slot(c) });
        core::mem::forget(unwinding);
        self.publish(c);
        self.wake_consumers();
        Ok(())
    }

    /// Pops the oldest item in place: blocks while the ring is empty, then calls `read` with
    /// the claimed slot's item and frees the slot when `read` returns, returning what `read`
    /// returned. No copy of the item is made. `Err(Closed)` once the ring is closed and
    /// drained; `read` is not called then.
    ///
    /// While `read` runs the slot is claimed, so producers wait for it: keep `read` short and
    /// never wait on this ring inside it. If `read` panics, the slot is freed (the item is
    /// lost, as for a consumer that dies) and the panic goes on.
    pub fn pop_with<R>(&self, read: impl FnOnce(&T) -> R) -> Result<R, Closed> {
        let () = Self::CAPACITY_OK;
        let c = self.claim_pop_until(None).map_err(|_| Closed)?;
        let free = ReleaseOnDrop {
            ring: self,
            claim: c,
            push: false,
        };
        // SAFETY: `c` is our claim (see `pop_slot`): producers do not write the item until the
        // slot is released, which happens after `read` returns (or unwinds).
        let r = read(unsafe { &*self.pop_slot(c) });
        drop(free);
        Ok(r)
    }

    /// Pushes every item of `items` in order, blocking while the ring is full; wakes consumers
    /// once per batch rather than once per item. Returns how many were pushed: all of them,
    /// unless the ring was closed after some went in (`Err(Closed)` if none did).
    pub fn push_slice(&self, items: &[T]) -> Result<usize, Closed> {
        let () = Self::CAPACITY_OK;
        let mut n = 0;
        let mut unannounced = 0;
        while n < items.len() {
            match self.push_once(items[n]) {
                Attempt::Done(()) => {
                    n += 1;
                    unannounced += 1;
                    continue;
                }
                Attempt::Closed => break,
                Attempt::Blocked(_) => {}
            }
            // Full: announce what went in, then wait for room (the blocking push announces
            // its own item).
            if unannounced > 0 {
                self.wake_consumers();
                unannounced = 0;
            }
            if self.push_until(items[n], None).is_err() {
                break;
            }
            n += 1;
        }
        if unannounced > 0 {
            self.wake_consumers();
        }
        if n == 0 && !items.is_empty() {
            return Err(Closed);
        }
        Ok(n)
    }

    /// Pops up to `out.len()` items into `out` (oldest first), blocking until at least one is
    /// there; wakes producers once per batch. Returns how many were popped (at least 1 for a
    /// non-empty `out`); `Err(Closed)` once the ring is closed and drained.
    pub fn pop_into(&self, out: &mut [T]) -> Result<usize, Closed> {
        let () = Self::CAPACITY_OK;
        if out.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        while n < out.len() {
            match self.pop_once() {
                Attempt::Done(v) => {
                    out[n] = v;
                    n += 1;
                }
                _ => break,
            }
        }
        if n == 0 {
            // Nothing there: block for the first one (which wakes producers itself), then take
            // whatever else is ready.
            out[0] = self.pop_until(None).map_err(|_| Closed)?;
            let mut more = 0;
            while 1 + more < out.len() {
                match self.pop_once() {
                    Attempt::Done(v) => {
                        out[1 + more] = v;
                        more += 1;
                    }
                    _ => break,
                }
            }
            if more > 0 {
                self.wake_producers();
            }
            return Ok(1 + more);
        }
        self.wake_producers();
        Ok(n)
    }

    /// How many items the ring holds (a snapshot; positions given up by a dead or refused
    /// producer count until consumers skip them).
    pub fn len(&self) -> usize {
        let head = self.head.pos.load(Ordering::SeqCst);
        let tail = self.tail.pos.load(Ordering::SeqCst);
        let n = tail.wrapping_sub(head) as i64;
        n.clamp(0, N as i64) as usize
    }

    /// `N`, the number of slots.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Whether the ring holds no items (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every slot is taken (a snapshot).
    pub fn is_full(&self) -> bool {
        self.len() == N
    }

    /// Whether [`close`](Ring::close) was called (by any process).
    pub fn is_closed(&self) -> bool {
        self.meta.closed.load(Ordering::SeqCst) != 0
    }

    /// Closes the ring for every process: pushes fail from now on (a push racing with `close`
    /// either completes before consumers see the end, or fails); pops return what is left and
    /// then fail with [`Closed`]. Wakes every sleeper. Closing is permanent.
    pub fn close(&self) {
        self.meta.closed.store(1, Ordering::SeqCst);
        self.wake_all();
    }

    /// Checks the metadata the segment creator wrote (`capacity`, `slot_size`) against this
    /// type. The ring never uses them (it indexes with `N`), so a mismatch only means the
    /// segment was corrupted by someone; `Err` describes it.
    pub fn check_metadata(&self) -> Result<(), String> {
        let slot_size = core::mem::size_of::<RingSlot<T>>() as u64;
        // SAFETY: plain reads of two u64s inside `self`; the creator wrote them before the
        // segment was published and nobody writes them afterwards (volatile: a foreign
        // process could still have scribbled on them, and we only report what is there).
        let (cap, size) = unsafe {
            (
                core::ptr::read_volatile(&self.meta.capacity),
                core::ptr::read_volatile(&self.meta.slot_size),
            )
        };
        if cap != N as u64 || size != slot_size {
            return Err(format!(
                "ring metadata says capacity {cap} and slot size {size}, the type has \
                 capacity {N} and slot size {slot_size}"
            ));
        }
        Ok(())
    }

    /// Test hook: claims the next slot for a push (`pop == false`) or a pop the way the real
    /// operations do, advances tail/head when `advance`, and returns the position without ever
    /// finishing: what a process killed in the middle of an operation leaves behind.
    #[doc(hidden)]
    pub fn __claim_and_abandon(&self, pop: bool, advance: bool) -> Option<u64> {
        let tid = my_tid();
        let line = if pop { &self.head } else { &self.tail };
        let p = line.pos.load(Ordering::SeqCst);
        let (_, slot) = self.slot(p);
        let expect = if pop { Self::full(p) } else { Self::free(p) };
        slot.seq
            .compare_exchange(
                expect,
                busy_word(pop, p, tid),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .ok()?;
        if advance {
            Self::raise_hint(line, p);
        }
        Some(p)
    }
}

impl<T: Copy, const N: usize> fmt::Debug for Ring<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("len", &self.len())
            .field("capacity", &N)
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A ring in ordinary (heap) memory, initialised as a segment creator would.
    struct Boxed<T, const N: usize>(Box<Ring<T, N>>);

    fn new_ring<T: Copy, const N: usize>() -> Boxed<T, N> {
        let layout = std::alloc::Layout::new::<Ring<T, N>>();
        // SAFETY: the layout is non-zero-sized; zeroed memory is a valid `Ring` control block
        // and (for the plain-data items used here) valid items; the slots' sequence numbers
        // are set below as FORMAT.md's initialiser does, before anyone uses the ring.
        let ring = unsafe {
            let p = std::alloc::alloc_zeroed(layout).cast::<Ring<T, N>>();
            assert!(!p.is_null());
            Box::from_raw(p)
        };
        for (i, s) in ring.slots.iter().enumerate() {
            s.seq.store(Ring::<T, N>::free(i as u64), Ordering::Relaxed);
        }
        Boxed(ring)
    }

    impl<T, const N: usize> core::ops::Deref for Boxed<T, N> {
        type Target = Ring<T, N>;
        fn deref(&self) -> &Ring<T, N> {
            &self.0
        }
    }

    #[test]
    fn busy_words() {
        let w = busy_word(true, (5 << 30) + 17, 4242);
        assert_ne!(w & BUSY, 0);
        assert_ne!(w & BUSY_POP, 0);
        assert_eq!(busy_tid(w), 4242);
        assert_eq!(busy_delta(w, (5 << 30) + 17), 0);
        assert_eq!(busy_delta(w, (5 << 30) + 20), -3);
        assert_eq!(busy_delta(w, (5 << 30) + 10), 7);
        assert_eq!(busy_delta(busy_word(false, 3, 1), (1 << 30) + 1), 2);
        assert_eq!(busy_delta(busy_word(false, (1 << 30) - 1, 1), 1 << 30), -1);
    }

    #[test]
    fn fifo_and_wraparound() {
        let r = new_ring::<u64, 4>();
        assert!(r.is_empty());
        for round in 0..100u64 {
            for i in 0..4 {
                r.try_push(round * 10 + i).unwrap();
            }
            assert!(r.is_full());
            assert!(r.try_push(99).unwrap_err().is_full());
            for i in 0..4 {
                assert_eq!(r.try_pop(), Ok(round * 10 + i));
            }
            assert_eq!(r.try_pop(), Err(TryPopError::Empty));
        }
        assert_eq!(r.len(), 0);
        assert_eq!(r.capacity(), 4);
    }

    #[test]
    fn capacity_one() {
        let r = new_ring::<u32, 1>();
        for i in 0..1000 {
            r.try_push(i).unwrap();
            assert!(matches!(r.try_push(7), Err(TryPushError::Full(7))));
            assert_eq!(r.try_pop(), Ok(i));
            assert_eq!(r.try_pop(), Err(TryPopError::Empty));
        }
        assert_eq!(r.slots[0].seq.load(Ordering::Relaxed), 2000);
    }

    #[test]
    fn close_drains_then_fails() {
        let r = new_ring::<u16, 8>();
        r.push(1).unwrap();
        r.push(2).unwrap();
        r.close();
        assert!(r.is_closed());
        assert_eq!(r.push(3), Err(Closed));
        assert!(matches!(r.try_push(3), Err(TryPushError::Closed(3))));
        assert_eq!(r.pop(), Ok(1));
        assert_eq!(r.pop_timeout(Duration::from_secs(1)), Ok(2));
        assert_eq!(r.pop(), Err(Closed));
        assert_eq!(r.try_pop(), Err(TryPopError::Closed));
        assert_eq!(
            r.pop_timeout(Duration::from_millis(1)),
            Err(PopTimeoutError::Closed)
        );
        assert_eq!(r.push_slice(&[1, 2]), Err(Closed));
    }

    #[test]
    fn timeouts() {
        let r = new_ring::<u8, 2>();
        let t = Instant::now();
        assert_eq!(
            r.pop_timeout(Duration::from_millis(30)),
            Err(PopTimeoutError::Timeout)
        );
        assert!(t.elapsed() >= Duration::from_millis(30));
        r.push(1).unwrap();
        r.push(2).unwrap();
        let t = Instant::now();
        let e = r.push_timeout(3, Duration::from_millis(30)).unwrap_err();
        assert!(e.is_timeout());
        assert_eq!(e.into_inner(), 3);
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert_eq!(e.to_string(), "timed out waiting for room in the ring");
    }

    #[test]
    fn batches() {
        let r = Arc::new(new_ring::<u64, 16>());
        let r2 = Arc::clone(&r);
        let h = std::thread::spawn(move || {
            let items: Vec<u64> = (0..100_000).collect();
            for chunk in items.chunks(37) {
                assert_eq!(r2.push_slice(chunk), Ok(chunk.len()));
            }
            r2.close();
        });
        let mut got = Vec::new();
        let mut buf = [0u64; 10];
        while let Ok(n) = r.pop_into(&mut buf) {
            assert!(n >= 1);
            got.extend_from_slice(&buf[..n]);
        }
        h.join().unwrap();
        assert_eq!(got, (0..100_000).collect::<Vec<_>>());
    }

    #[test]
    fn threads_mpmc() {
        const P: u64 = 4;
        const PER: u64 = 50_000;
        let r = Arc::new(new_ring::<u64, 8>());
        let producers: Vec<_> = (0..P)
            .map(|id| {
                let r = Arc::clone(&r);
                std::thread::spawn(move || {
                    for i in 0..PER {
                        r.push(id << 32 | i).unwrap();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let r = Arc::clone(&r);
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Ok(v) = r.pop() {
                        got.push(v);
                    }
                    got
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        r.close();
        let mut all: Vec<u64> = Vec::new();
        for c in consumers {
            let got = c.join().unwrap();
            // Per producer, a single consumer sees that producer's items in order.
            let mut last = [None::<u64>; P as usize];
            for &v in &got {
                let (id, i) = ((v >> 32) as usize, v & 0xffff_ffff);
                assert!(last[id].map_or(true, |l| l < i), "out of order");
                last[id] = Some(i);
            }
            all.extend(got);
        }
        all.sort_unstable();
        let want: Vec<u64> = (0..P)
            .flat_map(|id| (0..PER).map(move |i| id << 32 | i))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(all, want);
    }

    #[test]
    fn dead_claimers_are_repaired() {
        // A claim by a thread id that does not exist (the largest pid_max is 2^22).
        const GHOST: u32 = 0x7fff_fff0;
        let r = new_ring::<u64, 4>();
        r.push(1).unwrap();
        // A ghost consumer took item 1 and vanished before moving head.
        let s = &r.slots[0];
        s.seq.store(busy_word(true, 0, GHOST), Ordering::SeqCst);
        // A ghost producer claimed position 1 and vanished before moving tail.
        r.slots[1]
            .seq
            .store(busy_word(false, 1, GHOST), Ordering::SeqCst);
        // Consumers skip both: item 2 (pushed after the repair) comes out.
        std::thread::scope(|sc| {
            sc.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                r.push(2).unwrap();
            });
            assert_eq!(r.pop_timeout(Duration::from_secs(5)), Ok(2));
        });
        // Producers fill the ring past the repaired slots.
        for i in 0..4 {
            r.try_push(10 + i).unwrap();
        }
        for i in 0..4 {
            assert_eq!(r.try_pop(), Ok(10 + i));
        }
    }

    #[test]
    fn tid_cache_is_refreshed_after_fork() {
        let parent = my_tid();
        assert_eq!(parent, sys::gettid());
        // SAFETY: the child only calls async-signal-safe code paths (a thread-local read, the
        // gettid system call) and leaves with `_exit`, never returning into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = my_tid() == sys::gettid() && my_tid() != parent;
            // SAFETY: `_exit` ends the forked child at once, without running any destructor.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is a valid out-pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }

    #[test]
    fn garbage_sequence_numbers_only_block() {
        let r = new_ring::<u64, 4>();
        for s in r.slots.iter() {
            s.seq.store(1 << 40, Ordering::Relaxed); // "a much later lap" everywhere
        }
        assert!(r.push_timeout(1, Duration::from_millis(20)).is_err());
        assert_eq!(
            r.pop_timeout(Duration::from_millis(20)),
            Err(PopTimeoutError::Timeout)
        );
        assert_eq!(r.try_pop(), Err(TryPopError::Empty));
    }

    #[test]
    fn errors_display() {
        assert_eq!(Closed.to_string(), "the ring is closed");
        assert_eq!(format!("{:?}", TryPushError::Full(3u8)), "Full(..)");
        assert_eq!(TryPopError::Empty.to_string(), "the ring is empty");
        assert_eq!(
            PopTimeoutError::Closed.to_string(),
            "the ring is closed and drained"
        );
    }
}
