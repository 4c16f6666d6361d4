//! The build API in prost-build's shape: [`compile`] for the common case, [`Builder`] for
//! options. Files are written only when their contents change, so cargo does not rebuild
//! needlessly.

use std::path::{Path, PathBuf};

use crate::emit::{self, Lang, Options, Output};
use crate::error::{Error, Errors};
use crate::schema::{self, Schema};

/// Compiles schemas into Rust in `OUT_DIR`, from a build script:
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), shmgen_codegen::Error> {
///     shmgen_codegen::compile(&["schemas/metrics.toml"])
/// }
/// ```
///
/// and in the crate: `mod metrics { shmgen_runtime::include_layout!("metrics"); }`.
/// Prints `cargo:rerun-if-changed` for every schema. See [`Builder`] for options.
pub fn compile(paths: &[impl AsRef<Path>]) -> Result<(), Error> {
    Builder::new().compile(paths)
}

/// Options for compiling schemas (output directory, languages, runtime crate path).
///
/// ```no_run
/// // build.rs
/// use shmgen_codegen::{Builder, Lang};
///
/// fn main() -> Result<(), shmgen_codegen::Error> {
///     Builder::new()
///         .langs(&[Lang::Rust])
///         .runtime_crate("crate::shm")
///         .compile(&["schemas/metrics.toml", "schemas/jobs.toml"])
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    out_dir: Option<PathBuf>,
    langs: Vec<Lang>,
    options: Options,
    rerun_if_changed: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

/// What happened to one output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The file's path.
    pub path: PathBuf,
    /// False when the file already had these contents and was left alone.
    pub changed: bool,
}

impl Builder {
    /// Rust output into `OUT_DIR`, runtime at `::shmgen_runtime`, printing
    /// `cargo:rerun-if-changed`.
    pub fn new() -> Self {
        Builder {
            out_dir: None,
            langs: vec![Lang::Rust],
            options: Options::default(),
            rerun_if_changed: true,
        }
    }

    /// Where to write (default: the `OUT_DIR` cargo gives build scripts).
    pub fn out_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Which languages to emit (default: Rust). Asking for a language this version cannot
    /// emit yet makes [`Builder::compile`] fail with [`Error::LangUnavailable`].
    pub fn langs(&mut self, langs: &[Lang]) -> &mut Self {
        let mut v = langs.to_vec();
        v.sort();
        v.dedup();
        self.langs = v;
        self
    }

    /// How generated Rust names the runtime crate (default `::shmgen_runtime`), e.g.
    /// `crate::shm` when the runtime is re-exported under another path.
    pub fn runtime_crate(&mut self, path: impl Into<String>) -> &mut Self {
        self.options.runtime_crate = path.into();
        self
    }

    /// Whether [`Builder::compile`] prints `cargo:rerun-if-changed=<schema>` lines (default on).
    pub fn emit_rerun_if_changed(&mut self, yes: bool) -> &mut Self {
        self.rerun_if_changed = yes;
        self
    }

    /// The emitter options this builder passes on.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Checks the options: every language available, the runtime path a Rust path.
    fn check_options(&self) -> Result<(), Error> {
        if let Some(&lang) = self.langs.iter().find(|l| !l.is_available()) {
            return Err(Error::LangUnavailable(lang));
        }
        if self.langs.contains(&Lang::Rust) {
            emit::rust::runtime_path(&self.options.runtime_crate)?;
        }
        Ok(())
    }

    /// Reads and compiles every schema, reporting the problems of all of them at once.
    pub fn parse(&self, paths: &[impl AsRef<Path>]) -> Result<Vec<Schema>, Error> {
        let mut schemas = Vec::new();
        let mut errors = Errors::default();
        for p in paths {
            let p = p.as_ref();
            let text = std::fs::read_to_string(p).map_err(|source| Error::Read {
                path: p.to_owned(),
                source,
            })?;
            match schema::parse_str(&schema::display_path(p), &text) {
                Ok(s) => schemas.push(s),
                Err(e) => errors.extend(e),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Schema(errors));
        }
        for (i, a) in schemas.iter().enumerate() {
            if let Some(b) = schemas[i + 1..].iter().find(|b| b.name() == a.name()) {
                return Err(Error::DuplicateSchema {
                    name: a.name().to_owned(),
                    first: a.source().to_owned(),
                    second: b.source().to_owned(),
                });
            }
        }
        Ok(schemas)
    }

    /// Renders every file in memory, in input order then language order; writes nothing.
    pub fn generate(&self, paths: &[impl AsRef<Path>]) -> Result<Vec<Output>, Error> {
        self.check_options()?;
        let schemas = self.parse(paths)?;
        let mut out = Vec::new();
        for s in &schemas {
            for &lang in &self.langs {
                out.extend(s.render(lang, &self.options)?);
            }
        }
        Ok(out)
    }

    /// Compiles the schemas and writes the files that changed into the output directory.
    pub fn compile(&self, paths: &[impl AsRef<Path>]) -> Result<(), Error> {
        self.compile_files(paths).map(|_| ())
    }

    /// Like [`Builder::compile`], and says which files were written.
    pub fn compile_files(&self, paths: &[impl AsRef<Path>]) -> Result<Vec<Written>, Error> {
        if self.rerun_if_changed {
            for p in paths {
                println!("cargo:rerun-if-changed={}", p.as_ref().display());
            }
        }
        let dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::NoOutDir)?,
        };
        let outputs = self.generate(paths)?;
        write_outputs(&dir, &outputs)
    }
}

impl Schema {
    /// Renders one language's files for this schema (Python: the module and its `.pyi` stub).
    pub fn render(&self, lang: Lang, options: &Options) -> Result<Vec<Output>, Error> {
        self.with_layouts(|set| emit::render(set, lang, options))
    }

    /// The generated Rust with default options (a convenience for tests and tools).
    pub fn render_rust(&self) -> String {
        self.with_layouts(emit::rust::render)
    }
}

/// Writes outputs into `dir` (created if missing), leaving files whose contents are already
/// right untouched.
pub fn write_outputs(dir: &Path, outputs: &[Output]) -> Result<Vec<Written>, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })?;
    outputs
        .iter()
        .map(|o| {
            let path = dir.join(&o.file_name);
            if std::fs::read(&path).is_ok_and(|old| old == o.contents.as_bytes()) {
                return Ok(Written {
                    path,
                    changed: false,
                });
            }
            std::fs::write(&path, &o.contents).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            Ok(Written {
                path,
                changed: true,
            })
        })
        .collect()
}

/// The files in `dir` that are missing or differ from `outputs` (for `shmgen build --check`).
pub fn stale_outputs(dir: &Path, outputs: &[Output]) -> Vec<PathBuf> {
    outputs
        .iter()
        .map(|o| dir.join(&o.file_name))
        .zip(outputs)
        .filter(|(path, o)| !std::fs::read(path).is_ok_and(|old| old == o.contents.as_bytes()))
        .map(|(path, _)| path)
        .collect()
}
