//! A creator that dies at every step of the start-up protocol (`docs/FORMAT.md` §3), through
//! the test-only `segment::crash_hook`: openers never hang and never attach to a
//! half-initialised segment, `open_or_create` recovers, and the dead creator's temporary file
//! can be removed. Also: a half-initialised segment *at the final name* (which shmgen itself
//! never leaves there, but a crafted file or another implementation might) is replaced by
//! `open_or_create` only when its creator is provably dead.

mod common;

use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use shmgen_runtime::abi;
use shmgen_runtime::segment::{self, crash_hook, header, CrashPoint};
use shmgen_runtime::{Error, Mutex, Segment, Semaphore};

/// The root struct: primitives the creator must initialise, and plain values from `init`.
#[derive(shmgen_runtime::SharedLayout)]
#[repr(C)]
struct Boot {
    magic: u64,
    creator: u32,
    attached: AtomicU32,
    total: Mutex<[u64; 4]>,
    slots: Semaphore<3>,
    opens: AtomicU64,
}

const MAGIC: u64 = 0x0b00_75af_e5e6_0001;

const POINTS: [CrashPoint; 6] = [
    CrashPoint::AfterTempOpen,
    CrashPoint::AfterTruncate,
    CrashPoint::AfterHeader,
    CrashPoint::AfterInit,
    CrashPoint::BeforeLink,
    CrashPoint::AfterLink,
];

fn point_name(p: CrashPoint) -> &'static str {
    match p {
        CrashPoint::AfterTempOpen => "after_temp_open",
        CrashPoint::AfterTruncate => "after_truncate",
        CrashPoint::AfterHeader => "after_header",
        CrashPoint::AfterInit => "after_init",
        CrashPoint::BeforeLink => "before_link",
        CrashPoint::AfterLink => "after_link",
    }
}

fn point_from(s: &str) -> Option<CrashPoint> {
    POINTS.into_iter().find(|&p| point_name(p) == s)
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

fn boot_options<'a>() -> shmgen_runtime::SegmentOptions<'a, Boot> {
    Segment::<Boot>::options()
        .open_timeout(Duration::from_secs(5))
        .init(|b| {
            b.magic = MAGIC;
            b.creator = std::process::id();
            b.total.get_mut()[0] = 1;
        })
}

/// Checks what every attached process must see: a whole, ready, initialised segment.
fn check_whole(seg: &Segment<Boot>) {
    assert!(seg.header().is_ready());
    assert_eq!(seg.magic, MAGIC, "attached before init ran");
    assert_ne!(seg.creator, 0);
    assert_eq!(seg.slots.value(), 3, "semaphore not initialised");
    let g = seg
        .total
        .lock_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("the mutex is not usable"));
    assert_eq!(g[0], 1);
}

