//! Child processes (this binary re-run as `shmgen-bench __child ROLE ARGS...`), segment names,
//! the monotonic clock shared by processes, and the raw baseline's `/dev/shm` mapping.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Starts `shmgen-bench __child ROLE ARGS...`.
pub fn spawn(role: &str, args: &[String]) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .arg("__child")
        .arg(role)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn child")
}

/// Waits for a child and panics if it failed.
pub fn reap(mut child: Child, what: &str) {
    let st = child.wait().expect("wait child");
    assert!(st.success(), "{what} child failed: {st}");
}

/// A fresh segment name for this process: `shmgen-bench-TAG-PID-SEQ`.
pub fn seg_name(tag: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    format!(
        "shmgen-bench-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(r, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Spins until `f()` is true (yielding), or panics after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// The raw side of groups (a) and (b): a `/dev/shm` file mapped `MAP_SHARED` and laid out by
/// hand, like `shmgen-runtime/benches/locks.rs`. Offset 0: a pthread mutex initialised with
/// shmgen's attributes (process-shared, robust, normal); 64: the u64 it protects; 128: a raw
/// atomic u64.
pub struct Raw {
    ptr: *mut u8,
    name: String,
    owner: bool,
}

const RAW_SIZE: usize = 4096;
const RAW_VALUE: usize = 64;
const RAW_ATOMIC: usize = 128;

impl Raw {
    /// Creates (`create`) or opens the file `/dev/shm/NAME` and maps it.
    pub fn map(name: &str, create: bool) -> Raw {
        let path = std::ffi::CString::new(format!("/dev/shm/{name}")).unwrap();
        let flags = libc::O_RDWR
            | libc::O_CLOEXEC
            | if create {
                libc::O_CREAT | libc::O_EXCL
            } else {
                0
            };
        // SAFETY: `path` is NUL-terminated; the mode is the variadic argument O_CREAT needs.
        let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600 as libc::c_uint) };
        assert!(fd >= 0, "open raw: {}", std::io::Error::last_os_error());
        if create {
            // SAFETY: `fd` is open.
            assert_eq!(unsafe { libc::ftruncate(fd, RAW_SIZE as libc::off_t) }, 0);
        }
        // SAFETY: a fresh shared mapping of an open file of RAW_SIZE bytes.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                RAW_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        // SAFETY: `fd` is open and no longer needed (the mapping keeps the file).
        unsafe { libc::close(fd) };
        let raw = Raw {
            ptr: p.cast(),
            name: name.to_owned(),
            owner: create,
        };
        if create {
            let mut attr = core::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            // SAFETY: the attribute calls of shmgen's mutex initialisation, on a mutex at
            // offset 0 of a page-aligned, zeroed mapping nobody else uses yet.
            unsafe {
                let a = attr.as_mut_ptr();
                assert_eq!(libc::pthread_mutexattr_init(a), 0);
                assert_eq!(
                    libc::pthread_mutexattr_setpshared(a, libc::PTHREAD_PROCESS_SHARED),
                    0
                );
                assert_eq!(
                    libc::pthread_mutexattr_setrobust(a, libc::PTHREAD_MUTEX_ROBUST),
                    0
                );
                assert_eq!(
                    libc::pthread_mutexattr_settype(a, libc::PTHREAD_MUTEX_NORMAL),
                    0
                );
                assert_eq!(libc::pthread_mutex_init(raw.mutex(), a), 0);
                libc::pthread_mutexattr_destroy(a);
            }
        }
        raw
    }

    fn mutex(&self) -> *mut libc::pthread_mutex_t {
        self.ptr.cast()
    }

    /// The u64 the mutex protects.
    pub fn value(&self) -> u64 {
        // SAFETY: RAW_VALUE + 8 <= RAW_SIZE; read while no child runs.
        unsafe { self.ptr.add(RAW_VALUE).cast::<u64>().read_volatile() }
    }

    /// Sets the protected u64 (while no child runs).
    pub fn set_value(&self, v: u64) {
        // SAFETY: as in `value`.
        unsafe { self.ptr.add(RAW_VALUE).cast::<u64>().write_volatile(v) }
    }

    /// The raw atomic.
    pub fn atomic(&self) -> &AtomicU64 {
        // SAFETY: 8-aligned, inside the mapping, only ever accessed atomically.
        unsafe { AtomicU64::from_ptr(self.ptr.add(RAW_ATOMIC).cast()) }
    }

    /// Lock, add one, unlock: what `*m.lock().unwrap() += 1` does on a shmgen field.
    #[inline(always)]
    pub fn locked_increment(&self) {
        // SAFETY: the mutex was initialised by the creator; the value is only touched while it
        // is held; nobody dies holding it here, so the robust mutex never reports owner death.
        unsafe {
            libc::pthread_mutex_lock(self.mutex());
            let v = self.ptr.add(RAW_VALUE).cast::<u64>();
            *v += 1;
            libc::pthread_mutex_unlock(self.mutex());
        }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, not used after this.
        unsafe { libc::munmap(self.ptr.cast(), RAW_SIZE) };
        if self.owner {
            let _ = std::fs::remove_file(format!("/dev/shm/{}", self.name));
        }
    }
}
