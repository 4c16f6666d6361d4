//! Segment creation, opening and its errors: layout mismatch, truncation, bad magic, missing
//! names, half-initialised segments, names and files that are not segments; and the in-place
//! initialisation of every primitive.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use shmgen_runtime::abi;
use shmgen_runtime::segment::{self, header};
use shmgen_runtime::{
    Bytes, CacheAligned, Error, Event, Mutex, RMutex, Ring, Segment, Semaphore, SeqLock, Str,
};

mod v1 {
    use super::*;
    shared_struct! {
        struct Metrics version 1 {
            count: AtomicU64,
            data: [u8; 1392],
        }
    }
}

mod v2 {
    use super::*;
    shared_struct! {
        struct Metrics version 2 {
            count: AtomicU64,
            data: [u8; 1400],
        }
    }
}

shared_struct! {
    element struct Inner {
        sem: Semaphore<5>,
        m: Mutex<u32>,
        label: Str<7>,
    }
}

shared_struct! {
    /// Every kind of field, nested structs and arrays of them included.
    struct Everything {
        plain: u32,
        text: Str<12>,
        raw: Bytes<5>,
        flag: Event,
        sem: Semaphore<3>,
        inner: Inner,
        inners: [Inner; 3],
        locked_inners: Mutex<[Inner; 2]>,
        rm: RMutex<[u16; 3]>,
        seq: SeqLock<u64>,
        ring: Ring<u32, 8>,
        padded: CacheAligned<AtomicU32>,
    }
}

fn ring_offset() -> usize {
    abi::payload_offset(align_of::<Everything>()) + offset_of!(Everything, ring)
}

#[test]
fn create_initialises_every_primitive_in_place() {
    let name = TestName::new("every");
    let seg = Segment::<Everything>::options()
        .init(|e| {
            e.plain = 42;
            e.text.set("hello").unwrap();
            e.raw[1] = 9;
            e.locked_inners.get_mut()[1].label.set("deep").unwrap();
            *e.seq.get_mut() = 77;
        })
        .create(&name)
        .unwrap();
    assert!(seg.is_creator());
    assert_eq!(seg.name(), &*name);
    assert_eq!(seg.plain, 42);
    assert_eq!(seg.text.as_str(), "hello");
    assert_eq!(seg.raw[1], 9);
    assert_eq!(seg.sem.value(), 3);
    assert_eq!(seg.inner.sem.value(), 5);
    assert!(seg.inners.iter().all(|i| i.sem.value() == 5));
    *seg.inners[2].m.lock().unwrap() += 1;
    {
        let g = seg.locked_inners.lock().unwrap();
        assert!(g.iter().all(|i| i.sem.value() == 5));
        assert_eq!(g[1].label.as_str(), "deep");
        *g[0].m.lock().unwrap() = 3; // a mutex inside a mutex's value
    }
    {
        let a = seg.rm.lock().unwrap();
        let b = seg.rm.lock().unwrap(); // reentrant
        b.set([1, 2, 3]);
        assert_eq!(a.get(), [1, 2, 3]);
        let cells: &std::cell::Cell<[u16]> = &*a;
        cells.as_slice_of_cells()[0].set(4);
        assert_eq!(b.get(), [4, 2, 3]);
    }
    assert_eq!(seg.seq.read(), 77);
    seg.seq.update(|v| v + 1);
    assert_eq!(seg.seq.read(), 78);
    assert_eq!(seg.padded.fetch_add(1, Ordering::SeqCst), 0);

    // The ring's control block and slots, read from the file's bytes (FORMAT.md §4).
    let bytes = std::fs::read(name.path()).unwrap();
    let u64_at = |o: usize| u64::from_ne_bytes(bytes[o..o + 8].try_into().unwrap());
    let r = ring_offset();
    let ring = abi::ring_layout(4, 4, 8).unwrap();
    assert_eq!(u64_at(r + 128), 8, "capacity");
    assert_eq!(u64_at(r + 136), ring.stride as u64, "slot_size");
    assert_eq!(ring.stride, 16);
    for i in 0..8 {
        assert_eq!(
            u64_at(r + ring.value_offset + i * ring.stride),
            i as u64,
            "slot {i} seq"
        );
    }
    assert_eq!(u64_at(r), 0, "head");
    assert_eq!(u64_at(r + 64), 0, "tail");

    // Another mapping sees the same state.
    let other = Segment::<Everything>::open(&name).unwrap();
    assert!(!other.is_creator());
    assert_eq!(other.plain, 42);
    assert_eq!(*other.inners[2].m.lock().unwrap(), 1);
    assert_eq!(other.rm.lock().unwrap().get(), [4, 2, 3]);
}

