//! Group (d): items from one process to another, one item per call, through a shmgen ring
//! (`Ring<T, 1024>`: `u64`, `Bytes<64>`, `Bytes<4096>`), a pipe, a Unix domain socket
//! (stream), iceoryx2 publish-subscribe (the peer binary), and, from Python, a shmgen ring and
//! `multiprocessing.Queue`. The parent is the consumer; the producer is a child process waiting
//! for "go", when the clock starts; it stops when the parent has the last item (the sum of the
//! items' numbers is checked). Every repetition runs every contender once, in turn.

use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shmgen_runtime::{Bytes, Ring, Segment};

use crate::layouts::Rings;
use crate::procs;
use crate::report::{Goal, Ratio, Report, Unit};
use crate::{count, Cfg};

/// Ring capacity (the iceoryx2 peer's subscriber buffer is the same).
const CAP: usize = 1024;

/// An item numbered `i` (its first 8 bytes).
trait Item: Copy + Send {
    fn make(i: u64) -> Self;
    fn number(&self) -> u64;
}

impl Item for u64 {
    fn make(i: u64) -> u64 {
        i
    }
    fn number(&self) -> u64 {
        *self
    }
}

impl<const S: usize> Item for Bytes<S> {
    fn make(i: u64) -> Self {
        let mut b = [0u8; S];
        b[..8].copy_from_slice(&i.to_ne_bytes());
        Bytes(b)
    }
    fn number(&self) -> u64 {
        u64::from_ne_bytes(self.0[..8].try_into().unwrap())
    }
}

fn produce<T: Item>(ring: &Ring<T, CAP>, n: u64) {
    for i in 0..n {
        ring.push(T::make(i)).expect("ring closed");
    }
}

fn consume<T: Item>(ring: &Ring<T, CAP>, n: u64) -> u64 {
    let mut sum = 0u64;
    for _ in 0..n {
        sum = sum.wrapping_add(ring.pop().expect("ring closed").number());
    }
    sum
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

/// `__child produce MODE SIZE SEG N FD`: MODE `ring`, `pipe` or `socket`.
pub fn child(args: &[String]) {
    let mode = args[0].as_str();
    let size: usize = args[1].parse().unwrap();
    let seg = Segment::<Rings>::open(&args[2]).expect("open Rings");
    let n: u64 = args[3].parse().unwrap();
    let fd: RawFd = args[4].parse().unwrap();
    seg.ready.store(1, Ordering::SeqCst);
    procs::wait_until("go", Duration::from_secs(120), || {
        seg.go.load(Ordering::SeqCst) != 0
    });
    match (mode, size) {
        ("ring", 8) => produce(&seg.small, n),
        ("ring", 64) => produce(&seg.medium, n),
        ("ring", 4096) => produce(&seg.large, n),
        ("pipe" | "socket", _) => {
            let mut buf = vec![0u8; size];
            for i in 0..n {
                buf[..8].copy_from_slice(&i.to_ne_bytes());
                write_all(fd, &buf);
            }
        }
        _ => panic!("unknown producer {mode} {size}"),
    }
}

/// One run of a Rust contender: items per second.
fn run_once(seg: &Segment<Rings>, mode: &str, size: usize, n: u64) -> f64 {
    seg.ready.store(0, Ordering::SeqCst);
    seg.go.store(0, Ordering::SeqCst);
    let (rx, tx): (RawFd, RawFd) = match mode {
        "pipe" => {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors pipe() writes.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            (fds[0], fds[1])
        }
        "socket" => {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors socketpair() writes.
            let r =
                unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
            assert_eq!(r, 0);
            (fds[0], fds[1])
        }
        _ => (-1, -1),
    };
    let args = [
        mode.to_owned(),
        size.to_string(),
        seg.name().to_owned(),
        n.to_string(),
        tx.to_string(),
    ];
    let child = procs::spawn("produce", &args);
    if tx >= 0 {
        // SAFETY: our copy of the producer's end (the child inherited it), not used again.
        unsafe { libc::close(tx) };
    }
    procs::wait_until("producer ready", Duration::from_secs(120), || {
        seg.ready.load(Ordering::SeqCst) != 0
    });
    let t0 = Instant::now();
    seg.go.store(1, Ordering::SeqCst);
    let sum = match (mode, size) {
        ("ring", 8) => consume(&seg.small, n),
        ("ring", 64) => consume(&seg.medium, n),
        ("ring", 4096) => consume(&seg.large, n),
        _ => {
            let mut buf = vec![0u8; size];
            let mut sum = 0u64;
            for _ in 0..n {
                read_exact(rx, &mut buf);
                sum = sum.wrapping_add(u64::from_ne_bytes(buf[..8].try_into().unwrap()));
            }
            sum
        }
    };
    let dt = t0.elapsed();
    assert_eq!(
        sum,
        n.wrapping_mul(n.wrapping_sub(1)) / 2,
        "{mode}: wrong sum"
    );
    procs::reap(child, mode);
    if rx >= 0 {
        // SAFETY: ours, not used again.
        unsafe { libc::close(rx) };
    }
    n as f64 / dt.as_secs_f64()
}

fn size_name(size: usize) -> &'static str {
    match size {
        8 => "u64",
        64 => "64 B",
        _ => "4 KiB",
    }
}

