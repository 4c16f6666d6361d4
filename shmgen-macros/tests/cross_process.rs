//! A derived struct shared by real processes: this test binary re-runs itself (the
//! `child_entry` test) with a role in the environment. No threads pretending to be processes.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shmgen_runtime::{CacheAligned, Mutex, Segment, SharedLayout};

/// The shared counter: a robust process-shared mutex around a `u64`, and a start line.
#[derive(SharedLayout)]
#[repr(C)]
struct Counter {
    /// Children check in here, then all start together so they really contend.
    ready: CacheAligned<AtomicU32>,
    /// The counter every child increments under the lock.
    count: CacheAligned<Mutex<u64>>,
}

const ROLE: &str = "SHMGEN_DERIVE_TEST_ROLE";
const SEGMENT: &str = "SHMGEN_DERIVE_TEST_SEGMENT";
const PROCESSES: u32 = 2;
const INCREMENTS: u64 = 1_000_000;

/// Runs only in a child process: what the parent asked for in the environment.
#[test]
fn child_entry() {
    let (Ok(role), Ok(name)) = (std::env::var(ROLE), std::env::var(SEGMENT)) else {
        return;
    };
    assert_eq!(role, "increment", "unknown role");
    let seg = Segment::<Counter>::open(&name).expect("child opens the segment");
    seg.ready.fetch_add(1, Ordering::AcqRel);
    let start = Instant::now();
    while seg.ready.load(Ordering::Acquire) < PROCESSES {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "siblings never arrived"
        );
        std::thread::yield_now();
    }
    for _ in 0..INCREMENTS {
        match seg.count.lock() {
            Ok(mut n) => *n += 1,
            Err(_) => panic!("no process died, yet the lock reported a dead owner"),
        }
    }
}

fn spawn_child(name: &str) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    Command::new(exe)
        .args([
            "child_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(ROLE, "increment")
        .env(SEGMENT, name)
        .stdin(Stdio::null())
        // The child's own test-harness summary would read like this binary's; panics still
        // reach stderr.
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn a child process")
}

fn wait(mut child: Child, timeout: Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            assert!(status.success(), "child failed: {status}");
            return;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn two_processes_increment_a_derived_mutex_field_exactly() {
    // The parent only creates, waits and counts: the increments all come from the children.
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let name = format!("shmgen-derive-counter-{}", std::process::id());
    let _ = shmgen_runtime::segment::remove(&name);
    let seg = Segment::<Counter>::create(&name).expect("create the segment");
    let children: Vec<Child> = (0..PROCESSES).map(|_| spawn_child(&name)).collect();
    for child in children {
        wait(child, Duration::from_secs(300));
    }
    let total = match seg.count.lock() {
        Ok(n) => *n,
        Err(_) => panic!("a child died holding the lock"),
    };
    seg.unlink().expect("unlink");
    assert_eq!(total, u64::from(PROCESSES) * INCREMENTS);
}
