//! What the tools know about `/dev/shm`: which files are shmgen segments (header decoded from a
//! plain read of the file, never a mapping), which are creators' temporary files, whether a pid
//! is alive, and which live processes map or hold open a file (from `/proc/*/maps` and
//! `/proc/*/fd`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use shmgen_runtime::abi;
use shmgen_runtime::segment::{parse_temp_name, validate_name, SHM_DIR};

/// The directory the tools scan: `/dev/shm`, or `$SHMGEN_SHM_DIR` in tests of the tools.
pub fn shm_dir() -> PathBuf {
    std::env::var_os("SHMGEN_SHM_DIR").map_or_else(|| PathBuf::from(SHM_DIR), PathBuf::from)
}

/// A segment header, decoded by the runtime (`HeaderInfo::decode`: the magic is checked, the
/// rest shown as it is).
pub type Header = shmgen_runtime::segment::HeaderInfo;

/// `ready`, `initialising`, or `state N` for anything else.
pub fn state_name(h: &Header) -> String {
    match h.state {
        abi::STATE_READY => "ready".into(),
        abi::STATE_INITIALISING => "initialising".into(),
        n => format!("state {n}"),
    }
}

/// The age of the segment now, in seconds (0 when the clock disagrees).
pub fn age_secs(h: &Header) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (now.saturating_sub(u128::from(h.created_unix_ns)) / 1_000_000_000) as u64
}

/// What a file in `/dev/shm` is, as far as shmgen is concerned.
#[derive(Clone, Debug)]
pub enum EntryKind {
    /// A segment: a regular file with the shmgen magic under a valid segment name.
    Segment(Header),
    /// A creator's temporary file `.shmgen-NAME.PID.SEQ` (its header, if written yet).
    Temp {
        /// The segment it was going to become.
        segment: String,
        /// The creator's pid (from the file name).
        pid: u32,
        /// The header, if the creator got that far.
        header: Option<Header>,
    },
}

/// A shmgen file in `/dev/shm`.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file name.
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// File size.
    pub size: u64,
    /// Owner uid.
    pub uid: u32,
    /// `(st_dev, st_ino)`.
    pub id: (u64, u64),
    /// What it is.
    pub kind: EntryKind,
}

impl Entry {
    /// The creator's pid.
    pub fn creator_pid(&self) -> u32 {
        match &self.kind {
            EntryKind::Segment(h) => h.creator_pid,
            EntryKind::Temp { pid, .. } => *pid,
        }
    }

    /// The header, when there is one.
    pub fn header(&self) -> Option<&Header> {
        match &self.kind {
            EntryKind::Segment(h) => Some(h),
            EntryKind::Temp { header, .. } => header.as_ref(),
        }
    }
}

/// Reads at most the first 128 bytes of a regular file without following symbolic links or
/// blocking on FIFOs. `None` for anything else.
pub fn read_head(path: &Path) -> Option<(Vec<u8>, fs::Metadata)> {
    let md = fs::symlink_metadata(path).ok()?;
    if !md.file_type().is_file() {
        return None;
    }
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let md = f.metadata().ok()?;
    if !md.is_file() {
        return None;
    }
    let mut b = Vec::with_capacity(abi::HEADER_SIZE);
    (&mut f)
        .take(abi::HEADER_SIZE as u64)
        .read_to_end(&mut b)
        .ok()?;
    Some((b, md))
}

/// Classifies one file of the shm directory; `None` when it is not a shmgen file.
pub fn classify(dir: &Path, name: &str) -> Option<Entry> {
    let path = dir.join(name);
    if let Some(t) = parse_temp_name(name) {
        let (head, md) = read_head(&path)?;
        return Some(Entry {
            name: name.to_owned(),
            path,
            size: md.len(),
            uid: md.uid(),
            id: (md.dev(), md.ino()),
            kind: EntryKind::Temp {
                segment: t.segment,
                pid: t.pid,
                header: Header::decode(&head, md.len()),
            },
        });
    }
    validate_name(name).ok()?;
    let (head, md) = read_head(&path)?;
    let h = Header::decode(&head, md.len())?;
    Some(Entry {
        name: name.to_owned(),
        path,
        size: md.len(),
        uid: md.uid(),
        id: (md.dev(), md.ino()),
        kind: EntryKind::Segment(h),
    })
}

/// Every shmgen file in the shm directory, sorted by name.
pub fn scan(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut out: Vec<Entry> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| classify(dir, n)))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Whether a process (or thread id) is alive: `kill(pid, 0)` succeeds or fails with `EPERM`,
/// and `/proc/PID/stat` does not show a zombie (`Z`/`X`: dead, not yet reaped by its parent).
/// 0 and pids that do not fit a positive `pid_t` count as dead.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if p <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only checks that `p` (> 0, one process) exists.
    let r = unsafe { libc::kill(p, 0) };
    if r != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        return false;
    }
    // "pid (comm) S ...": comm may contain anything, so look after the last ')'.
    match fs::read(format!("/proc/{pid}/stat")) {
        Ok(stat) => match stat.iter().rposition(|&c| c == b')') {
            Some(close) => !matches!(stat.get(close + 2), Some(b'Z' | b'X')),
            None => true,
        },
        // kill() found it but /proc does not show it (another pid namespace): alive.
        Err(_) => true,
    }
}

/// Whether a thread id is alive (as [`pid_alive`]: `kill` and `/proc/TID` accept thread ids).
pub fn tid_alive(tid: u32) -> bool {
    pid_alive(tid)
}

