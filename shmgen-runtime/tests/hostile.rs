//! Hostile `/dev/shm` entries: every file an attacker (or an accident) can put under a segment
//! name is refused with a typed error naming what is wrong, before a byte past the header is
//! read, and without panicking or hanging: symbolic links, FIFOs, files owned by another user,
//! files with broader permissions than the opener allows, truncated files, headers whose sizes,
//! offsets or state lie, bad names; and a file shrunk after it was mapped.
//!
//! `docs/SECURITY.md` says what each check protects.

mod common;

use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use shmgen_runtime::abi;
use shmgen_runtime::segment::{self, header};
use shmgen_runtime::{Error, Event, Mutex, Segment, Str};

/// A small root struct: payload end well below the 4096-byte total size.
#[derive(shmgen_runtime::SharedLayout)]
#[repr(C)]
struct Small {
    counter: Mutex<u64>,
    hits: AtomicU64,
    label: Str<16>,
    ready: Event,
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

fn run_role(role: &str, args: &[String]) {
    let name = args[0].as_str();
    match role {
        "umask_create" => {
            let umask: u32 = args[1].parse().unwrap();
            // SAFETY: `umask` only sets this (single-purpose child) process's file mode mask.
            unsafe { libc::umask(umask as libc::mode_t) };
            let opts = Segment::<Small>::options();
            let opts = match args.get(2) {
                Some(m) => opts.mode(u32::from_str_radix(m, 8).unwrap()),
                None => opts,
            };
            let seg = opts.create(name).unwrap();
            let mode = std::fs::metadata(format!("/dev/shm/{name}"))
                .unwrap()
                .permissions()
                .mode();
            println!("RESULT {:o}", mode & 0o7777);
            drop(seg);
        }
        "touch_after_shrink" => {
            let seg = Segment::<Small>::open(name).unwrap();
            seg.ready.set();
            // The parent shrinks the file (it cannot signal through the segment afterwards:
            // the pages are gone for everyone), so poll the file size.
            let deadline = Instant::now() + Duration::from_secs(30);
            while seg.check_size().is_ok() {
                assert!(Instant::now() < deadline, "the file was never shrunk");
                std::thread::sleep(Duration::from_millis(1));
            }
            println!("RESULT check_size refused");
            // Touching the payload now raises SIGBUS: the documented limit.
            let v = seg.hits.load(Ordering::SeqCst);
            println!("RESULT survived {v}");
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

fn rw(name: &TestName) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.path())
        .unwrap()
}

/// Writes a file with mode 0600 (what `open` accepts by default; `std::fs::write` would give
/// 0644 under the usual umask, which `open` refuses as too permissive).
fn write_private(name: &TestName, bytes: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(name.path());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(name.path())
        .unwrap();
    f.write_all_at(bytes, 0).unwrap();
}

fn put_u32(name: &TestName, off: usize, v: u32) {
    rw(name).write_at(&v.to_ne_bytes(), off as u64).unwrap();
}

fn put_u64(name: &TestName, off: usize, v: u64) {
    rw(name).write_at(&v.to_ne_bytes(), off as u64).unwrap();
}

/// A fresh, valid segment under `name`, unmapped again.
fn fresh(name: &TestName) {
    let _ = std::fs::remove_file(name.path());
    drop(Segment::<Small>::create(name).unwrap());
}

fn open_err(name: &str) -> Error {
    match Segment::<Small>::options()
        .open_timeout(Duration::from_millis(200))
        .open(name)
    {
        Ok(_) => panic!("opened a hostile segment {name:?}"),
        Err(e) => e,
    }
}

fn payload_end() -> u64 {
    (abi::payload_offset(align_of::<Small>()) + size_of::<Small>()) as u64
}

#[test]
fn symlinks_are_refused_never_followed() {
    let name = TestName::new("symlink");
    let target = TestName::new("symlink-target");
    fresh(&target);
    // To a valid segment, to a plain file elsewhere, and dangling.
    for to in [
        target.path(),
        "/etc/hostname".into(),
        "/dev/shm/no-such-file-xyz".into(),
    ] {
        let _ = std::fs::remove_file(name.path());
        std::os::unix::fs::symlink(&to, name.path()).unwrap();
        let e = open_err(&name);
        assert!(
            matches!(
                e,
                Error::NotRegularFile {
                    what: "a symbolic link",
                    ..
                }
            ),
            "{to}: {e:?}"
        );
        assert!(
            e.to_string().contains(&format!(
                "/dev/shm/{} is a symbolic link, not a regular file",
                &*name
            )),
            "{e}"
        );
        // open_or_create neither follows it nor creates through it.
        let e = Segment::<Small>::open_or_create(&name).unwrap_err();
        assert!(matches!(e, Error::NotRegularFile { .. }), "{e:?}");
        // Nor does create (link() never replaces an existing name).
        let e = Segment::<Small>::create(&name).unwrap_err();
        assert!(matches!(e, Error::AlreadyExists { .. }), "{e:?}");
        assert!(matches!(
            segment::inspect(&name),
            Err(Error::NotRegularFile { .. })
        ));
    }
    assert!(!std::path::Path::new("/dev/shm/no-such-file-xyz").exists());
    // The link itself can still be removed (unlink does not follow).
    segment::remove(&name).unwrap();
    assert!(std::fs::symlink_metadata(target.path()).unwrap().is_file());
}

#[test]
fn fifos_and_sockets_are_refused_without_blocking() {
    let name = TestName::new("fifo");
    let path = std::ffi::CString::new(name.path()).unwrap();
    // SAFETY: `path` is a valid NUL-terminated string.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let t = Instant::now();
    let e = open_err(&name);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "open blocked on a FIFO"
    );
    assert!(
        matches!(e, Error::NotRegularFile { what: "a FIFO", .. }),
        "{e:?}"
    );
    assert!(matches!(
        segment::inspect(&name),
        Err(Error::NotRegularFile { .. })
    ));
    std::fs::remove_file(name.path()).unwrap();

    let sock = std::os::unix::net::UnixListener::bind(name.path()).unwrap();
    let e = open_err(&name);
    drop(sock);
    assert!(matches!(e, Error::NotRegularFile { .. }), "{e:?}");
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

fn is_root() -> bool {
    // SAFETY: `geteuid` has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn files_owned_by_another_user_are_refused_unless_allowed() {
    if !is_root() {
        eprintln!("skipped: changing a file's owner needs root");
        return;
    }
    let name = TestName::new("owner");
    fresh(&name);
    std::os::unix::fs::chown(name.path(), Some(4321), Some(4321)).unwrap();
    let e = open_err(&name);
    assert!(
        matches!(
            e,
            Error::ForeignOwner {
                owner: 4321,
                expected: 0,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("is owned by uid 4321, not by this process's effective uid 0")
            && msg.contains("allow_foreign_owner(true)"),
        "{msg}"
    );
    // open_or_create does not replace it or create anything.
    assert!(matches!(
        Segment::<Small>::open_or_create(&name),
        Err(Error::ForeignOwner { .. })
    ));
    assert_eq!(std::fs::metadata(name.path()).unwrap().uid(), 4321);
    // Explicitly allowed: opens (the mode check still applies).
    let seg = Segment::<Small>::options()
        .allow_foreign_owner(true)
        .open(&name)
        .unwrap();
    *seg.counter.lock().unwrap() += 1;
}

#[test]
fn files_with_broader_permissions_than_allowed_are_refused() {
    let name = TestName::new("perm");
    fresh(&name);
    let chmod = |m: u32| {
        std::fs::set_permissions(name.path(), std::fs::Permissions::from_mode(m)).unwrap();
    };
    for (mode, extra) in [
        (0o666, 0o066),
        (0o620, 0o020),
        (0o604, 0o004),
        (0o640, 0o040),
        (0o700, 0o100),
        (0o4600, 0o4000),
    ] {
        chmod(mode);
        let e = open_err(&name);
        match &e {
            Error::TooPermissive {
                mode: m,
                allowed,
                extra: x,
                ..
            } => assert_eq!((*m, *allowed, *x), (mode, 0o600, extra), "{e}"),
            other => panic!("{mode:o}: {other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("has mode {mode:#05o}"))
                && msg.contains(&format!("grants {extra:#05o} beyond the allowed 0o600")),
            "{msg}"
        );
        assert!(matches!(
            Segment::<Small>::open_or_create(&name),
            Err(Error::TooPermissive { .. })
        ));
    }
    // The opener says what it accepts with `mode`.
    chmod(0o660);
    assert!(Segment::<Small>::options().mode(0o660).open(&name).is_ok());
    assert!(Segment::<Small>::options().mode(0o666).open(&name).is_ok());
    assert!(Segment::<Small>::options().mode(0o640).open(&name).is_err());
    // Narrower than allowed is fine.
    chmod(0o600);
    assert!(Segment::<Small>::open(&name).is_ok());
    if is_root() {
        chmod(0o400); // root may open it read-write anyway
        assert!(Segment::<Small>::open(&name).is_ok());
    }
}

/// Runs a child that sets `umask` and creates a segment (with `mode` if given); its file mode.
fn created_mode(umask: u32, mode: Option<&str>) -> u32 {
    let name = TestName::new("umask");
    let mut args = vec![name.to_string(), umask.to_string()];
    args.extend(mode.map(str::to_owned));
    let out = wait_ok(spawn("umask_create", &args), Duration::from_secs(60));
    let line = out.lines().find(|l| l.starts_with("RESULT ")).unwrap();
    u32::from_str_radix(&line[7..], 8).unwrap()
}

#[test]
fn new_segments_are_private_whatever_the_umask() {
    assert_eq!(created_mode(0o000, None), 0o600);
    assert_eq!(created_mode(0o022, None), 0o600);
    assert_eq!(created_mode(0o077, None), 0o600);
    // Another mode only when asked, and then exactly that mode.
    assert_eq!(created_mode(0o077, Some("660")), 0o660);
    assert_eq!(created_mode(0o000, Some("640")), 0o640);
    // Only the permission bits are used.
    assert_eq!(created_mode(0o000, Some("4755")), 0o755);
}

#[test]
fn truncated_files_and_headers_that_claim_more_than_the_file_has() {
    let name = TestName::new("short");
    fresh(&name);
    let f = rw(&name);
    // Exactly the header: the payload is missing.
    f.set_len(128).unwrap();
    let e = open_err(&name);
    assert!(
        matches!(e, Error::Truncated { file_size: 128, needed, what: "the payload", .. } if needed == payload_end()),
        "{e:?}"
    );
    // The payload fits but the header's total_size does not.
    f.set_len(payload_end()).unwrap();
    let e = open_err(&name);
    assert!(
        matches!(
            e,
            Error::Truncated {
                needed: 4096,
                what: "the header's total_size",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains(&format!(
        "the file has {} bytes but 4096 are needed",
        payload_end()
    )));
    // A header claiming a total size beyond the file, up to u64::MAX.
    f.set_len(4096).unwrap();
    for total in [4097, 1 << 40, u64::MAX] {
        put_u64(&name, header::TOTAL_SIZE, total);
        let e = open_err(&name);
        assert!(
            matches!(e, Error::Truncated { needed, file_size: 4096, .. } if needed == total),
            "{total}: {e:?}"
        );
    }
    // ...or one smaller than its own payload: inconsistent.
    put_u64(&name, header::TOTAL_SIZE, payload_end() - 1);
    let e = open_err(&name);
    assert!(
        matches!(&e, Error::CorruptHeader { detail, .. } if detail.contains("smaller than the payload's end")),
        "{e:?}"
    );
    put_u64(&name, header::TOTAL_SIZE, 4096);
    assert!(Segment::<Small>::open(&name).is_ok());
    // Shorter than the header, down to empty.
    for len in [127, 8, 1, 0] {
        f.set_len(len).unwrap();
        let e = open_err(&name);
        assert!(
            matches!(e, Error::Truncated { file_size, needed: 128, what: "the header", .. } if file_size == len),
            "{e:?}"
        );
    }
}

#[test]
fn payload_offsets_and_sizes_outside_the_mapping_are_refused() {
    let name = TestName::new("offsets");
    fresh(&name);
    let good_offset = abi::payload_offset(align_of::<Small>()) as u64;
    for off in [0, 8, good_offset + 8, 4096, 1 << 40, u64::MAX - 7, u64::MAX] {
        put_u64(&name, header::PAYLOAD_OFFSET, off);
        let e = open_err(&name);
        assert!(
            matches!(&e, Error::CorruptHeader { detail, .. }
                if detail.contains(&format!("payload offset is {off} but the layout puts the payload at {good_offset}"))),
            "{off}: {e:?}"
        );
    }
    put_u64(&name, header::PAYLOAD_OFFSET, good_offset);
    // The payload size is part of the layout identity: a mismatch names both sides.
    for size in [0, 1, 4096, u64::MAX] {
        put_u64(&name, header::PAYLOAD_SIZE, size);
        let e = open_err(&name);
        let found = match &e {
            Error::LayoutMismatch {
                found, expected, ..
            } => {
                assert_eq!(expected.payload_size, size_of::<Small>() as u64);
                found.payload_size
            }
            other => panic!("{size}: {other:?}"),
        };
        assert_eq!(found, size);
        assert!(e.to_string().contains(&format!("{size} bytes)")), "{e}");
    }
    put_u64(&name, header::PAYLOAD_SIZE, size_of::<Small>() as u64);
    assert!(Segment::<Small>::open(&name).is_ok());
}

#[test]
fn wrong_magic_version_state_and_root_name_are_refused() {
    let name = TestName::new("magic2");
    // All zeros, exactly one header long.
    write_private(&name, &[0u8; 128]);
    assert!(matches!(
        open_err(&name),
        Error::BadMagic {
            found: [0, 0, 0, 0, 0, 0, 0, 0],
            ..
        }
    ));
    // Almost the magic: the version byte differs.
    fresh(&name);
    rw(&name).write_at(b"SHMGEN\0\x02", 0).unwrap();
    let e = open_err(&name);
    assert!(matches!(e, Error::BadMagic { .. }), "{e:?}");
    assert!(
        e.to_string().contains("[53, 48, 4d, 47, 45, 4e, 00, 02]"),
        "{e}"
    );

    // Header versions other than 1.
    for v in [0, 2, u32::MAX] {
        fresh(&name);
        put_u32(&name, header::HEADER_VERSION, v);
        assert!(
            matches!(open_err(&name), Error::UnsupportedHeaderVersion { found, supported: 1, .. } if found == v)
        );
    }

    // States other than 0 and 1: a corrupt header, reported at once (no waiting).
    for st in [2, 3, 0x100, u32::MAX] {
        fresh(&name);
        put_u32(&name, header::STATE, st);
        let t = Instant::now();
        let e = open_err(&name);
        assert!(
            t.elapsed() < Duration::from_millis(150),
            "{:?}",
            t.elapsed()
        );
        assert!(
            matches!(&e, Error::CorruptHeader { detail, .. }
                if detail == &format!("state is {st}, neither 0 (initialising) nor 1 (ready)")),
            "{e:?}"
        );
    }

    // State 0 with creator pids that cannot be alive: refused at once, no waiting.
    for pid in [0, u32::MAX, i32::MAX as u32 + 1] {
        fresh(&name);
        put_u32(&name, header::STATE, 0);
        put_u32(&name, header::CREATOR_PID, pid);
        let t = Instant::now();
        let e = open_err(&name);
        assert!(t.elapsed() < Duration::from_millis(150));
        assert!(
            matches!(e, Error::CreatorDied { pid: p, .. } if p == pid),
            "{e:?}"
        );
    }

    // A root name that is not UTF-8, and one without a terminating NUL.
    fresh(&name);
    rw(&name).write_at(&[0xff, 0xfe, b'S'], 64).unwrap();
    let e = open_err(&name);
    assert!(matches!(e, Error::LayoutMismatch { .. }), "{e:?}");
    assert!(
        e.to_string().contains("holds \u{fffd}\u{fffd}Sll v1"),
        "{e}"
    );
    rw(&name).write_at(&[b'x'; 64], 64).unwrap();
    let e = open_err(&name);
    assert!(
        e.to_string()
            .contains(&format!("holds {} v1", "x".repeat(64))),
        "{e}"
    );
    assert!(segment::inspect(&name).is_ok());
}

#[test]
fn bad_names_are_refused_by_every_entry_point() {
    let long = "n".repeat(201);
    for bad in [
        "",
        ".",
        "..",
        "../x",
        "a/../b",
        "/abs",
        "a/b",
        "dir/",
        "a\0b",
        "\0",
        ".hidden",
        ".shmgen-x.1.2",
        "a b",
        "tab\t",
        "new\nline",
        "é",
        "a:b",
        "a*",
        long.as_str(),
    ] {
        let check = |r: Result<(), Error>, what: &str| match r {
            Err(Error::InvalidName { name, reason }) => {
                assert_eq!(name, bad);
                assert!(!reason.is_empty());
            }
            other => panic!("{what}({bad:?}): {other:?}"),
        };
        check(Segment::<Small>::create(bad).map(drop), "create");
        check(Segment::<Small>::open(bad).map(drop), "open");
        check(
            Segment::<Small>::open_or_create(bad).map(drop),
            "open_or_create",
        );
        check(segment::remove(bad), "remove");
        check(segment::inspect(bad).map(drop), "inspect");
        check(
            segment::remove_dead_temporaries(Some(bad)).map(drop),
            "remove_dead_temporaries",
        );
    }
    // The limit itself is fine.
    let max = format!(
        "{}-{}",
        "m".repeat(200 - 12),
        &format!("{:011}", std::process::id())[..11]
    );
    assert_eq!(max.len(), 200);
    let seg = Segment::<Small>::options()
        .unlink_on_drop(true)
        .create(&max)
        .unwrap();
    assert!(Segment::<Small>::open(&max).is_ok());
    drop(seg);
    assert!(matches!(
        Segment::<Small>::open(&max),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn a_file_shrunk_after_mapping() {
    let name = TestName::new("shrink");
    let seg = Segment::<Small>::create(&name).unwrap();
    seg.hits.store(7, Ordering::SeqCst);
    assert!(seg.check_size().is_ok());
    let f = rw(&name);

    // Shrunk to the header: new opens are refused cleanly, and check_size notices.
    f.set_len(128).unwrap();
    let e = open_err(&name);
    assert!(
        matches!(e, Error::Truncated { file_size: 128, .. }),
        "{e:?}"
    );
    let e = seg.check_size().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Truncated {
                file_size: 128,
                needed: 4096,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("shrunk after it was mapped"), "{e}");
    // Shrunk to nothing.
    f.set_len(0).unwrap();
    assert!(matches!(
        open_err(&name),
        Error::Truncated { file_size: 0, .. }
    ));
    // Grown back: the old pages are gone (zeros now), but nothing faults; the header is gone
    // too, so a new open is refused as not a segment.
    f.set_len(4096).unwrap();
    assert!(seg.check_size().is_ok());
    assert!(matches!(open_err(&name), Error::BadMagic { .. }));
    assert_eq!(seg.hits.load(Ordering::SeqCst), 0);
}

#[test]
fn touching_a_mapping_after_the_file_shrank_raises_sigbus() {
    // The documented limit (docs/SECURITY.md): a process that may write the file can shrink it
    // under everyone's mapping, and the next access faults. `check_size` sees it first.
    let name = TestName::new("sigbus");
    let seg = Segment::<Small>::create(&name).unwrap();
    let mut kid = spawn("touch_after_shrink", &[name.to_string()]);
    assert!(seg.ready.wait_timeout(Duration::from_secs(30)));
    rw(&name).set_len(0).unwrap();
    let status = wait(&mut kid, Duration::from_secs(60));
    let mut out = String::new();
    use std::io::Read;
    kid.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains("RESULT check_size refused"), "{out}");
    assert!(!out.contains("survived"), "{out}");
    assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}: {out}");
}

/// A tiny deterministic generator (no dependency): xorshift64*.
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

#[test]
fn randomly_corrupted_headers_never_panic_or_hang() {
    let name = TestName::new("corrupt");
    fresh(&name);
    let good = std::fs::read(name.path()).unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001 ^ u64::from(std::process::id()));
    let (mut ok, mut refused) = (0u32, 0u32);
    let start = Instant::now();
    for round in 0..3000 {
        let mut bytes = good.clone();
        // Flip, overwrite or extreme-value a few header fields (and sometimes the length).
        for _ in 0..1 + rng.below(4) {
            if bytes.len() < 128 {
                break;
            }
            let at = rng.below(128) as usize;
            match rng.below(4) {
                0 => bytes[at] ^= 1 << rng.below(8),
                1 => bytes[at] = rng.next() as u8,
                2 => {
                    let at = at & !7;
                    let v = [0, 1, u64::MAX, u64::MAX / 2 + 1, rng.next()][rng.below(5) as usize];
                    bytes[at..at + 8].copy_from_slice(&v.to_ne_bytes());
                }
                _ => {
                    let len = [0, 1, 127, 128, 129, 4095, 4096][rng.below(7) as usize];
                    bytes.truncate(len);
                }
            }
        }
        // Creator pids in a state-0 header: mostly dead ones, so that opens do not wait.
        if bytes.len() >= 128 && bytes[header::STATE..header::STATE + 4] == [0; 4] {
            bytes[header::CREATOR_PID..header::CREATOR_PID + 4]
                .copy_from_slice(&(u32::MAX - round).to_ne_bytes());
        }
        write_private(&name, &bytes);
        let r = std::panic::catch_unwind(|| {
            let _ = segment::inspect(&name);
            Segment::<Small>::options()
                .open_timeout(Duration::from_millis(20))
                .open(&name)
                .map(|s| s.hits.load(Ordering::Relaxed))
        });
        match r {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                assert!(!e.to_string().is_empty());
                refused += 1;
            }
            Err(_) => panic!(
                "open panicked on header {:02x?}",
                &bytes[..bytes.len().min(128)]
            ),
        }
    }
    assert!(start.elapsed() < Duration::from_secs(120));
    assert!(refused > 2000, "ok {ok}, refused {refused}");
    eprintln!("corrupted headers: {refused} refused, {ok} accepted (harmless bytes)");
}
