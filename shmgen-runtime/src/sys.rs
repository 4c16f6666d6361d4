//! The one platform module: every libc call the runtime makes (files, mappings, futexes, pthread
//! mutexes), each wrapped in a small safe or narrowly `unsafe` function.
//!
//! Linux with glibc only (x86_64, aarch64), as `docs/FORMAT.md` §1 says.

use core::ptr::NonNull;
use core::sync::atomic::AtomicU32;
use core::time::Duration;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{SystemTime, UNIX_EPOCH};

/// The last OS error, as `io::Error`.
fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// `open(path, flags | O_CLOEXEC | O_NOFOLLOW, mode)`.
pub(crate) fn open(path: &CStr, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    let flags = flags | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    // SAFETY: `path` is a valid NUL-terminated string (a `&CStr`); `open` does not keep it.
    // The mode is passed as the variadic `c_uint` `open` expects when `O_CREAT` is given.
    let fd = unsafe { libc::open(path.as_ptr(), flags, mode as libc::c_uint) };
    if fd < 0 {
        return Err(last_error());
    }
    // SAFETY: `fd` was just returned by a successful `open`, so it is an open descriptor that
    // nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What `fstat` says about an open file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileInfo {
    /// `st_size`.
    pub size: u64,
    /// `S_ISREG(st_mode)`.
    pub is_regular: bool,
    /// `S_ISLNK`/`S_ISDIR`/... as a word, for error messages.
    pub kind: &'static str,
    /// `(st_dev, st_ino)`: which file this is.
    pub id: (u64, u64),
    /// `st_uid`: the file's owner.
    pub uid: u32,
    /// `st_mode & 0o7777`: the permission bits (with setuid, setgid and sticky).
    pub mode: u32,
}

fn file_info(st: &libc::stat) -> FileInfo {
    let fmt = st.st_mode & libc::S_IFMT;
    let kind = match fmt {
        libc::S_IFREG => "a regular file",
        libc::S_IFDIR => "a directory",
        libc::S_IFLNK => "a symbolic link",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        _ => "not a regular file",
    };
    FileInfo {
        size: st.st_size.max(0) as u64,
        is_regular: fmt == libc::S_IFREG,
        kind,
        id: (st.st_dev, st.st_ino),
        uid: st.st_uid,
        mode: st.st_mode & 0o7777,
    }
}

/// `fstat(fd)`.
pub(crate) fn fstat(fd: &OwnedFd) -> io::Result<FileInfo> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `fd` is an open descriptor (borrowed from an `OwnedFd`) and `st` points to writable
    // memory of the size of `struct stat`.
    let r = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    if r != 0 {
        return Err(last_error());
    }
    // SAFETY: `fstat` returned 0, so it filled `st` completely.
    let st = unsafe { st.assume_init() };
    Ok(file_info(&st))
}

/// `lstat(path)` (does not follow a final symbolic link).
pub(crate) fn lstat(path: &CStr) -> io::Result<FileInfo> {
    let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `st` points to writable memory of the
    // size of `struct stat`.
    let r = unsafe { libc::lstat(path.as_ptr(), st.as_mut_ptr()) };
    if r != 0 {
        return Err(last_error());
    }
    // SAFETY: `lstat` returned 0, so it filled `st` completely.
    let st = unsafe { st.assume_init() };
    Ok(file_info(&st))
}

/// `ftruncate(fd, len)`.
pub(crate) fn ftruncate(fd: &OwnedFd, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "size too large"))?;
    // SAFETY: plain system call on an open descriptor; no memory is passed.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } != 0 {
        return Err(last_error());
    }
    Ok(())
}

/// `fchmod(fd, mode)`.
pub(crate) fn fchmod(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    // SAFETY: plain system call on an open descriptor; no memory is passed.
    if unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) } != 0 {
        return Err(last_error());
    }
    Ok(())
}

/// `link(old, new)`.
pub(crate) fn link(old: &CStr, new: &CStr) -> io::Result<()> {
    // SAFETY: both are valid NUL-terminated strings; `link` does not keep them.
    if unsafe { libc::link(old.as_ptr(), new.as_ptr()) } != 0 {
        return Err(last_error());
    }
    Ok(())
}

/// `unlink(path)`.
pub(crate) fn unlink(path: &CStr) -> io::Result<()> {
    // SAFETY: `path` is a valid NUL-terminated string; `unlink` does not keep it.
    if unsafe { libc::unlink(path.as_ptr()) } != 0 {
        return Err(last_error());
    }
    Ok(())
}

