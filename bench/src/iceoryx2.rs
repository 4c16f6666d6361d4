//! The iceoryx2 peer (`bench/iceoryx2-peer`, built on its own): found or refused, then run as a
//! subprocess once per repetition; its one `RESULT key=value ...` line is parsed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::run;

/// How to build the peer (also printed in BENCHMARKS.md).
pub const BUILD: &str = "CARGO_TARGET_DIR=target/iceoryx2 cargo build --release --manifest-path bench/iceoryx2-peer/Cargo.toml";

/// The peer binary, or why there is none.
pub struct Peer {
    status: Result<PathBuf, String>,
}

impl Peer {
    /// `--iceoryx2 PATH`, `--no-iceoryx2`, or the default build location.
    pub fn detect(explicit: Option<PathBuf>, disabled: bool, root: &Path) -> Peer {
        let status = if disabled {
            Err("--no-iceoryx2".to_owned())
        } else if let Some(p) = explicit {
            if p.is_file() {
                Ok(p)
            } else {
                Err(format!("no peer binary at {}", p.display()))
            }
        } else {
            let p = root.join("target/iceoryx2/release/shmgen-iceoryx2-peer");
            if p.is_file() {
                Ok(p)
            } else {
                Err("iceoryx2 peer not built (see \"iceoryx2\" in BENCHMARKS.md)".to_owned())
            }
        };
        Peer { status }
    }

    /// Ok when the iceoryx2 rows can run.
    pub fn usable(&self) -> Result<(), String> {
        self.status.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// The binary's path, or why it is not used.
    pub fn describe(&self) -> String {
        match &self.status {
            Ok(p) => p.display().to_string(),
            Err(e) => format!("not run: {e}"),
        }
    }

    fn result(&self, args: &[&str]) -> Result<HashMap<String, String>, String> {
        let exe = self.status.as_ref().map_err(Clone::clone)?;
        let mut c = Command::new(exe);
        c.args(args);
        let out = run::run(c, Duration::from_secs(330))?;
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with("RESULT "))
            .ok_or_else(|| format!("iceoryx2 peer printed no result: {}", out.stderr.trim()))?;
        Ok(line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }

    /// Items per second of `n` items of `size` bytes, publisher process to subscriber process.
    pub fn throughput(&self, size: usize, n: u64) -> Result<f64, String> {
        let kv = self.result(&["throughput", &size.to_string(), &n.to_string()])?;
        number(&kv, "items_per_sec")
    }

    /// (p50, p99) one-way latency in ns, `mode` `spin` or `event`.
    pub fn latency(&self, mode: &str, n: u64) -> Result<(f64, f64), String> {
        let kv = self.result(&["latency", mode, &n.to_string()])?;
        Ok((number(&kv, "p50_ns")?, number(&kv, "p99_ns")?))
    }
}

fn number(kv: &HashMap<String, String>, k: &str) -> Result<f64, String> {
    kv.get(k)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("iceoryx2 peer result has no {k}"))
}
