//! Cross-process behaviour with real processes: this test binary re-runs itself (the
//! `child_entry` test) with a role in the environment.

mod common;

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use shmgen_runtime::{
    CacheAligned, Event, LockTimeoutError, Mutex, RMutex, Ring, Segment, Semaphore, SeqLock, Str,
    TryLockError,
};

const LONG: Duration = Duration::from_secs(180);

shared_struct! {
    /// The classic two-process counter, once through a lock and once through an atomic.
    struct Counter {
        start: Event,
        locked: CacheAligned<Mutex<u64>>,
        atomic: CacheAligned<AtomicU64>,
    }
}

shared_struct! {
    /// What one worker reports (the reference example's three ints).
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    element struct WorkerStats {
        completed: i32,
        errors: i32,
        throughput: i32,
    }
}

shared_struct! {
    /// SCHEMA.md §1's example root struct.
    struct Metrics {
        workers: Mutex<[WorkerStats; 4]>,
        tasks_done: AtomicU64,
        status: SeqLock<Str<32>>,
        shutdown: Event,
        slots: Semaphore<2>,
        jobs: Ring<u64, 1024>,
    }
}

shared_struct! {
    struct Crash {
        value: Mutex<[u64; 2]>,
        reentrant: RMutex<u64>,
        status: SeqLock<Str<16>>,
        locked: Event,
    }
}

shared_struct! {
    struct Race {
        magic: u64,
        attached: AtomicU32,
    }
}

shared_struct! {
    struct Torn {
        value: SeqLock<[u64; 8]>,
        stop: AtomicBool,
        writes: AtomicU64,
    }
}

shared_struct! {
    struct Sems {
        gate: Semaphore<0>,
        limit: Semaphore<2>,
        inside: AtomicU32,
        max_inside: AtomicU32,
        go: Event,
        ready: Semaphore<0>,
    }
}

const ENTRY: &str = "child_entry";

