//! The README's main job, small: the monitor with two Python and two Rust workers ends with exact
//! totals. The Python module is rendered into a temporary directory, as `shmgen build` would.

use std::process::Command;

#[test]
fn monitor_with_python_and_rust_workers_ends_with_exact_totals() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let dir = std::env::temp_dir().join(format!("shmgen-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let outputs = shmgen_codegen::Builder::new()
        .langs(&[shmgen_codegen::Lang::Python])
        .generate(&[format!("{root}/schemas/metrics.toml")])
        .expect("metrics.toml compiles");
    shmgen_codegen::write_outputs(&dir, &outputs).expect("write the Python module");

    let out = Command::new(env!("CARGO_BIN_EXE_metrics-demo"))
        .args(["--tasks", "40"])
        .env("SHMGEN_GENERATED", &dir)
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("completed per worker [40, 40, 40, 40]; sum 160; tasks_done 160"),
        "{stdout}"
    );
    assert!(
        stdout.contains("a python process") && stdout.contains("a rust process"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
