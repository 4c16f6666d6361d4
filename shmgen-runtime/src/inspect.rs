//! Consistent copies of a segment's payload for tools (`shmgen inspect --consistent`), driven by
//! a type table known only at run time (no Rust type for the root struct).
//!
//! [`consistent_copy`] maps the segment read-write, checks its header against the table, copies
//! the whole payload, and then refines the copy field by field: each mutex-protected value is
//! copied again while holding its mutex (briefly, with a timeout), and each seqlock value is read
//! by the seqlock protocol (retrying until the sequence did not move). Atomics, semaphores,
//! events and rings are single words read with volatile loads.
//!
//! A mutex whose holder died is left alone (not locked): locking it would consume the
//! owner-died notice meant for the application's repair code. Its value is copied without the
//! lock and the returned notes say so.

use core::sync::atomic::{fence, AtomicU64, Ordering};
use core::time::Duration;
use std::ffi::CString;

use crate::abi;
use crate::error::{Error, LayoutId, Result};
use crate::segment::{header, validate_name, SHM_DIR};
use crate::sys::{self, LockStatus, Mapping};
use crate::table::{fingerprint, Elem, Kind, StructLayout, Ty};

/// Nested structs deeper than this are not walked.
const MAX_DEPTH: usize = 64;
/// Seqlock reads give up after this many torn attempts.
const SEQLOCK_TRIES: usize = 10_000;
/// At most this many fields are locked or re-read (arrays of structs can be huge).
const MAX_FIELDS: usize = 1 << 16;

/// A payload copy in which every mutex and seqlock value is consistent, and what could not be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsistentCopy {
    /// The root struct's bytes.
    pub payload: Vec<u8>,
    /// One line per field that could not be read consistently (a lock held past the timeout,
    /// an owner that died, a seqlock that kept moving), naming the payload offset.
    pub notes: Vec<String>,
}