fn spawn(role: &str, args: &[String]) -> std::process::Child {
    child(ENTRY, role, args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

/// Runs the role when this process is a child; does nothing in a normal test run.
#[test]
fn child_entry() {
    let Some((role, args)) = role() else { return };
    let code = match std::panic::catch_unwind(|| run_role(&role, &args)) {
        Ok(()) => 0,
        Err(_) => 1,
    };
    std::process::exit(code);
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    match args[i].parse() {
        Ok(v) => v,
        Err(_) => panic!("bad child argument {:?}", args[i]),
    }
}

fn checksum(v: &[u64; 8]) -> u64 {
    v[..7].iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, &x| {
        (h ^ x).rotate_left(17).wrapping_mul(31)
    })
}

fn torn_value(k: u64) -> [u64; 8] {
    let mut v = [0u64; 8];
    v[0] = k;
    for (i, x) in v.iter_mut().enumerate().take(7).skip(1) {
        *x = k.wrapping_mul(2 * i as u64 + 1).rotate_left(7 * i as u32);
    }
    v[7] = checksum(&v);
    v
}

fn run_role(role: &str, args: &[String]) {
    let name = args[0].as_str();
    match role {
        "mutex_inc" | "atomic_inc" => {
            let n: u64 = arg(args, 1);
            let seg = Segment::<Counter>::open(name).unwrap();
            assert!(seg.start.wait_timeout(Duration::from_secs(30)));
            if role == "mutex_inc" {
                for _ in 0..n {
                    *seg.locked.lock().unwrap() += 1;
                }
            } else {
                for _ in 0..n {
                    seg.atomic.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        "worker" => {
            let id: usize = arg(args, 1);
            let steps: i32 = arg(args, 2);
            let seg = Segment::<Metrics>::open(name).unwrap();
            for step in 0..steps {
                let mut w = seg.workers.lock().unwrap();
                w[id].completed += 1;
                if step % 10 == 0 {
                    w[id].errors += 1;
                }
                w[id].throughput = 50 + step;
                drop(w);
                seg.tasks_done.fetch_add(1, Ordering::Relaxed);
            }
        }
        "hold_and_hang" => {
            let seg = Segment::<Crash>::open(name).unwrap();
            match args[1].as_str() {
                "mutex" => {
                    let mut g = seg.value.lock().unwrap();
                    g[0] = 7; // half an update: g[1] should follow
                    seg.locked.set();
                    std::thread::sleep(Duration::from_secs(120));
                }
                "rmutex" => {
                    let g1 = seg.reentrant.lock().unwrap();
                    let g2 = seg.reentrant.lock().unwrap();
                    g2.set(99);
                    seg.locked.set();
                    std::thread::sleep(Duration::from_secs(120));
                    drop((g1, g2));
                }
                "seqlock" => seg.status.update(|v| {
                    seg.locked.set();
                    std::thread::sleep(Duration::from_secs(120));
                    v
                }),
                other => panic!("unknown lock {other}"),
            }
        }
        "lock_once" => {
            let seg = Segment::<Crash>::open(name).unwrap();
            let mut g = seg
                .value
                .lock_timeout(Duration::from_secs(10))
                .expect("lock after repair");
            g[0] += 1;
            g[1] += 1;
        }
        "race" => {
            let start_ns: u64 = arg(args, 1);
            while now_ns() < start_ns {
                std::hint::spin_loop();
            }
            let seg = Segment::<Race>::options()
                .init(|r| r.magic = 0x5eed)
                .open_or_create(name)
                .unwrap();
            assert_eq!(seg.magic, 0x5eed, "opener sees the creator's init values");
            seg.attached.fetch_add(1, Ordering::SeqCst);
            println!(
                "RESULT {}",
                if seg.is_creator() {
                    "creator"
                } else {
                    "opener"
                }
            );
        }
        "seq_writer" => {
            let seg = Segment::<Torn>::open(name).unwrap();
            let millis: u64 = arg(args, 1);
            let end = Instant::now() + Duration::from_millis(millis);
            let mut k = 1u64;
            while Instant::now() < end {
                if k % 2 == 0 {
                    seg.value.write(torn_value(k));
                } else {
                    seg.value.update(|old| {
                        assert_eq!(old[7], checksum(&old), "writer saw a torn value");
                        torn_value(k)
                    });
                }
                seg.writes.fetch_add(1, Ordering::Relaxed);
                k += 1;
            }
            seg.stop.store(true, Ordering::SeqCst);
        }
        "seq_reader" => {
            let seg = Segment::<Torn>::open(name).unwrap();
            let (mut reads, mut changes, mut last) = (0u64, 0u64, 0u64);
            let deadline = Instant::now() + Duration::from_secs(60);
            while !seg.stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                let v = seg.value.read();
                assert_eq!(v[7], checksum(&v), "torn read: {v:?}");
                let k = v[0];
                assert!(k >= last, "went backwards: {k} after {last}");
                if k != last {
                    changes += 1;
                }
                last = k;
                reads += 1;
            }
            println!("RESULT {reads} {changes}");
        }
        "sem_gate" => {
            let seg = Segment::<Sems>::open(name).unwrap();
            seg.ready.release();
            assert!(
                seg.gate.acquire_timeout(Duration::from_secs(30)),
                "gate never opened"
            );
        }
        "sem_limit" => {
            let seg = Segment::<Sems>::open(name).unwrap();
            let rounds: u32 = arg(args, 1);
            assert!(seg.go.wait_timeout(Duration::from_secs(30)));
            for _ in 0..rounds {
                assert!(seg.limit.acquire_timeout(Duration::from_secs(30)));
                let now = seg.inside.fetch_add(1, Ordering::SeqCst) + 1;
                seg.max_inside.fetch_max(now, Ordering::SeqCst);
                for _ in 0..200 {
                    std::hint::spin_loop();
                }
                std::thread::yield_now();
                seg.inside.fetch_sub(1, Ordering::SeqCst);
                seg.limit.release();
            }
        }
        "event_wait" => {
            let seg = Segment::<Sems>::open(name).unwrap();
            seg.ready.release();
            assert!(
                seg.go.wait_timeout(Duration::from_secs(30)),
                "event never set"
            );
            println!("RESULT woke");
        }
        other => panic!("unknown role {other}"),
    }
}

fn counter_test(role: &str) -> Segment<Counter> {
    let name = TestName::new(role);
    let seg = Segment::<Counter>::create(&name).unwrap();
    let n = 1_000_000u64;
    let kids: Vec<_> = (0..2)
        .map(|_| spawn(role, &[name.to_string(), n.to_string()]))
        .collect();
    seg.start.set();
    for k in kids {
        wait_ok(k, LONG);
    }
    seg
}

#[test]
fn two_processes_increment_a_mutex_field_exactly() {
    let seg = counter_test("mutex_inc");
    assert_eq!(*seg.locked.lock().unwrap(), 2_000_000);
}

#[test]
fn two_processes_increment_an_atomic_field_exactly() {
    let seg = counter_test("atomic_inc");
    assert_eq!(seg.atomic.load(Ordering::SeqCst), 2_000_000);
}

#[test]
fn metrics_array_four_workers_and_a_monitor() {
    let name = TestName::new("metrics");
    let seg = Segment::<Metrics>::options()
        .init(|m| {
            m.status.get_mut().set("starting").unwrap();
        })
        .create(&name)
        .unwrap();
    assert_eq!(seg.status.read(), "starting");
    assert_eq!(seg.slots.value(), 2);
    seg.status.write(Str::try_from_str("running").unwrap());
    let steps = 20_000i32;
    let kids: Vec<_> = (0..4)
        .map(|i| {
            spawn(
                "worker",
                &[name.to_string(), i.to_string(), steps.to_string()],
            )
        })
        .collect();
    // The monitor: every snapshot taken under the lock is consistent.
    let start = Instant::now();
    let mut snapshots = 0u64;
    let mut last_total = 0;
    loop {
        let w = *seg.workers.lock().unwrap();
        let mut total = 0;
        for s in &w {
            let c = s.completed;
            assert!((0..=steps).contains(&c));
            assert_eq!(
                s.errors,
                (c + 9) / 10,
                "errors out of step with completed: {s:?}"
            );
            if c > 0 {
                assert_eq!(s.throughput, 50 + c - 1, "half-updated stats: {s:?}");
            }
            total += c;
        }
        assert!(total >= last_total, "monitor saw progress go backwards");
        last_total = total;
        snapshots += 1;
        if total == 4 * steps {
            break;
        }
        assert!(start.elapsed() < LONG, "workers did not finish");
        std::thread::sleep(Duration::from_micros(200));
    }
    for k in kids {
        wait_ok(k, LONG);
    }
    seg.status.write(Str::try_from_str("done").unwrap());
    let w = seg.workers.lock().unwrap();
    let completed: i32 = w.iter().map(|s| s.completed).sum();
    let errors: i32 = w.iter().map(|s| s.errors).sum();
    assert_eq!(completed, 4 * steps);
    assert_eq!(errors, 4 * steps / 10);
    assert!(w.iter().all(|s| s.throughput == 50 + steps - 1));
    assert_eq!(seg.tasks_done.load(Ordering::SeqCst), 4 * steps as u64);
    assert_eq!(seg.status.read(), "done");
    assert!(snapshots > 1);
}

/// Starts a child that takes `lock` and hangs, waits until it holds it, and SIGKILLs it.
fn kill_holder(seg: &Segment<Crash>, name: &str, lock: &str) {
    seg.locked.clear();
    let mut kid = spawn("hold_and_hang", &[name.to_string(), lock.to_string()]);
    let held = seg.locked.wait_timeout(Duration::from_secs(30));
    kid.kill().unwrap(); // SIGKILL
    wait(&mut kid, Duration::from_secs(30));
    assert!(held, "the child never took the lock");
}

#[test]
fn sigkilled_holder_gives_owner_died_and_the_lock_keeps_working() {
    let name = TestName::new("crash");
    let seg = Segment::<Crash>::create(&name).unwrap();

    // Mutex: repair through the guard.
    kill_holder(&seg, &name, "mutex");
    let died = match seg.value.lock() {
        Ok(_) => panic!("expected OwnerDied"),
        Err(e) => e,
    };
    assert!(died.to_string().contains("died"));
    let mut g = died.into_inner();
    assert_eq!(*g, [7, 0], "the dead holder's half update is visible");
    g[1] = g[0]; // repair
    drop(g);
    assert_eq!(*seg.value.lock().expect("consistent again"), [7, 7]);
    assert!(seg.value.try_lock().is_ok());
    // Another process can lock it too.
    wait_ok(spawn("lock_once", &[name.to_string()]), LONG);
    assert_eq!(*seg.value.lock().unwrap(), [8, 8]);

    // Dropping the OwnerDied without looking still leaves a working lock.
    kill_holder(&seg, &name, "mutex");
    match seg.value.lock_timeout(Duration::from_secs(10)) {
        Err(LockTimeoutError::OwnerDied(e)) => drop(e),
        other => panic!("expected OwnerDied, got {other:?}"),
    }
    assert!(seg.value.lock_timeout(Duration::from_secs(10)).is_ok());
    // try_lock reports it too.
    kill_holder(&seg, &name, "mutex");
    match seg.value.try_lock() {
        Err(TryLockError::OwnerDied(mut e)) => **e.get_mut() = [1, 1],
        other => panic!("expected OwnerDied, got {other:?}"),
    }
    assert_eq!(*seg.value.try_lock().unwrap(), [1, 1]);
    {
        let _held = seg.value.lock().unwrap();
        // Held by this thread: another thread cannot take it, and times out.
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(matches!(
                    seg.value.try_lock(),
                    Err(TryLockError::WouldBlock)
                ));
                let t = Instant::now();
                assert!(matches!(
                    seg.value.lock_timeout(Duration::from_millis(100)),
                    Err(LockTimeoutError::TimedOut)
                ));
                assert!(t.elapsed() >= Duration::from_millis(90));
            });
        });
    }

    // RMutex held twice by the dead process.
    kill_holder(&seg, &name, "rmutex");
    match seg.reentrant.lock() {
        Err(e) => {
            let g = e.into_inner();
            assert_eq!(g.get(), 99);
            let again = seg.reentrant.lock().expect("reentrant");
            again.set(100);
            drop(again);
            assert_eq!(g.get(), 100);
        }
        Ok(_) => panic!("expected OwnerDied"),
    }
    assert_eq!(seg.reentrant.lock().unwrap().get(), 100);

    // SeqLock writer killed mid-update: the value is intact and writers go on silently.
    seg.status.write(Str::try_from_str("before").unwrap());
    kill_holder(&seg, &name, "seqlock");
    assert_eq!(seg.status.read(), "before");
    seg.status.write(Str::try_from_str("after").unwrap());
    assert_eq!(seg.status.read(), "after");
}

