//! What false sharing costs, measured in one run: two processes each hammer their own field of
//! one segment, once with the layout `shmgen check` warns about (`schemas/false_sharing.toml`:
//! the fields share cache lines) and once with its `align = 64` fix
//! (`schemas/false_sharing_fixed.toml`). Printed: ns per operation of each process, and the
//! ratio shared / separate lines.
//!
//! `cargo bench -p shmgen-cli --bench false_sharing` (`SHMGEN_BENCH_SCALE=0.1` for a quick run).
//! The two processes need two cores to run at the same time; on a busy machine the figures
//! drift, so each is the best of several rounds, with the two layouts interleaved.
//!
//! - `mutex`: process 1 locks `a`, adds 1, unlocks, in a loop; process 2 does the same on `b`.
//! - `atomic`: process 1 `fetch_add`s `x`; process 2 `y`.

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shmgen_runtime::Segment;
use shmgen_tests::false_sharing::Counters as Shared;
use shmgen_tests::false_sharing_fixed::Counters as Apart;

const ROUNDS: usize = 5;

fn scale() -> f64 {
    std::env::var("SHMGEN_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&v: &f64| v > 0.0)
        .unwrap_or(1.0)
}

/// The per-process loop; returns ns per operation.
macro_rules! hammer {
    ($seg:expr, $op:expr, $side:expr, $iters:expr) => {{
        let m = &*$seg;
        if !m.go.wait_timeout(Duration::from_secs(30)) {
            eprintln!("child: never started");
            std::process::exit(2);
        }
        let t = Instant::now();
        match ($op, $side) {
            ("mutex", 0) => {
                for _ in 0..$iters {
                    *m.a.lock().unwrap_or_else(|d| d.into_inner()) += 1;
                }
            }
            ("mutex", _) => {
                for _ in 0..$iters {
                    *m.b.lock().unwrap_or_else(|d| d.into_inner()) += 1;
                }
            }
            (_, 0) => {
                for _ in 0..$iters {
                    m.x.fetch_add(1, Ordering::Relaxed);
                }
            }
            (_, _) => {
                for _ in 0..$iters {
                    m.y.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        t.elapsed().as_nanos() as f64 / $iters as f64
    }};
}

fn child(args: &[String]) {
    let [layout, op, name, side, iters] = args else {
        eprintln!("usage: false_sharing child LAYOUT OP NAME SIDE ITERS");
        std::process::exit(2);
    };
    let side: u32 = side.parse().unwrap_or(0);
    let iters: u64 = iters.parse().unwrap_or(1);
    let ns = if layout == "shared" {
        let seg = Segment::<Shared>::open(name).expect("open");
        hammer!(seg, op.as_str(), side, iters)
    } else {
        let seg = Segment::<Apart>::open(name).expect("open");
        hammer!(seg, op.as_str(), side, iters)
    };
    println!("{ns}");
}

/// One round: both processes at once; returns their ns/op.
fn round(layout: &str, op: &str, iters: u64) -> (f64, f64) {
    let name = format!("shmgen-bench-fs-{}-{layout}-{op}", std::process::id());
    let exe = std::env::current_exe().expect("current exe");
    let spawn = |side: u32| {
        Command::new(&exe)
            .args([
                "child",
                layout,
                op,
                &name,
                &side.to_string(),
                &iters.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let run = |set: &dyn Fn()| {
        let kids = [spawn(0), spawn(1)];
        std::thread::sleep(Duration::from_millis(150));
        set();
        let out: Vec<f64> = kids
            .into_iter()
            .map(|k| {
                let o = k.wait_with_output().expect("wait");
                assert!(o.status.success(), "child failed");
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse()
                    .expect("ns/op")
            })
            .collect();
        (out[0], out[1])
    };
    if layout == "shared" {
        let seg = Segment::<Shared>::options()
            .unlink_on_drop(true)
            .create(&name)
            .expect("create");
        run(&|| seg.go.set())
    } else {
        let seg = Segment::<Apart>::options()
            .unlink_on_drop(true)
            .create(&name)
            .expect("create");
        run(&|| seg.go.set())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        child(&args[1..]);
        return;
    }
    // Under `cargo test --benches` (argument `--test` or a filter), do one tiny round.
    let quick = args.iter().any(|a| a == "--test");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("false sharing: 2 processes, each updating its own field; {cores} cores available");
    println!(
        "{:<8} {:>22} {:>22} {:>8}",
        "op", "same line (ns/op)", "own lines (ns/op)", "ratio"
    );
    for (op, base_iters) in [("mutex", 2_000_000u64), ("atomic", 20_000_000u64)] {
        let iters = if quick {
            1000
        } else {
            ((base_iters as f64) * scale()).max(1000.0) as u64
        };
        let rounds = if quick { 1 } else { ROUNDS };
        let (mut best_shared, mut best_apart) = (f64::MAX, f64::MAX);
        for _ in 0..rounds {
            let (s0, s1) = round("shared", op, iters);
            let (a0, a1) = round("apart", op, iters);
            // A round's figure is the slower process's: both ran at the same time.
            best_shared = best_shared.min(s0.max(s1));
            best_apart = best_apart.min(a0.max(a1));
        }
        println!(
            "{op:<8} {best_shared:>22.1} {best_apart:>22.1} {:>7.2}x",
            best_shared / best_apart
        );
    }
    println!("(ratio = same line / own lines; best of {ROUNDS} interleaved rounds, the slower process of each)");
}
