//! Groups (a) and (b), and the Rust half of (c): a per-field `Mutex<u64>` against a raw
//! `pthread_mutex_t` set up with the same attributes, and an atomic field against a raw atomic
//! `u64`, in the same kind of memory (a `MAP_SHARED` mapping of a `/dev/shm` file), uncontended
//! (one process, a tight loop) and with 2 processes contending (each adds 1 N times; the
//! parent times from releasing both to both done). Every repetition runs all eight contenders
//! in turn, so load changes hit them alike.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shmgen_runtime::Segment;

use crate::layouts::Locks;
use crate::procs::{self, Raw};
use crate::report::{Goal, Ratio, Report, Unit};
use crate::Cfg;

/// What the 2 contending children do.
#[derive(Clone, Copy)]
enum Kind {
    Mutex,
    RawMutex,
    Atomic,
    RawAtomic,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Mutex => "mutex",
            Kind::RawMutex => "raw-mutex",
            Kind::Atomic => "atomic",
            Kind::RawAtomic => "raw-atomic",
        }
    }

    fn parse(s: &str) -> Kind {
        match s {
            "mutex" => Kind::Mutex,
            "raw-mutex" => Kind::RawMutex,
            "atomic" => Kind::Atomic,
            "raw-atomic" => Kind::RawAtomic,
            _ => panic!("unknown contention kind {s}"),
        }
    }
}