#[test]
fn open_or_create_race_has_exactly_one_creator_100_times() {
    for round in 0..100 {
        let name = TestName::new("race");
        let start = now_ns() + 40_000_000; // both children start racing in 40 ms
        let kids: Vec<_> = (0..2)
            .map(|_| spawn("race", &[name.to_string(), start.to_string()]))
            .collect();
        let outs: Vec<String> = kids.into_iter().map(|k| wait_ok(k, LONG)).collect();
        let creators = outs.iter().filter(|o| o.contains("RESULT creator")).count();
        let openers = outs.iter().filter(|o| o.contains("RESULT opener")).count();
        assert_eq!((creators, openers), (1, 1), "round {round}: {outs:?}");
        let seg = Segment::<Race>::open(&name).unwrap();
        assert_eq!(seg.attached.load(Ordering::SeqCst), 2);
        assert_eq!(seg.magic, 0x5eed);
        // No temporary files left behind.
        let leftovers = std::fs::read_dir("/dev/shm")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!(".shmgen-{}.", &*name))
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}

#[test]
fn seqlock_readers_never_see_a_torn_value() {
    let name = TestName::new("torn");
    let seg = Segment::<Torn>::options()
        .init(|t| *t.value.get_mut() = torn_value(0))
        .create(&name)
        .unwrap();
    let readers: Vec<_> = (0..2)
        .map(|_| spawn("seq_reader", &[name.to_string()]))
        .collect();
    let writer = spawn("seq_writer", &[name.to_string(), "1500".into()]);
    // This process reads too.
    let mut reads = 0u64;
    let deadline = Instant::now() + LONG;
    while !seg.stop.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "writer never finished");
        let v = seg.value.read();
        assert_eq!(v[7], checksum(&v), "torn read: {v:?}");
        reads += 1;
    }
    wait_ok(writer, LONG);
    let mut changes = 0;
    for r in readers {
        let out = wait_ok(r, LONG);
        let line = out.lines().find(|l| l.starts_with("RESULT")).unwrap();
        let nums: Vec<u64> = line
            .split(' ')
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        assert!(nums[0] > 0);
        changes += nums[1];
    }
    let writes = seg.writes.load(Ordering::SeqCst);
    assert!(writes > 1000, "writer too slow: {writes}");
    assert!(changes > 0, "readers never saw the value change");
    assert!(reads > 0);
    assert_eq!(seg.value.read(), torn_value(writes));
    assert_eq!(seg.value.sequence(), writes);
}

