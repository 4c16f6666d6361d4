//! Runs the built `shmgen` binary: exit codes (0 ok, 1 schema error or stale files, 2 usage
//! error), what `check` prints, and `build --check` staleness detection.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root: schema paths in these tests are relative to it, as a user would type.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shmgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shmgen"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run shmgen")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh, empty temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("shmgen-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn check_prints_the_layout_table() {
    let o = shmgen(&["check", "schemas/metrics.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("struct Metrics (size 16832, align 64, root)"),
        "{out}"
    );
    assert!(out.contains("offset"), "{out}");
    assert!(out.contains("padding"), "{out}");
    assert!(out.contains("total 16832 bytes"), "{out}");
}

#[test]
fn check_accepts_several_schemas() {
    let o = shmgen(&["check", "schemas/metrics.toml", "schemas/ring.toml"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("schema ring"));
}

#[test]
fn a_schema_error_exits_1_with_file_line_and_column() {
    let o = shmgen(&["check", "schemas/invalid/unknown_type.toml"]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("error: unknown type \"u65\""), "{err}");
    assert!(
        err.contains("--> schemas/invalid/unknown_type.toml:6:31"),
        "{err}"
    );
    assert!(err.contains("= help: did you mean `u64`?"), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn build_with_a_schema_error_exits_1_and_writes_nothing() {
    let dir = TempDir::new("build-error");
    let o = shmgen(&[
        "build",
        "schemas/metrics.toml",
        "schemas/invalid/cycle.toml",
        "--out-dir",
        dir.arg(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("cycle between structs"));
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["check"][..],
        &["build"][..],
        &["frobnicate"][..],
        &["build", "schemas/metrics.toml", "--lang", "cobol"][..],
    ] {
        let o = shmgen(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_missing_schema_file_is_a_usage_error() {
    let o = shmgen(&["check", "schemas/does_not_exist.toml"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("cannot read schema schemas/does_not_exist.toml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn each_language_is_written_or_said_to_be_unavailable() {
    use shmgen_codegen::Lang;
    for lang in Lang::ALL {
        let dir = TempDir::new(&format!("lang-{lang}"));
        let o = shmgen(&[
            "build",
            "schemas/metrics.toml",
            "--lang",
            lang.name(),
            "--out-dir",
            dir.arg(),
        ]);
        let written = std::fs::read_dir(&dir.0).unwrap().count();
        if lang.is_available() {
            assert_eq!(code(&o), 0, "{lang}: {}", stderr(&o));
            assert!(dir.0.join(lang.file_name("metrics")).exists(), "{lang}");
        } else {
            assert_eq!(code(&o), 2, "{lang}");
            assert!(stderr(&o).contains("not available yet"), "{}", stderr(&o));
            assert_eq!(written, 0, "{lang}: wrote something");
        }
    }
}

#[test]
fn by_default_every_available_language_is_built() {
    let dir = TempDir::new("all");
    let o = shmgen(&["build", "schemas/metrics.toml", "--out-dir", dir.arg()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for lang in shmgen_codegen::Lang::available() {
        assert!(dir.0.join(lang.file_name("metrics")).exists(), "{lang}");
    }
}

#[test]
fn build_writes_then_leaves_unchanged_files_alone() {
    let dir = TempDir::new("build");
    let o = shmgen(&[
        "build",
        "schemas/metrics.toml",
        "--lang",
        "rust",
        "--out-dir",
        dir.arg(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let file = dir.0.join("metrics.rs");
    assert!(stdout(&o).contains("wrote"), "{}", stdout(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("// @generated by shmgen"));
    assert!(text.contains("from schemas/metrics.toml"));
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();

    let o = shmgen(&["build", "schemas/metrics.toml", "--out-dir", dir.arg()]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("unchanged"), "{}", stdout(&o));
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);
}

#[test]
fn build_check_reports_stale_files() {
    let dir = TempDir::new("check");
    let build = |extra: &[&str]| {
        let mut args = vec![
            "build",
            "schemas/metrics.toml",
            "--lang",
            "rust",
            "--out-dir",
            dir.arg(),
        ];
        args.extend_from_slice(extra);
        shmgen(&args)
    };
    // Nothing generated yet: stale, and --check writes nothing.
    let o = build(&["--check"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("stale:"), "{}", stdout(&o));
    assert!(!dir.0.join("metrics.rs").exists());

    assert_eq!(code(&build(&[])), 0);
    let o = build(&["--check"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));

    // A hand edit makes it stale again.
    let file = dir.0.join("metrics.rs");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("// edited\n");
    std::fs::write(&file, &text).unwrap();
    let o = build(&["--check"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("metrics.rs"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "--check must not write"
    );
}

#[test]
fn help_and_version() {
    let o = shmgen(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("build"));
    assert!(stdout(&o).contains("check"));
    let o = shmgen(&["--version"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains(env!("CARGO_PKG_VERSION")));
}
