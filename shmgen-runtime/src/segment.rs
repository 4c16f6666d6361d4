//! Named shared-memory segments: [`Segment<T>`] creates, opens and maps `/dev/shm/NAME`
//! following the start-up protocol of `docs/FORMAT.md` §3, and derefs to the root struct `T`.
//!
//! # Creating
//! A creator builds the whole segment under a private temporary name
//! (`/dev/shm/.shmgen-NAME.PID.SEQ`): it sizes the file, writes the header (state
//! "initialising", its pid), initialises every lock, semaphore and ring in place by walking
//! `T::LAYOUT`, runs the caller's [`SegmentOptions::init`] closure, publishes "ready" with
//! release ordering, and only then `link()`s the file to its final name. So a segment is never
//! visible half-built, and of two processes racing to create one name exactly one wins.
//!
//! # Opening
//! `open` checks, in order: a regular file (never following a symbolic link), owned by this
//! process's user ([`SegmentOptions::allow_foreign_owner`] to accept another), granting no
//! permission beyond [`SegmentOptions::mode`] (default `0o600`), of at least 128 bytes; the
//! magic, the header version,
//! the state (waiting a bounded time for "ready", failing at once if the creator died), the
//! root struct's name, version, fingerprint and size, and finally that the file is as large as
//! the header and the layout need. Every failure is an [`Error`] naming the segment and, for
//! mismatches, both sides.
//!
//! # Plain fields
//! Fields without a lock or `atomic = true` have no synchronisation: a `&T` only reads them.
//! Give them their values in the [`SegmentOptions::init`] closure, which runs in the creator
//! before anyone else can see the segment; that is the only safe place to write them from Rust.
//!
//! # Trust
//! Every process mapping a segment is trusted to follow the protocol: shared memory cannot stop
//! another process from scribbling over a lock's bytes or storing `2` in a `bool`. The runtime
//! checks what it can (file type, owner, mode, sizes, alignment, the header) and never reads
//! outside the mapping, but does not defend against a hostile process that has the segment
//! mapped read-write, nor against a file shrunk (`ftruncate`) after it was mapped (that raises
//! `SIGBUS`; [`Segment::check_size`] detects it beforehand). `docs/SECURITY.md` has the whole
//! threat model.
//!
//! # Crashes during start-up
//! A creator that dies before `link()` leaves only its temporary file
//! ([`remove_dead_temporaries`] removes it); one that dies after leaves a whole segment. A
//! non-ready segment found under the final name with a dead creator (never left by this
//! protocol) is refused by `open` ([`Error::CreatorDied`]) and replaced by `open_or_create`
//! under the conditions [`SegmentOptions::open_or_create`] lists.

use core::marker::PhantomData;
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Instant;

use crate::abi;
use crate::error::{Error, LayoutId, Result};
use crate::layout::SharedLayout;
use crate::sys::{self, Mapping};
use crate::table::{Elem, FieldLayout, Kind, StructLayout, Ty};

/// Where segments live.
pub const SHM_DIR: &str = "/dev/shm";
/// Longest segment name.
pub const MAX_NAME_LEN: usize = 200;
/// How long [`Segment::open`] waits for a segment still initialising, by default.
pub const DEFAULT_OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// The mode of a new segment file unless [`SegmentOptions::mode`] says otherwise.
pub const DEFAULT_MODE: u32 = 0o600;

/// Byte offsets of the header fields (`docs/FORMAT.md` §2).
pub mod header {
    /// `magic`, 8 bytes.
    pub const MAGIC: usize = 0;
    /// `header_version`, u32.
    pub const HEADER_VERSION: usize = 8;
    /// `state`, atomic u32.
    pub const STATE: usize = 12;
    /// `fingerprint`, u64.
    pub const FINGERPRINT: usize = 16;
    /// `payload_offset`, u64.
    pub const PAYLOAD_OFFSET: usize = 24;
    /// `payload_size`, u64.
    pub const PAYLOAD_SIZE: usize = 32;
    /// `total_size`, u64.
    pub const TOTAL_SIZE: usize = 40;
    /// `creator_pid`, u32.
    pub const CREATOR_PID: usize = 48;
    /// `layout_version`, u32.
    pub const LAYOUT_VERSION: usize = 52;
    /// `created_unix_ns`, u64.
    pub const CREATED_UNIX_NS: usize = 56;
    /// `root_name`, 64 bytes, UTF-8, NUL-padded.
    pub const ROOT_NAME: usize = 64;
    /// Size of the `root_name` field.
    pub const ROOT_NAME_LEN: usize = 64;
}

/// A copy of a segment's header (`docs/FORMAT.md` §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    /// `header_version`.
    pub header_version: u32,
    /// `state`: [`abi::STATE_INITIALISING`] or [`abi::STATE_READY`].
    pub state: u32,
    /// The layout fingerprint of the root struct.
    pub fingerprint: u64,
    /// Where the root struct starts.
    pub payload_offset: u64,
    /// The root struct's size.
    pub payload_size: u64,
    /// The file size the creator set.
    pub total_size: u64,
    /// The creator's pid.
    pub creator_pid: u32,
    /// The user's layout version.
    pub layout_version: u32,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
    /// The root struct's name (lossily decoded if not UTF-8).
    pub root_name: String,
    /// The file's actual size when the header was read.
    pub file_size: u64,
}

impl HeaderInfo {
    /// Whether the segment is ready.
    pub fn is_ready(&self) -> bool {
        self.state == abi::STATE_READY
    }

    /// Name, version, fingerprint and size, as error messages show them.
    pub fn layout_id(&self) -> LayoutId {
        LayoutId {
            root: self.root_name.clone(),
            version: self.layout_version,
            fingerprint: self.fingerprint,
            payload_size: self.payload_size,
        }
    }

    /// Decodes the first 128 bytes of a file (`b` may be longer) as a segment header, with
    /// the file's size: `None` when `b` is shorter than a header or lacks shmgen's magic. Other
    /// fields are not checked (tools show segments of any header version); [`open`] and
    /// [`inspect`] check what they rely on.
    ///
    /// [`open`]: Segment::open
    pub fn decode(b: &[u8], file_size: u64) -> Option<HeaderInfo> {
        let b: &[u8; abi::HEADER_SIZE] = b.get(..abi::HEADER_SIZE)?.try_into().ok()?;
        (b[..8] == abi::MAGIC).then(|| Self::fields(b, file_size))
    }

