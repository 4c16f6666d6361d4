//! `Semaphore` and `Event`: futex-based, process-shared, 8 bytes each.
//!
//! Bytes and protocol: `docs/FORMAT.md` §4. Each is a 32-bit futex word and a count of the
//! processes sleeping on it, so the waking side makes a system call only when someone sleeps.
//! A process killed while sleeping leaves its waiter count behind; that only costs later
//! wakers a (harmless) `FUTEX_WAKE` call.

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;
use std::time::Instant;

use crate::layout::Field;
use crate::sys::{self, FutexWait};
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

/// The time left until `deadline`, `None` for "no deadline", `Some(ZERO)` once it has passed.
fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Sleeps on `word` while it is `expected`, counting this process in `waiters`. `false` when
/// the deadline passed.
fn sleep_on(
    word: &AtomicU32,
    waiters: &AtomicU32,
    expected: u32,
    deadline: Option<Instant>,
) -> bool {
    let left = remaining(deadline);
    if left == Some(Duration::ZERO) {
        return false;
    }
    // SeqCst pairs with the waker's SeqCst store-then-load: either it sees this waiter, or the
    // kernel sees its new word value and FUTEX_WAIT returns at once.
    waiters.fetch_add(1, Ordering::SeqCst);
    let r = sys::futex_wait(word, expected, left);
    waiters.fetch_sub(1, Ordering::SeqCst);
    r != FutexWait::TimedOut
}

impl<const INITIAL: u32> Semaphore<INITIAL> {
    /// Takes one unit if the count is above zero, without waiting. `true` when taken.
    pub fn try_acquire(&self) -> bool {
        let mut c = self.count.load(Ordering::Relaxed);
        while c > 0 {
            match self
                .count
                .compare_exchange_weak(c, c - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => c = now,
            }
        }
        false
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.try_acquire() {
                return true;
            }
            if !sleep_on(&self.count, &self.waiters, 0, deadline) && !self.try_acquire() {
                return false;
            }
        }
    }

    /// Takes one unit, sleeping while the count is zero.
    pub fn acquire(&self) {
        self.acquire_until(None);
    }

    /// Takes one unit, sleeping at most `timeout` while the count is zero. `true` when taken.
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.acquire_until(Some(
            Instant::now()
                .checked_add(timeout)
                .unwrap_or_else(far_future),
        ))
    }

    /// Gives one unit back and wakes one sleeper, if any.
    ///
    /// Like `multiprocessing.Semaphore` (not `BoundedSemaphore`), the count may rise above its
    /// initial value; it saturates at `u32::MAX`.
    pub fn release(&self) {
        let mut c = self.count.load(Ordering::Relaxed);
        loop {
            if c == u32::MAX {
                break;
            }
            match self
                .count
                .compare_exchange_weak(c, c + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => c = now,
            }
        }
        if self.waiters.load(Ordering::SeqCst) > 0 {
            sys::futex_wake(&self.count, 1);
        }
    }

    /// The current count.
    pub fn value(&self) -> u32 {
        self.count.load(Ordering::Acquire)
    }
}

impl<const INITIAL: u32> fmt::Debug for Semaphore<INITIAL> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .finish()
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

impl Event {
    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.state.store(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            sys::futex_wake(&self.state, i32::MAX);
        }
    }

    /// Clears the flag.
    pub fn clear(&self) {
        self.state.store(0, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.state.load(Ordering::Acquire) != 0
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        while !self.is_set() {
            if !sleep_on(&self.state, &self.waiters, 0, deadline) {
                return self.is_set();
            }
        }
        true
    }

    /// Sleeps until the flag is set (returns at once if it is).
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Sleeps until the flag is set or `timeout` elapses. `true` when the flag is set.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Some(
            Instant::now()
                .checked_add(timeout)
                .unwrap_or_else(far_future),
        ))
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}
