//! The errors of segment operations ([`Error`]), each naming the segment and, for mismatches,
//! both sides.

use core::fmt;
use core::time::Duration;
use std::io;

/// What identifies a layout in a segment header or in a program: root struct name, user
/// version, fingerprint and payload size. Displays as
/// `Metrics v1 (fingerprint 0x0123456789abcdef, 1400 bytes)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutId {
    /// The root struct's name.
    pub root: String,
    /// The user's layout version.
    pub version: u32,
    /// The layout fingerprint.
    pub fingerprint: u64,
    /// The size of the root struct in bytes.
    pub payload_size: u64,
}

impl fmt::Display for LayoutId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} v{} (fingerprint 0x{:016x}, {} bytes)",
            self.root, self.version, self.fingerprint, self.payload_size
        )
    }
}

/// Why creating, opening or removing a segment failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The name is not 1 to 200 of `[A-Za-z0-9._-]` not starting with `.`.
    #[error("invalid segment name {name:?}: {reason} (names are 1 to 200 of [A-Za-z0-9._-], not starting with '.')")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `open`: no segment with this name exists.
    #[error("segment {name:?} does not exist (no /dev/shm/{name})")]
    NotFound {
        /// The segment name.
        name: String,
    },
    /// `create`: a segment with this name already exists.
    #[error("segment {name:?} already exists (/dev/shm/{name})")]
    AlreadyExists {
        /// The segment name.
        name: String,
    },
    /// The segment holds another layout than the program expects.
    #[error("segment {name:?} holds {found} but this program expects {expected}")]
    LayoutMismatch {
        /// The segment name.
        name: String,
        /// What the segment's header says.
        found: LayoutId,
        /// What this program's type says.
        expected: LayoutId,
    },
    /// The file does not start with shmgen's magic bytes: not a shmgen segment.
    #[error("segment {name:?} is not a shmgen segment: its first bytes are {found:02x?}, expected {expected:02x?} (b\"SHMGEN\\0\\x01\")")]
    BadMagic {
        /// The segment name.
        name: String,
        /// The file's first 8 bytes.
        found: [u8; 8],
        /// shmgen's magic.
        expected: [u8; 8],
    },
    /// The header has a version this runtime does not implement.
    #[error("segment {name:?} has header version {found}, but this runtime supports header version {supported}")]
    UnsupportedHeaderVersion {
        /// The segment name.
        name: String,
        /// The header's version.
        found: u32,
        /// The version this runtime implements.
        supported: u32,
    },
    /// The file is shorter than the header (or the layout) needs.
    #[error("segment {name:?} is truncated: the file has {file_size} bytes but {needed} are needed ({what})")]
    Truncated {
        /// The segment name.
        name: String,
        /// The file's size.
        file_size: u64,
        /// The size needed.
        needed: u64,
        /// What needs it.
        what: &'static str,
    },
    /// The header is internally inconsistent (e.g. a payload offset that does not match the
    /// layout's alignment).
    #[error("segment {name:?} has a corrupt header: {detail}")]
    CorruptHeader {
        /// The segment name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The segment is still initialising and its creator is no longer alive.
    #[error("segment {name:?} was left half-initialised: its creator (pid {pid}) died before it was ready; remove it and create it again")]
    CreatorDied {
        /// The segment name.
        name: String,
        /// The creator's pid, from the header.
        pid: u32,
    },
    /// The segment did not become ready within the open timeout.
    #[error("timed out after {waited:?} waiting for segment {name:?} to be ready (its creator, pid {pid}, is still initialising it)")]
    Timeout {
        /// The segment name.
        name: String,
        /// How long `open` waited.
        waited: Duration,
        /// The creator's pid, from the header.
        pid: u32,
    },
    /// `/dev/shm/NAME` is a symbolic link, a directory or another non-regular file.
    #[error("segment {name:?}: /dev/shm/{name} is {what}, not a regular file")]
    NotRegularFile {
        /// The segment name.
        name: String,
        /// What it is instead.
        what: &'static str,
    },
    /// The file belongs to another user: whoever owns it can rewrite its bytes and permissions
    /// at will. Refused unless [`crate::SegmentOptions::allow_foreign_owner`] says otherwise.
    #[error("segment {name:?}: /dev/shm/{name} is owned by uid {owner}, not by this process's effective uid {expected}; refusing a segment another user controls (SegmentOptions::allow_foreign_owner(true) accepts it)")]
    ForeignOwner {
        /// The segment name.
        name: String,
        /// The file's owner (`st_uid`).
        owner: u32,
        /// This process's effective uid.
        expected: u32,
    },
    /// The file grants more access than the opener allows: permission bits outside the
    /// opener's [`crate::SegmentOptions::mode`] (default `0o600`), e.g. a group- or
    /// world-writable file that anyone could scribble on.
    #[error("segment {name:?}: /dev/shm/{name} has mode {mode:#05o}, which grants {extra:#05o} beyond the allowed {allowed:#05o}; refusing a segment others may read or write (chmod it, or open with SegmentOptions::mode({mode:#05o}) to accept)")]
    TooPermissive {
        /// The segment name.
        name: String,
        /// The file's permission bits (`st_mode & 0o7777`).
        mode: u32,
        /// The bits the opener allows.
        allowed: u32,
        /// `mode & !allowed`: what is too much.
        extra: u32,
    },
    /// The type's layout table cannot describe a segment (a bad hand-written `SharedLayout`).
    #[error("layout {root}: {detail}")]
    InvalidLayout {
        /// The root struct's name.
        root: String,
        /// What is wrong.
        detail: String,
    },
    /// A system call failed.
    #[error("segment {name:?}: {op} failed: {source}")]
    Io {
        /// The segment name.
        name: String,
        /// The operation (`"open /dev/shm/NAME"`, `"mmap"`, ...).
        op: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// `Result<T, shmgen_runtime::Error>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;
