//! Ring benchmark: `u64` items per second from one process to another, through a shmgen
//! `Ring<u64, 1024>`, a Unix pipe and a Unix domain socket (stream), the same number of items,
//! one item (8 bytes) per `push`/`pop` or `write`/`read` call. Printed with ratios.
//!
//! `cargo bench -p shmgen-runtime --bench ring` (`SHMGEN_BENCH_SCALE=0.1` for a quick run).
//!
//! The parent process is the consumer; a child (this binary, re-run with a role in the
//! environment) is the producer. The clock starts when the parent releases the waiting child
//! and stops when the parent has the last item; the parent checks the sum of what it got.
//! Each figure is the best of several runs, interleaved so that load changes hit all alike.
//! Also shown, for reference: the ring with `push_slice`/`pop_into` in batches of 64.

use std::os::fd::RawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shmgen_runtime::{Field, FieldLayout, Ring, Segment, SharedLayout, StructLayout};

const CAPACITY: usize = 1024;
const BATCH: usize = 64;

#[repr(C)]
struct Bench {
    ring: Ring<u64, CAPACITY>,
    ready: AtomicU32,
    go: AtomicU32,
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
        name: "RingBench",
        doc: "",
        size: core::mem::size_of::<Bench>(),
        align: core::mem::align_of::<Bench>(),
        fields: &[
            field!(Bench, ring: Ring<u64, CAPACITY>),
            field!(Bench, ready: AtomicU32),
            field!(Bench, go: AtomicU32),
        ],
    };
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Ring,
    RingBatch,
    Pipe,
    Socket,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Ring => "ring",
            Mode::RingBatch => "ring-batch",
            Mode::Pipe => "pipe",
            Mode::Socket => "socket",
        }
    }

    fn parse(s: &str) -> Mode {
        match s {
            "ring" => Mode::Ring,
            "ring-batch" => Mode::RingBatch,
            "pipe" => Mode::Pipe,
            "socket" => Mode::Socket,
            _ => panic!("unknown mode {s}"),
        }
    }
}

