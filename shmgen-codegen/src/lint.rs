//! The false-sharing lint `shmgen check` runs: independently synchronised fields (locks,
//! atomics, seqlocks, semaphores, events, rings) whose bytes touch the same 64-byte cache line.
//!
//! Two such fields are usually written by different processes at the same time; when they share
//! a cache line, every write by one invalidates the other's cached copy, and both slow down
//! although they never touch the same bytes. `align = 64` on the later field gives it cache
//! lines of its own (its slot is padded to a multiple of 64, so what follows it moves on too).
//!
//! The lint looks at the root struct as a segment holds it: every field, recursing into nested
//! plain structs and every element of arrays of structs. A segment's root starts on a cache-line
//! boundary (`payload_offset` is 128 or a larger multiple of the root's alignment, and the
//! mapping is page-aligned), so offsets from the root's start give the real lines. A ring's
//! own control block (its head, tail and metadata lines) is designed for this and is one unit;
//! a lock and the value it protects are one unit too.
//!
//! [`false_sharing`] works on any type table (TOML or derived); [`lint_str`] and [`lint_file`]
//! compile a schema and point each warning at the TOML field to change, rustc-style.

use std::fmt;
use std::path::Path;

use shmgen_runtime::abi::CACHE_LINE;
use shmgen_runtime::{Elem, Kind, StructLayout};

use crate::ast;
use crate::error::{Error, Errors, Sink};
use crate::schema::{display_path, parse_str};
use crate::source::Source;

/// Arrays of structs longer than this are examined at both ends only: the line-sharing pattern
/// of equal elements repeats every `64 / gcd(stride, 64)` elements (at most 64), so the first
/// and last elements show every pair the middle ones have.
const ARRAY_EDGE: usize = 2 * CACHE_LINE + 1;
/// Nested structs deeper than this are not examined (a type table cannot be cyclic, but a
/// hand-written one could be).
const MAX_DEPTH: usize = 64;
/// At most this many synchronised units are examined.
const MAX_UNITS: usize = 1 << 16;

/// One step of a path from the root to a field: the struct, the field, and the array element
/// (flattened index) when the field is an array of structs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Step {
    owner: String,
    field: String,
    index: Option<usize>,
}

/// An independently synchronised field as the lint sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncField {
    /// Its path from the root: `tasks_done`, `workers[2].hits`, `grid[1][0].n`.
    pub path: String,
    /// Its kind: `mutex`, `atomic`, `seqlock`, ...
    pub kind: &'static str,
    /// First byte, from the start of the root struct.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    steps: Vec<Step>,
}

impl SyncField {
    /// The first cache line its bytes touch.
    pub fn first_line(&self) -> usize {
        self.start / CACHE_LINE
    }

    /// The last cache line its bytes touch.
    pub fn last_line(&self) -> usize {
        self.end.saturating_sub(1).max(self.start) / CACHE_LINE
    }
}

/// Where `align = 64` fixes a finding: field `field` of struct `owner`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    /// The struct that declares the field.
    pub owner: String,
    /// The field to give `align = 64`.
    pub field: String,
}

/// Two synchronised fields sharing a cache line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FalseSharing {
    /// The field that comes first.
    pub first: SyncField,
    /// The field that comes second.
    pub second: SyncField,
    /// The (first) cache line both touch, counted from the root's start.
    pub line: usize,
    /// The field whose `align = 64` separates them.
    pub fix: Fix,
}

impl FalseSharing {
    /// The one-line message: ``` `a` (mutex) and `b` (atomic) share cache line 1 (bytes
    /// 64..127): false sharing; add `align = 64` to `b` ```.
    pub fn message(&self, root: &str) -> String {
        let target = if self.fix.owner == root {
            format!("`{}`", self.fix.field)
        } else {
            format!("`{}` in struct `{}`", self.fix.field, self.fix.owner)
        };
        format!(
            "`{}` ({}) and `{}` ({}) share cache line {} (bytes {}..{}): false sharing; add `align = {CACHE_LINE}` to {target}",
            self.first.path,
            self.first.kind,
            self.second.path,
            self.second.kind,
            self.line,
            self.line * CACHE_LINE,
            self.line * CACHE_LINE + CACHE_LINE - 1,
        )
    }
}

