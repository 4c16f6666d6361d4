//! `shmgen list [--json] [--prefix P]`: every shmgen segment in `/dev/shm`, and creators'
//! temporary files (`.shmgen-*`, shown as `incomplete`).

use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use crate::shm::{self, EntryKind, Users};

/// Arguments of `shmgen list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (an array of objects) instead of a table.
    #[arg(long)]
    json: bool,
    /// Only names starting with this (a temporary file counts by its segment's name).
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
}

/// The columns, in order.
const COLUMNS: [&str; 10] = [
    "NAME",
    "ROOT",
    "VERSION",
    "FINGERPRINT",
    "SIZE",
    "PID",
    "CREATOR",
    "AGE",
    "USERS",
    "STATE",
];

/// Runs `shmgen list`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let dir = shm::shm_dir();
    let entries = shm::scan(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|e| {
            let name = match &e.kind {
                EntryKind::Segment(_) => e.name.as_str(),
                EntryKind::Temp { segment, .. } => segment.as_str(),
            };
            shm::matches_prefix(args.prefix.as_deref(), name)
        })
        .collect();
    let users = Users::scan(&dir);
    if args.json {
        let arr: Vec<_> = entries
            .iter()
            .map(|e| {
                let pid = e.creator_pid();
                let (kind, segment) = match &e.kind {
                    EntryKind::Segment(_) => ("segment", e.name.clone()),
                    EntryKind::Temp { segment, .. } => ("incomplete", segment.clone()),
                };
                json!({
                    "name": e.name,
                    "kind": kind,
                    "segment": segment,
                    "size": e.size,
                    "creator_pid": pid,
                    "creator_alive": shm::pid_alive(pid),
                    "age_secs": e.header().map(shm::age_secs),
                    "header": e.header().map(super::header_json),
                    "users": super::users_json(users.of(e.id)),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&arr)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows: Vec<[String; 10]> = Vec::new();
    for e in &entries {
        let pid = e.creator_pid();
        let alive = if shm::pid_alive(pid) { "alive" } else { "dead" };
        let h = e.header();
        let dash = || "-".to_owned();
        let state = match &e.kind {
            EntryKind::Segment(h) => shm::state_name(h),
            EntryKind::Temp { .. } => format!("incomplete (creator pid {pid} {alive})"),
        };
        rows.push([
            e.name.clone(),
            h.map_or_else(dash, |h| h.root_name.clone()),
            h.map_or_else(dash, |h| h.layout_version.to_string()),
            h.map_or_else(dash, |h| format!("{:#018x}", h.fingerprint)),
            shm::human_size(e.size),
            pid.to_string(),
            alive.to_owned(),
            h.map_or_else(dash, |h| shm::human_age(shm::age_secs(h))),
            users.of(e.id).len().to_string(),
            state,
        ]);
    }
    if rows.is_empty() {
        println!("no shmgen segments in {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let header = COLUMNS.map(String::from);
    let mut w = [0usize; 10];
    for r in std::iter::once(&header).chain(&rows) {
        for (wi, c) in w.iter_mut().zip(r) {
            *wi = (*wi).max(c.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            // Numbers right-aligned, text left-aligned; two spaces between columns.
            let right = matches!(i, 2 | 4 | 5 | 7 | 8);
            if right {
                line.push_str(&format!("{c:>width$}  ", width = w[i]));
            } else {
                line.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        println!("{}", line.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