/// Copies segment `name`'s payload consistently, checking the header against `root` and
/// `version` first (magic, header version, ready, fingerprint, size, offsets). A mutex held by
/// someone else is waited for up to `lock_timeout`, then copied without it (noted).
///
/// The segment is opened like [`crate::Segment::open`] with another owner allowed (a tool may
/// look at anyone's segment it can open), mapped read-write (locking writes the lock word) and
/// unmapped before returning. Like every process mapping a segment, this trusts the others to
/// follow the protocol.
pub fn consistent_copy(
    name: &str,
    root: &StructLayout<'_>,
    version: u32,
    lock_timeout: Duration,
) -> Result<ConsistentCopy> {
    validate_name(name)?;
    let io = |op: &str, source| Error::Io {
        name: name.to_owned(),
        op: format!("{op} {SHM_DIR}/{name}"),
        source,
    };
    let path = CString::new(format!("{SHM_DIR}/{name}")).unwrap_or_default();
    let fd = sys::open(&path, libc::O_RDWR | libc::O_NONBLOCK | libc::O_NOCTTY, 0).map_err(
        |e| match e.raw_os_error() {
            Some(libc::ENOENT) => Error::NotFound {
                name: name.to_owned(),
            },
            _ => io("open", e),
        },
    )?;
    let info = sys::fstat(&fd).map_err(|e| io("fstat", e))?;
    if !info.is_regular {
        return Err(Error::NotRegularFile {
            name: name.to_owned(),
            what: info.kind,
        });
    }
    let len = usize::try_from(info.size).unwrap_or(usize::MAX);
    if len < abi::HEADER_SIZE {
        return Err(Error::Truncated {
            name: name.to_owned(),
            file_size: info.size,
            needed: abi::HEADER_SIZE as u64,
            what: "the header",
        });
    }
    let map = Mapping::map(&fd, len).map_err(|e| io("mmap", e))?;
    let head = map
        .read_bytes::<{ abi::HEADER_SIZE }>(0)
        .ok_or_else(|| io("read", std::io::Error::other("header out of range")))?;
    let u32_at = |o: usize| u32::from_ne_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
    let u64_at = |o: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&head[o..o + 8]);
        u64::from_ne_bytes(a)
    };
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&head[..8]);
    if magic != abi::MAGIC {
        return Err(Error::BadMagic {
            name: name.to_owned(),
            found: magic,
            expected: abi::MAGIC,
        });
    }
    if u32_at(header::HEADER_VERSION) != abi::HEADER_VERSION {
        return Err(Error::UnsupportedHeaderVersion {
            name: name.to_owned(),
            found: u32_at(header::HEADER_VERSION),
            supported: abi::HEADER_VERSION,
        });
    }
    let corrupt = |detail: String| Error::CorruptHeader {
        name: name.to_owned(),
        detail,
    };
    if u32_at(header::STATE) != abi::STATE_READY {
        return Err(corrupt("the segment is not ready".into()));
    }
    let root_bytes = &head[header::ROOT_NAME..header::ROOT_NAME + header::ROOT_NAME_LEN];
    let end = root_bytes.iter().position(|&c| c == 0).unwrap_or(64);
    let found = LayoutId {
        root: String::from_utf8_lossy(&root_bytes[..end]).into_owned(),
        version: u32_at(header::LAYOUT_VERSION),
        fingerprint: u64_at(header::FINGERPRINT),
        payload_size: u64_at(header::PAYLOAD_SIZE),
    };
    let expected = LayoutId {
        root: root.name.to_owned(),
        version,
        fingerprint: fingerprint(root, version),
        payload_size: root.size as u64,
    };
    if found != expected {
        return Err(Error::LayoutMismatch {
            name: name.to_owned(),
            found,
            expected,
        });
    }
    let base = abi::payload_offset(root.align);
    if u64_at(header::PAYLOAD_OFFSET) != base as u64 {
        return Err(corrupt(format!(
            "payload offset {} (expected {base})",
            u64_at(header::PAYLOAD_OFFSET)
        )));
    }
    if base.saturating_add(root.size) > map.len() {
        return Err(Error::Truncated {
            name: name.to_owned(),
            file_size: info.size,
            needed: base.saturating_add(root.size) as u64,
            what: "the payload",
        });
    }
    let mut w = Walker {
        map: &map,
        base,
        out: vec![0; root.size],
        notes: Vec::new(),
        timeout: lock_timeout,
        fields: 0,
    };
    w.copy(0, root.size);
    w.structure(0, root, 0);
    Ok(ConsistentCopy {
        payload: w.out,
        notes: w.notes,
    })
}

struct Walker<'a> {
    map: &'a Mapping,
    /// Payload start in the mapping.
    base: usize,
    out: Vec<u8>,
    notes: Vec<String>,
    timeout: Duration,
    fields: usize,
}

