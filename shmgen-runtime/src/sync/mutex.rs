//! `Mutex<T>` and `RMutex<T>`: robust, process-shared pthread mutexes in front of a value.
//!
//! Both are a glibc `pthread_mutex_t` (48 bytes reserved) followed by the value
//! (`docs/FORMAT.md` §4). The segment initialises the mutex in place (process-shared, robust,
//! `NORMAL` or `RECURSIVE`) before anyone else can see it, so a `Mutex` reached through a
//! [`crate::Segment`] is always ready to use.
//!
//! When a process dies while holding one, the next locker gets an [`OwnerDied`] that still
//! holds the lock: the mutex has already been marked consistent, so it keeps working even if
//! the caller just drops the error; [`OwnerDied::into_inner`] gives the guard to repair the
//! value.

use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::time::Duration;

use crate::layout::{Element, Field};
use crate::sys::{self, LockStatus};
use crate::table::Kind;

/// The 48 bytes reserved for a glibc `pthread_mutex_t` (see `abi::RAW_MUTEX_SIZE`).
#[repr(C, align(8))]
pub struct RawMutex {
    pub(crate) bytes: UnsafeCell<[u8; crate::abi::RAW_MUTEX_SIZE]>,
}

// SAFETY: the bytes are only ever touched through the pthread functions, which synchronise
// between threads and processes themselves (the mutex is process-shared), or by the segment
// initialiser before the segment is visible to anyone else.
unsafe impl Sync for RawMutex {}

impl RawMutex {
    /// The bytes as the `pthread_mutex_t` they hold.
    pub(crate) fn as_ptr(&self) -> *mut libc::pthread_mutex_t {
        self.bytes.get().cast()
    }

    /// Blocks until locked. `true` when the previous owner died (already made consistent).
    pub(crate) fn lock(&self) -> LockStatus {
        // SAFETY: a `RawMutex` is only reachable through a mapped segment whose initialiser ran
        // `sys::mutex_init` on these bytes before publishing it (`segment::init_struct`); the
        // `&self` borrow keeps the mapping alive for the call.
        unsafe { sys::mutex_lock(self.as_ptr()) }
    }

    /// Locks if free.
    pub(crate) fn try_lock(&self) -> LockStatus {
        // SAFETY: as in `lock`: initialised by the segment initialiser, mapped while borrowed.
        unsafe { sys::mutex_trylock(self.as_ptr()) }
    }

    /// Locks, waiting at most `timeout`.
    pub(crate) fn lock_timeout(&self, timeout: Duration) -> LockStatus {
        // SAFETY: as in `lock`: initialised by the segment initialiser, mapped while borrowed.
        unsafe { sys::mutex_timedlock(self.as_ptr(), timeout) }
    }

    /// Unlocks.
    ///
    /// # Safety
    /// The calling thread holds the lock (a guard created by a successful lock call on this
    /// thread is being dropped).
    pub(crate) unsafe fn unlock(&self) {
        // SAFETY: initialised and mapped as in `lock`; held by this thread per the contract.
        unsafe { sys::mutex_unlock(self.as_ptr()) }
    }
}

impl fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMutex").finish_non_exhaustive()
    }
}

/// A field with its own robust, process-shared mutex (`lock = "mutex"`, like
/// `multiprocessing.Lock`). A holder that dies does not deadlock the others: the next `lock()`
/// reports [`crate::OwnerDied`] and the value can be repaired.
///
/// ```
/// # use shmgen_runtime::Mutex;
/// # #[derive(Default)] struct WorkerStats { completed: i32 }
/// fn record(workers: &Mutex<[WorkerStats; 4]>) {
///     let mut w = match workers.lock() {
///         Ok(w) => w,
///         Err(died) => {
///             // We hold the lock; the dead holder may have left a half-made update.
///             let mut w = died.into_inner();
///             w[0] = WorkerStats::default();
///             w
///         }
///     };
///     w[0].completed += 1;
/// } // unlocked here
/// ```
///
/// Guards are tied to the thread that locked (they are not `Send`):
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<shmgen_runtime::MutexGuard<'static, u64>>();
/// ```
#[repr(C)]
pub struct Mutex<T> {
    pub(crate) raw: RawMutex,
    pub(crate) value: UnsafeCell<T>,
}

/// A reentrant robust mutex (`lock = "rmutex"`, like `multiprocessing.RLock`).
///
/// The thread holding it may lock it again; it is released when the last guard is dropped.
/// Because several guards of one thread may exist at once, a guard cannot give `&mut T`: it
/// derefs to [`Cell<T>`] instead: `g.get()`, `g.set(v)`, `g.replace(v)`; for one element of an
/// array, coerce to a slice of cells: `let c: &Cell<[u16]> = &*g; c.as_slice_of_cells()[0].set(4)`.
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

