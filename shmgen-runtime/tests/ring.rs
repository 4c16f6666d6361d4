//! Rings across real processes: this test binary re-runs itself (the `ring_child` test) with a
//! role in the environment. Every wait has a timeout, so a broken protocol fails, not hangs.

mod common;

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use shmgen_runtime::ring::{PopTimeoutError, TryPopError};
use shmgen_runtime::{Bytes, Ring, Segment};

const LONG: Duration = Duration::from_secs(300);
const ENTRY: &str = "ring_child";

shared_struct! {
    /// What the multi-process tests pass around: an id, who made it, and a check word so a torn
    /// item would show.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    element struct Item {
        id: u64,
        producer: u32,
        check: u32,
    }
}

fn check_of(id: u64, producer: u32) -> u32 {
    (id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32 ^ producer
}

shared_struct! {
    /// One producer, one consumer.
    struct Pipe {
        ring: Ring<u64, 1024>,
        started: AtomicU32,
    }
}

shared_struct! {
    /// Many producers, many consumers, on a small ring (wrap-around and blocking all the time).
    struct Crowd {
        ring: Ring<Item, 16>,
        started: AtomicU32,
        producers_done: AtomicU32,
    }
}

shared_struct! {
    /// For crash tests: a tiny ring and a flag the victim raises once it is in the middle.
    struct Crash {
        ring: Ring<u64, 4>,
        claimed: AtomicU64,
        ready: AtomicU32,
    }
}

shared_struct! {
    /// In-place pushes and pops of 512-byte frames through a ring of 8.
    struct Frames {
        ring: Ring<Bytes<512>, 8>,
        started: AtomicU32,
    }
}

/// Frame `i`: its number, then 63 words derived from it (a torn frame would show).
fn fill_frame(frame: &mut Bytes<512>, i: u64) {
    for (k, w) in frame.chunks_exact_mut(8).enumerate() {
        let v = if k == 0 {
            i
        } else {
            i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k as u64
        };
        w.copy_from_slice(&v.to_ne_bytes());
    }
}

/// Frame's number, after checking every word.
fn check_frame(frame: &Bytes<512>) -> u64 {
    let mut want = Bytes([0u8; 512]);
    let i = u64::from_ne_bytes(frame[..8].try_into().unwrap());
    fill_frame(&mut want, i);
    assert!(frame[..] == want[..], "frame {i} is torn");
    i
}

fn spawn(role: &str, args: &[String]) -> Child {
    child(ENTRY, role, args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

fn out_file(tag: &str, i: usize) -> String {
    format!(
        "{}/shmgen-ring-{tag}-{}-{i}.bin",
        std::env::temp_dir().display(),
        std::process::id()
    )
}

fn read_u64s(path: &str) -> Vec<u64> {
    let b = std::fs::read(path).expect("read consumer output");
    let _ = std::fs::remove_file(path);
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// The children. Does nothing when run as an ordinary test.
#[test]
fn ring_child() {
    let Some((role, args)) = role() else { return };
    let name = args[0].as_str();
    match role.as_str() {
        "pipe-producer" => {
            let seg = Segment::<Pipe>::open(name).unwrap();
            let n: u64 = args[1].parse().unwrap();
            seg.started.fetch_add(1, Ordering::SeqCst);
            for i in 0..n {
                seg.ring.push(i).unwrap();
            }
            seg.ring.close();
        }
        "pipe-consumer" => {
            let seg = Segment::<Pipe>::open(name).unwrap();
            let n: u64 = args[1].parse().unwrap();
            seg.started.fetch_add(1, Ordering::SeqCst);
            let mut expect = 0u64;
            loop {
                match seg.ring.pop_timeout(Duration::from_secs(60)) {
                    Ok(v) => {
                        assert_eq!(v, expect, "out of order or lost");
                        expect += 1;
                    }
                    Err(PopTimeoutError::Closed) => break,
                    Err(PopTimeoutError::Timeout) => panic!("consumer starved at {expect}"),
                }
            }
            assert_eq!(expect, n);
            println!("consumed {expect}");
        }
        "crowd-producer" => {
            let seg = Segment::<Crowd>::open(name).unwrap();
            let me: u32 = args[1].parse().unwrap();
            let per: u64 = args[2].parse().unwrap();
            let batch: usize = args[3].parse().unwrap();
            seg.started.fetch_add(1, Ordering::SeqCst);
            let first = me as u64 * per;
            let items: Vec<Item> = (first..first + per)
                .map(|id| Item {
                    id,
                    producer: me,
                    check: check_of(id, me),
                })
                .collect();
            if batch <= 1 {
                for it in items {
                    seg.ring.push(it).unwrap();
                }
            } else {
                for chunk in items.chunks(batch) {
                    assert_eq!(seg.ring.push_slice(chunk), Ok(chunk.len()));
                }
            }
            seg.producers_done.fetch_add(1, Ordering::SeqCst);
        }
        "crowd-consumer" => {
            let seg = Segment::<Crowd>::open(name).unwrap();
            let out = &args[1];
            let batch: usize = args[2].parse().unwrap();
            seg.started.fetch_add(1, Ordering::SeqCst);
            let mut got: Vec<u8> = Vec::new();
            let mut last: HashMap<u32, u64> = HashMap::new();
            let mut take = |it: Item| {
                assert_eq!(it.check, check_of(it.id, it.producer), "torn item {it:?}");
                // FIFO: one consumer sees each producer's items in increasing order.
                if let Some(&l) = last.get(&it.producer) {
                    assert!(it.id > l, "producer {} went backwards", it.producer);
                }
                last.insert(it.producer, it.id);
                got.extend_from_slice(&it.id.to_le_bytes());
            };
            if batch <= 1 {
                while let Ok(it) = seg.ring.pop() {
                    take(it);
                }
            } else {
                let mut buf = vec![Item::default(); batch];
                while let Ok(n) = seg.ring.pop_into(&mut buf) {
                    buf[..n].iter().for_each(|&it| take(it));
                }
            }
            std::fs::write(out, got).unwrap();
        }
        "crash-claim" => {
            // Claim a slot like push/pop do, raise the flag, and wait to be killed.
            let seg = Segment::<Crash>::open(name).unwrap();
            let pop = args[1] == "pop";
            let advance = args[2] == "advance";
            let p = seg
                .ring
                .__claim_and_abandon(pop, advance)
                .expect("nothing to claim");
            seg.claimed.store(p, Ordering::SeqCst);
            seg.ready.store(1, Ordering::SeqCst);
            std::thread::sleep(LONG);
        }
        "stream-producer" => {
            let seg = Segment::<Crash>::open(name).unwrap();
            let from: u64 = args[1].parse().unwrap();
            let to: u64 = args[2].parse().unwrap();
            seg.ready.store(1, Ordering::SeqCst);
            for i in from..to {
                seg.ring.push(i).unwrap();
            }
        }
        "frame-producer" => {
            let seg = Segment::<Frames>::open(name).unwrap();
            let n: u64 = args[1].parse().unwrap();
            seg.started.fetch_add(1, Ordering::SeqCst);
            for i in 0..n {
                seg.ring.push_with(|f| fill_frame(f, i)).unwrap();
            }
            seg.ring.close();
        }
        other => panic!("unknown role {other}"),
    }
}

/// 1 producer process → 1 consumer process, 1,000,000 u64 in order, exactly once.
#[test]
fn one_to_one_million_in_order() {
    let name = TestName::new("ring11");
    let _seg = Segment::<Pipe>::create(&name).unwrap();
    let n = 1_000_000u64.to_string();
    let c = spawn("pipe-consumer", &[name.0.clone(), n.clone()]);
    let p = spawn("pipe-producer", &[name.0.clone(), n]);
    wait_ok(p, LONG);
    let out = wait_ok(c, LONG);
    assert!(out.contains("consumed 1000000"), "{out}");
}

fn crowd(tag: &str, producers: u32, consumers: usize, total: u64, batch: usize) {
    let name = TestName::new(tag);
    let seg = Segment::<Crowd>::create(&name).unwrap();
    let per = total / producers as u64;
    let outs: Vec<String> = (0..consumers).map(|i| out_file(tag, i)).collect();
    let cs: Vec<Child> = outs
        .iter()
        .map(|o| {
            spawn(
                "crowd-consumer",
                &[name.0.clone(), o.clone(), batch.to_string()],
            )
        })
        .collect();
    let ps: Vec<Child> = (0..producers)
        .map(|i| {
            spawn(
                "crowd-producer",
                &[
                    name.0.clone(),
                    i.to_string(),
                    per.to_string(),
                    batch.to_string(),
                ],
            )
        })
        .collect();
    for p in ps {
        wait_ok(p, LONG);
    }
    assert_eq!(seg.producers_done.load(Ordering::SeqCst), producers);
    seg.ring.close();
    for c in cs {
        wait_ok(c, LONG);
    }
    // Multiset check: every id exactly once.
    let mut all: Vec<u64> = outs.iter().flat_map(|o| read_u64s(o)).collect();
    assert_eq!(
        all.len() as u64,
        per * producers as u64,
        "lost or duplicated"
    );
    all.sort_unstable();
    for (i, &id) in all.iter().enumerate() {
        assert_eq!(id, i as u64, "id {i} missing or duplicated");
    }
    assert!(seg.ring.is_empty());
}

/// 4 producer processes × 4 consumer processes, 1,000,000 items with ids, capacity 16.
#[test]
fn four_by_four_million_small_ring() {
    crowd("ring44", 4, 4, 1_000_000, 1);
}

/// The same with `push_slice` / `pop_into`.
#[test]
fn four_by_four_batches() {
    crowd("ring44b", 4, 4, 400_000, 7);
}

/// Close from another process: pushes fail there and here; pops drain and then fail.
#[test]
fn close_across_processes() {
    let name = TestName::new("ringclose");
    let seg = Segment::<Pipe>::create(&name).unwrap();
    let p = spawn("pipe-producer", &[name.0.clone(), "10".into()]);
    wait_ok(p, LONG); // pushes 0..10, then closes
    assert!(seg.ring.is_closed());
    assert_eq!(seg.ring.len(), 10);
    assert!(seg.ring.push(99).is_err());
    for i in 0..10 {
        assert_eq!(seg.ring.pop_timeout(Duration::from_secs(5)), Ok(i));
    }
    assert_eq!(seg.ring.try_pop(), Err(TryPopError::Closed));
    assert_eq!(
        seg.ring.pop_timeout(Duration::from_secs(5)),
        Err(PopTimeoutError::Closed)
    );
}

/// A consumer sleeping in `pop` wakes up when another process closes the ring.
#[test]
fn close_wakes_sleepers() {
    let name = TestName::new("ringclosewake");
    let seg = Segment::<Pipe>::create(&name).unwrap();
    let c = spawn("pipe-consumer", &[name.0.clone(), "0".into()]);
    wait_until(LONG, "consumer start", || {
        seg.started.load(Ordering::SeqCst) == 1
    });
    std::thread::sleep(Duration::from_millis(100)); // let it fall asleep
    let t = Instant::now();
    seg.ring.close();
    wait_ok(c, LONG);
    assert!(t.elapsed() < Duration::from_secs(5));
}

/// Starts a child that claims a slot (for `kind` = push/pop, moving tail/head if `advance`),
/// waits until it is in the middle, and SIGKILLs it. Returns the claimed position.
fn kill_mid_operation(seg: &Segment<Crash>, name: &str, kind: &str, advance: bool) -> u64 {
    seg.ready.store(0, Ordering::SeqCst);
    let adv = if advance { "advance" } else { "stay" };
    let mut c = spawn("crash-claim", &[name.to_owned(), kind.into(), adv.into()]);
    wait_until(LONG, "the victim's claim", || {
        seg.ready.load(Ordering::SeqCst) == 1
    });
    c.kill().unwrap(); // SIGKILL
    let st = wait(&mut c, LONG);
    assert!(!st.success());
    seg.claimed.load(Ordering::SeqCst)
}

fn producer_killed_mid_push(advance: bool) {
    let name = TestName::new(if advance { "ringpk1" } else { "ringpk0" });
    let seg = Segment::<Crash>::create(&name).unwrap();
    let r = &seg.ring;
    r.push(100).unwrap();
    let pos = kill_mid_operation(&seg, &name, "push", advance);
    assert_eq!(pos, 1);
    // Others keep pushing (helping tail past the dead claim) and popping; the dead push had
    // no item yet, so nothing pushed is lost.
    let mut got = Vec::new();
    for i in 0..20u64 {
        r.push_timeout(200 + i, Duration::from_secs(10)).unwrap();
        got.push(r.pop_timeout(Duration::from_secs(10)).unwrap());
    }
    let want: Vec<u64> = std::iter::once(100).chain(200..219).collect();
    assert_eq!(got, want);
    assert_eq!(r.pop_timeout(Duration::from_secs(10)), Ok(219));
    assert_eq!(r.try_pop(), Err(TryPopError::Empty));
}

/// A producer SIGKILLed after claiming a slot, before moving tail.
#[test]
fn producer_killed_before_moving_tail() {
    producer_killed_mid_push(false);
}

/// A producer SIGKILLed after claiming a slot and moving tail, before publishing.
#[test]
fn producer_killed_before_publishing() {
    producer_killed_mid_push(true);
}

fn consumer_killed_mid_pop(advance: bool) {
    let name = TestName::new(if advance { "ringck1" } else { "ringck0" });
    let seg = Segment::<Crash>::create(&name).unwrap();
    let r = &seg.ring;
    for i in 0..4 {
        r.push(i).unwrap();
    }
    let pos = kill_mid_operation(&seg, &name, "pop", advance);
    assert_eq!(pos, 0); // the victim took item 0 with it
                        // The ring is "full" with the victim's slot stuck; producers must repair it to go on.
    let got: Vec<u64> = (0..3)
        .map(|_| r.pop_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert_eq!(got, vec![1, 2, 3]);
    for i in 4..12 {
        r.push_timeout(i, Duration::from_secs(10)).unwrap();
        assert_eq!(r.pop_timeout(Duration::from_secs(10)), Ok(i));
    }
    assert_eq!(r.try_pop(), Err(TryPopError::Empty));
}

/// A consumer SIGKILLed after claiming an item, before moving head: only that item is lost.
#[test]
fn consumer_killed_before_moving_head() {
    consumer_killed_mid_pop(false);
}

/// A consumer SIGKILLed after claiming an item and moving head, before freeing the slot.
#[test]
fn consumer_killed_before_freeing() {
    consumer_killed_mid_pop(true);
}

/// A consumer sleeping on an empty ring, and the producer that would fill it is killed in the
/// middle of its push: the sleeper repairs the slot and takes the next producer's items.
#[test]
fn sleeping_consumer_recovers_from_dead_producer() {
    let name = TestName::new("ringsleep");
    let seg = Segment::<Crash>::create(&name).unwrap();
    let r = &seg.ring;
    let _ = kill_mid_operation(&seg, &name, "push", true);
    // Another process pushes 1..=200 through the ring while we pop.
    seg.ready.store(0, Ordering::SeqCst);
    let p = spawn(
        "stream-producer",
        &[name.0.clone(), "1".into(), "201".into()],
    );
    let got: Vec<u64> = (0..200)
        .map(|_| r.pop_timeout(Duration::from_secs(20)).unwrap())
        .collect();
    assert_eq!(got, (1..201).collect::<Vec<_>>());
    wait_ok(p, LONG);
}

/// Processes SIGKILLed at random moments of a busy stream never wedge the ring: a fresh
/// producer's items all come through afterwards, in order.
#[test]
fn random_kills_do_not_wedge() {
    let name = TestName::new("ringkill");
    let seg = Segment::<Crash>::create(&name).unwrap();
    let r = &seg.ring;
    for round in 0..6u64 {
        seg.ready.store(0, Ordering::SeqCst);
        let base = (round + 1) * 1_000_000;
        let mut p = spawn(
            "stream-producer",
            &[
                name.0.clone(),
                base.to_string(),
                (base + 900_000).to_string(),
            ],
        );
        wait_until(LONG, "producer start", || {
            seg.ready.load(Ordering::SeqCst) == 1
        });
        // Pop for a while, then kill the producer at whatever point it is.
        let mut last = None;
        let stop = Instant::now() + Duration::from_millis(20 + 15 * round);
        while Instant::now() < stop {
            if let Ok(v) = r.pop_timeout(Duration::from_millis(50)) {
                assert!(last.map_or(v == base, |l: u64| v == l + 1), "gap at {v}");
                last = Some(v);
            }
        }
        p.kill().unwrap();
        wait(&mut p, LONG);
        // Drain what it published: still in order, no gaps (its last push may be lost).
        while let Ok(v) = r.try_pop() {
            assert!(last.map_or(v == base, |l: u64| v == l + 1), "gap at {v}");
            last = Some(v);
        }
        // The ring still works for everyone.
        for i in 0..10 {
            r.push_timeout(i, Duration::from_secs(10)).unwrap();
            assert_eq!(r.pop_timeout(Duration::from_secs(10)), Ok(i));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-language: the Python runtime (python/src/shmgen) at the other end. The Python side is
// python/tests/test_ring_peer.py, whose structs mirror `Pipe`, `Crowd` and `Item` above.
// ---------------------------------------------------------------------------------------------

fn python_peer() -> Option<std::path::PathBuf> {
    let peer = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../python/tests/test_ring_peer.py")
        .canonicalize()
        .ok()?;
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg("import ctypes, mmap")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        // Skipped on a developer machine without Python; in CI (`CI` set, as `.ci/run` runs)
        // a missing interpreter is a failure, so these tests cannot pass by not running.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: the cross-language ring tests need python3"
        );
        eprintln!("SKIPPED: no python3 on PATH");
        return None;
    }
    Some(peer)
}

fn spawn_python(peer: &std::path::Path, role: &str, name: &str, fp: u64, args: &[String]) -> Child {
    std::process::Command::new("python3")
        .arg(peer)
        .arg(role)
        .arg(name)
        .arg(format!("{fp:#x}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn python3")
}

/// 1 Rust producer → 1 Python consumer, 1,000,000 u64: in order, exactly once.
#[test]
fn xlang_rust_to_python_million() {
    use shmgen_runtime::SharedLayout;
    let Some(peer) = python_peer() else { return };
    let name = TestName::new("ringrp");
    let seg = Segment::<Pipe>::create(&name).unwrap();
    let n = 1_000_000u64;
    let c = spawn_python(
        &peer,
        "pipe-consumer",
        &name,
        Pipe::FINGERPRINT,
        &[n.to_string()],
    );
    wait_until(LONG, "python consumer start", || {
        seg.started.load(Ordering::SeqCst) == 1
    });
    let t = Instant::now();
    for i in 0..n {
        seg.ring.push(i).unwrap();
    }
    seg.ring.close();
    let out = wait_ok(c, LONG);
    assert!(out.contains("consumed 1000000"), "{out}");
    eprintln!("rust -> python: {n} items in {:?}", t.elapsed());
}

/// 1 Python producer → 1 Rust consumer, 1,000,000 u64: in order, exactly once.
#[test]
fn xlang_python_to_rust_million() {
    use shmgen_runtime::SharedLayout;
    let Some(peer) = python_peer() else { return };
    let name = TestName::new("ringpr");
    let seg = Segment::<Pipe>::create(&name).unwrap();
    let n = 1_000_000u64;
    let p = spawn_python(
        &peer,
        "pipe-producer",
        &name,
        Pipe::FINGERPRINT,
        &[n.to_string()],
    );
    let t = Instant::now();
    let mut expect = 0u64;
    loop {
        match seg.ring.pop_timeout(Duration::from_secs(60)) {
            Ok(v) => {
                assert_eq!(v, expect, "out of order or lost");
                expect += 1;
            }
            Err(PopTimeoutError::Closed) => break,
            Err(PopTimeoutError::Timeout) => panic!("starved at {expect}"),
        }
    }
    assert_eq!(expect, n);
    wait_ok(p, LONG);
    eprintln!("python -> rust: {n} items in {:?}", t.elapsed());
}

/// 4 producers × 4 consumers, two of each in Rust and two in Python, 1,000,000 items with
/// ids on a ring of 16: every id exactly once, each consumer sees each producer in order.
#[test]
fn xlang_four_by_four_mixed() {
    use shmgen_runtime::SharedLayout;
    let Some(peer) = python_peer() else { return };
    let name = TestName::new("ringmix");
    let seg = Segment::<Crowd>::create(&name).unwrap();
    let (producers, total) = (4u32, 1_000_000u64);
    let per = total / producers as u64;
    let outs: Vec<String> = (0..4).map(|i| out_file("mix", i)).collect();
    let fp = Crowd::FINGERPRINT;
    let mut cs = Vec::new();
    for (i, o) in outs.iter().enumerate() {
        cs.push(if i % 2 == 0 {
            spawn("crowd-consumer", &[name.0.clone(), o.clone(), "1".into()])
        } else {
            spawn_python(&peer, "crowd-consumer", &name, fp, std::slice::from_ref(o))
        });
    }
    let mut ps = Vec::new();
    for i in 0..producers {
        let (me, per_s) = (i.to_string(), per.to_string());
        ps.push(if i % 2 == 0 {
            spawn("crowd-producer", &[name.0.clone(), me, per_s, "1".into()])
        } else {
            spawn_python(&peer, "crowd-producer", &name, fp, &[me, per_s])
        });
    }
    for p in ps {
        wait_ok(p, LONG);
    }
    assert_eq!(seg.producers_done.load(Ordering::SeqCst), producers);
    seg.ring.close();
    let mut per_consumer = Vec::new();
    for c in cs {
        wait_ok(c, LONG);
    }
    let mut all = Vec::new();
    for o in &outs {
        let got = read_u64s(o);
        per_consumer.push(got.len());
        all.extend(got);
    }
    eprintln!("items per consumer (rust, python, rust, python): {per_consumer:?}");
    assert_eq!(all.len() as u64, total, "lost or duplicated");
    all.sort_unstable();
    for (i, &id) in all.iter().enumerate() {
        assert_eq!(id, i as u64, "id {i} missing or duplicated");
    }
}

/// `push_with` in one process, `pop_with` in another: 200,000 frames of 512 bytes through a
/// ring of 8, filled and read in place, arrive whole, in order, exactly once.
#[test]
fn in_place_frames_across_processes() {
    let name = TestName::new("frames");
    let seg = Segment::<Frames>::create(&name).unwrap();
    let n = 200_000u64;
    let p = spawn("frame-producer", &[name.0.clone(), n.to_string()]);
    let mut expect = 0u64;
    let t0 = Instant::now();
    // Until closed and drained.
    while let Ok(i) = seg.ring.pop_with(check_frame) {
        assert_eq!(i, expect, "out of order");
        expect += 1;
        assert!(t0.elapsed() < LONG, "stuck at {expect}");
    }
    assert_eq!(expect, n);
    wait_ok(p, LONG);
}

/// In-place operations mix with copying ones, and a closure that panics leaves the ring
/// working: a push's position is given up (consumers skip it), a pop's item is lost.
#[test]
fn in_place_operations_survive_panics() {
    let name = TestName::new("inplace");
    let seg = Segment::<Crash>::create(&name).unwrap();
    let r = &seg.ring;
    for lap in 0..5u64 {
        r.push_with(|v| *v = lap * 10).unwrap();
        r.push(lap * 10 + 1).unwrap();
        assert_eq!(r.pop_with(|v| *v).unwrap(), lap * 10);
        assert_eq!(r.pop().unwrap(), lap * 10 + 1);
    }
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let boom = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        r.push_with(|_| panic!("fill fails"))
    }));
    assert!(boom.is_err());
    r.push(7).unwrap();
    assert_eq!(r.try_pop().unwrap(), 7, "the given-up position is skipped");
    r.push(8).unwrap();
    r.push(9).unwrap();
    let boom = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        r.pop_with(|_| -> u64 { panic!("read fails") })
    }));
    assert!(boom.is_err());
    std::panic::set_hook(quiet);
    assert_eq!(r.try_pop().unwrap(), 9, "item 8 was lost with its reader");
    for i in 0..12u64 {
        // every slot goes round again: nothing is left claimed
        r.push_with(|v| *v = 100 + i).unwrap();
        assert_eq!(r.pop_with(|v| *v).unwrap(), 100 + i);
    }
    assert!(r.is_empty());
    r.close();
    assert!(r.push_with(|_| unreachable!("closed")).is_err());
    assert!(r.pop_with(|_| ()).is_err());
}
