//! `shmgen gc [--dry-run] [--prefix P]`: removes the shmgen segments and creators' temporary
//! files (`.shmgen-*`) whose creator is dead and that no live process maps or holds open.
//! Never touches anything else; says why it kept each shmgen file it did not remove.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::shm::{self, EntryKind, Users};

/// Arguments of `shmgen gc`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only names starting with this (a temporary file counts by its segment's name).
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
}

/// Runs `shmgen gc`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let dir = shm::shm_dir();
    let entries = shm::scan(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let users = Users::scan(&dir);
    let me = shm::euid();
    let (mut removed, mut kept, mut failed) = (0, 0, 0);
    for e in &entries {
        let seg_name = match &e.kind {
            EntryKind::Segment(_) => &e.name,
            EntryKind::Temp { segment, .. } => segment,
        };
        if !shm::matches_prefix(args.prefix.as_deref(), seg_name) {
            continue;
        }
        let pid = e.creator_pid();
        let using = users.of(e.id);
        let what = match e.kind {
            EntryKind::Segment(_) => "segment",
            EntryKind::Temp { .. } => "incomplete segment",
        };
        let mode = std::fs::symlink_metadata(&e.path).map_or(0o777, |m| m.permissions().mode());
        let keep = if e.uid != me {
            Some(format!("owned by uid {}, not by you", e.uid))
        } else if shm::pid_alive(pid) {
            Some(format!("its creator pid {pid} is alive"))
        } else if !using.is_empty() {
            Some(format!("in use by {}", super::users_text(using)))
        } else if users.unreadable > 0 && mode & 0o066 != 0 {
            Some(format!(
                "{} processes could not be checked and the file's mode {:o} lets others map it",
                users.unreadable,
                mode & 0o777
            ))
        } else {
            None
        };
        if let Some(why) = keep {
            kept += 1;
            println!("kept {}: {why}", e.name);
            continue;
        }
        let why = format!("{what}, creator pid {pid} is dead and no process uses it");
        if args.dry_run {
            removed += 1;
            println!("would remove {}: {why}", e.name);
            continue;
        }
        // The name must still be the file we examined (not replaced since the scan).
        let same = std::fs::symlink_metadata(&e.path)
            .is_ok_and(|m| m.file_type().is_file() && (m.dev(), m.ino()) == e.id);
        if !same {
            kept += 1;
            println!("kept {}: it changed while gc was looking", e.name);
            continue;
        }
        match std::fs::remove_file(&e.path) {
            Ok(()) => {
                removed += 1;
                println!("removed {}: {why}", e.name);
            }
            Err(err) => {
                failed += 1;
                eprintln!("error: cannot remove {}: {err}", e.path.display());
            }
        }
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    println!("gc: {verb} {removed}, kept {kept}");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILURE)
    })
}
