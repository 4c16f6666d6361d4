//! Group (f): one-way latency between two processes, as half the round trip of a ping-pong
//! (the parent timestamps each round trip with `Instant`, i.e. CLOCK_MONOTONIC): through two
//! shmgen rings with the blocking `pop` (a short spin, then a futex), through two rings polled
//! with `try_pop` (spin, yield after 64 empty polls: the iceoryx2 peer's loop), through two
//! shmgen events (`set` / `wait`, futex), and the iceoryx2 peer's publish-subscribe (polling)
//! and event (blocking listener) equivalents. p50 and p99 of each run; the table shows the
//! median over the repetitions, which run every contender in turn.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shmgen_runtime::{ring::TryPopError, Segment};

use crate::layouts::Latency;
use crate::procs;
use crate::report::{quantile, Goal, Ratio, Report, Unit};
use crate::{count, Cfg};

/// Spins, then yields, while there is nothing (the iceoryx2 peer's `backoff`).
#[inline(always)]
fn backoff(empty: &mut u32) {
    *empty += 1;
    if *empty < 64 {
        core::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

fn poll_pop(ring: &shmgen_runtime::Ring<u64, 64>) -> u64 {
    let mut empty = 0;
    loop {
        match ring.try_pop() {
            Ok(v) => return v,
            Err(TryPopError::Empty) => backoff(&mut empty),
            Err(e) => panic!("try_pop: {e:?}"),
        }
    }
}

/// `__child echo MODE SEG N`: MODE `block`, `poll` or `event`.
pub fn child(args: &[String]) {
    let mode = args[0].as_str();
    let seg = Segment::<Latency>::open(&args[1]).expect("open Latency");
    let n: u64 = args[2].parse().unwrap();
    seg.ready.store(1, Ordering::SeqCst);
    for _ in 0..n {
        match mode {
            "block" => {
                let v = seg.ping.pop().unwrap();
                seg.pong.push(v).unwrap();
            }
            "poll" => {
                let v = poll_pop(&seg.ping);
                seg.pong.try_push(v).expect("pong full");
            }
            "event" => {
                assert!(
                    seg.ping_set.wait_timeout(Duration::from_secs(120)),
                    "no ping"
                );
                seg.ping_set.clear();
                seg.pong_set.set();
            }
            _ => panic!("unknown echo mode {mode}"),
        }
    }
}

/// One run: (p50, p99) of the one-way latency in ns.
fn run_once(seg: &Segment<Latency>, mode: &str, n: u64) -> (f64, f64) {
    seg.ready.store(0, Ordering::SeqCst);
    seg.ping_set.clear();
    seg.pong_set.clear();
    let child = procs::spawn(
        "echo",
        &[mode.to_owned(), seg.name().to_owned(), n.to_string()],
    );
    procs::wait_until("echo ready", Duration::from_secs(120), || {
        seg.ready.load(Ordering::SeqCst) != 0
    });
    let mut rtt = Vec::with_capacity(n as usize);
    for i in 0..n {
        let t = Instant::now();
        match mode {
            "block" => {
                seg.ping.push(i).unwrap();
                assert_eq!(seg.pong.pop().unwrap(), i);
            }
            "poll" => {
                seg.ping.try_push(i).expect("ping full");
                assert_eq!(poll_pop(&seg.pong), i);
            }
            _ => {
                seg.pong_set.clear();
                seg.ping_set.set();
                assert!(
                    seg.pong_set.wait_timeout(Duration::from_secs(120)),
                    "no pong"
                );
            }
        }
        rtt.push(t.elapsed().as_nanos() as f64 / 2.0);
    }
    procs::reap(child, mode);
    (quantile(&mut rtt, 0.50), quantile(&mut rtt, 0.99))
}

/// Runs group (f).
pub fn run(cfg: &Cfg, r: &mut Report) {
    let n: u64 = if cfg.quick { 5_000 } else { 50_000 };
    let contenders = [
        ("block", "shmgen ring, blocking pop (spin, then futex)"),
        ("poll", "shmgen ring, try_pop polling (spin, then yield)"),
        ("event", "shmgen Event set/wait (futex)"),
        (
            "iox-spin",
            "iceoryx2 publish-subscribe, polling (spin, then yield)",
        ),
        ("iox-event", "iceoryx2 event, blocking listener"),
    ];
    for (k, label) in contenders {
        for p in ["p50", "p99"] {
            r.declare(
                &format!("f.{k}.{p}"),
                'f',
                &format!("{label}: {p}, {} round trips", count(n)),
                Unit::NsLatency,
            );
        }
    }
    if let Err(why) = cfg.peer.usable() {
        for k in ["iox-spin", "iox-event"] {
            r.not_run(&format!("f.{k}.p50"), &why);
            r.not_run(&format!("f.{k}.p99"), &why);
        }
    }
    let name = procs::seg_name("latency");
    let seg = Segment::<Latency>::options()
        .unlink_on_drop(true)
        .create(&name)
        .expect("create Latency segment");
    for _ in 0..cfg.reps {
        for mode in ["block", "poll", "event"] {
            let (p50, p99) = run_once(&seg, mode, n);
            r.add(&format!("f.{mode}.p50"), p50);
            r.add(&format!("f.{mode}.p99"), p99);
        }
        if cfg.peer.usable().is_ok() {
            for (k, mode) in [("iox-spin", "spin"), ("iox-event", "event")] {
                match cfg.peer.latency(mode, n) {
                    Ok((p50, p99)) => {
                        r.add(&format!("f.{k}.p50"), p50);
                        r.add(&format!("f.{k}.p99"), p99);
                    }
                    Err(e) => {
                        r.fail(&format!("f.{k}.p50"), &e);
                        r.fail(&format!("f.{k}.p99"), &e);
                    }
                }
            }
        }
    }
    drop(seg);
    let g = Some(Goal::AtMost(1.0));
    r.compare(
        'f',
        "p50: ring polling vs iceoryx2 polling",
        "f.poll.p50",
        "f.iox-spin.p50",
        Ratio::Cost,
        g,
    );
    r.compare(
        'f',
        "p99: ring polling vs iceoryx2 polling",
        "f.poll.p99",
        "f.iox-spin.p99",
        Ratio::Cost,
        None,
    );
    r.compare(
        'f',
        "p50: ring blocking pop vs iceoryx2 polling",
        "f.block.p50",
        "f.iox-spin.p50",
        Ratio::Cost,
        None,
    );
    r.compare(
        'f',
        "p50: Event vs iceoryx2 event",
        "f.event.p50",
        "f.iox-event.p50",
        Ratio::Cost,
        g,
    );
    r.compare(
        'f',
        "p99: Event vs iceoryx2 event",
        "f.event.p99",
        "f.iox-event.p99",
        Ratio::Cost,
        None,
    );
    r.compare(
        'f',
        "p50: ring blocking pop vs iceoryx2 event",
        "f.block.p50",
        "f.iox-event.p50",
        Ratio::Cost,
        None,
    );
    r.note('f', "Ratio = shmgen latency / iceoryx2 latency (below 1.00: shmgen is faster). One-way = round trip / 2, measured by the pinging parent around push+pop (or set+wait). Polling pairs with polling and blocking with blocking: a blocking wake-up costs a futex syscall and a reschedule.");
}
