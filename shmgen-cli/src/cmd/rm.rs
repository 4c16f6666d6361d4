//! `shmgen rm NAME... [--force]`: removes segments by name, refusing files that are not shmgen
//! segments and segments that live processes still use (unless `--force`).

use std::process::ExitCode;

use crate::shm::{self, Users};

/// Arguments of `shmgen rm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Segment names (files in /dev/shm), or creators' temporary files (`.shmgen-*`).
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
    /// Also remove a file without the shmgen magic (a damaged segment), or one that live
    /// processes still map (they keep their mapping; a new segment under the name will not be
    /// theirs).
    #[arg(long)]
    force: bool,
}

/// Runs `shmgen rm`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let dir = shm::shm_dir();
    let users = Users::scan(&dir);
    let mut failed = 0;
    for name in &args.names {
        match remove_one(&dir, name, args.force, &users) {
            Ok(msg) => println!("{msg}"),
            Err(msg) => {
                eprintln!("error: {msg}");
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILURE)
    })
}

fn remove_one(
    dir: &std::path::Path,
    name: &str,
    force: bool,
    users: &Users,
) -> Result<String, String> {
    let temp = shmgen_runtime::segment::parse_temp_name(name).is_some();
    if !temp {
        shmgen_runtime::segment::validate_name(name).map_err(|e| e.to_string())?;
    }
    let path = dir.join(name);
    let md = match std::fs::symlink_metadata(&path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("no segment named {name:?} in {}", dir.display()))
        }
        Err(e) => return Err(format!("cannot stat {}: {e}", path.display())),
    };
    if !md.file_type().is_file() {
        return Err(format!(
            "{} is not a regular file; shmgen rm removes only segments",
            path.display()
        ));
    }
    let entry = shm::classify(dir, name);
    let Some(entry) = entry else {
        if !force {
            return Err(format!(
                "{} is not a shmgen segment (no shmgen magic); --force removes it anyway",
                path.display()
            ));
        }
        return unlink(&path, name, "not a shmgen segment, removed with --force");
    };
    let using = users.of(entry.id);
    if !using.is_empty() && !force {
        return Err(format!(
            "segment {name:?} is in use by {}; --force removes the name anyway (they keep their mapping)",
            super::users_text(using)
        ));
    }
    let note = if using.is_empty() {
        String::new()
    } else {
        format!(
            "; still used by {}, which keep their mapping",
            super::users_text(using)
        )
    };
    unlink(&path, name, &note)
}

fn unlink(path: &std::path::Path, name: &str, note: &str) -> Result<String, String> {
    std::fs::remove_file(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    let sep = if note.is_empty() || note.starts_with(';') {
        ""
    } else {
        ": "
    };
    Ok(format!("removed {name}{sep}{note}"))
}
