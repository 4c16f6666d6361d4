//! The subcommands. Each parses its own arguments (clap) and returns an exit code or an error;
//! `main` turns errors into messages and exit codes (a typed `shmgen_codegen::Error` or a
//! [`Usage`] error tell which).

pub mod build;
pub mod check;
pub mod gc;
pub mod inspect;
pub mod layout;
pub mod list;
pub mod rm;
pub mod watch;

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Value as Json};
use shmgen_codegen::Schema;
use shmgen_runtime::abi;
use shmgen_runtime::segment::validate_name;

use crate::shm::{self, Header};

/// A schema error, stale generated files, a write failure, or a segment problem.
pub const EXIT_FAILURE: u8 = 1;
/// Bad arguments or unreadable input.
pub const EXIT_USAGE: u8 = 2;

/// A usage error found after argument parsing (an invalid segment name, ...): exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Checks a segment name given on the command line (a [`Usage`] error if invalid).
pub fn check_name(name: &str) -> anyhow::Result<()> {
    validate_name(name).map_err(|e| anyhow!(Usage(e.to_string())))
}

/// Compiles a schema file; the `shmgen_codegen::Error` is kept for `main`'s exit code.
pub fn load_schema(path: &Path) -> anyhow::Result<Schema> {
    Ok(shmgen_codegen::parse_file(path)?)
}

/// A copy of a segment's header and payload, read with `pread` from the file (no mapping, no
/// locks: a snapshot that concurrent writers may change while it is taken).
#[derive(Debug)]
pub struct Snapshot {
    /// The segment name.
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// The header.
    pub header: Header,
    /// The file size.
    pub file_size: u64,
    /// `(st_dev, st_ino)`.
    pub id: (u64, u64),
    /// The payload bytes (empty unless read with a payload).
    pub payload: Vec<u8>,
}

fn open_segment_file(name: &str) -> anyhow::Result<(File, PathBuf, std::fs::Metadata)> {
    check_name(name)?;
    let path = shm::shm_dir().join(name);
    let md = match std::fs::symlink_metadata(&path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "no segment named {name:?} ({} does not exist)",
                path.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot stat {}", path.display())),
    };
    if !md.file_type().is_file() {
        bail!(
            "{} is not a regular file: not a shmgen segment",
            path.display()
        );
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let md = f.metadata()?;
    Ok((f, path, md))
}

/// Reads segment `name`'s header (and, with `payload`, its payload) from `/dev/shm`.
pub fn snapshot(name: &str, payload: bool) -> anyhow::Result<Snapshot> {
    let (f, path, md) = open_segment_file(name)?;
    let mut head = vec![0u8; abi::HEADER_SIZE];
    let n = read_at(&f, &mut head, 0)?;
    let header = Header::decode(&head[..n], md.len()).ok_or_else(|| {
        anyhow!(
            "{} is not a shmgen segment (no shmgen magic in its first bytes)",
            path.display()
        )
    })?;
    let mut snap = Snapshot {
        name: name.to_owned(),
        path,
        header,
        file_size: md.len(),
        id: (md.dev(), md.ino()),
        payload: Vec::new(),
    };
    if payload {
        let h = &snap.header;
        let end = h.payload_offset.checked_add(h.payload_size);
        match end {
            Some(end) if end <= snap.file_size && h.payload_size <= usize::MAX as u64 => {}
            _ => bail!(
                "segment {name:?} is truncated or corrupt: its header puts {} payload bytes at offset {}, but the file has {} bytes",
                h.payload_size,
                h.payload_offset,
                snap.file_size
            ),
        }
        let mut buf = vec![0u8; h.payload_size as usize];
        let got = read_at(&f, &mut buf, h.payload_offset)?;
        if got < buf.len() {
            bail!("segment {name:?} shrank while it was read");
        }
        snap.payload = buf;
    }
    Ok(snap)
}

fn read_at(f: &File, buf: &mut [u8], off: u64) -> anyhow::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("read failed"),
        }
    }
    Ok(done)
}

/// `Metrics v1 (fingerprint 0x..., 1400 bytes)`, as the runtime's mismatch errors show a side.
pub fn layout_id(root: &str, version: u32, fingerprint: u64, size: u64) -> String {
    format!("{root} v{version} (fingerprint {fingerprint:#018x}, {size} bytes)")
}

/// Checks that `schema` describes the segment; the error names both sides.
pub fn check_schema(snap: &Snapshot, schema: &Schema, schema_path: &Path) -> anyhow::Result<()> {
    let h = &snap.header;
    let (size, align) = schema.with_layouts(|set| (set.root.size, set.root.align));
    let fp = schema.fingerprint();
    if fp != h.fingerprint
        || h.root_name != schema.root()
        || h.layout_version != schema.version()
        || h.payload_size != size as u64
    {
        bail!(
            "layout mismatch: segment {:?} holds {}, but {} describes {}; refusing to decode it",
            snap.name,
            layout_id(
                &h.root_name,
                h.layout_version,
                h.fingerprint,
                h.payload_size
            ),
            schema_path.display(),
            layout_id(schema.root(), schema.version(), fp, size as u64),
        );
    }
    if h.payload_offset != abi::payload_offset(align) as u64 {
        bail!(
            "segment {:?} has a corrupt header: payload offset {} (expected {})",
            snap.name,
            h.payload_offset,
            abi::payload_offset(align)
        );
    }
    Ok(())
}

/// The header as JSON.
pub fn header_json(h: &Header) -> Json {
    json!({
        "header_version": h.header_version,
        "state": shm::state_name(h),
        "root": h.root_name,
        "version": h.layout_version,
        "fingerprint": format!("{:#018x}", h.fingerprint),
        "payload_offset": h.payload_offset,
        "payload_size": h.payload_size,
        "total_size": h.total_size,
        "creator_pid": h.creator_pid,
        "created_unix_ns": h.created_unix_ns,
    })
}

/// `pid 12 (python3, maps it)`, ... for the processes using a file.
pub fn users_text(users: &[shm::User]) -> String {
    users
        .iter()
        .map(|u| {
            let how = if u.maps { "maps it" } else { "has it open" };
            format!("pid {} ({}, {how})", u.pid, u.comm)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The users of a file as JSON.
pub fn users_json(users: &[shm::User]) -> Json {
    Json::Array(
        users
            .iter()
            .map(|u| json!({ "pid": u.pid, "comm": u.comm, "maps": u.maps }))
            .collect(),
    )
}