impl Walker<'_> {
    /// Copies payload bytes `[off, off + len)` into `out` with volatile byte loads (the range
    /// was checked against the mapping; anything outside is skipped).
    fn copy(&mut self, off: usize, len: usize) {
        let Some(end) = off.checked_add(len).filter(|&e| e <= self.out.len()) else {
            return;
        };
        let p = self.map.ptr();
        for i in off..end {
            // SAFETY: `base + root.size <= map.len()` was checked by `consistent_copy` and
            // `i < end <= out.len() == root.size`, so the byte lies inside the live mapping.
            self.out[i] = unsafe { core::ptr::read_volatile(p.add(self.base + i)) };
        }
    }

    /// The mutex at payload offset `off`, if it lies in the payload and is 8-aligned.
    fn mutex_ptr(&self, off: usize) -> Option<*mut libc::pthread_mutex_t> {
        if off.checked_add(abi::RAW_MUTEX_SIZE)? > self.out.len() {
            return None;
        }
        // SAFETY: `off + 48 <= root.size` and `base + root.size <= map.len()`.
        let p = unsafe { self.map.ptr().add(self.base + off) };
        ((p as usize) % abi::RAW_MUTEX_ALIGN == 0).then_some(p.cast())
    }

    /// Copies `[off + value_off, + value_len)` holding the mutex at `off`.
    fn locked(&mut self, off: usize, value_off: usize, value_len: usize) {
        let Some(m) = self.mutex_ptr(off) else {
            self.notes
                .push(format!("offset {off}: mutex out of range or misaligned"));
            return;
        };
        let word = self.map.read_u32(self.base + off).unwrap_or(0);
        let owner = self.map.read_u32(self.base + off + 8).unwrap_or(0) as i32;
        let tid = word & 0x3fff_ffff;
        if word & 0x4000_0000 != 0 || owner >= i32::MAX - 1 || (tid != 0 && sys::thread_gone(tid)) {
            self.notes.push(format!(
                "offset {off}: the mutex's owner died; not locked (the application repairs it), value copied without the lock"
            ));
            self.copy(off + value_off, value_len);
            return;
        }
        // SAFETY: the segment is ready and its fingerprint equals the table's, so the creator
        // initialised a robust, process-shared mutex at this offset (FORMAT.md §3 step 4); `m`
        // is in bounds and 8-aligned (`mutex_ptr`) and the mapping outlives the call.
        match unsafe { sys::mutex_timedlock(m, self.timeout) } {
            LockStatus::Locked | LockStatus::OwnerDied => {
                self.copy(off + value_off, value_len);
                // SAFETY: this thread locked `m` just above.
                unsafe { sys::mutex_unlock(m) };
            }
            LockStatus::Busy | LockStatus::TimedOut => {
                self.notes.push(format!(
                    "offset {off}: mutex held for more than {:?}; value copied without the lock",
                    self.timeout
                ));
                self.copy(off + value_off, value_len);
            }
        }
    }

    /// Reads the seqlock at `off` by its protocol into `out` (its `seq` and copy `seq & 1`).
    fn seqlock(&mut self, off: usize, value_off: usize, stride: usize) {
        if off
            .checked_add(value_off + 2 * stride)
            .map_or(true, |e| e > self.out.len())
            || (self.base + off) % 8 != 0
        {
            return;
        }
        // SAFETY: `off + 8 <= root.size`, inside the mapping, 8-aligned (checked above); every
        // process accesses the sequence atomically (FORMAT.md §4 SeqLock).
        let seq = unsafe { AtomicU64::from_ptr(self.map.ptr().add(self.base + off).cast()) };
        for _ in 0..SEQLOCK_TRIES {
            let s1 = seq.load(Ordering::Acquire);
            let copy = off + value_off + (s1 & 1) as usize * stride;
            self.copy(copy, stride);
            fence(Ordering::Acquire);
            if seq.load(Ordering::Relaxed) == s1 {
                self.out[off..off + 8].copy_from_slice(&s1.to_ne_bytes());
                return;
            }
        }
        self.notes.push(format!(
            "offset {off}: seqlock kept changing; value may be torn"
        ));
    }

    fn value(&mut self, off: usize, ty: &Ty<'_>, depth: usize) {
        if let Elem::Struct(s) = ty.elem {
            if s.size == 0 {
                return;
            }
            for i in 0..ty.size / s.size {
                if self.fields >= MAX_FIELDS {
                    return;
                }
                self.structure(off + i * s.size, s, depth + 1);
            }
        }
    }

    fn structure(&mut self, off: usize, s: &StructLayout<'_>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        for f in s.fields {
            self.fields += 1;
            if self.fields > MAX_FIELDS {
                return;
            }
            let at = off + f.offset;
            match f.kind {
                Kind::Plain(t) => self.value(at, &t, depth),
                Kind::Mutex(t) | Kind::RMutex(t) => {
                    if let Some(c) = abi::mutex_layout(t.size, t.align) {
                        self.locked(at, c.value_offset, t.size);
                    }
                }
                Kind::SeqLock(t) => {
                    if let Some(c) = abi::seqlock_layout(t.size, t.align) {
                        self.seqlock(at, c.value_offset, c.stride);
                    }
                }
                Kind::Atomic(_) | Kind::Semaphore { .. } | Kind::Event | Kind::Ring { .. } => {}
            }
        }
    }
}
