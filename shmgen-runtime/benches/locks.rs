//! Lock benchmark: shmgen's field types against the raw primitives on the same kind of memory
//! (a `MAP_SHARED` mapping of a `/dev/shm` file), measured in one run, printed with ratios.
//!
//! `cargo bench -p shmgen-runtime --bench locks` (set `SHMGEN_BENCH_SCALE=0.1` for a quick run).
//!
//! - uncontended lock + update + unlock: `Mutex<u64>` field vs `pthread_mutex_lock`/`unlock` on
//!   a mutex initialised with the same attributes (process-shared, robust, normal);
//! - 2 processes contending on increments: `Mutex<u64>` field vs raw pthread mutex, and
//!   `AtomicU64` field vs a raw atomic `fetch_add` on a `u64` in the raw mapping;
//! - `SeqLock<[u64; 8]>::read` vs a plain (volatile) read of a `[u64; 8]`.
//!
//! Each figure is the best of several repetitions (the machine is shared); raw and shmgen
//! runs are interleaved so drift hits both alike.

use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shmgen_runtime::{
    CacheAligned, Event, Field, FieldLayout, Mutex, Segment, Semaphore, SeqLock, SharedLayout,
    StructLayout,
};

/// The shmgen side.
#[repr(C)]
struct Bench {
    start: Event,
    ready: Semaphore<0>,
    done: AtomicU32,
    mutex: CacheAligned<Mutex<u64>>,
    atomic: CacheAligned<AtomicU64>,
    seq: CacheAligned<SeqLock<[u64; 8]>>,
}

macro_rules! field {
    ($s:ty, $f:ident : $t:ty) => {
        FieldLayout {
            name: stringify!($f),
            doc: "",
            offset: core::mem::offset_of!($s, $f),
            size: core::mem::size_of::<$t>(),
            align: core::mem::align_of::<$t>(),
            kind: <$t as Field>::KIND,
        }
    };
}

// SAFETY: `#[repr(C)]`; the table is computed by rustc from the struct; every field is a
// runtime field type.
unsafe impl SharedLayout for Bench {
    const LAYOUT: StructLayout<'static> = StructLayout {
        name: "Bench",
        doc: "",
        size: core::mem::size_of::<Bench>(),
        align: core::mem::align_of::<Bench>(),
        fields: &[
            field!(Bench, start: Event),
            field!(Bench, ready: Semaphore<0>),
            field!(Bench, done: AtomicU32),
            field!(Bench, mutex: CacheAligned<Mutex<u64>>),
            field!(Bench, atomic: CacheAligned<AtomicU64>),
            field!(Bench, seq: CacheAligned<SeqLock<[u64; 8]>>),
        ],
    };
}

/// The raw side: a `/dev/shm` file mapped `MAP_SHARED`, laid out by hand.
/// 0: pthread mutex (robust, shared); 64: its u64; 128: raw atomic u64; 192: plain [u64; 8].
struct Raw {
    ptr: *mut u8,
}

const RAW_SIZE: usize = 4096;
const RAW_VALUE: usize = 64;
const RAW_ATOMIC: usize = 128;
const RAW_PLAIN: usize = 192;