/// This process's id.
pub(crate) fn getpid() -> u32 {
    // SAFETY: `getpid` has no preconditions and cannot fail.
    let pid = unsafe { libc::getpid() };
    pid as u32
}

/// This process's effective user id (the owner of the files it creates).
pub(crate) fn geteuid() -> u32 {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `flock(fd, LOCK_EX | LOCK_NB)`: `Ok(true)` when locked, `Ok(false)` when another open file
/// description holds a conflicting lock. Released by [`flock_unlock`] or when `fd` is closed.
pub(crate) fn flock_try_exclusive(fd: &OwnedFd) -> io::Result<bool> {
    // SAFETY: plain system call on an open descriptor; no memory is passed.
    if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = last_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// `flock(fd, LOCK_UN)`.
pub(crate) fn flock_unlock(fd: &OwnedFd) {
    // SAFETY: plain system call on an open descriptor; no memory is passed.
    unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_UN) };
}

/// `pread(fd, buf, offset)` until `buf` is full or the file ends; the number of bytes read.
pub(crate) fn pread_full(fd: &OwnedFd, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let at = offset
            .checked_add(done as u64)
            .and_then(|o| libc::off_t::try_from(o).ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
        let rest = &mut buf[done..];
        // SAFETY: `rest` is writable memory of `rest.len()` bytes that outlives the call;
        // `fd` is an open descriptor.
        let r = unsafe { libc::pread(fd.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len(), at) };
        if r < 0 {
            let e = last_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            break;
        }
        done += r as usize;
    }
    Ok(done)
}

/// Ends this process at once with `SIGKILL`, as a crash would: no destructors, no `atexit`
/// handlers, no cleanup of temporary files. Only the start-up crash test hook uses it.
pub(crate) fn die_now() -> ! {
    // SAFETY: sending SIGKILL to our own pid has no memory-safety preconditions.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    // SAFETY: `_exit` has no preconditions; reached only if the signal was somehow not fatal.
    unsafe { libc::_exit(137) }
}

