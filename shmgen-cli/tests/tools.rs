//! The segment tools against live segments made by Rust (the generated `metrics` module, in
//! this process) and by Python (a `python3` child using a module `shmgen build --lang python`
//! wrote): `list`, `inspect` (text, JSON, `--consistent`, wrong schema), `watch`, `rm`, `gc`;
//! plus the false-sharing lint of `check` and `layout --svg/--html`.
//!
//! Every segment here is named `shmgen-cli-t-<pid>-...`, and `list`/`gc` run with `--prefix`,
//! so other programs' segments in `/dev/shm` are never touched. Snapshots mask pids and times.

mod common;

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use shmgen_runtime::{Segment, Str};
use shmgen_tests::metrics::{Metrics, WorkerStats};

use common::*;

/// A segment name unique to this test process.
fn name(tag: &str) -> String {
    format!("{}{tag}", prefix())
}

fn prefix() -> String {
    format!("shmgen-cli-t-{}-", std::process::id())
}

/// Replaces what changes from run to run: pids, times, this run's name prefix.
fn mask(text: &str, pids: &[u32]) -> String {
    let mut out = String::new();
    for line in text.replace(&prefix(), "T-").lines() {
        let mut l = line.to_owned();
        if l.starts_with("created ") {
            l = "created      [TIME]".into();
        }
        if l.starts_with("used by ") {
            l = "used by      [USERS]".into();
        }
        for pid in pids {
            for pat in [
                format!("pid {pid} "),
                format!("pid {pid})"),
                format!("pid {pid},"),
                format!("tid {pid}"),
            ] {
                let masked = pat.replace(&pid.to_string(), "[PID]");
                l = l.replace(&pat, &masked);
            }
            if l.ends_with(&format!("pid {pid}")) {
                let cut = l.len() - pid.to_string().len();
                l.truncate(cut);
                l.push_str("[PID]");
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// A `Metrics` segment created by this process with known values.
fn rust_segment(tag: &str) -> Segment<Metrics> {
    let seg = Segment::<Metrics>::options()
        .unlink_on_drop(true)
        .create(&name(tag))
        .expect("create");
    seg.tasks_done.fetch_add(7, Ordering::Relaxed);
    seg.status
        .write(Str::try_from_str("running").expect("fits"));
    {
        let mut w = seg.workers.lock().expect("no dead owner");
        w[1] = WorkerStats {
            completed: 12,
            errors: -1,
            throughput: 300,
        };
    }
    assert!(seg.slots.try_acquire());
    seg.shutdown.set();
    seg.jobs.push(41).expect("open");
    seg.jobs.push(42).expect("open");
    seg
}

#[test]
fn list_shows_a_rust_segment() {
    let seg = rust_segment("list");
    let o = shmgen(&["list", "--prefix", seg.name()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    // Columns line up: every header column starts where its values start.
    let header = lines[0];
    for col in ["NAME", "ROOT", "FINGERPRINT", "STATE"] {
        let at = header.find(col).unwrap();
        let row = lines[1];
        assert!(
            at == 0 || &row[at - 1..at] == " ",
            "column {col} misaligned:\n{out}"
        );
    }
    // Stable parts: everything but pid and age.
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], seg.name());
    assert_eq!(
        &row[1..6],
        &["Metrics", "1", "0x1efef51d9f4c925f", "20.0", "KiB"]
    );
    assert_eq!(row[6], std::process::id().to_string());
    assert_eq!(row[7], "alive");
    assert_eq!(row[10], "ready");
    insta::assert_snapshot!(
        "list_header",
        header.split_whitespace().collect::<Vec<_>>().join(" ")
    );

    let o = shmgen(&["list", "--json", "--prefix", seg.name()]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let e = &v[0];
    assert_eq!(e["name"], seg.name());
    assert_eq!(e["kind"], "segment");
    assert_eq!(e["creator_pid"], std::process::id());
    assert_eq!(e["creator_alive"], true);
    assert_eq!(e["header"]["root"], "Metrics");
    assert_eq!(e["header"]["fingerprint"], "0x1efef51d9f4c925f");
    assert_eq!(e["size"], 20480);
}

#[test]
fn inspect_decodes_a_rust_segment() {
    let seg = rust_segment("inspect");
    let me = std::process::id();
    let o = shmgen(&["inspect", seg.name(), "--schema", "schemas/metrics.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    insta::assert_snapshot!("inspect_rust", mask(&stdout(&o), &[me]));

    // --consistent takes the mutex and reads the seqlock by its protocol: same values.
    let c = shmgen(&[
        "inspect",
        seg.name(),
        "--schema",
        "schemas/metrics.toml",
        "--consistent",
    ]);
    assert_eq!(code(&c), 0, "{}", stderr(&c));
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("Metrics (decoded") && !l.starts_with("created "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&stdout(&c)), strip(&stdout(&o)));

    let j = shmgen(&[
        "inspect",
        seg.name(),
        "--schema",
        "schemas/metrics.toml",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&j)).expect("json");
    let f = &v["fields"];
    assert_eq!(f["tasks_done"]["value"], 7);
    assert_eq!(f["status"]["value"], "running");
    assert_eq!(f["status"]["seq"], 1);
    assert_eq!(f["workers"]["lock"]["state"], "free");
    assert_eq!(f["workers"]["value"][1]["completed"], 12);
    assert_eq!(f["workers"]["value"][1]["errors"], -1);
    assert_eq!(f["slots"]["count"], 1);
    assert_eq!(f["shutdown"]["set"], true);
    assert_eq!(f["jobs"]["fill"], 2);
    assert_eq!(f["jobs"]["next"], serde_json::json!([41, 42]));
    assert_eq!(v["header"]["creator_pid"], me);

    // A lock held by someone: shown with the holder's thread id.
    let guard = seg.workers.lock().expect("lock");
    let o = shmgen(&["inspect", seg.name(), "--schema", "schemas/metrics.toml"]);
    let out = stdout(&o);
    let line = out.lines().find(|l| l.contains("workers ")).unwrap();
    assert!(line.contains("(mutex: held by tid "), "{line}");
    // --consistent waits a bounded time, then says it copied without the lock.
    let c = shmgen(&[
        "inspect",
        seg.name(),
        "--schema",
        "schemas/metrics.toml",
        "--consistent",
    ]);
    assert_eq!(code(&c), 0);
    assert!(
        stderr(&c).contains("mutex held for more than 1s"),
        "{}",
        stderr(&c)
    );
    drop(guard);
}

#[test]
fn inspect_without_a_schema_or_with_the_wrong_one() {
    let seg = rust_segment("wrong");
    let o = shmgen(&["inspect", seg.name()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!(
        "decode it with: shmgen inspect {} --schema schemas/metrics.toml",
        seg.name()
    )));
    let o = shmgen(&["inspect", seg.name(), "--schema", "schemas/ring.toml"]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("layout mismatch"), "{err}");
    assert!(
        err.contains("Metrics v1 (fingerprint 0x1efef51d9f4c925f, 16832 bytes)"),
        "{err}"
    );
    let ring_fp = shmgen_codegen::parse_file(root().join("schemas/ring.toml"))
        .unwrap()
        .fingerprint();
    assert!(err.contains(&format!("{ring_fp:#018x}")), "{err}");

    // Missing segments and bad names.
    let o = shmgen(&["inspect", &name("nothing-here")]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no segment named"), "{}", stderr(&o));
    let o = shmgen(&["inspect", "../etc/passwd"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn watch_refreshes_with_rates() {
    let seg = rust_segment("watch");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bump = {
        let stop = stop.clone();
        let name = seg.name().to_owned();
        std::thread::spawn(move || {
            let s = Segment::<Metrics>::open(&name).unwrap();
            while !stop.load(Ordering::Relaxed) {
                s.tasks_done.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let o = shmgen(&[
        "watch",
        seg.name(),
        "--schema",
        "schemas/metrics.toml",
        "--interval",
        "200",
        "--count",
        "3",
    ]);
    stop.store(true, Ordering::Relaxed);
    bump.join().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    // Not a terminal: plain frames, no escape sequences.
    assert!(!out.contains('\x1b'), "{out}");
    assert_eq!(out.matches("shmgen watch ").count(), 3, "{out}");
    assert!(out.contains("refresh 3 of 3, every 200 ms"), "{out}");
    let last = out.rsplit("shmgen watch ").next().unwrap();
    let line = last.lines().find(|l| l.contains("tasks_done")).unwrap();
    assert!(line.contains("/s"), "no rate in {line:?}");
}

#[test]
fn rm_refuses_foreign_files_and_segments_in_use() {
    let dir = Path::new("/dev/shm");
    let junk = name("junk");
    let _cleanup = Cleanup(vec![dir.join(&junk)]);
    std::fs::write(dir.join(&junk), b"not a segment at all").unwrap();
    let o = shmgen(&["rm", &junk]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("not a shmgen segment"),
        "{}",
        stderr(&o)
    );
    assert!(dir.join(&junk).exists());
    let o = shmgen(&["rm", "--force", &junk]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!dir.join(&junk).exists());

    let seg = rust_segment("rm");
    // This process maps it: refused without --force.
    let o = shmgen(&["rm", seg.name()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("is in use by pid"), "{}", stderr(&o));
    let o = shmgen(&["rm", "--force", seg.name()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("keep their mapping"), "{}", stdout(&o));
    assert!(!dir.join(seg.name()).exists());

    let o = shmgen(&["rm", &name("missing")]);
    assert_eq!(code(&o), 1);
    let o = shmgen(&["rm", "a/b"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("invalid segment name"),
        "{}",
        stderr(&o)
    );
}

/// A pid that is certainly dead: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().expect("spawn true");
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// Makes a segment whose creator is dead: create it, unmap it, then write a dead pid into the
/// header's `creator_pid` (offset 48).
fn dead_creator_segment(tag: &str) -> String {
    let n = name(tag);
    drop(Segment::<Metrics>::create(&n).expect("create"));
    let path = Path::new("/dev/shm").join(&n);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[48..52].copy_from_slice(&dead_pid().to_ne_bytes());
    std::fs::write(&path, bytes).unwrap();
    n
}

/// A `python3` child that maps `/dev/shm/NAME` (and closes the file), then waits for stdin.
fn python_mapper(name: &str) -> Option<(Child, ChildStdin)> {
    let code = format!(
        "import mmap, sys\nf = open('/dev/shm/{name}', 'r+b')\nm = mmap.mmap(f.fileno(), 0)\nf.close()\nprint('mapped', flush=True)\nsys.stdin.read()\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut()?)
        .read_line(&mut line)
        .ok()?;
    (line.trim() == "mapped").then_some((child, stdin))
}

/// Removes files when dropped (so a failing test leaves nothing in /dev/shm).
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[test]
fn gc_removes_only_dead_unused_shmgen_files() {
    let dir = Path::new("/dev/shm");
    let dead_unused = dead_creator_segment("gc-dead");
    let dead_mapped = dead_creator_segment("gc-mapped");
    let live = rust_segment("gc-live");
    let junk = name("gc-junk");
    let _cleanup = Cleanup(
        [&dead_unused, &dead_mapped, &junk]
            .iter()
            .map(|n| dir.join(n))
            .collect(),
    );
    std::fs::write(dir.join(&junk), vec![0u8; 256]).unwrap();
    let temp = format!(".shmgen-{}.{}.0", name("gc-temp"), dead_pid());
    std::fs::write(dir.join(&temp), vec![0u8; 4096]).unwrap();
    // Creators make their files 0600 (docs/FORMAT.md §3).
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.join(&temp), std::fs::Permissions::from_mode(0o600)).unwrap();
    let Some((mut mapper, stdin)) = python_mapper(&dead_mapped) else {
        panic!("python3 is needed to hold a mapping in another process");
    };

    let only_gc = name("gc-");
    let o = shmgen(&["gc", "--dry-run", "--prefix", &only_gc]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("would remove {dead_unused}: segment, creator pid")),
        "{out}"
    );
    assert!(
        out.contains(&format!("would remove {temp}: incomplete segment")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "kept {dead_mapped}: in use by pid {} (python3, maps it)",
            mapper.id()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "kept {}: its creator pid {} is alive",
            live.name(),
            std::process::id()
        )),
        "{out}"
    );
    assert!(
        !out.contains(&junk),
        "gc must not mention non-shmgen files: {out}"
    );
    assert!(out.contains("gc: would remove 2, kept 2"), "{out}");
    assert!(
        dir.join(&dead_unused).exists(),
        "--dry-run removed something"
    );

    let o = shmgen(&["gc", "--prefix", &only_gc]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("gc: removed 2, kept 2"),
        "{}",
        stdout(&o)
    );
    assert!(!dir.join(&dead_unused).exists());
    assert!(!dir.join(&temp).exists());
    assert!(dir.join(&dead_mapped).exists(), "removed a mapped segment");
    assert!(
        dir.join(live.name()).exists(),
        "removed a live creator's segment"
    );
    assert!(dir.join(&junk).exists(), "removed a non-shmgen file");

    // Once the mapper has gone, the dead creator's segment goes too.
    drop(stdin);
    mapper.wait().unwrap();
    let o = shmgen(&["gc", "--prefix", &only_gc]);
    assert!(
        stdout(&o).contains(&format!("removed {dead_mapped}")),
        "{}",
        stdout(&o)
    );
    assert!(!dir.join(&dead_mapped).exists());
    std::fs::remove_file(dir.join(&junk)).unwrap();
}

/// A Python child that creates a `Metrics` segment with the generated module, sets values,
/// and keeps it until its stdin closes. `None` (test skipped) when python3 is missing.
fn python_segment(tag: &str, gen_dir: &Path) -> Option<(Child, ChildStdin, String)> {
    let o = shmgen(&[
        "build",
        "schemas/metrics.toml",
        "--lang",
        "python",
        "--out-dir",
        gen_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let n = name(tag);
    let code = format!(
        r#"
import sys
from metrics import Metrics
seg = Metrics.create({n:?})
seg.tasks_done.add(5)
seg.status.write("from python")
with seg.workers.lock() as w:
    w[2].completed += 9
seg.slots.acquire()
print("ready", flush=True)
sys.stdin.read()
seg.unlink()
"#
    );
    let pythonpath = format!(
        "{}:{}",
        root().join("python/src").display(),
        gen_dir.display()
    );
    let mut child = Command::new("python3")
        .args(["-c", &code])
        .env("PYTHONPATH", pythonpath)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut()?)
        .read_line(&mut line)
        .ok()?;
    assert_eq!(line.trim(), "ready", "the Python creator failed");
    Some((child, stdin, n))
}

#[test]
fn tools_on_a_python_segment() {
    let gen = std::env::temp_dir().join(format!("shmgen-cli-tools-{}", std::process::id()));
    std::fs::create_dir_all(&gen).unwrap();
    let Some((mut child, mut stdin, n)) = python_segment("py", &gen) else {
        // In CI (`CI` set) a missing interpreter fails the test rather than skipping it.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: this test needs python3"
        );
        eprintln!("python3 not available: skipped");
        return;
    };
    let pid = child.id();
    let o = shmgen(&["inspect", &n, "--schema", "schemas/metrics.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    insta::assert_snapshot!("inspect_python", mask(&stdout(&o), &[pid]));
    let o = shmgen(&["list", "--prefix", &prefix()]);
    let out = stdout(&o);
    assert!(
        out.contains(&n) && out.contains(&format!(" {pid} ")),
        "{out}"
    );
    let o = shmgen(&[
        "watch",
        &n,
        "--schema",
        "schemas/metrics.toml",
        "--count",
        "1",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("\"from python\""));
    // gc keeps it: the creator is alive and maps it.
    let o = shmgen(&["gc", "--dry-run", "--prefix", &n]);
    assert!(
        stdout(&o).contains(&format!("kept {n}: its creator pid {pid} is alive")),
        "{}",
        stdout(&o)
    );
    stdin.write_all(b"bye").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert!(!Path::new("/dev/shm").join(&n).exists());
    let _ = std::fs::remove_dir_all(&gen);
}

#[test]
fn check_warns_about_false_sharing() {
    let o = shmgen(&["check", "schemas/false_sharing.toml"]);
    assert_eq!(code(&o), 0, "warnings do not fail: {}", stderr(&o));
    insta::assert_snapshot!("lint_false_sharing", stderr(&o));
    let o = shmgen(&["check", "--deny-warnings", "schemas/false_sharing.toml"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("warnings are denied"));
    let o = shmgen(&[
        "check",
        "--deny-warnings",
        "schemas/false_sharing_fixed.toml",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

fn xml_well_formed(path: &Path) {
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])",
            path.to_str().unwrap(),
        ])
        .output();
    match o {
        Ok(o) => assert!(o.status.success(), "{}: {}", path.display(), stderr(&o)),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI: this test needs python3"
            );
            eprintln!("python3 not available: XML parse skipped")
        }
    }
}

#[test]
fn layout_writes_svg_and_html() {
    let dir = std::env::temp_dir().join(format!("shmgen-cli-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("metrics.svg");
    let html = dir.join("metrics.html");
    let o = shmgen(&[
        "layout",
        "schemas/metrics.toml",
        "--svg",
        svg.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    xml_well_formed(&svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    // The committed picture in docs/ is this output.
    let committed = std::fs::read_to_string(root().join("docs/metrics-layout.svg")).unwrap();
    assert_eq!(
        text, committed,
        "docs/metrics-layout.svg is stale: shmgen layout schemas/metrics.toml --svg docs/metrics-layout.svg"
    );
    insta::assert_snapshot!("layout_metrics_svg", text);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg"));
    assert!(page.contains("share cache line 1 (bytes 64..127)"));
    for schema in ["align", "ring", "padding", "false_sharing_fixed"] {
        let out = dir.join(format!("{schema}.svg"));
        let o = shmgen(&[
            "layout",
            &format!("schemas/{schema}.toml"),
            "--svg",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        xml_well_formed(&out);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