    /// Parses the first 128 bytes of a segment file, checking the magic and header version.
    fn parse(name: &str, b: &[u8; abi::HEADER_SIZE], file_size: u64) -> Result<HeaderInfo> {
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&b[..8]);
        check_magic(name, magic)?;
        let info = Self::fields(b, file_size);
        check_header_version(name, info.header_version)?;
        Ok(info)
    }

    /// The header's fields, as they are (FORMAT.md §2).
    fn fields(b: &[u8; abi::HEADER_SIZE], file_size: u64) -> HeaderInfo {
        let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_ne_bytes(a)
        };
        let root = &b[header::ROOT_NAME..header::ROOT_NAME + header::ROOT_NAME_LEN];
        HeaderInfo {
            header_version: u32_at(header::HEADER_VERSION),
            state: u32_at(header::STATE),
            fingerprint: u64_at(header::FINGERPRINT),
            payload_offset: u64_at(header::PAYLOAD_OFFSET),
            payload_size: u64_at(header::PAYLOAD_SIZE),
            total_size: u64_at(header::TOTAL_SIZE),
            creator_pid: u32_at(header::CREATOR_PID),
            layout_version: u32_at(header::LAYOUT_VERSION),
            created_unix_ns: u64_at(header::CREATED_UNIX_NS),
            root_name: root_name_string(root),
            file_size,
        }
    }
}

fn root_name_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn check_magic(name: &str, found: [u8; 8]) -> Result<()> {
    if found != abi::MAGIC {
        return Err(Error::BadMagic {
            name: name.to_owned(),
            found,
            expected: abi::MAGIC,
        });
    }
    Ok(())
}

fn check_header_version(name: &str, found: u32) -> Result<()> {
    if found != abi::HEADER_VERSION {
        return Err(Error::UnsupportedHeaderVersion {
            name: name.to_owned(),
            found,
            supported: abi::HEADER_VERSION,
        });
    }
    Ok(())
}

/// Checks a segment name: 1 to 200 of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 200 characters")
    } else if name.starts_with('.') {
        Some("it starts with '.'")
    } else if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    {
        Some("it contains a character outside [A-Za-z0-9._-]")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// `/dev/shm/NAME` as a C string. The name was validated (no NUL, no `/`).
fn shm_path(file: &str) -> CString {
    // A validated name has no NUL byte; the fallback never triggers but keeps this panic-free.
    CString::new(format!("{SHM_DIR}/{file}")).unwrap_or_default()
}

fn io_err(name: &str, op: impl Into<String>, source: io::Error) -> Error {
    Error::Io {
        name: name.to_owned(),
        op: op.into(),
        source,
    }
}

/// Reads the header of segment `name` without mapping it or checking its layout (for tools:
/// `shmgen inspect`, garbage collection). Fails on a missing file, a non-regular file, a file
/// shorter than the header, a bad magic or an unsupported header version.
pub fn inspect(name: &str) -> Result<HeaderInfo> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    validate_name(name)?;
    let path = format!("{SHM_DIR}/{name}");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| open_error(name, e))?;
    let md = f
        .metadata()
        .map_err(|e| io_err(name, format!("fstat {path}"), e))?;
    if !md.is_file() {
        return Err(Error::NotRegularFile {
            name: name.to_owned(),
            what: if md.is_dir() {
                "a directory"
            } else {
                "not a regular file"
            },
        });
    }
    if md.len() < abi::HEADER_SIZE as u64 {
        return Err(Error::Truncated {
            name: name.to_owned(),
            file_size: md.len(),
            needed: abi::HEADER_SIZE as u64,
            what: "the header",
        });
    }
    let mut b = [0u8; abi::HEADER_SIZE];
    f.read_exact(&mut b)
        .map_err(|e| io_err(name, format!("read {path}"), e))?;
    HeaderInfo::parse(name, &b, md.len())
}

/// Removes the name `name` from `/dev/shm` (processes that have it mapped keep their mapping).
pub fn remove(name: &str) -> Result<()> {
    validate_name(name)?;
    sys::unlink(&shm_path(name)).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOENT) {
            Error::NotFound {
                name: name.to_owned(),
            }
        } else {
            io_err(name, format!("unlink {SHM_DIR}/{name}"), e)
        }
    })
}

fn open_error(name: &str, e: io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOENT) => Error::NotFound {
            name: name.to_owned(),
        },
        Some(libc::ELOOP) => Error::NotRegularFile {
            name: name.to_owned(),
            what: "a symbolic link",
        },
        Some(libc::EISDIR) => Error::NotRegularFile {
            name: name.to_owned(),
            what: "a directory",
        },
        // A socket, or a device node without a device: `open` itself refuses them.
        Some(libc::ENXIO | libc::ENODEV) => Error::NotRegularFile {
            name: name.to_owned(),
            what: "a socket or a special file",
        },
        _ => io_err(name, format!("open {SHM_DIR}/{name}"), e),
    }
}

/// Removes at most one file: the half-initialised segment under `name` whose
/// creator died (what `open_or_create` does on [`Error::CreatorDied`]).
///
/// Under an exclusive `flock` on the file (so two processes recovering the same name cannot
/// both act, and neither can remove a segment the other has just created), it re-reads the
/// header and unlinks the name only if the file is one `open` would accept (regular, owner,
/// mode), still has the magic, header version 1 and state 0 (initialising), its creator pid is
/// still dead, and the name still refers to this very file (`lstat` vs `fstat`). In every other
/// case it leaves the file alone; the caller goes round and `open` reports what is there now.
fn remove_dead_half_initialised(name: &str, checks: &OpenChecks) -> Result<()> {
    let path = shm_path(name);
    let fd = match sys::open(&path, OPEN_FLAGS, 0) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(open_error(name, e)),
    };
    let info = sys::fstat(&fd).map_err(|e| io_err(name, format!("fstat {SHM_DIR}/{name}"), e))?;
    check_file(name, &info, checks)?;
    let start = Instant::now();
    loop {
        match sys::flock_try_exclusive(&fd) {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Err(io_err(name, format!("flock {SHM_DIR}/{name}"), e)),
        }
        let waited = start.elapsed();
        if waited >= checks.timeout {
            return Err(Error::Timeout {
                name: name.to_owned(),
                waited,
                pid: 0,
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut b = [0u8; abi::HEADER_SIZE];
    let n = sys::pread_full(&fd, &mut b, 0)
        .map_err(|e| io_err(name, format!("read {SHM_DIR}/{name}"), e))?;
    let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let dead_and_unready = n == abi::HEADER_SIZE
        && b[..8] == abi::MAGIC
        && u32_at(header::HEADER_VERSION) == abi::HEADER_VERSION
        && u32_at(header::STATE) == abi::STATE_INITIALISING
        && !sys::pid_alive(u32_at(header::CREATOR_PID));
    let same_file = matches!(sys::lstat(&path), Ok(now) if now.id == info.id);
    let r = if dead_and_unready && same_file {
        match sys::unlink(&path) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                Err(io_err(name, format!("unlink {SHM_DIR}/{name}"), e))
            }
            _ => Ok(()),
        }
    } else {
        Ok(())
    };
    sys::flock_unlock(&fd);
    r
}

/// A creator's temporary file (`.shmgen-NAME.PID.SEQ`, `docs/FORMAT.md` §3) found in
/// `/dev/shm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TempFile {
    /// The file name in `/dev/shm` (`.shmgen-NAME.PID.SEQ`).
    pub file_name: String,
    /// The segment it was going to become.
    pub segment: String,
    /// The creator's pid.
    pub pid: u32,
}