/// Whether a process with this pid exists (`kill(pid, 0)`: success or `EPERM` mean it does).
/// Pids that do not fit a positive `pid_t` (0, or negative ones that would address process
/// groups) count as dead.
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if p <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission; `p > 0` names one process.
    let r = unsafe { libc::kill(p, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A shared, read-write mapping of a whole file; unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a `Mapping` is an address range owned by this value; it is valid in every thread of
// the process, and `munmap` may be called from any thread.
unsafe impl Send for Mapping {}
// SAFETY: `&Mapping` only hands out the base pointer and length; what is done through the
// pointer is governed by the callers' own invariants.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)`. `len` must not be 0.
    pub(crate) fn map(fd: &OwnedFd, len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        // SAFETY: asking the kernel for a fresh mapping (address chosen by the kernel, so nothing
        // existing is replaced) of an open descriptor; failure is reported as MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_error());
        }
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(Mapping { ptr, len })
    }

    /// The start of the mapping (page-aligned).
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The length of the mapping in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// `base + off` when `[off, off + len)` lies inside the mapping and `base + off` is a
    /// multiple of `align` (a power of two).
    fn at(&self, off: usize, len: usize, align: usize) -> Option<*mut u8> {
        let end = off.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: `off <= end <= self.len`, so the result stays inside the mapping (or one past
        // its end when `len == 0`).
        let p = unsafe { self.ptr.as_ptr().add(off) };
        if (p as usize) % align != 0 {
            return None;
        }
        Some(p)
    }

    /// A volatile read of the `u32` at `off`; `None` when out of bounds or misaligned.
    pub(crate) fn read_u32(&self, off: usize) -> Option<u32> {
        let p = self.at(off, 4, 4)?;
        // SAFETY: `at` checked that the 4 bytes are inside the mapping and aligned; every bit
        // pattern is a valid `u32`; volatile because another process may write there.
        Some(unsafe { core::ptr::read_volatile(p.cast::<u32>()) })
    }

    /// A volatile copy of `N` bytes at `off`; `None` when out of bounds.
    pub(crate) fn read_bytes<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        let p = self.at(off, N, 1)?;
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: `at` checked that `[off, off + N)` is inside the mapping and `i < N`.
            *b = unsafe { core::ptr::read_volatile(p.add(i)) };
        }
        Some(out)
    }

    /// A volatile write of the `u32` at `off`; `None` when out of bounds or misaligned. Only
    /// used while building a segment nobody else can see yet.
    pub(crate) fn write_u32(&self, off: usize, v: u32) -> Option<()> {
        let p = self.at(off, 4, 4)?;
        // SAFETY: `at` checked bounds and alignment; the mapping is writable (PROT_WRITE).
        unsafe { core::ptr::write_volatile(p.cast::<u32>(), v) };
        Some(())
    }

    /// A volatile write of the `u64` at `off`; `None` when out of bounds or misaligned. Only
    /// used while building a segment nobody else can see yet.
    pub(crate) fn write_u64(&self, off: usize, v: u64) -> Option<()> {
        let p = self.at(off, 8, 8)?;
        // SAFETY: `at` checked bounds and alignment; the mapping is writable (PROT_WRITE).
        unsafe { core::ptr::write_volatile(p.cast::<u64>(), v) };
        Some(())
    }

    /// Volatile writes of `bytes` at `off`; `None` when out of bounds. Only used while building
    /// a segment nobody else can see yet.
    pub(crate) fn write_bytes(&self, off: usize, bytes: &[u8]) -> Option<()> {
        let p = self.at(off, bytes.len(), 1)?;
        for (i, &b) in bytes.iter().enumerate() {
            // SAFETY: `at` checked that `[off, off + bytes.len())` is inside the (writable)
            // mapping, and `i < bytes.len()`.
            unsafe { core::ptr::write_volatile(p.add(i), b) };
        }
        Some(())
    }

    /// The `u32` at `off` as an atomic; `None` when out of bounds or misaligned.
    pub(crate) fn atomic_u32(&self, off: usize) -> Option<&AtomicU32> {
        let p = self.at(off, 4, 4)?;
        // SAFETY: `at` checked bounds and 4-byte alignment (AtomicU32's); the memory lives as
        // long as `&self`; all processes access this word atomically (FORMAT.md §2 `state`).
        Some(unsafe { AtomicU32::from_ptr(p.cast::<u32>()) })
    }

    /// Initialises a robust, process-shared mutex in the 48 bytes at `off`.
    ///
    /// # Safety
    /// Nobody else uses those bytes during the call: the segment is still being built and not
    /// yet visible under its final name.
    pub(crate) unsafe fn init_mutex(&self, off: usize, recursive: bool) -> io::Result<()> {
        let p = self
            .at(off, crate::abi::RAW_MUTEX_SIZE, crate::abi::RAW_MUTEX_ALIGN)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "mutex out of bounds"))?;
        // SAFETY: `at` checked 48 in-bounds, 8-aligned bytes (>= size and alignment of glibc's
        // `pthread_mutex_t`, the `mutex_layouts_match` test); exclusivity is this function's
        // contract.
        unsafe { mutex_init(p.cast(), recursive) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what `mmap` returned and this is the only place that
        // unmaps them; every reference into the mapping borrows the owner of this `Mapping`, so
        // none outlives it.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Futexes
// ---------------------------------------------------------------------------------------------

/// Why `futex_wait` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FutexWait {
    /// Woken, interrupted by a signal, or the word did not hold the expected value: re-check.
    Retry,
    /// The timeout elapsed.
    TimedOut,
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

/// `FUTEX_WAIT` (shared, not `_PRIVATE`) on `word` while it holds `expected`, for at most
/// `timeout` (relative; `None` waits until woken).
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> FutexWait {
    let ts = timeout.map(timespec);
    let ts_ptr = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, 4-byte aligned `AtomicU32` (the kernel only reads it
    // atomically); `ts_ptr` is NULL or points to a timespec that outlives the call. The unused
    // uaddr2/val3 arguments are ignored by FUTEX_WAIT.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
            core::ptr::null::<u32>(),
            0u32,
        )
    };
    if r == 0 {
        return FutexWait::Retry;
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => FutexWait::TimedOut,
        // EAGAIN: the value changed; EINTR: a signal. Both: re-check.
        _ => FutexWait::Retry,
    }
}

/// `FUTEX_WAKE` (shared) of up to `n` waiters on `word`.
pub(crate) fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: `word` is a live, 4-byte aligned `AtomicU32`; FUTEX_WAKE only uses it as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            core::ptr::null::<libc::timespec>(),
            core::ptr::null::<u32>(),
            0u32,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// pthread mutexes
// ---------------------------------------------------------------------------------------------