// SAFETY: the value is only reached through a guard, and a guard exists only while the calling
// thread holds the process-shared mutex, so at most one thread (of any process) touches the
// value at a time; handing it between threads that way needs `T: Send`, as for std's `Mutex`.
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: as for `Mutex<T>`: a thread holding the lock may get `&Cell<T>` from several
// guards, but all on that one thread (guards are `!Send`); other threads wait for the lock.
unsafe impl<T: Send> Sync for RMutex<T> {}

/// The lock was acquired, but its previous holder died while holding it, so the protected value
/// may be half-updated. Like std's `PoisonError`, this carries the guard: the caller holds the
/// lock and can inspect and repair the value ([`into_inner`](Self::into_inner),
/// [`get_ref`](Self::get_ref), [`get_mut`](Self::get_mut)).
///
/// The mutex has already been marked consistent (`pthread_mutex_consistent`), so it keeps
/// working whatever the caller does with this value; dropping it unlocks.
pub struct OwnerDied<G> {
    guard: G,
}

impl<G> OwnerDied<G> {
    /// Wraps a guard.
    pub fn new(guard: G) -> Self {
        OwnerDied { guard }
    }

    /// The guard: the lock is held; repair the value through it.
    pub fn into_inner(self) -> G {
        self.guard
    }

    /// A reference to the guard.
    pub fn get_ref(&self) -> &G {
        &self.guard
    }

    /// A mutable reference to the guard.
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.guard
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDied").finish_non_exhaustive()
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the previous holder of the lock died while holding it; the value may need repair",
        )
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

/// Why [`Mutex::try_lock`] / [`RMutex::try_lock`] did not give a plain guard.
pub enum TryLockError<G> {
    /// Another thread or process holds the lock.
    WouldBlock,
    /// Locked, but the previous holder died holding it (see [`OwnerDied`]).
    OwnerDied(OwnerDied<G>),
}

/// Why [`Mutex::lock_timeout`] / [`RMutex::lock_timeout`] did not give a plain guard.
pub enum LockTimeoutError<G> {
    /// The lock was still held by someone else when the timeout elapsed.
    TimedOut,
    /// Locked, but the previous holder died holding it (see [`OwnerDied`]).
    OwnerDied(OwnerDied<G>),
}

impl<G> From<OwnerDied<G>> for TryLockError<G> {
    fn from(e: OwnerDied<G>) -> Self {
        TryLockError::OwnerDied(e)
    }
}

impl<G> From<OwnerDied<G>> for LockTimeoutError<G> {
    fn from(e: OwnerDied<G>) -> Self {
        LockTimeoutError::OwnerDied(e)
    }
}

impl<G> fmt::Debug for TryLockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::WouldBlock => f.write_str("WouldBlock"),
            TryLockError::OwnerDied(e) => f.debug_tuple("OwnerDied").field(e).finish(),
        }
    }
}

impl<G> fmt::Display for TryLockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::WouldBlock => f.write_str("the lock is held by someone else"),
            TryLockError::OwnerDied(e) => e.fmt(f),
        }
    }
}

impl<G> std::error::Error for TryLockError<G> {}

impl<G> fmt::Debug for LockTimeoutError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockTimeoutError::TimedOut => f.write_str("TimedOut"),
            LockTimeoutError::OwnerDied(e) => f.debug_tuple("OwnerDied").field(e).finish(),
        }
    }
}

impl<G> fmt::Display for LockTimeoutError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockTimeoutError::TimedOut => f.write_str("timed out waiting for the lock"),
            LockTimeoutError::OwnerDied(e) => e.fmt(f),
        }
    }
}

impl<G> std::error::Error for LockTimeoutError<G> {}

/// What [`Mutex::lock`] returns.
pub type LockResult<G> = Result<G, OwnerDied<G>>;

/// Holds a [`Mutex`] locked; derefs to the value; unlocks on drop. Not `Send`: a pthread mutex
/// must be unlocked by the thread that locked it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T> {
    lock: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing `&MutexGuard` between threads only gives `&T` (through `Deref`), which is
// fine when `T: Sync`, as for std's `MutexGuard`.
unsafe impl<T: Sync> Sync for MutexGuard<'_, T> {}

/// How a raw lock attempt becomes each method's result, for both guard types.
fn lock_result<G>(status: LockStatus, guard: impl FnOnce() -> G) -> LockResult<G> {
    match status {
        LockStatus::OwnerDied => Err(OwnerDied::new(guard())),
        _ => Ok(guard()),
    }
}

