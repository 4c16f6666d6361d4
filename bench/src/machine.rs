//! The machine a run measured: CPU model, cores, kernel, load average, and the date (UTC).

use std::time::{SystemTime, UNIX_EPOCH};

/// The CPU model from `/proc/cpuinfo` (the first `model name`, or `?`).
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// Processors listed in `/proc/cpuinfo`, and those this process may run on.
pub fn cores() -> (usize, usize) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let listed = info.lines().filter(|l| l.starts_with("processor")).count();
    let usable = std::thread::available_parallelism().map_or(0, |p| p.get());
    (listed, usable)
}

/// The kernel release (`uname -r`).
pub fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The 1, 5 and 15-minute load averages, as `/proc/loadavg` gives them.
pub fn load() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<&str> = l.split_whitespace().take(3).collect();
    if v.len() == 3 {
        format!("{} {} {}", v[0], v[1], v[2])
    } else {
        "?".to_owned()
    }
}

/// The 1-minute load average.
pub fn load1() -> f64 {
    load()
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Now, UTC, as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The first line `cmd --version` prints, if it runs.
pub fn version_of(cmd: &str) -> Option<String> {
    let out = std::process::Command::new(cmd)
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_looks_like_a_date() {
        let d = super::now_utc();
        assert_eq!(d.len(), 23, "{d}");
        assert!(d.starts_with("20"), "{d}");
    }
}
