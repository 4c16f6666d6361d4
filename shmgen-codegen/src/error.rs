//! Errors: schema diagnostics rendered in rustc's style, and the build API's error type.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use crate::emit::Lang;
use crate::source::Source;

/// One problem in a schema, with where it is and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, e.g. `unknown type "u65"`.
    pub message: String,
    /// The file the problem is in, as it was named to the compiler.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The offending text (the part of the line the caret points at).
    pub text: String,
    /// A short note printed after the carets.
    pub label: Option<String>,
    /// What to do about it.
    pub help: Option<String>,
    /// The whole source line, for the excerpt.
    line_text: String,
}

impl Diagnostic {
    /// A diagnostic about the file as a whole (no position inside it), e.g. an unreadable file.
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            file: file.to_owned(),
            line: 1,
            column: 1,
            text: String::new(),
            label: None,
            help: None,
            line_text: String::new(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = " ".repeat(self.line.to_string().len());
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "{gutter}--> {}:{}:{}", self.file, self.line, self.column)?;
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{} | {}", self.line, self.line_text)?;
        // Columns count characters; tabs in the excerpt keep their width under the carets.
        let lead: String = self
            .line_text
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = "^".repeat(self.text.chars().count().max(1));
        match &self.label {
            Some(label) => writeln!(f, "{gutter} | {lead}{carets} {label}")?,
            None => writeln!(f, "{gutter} | {lead}{carets}")?,
        }
        if let Some(help) = &self.help {
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{gutter} = help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found in one or more schemas (never empty when returned as an error).
///
/// `Debug` prints the same rendered text as `Display`, so a build script that returns this
/// error from `main` shows readable diagnostics.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Errors {
    diagnostics: Vec<Diagnostic>,
}

impl Errors {
    /// The diagnostics, in file order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.diagnostics.len()
    }

    /// True when there is no problem.
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// Adds the problems of another file.
    pub fn extend(&mut self, other: Errors) {
        self.diagnostics.extend(other.diagnostics);
    }

    /// Adds one diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        match self.diagnostics.len() {
            0 => Ok(()),
            1 => write!(f, "error: aborting due to 1 previous error"),
            n => write!(f, "error: aborting due to {n} previous errors"),
        }
    }
}

impl fmt::Debug for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{self}")
    }
}

impl std::error::Error for Errors {}

/// A problem found while compiling, before it is given a line and column.
#[derive(Clone, Debug)]
pub(crate) struct Problem {
    pub span: Range<usize>,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Problem {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Problem {
            span,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Collects problems; turns them into [`Errors`] against a [`Source`].
#[derive(Debug, Default)]
pub(crate) struct Sink {
    problems: Vec<Problem>,
}

impl Sink {
    pub(crate) fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// Resolves positions and sorts by place in the file (then by message, so the order is
    /// deterministic whatever order the checks ran in).
    pub(crate) fn into_errors(mut self, src: &Source) -> Errors {
        self.problems.sort_by(|a, b| {
            (a.span.start, a.span.end, &a.message).cmp(&(b.span.start, b.span.end, &b.message))
        });
        self.problems
            .dedup_by(|a, b| a.span == b.span && a.message == b.message);
        let diagnostics = self
            .problems
            .into_iter()
            .map(|p| {
                let pos = src.position(p.span.start);
                Diagnostic {
                    message: p.message,
                    file: src.name().to_owned(),
                    line: pos.line,
                    column: pos.column,
                    text: src.snippet(&p.span).to_owned(),
                    label: p.label,
                    help: p.help,
                    line_text: src.line_text(pos.line).to_owned(),
                }
            })
            .collect();
        Errors { diagnostics }
    }
}

/// Why a build failed.
///
/// `Debug` prints the `Display` text (as `anyhow` does), so `fn main() -> Result<(), Error>` in a
/// build script shows readable diagnostics.
#[derive(thiserror::Error)]
pub enum Error {
    /// A schema file could not be read.
    #[error("cannot read schema {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An output file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// One or more schemas are invalid; every problem is listed.
    #[error("{0}")]
    Schema(Errors),
    /// A language whose emitter has not been written yet was asked for.
    #[error(
        "{} output is not available yet in this version of shmgen (available: {})",
        .0.name(),
        crate::emit::available_names()
    )]
    LangUnavailable(Lang),
    /// No output directory was given and `OUT_DIR` is not set (not running in a build script).
    #[error("no output directory: call Builder::out_dir, or run from a build script (OUT_DIR is not set)")]
    NoOutDir,
    /// The runtime crate path given to `Builder::runtime_crate` is not a Rust path.
    #[error("runtime crate path {0:?} is not a Rust path like `::shmgen_runtime` or `crate::shm`")]
    BadRuntimePath(String),
    /// Two schemas of one build would write the same file.
    #[error("schemas {first} and {second} are both named {name:?}: set `schema = \"...\"` in one of them")]
    DuplicateSchema {
        /// The schema name both have.
        name: String,
        /// The first file.
        first: String,
        /// The second file.
        second: String,
    },
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Schema(e) => write!(f, "\n{e}"),
            other => write!(f, "{other}"),
        }
    }
}