#[test]
fn semaphore_across_processes() {
    let name = TestName::new("sem");
    let seg = Segment::<Sems>::create(&name).unwrap();
    assert_eq!(seg.limit.value(), 2);
    assert_eq!(seg.gate.value(), 0);
    assert!(!seg.gate.try_acquire());
    let t = Instant::now();
    assert!(!seg.gate.acquire_timeout(Duration::from_millis(50)));
    assert!(t.elapsed() >= Duration::from_millis(45));

    // A child blocks on the gate until this process releases it.
    let mut kid = spawn("sem_gate", &[name.to_string()]);
    assert!(seg.ready.acquire_timeout(Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        kid.try_wait().unwrap().is_none(),
        "child passed a closed gate"
    );
    seg.gate.release();
    let st = wait(&mut kid, Duration::from_secs(30));
    assert!(st.success());
    assert_eq!(seg.gate.value(), 0);

    // Four processes share two slots.
    let kids: Vec<_> = (0..4)
        .map(|_| spawn("sem_limit", &[name.to_string(), "300".into()]))
        .collect();
    seg.go.set();
    for k in kids {
        wait_ok(k, LONG);
    }
    let max = seg.max_inside.load(Ordering::SeqCst);
    assert!((1..=2).contains(&max), "max inside was {max}");
    assert_eq!(seg.limit.value(), 2);
    assert_eq!(seg.inside.load(Ordering::SeqCst), 0);
}

#[test]
fn event_across_processes() {
    let name = TestName::new("event");
    let seg = Segment::<Sems>::create(&name).unwrap();
    assert!(!seg.go.is_set());
    assert!(!seg.go.wait_timeout(Duration::from_millis(30)));
    let kids: Vec<_> = (0..3)
        .map(|_| spawn("event_wait", &[name.to_string()]))
        .collect();
    for _ in 0..3 {
        assert!(seg.ready.acquire_timeout(Duration::from_secs(30)));
    }
    std::thread::sleep(Duration::from_millis(50));
    seg.go.set();
    for k in kids {
        assert!(wait_ok(k, Duration::from_secs(30)).contains("RESULT woke"));
    }
    assert!(seg.go.is_set());
    seg.go.wait(); // set: returns at once
    seg.go.clear();
    assert!(!seg.go.is_set());
}
