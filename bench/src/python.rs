//! The Python side: finding an interpreter that imports the `shmgen` package from
//! `python/src`, checking for numpy, writing the generated module of the benchmark layouts
//! (`benchlayouts.py`, by shmgen's own Python emitter), and running `python/bench_suite.py` and
//! `python/bench_counter.py` with `--json`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use shmgen_codegen::{Lang, Options};

use crate::run;

/// An interpreter, or why there is none.
pub struct Python {
    exe: PathBuf,
    root: PathBuf,
    layouts: PathBuf,
    status: Result<String, String>,
    numpy: Result<String, String>,
}

/// The benchmark layouts (the file build.rs compiles for Rust).
const SCHEMA: &str = include_str!("../schemas/benchlayouts.toml");

impl Python {
    /// Finds the interpreter: `explicit`, else `ROOT/target/venv/bin/python` if present, else
    /// `python3`; writes `benchlayouts.py` into `layouts`.
    pub fn detect(explicit: Option<PathBuf>, root: &Path, layouts: &Path) -> Python {
        let venv = root.join("target/venv/bin/python");
        let exe = explicit.unwrap_or_else(|| {
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        });
        let mut py = Python {
            exe,
            root: root.to_owned(),
            layouts: layouts.to_owned(),
            status: Err("not checked".to_owned()),
            numpy: Err("not checked".to_owned()),
        };
        py.status = write_layouts(layouts).and_then(|()| {
            py.eval("import sys, shmgen, benchlayouts; print(sys.version.split()[0])")
        });
        py.numpy = match &py.status {
            Err(e) => Err(e.clone()),
            Ok(_) => py
                .eval("import numpy; print(numpy.__version__)")
                .map_err(|_| {
                    format!(
                        "numpy is not installed for {} (pip install numpy)",
                        py.exe.display()
                    )
                }),
        };
        py
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.exe);
        let path = std::env::join_paths([self.root.join("python/src"), self.layouts.clone()])
            .expect("PYTHONPATH");
        c.env("PYTHONPATH", path).current_dir(&self.root);
        c
    }

    fn eval(&self, code: &str) -> Result<String, String> {
        let mut c = self.command();
        c.arg("-c").arg(code);
        let out = run::run(c, Duration::from_secs(60)).map_err(|e| {
            format!(
                "{} cannot import shmgen from python/src: {e}",
                self.exe.display()
            )
        })?;
        Ok(out.stdout.trim().to_owned())
    }

    /// Ok when Python rows can run.
    pub fn usable(&self) -> Result<(), String> {
        self.status.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Ok when numpy imports.
    pub fn numpy(&self) -> Result<(), String> {
        self.numpy.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// `PATH (Python X.Y.Z, numpy A.B)` or why it is not usable.
    pub fn describe(&self) -> String {
        match (&self.status, &self.numpy) {
            (Ok(v), Ok(n)) => format!("{} (Python {v}, numpy {n})", self.exe.display()),
            (Ok(v), Err(_)) => format!("{} (Python {v}, no numpy)", self.exe.display()),
            (Err(e), _) => format!("not usable: {e}"),
        }
    }

    /// Runs `python/bench_suite.py ARGS --json --layouts DIR`; its JSON answer.
    pub fn suite(&self, args: &[String]) -> Result<serde_json::Value, String> {
        let mut c = self.command();
        c.arg("python/bench_suite.py")
            .args(args)
            .arg("--json")
            .arg("--layouts")
            .arg(&self.layouts);
        json_of(c)
    }

    /// Runs `python/bench_counter.py ARGS --json`; its JSON answer.
    pub fn counter(&self, args: &[String]) -> Result<serde_json::Value, String> {
        let mut c = self.command();
        c.arg("python/bench_counter.py").args(args).arg("--json");
        json_of(c)
    }
}

fn json_of(c: Command) -> Result<serde_json::Value, String> {
    let out = run::run(c, Duration::from_secs(1200))?;
    let line = out
        .stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("no JSON in the output: {}", out.stdout.trim()))?;
    serde_json::from_str(line).map_err(|e| format!("bad JSON ({e}): {line}"))
}

/// Writes `benchlayouts.py` (and its stub) into `dir` with shmgen's Python emitter.
fn write_layouts(dir: &Path) -> Result<(), String> {
    let schema = shmgen_codegen::parse_str("bench/schemas/benchlayouts.toml", SCHEMA)
        .map_err(|e| e.to_string())?;
    let outputs = schema
        .render(Lang::Python, &Options::default())
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for o in outputs {
        std::fs::write(dir.join(&o.file_name), o.contents).map_err(|e| e.to_string())?;
    }
    Ok(())
}