/// Parses `.shmgen-NAME.PID.SEQ`; `None` for any other file name.
pub fn parse_temp_name(file_name: &str) -> Option<TempFile> {
    let rest = file_name.strip_prefix(".shmgen-")?;
    let mut parts = rest.rsplitn(3, '.');
    let seq = parts.next()?;
    let pid = parts.next()?;
    let segment = parts.next()?;
    if seq.is_empty() || !seq.bytes().all(|c| c.is_ascii_digit()) || validate_name(segment).is_err()
    {
        return None;
    }
    let pid: u32 = pid.parse().ok()?;
    Some(TempFile {
        file_name: file_name.to_owned(),
        segment: segment.to_owned(),
        pid,
    })
}

/// Removes the temporary files that creators which died mid-creation left in `/dev/shm` (for
/// segment `name`, or for every segment when `None`), and returns what it removed.
///
/// A creator that is killed before it publishes its segment (`docs/FORMAT.md` §3 steps 1-6)
/// leaves `.shmgen-NAME.PID.SEQ` behind; nobody ever opens such a file, it only takes space.
/// Only regular files owned by this process's user whose creator pid is not alive
/// (`kill(pid, 0)`) are removed. A pid reused by an unrelated process keeps its file (removed
/// on a later call); a creator in another pid namespace sharing this `/dev/shm` looks dead and
/// would lose its file (its `create` then fails) — do not run this across pid namespaces.
pub fn remove_dead_temporaries(name: Option<&str>) -> Result<Vec<TempFile>> {
    let label = name.unwrap_or("*");
    if let Some(n) = name {
        validate_name(n)?;
    }
    let dir =
        std::fs::read_dir(SHM_DIR).map_err(|e| io_err(label, format!("read {SHM_DIR}"), e))?;
    let euid = sys::geteuid();
    let mut removed = Vec::new();
    for entry in dir.flatten() {
        let file_name = entry.file_name();
        let Some(t) = file_name.to_str().and_then(parse_temp_name) else {
            continue;
        };
        if name.is_some_and(|n| n != t.segment) {
            continue;
        }
        let path = shm_path(&t.file_name);
        let Ok(info) = sys::lstat(&path) else {
            continue;
        };
        if !info.is_regular || info.uid != euid || sys::pid_alive(t.pid) {
            continue;
        }
        match sys::unlink(&path) {
            Ok(()) => removed.push(t),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                return Err(io_err(
                    label,
                    format!("unlink {SHM_DIR}/{}", t.file_name),
                    e,
                ))
            }
        }
    }
    Ok(removed)
}

/// The steps of `docs/FORMAT.md` §3 "Create" at which a test can make the creator die.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CrashPoint {
    /// Step 1 done: the temporary file exists (mode set), empty.
    AfterTempOpen = 1,
    /// Step 2: sized (all zeros), not yet mapped.
    AfterTruncate = 2,
    /// Step 3: header written, state 0 (initialising).
    AfterHeader = 3,
    /// Step 4: every primitive initialised and the init closure run; state still 0.
    AfterInit = 4,
    /// Step 5: state 1 (ready) stored; not yet linked to the final name.
    BeforeLink = 5,
    /// Step 6: linked to the final name; the temporary name not yet removed.
    AfterLink = 6,
}

/// Test-only fault injection for the start-up protocol: `crash_hook::crash_at(Some(p))` makes
/// this process `SIGKILL` itself when a creation reaches `p`. Never set outside tests; costs one
/// relaxed atomic load per step of a creation (which makes several system calls anyway).
#[doc(hidden)]
pub mod crash_hook {
    use super::CrashPoint;
    use core::sync::atomic::{AtomicU8, Ordering};

    static AT: AtomicU8 = AtomicU8::new(0);

    /// Arms (or, with `None`, disarms) the crash point for this process.
    pub fn crash_at(point: Option<CrashPoint>) {
        AT.store(point.map_or(0, |p| p as u8), Ordering::Relaxed);
    }