/// Every pair of consecutive synchronised fields of `root` whose bytes touch a common cache line,
/// in offset order. Equal findings inside arrays of structs (`a[0].n`/`a[1].n`,
/// `a[1].n`/`a[2].n`, ...) are reported once, at their first place.
pub fn false_sharing(root: &StructLayout<'_>) -> Vec<FalseSharing> {
    let mut units = Vec::new();
    collect(root, 0, &mut Vec::new(), &mut units, 0);
    units.sort_by_key(|u| (u.start, u.end));
    let mut out: Vec<FalseSharing> = Vec::new();
    for pair in units.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.last_line() < b.first_line() {
            continue;
        }
        let Some(fix) = fix_for(&a.steps, &b.steps) else {
            continue;
        };
        let finding = FalseSharing {
            first: a.clone(),
            second: b.clone(),
            line: b.first_line(),
            fix,
        };
        let same = |x: &FalseSharing| {
            leaf(&x.first.steps) == leaf(&finding.first.steps)
                && leaf(&x.second.steps) == leaf(&finding.second.steps)
                && x.fix == finding.fix
                && generic_path(&x.first.steps) == generic_path(&finding.first.steps)
                && generic_path(&x.second.steps) == generic_path(&finding.second.steps)
        };
        if !out.iter().any(same) {
            out.push(finding);
        }
    }
    out
}

/// The declaring struct and name of the field a path ends in.
fn leaf(steps: &[Step]) -> Option<(&str, &str)> {
    steps.last().map(|s| (s.owner.as_str(), s.field.as_str()))
}

/// A path with array indices left out (`a[].n`), to recognise repeats of one finding.
fn generic_path(steps: &[Step]) -> Vec<(&str, bool)> {
    steps
        .iter()
        .map(|s| (s.field.as_str(), s.index.is_some()))
        .collect()
}

/// Where paths `a` and `b` part: if in different fields of one struct, `b`'s field there; if in
/// different elements of one array of structs, `b`'s field inside the element.
fn fix_for(a: &[Step], b: &[Step]) -> Option<Fix> {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x.field != y.field || x.owner != y.owner {
            return Some(Fix {
                owner: y.owner.clone(),
                field: y.field.clone(),
            });
        }
        if x.index != y.index {
            let inner = b.get(i + 1)?;
            return Some(Fix {
                owner: inner.owner.clone(),
                field: inner.field.clone(),
            });
        }
    }
    None
}

fn render_path(steps: &[Step], dims_of: &[Vec<usize>]) -> String {
    let mut s = String::new();
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(&step.field);
        if let Some(flat) = step.index {
            for ix in unflatten(flat, &dims_of[i]) {
                s.push_str(&format!("[{ix}]"));
            }
        }
    }
    s
}

/// A flat element index as one index per dimension (outermost first).
pub(crate) fn unflatten(mut flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut out = vec![0; dims.len()];
    for (o, &d) in out.iter_mut().zip(dims).rev() {
        if d == 0 {
            continue;
        }
        *o = flat % d;
        flat /= d;
    }
    out
}

/// Collects the synchronised units of struct `s` placed at `base`.
fn collect(
    s: &StructLayout<'_>,
    base: usize,
    prefix: &mut Vec<(Step, Vec<usize>)>,
    out: &mut Vec<SyncField>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for f in s.fields {
        if out.len() >= MAX_UNITS {
            return;
        }
        let start = base.saturating_add(f.offset);
        let step = |index| Step {
            owner: s.name.to_owned(),
            field: f.name.to_owned(),
            index,
        };
        match f.kind {
            Kind::Plain(t) => {
                let Elem::Struct(inner) = t.elem else {
                    continue;
                };
                let count = t.count();
                let stride = inner.size;
                if stride == 0 {
                    continue;
                }
                let indices: Vec<usize> = if count > 2 * ARRAY_EDGE {
                    (0..ARRAY_EDGE).chain(count - ARRAY_EDGE..count).collect()
                } else {
                    (0..count).collect()
                };
                let is_array = t.ndim > 0;
                for i in indices {
                    let index = is_array.then_some(i);
                    prefix.push((step(index), t.dims().to_vec()));
                    collect(
                        inner,
                        start.saturating_add(i.saturating_mul(stride)),
                        prefix,
                        out,
                        depth + 1,
                    );
                    prefix.pop();
                }
            }
            kind => {
                let mut steps: Vec<Step> = prefix.iter().map(|(s, _)| s.clone()).collect();
                steps.push(step(None));
                let mut dims: Vec<Vec<usize>> = prefix.iter().map(|(_, d)| d.clone()).collect();
                dims.push(Vec::new());
                out.push(SyncField {
                    path: render_path(&steps, &dims),
                    kind: kind.name(),
                    start,
                    end: start.saturating_add(f.size),
                    steps,
                });
            }
        }
    }
}