impl Raw {
    fn map(name: &str, create: bool) -> Raw {
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
        let raw = Raw { ptr: p.cast() };
        if create {
            let mut attr = core::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            // SAFETY: the same attribute calls as shmgen's `sys::mutex_init`, on a mutex at
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

    fn value(&self) -> *mut u64 {
        // SAFETY: RAW_VALUE < RAW_SIZE, inside the mapping.
        unsafe { self.ptr.add(RAW_VALUE).cast() }
    }

    fn atomic(&self) -> &AtomicU64 {
        // SAFETY: 8-aligned, inside the mapping, only ever accessed atomically.
        unsafe { AtomicU64::from_ptr(self.ptr.add(RAW_ATOMIC).cast()) }
    }

    fn plain(&self) -> *const [u64; 8] {
        // SAFETY: RAW_PLAIN + 64 <= RAW_SIZE.
        unsafe { self.ptr.add(RAW_PLAIN).cast() }
    }

    #[inline(always)]
    fn locked_increment(&self) {
        // SAFETY: the mutex was initialised by the creator; the value is only touched while it
        // is held; the robust mutex never reports owner death here (nobody dies).
        unsafe {
            libc::pthread_mutex_lock(self.mutex());
            *self.value() += 1;
            libc::pthread_mutex_unlock(self.mutex());
        }
    }
}

fn scale() -> f64 {
    std::env::var("SHMGEN_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

fn iters(base: u64) -> u64 {
    ((base as f64 * scale()) as u64).max(1000)
}

/// Child processes: `SHMGEN_BENCH_ROLE=<what> SHMGEN_BENCH_SEG=<name> SHMGEN_BENCH_N=<n>`.
fn child_main(role: &str) {
    let seg_name = std::env::var("SHMGEN_BENCH_SEG").unwrap();
    let n: u64 = std::env::var("SHMGEN_BENCH_N").unwrap().parse().unwrap();
    let seg = Segment::<Bench>::open(&seg_name).unwrap();
    let raw = Raw::map(&format!("{seg_name}-raw"), false);
    seg.ready.release();
    assert!(seg.start.wait_timeout(Duration::from_secs(60)));
    match role {
        "mutex" => {
            for _ in 0..n {
                *seg.mutex.lock().unwrap() += 1;
            }
        }
        "raw_mutex" => {
            for _ in 0..n {
                raw.locked_increment();
            }
        }
        "atomic" => {
            for _ in 0..n {
                seg.atomic.fetch_add(1, Ordering::Relaxed);
            }
        }
        "raw_atomic" => {
            for _ in 0..n {
                raw.atomic().fetch_add(1, Ordering::Relaxed);
            }
        }
        other => panic!("unknown role {other}"),
    }
    seg.done.fetch_add(1, Ordering::SeqCst);
}

fn spawn(role: &str, seg: &str, n: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env("SHMGEN_BENCH_ROLE", role)
        .env("SHMGEN_BENCH_SEG", seg)
        .env("SHMGEN_BENCH_N", n.to_string())
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

/// Two processes doing `n` increments each; returns the time from "start" to both done.
fn contended(seg: &Segment<Bench>, name: &str, role: &str, n: u64) -> Duration {
    seg.start.clear();
    seg.done.store(0, Ordering::SeqCst);
    let mut kids: Vec<Child> = (0..2).map(|_| spawn(role, name, n)).collect();
    for _ in 0..2 {
        assert!(
            seg.ready.acquire_timeout(Duration::from_secs(60)),
            "children did not start"
        );
    }
    let t = Instant::now();
    seg.start.set();
    while seg.done.load(Ordering::SeqCst) < 2 {
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "children did not finish"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let took = t.elapsed();
    for k in &mut kids {
        assert!(k.wait().unwrap().success());
    }
    took
}

struct Row {
    what: &'static str,
    ours: f64,
    base: f64,
}

fn main() {
    if let Ok(role) = std::env::var("SHMGEN_BENCH_ROLE") {
        child_main(&role);
        return;
    }
    let name = format!("shmgen-bench-{}", std::process::id());
    let raw_name = format!("{name}-raw");
    let seg = Segment::<Bench>::options()
        .unlink_on_drop(true)
        .create(&name)
        .unwrap();
    let raw = Raw::map(&raw_name, true);
    let reps = 5;
    let mut rows = Vec::new();

    // 1. Uncontended lock + update + unlock.
    let n = iters(10_000_000);
    let (mut ours, mut base) = (Duration::MAX, Duration::MAX);
    for _ in 0..reps {
        let m = black_box(&*seg.mutex);
        let t = Instant::now();
        for _ in 0..n {
            *m.lock().unwrap() += 1;
        }
        ours = ours.min(t.elapsed());
        let r = black_box(&raw);
        let t = Instant::now();
        for _ in 0..n {
            r.locked_increment();
        }
        base = base.min(t.elapsed());
    }
    rows.push(Row {
        what: "uncontended lock+update+unlock: Mutex<u64> field vs raw pthread_mutex (ns/op)",
        ours: ours.as_nanos() as f64 / n as f64,
        base: base.as_nanos() as f64 / n as f64,
    });

    // 2. Two processes contending.
    let n = iters(1_000_000);
    let (mut ours, mut base) = (Duration::MAX, Duration::MAX);
    for _ in 0..2 * reps {
        ours = ours.min(contended(&seg, &name, "mutex", n));
        base = base.min(contended(&seg, &name, "raw_mutex", n));
    }
    rows.push(Row {
        what: "2 processes x increments: Mutex<u64> field vs raw pthread_mutex (ns/increment)",
        ours: ours.as_nanos() as f64 / (2 * n) as f64,
        base: base.as_nanos() as f64 / (2 * n) as f64,
    });
    let n = iters(5_000_000);
    let (mut ours, mut base) = (Duration::MAX, Duration::MAX);
    for _ in 0..2 * reps {
        ours = ours.min(contended(&seg, &name, "atomic", n));
        base = base.min(contended(&seg, &name, "raw_atomic", n));
    }
    rows.push(Row {
        what: "2 processes x increments: AtomicU64 field vs raw atomic u64 (ns/increment)",
        ours: ours.as_nanos() as f64 / (2 * n) as f64,
        base: base.as_nanos() as f64 / (2 * n) as f64,
    });
    let expected_mutex = *seg.mutex.lock().unwrap();
    assert!(expected_mutex > 0);

    // 3. Seqlock read vs plain read of 64 bytes.
    let n = iters(20_000_000);
    seg.seq.write([7; 8]);
    let (mut ours, mut volatile, mut plain) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..2 * reps {
        let s = black_box(&*seg.seq);
        let t = Instant::now();
        for _ in 0..n {
            black_box(s.read());
        }
        ours = ours.min(t.elapsed());
        let p = black_box(raw.plain());
        let t = Instant::now();
        for _ in 0..n {
            // SAFETY: `p` points to 64 bytes inside the raw mapping; nobody writes them now.
            black_box(unsafe { core::ptr::read_volatile(black_box(p)) });
        }
        volatile = volatile.min(t.elapsed());
        let t = Instant::now();
        for _ in 0..n {
            // SAFETY: as above; an ordinary (non-volatile) copy through an opaque pointer.
            black_box(unsafe { black_box(p).read() });
        }
        plain = plain.min(t.elapsed());
    }
    rows.push(Row {
        what: "read 64 bytes: SeqLock<[u64; 8]>::read vs plain volatile read (ns/read)",
        ours: ours.as_nanos() as f64 / n as f64,
        base: volatile.as_nanos() as f64 / n as f64,
    });
    rows.push(Row {
        what: "read 64 bytes: SeqLock<[u64; 8]>::read vs plain ptr::read (ns/read)",
        ours: ours.as_nanos() as f64 / n as f64,
        base: plain.as_nanos() as f64 / n as f64,
    });

    println!();
    println!(
        "{:<86} {:>9} {:>9} {:>7}",
        "benchmark", "shmgen", "raw", "ratio"
    );
    for r in &rows {
        println!(
            "{:<86} {:>9.2} {:>9.2} {:>7.2}",
            r.what,
            r.ours,
            r.base,
            r.ours / r.base
        );
    }
    println!(
        "(goal: every ratio <= 1.20; best of {reps} repetitions, {} for the contended and read rows)",
        2 * reps
    );

    drop(seg);
    let _ = std::fs::remove_file(format!("/dev/shm/{raw_name}"));
}
