//! Group (e): publishing a 64 MiB `f64` array (8,388,608 elements) to another process. shmgen
//! from Rust: a producer child copies its private array into the segment's `data` field, stores
//! its start time (CLOCK_MONOTONIC) and sets the `published` event; the parent, waiting on it,
//! stops the clock. Baseline: `memcpy` of 64 MiB between two private, already-touched buffers
//! in one process (the bandwidth any copy is bounded by). From Python (`python/bench_suite.py
//! bulk`): the same through the field's numpy view (`data.as_numpy()[:] = src`), and
//! `multiprocessing.Queue.put` of the numpy array until the consumer's `get()` returns it. Every
//! writer touches its destination once before the timed runs (a long-lived publisher's pages
//! are mapped), and every repetition runs every contender once.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shmgen_runtime::Segment;

use crate::layouts::Bulk;
use crate::procs;
use crate::report::{Goal, Ratio, Report, Unit};
use crate::Cfg;

/// Elements of the array.
pub const ELEMS: usize = 8_388_608;
const BYTES: f64 = (ELEMS * 8) as f64;
const GIB: f64 = (1u64 << 30) as f64;

/// `__child bulk-producer SEG`: publishes on every `go` until `quit`.
pub fn child(args: &[String]) {
    let seg = Segment::<Bulk>::open(&args[0]).expect("open Bulk");
    let src: Vec<f64> = (0..ELEMS).map(|i| i as f64).collect();
    // `data` is a plain field: shmgen gives no `&mut` to a mapped segment (other processes may
    // hold it too), so the producer writes through the segment's raw pointer, as C or numpy
    // would. The parent reads `data` only after `published` (an event: release/acquire).
    // SAFETY: `as_mut_ptr` points at the root in the mapping; `addr_of_mut!` makes no reference.
    let dst: *mut f64 = unsafe { core::ptr::addr_of_mut!((*seg.as_mut_ptr()).data) }.cast();
    // Touch the destination once: a publisher that lives on has its pages mapped.
    // SAFETY: only this process writes `data` and it holds no reference to it; `dst` covers
    // the whole array in the mapping; readers wait for `published`.
    unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, ELEMS) };
    seg.published.set();
    loop {
        assert!(seg.go.wait_timeout(Duration::from_secs(300)), "no go");
        seg.go.clear();
        if seg.quit.load(Ordering::SeqCst) != 0 {
            return;
        }
        let t0 = procs::now_ns();
        // SAFETY: as above.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, ELEMS) };
        seg.t0.store(t0, Ordering::SeqCst);
        seg.published.set();
    }
}

/// Runs group (e).
pub fn run(cfg: &Cfg, r: &mut Report) {
    r.declare(
        "e.rust",
        'e',
        "shmgen from Rust: producer process writes data, event wakes consumer",
        Unit::GibPerSec,
    );
    r.declare(
        "e.memcpy",
        'e',
        "memcpy 64 MiB, private buffer to private buffer, 1 process",
        Unit::GibPerSec,
    );
    r.declare(
        "e.numpy",
        'e',
        "shmgen from Python: data.as_numpy()[:] = src, event wakes consumer",
        Unit::GibPerSec,
    );
    r.declare(
        "e.queue",
        'e',
        "multiprocessing.Queue.put(numpy array) until the consumer's get()",
        Unit::GibPerSec,
    );
    let name = procs::seg_name("bulk");
    let seg = Segment::<Bulk>::options()
        .unlink_on_drop(true)
        .create(&name)
        .expect("create Bulk segment");
    let child = procs::spawn("bulk-producer", std::slice::from_ref(&name));
    assert!(
        seg.published.wait_timeout(Duration::from_secs(120)),
        "bulk producer did not start"
    );
    let src: Vec<f64> = (0..ELEMS).map(|i| (i * 3) as f64).collect();
    let mut dst: Vec<f64> = vec![1.0; ELEMS];
    dst.copy_from_slice(&src); // touched
    let py = cfg.python.usable().and_then(|()| cfg.python.numpy());
    if let Err(why) = &py {
        r.not_run("e.numpy", why);
        r.not_run("e.queue", why);
    }
    for _ in 0..cfg.reps {
        seg.published.clear();
        seg.go.set();
        assert!(
            seg.published.wait_timeout(Duration::from_secs(120)),
            "no publish"
        );
        let t1 = procs::now_ns();
        let secs = (t1 - seg.t0.load(Ordering::SeqCst)) as f64 / 1e9;
        assert_eq!(seg.data[ELEMS - 1], (ELEMS - 1) as f64);
        r.add("e.rust", BYTES / GIB / secs);

        let t = Instant::now();
        black_box(&mut dst).copy_from_slice(black_box(&src));
        r.add("e.memcpy", BYTES / GIB / t.elapsed().as_secs_f64());

        if py.is_ok() {
            match cfg.python.suite(&["bulk".to_owned()]) {
                Ok(v) => match (v["numpy_secs"].as_f64(), v["queue_secs"].as_f64()) {
                    (Some(a), Some(b)) => {
                        r.add("e.numpy", BYTES / GIB / a);
                        r.add("e.queue", BYTES / GIB / b);
                    }
                    _ => {
                        let why = v["error"]
                            .as_str()
                            .map_or_else(|| format!("unexpected output {v}"), str::to_owned);
                        r.not_run("e.numpy", &why);
                        r.not_run("e.queue", &why);
                    }
                },
                Err(e) => {
                    r.fail("e.numpy", &e);
                    r.fail("e.queue", &e);
                }
            }
        }
    }
    seg.quit.store(1, Ordering::SeqCst);
    seg.go.set();
    procs::reap(child, "bulk producer");
    drop(seg);
    let g = Some(Goal::AtLeast(0.8));
    r.compare(
        'e',
        "Rust: shmgen publish vs memcpy bandwidth",
        "e.rust",
        "e.memcpy",
        Ratio::Speedup,
        g,
    );
    r.compare(
        'e',
        "Python: numpy view publish vs memcpy bandwidth",
        "e.numpy",
        "e.memcpy",
        Ratio::Speedup,
        g,
    );
    r.compare(
        'e',
        "Python: numpy view publish vs multiprocessing.Queue.put",
        "e.numpy",
        "e.queue",
        Ratio::Speedup,
        Some(Goal::AtLeast(20.0)),
    );
    r.compare(
        'e',
        "Rust: shmgen publish vs multiprocessing.Queue.put",
        "e.rust",
        "e.queue",
        Ratio::Speedup,
        Some(Goal::AtLeast(20.0)),
    );
    r.note('e', "Ratio = shmgen GiB/s / baseline GiB/s (64 MiB / end-to-end seconds). shmgen rows: from the producer starting to write (CLOCK_MONOTONIC, stored in the segment) to the consumer woken by the `published` event. The consumer then reads the array in place: nothing is copied again.");
}
