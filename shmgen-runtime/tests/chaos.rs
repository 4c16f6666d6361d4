//! Chaos soak: 8 worker processes do locked read-modify-write transfers between 16 accounts
//! while a supervisor SIGKILLs random workers (often while they hold the lock, mid-transfer)
//! and starts new ones. Transfers are write-ahead journaled inside the locked value, so whoever
//! next gets `OwnerDied` can roll the dead holder's transfer forward or back.
//!
//! Afterwards: the money is all there (the sum of balances never changes), no balance is
//! negative, `seq` equals the per-slot commit counts summed, the journal is clear, every owner
//! death was recovered (`OwnerDied` seen at least once per kill observed while holding, and at
//! most once per kill), and no process hung (every wait has a timeout; the supervisor has a
//! deadline).
//!
//! Rust and Python: when `python3` can import the `shmgen` runtime (`python/src`) and the module
//! generated from `tests/chaos_py/chaos_bank.toml`, slots 6 and 7 run `chaos_py/chaos_worker.py`
//! (the same protocol), so Rust repairs transfers Python workers died in and the other way
//! round. `SHMGEN_CHAOS_PYTHON=0` runs Rust only; `=1` fails if Python is not usable.
//!
//! Runs 60 s by default; `SHMGEN_CHAOS_SECS=600 cargo test -p shmgen-runtime --test chaos --
//! --nocapture` for longer. `SHMGEN_CHAOS_SEED` replays a seed. The counts are printed.

mod common;

use std::process::{Child, Stdio};
use std::sync::atomic::{compiler_fence, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use shmgen_runtime::{LockTimeoutError, Mutex, Segment};

const ACCOUNTS: usize = 16;
const WORKERS: usize = 8;
const START_BALANCE: i64 = 1_000_000;

/// The write-ahead record of the transfer in flight (`active == 1`): enough to redo or undo it
/// whatever subset of its stores the dead holder managed.
#[derive(shmgen_runtime::SharedLayout, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Journal {
    active: u64,
    /// 1: recorded; 2: debit applied; 3: credit applied; 4: counters applied.
    phase: u64,
    src: u64,
    dst: u64,
    amount: i64,
    old_from: i64,
    old_to: i64,
    old_seq: u64,
    slot: u64,
    old_slot_commits: u64,
}

#[derive(shmgen_runtime::SharedLayout, Clone, Copy, Debug)]
#[repr(C)]
struct Bank {
    balances: [i64; ACCOUNTS],
    /// Committed transfers.
    seq: u64,
    /// Committed transfers per worker slot (a second count, kept in the same transactions).
    slot_commits: [u64; WORKERS],
    journal: Journal,
    /// Pid of the current holder (0 when free), for the record.
    holder: u32,
    spare: u32,
}

/// What a worker slot shares with the supervisor, outside the lock.
#[derive(shmgen_runtime::SharedLayout)]
#[repr(C)]
struct Slot {
    /// 1 from just after the worker got the lock until just before it unlocks.
    holding: AtomicU32,
    pid: AtomicU32,
    transfers: AtomicU64,
}

#[derive(shmgen_runtime::SharedLayout)]
#[repr(C)]
struct Chaos {
    bank: Mutex<Bank>,
    stop: AtomicU32,
    slots: [Slot; WORKERS],
    /// `OwnerDied` results seen by lockers.
    owner_died: AtomicU64,
    rolled_forward: AtomicU64,
    rolled_back: AtomicU64,
    /// `OwnerDied` where the journal was clear (the holder died outside a transfer).
    nothing_to_repair: AtomicU64,
    /// `lock_timeout` expiries (a lock held 5 s: a hang).
    lock_timeouts: AtomicU64,
}

const ENTRY: &str = "child_entry";

