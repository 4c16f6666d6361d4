//! `shmgen watch NAME --schema FILE [--interval MS] [--count N]`: the segment's fields,
//! refreshed in place like `top`, with per-second rates of the numbers that change.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::decode::{self, Bytes, Line};
use crate::shm::{self, Users};

/// Arguments of `shmgen watch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The segment's name.
    name: String,
    /// The schema (TOML) whose root struct the segment holds.
    #[arg(long, value_name = "FILE")]
    schema: PathBuf,
    /// Milliseconds between refreshes.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    interval: u64,
    /// Stop after this many refreshes (default: until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
}

/// The numbers of one refresh, by line path and label.
type Numbers = HashMap<(String, &'static str), f64>;

/// `+12/s`, `+1.5/s`, `-3/s`.
fn rate_text(r: f64) -> String {
    if r.abs() >= 100.0 || r.fract() == 0.0 {
        format!("{:+.0}/s", r)
    } else {
        format!("{:+.1}/s", r)
    }
}

/// Runs `shmgen watch`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let schema = super::load_schema(&args.schema)?;
    let tty = std::io::stdout().is_terminal();
    let interval = Duration::from_millis(args.interval);
    let mut prev: Option<(Instant, Numbers)> = None;
    let mut refresh = 0u64;
    loop {
        refresh += 1;
        let snap = match super::snapshot(&args.name, true) {
            Ok(s) => s,
            Err(e) if refresh > 1 => bail!("segment {:?} went away: {e:#}", args.name),
            Err(e) => return Err(e),
        };
        super::check_schema(&snap, &schema, &args.schema)?;
        let now = Instant::now();
        let users = Users::scan(&shm::shm_dir());
        let lines: Vec<Line> = schema.with_layouts(|set| {
            let v = decode::structure(&Bytes(&snap.payload), 0, set.root, 0);
            let mut lines = Vec::new();
            decode::lines_of(&mut lines, "", &v);
            lines
        });
        let mut current = HashMap::new();
        let mut rates = Vec::with_capacity(lines.len());
        for l in &lines {
            let mut parts = Vec::new();
            for &(label, v) in &l.nums {
                let key = (l.path.clone(), label);
                if let Some((t0, old)) = &prev {
                    if let Some(o) = old.get(&key) {
                        let dt = now.duration_since(*t0).as_secs_f64();
                        let r = (v - o) / dt.max(1e-9);
                        if r != 0.0 && r.is_finite() {
                            if label.is_empty() {
                                parts.push(rate_text(r));
                            } else {
                                parts.push(format!("{label} {}", rate_text(r)));
                            }
                        }
                    }
                }
                current.insert(key, v);
            }
            rates.push(parts.join(", "));
        }
        let mut out = String::new();
        if tty {
            out.push_str("\x1b[H\x1b[2J");
        } else if refresh > 1 {
            out.push('\n');
        }
        let of = args.count.map_or_else(String::new, |c| format!(" of {c}"));
        out.push_str(&format!(
            "shmgen watch {}: refresh {refresh}{of}, every {} ms{}\n",
            args.name,
            args.interval,
            if tty { " (Ctrl-C to stop)" } else { "" }
        ));
        out.push_str(&super::inspect::header_text(&snap, users.of(snap.id)));
        out.push('\n');
        out.push_str(&decode::format_lines(&lines, &rates));
        let mut stdout = std::io::stdout().lock();
        // A closed pipe (`shmgen watch ... | head`) ends the watch quietly.
        if stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return Ok(ExitCode::SUCCESS);
        }
        drop(stdout);
        prev = Some((now, current));
        if args.count.is_some_and(|c| refresh >= c) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(interval);
    }
}