/// This process's effective uid.
pub fn euid() -> u32 {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A process that maps or holds open a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Its pid.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub comm: String,
    /// True when it maps the file (else it only has it open).
    pub maps: bool,
}

/// Which live processes map or hold open which files, by `(st_dev, st_ino)`, from one pass
/// over `/proc`. `unreadable` counts processes whose maps could not be read (another user's,
/// without privileges): a file may be in use by one of them.
#[derive(Clone, Debug, Default)]
pub struct Users {
    /// Users of each file.
    pub by_file: BTreeMap<(u64, u64), Vec<User>>,
    /// Processes whose `/proc` entries could not be read.
    pub unreadable: usize,
}

impl Users {
    /// Scans `/proc` for mappings and open descriptors of files in `shm` (this process's own
    /// entries are skipped: the tools never map what they look at).
    pub fn scan(shm: &Path) -> Users {
        let mut users = Users::default();
        let me = std::process::id();
        let Ok(procs) = fs::read_dir("/proc") else {
            return users;
        };
        let shm_dev = fs::metadata(shm).map(|m| m.dev()).ok();
        let prefix = format!("{}/", shm.display());
        for p in procs.filter_map(Result::ok) {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            let dir = p.path();
            let comm = fs::read_to_string(dir.join("comm"))
                .map(|s| s.trim_end().to_owned())
                .unwrap_or_default();
            let mut found: BTreeMap<(u64, u64), bool> = BTreeMap::new();
            match fs::read_to_string(dir.join("maps")) {
                Ok(maps) => {
                    for line in maps.lines() {
                        if let Some(id) = parse_maps_line(line, &prefix, shm_dev) {
                            found.insert(id, true);
                        }
                    }
                }
                Err(_) => {
                    if dir.exists() {
                        users.unreadable += 1;
                    }
                    continue;
                }
            }
            if let Ok(fds) = fs::read_dir(dir.join("fd")) {
                for fd in fds.filter_map(Result::ok) {
                    let Ok(target) = fs::read_link(fd.path()) else {
                        continue;
                    };
                    if !target.to_string_lossy().starts_with(&prefix) {
                        continue;
                    }
                    if let Ok(md) = fs::metadata(fd.path()) {
                        found.entry((md.dev(), md.ino())).or_insert(false);
                    }
                }
            }
            for (id, maps) in found {
                users.by_file.entry(id).or_default().push(User {
                    pid,
                    comm: comm.clone(),
                    maps,
                });
            }
        }
        users
    }

    /// The users of a file.
    pub fn of(&self, id: (u64, u64)) -> &[User] {
        self.by_file.get(&id).map_or(&[], Vec::as_slice)
    }
}

/// `(st_dev, st_ino)` of the file a `/proc/PID/maps` line maps, when it lies in the shm
/// directory (`path` may end in ` (deleted)`). The device is `major:minor` in hex.
fn parse_maps_line(line: &str, prefix: &str, shm_dev: Option<u64>) -> Option<(u64, u64)> {
    let mut it = line.splitn(6, ' ');
    let _range = it.next()?;
    let _perms = it.next()?;
    let _offset = it.next()?;
    let dev = it.next()?;
    let inode: u64 = it.next()?.parse().ok()?;
    let path = it.next()?.trim_start();
    if inode == 0 || !path.starts_with(prefix) {
        return None;
    }
    let (major, minor) = dev.split_once(':')?;
    let major = u64::from_str_radix(major, 16).ok()?;
    let minor = u64::from_str_radix(minor, 16).ok()?;
    let dev = libc::makedev(major as u32, minor as u32);
    // The directory's own device is authoritative when known (the encoding could differ).
    Some((shm_dev.unwrap_or(dev), inode))
}

/// Whether `name` passes a `--prefix` filter (no filter: everything passes).
pub fn matches_prefix(prefix: Option<&str>, name: &str) -> bool {
    prefix.map_or(true, |p| name.starts_with(p))
}

/// `3s`, `5m12s`, `2h03m`, `4d02h`.
pub fn human_age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `512 B`, `20.0 KiB`, `1.5 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let l = "7f1c2a000000-7f1c2a005000 rw-s 00000000 00:1a 12345                      /dev/shm/m (deleted)";
        assert_eq!(parse_maps_line(l, "/dev/shm/", Some(7)), Some((7, 12345)));
        assert_eq!(parse_maps_line(l, "/tmp/", Some(7)), None);
        let anon = "7ffd-7ffe rw-p 00000000 00:00 0                          [stack]";
        assert_eq!(parse_maps_line(anon, "/dev/shm/", None), None);
    }

    #[test]
    fn humans() {
        assert_eq!(human_age(3), "3s");
        assert_eq!(human_age(312), "5m12s");
        assert_eq!(human_age(7380), "2h03m");
        assert_eq!(human_age(86_400 * 4 + 7200), "4d02h");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(20480), "20.0 KiB");
    }

    #[test]
    fn headers_need_the_magic() {
        let mut b = vec![0u8; 128];
        assert!(Header::decode(&b, 128).is_none());
        b[..8].copy_from_slice(&abi::MAGIC);
        b[48..52].copy_from_slice(&42u32.to_ne_bytes());
        b[64..67].copy_from_slice(b"Abc");
        let h = Header::decode(&b, 128).unwrap();
        assert_eq!((h.creator_pid, h.root_name.as_str()), (42, "Abc"));
        assert!(Header::decode(&b[..100], 128).is_none());
    }
}