/// `__child contend KIND SEG RAW N`.
pub fn child(args: &[String]) {
    let kind = Kind::parse(&args[0]);
    let seg = Segment::<Locks>::open(&args[1]).expect("open Locks");
    let raw = Raw::map(&args[2], false);
    let n: u64 = args[3].parse().unwrap();
    seg.ready.release();
    assert!(seg.start.wait_timeout(Duration::from_secs(120)), "no start");
    match kind {
        Kind::Mutex => {
            for _ in 0..n {
                *seg.mutex.lock().unwrap() += 1;
            }
        }
        Kind::RawMutex => {
            for _ in 0..n {
                raw.locked_increment();
            }
        }
        Kind::Atomic => {
            for _ in 0..n {
                seg.atomic.fetch_add(1, Ordering::Relaxed);
            }
        }
        Kind::RawAtomic => {
            for _ in 0..n {
                raw.atomic().fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    seg.done.fetch_add(1, Ordering::SeqCst);
}

/// Two processes, `n` increments each; the time from "start" to both done, checked total.
fn contended(seg: &Segment<Locks>, raw: &Raw, raw_name: &str, kind: Kind, n: u64) -> Duration {
    *seg.mutex.lock().unwrap() = 0;
    seg.atomic.store(0, Ordering::SeqCst);
    raw.set_value(0);
    raw.atomic().store(0, Ordering::SeqCst);
    seg.start.clear();
    seg.done.store(0, Ordering::SeqCst);
    let args = [
        kind.name().to_owned(),
        seg.name().to_owned(),
        raw_name.to_owned(),
        n.to_string(),
    ];
    let kids: Vec<_> = (0..2).map(|_| procs::spawn("contend", &args)).collect();
    for _ in 0..2 {
        assert!(
            seg.ready.acquire_timeout(Duration::from_secs(120)),
            "contending children did not start"
        );
    }
    let t = Instant::now();
    seg.start.set();
    procs::wait_until("contending children", Duration::from_secs(900), || {
        seg.done.load(Ordering::SeqCst) == 2
    });
    let took = t.elapsed();
    for k in kids {
        procs::reap(k, kind.name());
    }
    let total = match kind {
        Kind::Mutex => *seg.mutex.lock().unwrap(),
        Kind::RawMutex => raw.value(),
        Kind::Atomic => seg.atomic.load(Ordering::SeqCst),
        Kind::RawAtomic => raw.atomic().load(Ordering::SeqCst),
    };
    assert_eq!(total, 2 * n, "{}: lost increments", kind.name());
    took
}

/// Runs groups (a), (b) and the Rust rows of (c).
pub fn run(cfg: &Cfg, r: &mut Report) {
    let n_un: u64 = if cfg.quick { 1_000_000 } else { 10_000_000 };
    let n_con = cfg.counter_n();
    let m = |n: u64| crate::count(n);
    r.declare(
        "a.mutex",
        'a',
        &format!(
            "Mutex<u64> field: lock, +1, unlock, 1 process, {} times",
            m(n_un)
        ),
        Unit::NsPerOp,
    );
    r.declare(
        "a.raw_mutex",
        'a',
        &format!(
            "raw pthread_mutex: lock, +1, unlock, 1 process, {} times",
            m(n_un)
        ),
        Unit::NsPerOp,
    );
    r.declare(
        "a.mutex2",
        'a',
        &format!(
            "Mutex<u64> field, 2 processes x {} increments (per increment)",
            m(n_con)
        ),
        Unit::NsPerOp,
    );
    r.declare(
        "a.raw_mutex2",
        'a',
        &format!(
            "raw pthread_mutex, 2 processes x {} increments (per increment)",
            m(n_con)
        ),
        Unit::NsPerOp,
    );
    r.declare(
        "b.atomic",
        'b',
        &format!("AtomicU64 field fetch_add, 1 process, {} times", m(n_un)),
        Unit::NsPerOp,
    );
    r.declare(
        "b.raw_atomic",
        'b',
        &format!("raw AtomicU64 fetch_add, 1 process, {} times", m(n_un)),
        Unit::NsPerOp,
    );
    r.declare(
        "b.atomic2",
        'b',
        &format!(
            "AtomicU64 field, 2 processes x {} increments (per increment)",
            m(n_con)
        ),
        Unit::NsPerOp,
    );
    r.declare(
        "b.raw_atomic2",
        'b',
        &format!(
            "raw AtomicU64, 2 processes x {} increments (per increment)",
            m(n_con)
        ),
        Unit::NsPerOp,
    );
    r.declare(
        "c.rust_mutex",
        'c',
        &format!("Rust, shmgen Mutex<u64> field: 2 x {} (total)", m(n_con)),
        Unit::Ms,
    );
    r.declare(
        "c.rust_atomic",
        'c',
        &format!("Rust, shmgen AtomicU64 field: 2 x {} (total)", m(n_con)),
        Unit::Ms,
    );

    let name = procs::seg_name("locks");
    let raw_name = format!("{name}-raw");
    let seg = Segment::<Locks>::options()
        .unlink_on_drop(true)
        .create(&name)
        .expect("create Locks segment");
    let raw = Raw::map(&raw_name, true);
    for _ in 0..cfg.reps {
        // Uncontended.
        let mtx = black_box(&*seg.mutex);
        let t = Instant::now();
        for _ in 0..n_un {
            *mtx.lock().unwrap() += 1;
        }
        r.add("a.mutex", t.elapsed().as_nanos() as f64 / n_un as f64);
        let rw = black_box(&raw);
        let t = Instant::now();
        for _ in 0..n_un {
            rw.locked_increment();
        }
        r.add("a.raw_mutex", t.elapsed().as_nanos() as f64 / n_un as f64);
        let at = black_box(&*seg.atomic);
        let t = Instant::now();
        for _ in 0..n_un {
            at.fetch_add(1, Ordering::Relaxed);
        }
        r.add("b.atomic", t.elapsed().as_nanos() as f64 / n_un as f64);
        let ra = black_box(raw.atomic());
        let t = Instant::now();
        for _ in 0..n_un {
            ra.fetch_add(1, Ordering::Relaxed);
        }
        r.add("b.raw_atomic", t.elapsed().as_nanos() as f64 / n_un as f64);
    }
    // 2 processes contending: cheap runs whose outcome depends on where the scheduler puts
    // the two children, so three times as many repetitions.
    for rep in 0..3 * cfg.reps {
        let per = |d: Duration| d.as_nanos() as f64 / (2 * n_con) as f64;
        // Alternate which side goes first, so that an ordering effect hits both alike.
        let order = if rep % 2 == 0 {
            [Kind::Mutex, Kind::RawMutex, Kind::Atomic, Kind::RawAtomic]
        } else {
            [Kind::RawMutex, Kind::Mutex, Kind::RawAtomic, Kind::Atomic]
        };
        for kind in order {
            let d = contended(&seg, &raw, &raw_name, kind, n_con);
            match kind {
                Kind::Mutex => {
                    r.add("a.mutex2", per(d));
                    r.add("c.rust_mutex", d.as_secs_f64() * 1e3);
                }
                Kind::RawMutex => r.add("a.raw_mutex2", per(d)),
                Kind::Atomic => {
                    r.add("b.atomic2", per(d));
                    r.add("c.rust_atomic", d.as_secs_f64() * 1e3);
                }
                Kind::RawAtomic => r.add("b.raw_atomic2", per(d)),
            }
        }
    }
    let lock_goal = Some(Goal::AtMost(1.2));
    r.compare(
        'a',
        "Mutex field vs pthread_mutex, uncontended",
        "a.mutex",
        "a.raw_mutex",
        Ratio::Cost,
        lock_goal,
    );
    r.compare(
        'a',
        "Mutex field vs pthread_mutex, 2 processes",
        "a.mutex2",
        "a.raw_mutex2",
        Ratio::Cost,
        lock_goal,
    );
    r.compare(
        'b',
        "atomic field vs raw atomic, uncontended",
        "b.atomic",
        "b.raw_atomic",
        Ratio::Cost,
        lock_goal,
    );
    r.compare(
        'b',
        "atomic field vs raw atomic, 2 processes",
        "b.atomic2",
        "b.raw_atomic2",
        Ratio::Cost,
        lock_goal,
    );
    r.note('a', "Ratio = shmgen time / raw time (1.00 = same cost). The raw mutex has shmgen's attributes (process-shared, robust, normal) and lives in a MAP_SHARED /dev/shm mapping, like the field. Contended: 2 child processes released together, timed by the parent until both are done; totals checked; three times as many repetitions as the other rows, alternating which side goes first (cheap runs, bimodal: about 30 ns per increment when the two processes take turns on the CPUs, about 100 ns when they really run at once and hand the lock over through futex calls).");
}