/// What a lock attempt gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockStatus {
    /// Locked.
    Locked,
    /// Locked, but the previous owner died holding it; already marked consistent.
    OwnerDied,
    /// `trylock`: somebody else holds it.
    Busy,
    /// `timedlock`: the deadline passed.
    TimedOut,
}

/// The error codes a lock call may return that shmgen does not expect (`ENOTRECOVERABLE` when
/// another program broke the protocol, `EAGAIN` on recursion overflow, `EINVAL` on garbage).
/// There is no way to go on with the lock, so this panics with the operation and the code.
#[cold]
#[inline(never)]
fn lock_failed(op: &str, code: libc::c_int) -> ! {
    panic!(
        "shmgen: {op} failed: {} (the mutex in shared memory is unusable: another program \
         broke the locking protocol or overwrote the lock's bytes)",
        io::Error::from_raw_os_error(code)
    )
}

/// Initialises a process-shared, robust mutex at `m`, `PTHREAD_MUTEX_RECURSIVE` when
/// `recursive`, else `PTHREAD_MUTEX_NORMAL`.
///
/// # Safety
/// `m` is valid for writes of `abi::RAW_MUTEX_SIZE` bytes, 8-aligned, and no other thread or
/// process uses those bytes during the call (the segment is not yet published).
pub(crate) unsafe fn mutex_init(m: *mut libc::pthread_mutex_t, recursive: bool) -> io::Result<()> {
    let mut attr = core::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    let check = |r: libc::c_int| {
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(r))
        }
    };
    // SAFETY: `attr` is writable memory of the attribute type's size.
    check(unsafe { libc::pthread_mutexattr_init(attr.as_mut_ptr()) })?;
    let kind = if recursive {
        libc::PTHREAD_MUTEX_RECURSIVE
    } else {
        libc::PTHREAD_MUTEX_NORMAL
    };
    // SAFETY: `attr` was initialised by `pthread_mutexattr_init` above; `m` is valid, aligned
    // and unshared per this function's contract; `attr` is destroyed exactly once afterwards.
    unsafe {
        let a = attr.as_mut_ptr();
        let r = check(libc::pthread_mutexattr_setpshared(
            a,
            libc::PTHREAD_PROCESS_SHARED,
        ))
        .and_then(|()| {
            check(libc::pthread_mutexattr_setrobust(
                a,
                libc::PTHREAD_MUTEX_ROBUST,
            ))
        })
        .and_then(|()| check(libc::pthread_mutexattr_settype(a, kind)))
        .and_then(|()| check(libc::pthread_mutex_init(m, a)));
        libc::pthread_mutexattr_destroy(a);
        r
    }
}

fn lock_result(op: &str, m: *mut libc::pthread_mutex_t, r: libc::c_int) -> LockStatus {
    match r {
        0 => LockStatus::Locked,
        libc::EOWNERDEAD => {
            // SAFETY: EOWNERDEAD means this thread now holds `m` (valid per the callers'
            // contract), which is exactly when `pthread_mutex_consistent` may be called.
            let c = unsafe { libc::pthread_mutex_consistent(m) };
            if c != 0 {
                lock_failed("pthread_mutex_consistent", c);
            }
            LockStatus::OwnerDied
        }
        libc::EBUSY => LockStatus::Busy,
        libc::ETIMEDOUT => LockStatus::TimedOut,
        e => lock_failed(op, e),
    }
}

/// `pthread_mutex_lock`; owner death is repaired (`pthread_mutex_consistent`) at once.
///
/// # Safety
/// `m` points to a mutex initialised by [`mutex_init`] that stays mapped during the call.
pub(crate) unsafe fn mutex_lock(m: *mut libc::pthread_mutex_t) -> LockStatus {
    // SAFETY: `m` is an initialised, mapped mutex (this function's contract).
    let r = unsafe { libc::pthread_mutex_lock(m) };
    lock_result("pthread_mutex_lock", m, r)
}

/// `pthread_mutex_trylock`; owner death is repaired at once.
///
/// # Safety
/// As for [`mutex_lock`].
pub(crate) unsafe fn mutex_trylock(m: *mut libc::pthread_mutex_t) -> LockStatus {
    // SAFETY: `m` is an initialised, mapped mutex (this function's contract).
    let r = unsafe { libc::pthread_mutex_trylock(m) };
    lock_result("pthread_mutex_trylock", m, r)
}

