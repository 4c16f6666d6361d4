//! `#[shmgen(crate = "...")]` for real: builds and tests `tests/renamed-crate`, a crate that
//! depends on the runtime only as `shm` (so the name `shmgen_runtime` does not exist there),
//! forbids unsafe code and is `no_std` outside its tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target directory this test binary was built into (`<target>/debug/deps/<binary>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn cargo(args: &[&str]) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/renamed-crate/Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // Output is captured, so the inner test run's summary does not read like this one's.
    let out = Command::new(cargo)
        .args(args)
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir().join("renamed-crate"))
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} failed for {}:\n{}\n{}",
        manifest.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn derive_with_the_runtime_renamed() {
    // `build` compiles the library as `no_std`; `test` runs its assertions.
    cargo(&["build"]);
    cargo(&["test"]);
}