/// A lint finding placed in a schema file, printed rustc-style as a `warning:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The finding.
    pub finding: FalseSharing,
    /// The one-line message.
    pub message: String,
    /// The file, as named to the compiler.
    pub file: String,
    /// 1-based line of the field to change (1 when unknown).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The text the carets point at (the field's name).
    text: String,
    /// The whole source line.
    line_text: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = " ".repeat(self.line.to_string().len());
        writeln!(f, "warning: {}", self.message)?;
        writeln!(f, "{gutter}--> {}:{}:{}", self.file, self.line, self.column)?;
        if !self.line_text.is_empty() {
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{} | {}", self.line, self.line_text)?;
            let lead: String = self
                .line_text
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let carets = "^".repeat(self.text.chars().count().max(1));
            writeln!(
                f,
                "{gutter} | {lead}{carets} add `align = {CACHE_LINE}` here"
            )?;
        }
        writeln!(f, "{gutter} |")?;
        writeln!(
            f,
            "{gutter} = note: `{}` spans bytes {}..{} and `{}` bytes {}..{} of `{}`; each write to one evicts the other from every other core's cache",
            self.finding.first.path,
            self.finding.first.start,
            self.finding.first.end,
            self.finding.second.path,
            self.finding.second.start,
            self.finding.second.end,
            self.root_name(),
        )
    }
}

impl Warning {
    fn root_name(&self) -> &str {
        self.finding
            .first
            .steps
            .first()
            .map_or("", |s| s.owner.as_str())
    }
}

/// Compiles schema text and lints its root struct: the false-sharing warnings, each pointing
/// at the field to give `align = 64`. Schema errors come back as [`Errors`], as from
/// [`parse_str`].
pub fn lint_str(name: &str, text: &str) -> Result<Vec<Warning>, Errors> {
    let schema = parse_str(name, text)?;
    let root = schema.root().to_owned();
    let findings = schema.with_layouts(|set| false_sharing(set.root));
    let src = Source::new(name, text);
    let mut sink = Sink::default();
    let doc = ast::parse(text, &mut sink).unwrap_or_default();
    Ok(findings
        .into_iter()
        .map(|finding| {
            let span = doc
                .structs
                .iter()
                .filter(|s| {
                    s.name
                        .as_ref()
                        .is_some_and(|n| n.value == finding.fix.owner)
                })
                .flat_map(|s| &s.fields)
                .find_map(|f| {
                    f.name
                        .as_ref()
                        .filter(|n| n.value == finding.fix.field)
                        .map(|n| n.span.clone())
                });
            let (line, column, snippet, line_text) = match span {
                Some(span) => {
                    let pos = src.position(span.start);
                    (
                        pos.line,
                        pos.column,
                        src.snippet(&span).to_owned(),
                        src.line_text(pos.line).to_owned(),
                    )
                }
                None => (1, 1, String::new(), String::new()),
            };
            Warning {
                message: finding.message(&root),
                finding,
                file: name.to_owned(),
                line,
                column,
                text: snippet,
                line_text,
            }
        })
        .collect())
}

/// Reads a schema file and lints it ([`lint_str`]); the path is used as given in messages.
pub fn lint_file(path: impl AsRef<Path>) -> Result<Vec<Warning>, Error> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    lint_str(&display_path(path), &text).map_err(Error::Schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(text: &str) -> Vec<Warning> {
        lint_str("t.toml", text).unwrap()
    }

    #[test]
    fn two_locks_in_one_line_warn_and_align_fixes_it() {
        let w = lint(
            "[[struct]]\nname = \"S\"\nfields = [\n  { name = \"a\", type = \"u32\", lock = \"mutex\" },\n  { name = \"b\", type = \"u64\", atomic = true },\n]\n",
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(
            w[0].message,
            "`a` (mutex) and `b` (atomic) share cache line 0 (bytes 0..63): false sharing; add `align = 64` to `b`"
        );
        assert_eq!((w[0].line, w[0].column), (5, 12));
        let shown = w[0].to_string();
        assert!(shown.contains("--> t.toml:5:12"), "{shown}");
        let w = lint(
            "[[struct]]\nname = \"S\"\nfields = [\n  { name = \"a\", type = \"u32\", lock = \"mutex\" },\n  { name = \"b\", type = \"u64\", atomic = true, align = 64 },\n]\n",
        );
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn plain_fields_and_rings_alone_are_fine() {
        let w = lint(
            "[[struct]]\nname = \"S\"\nfields = [\n  { name = \"a\", type = \"u64\" },\n  { name = \"b\", type = \"u64\" },\n  { name = \"q\", type = \"ring\", item = \"u64\", capacity = 4 },\n  { name = \"n\", type = \"u64\", atomic = true },\n]\n",
        );
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn arrays_of_structs_are_examined_and_reported_once() {
        let w = lint(
            "root = \"S\"\n[[struct]]\nname = \"C\"\nfields = [{ name = \"n\", type = \"u64\", atomic = true }]\n[[struct]]\nname = \"S\"\nfields = [{ name = \"cs\", type = \"[C; 100]\" }]\n",
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0]
            .message
            .starts_with("`cs[0].n` (atomic) and `cs[1].n` (atomic) share cache line 0"));
        assert!(w[0]
            .message
            .ends_with("add `align = 64` to `n` in struct `C`"));
        assert_eq!(w[0].line, 4);
    }

    #[test]
    fn unflatten_is_row_major() {
        assert_eq!(unflatten(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unflatten(0, &[]), Vec::<usize>::new());
    }
}
