//! The metrics demo: the reference examples' "workers report progress, a monitor watches" across
//! languages. The monitor (this binary) creates a `Metrics` segment from `schemas/metrics.toml`,
//! starts two Python workers and two Rust workers (this binary again, `worker` mode), prints
//! their progress while they run, and checks the totals are exact at the end.
//!
//! Usage: `metrics-demo [--tasks N]` (monitor) or `metrics-demo worker SEGMENT ID TASKS`.

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shmgen_runtime::Segment;

mod metrics {
    shmgen_runtime::include_layout!("metrics");
}
use metrics::{Metrics, WorkerStats};

const WORKERS: usize = 4;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("worker") => worker(&args[1..]),
        _ => monitor(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("metrics-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res = Result<(), Box<dyn std::error::Error>>;

/// A Rust worker: the same loop as `worker.py`.
fn worker(args: &[String]) -> Res {
    let [name, me, tasks] = args else {
        return Err("usage: metrics-demo worker SEGMENT ID TASKS".into());
    };
    let (me, tasks): (usize, u64) = (me.parse()?, tasks.parse()?);
    let seg = Segment::<Metrics>::open(name)?;
    let started = Instant::now();
    for done in 1..=tasks {
        if seg.shutdown.is_set() {
            break;
        }
        if !seg.slots.acquire_timeout(Duration::from_secs(10)) {
            return Err(format!("rust worker {me}: no slot within 10 s").into());
        }
        // The "expensive" part: at most two workers at once (the `slots` semaphore).
        std::thread::sleep(Duration::from_millis(1));
        seg.slots.release();
        let mut workers = seg.workers.lock().unwrap_or_else(|died| {
            eprintln!("rust worker {me}: previous holder died; taking over");
            died.into_inner()
        });
        let row = &mut workers[me];
        row.completed += 1;
        row.throughput = (done as f64 / started.elapsed().as_secs_f64().max(1e-6)) as i32;
        drop(workers);
        seg.tasks_done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn spawn_python(name: &str, id: usize, tasks: u64) -> std::io::Result<Child> {
    let root = repo_root();
    let python = std::env::var("SHMGEN_PYTHON").unwrap_or_else(|_| "python3".into());
    let generated = std::env::var("SHMGEN_GENERATED")
        .unwrap_or_else(|_| root.join("generated").to_string_lossy().into_owned());
    let pythonpath = format!("{}:{generated}", root.join("python/src").display());
    Command::new(python)
        .arg(root.join("examples/metrics/worker.py"))
        .args([name, &id.to_string(), &tasks.to_string()])
        .env("PYTHONPATH", pythonpath)
        .spawn()
}

fn spawn_rust(name: &str, id: usize, tasks: u64) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(["worker", name, &id.to_string(), &tasks.to_string()])
        .spawn()
}

fn monitor(args: &[String]) -> Res {
    let tasks: u64 = match args {
        [] => 1000,
        [flag, n] if flag == "--tasks" => n.parse()?,
        _ => return Err("usage: metrics-demo [--tasks N]".into()),
    };
    let name = format!("shmgen-demo-{}", std::process::id());
    let seg = Segment::<Metrics>::options()
        .unlink_on_drop(true)
        .create(&name)?;
    seg.status.write("starting".try_into()?);
    println!(
        "monitor: created segment {name:?}: {} v{} (fingerprint {:#018x}, {} bytes)",
        seg.header().root_name,
        seg.header().layout_version,
        seg.header().fingerprint,
        std::mem::size_of::<Metrics>()
    );

    let mut children = Vec::new();
    for id in 0..WORKERS {
        let (lang, child) = if id % 2 == 0 {
            ("python", spawn_python(&name, id, tasks)?)
        } else {
            ("rust", spawn_rust(&name, id, tasks)?)
        };
        println!(
            "monitor: worker {id} is a {lang} process, pid {}",
            child.id()
        );
        children.push((lang, child));
    }
    seg.status.write("running".try_into()?);

    let total = tasks * WORKERS as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = seg.tasks_done.load(Ordering::Relaxed);
        let rows: [WorkerStats; WORKERS] = *seg.workers.lock().unwrap_or_else(|d| d.into_inner());
        let line: Vec<String> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| format!("w{i} {:>5} ({:>6}/s)", r.completed, r.throughput))
            .collect();
        println!("monitor: {done:>6}/{total}  {}", line.join("  "));
        if done >= total {
            break;
        }
        if Instant::now() > deadline {
            seg.shutdown.set();
            return Err("workers did not finish within 120 s".into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    seg.status.write("done".try_into()?);
    seg.shutdown.set();
    for (lang, mut child) in children {
        let status = child.wait()?;
        if !status.success() {
            return Err(format!("a {lang} worker failed: {status}").into());
        }
    }

    let rows = *seg.workers.lock().unwrap_or_else(|d| d.into_inner());
    let completed: i64 = rows.iter().map(|r| r.completed as i64).sum();
    let done = seg.tasks_done.load(Ordering::Relaxed);
    println!(
        "monitor: status {:?}; completed per worker {:?}; sum {completed}; tasks_done {done}",
        seg.status.read().as_str(),
        rows.map(|r| r.completed)
    );
    if completed as u64 != total
        || done != total
        || rows.iter().any(|r| r.completed as u64 != tasks)
    {
        return Err(format!("totals differ: expected {total}").into());
    }
    println!("monitor: OK — {total} tasks from 2 Python and 2 Rust processes, totals exact");
    Ok(())
}
