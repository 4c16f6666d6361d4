//! Helpers shared by the CLI's integration tests: running the built binary and reading what
//! it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root: schema paths in these tests are relative to it, as a user would type.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the built `shmgen` binary in the workspace root.
pub fn shmgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shmgen"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run shmgen")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