fn scale() -> f64 {
    std::env::var("SHMGEN_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

fn write_all(fd: RawFd, buf: &[u8]) {
    let mut off = 0;
    while off < buf.len() {
        // SAFETY: `buf[off..]` is valid for reads of its length; `fd` is an open descriptor.
        let r = unsafe { libc::write(fd, buf[off..].as_ptr().cast(), buf.len() - off) };
        assert!(r > 0, "write: {}", std::io::Error::last_os_error());
        off += r as usize;
    }
}

fn read_exact(fd: RawFd, buf: &mut [u8]) {
    let mut off = 0;
    while off < buf.len() {
        // SAFETY: `buf[off..]` is valid for writes of its length; `fd` is an open descriptor.
        let r = unsafe { libc::read(fd, buf[off..].as_mut_ptr().cast(), buf.len() - off) };
        assert!(r > 0, "read: {}", std::io::Error::last_os_error());
        off += r as usize;
    }
}

/// The producer (child process).
fn child_main(mode: Mode) {
    let seg_name = std::env::var("SHMGEN_BENCH_SEG").unwrap();
    let n: u64 = std::env::var("SHMGEN_BENCH_N").unwrap().parse().unwrap();
    let fd: RawFd = std::env::var("SHMGEN_BENCH_FD")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    let seg = Segment::<Bench>::open(&seg_name).unwrap();
    seg.ready.store(1, Ordering::SeqCst);
    while seg.go.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    match mode {
        Mode::Ring => {
            for i in 0..n {
                seg.ring.push(i).unwrap();
            }
        }
        Mode::RingBatch => {
            let mut buf = [0u64; BATCH];
            let mut i = 0;
            while i < n {
                let k = (n - i).min(BATCH as u64) as usize;
                for (j, b) in buf[..k].iter_mut().enumerate() {
                    *b = i + j as u64;
                }
                assert_eq!(seg.ring.push_slice(&buf[..k]), Ok(k));
                i += k as u64;
            }
        }
        Mode::Pipe | Mode::Socket => {
            for i in 0..n {
                write_all(fd, &i.to_ne_bytes());
            }
        }
    }
}

/// One run: the items/s of moving `n` items with `mode`.
fn run(mode: Mode, n: u64) -> f64 {
    let name = format!("shmgen-bench-ring-{}", std::process::id());
    let _ = shmgen_runtime::segment::remove(&name);
    let seg = Segment::<Bench>::options()
        .unlink_on_drop(true)
        .create(&name)
        .unwrap();
    // The consumer's end of a pipe / socket pair; the producer's end is inherited by the
    // child (no CLOEXEC) and closed here after the spawn.
    let (rx, tx): (RawFd, RawFd) = match mode {
        Mode::Pipe => {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors pipe() writes.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            (fds[0], fds[1])
        }
        Mode::Socket => {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors socketpair() writes.
            let r =
                unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
            assert_eq!(r, 0);
            (fds[0], fds[1])
        }
        Mode::Ring | Mode::RingBatch => (-1, -1),
    };
    let mut child: Child = Command::new(std::env::current_exe().unwrap())
        .env("SHMGEN_BENCH_ROLE", mode.name())
        .env("SHMGEN_BENCH_SEG", &name)
        .env("SHMGEN_BENCH_N", n.to_string())
        .env("SHMGEN_BENCH_FD", tx.to_string())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    if tx >= 0 {
        // SAFETY: `tx` is our copy of the producer's end, not used again here.
        unsafe { libc::close(tx) };
    }
    let start = Instant::now();
    while seg.ready.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "child did not start"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let t0 = Instant::now();
    seg.go.store(1, Ordering::SeqCst);
    let mut sum = 0u64;
    match mode {
        Mode::Ring => {
            for _ in 0..n {
                sum = sum.wrapping_add(seg.ring.pop().unwrap());
            }
        }
        Mode::RingBatch => {
            let mut buf = [0u64; BATCH];
            let mut got = 0;
            while got < n {
                let k = seg.ring.pop_into(&mut buf).unwrap();
                sum = buf[..k].iter().fold(sum, |a, &v| a.wrapping_add(v));
                got += k as u64;
            }
        }
        Mode::Pipe | Mode::Socket => {
            let mut b = [0u8; 8];
            for _ in 0..n {
                read_exact(rx, &mut b);
                sum = sum.wrapping_add(u64::from_ne_bytes(b));
            }
        }
    }
    let dt = t0.elapsed();
    assert_eq!(
        sum,
        n.wrapping_mul(n.wrapping_sub(1)) / 2,
        "{mode:?}: wrong sum"
    );
    let st = child.wait().unwrap();
    assert!(st.success(), "{mode:?} producer failed");
    if rx >= 0 {
        // SAFETY: `rx` is ours and not used again.
        unsafe { libc::close(rx) };
    }
    n as f64 / dt.as_secs_f64()
}

fn main() {
    if let Ok(role) = std::env::var("SHMGEN_BENCH_ROLE") {
        child_main(Mode::parse(&role));
        return;
    }
    // `cargo bench` passes `--bench`; any other argument filters nothing here.
    let n = ((2_000_000.0 * scale()) as u64).max(1000);
    let reps = 5;
    let modes = [Mode::Ring, Mode::Pipe, Mode::Socket, Mode::RingBatch];
    let mut best = [0f64; 4];
    for _ in 0..reps {
        for (i, &m) in modes.iter().enumerate() {
            best[i] = best[i].max(run(m, n));
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "ring benchmark: {n} u64 items, 1 producer process -> 1 consumer process, best of {reps} \
         ({} CPUs, load average {})",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        load.split_whitespace().next().unwrap_or("?")
    );
    let labels = [
        "shmgen Ring<u64, 1024> push/pop",
        "Unix pipe, 8-byte write/read",
        "Unix domain socket, 8-byte write/read",
        "shmgen ring push_slice/pop_into (64)",
    ];
    for (l, b) in labels.iter().zip(best) {
        println!("  {l:<40} {:>12.0} items/s  {:>8.1} ns/item", b, 1e9 / b);
    }
    println!("  ring / pipe:   {:.1}x", best[0] / best[1]);
    println!("  ring / socket: {:.1}x", best[0] / best[2]);
}
