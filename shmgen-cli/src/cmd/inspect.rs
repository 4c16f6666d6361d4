//! `shmgen inspect NAME [--schema FILE] [--json] [--consistent]`: a segment's header and, with
//! its schema, every field's value and the state of every lock, seqlock, semaphore, event and
//! ring.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use crate::decode::{self, Bytes, Line};
use crate::shm::{self, Users};

use super::Snapshot;

/// Arguments of `shmgen inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The segment's name (the file `/dev/shm/NAME`).
    name: String,
    /// The schema (TOML) whose root struct the segment holds: decode every field.
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Take each mutex briefly while copying its value, and read seqlocks by their retry
    /// protocol, so each field is a consistent value (maps the segment read-write). Without it,
    /// a snapshot copy of the file is decoded without taking any lock.
    #[arg(long, requires = "schema")]
    consistent: bool,
}

/// Runs `shmgen inspect`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let schema = match &args.schema {
        Some(p) => Some(super::load_schema(p)?),
        None => None,
    };
    let mut snap = super::snapshot(&args.name, schema.is_some())?;
    if let (Some(s), Some(p)) = (&schema, &args.schema) {
        super::check_schema(&snap, s, p)?;
        if args.consistent {
            snap.payload =
                s.with_layouts(|set| crate::consistent::read(&args.name, set.root, set.version))?;
        }
    }
    let users = Users::scan(&shm::shm_dir());
    let users = users.of(snap.id);
    match (&schema, &args.schema) {
        (Some(schema), Some(path)) => schema.with_layouts(|set| {
            let v = decode::structure(&Bytes(&snap.payload), 0, set.root, 0);
            if args.json {
                let mut out = segment_json(&snap, users);
                out["schema"] = json!(path);
                out["consistent"] = json!(args.consistent);
                out["fields"] = decode::to_json(&v);
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                print!("{}", header_text(&snap, users));
                println!(
                    "\n{} (decoded with {}{}):",
                    set.root.name,
                    path.display(),
                    if args.consistent {
                        ", each field read consistently"
                    } else {
                        ", snapshot without locks"
                    }
                );
                let mut lines: Vec<Line> = Vec::new();
                decode::lines_of(&mut lines, "", &v);
                print!("{}", decode::format_lines(&lines, &[]));
            }
        }),
        _ => {
            let matches = matching_schemas(&snap);
            if args.json {
                let mut out = segment_json(&snap, users);
                out["matching_schemas"] = json!(matches);
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", header_text(&snap, users));
                let h = &snap.header;
                println!();
                if matches.is_empty() {
                    println!(
                        "decode it with --schema FILE: a schema whose root is `{}`, version {}, fingerprint {:#018x} (no file in ./schemas matches)",
                        h.root_name, h.layout_version, h.fingerprint
                    );
                } else {
                    for m in &matches {
                        println!(
                            "decode it with: shmgen inspect {} --schema {}",
                            snap.name,
                            m.display()
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The header block of `inspect` and `watch`.
/// What `inspect --json` says of every segment: where it is, its header, who uses it.
fn segment_json(snap: &Snapshot, users: &[shm::User]) -> serde_json::Value {
    json!({
        "name": snap.name,
        "path": snap.path,
        "file_size": snap.file_size,
        "header": super::header_json(&snap.header),
        "creator_alive": shm::pid_alive(snap.header.creator_pid),
        "users": super::users_json(users),
    })
}

pub fn header_text(snap: &Snapshot, users: &[shm::User]) -> String {
    let h = &snap.header;
    let alive = if shm::pid_alive(h.creator_pid) {
        "alive"
    } else {
        "dead"
    };
    let users = if users.is_empty() {
        "none".to_owned()
    } else {
        super::users_text(users)
    };
    format!(
        "segment      {} ({})\nroot         {} v{}\nfingerprint  {:#018x}\nstate        {}\nsize         {} bytes (payload {} bytes at offset {}; header says {})\ncreator      pid {} ({alive})\ncreated      {} s after the epoch ({} ago)\nused by      {users}\n",
        snap.name,
        snap.path.display(),
        h.root_name,
        h.layout_version,
        h.fingerprint,
        shm::state_name(h),
        snap.file_size,
        h.payload_size,
        h.payload_offset,
        h.total_size,
        h.creator_pid,
        h.created_unix_ns / 1_000_000_000,
        shm::human_age(shm::age_secs(h)),
    )
}

/// Schemas in `./schemas` whose root layout is the segment's (same fingerprint).
fn matching_schemas(snap: &Snapshot) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(Path::new("schemas")) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| {
            shmgen_codegen::parse_file(p).is_ok_and(|s| {
                s.fingerprint() == snap.header.fingerprint && s.root() == snap.header.root_name
            })
        })
        .collect()
}