#[test]
fn header_is_as_format_md_says() {
    let name = TestName::new("header");
    let before = now_ns();
    let seg = Segment::<Everything>::create(&name).unwrap();
    let h = seg.header();
    assert!(h.is_ready());
    assert_eq!(h.header_version, 1);
    assert_eq!(h.fingerprint, <Everything as SharedLayout>::FINGERPRINT);
    assert_eq!(
        h.payload_offset as usize,
        abi::payload_offset(align_of::<Everything>())
    );
    assert_eq!(h.payload_size as usize, size_of::<Everything>());
    assert_eq!(h.total_size % 4096, 0);
    assert_eq!(h.total_size, h.file_size);
    assert_eq!(h.creator_pid, std::process::id());
    assert_eq!(h.layout_version, 1);
    assert!(h.created_unix_ns >= before && h.created_unix_ns <= now_ns());
    assert_eq!(h.root_name, "Everything");
    assert_eq!(segment::inspect(&name).unwrap(), h);

    let bytes = std::fs::read(name.path()).unwrap();
    assert_eq!(&bytes[..8], b"SHMGEN\0\x01");
    assert_eq!(bytes[header::STATE], 1);
    assert_eq!(&bytes[64..74], b"Everything");
    assert!(bytes[74..128].iter().all(|&b| b == 0));
    assert_eq!(bytes.len() as u64, h.total_size);
    let mode = std::fs::metadata(name.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn mode_option_is_applied_despite_the_umask() {
    let name = TestName::new("mode");
    let _seg = Segment::<Everything>::options()
        .mode(0o640)
        .create(&name)
        .unwrap();
    let mode = std::fs::metadata(name.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn create_twice_is_already_exists_and_leaves_no_temporary_file() {
    let name = TestName::new("twice");
    let _a = Segment::<Everything>::create(&name).unwrap();
    let e = Segment::<Everything>::create(&name).unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
    assert!(e.to_string().contains("already exists"), "{e}");
    let prefix = format!(".shmgen-{}.", &*name);
    let left = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with(&prefix));
    assert!(!left);
}

#[test]
fn a_panicking_init_leaves_nothing_behind() {
    let name = TestName::new("panic");
    let r = std::panic::catch_unwind(|| {
        Segment::<Everything>::options()
            .init(|_| panic!("boom"))
            .create(&name)
    });
    assert!(r.is_err());
    assert!(matches!(
        Segment::<Everything>::open(&name),
        Err(Error::NotFound { .. })
    ));
    let prefix = format!(".shmgen-{}.", &*name);
    assert!(!std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with(&prefix)));
}

#[test]
fn missing_name_is_not_found() {
    let name = TestName::new("missing");
    let e = Segment::<Everything>::open(&name).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains(&*name) && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn other_layout_is_a_mismatch_naming_both_sides() {
    let name = TestName::new("mismatch");
    let _seg = Segment::<v1::Metrics>::create(&name).unwrap();
    let e = Segment::<v2::Metrics>::open(&name).unwrap_err();
    let msg = e.to_string();
    let fp1 = format!("0x{:016x}", <v1::Metrics as SharedLayout>::FINGERPRINT);
    let fp2 = format!("0x{:016x}", <v2::Metrics as SharedLayout>::FINGERPRINT);
    assert_eq!(
        msg,
        format!(
            "segment \"{}\" holds Metrics v1 (fingerprint {fp1}, 1400 bytes) but this program \
             expects Metrics v2 (fingerprint {fp2}, 1408 bytes)",
            &*name
        )
    );
    match e {
        Error::LayoutMismatch {
            found, expected, ..
        } => {
            assert_eq!(found.version, 1);
            assert_eq!(expected.version, 2);
        }
        other => panic!("{other:?}"),
    }
    // A different root struct entirely.
    let e = Segment::<Everything>::open(&name).unwrap_err();
    assert!(e.to_string().contains("holds Metrics v1"), "{e}");
    assert!(e.to_string().contains("expects Everything v1"), "{e}");
}

#[test]
fn truncated_files_are_refused_before_touching_memory() {
    let name = TestName::new("trunc");
    drop(Segment::<Everything>::create(&name).unwrap());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    f.set_len(130).unwrap();
    let e = Segment::<Everything>::open(&name).unwrap_err();
    assert!(
        matches!(e, Error::Truncated { file_size: 130, .. }),
        "{e:?}"
    );
    let needed = abi::payload_offset(align_of::<Everything>()) + size_of::<Everything>();
    assert!(
        e.to_string()
            .contains(&format!("the file has 130 bytes but {needed} are needed")),
        "{e}"
    );
    f.set_len(100).unwrap();
    let e = Segment::<Everything>::open(&name).unwrap_err();
    assert!(
        e.to_string()
            .contains("the file has 100 bytes but 128 are needed"),
        "{e}"
    );
    f.set_len(0).unwrap();
    assert!(matches!(
        Segment::<Everything>::open(&name),
        Err(Error::Truncated { file_size: 0, .. })
    ));
}

#[test]
fn wrong_magic_and_header_version_are_refused() {
    let name = TestName::new("magic");
    std::fs::write(name.path(), vec![b'x'; 4096]).unwrap();
    // Private, as `open` demands by default (`std::fs::write` gives 0644 under umask 022).
    std::fs::set_permissions(name.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = Segment::<Everything>::open(&name).unwrap_err();
    assert!(matches!(e, Error::BadMagic { .. }), "{e:?}");
    assert!(e.to_string().contains("is not a shmgen segment"), "{e}");
    assert!(e.to_string().contains("78, 78"), "{e}");

    drop(std::fs::remove_file(name.path()));
    drop(Segment::<Everything>::create(&name).unwrap());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    f.write_at(&2u32.to_ne_bytes(), header::HEADER_VERSION as u64)
        .unwrap();
    let e = Segment::<Everything>::open(&name).unwrap_err();
    assert!(
        e.to_string()
            .contains("has header version 2, but this runtime supports header version 1"),
        "{e}"
    );
    assert!(matches!(
        segment::inspect(&name),
        Err(Error::UnsupportedHeaderVersion { .. })
    ));
}

/// Writes a header in state 0 ("initialising") with `pid` as the creator, FORMAT.md §2.
fn craft_half_initialised(name: &TestName, pid: u32) {
    let mut f = std::fs::File::create(name.path()).unwrap();
    let mut h = vec![0u8; 4096];
    h[..8].copy_from_slice(&abi::MAGIC);
    h[8..12].copy_from_slice(&1u32.to_ne_bytes());
    h[header::CREATOR_PID..header::CREATOR_PID + 4].copy_from_slice(&pid.to_ne_bytes());
    f.write_all(&h).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    // Private, as `open` demands by default (`File::create` gives 0644 under umask 022).
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .unwrap();
}

fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

#[test]
fn half_initialised_segment_with_a_dead_creator_fails_at_once() {
    let name = TestName::new("dead");
    let pid = dead_pid();
    craft_half_initialised(&name, pid);
    let t = Instant::now();
    let e = Segment::<Everything>::open(&name).unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        matches!(e, Error::CreatorDied { pid: p, .. } if p == pid),
        "{e:?}"
    );
    assert!(
        e.to_string().contains(&format!("creator (pid {pid}) died")),
        "{e}"
    );
}

#[test]
fn half_initialised_segment_with_a_live_creator_times_out() {
    let name = TestName::new("live");
    craft_half_initialised(&name, std::process::id());
    let t = Instant::now();
    let e = Segment::<Everything>::options()
        .open_timeout(Duration::from_millis(300))
        .open(&name)
        .unwrap_err();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("timed out after"), "{e}");
}

#[test]
fn open_waits_for_a_segment_that_becomes_ready() {
    let name = TestName::new("becomes");
    drop(Segment::<Everything>::create(&name).unwrap());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    f.write_at(&0u32.to_ne_bytes(), header::STATE as u64)
        .unwrap();
    let t = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            f.write_at(&1u32.to_ne_bytes(), header::STATE as u64)
                .unwrap();
        });
        let seg = Segment::<Everything>::open(&name).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(190));
        assert_eq!(seg.sem.value(), 3);
    });
}

