//! [`Schema`]: a compiled schema (parsed, validated, laid out) and the front-end entry points
//! [`parse_str`] and [`parse_file`].

use std::cell::OnceCell;
use std::path::Path;

use shmgen_runtime::table::MAX_DIMS;
use shmgen_runtime::{Elem, FieldLayout, Kind, StructLayout, Ty};

use crate::emit::LayoutSet;
use crate::error::{Diagnostic, Error, Errors, Sink};
use crate::layout::{self, MElem, MKind, MTy, Model};
use crate::source::Source;
use crate::{ast, validate};

/// A schema that parsed, validated and laid out: ready for the emitters.
#[derive(Clone, Debug)]
pub struct Schema {
    model: Model,
    source: String,
}

/// Compiles schema text. `name` is what the text is called in messages and in the generated
/// banner (normally its path, e.g. `schemas/metrics.toml`); its file stem is the default schema
/// name. Every problem is reported at once.
pub fn parse_str(name: &str, text: &str) -> Result<Schema, Errors> {
    let src = Source::new(name, text);
    let mut sink = Sink::default();
    // Each stage goes as far as it can so that every problem is reported in one run; only a
    // schema with no problem at all is used.
    let model = ast::parse(src.text(), &mut sink)
        .and_then(|doc| validate::validate(&doc, src.text(), name, &mut sink))
        .and_then(|checked| layout::compute(&checked, &mut sink));
    match model {
        Some(model) if sink.is_empty() => Ok(Schema {
            model,
            source: banner_name(name),
        }),
        _ => {
            let errors = sink.into_errors(&src);
            if errors.is_empty() {
                // Cannot happen (every `None` above reports why); never return an empty error.
                let mut e = Errors::default();
                e.push(Diagnostic::whole_file(name, "invalid schema"));
                Err(e)
            } else {
                Err(errors)
            }
        }
    }
}

/// Reads and compiles a schema file. The path is used as given in messages and the banner.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Schema, Error> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_str(&display_path(path), &text).map_err(Error::Schema)
}

/// A path with `/` separators, as shown in messages.
pub(crate) fn display_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// What the `@generated` banner names: the path as given when relative (so output does not
/// depend on where the project lives), only the file name when absolute.
fn banner_name(name: &str) -> String {
    let p = Path::new(name);
    if p.is_absolute() {
        p.file_name()
            .map_or_else(|| name.to_owned(), |f| f.to_string_lossy().into_owned())
    } else {
        name.to_owned()
    }
}

impl Schema {
    /// The schema (module) name: `schema = "..."` or the file stem.
    pub fn name(&self) -> &str {
        &self.model.schema
    }

    /// The user's layout version.
    pub fn version(&self) -> u32 {
        self.model.version
    }

    /// The root struct's name.
    pub fn root(&self) -> &str {
        &self.model.structs[self.model.root].name
    }

    /// Where the schema came from, as the `@generated` banner names it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Names of every struct, dependencies before dependants.
    pub fn struct_names(&self) -> impl Iterator<Item = &str> {
        self.model.structs.iter().map(|s| s.name.as_str())
    }

    /// The layout fingerprint of the root struct (what a segment's header carries).
    pub fn fingerprint(&self) -> u64 {
        self.with_layouts(|set| set.fingerprint())
    }

    /// Builds the runtime's type table for every struct and hands it to `f` as a [`LayoutSet`].
    ///
    /// The tables borrow each other (a field's type points at its nested struct's table), so
    /// they live on this call's stack, not in `self`: nothing is leaked and no `unsafe` is used.
    pub fn with_layouts<R>(&self, f: impl FnOnce(&LayoutSet<'_>) -> R) -> R {
        let m = &self.model;
        // Write-once cells let each table borrow the ones built before it from the same vectors.
        let field_cells: Vec<OnceCell<Vec<FieldLayout<'_>>>> =
            m.structs.iter().map(|_| OnceCell::new()).collect();
        let struct_cells: Vec<OnceCell<StructLayout<'_>>> =
            m.structs.iter().map(|_| OnceCell::new()).collect();
        let mut built: Vec<&StructLayout<'_>> = Vec::with_capacity(m.structs.len());
        for (i, s) in m.structs.iter().enumerate() {
            let fields: Vec<FieldLayout<'_>> = s
                .fields
                .iter()
                .map(|f| FieldLayout {
                    name: &f.name,
                    doc: &f.doc,
                    offset: f.offset,
                    size: f.size,
                    align: f.align,
                    kind: kind(&f.kind, &built),
                })
                .collect();
            let fields = field_cells[i].get_or_init(|| fields);
            let layout = struct_cells[i].get_or_init(|| StructLayout {
                name: &s.name,
                doc: &s.doc,
                size: s.size,
                align: s.align,
                fields,
            });
            built.push(layout);
        }
        let set = LayoutSet {
            schema: &m.schema,
            version: m.version,
            root: built[m.root],
            structs: built,
            source: &self.source,
        };
        f(&set)
    }
}

/// A value type of the model as the runtime's [`Ty`]; `built` holds the tables of every struct
/// before this one in dependency order.
fn ty<'x>(t: &MTy, built: &[&'x StructLayout<'x>]) -> Ty<'x> {
    let mut dims = [0usize; MAX_DIMS];
    for (d, &n) in dims.iter_mut().zip(&t.dims) {
        *d = n;
    }
    Ty {
        elem: match t.elem {
            MElem::Prim(p) => Elem::Prim(p),
            MElem::Str(n) => Elem::Str(n),
            MElem::Bytes(n) => Elem::Bytes(n),
            MElem::Struct(j) => Elem::Struct(built[j]),
        },
        ndim: t.dims.len().min(MAX_DIMS) as u8,
        dims,
        size: t.size,
        align: t.align,
    }
}

fn kind<'x>(k: &MKind, built: &[&'x StructLayout<'x>]) -> Kind<'x> {
    match k {
        MKind::Plain(t) => Kind::Plain(ty(t, built)),
        MKind::Atomic(p) => Kind::Atomic(*p),
        MKind::Mutex(t) => Kind::Mutex(ty(t, built)),
        MKind::RMutex(t) => Kind::RMutex(ty(t, built)),
        MKind::SeqLock(t) => Kind::SeqLock(ty(t, built)),
        MKind::Semaphore(initial) => Kind::Semaphore { initial: *initial },
        MKind::Event => Kind::Event,
        MKind::Ring { item, capacity } => Kind::Ring {
            item: ty(item, built),
            capacity: *capacity,
        },
    }
}
