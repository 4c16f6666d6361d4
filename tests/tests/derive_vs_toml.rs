//! The derive and the schema compiler agree: a `#[derive(SharedLayout)]` twin of
//! `schemas/metrics.toml` has the same type table and fingerprint as the generated `Metrics`; a
//! segment created through one opens through the other; and Python opens it through the module
//! rendered from the derived type's table.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use shmgen_codegen::{emit, Lang, LayoutSet, Options};
use shmgen_runtime::{Event, Mutex, Ring, Segment, Semaphore, SeqLock, SharedLayout, Str};
use shmgen_tests::metrics;

/// What one worker reports.
#[derive(SharedLayout, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct WorkerStats {
    pub completed: i32,
    pub errors: i32,
    pub throughput: i32,
}

#[derive(SharedLayout)]
#[repr(C)]
pub struct Metrics {
    pub workers: Mutex<[WorkerStats; 4]>,
    pub tasks_done: AtomicU64,
    pub status: SeqLock<Str<32>>,
    pub shutdown: Event,
    pub slots: Semaphore<2>,
    pub jobs: Ring<u64, 1024>,
}

/// Docs are not part of the table's identity: compare everything else.
fn strip_docs(s: &shmgen_runtime::StructLayout<'_>) -> String {
    let text = format!("{s:?}");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("doc: \"") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 6..];
        let end = after.find("\", ").unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn derived_and_generated_tables_and_fingerprints_are_equal() {
    assert_eq!(Metrics::FINGERPRINT, metrics::Metrics::FINGERPRINT);
    assert_eq!(WorkerStats::FINGERPRINT, metrics::WorkerStats::FINGERPRINT);
    assert_eq!(
        strip_docs(&Metrics::LAYOUT),
        strip_docs(&metrics::Metrics::LAYOUT)
    );
    assert_eq!(
        Metrics::LAYOUT.size,
        std::mem::size_of::<metrics::Metrics>()
    );
    let schema = shmgen_codegen::parse_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schemas/metrics.toml"
    ))
    .expect("metrics.toml parses");
    assert_eq!(schema.fingerprint(), Metrics::FINGERPRINT);
}

fn unique(tag: &str) -> String {
    format!("shmgen-test-dvt-{tag}-{}", std::process::id())
}

#[test]
fn a_derived_segment_opens_through_the_generated_type_and_back() {
    let name = unique("rs");
    let derived = Segment::<Metrics>::options()
        .unlink_on_drop(true)
        .create(&name)
        .expect("create through the derived type");
    derived.workers.lock().expect("lock")[2].completed = 41;
    derived.tasks_done.store(7, Ordering::Relaxed);
    derived.status.write("derived".try_into().unwrap());

    let generated = Segment::<metrics::Metrics>::open(&name).expect("open through the TOML type");
    generated.workers.lock().expect("lock")[2].completed += 1;
    assert_eq!(generated.tasks_done.load(Ordering::Relaxed), 7);
    assert_eq!(generated.status.read().as_str(), "derived");
    assert_eq!(derived.workers.lock().expect("lock")[2].completed, 42);
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn python_opens_a_derived_segment_through_the_module_rendered_from_the_derived_table() {
    // Render Python from the derived type's table, as a build script or a small bin would.
    let set = LayoutSet::from_root(
        "derived_metrics",
        &Metrics::LAYOUT,
        Metrics::VERSION,
        "derive",
    );
    assert_eq!(set.fingerprint(), Metrics::FINGERPRINT);
    let dir = std::env::temp_dir().join(format!("shmgen-dvt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for out in emit::render(&set, Lang::Python, &Options::default()).expect("render python") {
        std::fs::write(dir.join(&out.file_name), out.contents).unwrap();
    }
    // And C, which must compile.
    let c = emit::render(&set, Lang::C, &Options::default()).expect("render c");
    std::fs::write(dir.join(&c[0].file_name), &c[0].contents).unwrap();
    let gcc = Command::new("gcc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-x",
            "c",
        ])
        .arg(dir.join(&c[0].file_name))
        .output()
        .expect("gcc runs");
    assert!(
        gcc.status.success(),
        "{}",
        String::from_utf8_lossy(&gcc.stderr)
    );

    let name = unique("py");
    let seg = Segment::<Metrics>::options()
        .unlink_on_drop(true)
        .create(&name)
        .expect("create");
    seg.workers.lock().expect("lock")[1].errors = 3;
    seg.status.write("from rust".try_into().unwrap());

    let script = r#"
import sys
from derived_metrics import Metrics, FINGERPRINT
seg = Metrics.open(sys.argv[1])
assert seg.header.fingerprint == FINGERPRINT, hex(seg.header.fingerprint)
assert seg.status.read() == "from rust", seg.status.read()
with seg.workers.lock() as w:
    assert w[1].errors == 3
    w[1].errors += 1
    w[3].completed = 99
seg.tasks_done.add(5)
seg.status.write("from python")
seg.close()
"#;
    let python = std::env::var("SHMGEN_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .args(["-c", script, &name])
        .env(
            "PYTHONPATH",
            format!("{}:{}", repo().join("python/src").display(), dir.display()),
        )
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = *seg.workers.lock().expect("lock");
    assert_eq!((w[1].errors, w[3].completed), (4, 99));
    assert_eq!(seg.tasks_done.load(Ordering::Relaxed), 5);
    assert_eq!(seg.status.read().as_str(), "from python");
    std::fs::remove_dir_all(&dir).ok();
}