fn try_lock_result<G>(status: LockStatus, guard: impl FnOnce() -> G) -> Result<G, TryLockError<G>> {
    match status {
        LockStatus::Locked => Ok(guard()),
        LockStatus::OwnerDied => Err(TryLockError::OwnerDied(OwnerDied::new(guard()))),
        _ => Err(TryLockError::WouldBlock),
    }
}

fn timeout_result<G>(
    status: LockStatus,
    guard: impl FnOnce() -> G,
) -> Result<G, LockTimeoutError<G>> {
    match status {
        LockStatus::Locked => Ok(guard()),
        LockStatus::OwnerDied => Err(LockTimeoutError::OwnerDied(OwnerDied::new(guard()))),
        _ => Err(LockTimeoutError::TimedOut),
    }
}

impl<T> Mutex<T> {
    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Blocks until this thread holds the lock.
    ///
    /// `Err(OwnerDied)` when the previous holder died holding it: the lock is held anyway, and
    /// [`OwnerDied::into_inner`] gives the guard so the value can be repaired.
    ///
    /// Locking a mutex this thread already holds deadlocks (it is not reentrant: use
    /// [`RMutex`]).
    ///
    /// # Panics
    /// Only when the mutex's bytes in shared memory were broken by another program (glibc
    /// reports `ENOTRECOVERABLE` or `EINVAL`): there is no lock to go on with.
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        lock_result(self.raw.lock(), || self.guard())
    }

    /// Takes the lock if nobody holds it, without waiting.
    ///
    /// # Panics
    /// As for [`lock`](Self::lock).
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError<MutexGuard<'_, T>>> {
        try_lock_result(self.raw.try_lock(), || self.guard())
    }

    /// Blocks until this thread holds the lock or `timeout` has elapsed (measured against
    /// `CLOCK_REALTIME`, as `pthread_mutex_timedlock` does).
    ///
    /// # Panics
    /// As for [`lock`](Self::lock).
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<MutexGuard<'_, T>, LockTimeoutError<MutexGuard<'_, T>>> {
        timeout_result(self.raw.lock_timeout(timeout), || self.guard())
    }

    /// The value, without locking: `&mut self` proves nobody else can reach it (used in a
    /// segment's `init` closure).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the mutex, so no other thread
        // or process touches the value; the borrow is tied to the guard.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only borrow through this guard, and
        // a `Mutex` has only one guard at a time (it is not reentrant).
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: a guard is created only after this thread locked the mutex, and guards are
        // `!Send`, so this thread still holds it.
        unsafe { self.lock.raw.unlock() }
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Holds an [`RMutex`] locked (once more); derefs to [`Cell<T>`]; unlocks (once) on drop.
/// Not `Send`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RMutexGuard<'a, T> {
    lock: &'a RMutex<T>,
    _not_send: PhantomData<*const ()>,
}

impl<T> RMutex<T> {
    fn guard(&self) -> RMutexGuard<'_, T> {
        RMutexGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Blocks until this thread holds the lock; a thread that already holds it gets it again at
    /// once. Errors and panics as for [`Mutex::lock`].
    pub fn lock(&self) -> LockResult<RMutexGuard<'_, T>> {
        lock_result(self.raw.lock(), || self.guard())
    }

    /// Takes the lock if it is free or already held by this thread, without waiting.
    pub fn try_lock(&self) -> Result<RMutexGuard<'_, T>, TryLockError<RMutexGuard<'_, T>>> {
        try_lock_result(self.raw.try_lock(), || self.guard())
    }

    /// Blocks until this thread holds the lock or `timeout` has elapsed.
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<RMutexGuard<'_, T>, LockTimeoutError<RMutexGuard<'_, T>>> {
        timeout_result(self.raw.lock_timeout(timeout), || self.guard())
    }

    /// The value, without locking: `&mut self` proves nobody else can reach it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> fmt::Debug for RMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RMutex").finish_non_exhaustive()
    }
}

impl<T> Deref for RMutexGuard<'_, T> {
    type Target = Cell<T>;
    fn deref(&self) -> &Cell<T> {
        // SAFETY: `Cell<T>` is `repr(transparent)` over `UnsafeCell<T>`, so the cast keeps
        // layout and validity. This thread holds the mutex while any guard lives, so other
        // threads and processes do not touch the value; the guards of this thread share it
        // only through `Cell`, which is `!Sync` and never hands out references to the inside.
        unsafe { &*self.lock.value.get().cast_const().cast::<Cell<T>>() }
    }
}

impl<T> Drop for RMutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard was created after this thread locked the mutex once more, and it is
        // `!Send`, so this thread still holds that level of the recursive lock.
        unsafe { self.lock.raw.unlock() }
    }
}

impl<T: Copy + fmt::Debug> fmt::Debug for RMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}