/// Runs group (d).
pub fn run(cfg: &Cfg, r: &mut Report) {
    let sizes = [8usize, 64, 4096];
    // Items per run: Rust contenders, Python contenders.
    let counts = |size: usize| -> (u64, u64) {
        match (cfg.quick, size) {
            (true, 4096) => (20_000, 5_000),
            (true, _) => (100_000, 10_000),
            (false, 4096) => (200_000, 40_000),
            (false, _) => (1_000_000, 100_000),
        }
    };
    for &size in &sizes {
        let (n, np) = counts(size);
        let s = size_name(size);
        let k = |what: &str| format!("d.{what}.{size}");
        r.declare(
            &k("ring"),
            'd',
            &format!(
                "{s}: shmgen Ring<_, 1024> push/pop, Rust, {} items",
                count(n)
            ),
            Unit::ItemsPerSec,
        );
        r.declare(
            &k("pipe"),
            'd',
            &format!("{s}: pipe write/read, {} items", count(n)),
            Unit::ItemsPerSec,
        );
        r.declare(
            &k("socket"),
            'd',
            &format!("{s}: Unix socket (stream) write/read, {} items", count(n)),
            Unit::ItemsPerSec,
        );
        r.declare(
            &k("iox"),
            'd',
            &format!("{s}: iceoryx2 publish-subscribe, Rust, {} items", count(n)),
            Unit::ItemsPerSec,
        );
        r.declare(
            &k("pyring"),
            'd',
            &format!("{s}: shmgen ring put/get, Python, {} items", count(np)),
            Unit::ItemsPerSec,
        );
        r.declare(
            &k("queue"),
            'd',
            &format!("{s}: multiprocessing.Queue put/get, {} items", count(np)),
            Unit::ItemsPerSec,
        );
    }
    let name = procs::seg_name("rings");
    let seg = Segment::<Rings>::options()
        .unlink_on_drop(true)
        .create(&name)
        .expect("create Rings segment");
    for &size in &sizes {
        let (n, np) = counts(size);
        let k = |what: &str| format!("d.{what}.{size}");
        if let Err(why) = cfg.peer.usable() {
            r.not_run(&k("iox"), &why);
        }
        if let Err(why) = cfg.python.usable() {
            r.not_run(&k("pyring"), &why);
            r.not_run(&k("queue"), &why);
        }
        for _ in 0..cfg.reps {
            r.add(&k("ring"), run_once(&seg, "ring", size, n));
            r.add(&k("pipe"), run_once(&seg, "pipe", size, n));
            r.add(&k("socket"), run_once(&seg, "socket", size, n));
            if cfg.peer.usable().is_ok() {
                match cfg.peer.throughput(size, n) {
                    Ok(v) => r.add(&k("iox"), v),
                    Err(e) => r.fail(&k("iox"), &e),
                }
            }
            if cfg.python.usable().is_ok() {
                let args = [
                    "messages".to_owned(),
                    "--size".to_owned(),
                    size.to_string(),
                    "-n".to_owned(),
                    np.to_string(),
                ];
                match cfg.python.suite(&args) {
                    Ok(v) => {
                        match (
                            v["ring_items_per_sec"].as_f64(),
                            v["queue_items_per_sec"].as_f64(),
                        ) {
                            (Some(a), Some(b)) => {
                                r.add(&k("pyring"), a);
                                r.add(&k("queue"), b);
                            }
                            _ => {
                                r.not_run(&k("pyring"), &format!("unexpected output {v}"));
                                r.not_run(&k("queue"), &format!("unexpected output {v}"));
                            }
                        }
                    }
                    Err(e) => {
                        r.fail(&k("pyring"), &e);
                        r.fail(&k("queue"), &e);
                    }
                }
            }
        }
    }
    drop(seg);
    for &size in &sizes {
        let s = size_name(size);
        let k = |what: &str| format!("d.{what}.{size}");
        r.compare(
            'd',
            &format!("{s}: ring vs pipe"),
            &k("ring"),
            &k("pipe"),
            Ratio::Speedup,
            Some(Goal::AtLeast(5.0)),
        );
        r.compare(
            'd',
            &format!("{s}: ring vs Unix socket"),
            &k("ring"),
            &k("socket"),
            Ratio::Speedup,
            None,
        );
        r.compare(
            'd',
            &format!("{s}: ring vs iceoryx2"),
            &k("ring"),
            &k("iox"),
            Ratio::Speedup,
            Some(Goal::AtLeast(1.0)),
        );
        r.compare(
            'd',
            &format!("{s}: ring (Rust) vs multiprocessing.Queue"),
            &k("ring"),
            &k("queue"),
            Ratio::Speedup,
            None,
        );
        r.compare(
            'd',
            &format!("{s}: ring (Python) vs multiprocessing.Queue"),
            &k("pyring"),
            &k("queue"),
            Ratio::Speedup,
            // Issue 6's goal is for u64 items.
            (size == 8).then_some(Goal::AtLeast(3.0)),
        );
    }
    r.note('d', "Ratio = shmgen items/s / baseline items/s. One item per call everywhere (push/pop, write/read of the item's size, iceoryx2 loan+send/receive, put/get). iceoryx2: subscriber buffer 1,024 (the ring's capacity), no overflow, the publisher retries until delivered; the subscriber polls (spins, then yields after 64 empty polls), since its publish-subscribe has no blocking receive. The Python rows run fewer items (Python is ~100x slower per item); each repetition runs the Python ring and multiprocessing.Queue in 5 alternating chunks in the same two processes (python/interleave.py) and reports each one's median chunk rate, so a change of machine speed hits both alike.");
}