/// `pthread_mutex_timedlock` with a `CLOCK_REALTIME` deadline `timeout` from now; owner death is
/// repaired at once.
///
/// # Safety
/// As for [`mutex_lock`].
pub(crate) unsafe fn mutex_timedlock(
    m: *mut libc::pthread_mutex_t,
    timeout: Duration,
) -> LockStatus {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    // Saturate far-future deadlines at a year from now: far enough to be "forever", small
    // enough for any `time_t`.
    let timeout = timeout.min(Duration::from_secs(365 * 24 * 3600));
    let deadline = timespec(now + timeout);
    // SAFETY: `m` is an initialised, mapped mutex (this function's contract); `deadline` is a
    // normalised timespec (`tv_nsec` < 1e9) that outlives the call.
    let r = unsafe { libc::pthread_mutex_timedlock(m, &deadline) };
    lock_result("pthread_mutex_timedlock", m, r)
}

/// `pthread_mutex_unlock`.
///
/// # Safety
/// `m` is an initialised, mapped mutex that the calling thread holds.
pub(crate) unsafe fn mutex_unlock(m: *mut libc::pthread_mutex_t) {
    // SAFETY: the calling thread holds `m` (this function's contract).
    let r = unsafe { libc::pthread_mutex_unlock(m) };
    if r != 0 {
        lock_failed("pthread_mutex_unlock", r);
    }
}

// ---------------------------------------------------------------------------------------------
// Thread ids (used by `Ring` to name the claimer of a slot)
// ---------------------------------------------------------------------------------------------

/// This thread's kernel thread id (`gettid`; equal to the pid in a single-threaded process).
/// `kill(tid, 0)` ([`pid_alive`]) tells whether that thread still exists.
pub(crate) fn gettid() -> u32 {
    // SAFETY: `gettid` takes no arguments, has no preconditions and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    tid as u32
}

/// Registers `child` to run in the child process after every `fork()` (`pthread_atfork` with
/// only a child handler). `false` if glibc refused (out of memory).
pub(crate) fn atfork_child(child: unsafe extern "C" fn()) -> bool {
    // SAFETY: `child` is a plain `extern "C"` function with no arguments (what pthread_atfork
    // expects) that lives for the whole program; the other two handlers are absent.
    unsafe { libc::pthread_atfork(None, None, Some(child)) == 0 }
}

/// Whether thread (or process) `tid` has finished: no such id (`kill(tid, 0)` fails with
/// `ESRCH`), or it is a zombie waiting to be reaped (`/proc/<tid>/stat` state `Z` or `X`;
/// `kill` still succeeds on a zombie, whose parent may be the very process asking).
pub(crate) fn thread_gone(tid: u32) -> bool {
    if !pid_alive(tid) {
        return true;
    }
    let Ok(stat) = std::fs::read(format!("/proc/{tid}/stat")) else {
        // No /proc entry although kill() found it: another pid namespace's /proc or no /proc
        // mounted; report alive (never repair on a guess).
        return false;
    };
    // "tid (comm) S ...": comm may contain anything, so look after the last ')'.
    let Some(close) = stat.iter().rposition(|&c| c == b')') else {
        return false;
    };
    matches!(stat.get(close + 2), Some(b'Z' | b'X'))
}

/// `membarrier(2)` commands used by `Ring`.
pub(crate) const MEMBARRIER_CMD_GLOBAL_EXPEDITED: libc::c_int = 1 << 1;
/// Registers the calling process for [`MEMBARRIER_CMD_GLOBAL_EXPEDITED`] barriers.
pub(crate) const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: libc::c_int = 1 << 2;

/// `membarrier(cmd, 0)`; `true` on success.
pub(crate) fn membarrier(cmd: libc::c_int) -> bool {
    // SAFETY: membarrier takes two integers (command, flags) and no memory; an unsupported
    // command fails with EINVAL/ENOSYS, which we report as `false`.
    let r = unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_int) };
    r == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_alive_works() {
        assert!(pid_alive(getpid()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(u32::MAX));
    }

    #[test]
    fn futex_times_out() {
        let w = AtomicU32::new(0);
        let t = std::time::Instant::now();
        let mut r = FutexWait::Retry;
        while r == FutexWait::Retry && t.elapsed() < Duration::from_secs(2) {
            r = futex_wait(&w, 0, Some(Duration::from_millis(20)));
        }
        assert_eq!(r, FutexWait::TimedOut);
        // A mismatching value returns at once.
        assert_eq!(futex_wait(&w, 1, None), FutexWait::Retry);
    }
}