fn run_role(role: &str, args: &[String]) {
    let name = args[0].as_str();
    match role {
        // Create, dying at the given point.
        "crash_create" => {
            let point = point_from(&args[1]).expect("crash point");
            crash_hook::crash_at(Some(point));
            let r = boot_options().create(name);
            panic!("survived the crash point: {:?}", r.map(drop));
        }
        // Race `open_or_create`, optionally dying at a point if this process is the creator.
        "racer" => {
            let start_ns: u64 = args[1].parse().unwrap();
            if let Some(p) = args.get(2).and_then(|s| point_from(s)) {
                crash_hook::crash_at(Some(p));
            }
            while now_ns() < start_ns {
                std::hint::spin_loop();
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            // The creator may die after another racer found the name free: retry until a
            // whole segment is there (each call is bounded; NotFound cannot last, since a
            // surviving racer creates it).
            let seg = loop {
                match boot_options().open_or_create(name) {
                    Ok(seg) => break seg,
                    Err(e) => {
                        assert!(Instant::now() < deadline, "never attached: {e}");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            };
            check_whole(&seg);
            seg.attached.fetch_add(1, Ordering::SeqCst);
            println!(
                "RESULT {} {}",
                if seg.is_creator() {
                    "creator"
                } else {
                    "opener"
                },
                seg.creator
            );
        }
        // Keep opening while a creator crashes: never attached half-built, never stuck.
        "poll_open" => {
            let millis: u64 = args[1].parse().unwrap();
            let end = Instant::now() + Duration::from_millis(millis);
            let (mut seen, mut absent) = (0u64, 0u64);
            while Instant::now() < end {
                let t = Instant::now();
                match boot_options().open(name) {
                    Ok(seg) => {
                        check_whole(&seg);
                        seen += 1;
                    }
                    Err(Error::NotFound { .. }) => absent += 1,
                    Err(e) => panic!("open failed: {e}"),
                }
                assert!(
                    t.elapsed() < Duration::from_secs(2),
                    "open took {:?}",
                    t.elapsed()
                );
            }
            println!("RESULT {seen} {absent}");
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn(role: &str, args: &[String]) -> std::process::Child {
    child(ENTRY, role, args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

fn temporaries(name: &str) -> Vec<String> {
    let prefix = format!(".shmgen-{name}.");
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with(&prefix))
        .collect()
}

/// Runs a creator that dies at `point`; returns its pid.
fn crash_creator(name: &str, point: CrashPoint) -> u32 {
    let mut kid = spawn("crash_create", &[name.to_owned(), point_name(point).into()]);
    let pid = kid.id();
    let status = wait(&mut kid, Duration::from_secs(60));
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{point:?}: the creator should have been killed, got {status:?}"
    );
    pid
}

#[test]
fn a_creator_dying_at_every_step_never_exposes_a_half_built_segment() {
    for point in POINTS {
        let name = TestName::new(point_name(point));
        let pid = crash_creator(&name, point);

        // What is left: always the temporary file (a crash skips the cleanup) ...
        let temps = temporaries(&name);
        assert_eq!(temps.len(), 1, "{point:?}: {temps:?}");
        let temp = segment::parse_temp_name(&temps[0]).unwrap();
        assert_eq!((temp.segment.as_str(), temp.pid), (&*name, pid));
        let temp_md = std::fs::symlink_metadata(format!("/dev/shm/{}", temps[0])).unwrap();
        assert_eq!(
            temp_md.mode() & 0o777,
            0o600,
            "{point:?}: temporary file not private"
        );

        // ... and under the final name nothing before the link, a whole segment after it.
        let t = Instant::now();
        let opened = Segment::<Boot>::open(&name);
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{point:?}: open waited"
        );
        if point == CrashPoint::AfterLink {
            let seg = opened.unwrap_or_else(|e| panic!("{point:?}: {e}"));
            check_whole(&seg);
            assert_eq!(seg.creator, pid);
            assert_eq!(seg.header().creator_pid, pid);
        } else {
            assert!(
                matches!(opened, Err(Error::NotFound { .. })),
                "{point:?}: {:?}",
                opened.map(drop)
            );
            assert!(std::fs::symlink_metadata(name.path()).is_err());
        }

        // open_or_create recovers: creates a new segment, or opens the linked one.
        let seg = boot_options().open_or_create(&name).unwrap();
        check_whole(&seg);
        assert_eq!(
            seg.is_creator(),
            point != CrashPoint::AfterLink,
            "{point:?}"
        );

        // The dead creator's temporary file can be removed; nothing else is touched.
        let removed = segment::remove_dead_temporaries(Some(&name)).unwrap();
        assert_eq!(removed, vec![temp], "{point:?}");
        assert!(temporaries(&name).is_empty());
        assert!(Segment::<Boot>::open(&name).is_ok());
    }
}

#[test]
fn remove_dead_temporaries_spares_live_creators_and_other_files() {
    let name = TestName::new("temps");
    let me = std::process::id();
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let make = |file: &str| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(format!("/dev/shm/{file}"))
            .unwrap();
    };
    let live = format!(".shmgen-{}.{me}.999", &*name);
    let gone = format!(".shmgen-{}.{dead}.3", &*name);
    let other = format!(".shmgen-{}-other.{dead}.3", &*name);
    let junk = format!(".shmgen-{}.notapid.3", &*name);
    for f in [&live, &gone, &other, &junk] {
        make(f);
    }
    let removed = segment::remove_dead_temporaries(Some(&name)).unwrap();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0].file_name, gone);
    assert_eq!(removed[0].pid, dead);
    for f in [&live, &other, &junk] {
        assert!(
            std::fs::symlink_metadata(format!("/dev/shm/{f}")).is_ok(),
            "{f}"
        );
    }
    let removed = segment::remove_dead_temporaries(Some(&format!("{}-other", &*name))).unwrap();
    assert_eq!(removed.len(), 1);
    for f in [&live, &junk] {
        std::fs::remove_file(format!("/dev/shm/{f}")).unwrap();
    }
    assert!(segment::parse_temp_name(".shmgen-a.b.c.12.7").is_some_and(|t| t.segment == "a.b.c"));
    assert!(segment::parse_temp_name(".shmgen-.12.7").is_none());
    assert!(segment::parse_temp_name(".shmgen-x.12.").is_none());
    assert!(segment::parse_temp_name("shmgen-x.12.7").is_none());
}

#[test]
fn racing_creators_where_the_winner_may_die_at_any_step() {
    for point in POINTS {
        for round in 0..3 {
            let name = TestName::new("crashrace");
            let start = now_ns() + 60_000_000;
            // One racer is armed: if it becomes the creator, it dies at `point`.
            let mut kids: Vec<_> = (0..4)
                .map(|i| {
                    let mut args = vec![name.to_string(), start.to_string()];
                    if i == round % 4 {
                        args.push(point_name(point).into());
                    }
                    spawn("racer", &args)
                })
                .collect();
            let mut creators = 0;
            let mut survivors = 0;
            let mut creator_pids = std::collections::BTreeSet::new();
            for k in kids.iter_mut() {
                let status = wait(k, Duration::from_secs(60));
                let mut out = String::new();
                use std::io::Read;
                k.stdout.take().unwrap().read_to_string(&mut out).unwrap();
                if status.signal() == Some(libc::SIGKILL) {
                    continue; // the armed racer won and died
                }
                assert!(
                    status.success(),
                    "{point:?}: racer failed: {status:?} {out}"
                );
                let line = out.lines().find(|l| l.starts_with("RESULT ")).unwrap();
                let mut words = line.split(' ').skip(1);
                if words.next() == Some("creator") {
                    creators += 1;
                }
                creator_pids.insert(words.next().unwrap().to_owned());
                survivors += 1;
            }
            assert!(survivors >= 3, "{point:?}: only {survivors} survivors");
            // All survivors attached to the same whole segment, made by exactly one creator.
            assert_eq!(creator_pids.len(), 1, "{point:?}: {creator_pids:?}");
            let seg = Segment::<Boot>::open(&name).unwrap();
            check_whole(&seg);
            assert_eq!(seg.attached.load(Ordering::SeqCst), survivors);
            assert!(creators <= 1, "{point:?}: {creators} creators");
            let _ = segment::remove_dead_temporaries(Some(&name));
            assert!(temporaries(&name).is_empty());
        }
    }
}

#[test]
fn openers_polling_during_a_crashing_creation_never_see_it_half_built() {
    for point in POINTS {
        let name = TestName::new("poll");
        let pollers: Vec<_> = (0..2)
            .map(|_| spawn("poll_open", &[name.to_string(), "400".into()]))
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        crash_creator(&name, point);
        for p in pollers {
            let out = wait_ok(p, Duration::from_secs(60));
            assert!(out.contains("RESULT "), "{out}");
        }
        let _ = segment::remove_dead_temporaries(Some(&name));
    }
}

/// A whole-looking header at the final name, still "initialising", claiming `pid` as creator.
fn plant_half_initialised(name: &TestName, pid: u32) {
    let _ = std::fs::remove_file(name.path());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(name.path())
        .unwrap();
    let mut h = vec![0u8; 4096];
    h[..8].copy_from_slice(&abi::MAGIC);
    h[8..12].copy_from_slice(&abi::HEADER_VERSION.to_ne_bytes());
    h[header::STATE..header::STATE + 4].copy_from_slice(&0u32.to_ne_bytes());
    h[header::CREATOR_PID..header::CREATOR_PID + 4].copy_from_slice(&pid.to_ne_bytes());
    f.write_all_at(&h, 0).unwrap();
}

fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn inode(name: &TestName) -> u64 {
    std::fs::symlink_metadata(name.path()).unwrap().ino()
}

#[test]
fn a_half_initialised_segment_at_the_final_name_is_replaced_only_if_its_creator_is_dead() {
    let name = TestName::new("planted");
    // Creator dead: `open` refuses at once, `open_or_create` replaces it.
    let dead = dead_pid();
    plant_half_initialised(&name, dead);
    let planted = inode(&name);
    let t = Instant::now();
    assert!(matches!(
        Segment::<Boot>::open(&name),
        Err(Error::CreatorDied { pid, .. }) if pid == dead
    ));
    let seg = boot_options().open_or_create(&name).unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(seg.is_creator());
    check_whole(&seg);
    assert_ne!(inode(&name), planted, "the planted file is still there");
    drop(seg);

    // Creator alive (this process): nothing is replaced; `open_or_create` waits and times out.
    plant_half_initialised(&name, std::process::id());
    let planted = inode(&name);
    let t = Instant::now();
    let e = Segment::<Boot>::options()
        .open_timeout(Duration::from_millis(300))
        .open_or_create(&name)
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(inode(&name), planted);

    // Dead creator, but not ours to judge: too permissive, or not a shmgen file at all.
    plant_half_initialised(&name, dead);
    std::fs::set_permissions(
        name.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    assert!(matches!(
        Segment::<Boot>::open_or_create(&name),
        Err(Error::TooPermissive { .. })
    ));
    plant_half_initialised(&name, dead);
    std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap()
        .write_all_at(b"NOTSHMGN", 0)
        .unwrap();
    let planted = inode(&name);
    assert!(matches!(
        Segment::<Boot>::open_or_create(&name),
        Err(Error::BadMagic { .. })
    ));
    assert_eq!(inode(&name), planted);
    // State 0 with a dead creator but locked by another recoverer: waits for the lock, then
    // finds the situation unchanged and replaces it.
    plant_half_initialised(&name, dead);
    let f = std::fs::File::open(name.path()).unwrap();
    // SAFETY: flock on an open descriptor; no memory is passed.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) },
        0
    );
    let t = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            drop(f); // closing releases the flock
        });
        let seg = boot_options().open_or_create(&name).unwrap();
        assert!(seg.is_creator());
        assert!(t.elapsed() >= Duration::from_millis(190));
    });
}

#[test]
fn many_processes_recovering_one_dead_half_initialised_segment_agree() {
    for _ in 0..5 {
        let name = TestName::new("recover");
        plant_half_initialised(&name, dead_pid());
        let start = now_ns() + 60_000_000;
        let kids: Vec<_> = (0..4)
            .map(|_| spawn("racer", &[name.to_string(), start.to_string()]))
            .collect();
        let outs: Vec<String> = kids
            .into_iter()
            .map(|k| wait_ok(k, Duration::from_secs(60)))
            .collect();
        let creators = outs.iter().filter(|o| o.contains("RESULT creator")).count();
        assert_eq!(creators, 1, "{outs:?}");
        let pids: std::collections::BTreeSet<_> = outs
            .iter()
            .map(|o| {
                o.lines()
                    .find(|l| l.starts_with("RESULT"))
                    .unwrap()
                    .split(' ')
                    .nth(2)
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(pids.len(), 1, "{outs:?}");
        let seg = Segment::<Boot>::open(&name).unwrap();
        assert_eq!(seg.attached.load(Ordering::SeqCst), 4);
    }
}