    /// Called by `create_segment` at each step.
    #[inline]
    pub(super) fn reached(point: CrashPoint) {
        if AT.load(Ordering::Relaxed) == point as u8 {
            crate::sys::die_now();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// In-place initialisation of the primitives, driven by the type table.
// ---------------------------------------------------------------------------------------------

/// Nested structs deeper than this are refused (a type table cannot be cyclic, but a
/// hand-written `static` could be).
const MAX_DEPTH: usize = 64;

/// Initialises every primitive of a payload in a mapping nobody else can see yet.
struct Initialiser<'a> {
    map: &'a Mapping,
    /// Payload start within the mapping.
    base: usize,
    /// Payload end within the mapping.
    end: usize,
}

impl Initialiser<'_> {
    fn span(&self, off: usize, len: usize) -> core::result::Result<usize, String> {
        let start = self.base.checked_add(off).ok_or("offset overflows")?;
        let stop = start.checked_add(len).ok_or("size overflows")?;
        if stop > self.end {
            return Err(format!(
                "bytes {off}..{} lie outside the {}-byte payload",
                off.saturating_add(len),
                self.end - self.base
            ));
        }
        Ok(start)
    }

    fn u64(&self, off: usize, v: u64) -> core::result::Result<(), String> {
        let at = self.span(off, 8)?;
        self.map
            .write_u64(at, v)
            .ok_or_else(|| format!("u64 at payload offset {off} is misaligned"))
    }

    fn u32(&self, off: usize, v: u32) -> core::result::Result<(), String> {
        let at = self.span(off, 4)?;
        self.map
            .write_u32(at, v)
            .ok_or_else(|| format!("u32 at payload offset {off} is misaligned"))
    }

    fn mutex(&self, off: usize, recursive: bool) -> core::result::Result<(), String> {
        let at = self.span(off, abi::RAW_MUTEX_SIZE)?;
        // SAFETY: the segment is still under its temporary name (FORMAT.md §3 steps 1-4), so no
        // other process or thread uses these bytes; `init_mutex` checks bounds and alignment.
        unsafe { self.map.init_mutex(at, recursive) }
            .map_err(|e| format!("mutex at payload offset {off}: {e}"))
    }

    fn value(&self, off: usize, ty: &Ty<'_>, depth: usize) -> core::result::Result<(), String> {
        self.span(off, ty.size)?;
        if let Elem::Struct(s) = ty.elem {
            if s.size == 0 {
                return Ok(()); // nothing to initialise in a zero-sized struct
            }
            let count = ty.size / s.size;
            if ty.size % s.size != 0
                || ty.dims().iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(count)
            {
                return Err(format!("array of {} has an inconsistent size", s.name));
            }
            for i in 0..count {
                self.structure(off + i * s.size, s, depth + 1)?;
            }
        }
        Ok(())
    }

    fn structure(
        &self,
        off: usize,
        s: &StructLayout<'_>,
        depth: usize,
    ) -> core::result::Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("structs nested deeper than {MAX_DEPTH} levels"));
        }
        self.span(off, s.size)?;
        for f in s.fields {
            let end = f.offset.checked_add(f.size).ok_or("field size overflows")?;
            if end > s.size {
                return Err(format!(
                    "field {}.{} lies outside its struct",
                    s.name, f.name
                ));
            }
            self.field(off + f.offset, f, depth)
                .map_err(|e| format!("{}.{}: {e}", s.name, f.name))?;
        }
        Ok(())
    }

    fn field(
        &self,
        off: usize,
        f: &FieldLayout<'_>,
        depth: usize,
    ) -> core::result::Result<(), String> {
        let bad = || "its kind's layout overflows".to_string();
        match f.kind {
            Kind::Plain(ty) => self.value(off, &ty, depth),
            Kind::Atomic(_) | Kind::Event => Ok(()),
            Kind::Mutex(ty) | Kind::RMutex(ty) => {
                let c = abi::mutex_layout(ty.size, ty.align).ok_or_else(bad)?;
                self.span(off, c.size)?;
                self.mutex(off, matches!(f.kind, Kind::RMutex(_)))?;
                self.value(off + c.value_offset, &ty, depth)
            }
            Kind::SeqLock(ty) => {
                let c = abi::seqlock_layout(ty.size, ty.align).ok_or_else(bad)?;
                self.span(off, c.size)?;
                self.mutex(off + 8, false)?;
                self.value(off + c.value_offset, &ty, depth)?;
                self.value(off + c.value_offset + c.stride, &ty, depth)
            }
            Kind::Semaphore { initial } => self.u32(off, initial),
            Kind::Ring { item, capacity } => {
                let c = abi::ring_layout(item.size, item.align, capacity).ok_or_else(bad)?;
                self.span(off, c.size)?;
                self.u64(off + 128, capacity as u64)?;
                self.u64(off + 136, c.stride as u64)?;
                let slot = abi::ring_slot_layout(item.size, item.align).ok_or_else(bad)?;
                for i in 0..capacity {
                    let s = off + c.value_offset + i * c.stride;
                    self.u64(s, i as u64)?;
                    self.value(s + slot.value_offset, &item, depth)?;
                }
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Segment
// ---------------------------------------------------------------------------------------------

/// How to create or open a [`Segment`]: `Segment::<T>::options().mode(0o640).create(name)`.
#[must_use = "options do nothing until create/open/open_or_create is called"]
pub struct SegmentOptions<'a, T: SharedLayout> {
    mode: u32,
    open_timeout: Duration,
    unlink_on_drop: bool,
    allow_foreign_owner: bool,
    #[allow(clippy::type_complexity)]
    init: Option<Box<dyn FnOnce(&mut T) + 'a>>,
}

impl<T: SharedLayout> core::fmt::Debug for SegmentOptions<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SegmentOptions")
            .field("mode", &format_args!("{:#o}", self.mode))
            .field("open_timeout", &self.open_timeout)
            .field("unlink_on_drop", &self.unlink_on_drop)
            .field("allow_foreign_owner", &self.allow_foreign_owner)
            .field("init", &self.init.is_some())
            .finish()
    }
}

impl<T: SharedLayout> Default for SegmentOptions<'_, T> {
    fn default() -> Self {
        SegmentOptions {
            mode: DEFAULT_MODE,
            open_timeout: DEFAULT_OPEN_TIMEOUT,
            unlink_on_drop: false,
            allow_foreign_owner: false,
            init: None,
        }
    }
}