#[test]
fn names_and_files_that_are_not_segments() {
    for bad in ["", ".x", "a/b", "../etc", "a b", &"n".repeat(201)] {
        let e = Segment::<Everything>::create(bad).unwrap_err();
        assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e:?}");
        assert!(e.to_string().contains("invalid segment name"), "{e}");
        assert!(matches!(
            Segment::<Everything>::open(bad),
            Err(Error::InvalidName { .. })
        ));
    }
    let name = TestName::new("link");
    let target = TestName::new("target");
    drop(Segment::<Everything>::create(&target).unwrap());
    std::os::unix::fs::symlink(target.path(), name.path()).unwrap();
    let e = Segment::<Everything>::open(&name).unwrap_err();
    assert!(matches!(e, Error::NotRegularFile { .. }), "{e:?}");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    std::fs::remove_file(name.path()).unwrap();

    std::fs::create_dir(name.path()).unwrap();
    let e = Segment::<Everything>::open(&name).unwrap_err();
    std::fs::remove_dir(name.path()).unwrap();
    assert!(matches!(e, Error::NotRegularFile { .. }), "{e:?}");
    assert!(e.to_string().contains("directory"), "{e}");
}

#[test]
fn unlink_and_unlink_on_drop() {
    let name = TestName::new("unlink");
    let seg = Segment::<Everything>::create(&name).unwrap();
    let other = Segment::<Everything>::open(&name).unwrap();
    seg.unlink().unwrap();
    assert!(matches!(
        Segment::<Everything>::open(&name),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(seg.unlink(), Err(Error::NotFound { .. })));
    // Both mappings still work and share memory.
    seg.flag.set();
    assert!(other.flag.is_set());

    // A new segment under the same name is not removed by the old one's drop.
    let seg2 = Segment::<Everything>::options()
        .unlink_on_drop(true)
        .create(&name)
        .unwrap();
    other.unlink().unwrap(); // refers to another file now: left alone
    assert!(Segment::<Everything>::open(&name).is_ok());
    drop(seg2);
    assert!(matches!(
        Segment::<Everything>::open(&name),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn open_or_create_creates_then_opens() {
    let name = TestName::new("ooc");
    let a = Segment::<Everything>::options()
        .init(|e| e.plain = 5)
        .open_or_create(&name)
        .unwrap();
    let b = Segment::<Everything>::options()
        .init(|e| e.plain = 6)
        .open_or_create(&name)
        .unwrap();
    assert!(a.is_creator() && !b.is_creator());
    assert_eq!(b.plain, 5, "the opener's init does not run");
}

/// `as_mut_ptr` writes a plain array that a second mapping (another open, as another process
/// would have) then reads; it points where `deref` does.
#[test]
fn as_mut_ptr_writes_plain_fields() {
    let name = TestName::new("asmutptr");
    let seg = Segment::<v1::Metrics>::create(&name).unwrap();
    let other = Segment::<v1::Metrics>::open(&name).unwrap();
    assert_eq!(seg.as_mut_ptr().cast_const(), &*seg as *const v1::Metrics);
    // SAFETY: no reference to `data` is alive in this process while we write it.
    let data = unsafe { core::ptr::addr_of_mut!((*seg.as_mut_ptr()).data) };
    for i in 0..1392 {
        // SAFETY: `data` points at the field's 1392 bytes in the mapping.
        unsafe { data.cast::<u8>().add(i).write((i % 251) as u8) };
    }
    seg.count.store(1, std::sync::atomic::Ordering::Release); // "published"
    assert_eq!(other.count.load(std::sync::atomic::Ordering::Acquire), 1);
    assert!(other
        .data
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 251) as u8));
}