#[test]
fn child_entry() {
    let Some((role, args)) = role() else { return };
    let code = match std::panic::catch_unwind(|| run_role(&role, &args)) {
        Ok(()) => 0,
        Err(_) => 1,
    };
    std::process::exit(code);
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A store the compiler keeps in program order relative to the other `put`s: a process can
/// die between any two instructions, and the journal protocol relies on this order.
fn put<T: Copy>(place: &mut T, v: T) {
    // SAFETY: `place` is a valid, aligned, exclusive reference (the caller holds the lock).
    unsafe { core::ptr::write_volatile(place, v) };
    compiler_fence(Ordering::SeqCst);
}

fn get<T: Copy>(place: &T) -> T {
    // SAFETY: `place` is a valid, aligned reference.
    unsafe { core::ptr::read_volatile(place) }
}

/// Restores the invariant after the holder died: redo a transfer whose debit was applied,
/// undo one that had not got that far. Idempotent, so a repairer that dies mid-repair leaves
/// a state the next repairer can still repair.
fn repair(chaos: &Chaos, b: &mut Bank) {
    let j = get(&b.journal);
    if get(&j.active) != 1 {
        chaos.nothing_to_repair.fetch_add(1, Ordering::Relaxed);
        put(&mut b.holder, 0);
        return;
    }
    let (from, to, slot) = (j.src as usize, j.dst as usize, j.slot as usize);
    assert!(
        from < ACCOUNTS && to < ACCOUNTS && slot < WORKERS && from != to,
        "{j:?}"
    );
    if j.phase >= 2 {
        put(&mut b.balances[from], j.old_from - j.amount);
        put(&mut b.balances[to], j.old_to + j.amount);
        put(&mut b.seq, j.old_seq + 1);
        put(&mut b.slot_commits[slot], j.old_slot_commits + 1);
        chaos.rolled_forward.fetch_add(1, Ordering::Relaxed);
    } else {
        put(&mut b.balances[from], j.old_from);
        put(&mut b.balances[to], j.old_to);
        put(&mut b.seq, j.old_seq);
        put(&mut b.slot_commits[slot], j.old_slot_commits);
        chaos.rolled_back.fetch_add(1, Ordering::Relaxed);
    }
    put(&mut b.journal.active, 0);
    put(&mut b.holder, 0);
}

/// Busy for about `micros` microseconds, holding the lock: widens the window for a kill
/// while holding.
fn dawdle(micros: u64) {
    let end = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

fn transfer(b: &mut Bank, slot: usize, rng: &mut Rng) {
    let from = rng.below(ACCOUNTS as u64) as usize;
    let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
    let have = get(&b.balances[from]);
    let amount = if have > 0 {
        1 + rng.below(have.min(1000) as u64) as i64
    } else {
        0
    };
    let slow = rng.below(4) == 0;
    // Write ahead: the whole record first, `active` last.
    put(
        &mut b.journal,
        Journal {
            active: 0,
            phase: 1,
            src: from as u64,
            dst: to as u64,
            amount,
            old_from: have,
            old_to: get(&b.balances[to]),
            old_seq: get(&b.seq),
            slot: slot as u64,
            old_slot_commits: get(&b.slot_commits[slot]),
        },
    );
    put(&mut b.journal.active, 1);
    if slow {
        dawdle(100);
    }
    put(&mut b.balances[from], have - amount);
    put(&mut b.journal.phase, 2);
    if slow {
        dawdle(100);
    }
    let to_before = get(&b.balances[to]);
    put(&mut b.balances[to], to_before + amount);
    put(&mut b.journal.phase, 3);
    let seq = get(&b.seq);
    put(&mut b.seq, seq + 1);
    let c = get(&b.slot_commits[slot]);
    put(&mut b.slot_commits[slot], c + 1);
    put(&mut b.journal.phase, 4);
    put(&mut b.journal.active, 0);
}

fn run_role(role: &str, args: &[String]) {
    let name = args[0].as_str();
    match role {
        "worker" => {
            let slot: usize = args[1].parse().unwrap();
            let seed: u64 = args[2].parse().unwrap();
            let give_up_ns: u64 = args[3].parse().unwrap();
            let seg = Segment::<Chaos>::open(name).unwrap();
            let me = &seg.slots[slot];
            me.holding.store(0, Ordering::SeqCst);
            me.pid.store(std::process::id(), Ordering::SeqCst);
            let mut rng = Rng(seed | 1);
            while seg.stop.load(Ordering::SeqCst) == 0 {
                assert!(now_ns() < give_up_ns, "worker past its deadline");
                let mut g = match seg.bank.lock_timeout(Duration::from_secs(5)) {
                    Ok(g) => g,
                    Err(LockTimeoutError::OwnerDied(e)) => {
                        seg.owner_died.fetch_add(1, Ordering::SeqCst);
                        let mut g = e.into_inner();
                        repair(&seg, &mut g);
                        g
                    }
                    Err(LockTimeoutError::TimedOut) => {
                        seg.lock_timeouts.fetch_add(1, Ordering::SeqCst);
                        panic!("lock not acquired in 5 s");
                    }
                };
                me.holding.store(1, Ordering::SeqCst);
                put(&mut g.holder, std::process::id());
                transfer(&mut g, slot, &mut rng);
                put(&mut g.holder, 0);
                me.holding.store(0, Ordering::SeqCst);
                drop(g);
                me.transfers.fetch_add(1, Ordering::Relaxed);
                if rng.below(8) == 0 {
                    std::thread::yield_now();
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
}

/// Slots run by Python workers when Python is usable.
const PYTHON_SLOTS: [usize; 2] = [6, 7];

fn chaos_py_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chaos_py")
}

/// The interpreter: `SHMGEN_PYTHON` (what `scripts/test.sh` sets) or `python3`.
fn python() -> String {
    std::env::var("SHMGEN_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn python_path() -> String {
    let runtime = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/src");
    format!("{}:{}", chaos_py_dir().display(), runtime.display())
}

/// Whether Python workers can run: `Ok` or why not.
fn python_usable() -> Result<(), String> {
    let out = std::process::Command::new(python())
        .args([
            "-c",
            "import shmgen, chaos_bank; print(hex(chaos_bank.FINGERPRINT))",
        ])
        .env("PYTHONPATH", python_path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .map_err(|e| format!("{}: {e}", python()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let fp = format!(
        "{:#x}",
        <Chaos as shmgen_runtime::SharedLayout>::FINGERPRINT
    );
    let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if got != fp {
        return Err(format!(
            "chaos_py/chaos_bank.py has fingerprint {got}, the Rust layout {fp}: regenerate it"
        ));
    }
    Ok(())
}

fn spawn_python_worker(name: &str, slot: usize, seed: u64, give_up_ns: u64) -> Child {
    std::process::Command::new(python())
        .arg(chaos_py_dir().join("chaos_worker.py"))
        .args([
            name.to_owned(),
            slot.to_string(),
            seed.to_string(),
            give_up_ns.to_string(),
        ])
        .env("PYTHONPATH", python_path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the Python worker")
}

fn spawn_worker(name: &str, slot: usize, seed: u64, give_up_ns: u64, python: bool) -> Child {
    if python && PYTHON_SLOTS.contains(&slot) {
        return spawn_python_worker(name, slot, seed, give_up_ns);
    }
    child(
        ENTRY,
        "worker",
        &[
            name.to_owned(),
            slot.to_string(),
            seed.to_string(),
            give_up_ns.to_string(),
        ],
    )
    .stdout(Stdio::null())
    .spawn()
    .expect("spawn worker")
}

/// The workers; killed and reaped when dropped, so a failing soak leaves no process behind.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for k in &mut self.0 {
            let _ = k.kill();
            let _ = k.wait();
        }
    }
}

/// Locks the bank as any participant does: on `OwnerDied`, count and repair first.
fn lock_bank(seg: &Chaos) -> shmgen_runtime::MutexGuard<'_, Bank> {
    match seg.bank.lock_timeout(Duration::from_secs(10)) {
        Ok(g) => g,
        Err(LockTimeoutError::OwnerDied(e)) => {
            seg.owner_died.fetch_add(1, Ordering::SeqCst);
            let mut g = e.into_inner();
            repair(seg, &mut g);
            g
        }
        Err(LockTimeoutError::TimedOut) => panic!("the supervisor could not lock the bank in 10 s"),
    }
}

fn env_u64(var: &str) -> Option<u64> {
    std::env::var(var).ok().and_then(|v| v.parse().ok())
}

#[test]
fn the_python_module_matches_the_rust_layout() {
    // The generated file's fingerprint line, compared without running Python.
    let py = std::fs::read_to_string(chaos_py_dir().join("chaos_bank.py")).unwrap();
    let line = py
        .lines()
        .find(|l| l.starts_with("FINGERPRINT = "))
        .expect("FINGERPRINT line");
    let fp = format!(
        "{:#x}",
        <Chaos as shmgen_runtime::SharedLayout>::FINGERPRINT
    );
    assert!(
        line.contains(&fp),
        "{line} vs {fp}: regenerate chaos_py/chaos_bank.py"
    );
}

#[test]
fn chaos_soak_sigkill_workers_holding_the_lock() {
    let secs = env_u64("SHMGEN_CHAOS_SECS").unwrap_or(60);
    let seed = env_u64("SHMGEN_CHAOS_SEED").unwrap_or_else(|| now_ns() ^ 0x9e37_79b9_7f4a_7c15);
    let soak = Duration::from_secs(secs);
    // Every process has a hard deadline: the soak plus a minute to wind down.
    let hard_deadline = Instant::now() + soak + Duration::from_secs(60);
    let give_up_ns = now_ns() + (soak + Duration::from_secs(60)).as_nanos() as u64;
    let python = match (
        std::env::var("SHMGEN_CHAOS_PYTHON").as_deref(),
        python_usable(),
    ) {
        (Ok("0"), _) => false,
        (_, Ok(())) => true,
        (Ok("1"), Err(why)) => panic!("SHMGEN_CHAOS_PYTHON=1 but Python workers cannot run: {why}"),
        (_, Err(why)) => {
            eprintln!("chaos: Rust workers only (Python not usable: {why})");
            false
        }
    };
    let name = TestName::new("chaos");
    let seg = Segment::<Chaos>::options()
        .init(|c| {
            c.bank.get_mut().balances = [START_BALANCE; ACCOUNTS];
        })
        .create(&name)
        .unwrap();
    let total = START_BALANCE * ACCOUNTS as i64;
    let mut rng = Rng(seed | 1);

    let mut workers = Workers(
        (0..WORKERS)
            .map(|slot| spawn_worker(&name, slot, rng.next(), give_up_ns, python))
            .collect(),
    );
    let mut spawned = WORKERS as u64;
    let (mut kills, mut kills_holding, mut python_kills_holding) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut next_report = Duration::from_secs(10);
    while start.elapsed() < soak {
        assert!(Instant::now() < hard_deadline);
        std::thread::sleep(Duration::from_millis(2 + rng.below(30)));
        let slot = rng.below(WORKERS as u64) as usize;
        let kid = &mut workers.0[slot];
        if let Some(st) = kid.try_wait().unwrap() {
            // A worker that exits by itself failed an assertion (or timed out on the lock).
            panic!("worker in slot {slot} exited by itself: {st:?}");
        }
        kid.kill().unwrap(); // SIGKILL
        wait(kid, Duration::from_secs(30));
        kills += 1;
        if seg.slots[slot].holding.swap(0, Ordering::SeqCst) == 1 {
            kills_holding += 1;
            if python && PYTHON_SLOTS.contains(&slot) {
                python_kills_holding += 1;
            }
        }
        *kid = spawn_worker(&name, slot, rng.next(), give_up_ns, python);
        spawned += 1;
        if start.elapsed() >= next_report {
            let seq = lock_bank(&seg).seq;
            eprintln!(
                "chaos: {:.0?}: {kills} kills ({kills_holding} holding), {} owner-died, seq {seq}",
                start.elapsed(),
                seg.owner_died.load(Ordering::SeqCst),
            );
            next_report += Duration::from_secs(10);
        }
    }

    // Wind down: every worker must notice `stop` and exit on its own, in time.
    seg.stop.store(1, Ordering::SeqCst);
    let mut hung = 0;
    for (slot, kid) in workers.0.iter_mut().enumerate() {
        let t = Instant::now();
        loop {
            if let Some(st) = kid.try_wait().unwrap() {
                assert!(st.success(), "worker in slot {slot} failed: {st:?}");
                break;
            }
            if t.elapsed() > Duration::from_secs(20) || Instant::now() > hard_deadline {
                hung += 1;
                let _ = kid.kill();
                let _ = kid.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let elapsed = start.elapsed();

    // The last holder may have been killed: the supervisor repairs like anyone else.
    let g = lock_bank(&seg);
    let b: Bank = *g;
    let sum: i64 = b.balances.iter().sum();
    let commits: u64 = b.slot_commits.iter().sum();
    let owner_died = seg.owner_died.load(Ordering::SeqCst);
    let forward = seg.rolled_forward.load(Ordering::SeqCst);
    let back = seg.rolled_back.load(Ordering::SeqCst);
    let clean = seg.nothing_to_repair.load(Ordering::SeqCst);
    let reported: u64 = seg
        .slots
        .iter()
        .map(|s| s.transfers.load(Ordering::SeqCst))
        .sum();
    let by_python: u64 = if python {
        PYTHON_SLOTS
            .iter()
            .map(|&i| seg.slots[i].transfers.load(Ordering::SeqCst))
            .sum()
    } else {
        0
    };
    println!(
        "chaos soak (seed {seed}): {:.1} s, {WORKERS} workers ({}), {spawned} started, {kills} SIGKILLed \
         ({kills_holding} seen holding the lock, {python_kills_holding} of them Python); {owner_died} OwnerDied recoveries \
         ({forward} rolled forward, {back} rolled back, {clean} with nothing in flight); \
         {} committed transfers ({:.0}/s; {by_python} of them by Python workers); \
         lock timeouts {}; hung {hung}",
        elapsed.as_secs_f64(),
        if python { "6 Rust + 2 Python" } else { "Rust" },
        b.seq,
        b.seq as f64 / elapsed.as_secs_f64(),
        seg.lock_timeouts.load(Ordering::SeqCst),
    );
    assert_eq!(
        sum, total,
        "money was created or destroyed: {:?}",
        b.balances
    );
    assert!(b.balances.iter().all(|&x| x >= 0), "{:?}", b.balances);
    assert_eq!(
        b.seq, commits,
        "seq {} vs per-slot commits {:?}",
        b.seq, b.slot_commits
    );
    assert_eq!(
        b.journal.active, 0,
        "a transfer is still in flight: {:?}",
        b.journal
    );
    assert_eq!(b.holder, 0);
    assert!(b.seq >= reported, "more transfers reported than committed");
    assert_eq!(hung, 0, "{hung} workers did not exit after stop");
    assert_eq!(seg.lock_timeouts.load(Ordering::SeqCst), 0);
    assert!(
        owner_died >= kills_holding,
        "{kills_holding} kills while holding but only {owner_died} recoveries"
    );
    assert!(
        owner_died <= kills,
        "{owner_died} recoveries from {kills} kills"
    );
    assert_eq!(owner_died, forward + back + clean);
    if secs >= 10 {
        assert!(
            kills_holding > 0,
            "no kill ever hit a holder: the soak tested nothing"
        );
        assert!(forward + back > 0, "no transfer was ever repaired");
        assert!(
            !python || by_python > 0,
            "the Python workers never committed a transfer"
        );
    }
    // The lock still works for everyone.
    drop(g);
    assert!(seg.bank.try_lock().is_ok());
}