impl<'a, T: SharedLayout> SegmentOptions<'a, T> {
    /// Permission bits of a new segment file (default `0o600`, private to its owner), applied
    /// with `fchmod` so the umask does not change them. Only the `0o777` bits are used.
    ///
    /// It is also the most an *opened* file may grant: `open` (and `open_or_create` finding an
    /// existing segment) refuses a file with any permission bit outside `mode`
    /// ([`Error::TooPermissive`]), so by default a group- or world-accessible segment is
    /// refused. Processes sharing a segment across users agree on a mode, e.g. `0o660`.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o777;
        self
    }

    /// Accept a segment file owned by another user (default: no, [`Error::ForeignOwner`]).
    /// The owner of a file can rewrite it and change its mode at any time, so only accept one
    /// from a user you trust as much as yourself (`docs/SECURITY.md`).
    pub fn allow_foreign_owner(mut self, yes: bool) -> Self {
        self.allow_foreign_owner = yes;
        self
    }

    fn checks(&self) -> OpenChecks {
        OpenChecks {
            timeout: self.open_timeout,
            allowed_mode: self.mode,
            allow_foreign_owner: self.allow_foreign_owner,
        }
    }

    /// How long `open` waits for a segment whose creator is still initialising it (default
    /// 5 s). A creator found dead is reported at once.
    pub fn open_timeout(mut self, timeout: Duration) -> Self {
        self.open_timeout = timeout;
        self
    }

    /// Remove the segment's name when this [`Segment`] is dropped (default: no; segments
    /// outlive their processes until [`Segment::unlink`]). The name is removed only if it
    /// still refers to this segment.
    pub fn unlink_on_drop(mut self, yes: bool) -> Self {
        self.unlink_on_drop = yes;
        self
    }

    /// Runs `f` on the new segment's root struct in the creator, after the primitives are
    /// initialised and before the segment becomes visible to anyone else. This is where plain
    /// (unsynchronised) fields get their initial values, and where locked values can be set
    /// without locking (`Mutex::get_mut`, `SeqLock::get_mut`). It does not run when the segment
    /// is opened rather than created. If `f` panics, the half-built segment is discarded.
    pub fn init(mut self, f: impl FnOnce(&mut T) + 'a) -> Self {
        self.init = Some(Box::new(f));
        self
    }

    /// Creates a new segment; [`Error::AlreadyExists`] if the name is taken.
    pub fn create(mut self, name: &str) -> Result<Segment<T>> {
        validate_name(name)?;
        let mut init = self.init.take();
        let seg = create_segment::<T>(name, self.mode, &mut init)?;
        Ok(seg.with_unlink_on_drop(self.unlink_on_drop))
    }

    /// Opens an existing segment, checking its layout against `T`.
    pub fn open(self, name: &str) -> Result<Segment<T>> {
        validate_name(name)?;
        let seg = open_segment::<T>(name, &self.checks())?;
        Ok(seg.with_unlink_on_drop(self.unlink_on_drop))
    }

    /// Opens the segment, or creates it if it does not exist. Of several processes racing,
    /// exactly one creates it ([`Segment::is_creator`]) and the others open it.
    ///
    /// A segment found under the name still "initialising" whose creator is dead (something
    /// shmgen's link-when-ready creation never leaves there, but a crafted file or another
    /// implementation might) is replaced: it is unlinked and a new one created, but only if,
    /// under an exclusive `flock` on that file, its state is still 0, its creator pid is still
    /// dead and the name still refers to that very file (`docs/FORMAT.md` §3).
    pub fn open_or_create(mut self, name: &str) -> Result<Segment<T>> {
        validate_name(name)?;
        let checks = self.checks();
        let mut init = self.init.take();
        let had_init = init.is_some();
        let mut last = None;
        for _ in 0..16 {
            match open_segment::<T>(name, &checks) {
                Ok(seg) => return Ok(seg.with_unlink_on_drop(self.unlink_on_drop)),
                Err(e @ Error::NotFound { .. }) => last = Some(e),
                Err(e @ Error::CreatorDied { .. }) => {
                    // Removed if still provably dead; either way go round: `open` reports what
                    // is under the name now, or `create` makes a new segment.
                    remove_dead_half_initialised(name, &checks)?;
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            }
            if had_init && init.is_none() {
                // The init closure was used by a creation that lost a race, and the winner's
                // segment vanished again: creating without the closure would skip the caller's
                // initial values, so report what `open` said.
                break;
            }
            match create_segment::<T>(name, self.mode, &mut init) {
                Ok(seg) => return Ok(seg.with_unlink_on_drop(self.unlink_on_drop)),
                Err(e @ Error::AlreadyExists { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::NotFound {
            name: name.to_owned(),
        }))
    }
}

/// A mapped shared-memory segment holding a `T`. Derefs to `&T`; unmaps on drop (and removes
/// the name too if [`SegmentOptions::unlink_on_drop`] was set). Keeps the file open (one
/// descriptor, close-on-exec) for [`Segment::check_size`].
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use shmgen_runtime::{Mutex, Segment, SeqLock, Str};
/// # use shmgen_runtime::{Field, FieldLayout, SharedLayout, StructLayout};
/// # use core::mem::{align_of, offset_of, size_of};
///
/// // Normally generated from a schema or derived with `#[derive(SharedLayout)]`.
/// #[repr(C)]
/// struct Metrics {
///     workers: Mutex<[i32; 4]>,
///     tasks_done: AtomicU64,
///     status: SeqLock<Str<32>>,
///     started_by: u32, // plain: set once, in `init`
/// }
/// # macro_rules! f { ($n:ident: $t:ty) => { FieldLayout { name: stringify!($n), doc: "",
/// #     offset: offset_of!(Metrics, $n), size: size_of::<$t>(), align: align_of::<$t>(),
/// #     kind: <$t as Field>::KIND } } }
/// # unsafe impl SharedLayout for Metrics {
/// #     const LAYOUT: StructLayout<'static> = StructLayout { name: "Metrics", doc: "",
/// #         size: size_of::<Metrics>(), align: align_of::<Metrics>(), fields: &[
/// #         f!(workers: Mutex<[i32; 4]>), f!(tasks_done: AtomicU64),
/// #         f!(status: SeqLock<Str<32>>), f!(started_by: u32)] };
/// # }
/// # let name = format!("shmgen-doc-{}", std::process::id());
///
/// let seg = Segment::<Metrics>::options()
///     .init(|m| m.started_by = std::process::id())
///     .unlink_on_drop(true)
///     .open_or_create(&name)?;
///
/// seg.workers.lock().expect("no holder died")[0] += 1;
/// seg.tasks_done.fetch_add(1, Ordering::Relaxed);
/// seg.status.write(Str::try_from_str("running")?);
///
/// // Another process (here: another mapping) sees the same memory.
/// let other = Segment::<Metrics>::open(&name)?;
/// assert_eq!(other.workers.lock().unwrap()[0], 1);
/// assert_eq!(other.status.read(), "running");
/// assert_eq!(other.started_by, std::process::id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Segment<T: SharedLayout> {
    map: Mapping,
    /// The open file, kept for [`Segment::check_size`].
    fd: OwnedFd,
    name: String,
    creator: bool,
    payload_offset: usize,
    file_id: (u64, u64),
    unlink_on_drop: bool,
    unlinked: AtomicBool,
    _marker: PhantomData<T>,
}

impl<T: SharedLayout> Segment<T> {
    /// Creates a new segment named `name` (mode 0600); [`Error::AlreadyExists`] if the name is
    /// taken. Its plain fields are zero; use [`Segment::options`] and
    /// [`SegmentOptions::init`] to give them values.
    pub fn create(name: &str) -> Result<Self> {
        Self::options().create(name)
    }

    /// Opens the existing segment `name`, checking that it holds a `T` (waits up to 5 s for a
    /// segment still initialising).
    pub fn open(name: &str) -> Result<Self> {
        Self::options().open(name)
    }

    /// Opens `name`, or creates it if it does not exist; racing processes end with exactly one
    /// creator.
    pub fn open_or_create(name: &str) -> Result<Self> {
        Self::options().open_or_create(name)
    }

    /// Options for creating or opening: mode, open timeout, unlink on drop, init closure.
    pub fn options<'a>() -> SegmentOptions<'a, T> {
        SegmentOptions::default()
    }

    fn with_unlink_on_drop(mut self, yes: bool) -> Self {
        self.unlink_on_drop = yes;
        self
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this process created the segment (rather than opened it).
    pub fn is_creator(&self) -> bool {
        self.creator
    }

    /// A copy of the segment's header.
    pub fn header(&self) -> HeaderInfo {
        let mut b = [0u8; abi::HEADER_SIZE];
        if let Some(h) = self.map.read_bytes::<{ abi::HEADER_SIZE }>(0) {
            b = h;
        }
        let info = HeaderInfo::parse(&self.name, &b, self.map.len() as u64);
        // The header was checked when the segment was mapped and is never rewritten by the
        // protocol; if another program overwrote it since, report what is there.
        info.unwrap_or_else(|_| HeaderInfo {
            header_version: self.map.read_u32(header::HEADER_VERSION).unwrap_or(0),
            state: self.map.read_u32(header::STATE).unwrap_or(0),
            fingerprint: 0,
            payload_offset: self.payload_offset as u64,
            payload_size: T::LAYOUT.size as u64,
            total_size: 0,
            creator_pid: 0,
            layout_version: 0,
            created_unix_ns: 0,
            root_name: String::new(),
            file_size: self.map.len() as u64,
        })
    }

    /// A raw pointer to the root struct in the mapping, with write permission: the way to write
    /// a plain (unsynchronised) field, such as a large array another process reads only after
    /// an event or a lock says it is complete.
    ///
    /// `Segment` only hands out `&T` (other processes map the same bytes, so no `&mut T` can be
    /// exclusive), and writing through a pointer obtained from a `&T` is undefined behaviour
    /// for fields without interior mutability. This pointer comes from the mapping itself.
    /// Derive field pointers without making references, e.g.
    /// `unsafe { core::ptr::addr_of_mut!((*seg.as_mut_ptr()).data) }`, then write through them.
    ///
    /// Writing is `unsafe` on the caller's side and needs, for the bytes written: no Rust
    /// reference to them alive in this process during the write (read plain fields through
    /// this pointer too, or only when no write can be in progress); and synchronisation with
    /// readers in every process (publish with an event, a lock or a release store, as the
    /// schema's protocol says). Synchronised fields (locks, atomics, rings, ...) must be used
    /// through `&T` instead. The pointer is valid while `self` is.
    pub fn as_mut_ptr(&self) -> *mut T {
        // Same address as `deref` (its SAFETY comment proves alignment and bounds), but derived
        // from the mapping's own pointer (PROT_READ | PROT_WRITE), not from a reference.
        self.map.ptr().wrapping_add(self.payload_offset).cast::<T>()
    }

    /// The size of the mapping (the file size when it was mapped).
    pub fn mapped_len(&self) -> usize {
        self.map.len()
    }

    /// Checks that the file is still at least as large as the mapping.
    ///
    /// A process allowed to write the file can `ftruncate` it smaller while others have it
    /// mapped; touching the vanished pages then raises `SIGBUS`, which no check can prevent
    /// (`docs/SECURITY.md`). Long-lived processes (monitors, tools) can call this before
    /// working on a segment, to turn most such accidents into an [`Error::Truncated`] instead;
    /// a shrink after the check still raises `SIGBUS`.
    pub fn check_size(&self) -> Result<()> {
        let info = sys::fstat(&self.fd)
            .map_err(|e| io_err(&self.name, format!("fstat {SHM_DIR}/{}", self.name), e))?;
        if info.size < self.map.len() as u64 {
            return Err(Error::Truncated {
                name: self.name.clone(),
                file_size: info.size,
                needed: self.map.len() as u64,
                what: "the mapping: the file was shrunk after it was mapped",
            });
        }
        Ok(())
    }

    /// Removes the segment's name from `/dev/shm`, so later `open`s fail and a new segment may
    /// be created under it. This process (and every other) keeps its mapping until dropped.
    ///
    /// If the name no longer refers to this segment (someone removed it and created another),
    /// the other segment is left alone and this returns `Ok`. [`Error::NotFound`] when the name
    /// does not exist any more.
    pub fn unlink(&self) -> Result<()> {
        let path = shm_path(&self.name);
        match sys::lstat(&path) {
            Ok(info) if info.id != self.file_id => return Ok(()),
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                return Err(Error::NotFound {
                    name: self.name.clone(),
                })
            }
            Err(e) => {
                return Err(io_err(
                    &self.name,
                    format!("lstat {SHM_DIR}/{}", self.name),
                    e,
                ))
            }
        }
        let r = remove(&self.name);
        if r.is_ok() {
            self.unlinked.store(true, Ordering::Relaxed);
        }
        r
    }
}

impl<T: SharedLayout> Deref for Segment<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: when this `Segment` was built, `check_type::<T>` proved `payload_offset` is a
        // multiple of `align_of::<T>()` (the mapping is page-aligned) and the open/create path
        // proved `payload_offset + size_of::<T>() <= map.len()`. The bytes are a valid `T`: the
        // creator zeroed them (fresh file) and initialised every primitive in place from
        // `T::LAYOUT` before publishing "ready", and `open` accepted the segment only for the
        // same fingerprint (`SharedLayout`'s contract: `LAYOUT` describes `T` exactly). Only
        // `&T` is handed out, and `T: Sync` synchronises shared access. The reference cannot
        // outlive the mapping, which is unmapped only when `self` is dropped.
        unsafe { &*self.map.ptr().add(self.payload_offset).cast::<T>() }
    }
}

impl<T: SharedLayout> Drop for Segment<T> {
    fn drop(&mut self) {
        if self.unlink_on_drop && !self.unlinked.load(Ordering::Relaxed) {
            let _ = self.unlink();
        }
    }
}

impl<T: SharedLayout> core::fmt::Debug for Segment<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("root", &T::LAYOUT.name)
            .field("creator", &self.creator)
            .field("len", &self.map.len())
            .finish_non_exhaustive()
    }
}

/// What this program expects of a segment holding `T`.
fn expected_id<T: SharedLayout>() -> LayoutId {
    LayoutId {
        root: T::LAYOUT.name.to_owned(),
        version: T::VERSION,
        fingerprint: T::FINGERPRINT,
        payload_size: T::LAYOUT.size as u64,
    }
}

/// Checks that `T`'s table agrees with rustc and fits a header; returns
/// `(payload_offset, total_size)`.
fn check_type<T: SharedLayout>() -> Result<(usize, usize)> {
    let l = &T::LAYOUT;
    let bad = |detail: String| Error::InvalidLayout {
        root: l.name.to_owned(),
        detail,
    };
    if l.size != core::mem::size_of::<T>() || l.align != core::mem::align_of::<T>() {
        return Err(bad(format!(
            "the type table says {} bytes aligned to {}, but the Rust type has {} bytes aligned to {}",
            l.size,
            l.align,
            core::mem::size_of::<T>(),
            core::mem::align_of::<T>()
        )));
    }
    if l.name.len() > abi::MAX_ROOT_NAME || l.name.as_bytes().contains(&0) {
        return Err(bad(format!(
            "the root name must be at most {} bytes without NUL",
            abi::MAX_ROOT_NAME
        )));
    }
    if !l.align.is_power_of_two() || l.align > abi::MAX_ALIGN {
        return Err(bad(format!(
            "alignment {} is not a power of two up to 4096",
            l.align
        )));
    }
    let payload_offset = abi::payload_offset(l.align);
    let total = payload_offset
        .checked_add(l.size)
        .and_then(|e| abi::round_up(e, 4096))
        .ok_or_else(|| bad("the segment size overflows".into()))?;
    Ok((payload_offset, total))
}

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Removes the temporary file when dropped (on every path out of `create_segment`).
struct TempName(CString);

impl Drop for TempName {
    fn drop(&mut self) {
        let _ = sys::unlink(&self.0);
    }
}

type InitFn<'a, T> = Option<Box<dyn FnOnce(&mut T) + 'a>>;

/// FORMAT.md §3 "Create". Consumes `init` (if any) once the segment is built.
fn create_segment<T: SharedLayout>(
    name: &str,
    mode: u32,
    init: &mut InitFn<'_, T>,
) -> Result<Segment<T>> {
    let (payload_offset, total) = check_type::<T>()?;
    let pid = sys::getpid();

    // 1. A private temporary file.
    let (fd, temp) = loop {
        let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!(".shmgen-{name}.{pid}.{seq}");
        let path = shm_path(&temp_name);
        match sys::open(&path, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, 0o600) {
            Ok(fd) => break (fd, TempName(path)),
            // A stale file from an earlier process that had our pid: try the next number.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && seq < u64::MAX => continue,
            Err(e) => return Err(io_err(name, format!("create {SHM_DIR}/{temp_name}"), e)),
        }
    };
    let temp_display = || temp.0.to_string_lossy().into_owned();
    sys::fchmod(&fd, mode).map_err(|e| io_err(name, format!("fchmod {}", temp_display()), e))?;
    crash_hook::reached(CrashPoint::AfterTempOpen);

    // 2. Size (all zeros) and map.
    sys::ftruncate(&fd, total as u64).map_err(|e| {
        io_err(
            name,
            format!("ftruncate {} to {total} bytes", temp_display()),
            e,
        )
    })?;
    crash_hook::reached(CrashPoint::AfterTruncate);
    let map = Mapping::map(&fd, total).map_err(|e| io_err(name, "mmap", e))?;
    let info = sys::fstat(&fd).map_err(|e| io_err(name, "fstat", e))?;

    // 3. The header, state 0 (the file is zero, so `state` already is).
    let l = &T::LAYOUT;
    let mut root = [0u8; header::ROOT_NAME_LEN];
    root[..l.name.len()].copy_from_slice(l.name.as_bytes());
    let header_ok = map.write_bytes(header::MAGIC, &abi::MAGIC).is_some()
        && map
            .write_u32(header::HEADER_VERSION, abi::HEADER_VERSION)
            .is_some()
        && map.write_u64(header::FINGERPRINT, T::FINGERPRINT).is_some()
        && map
            .write_u64(header::PAYLOAD_OFFSET, payload_offset as u64)
            .is_some()
        && map.write_u64(header::PAYLOAD_SIZE, l.size as u64).is_some()
        && map.write_u64(header::TOTAL_SIZE, total as u64).is_some()
        && map.write_u32(header::CREATOR_PID, pid).is_some()
        && map.write_u32(header::LAYOUT_VERSION, T::VERSION).is_some()
        && map
            .write_u64(header::CREATED_UNIX_NS, sys::unix_now_ns())
            .is_some()
        && map.write_bytes(header::ROOT_NAME, &root).is_some();
    if !header_ok {
        return Err(Error::InvalidLayout {
            root: l.name.to_owned(),
            detail: "the header does not fit the mapping".into(),
        });
    }
    crash_hook::reached(CrashPoint::AfterHeader);

    // 4. Every primitive, in place.
    let walker = Initialiser {
        map: &map,
        base: payload_offset,
        end: payload_offset + l.size,
    };
    walker
        .structure(0, l, 0)
        .map_err(|detail| Error::InvalidLayout {
            root: l.name.to_owned(),
            detail,
        })?;

    let mut seg = Segment {
        map,
        fd,
        name: name.to_owned(),
        creator: true,
        payload_offset,
        file_id: info.id,
        unlink_on_drop: false,
        unlinked: AtomicBool::new(false),
        _marker: PhantomData,
    };

    // The caller's initial values, while nobody else can see the segment.
    if let Some(f) = init.take() {
        // SAFETY: bounds and alignment as in `Deref` (`check_type` and the mapping of `total`
        // bytes); the bytes are a valid `T` (zeroed, primitives initialised above). The file is
        // only reachable under its private temporary name, so no other process uses it, and
        // `&mut seg` proves no other reference in this process exists.
        let t = unsafe { &mut *seg.map.ptr().add(payload_offset).cast::<T>() };
        f(t);
    }
    crash_hook::reached(CrashPoint::AfterInit);

    // 5. Ready, with release ordering: everything above happens-before any acquire load of 1.
    seg.map
        .atomic_u32(header::STATE)
        .ok_or_else(|| Error::InvalidLayout {
            root: l.name.to_owned(),
            detail: "the header does not fit the mapping".into(),
        })?
        .store(abi::STATE_READY, Ordering::Release);
    crash_hook::reached(CrashPoint::BeforeLink);

    // 6. Publish under the final name.
    let final_path = shm_path(name);
    match sys::link(&temp.0, &final_path) {
        Ok(()) => crash_hook::reached(CrashPoint::AfterLink),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            seg.creator = false;
            return Err(Error::AlreadyExists {
                name: name.to_owned(),
            });
        }
        Err(e) => {
            return Err(io_err(
                name,
                format!("link {} to {SHM_DIR}/{name}", temp_display()),
                e,
            ))
        }
    }
    drop(temp); // unlinks the temporary name
    Ok(seg)
}

/// How `open` opens an existing file: read-write; `O_NONBLOCK` so that a FIFO planted under the
/// name cannot block; `O_NOCTTY` so that a terminal device cannot become our controlling
/// terminal (`sys::open` adds `O_NOFOLLOW | O_CLOEXEC`).
const OPEN_FLAGS: libc::c_int = libc::O_RDWR | libc::O_NONBLOCK | libc::O_NOCTTY;

/// What `open` demands of an existing file beyond the format: how long to wait for "ready",
/// which permission bits it may have, and whether another user may own it.
struct OpenChecks {
    timeout: Duration,
    allowed_mode: u32,
    allow_foreign_owner: bool,
}

/// The checks on the open file itself, before a byte of it is read: a regular file, owned by
/// us (unless allowed), granting no permission beyond `allowed_mode`.
fn check_file(name: &str, info: &sys::FileInfo, checks: &OpenChecks) -> Result<()> {
    if !info.is_regular {
        return Err(Error::NotRegularFile {
            name: name.to_owned(),
            what: info.kind,
        });
    }
    let euid = sys::geteuid();
    if info.uid != euid && !checks.allow_foreign_owner {
        return Err(Error::ForeignOwner {
            name: name.to_owned(),
            owner: info.uid,
            expected: euid,
        });
    }
    let extra = info.mode & !checks.allowed_mode;
    if extra != 0 {
        return Err(Error::TooPermissive {
            name: name.to_owned(),
            mode: info.mode,
            allowed: checks.allowed_mode,
            extra,
        });
    }
    Ok(())
}

/// FORMAT.md §3 "Open".
fn open_segment<T: SharedLayout>(name: &str, checks: &OpenChecks) -> Result<Segment<T>> {
    let (payload_offset, _) = check_type::<T>()?;
    let timeout = checks.timeout;
    let path = shm_path(name);
    let fd = sys::open(&path, OPEN_FLAGS, 0).map_err(|e| open_error(name, e))?;
    let info = sys::fstat(&fd).map_err(|e| io_err(name, format!("fstat {SHM_DIR}/{name}"), e))?;
    check_file(name, &info, checks)?;
    let header_size = abi::HEADER_SIZE as u64;
    if info.size < header_size {
        return Err(Error::Truncated {
            name: name.to_owned(),
            file_size: info.size,
            needed: header_size,
            what: "the header",
        });
    }
    let len = usize::try_from(info.size).map_err(|_| Error::CorruptHeader {
        name: name.to_owned(),
        detail: format!("file size {} does not fit the address space", info.size),
    })?;
    let map = Mapping::map(&fd, len).map_err(|e| io_err(name, "mmap", e))?;

    // The header lies within the first 128 bytes, which the file has (checked above).
    let corrupt = || Error::CorruptHeader {
        name: name.to_owned(),
        detail: "the header cannot be read".into(),
    };
    check_magic(
        name,
        map.read_bytes::<8>(header::MAGIC).ok_or_else(corrupt)?,
    )?;
    check_header_version(
        name,
        map.read_u32(header::HEADER_VERSION).ok_or_else(corrupt)?,
    )?;

    // State: wait for ready, but not for a dead creator.
    let state = map.atomic_u32(header::STATE).ok_or_else(corrupt)?;
    let start = Instant::now();
    let mut pause = Duration::from_micros(100);
    loop {
        match state.load(Ordering::Acquire) {
            abi::STATE_READY => break,
            abi::STATE_INITIALISING => {}
            other => {
                return Err(Error::CorruptHeader {
                    name: name.to_owned(),
                    detail: format!("state is {other}, neither 0 (initialising) nor 1 (ready)"),
                })
            }
        }
        let pid = map.read_u32(header::CREATOR_PID).ok_or_else(corrupt)?;
        if !sys::pid_alive(pid) {
            return Err(Error::CreatorDied {
                name: name.to_owned(),
                pid,
            });
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(Error::Timeout {
                name: name.to_owned(),
                waited,
                pid,
            });
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(10));
    }

    // Layout identity.
    let hdr = map
        .read_bytes::<{ abi::HEADER_SIZE }>(0)
        .ok_or_else(corrupt)?;
    let found = HeaderInfo::parse(name, &hdr, info.size)?;
    let expected = expected_id::<T>();
    let found_id = found.layout_id();
    if found_id != expected {
        return Err(Error::LayoutMismatch {
            name: name.to_owned(),
            found: found_id,
            expected,
        });
    }
    if found.payload_offset != payload_offset as u64 {
        return Err(Error::CorruptHeader {
            name: name.to_owned(),
            detail: format!(
                "payload offset is {} but the layout puts the payload at {}",
                found.payload_offset, payload_offset
            ),
        });
    }

    // Sizes against the real file.
    let payload_end = found.payload_offset.saturating_add(found.payload_size);
    if found.total_size < payload_end {
        return Err(Error::CorruptHeader {
            name: name.to_owned(),
            detail: format!(
                "total_size {} is smaller than the payload's end {payload_end}",
                found.total_size
            ),
        });
    }
    if payload_end > info.size {
        return Err(Error::Truncated {
            name: name.to_owned(),
            file_size: info.size,
            needed: payload_end,
            what: "the payload",
        });
    }
    if found.total_size > info.size {
        return Err(Error::Truncated {
            name: name.to_owned(),
            file_size: info.size,
            needed: found.total_size,
            what: "the header's total_size",
        });
    }

    Ok(Segment {
        map,
        fd,
        name: name.to_owned(),
        creator: false,
        payload_offset,
        file_id: info.id,
        unlink_on_drop: false,
        unlinked: AtomicBool::new(false),
        _marker: PhantomData,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "metrics", "A-b_c.9", &"x".repeat(200)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            (".hidden", "starts with '.'"),
            ("a/b", "outside"),
            ("a b", "outside"),
            ("é", "outside"),
            ("a\0b", "outside"),
            (&"x".repeat(201), "longer"),
        ] {
            let e = validate_name(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
