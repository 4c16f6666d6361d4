//! Back ends: each renders one language from the layout model ([`LayoutSet`]).
//!
//! Emitters read numbers from the type table; they never add, align or pad on their own
//! (the layout module and `shmgen_runtime::abi` are the only places that do layout arithmetic).

use shmgen_runtime::{Elem, Kind, StructLayout};

use crate::error::Error;

pub mod c;
pub mod python;
pub mod rust;

/// Everything an emitter needs: the schema's structs with their computed layouts.
#[derive(Clone, Debug)]
pub struct LayoutSet<'a> {
    /// The schema name (`schema = "..."` or the file stem): the module name in every language.
    pub schema: &'a str,
    /// The user's layout version.
    pub version: u32,
    /// Every struct of the schema, dependencies before dependants (the root is among them).
    pub structs: Vec<&'a StructLayout<'a>>,
    /// The root struct (what a segment holds).
    pub root: &'a StructLayout<'a>,
    /// Where the schema came from, for the `@generated` banner (a path, or e.g. `derive`).
    pub source: &'a str,
}

impl<'a> LayoutSet<'a> {
    /// The set for one root struct and every struct nested in it (dependencies first, each
    /// once): how a derived type's table (`T::LAYOUT`) becomes Python or C.
    ///
    /// ```
    /// use shmgen_codegen::{emit, Lang, LayoutSet, Options};
    /// use shmgen_runtime::SharedLayout;
    ///
    /// #[derive(SharedLayout)]
    /// #[repr(C)]
    /// struct Counter {
    ///     hits: shmgen_runtime::Mutex<u64>,
    /// }
    ///
    /// let set = LayoutSet::from_root("counter", &Counter::LAYOUT, Counter::VERSION, "derive");
    /// assert_eq!(set.fingerprint(), Counter::FINGERPRINT);
    /// let files = emit::render(&set, Lang::Python, &Options::default()).unwrap();
    /// assert_eq!(files[0].file_name, "counter.py");
    /// ```
    pub fn from_root(
        schema: &'a str,
        root: &'a StructLayout<'a>,
        version: u32,
        source: &'a str,
    ) -> Self {
        fn visit<'a>(s: &'a StructLayout<'a>, out: &mut Vec<&'a StructLayout<'a>>) {
            if out.iter().any(|o| o.name == s.name) {
                return;
            }
            for f in s.fields {
                let ty = match f.kind {
                    Kind::Plain(t) | Kind::Mutex(t) | Kind::RMutex(t) | Kind::SeqLock(t) => t,
                    Kind::Ring { item, .. } => item,
                    Kind::Atomic(_) | Kind::Semaphore { .. } | Kind::Event => continue,
                };
                if let Elem::Struct(inner) = ty.elem {
                    visit(inner, out);
                }
            }
            out.push(s);
        }
        let mut structs = Vec::new();
        visit(root, &mut structs);
        LayoutSet {
            schema,
            version,
            structs,
            root,
            source,
        }
    }

    /// The fingerprint of `root` under `version` (the runtime's one `const fn`).
    pub fn fingerprint(&self) -> u64 {
        shmgen_runtime::fingerprint(self.root, self.version)
    }

    /// The fingerprint of any struct of the set, as if it were a root.
    pub fn fingerprint_of(&self, s: &StructLayout<'_>) -> u64 {
        shmgen_runtime::fingerprint(s, self.version)
    }
}

/// A target language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// Rust: `<schema>.rs`.
    Rust,
    /// Python ctypes: `<schema>.py` (plus the type stub `<schema>.pyi`).
    Python,
    /// C: `<schema>.h`.
    C,
}

/// A file an emitter produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// File name relative to the output directory.
    pub file_name: String,
    /// Its full contents.
    pub contents: String,
}

impl Lang {
    /// Every language, in a fixed order.
    pub const ALL: [Lang; 3] = [Lang::Rust, Lang::Python, Lang::C];

    /// The language's name as the CLI spells it: `rust`, `python`, `c`.
    pub const fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::C => "c",
        }
    }

    /// The extension of the file the language's emitter writes.
    pub const fn extension(self) -> &'static str {
        match self {
            Lang::Rust => "rs",
            Lang::Python => "py",
            Lang::C => "h",
        }
    }

    /// The file an emitter writes for a schema: `metrics.rs`, `metrics.py`, `metrics.h`.
    pub fn file_name(self, schema: &str) -> String {
        format!("{schema}.{}", self.extension())
    }

    /// True when this version of shmgen has an emitter for the language.
    pub fn is_available(self) -> bool {
        renderer(self).is_some()
    }

    /// The languages this version of shmgen can emit.
    pub fn available() -> Vec<Lang> {
        Lang::ALL.into_iter().filter(|l| l.is_available()).collect()
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rust" | "rs" => Ok(Lang::Rust),
            "python" | "py" => Ok(Lang::Python),
            "c" | "h" => Ok(Lang::C),
            other => Err(format!(
                "unknown language {other:?}: expected rust, python or c"
            )),
        }
    }
}

/// Options shared by the emitters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// How generated Rust names the runtime crate: `::shmgen_runtime` by default, or e.g.
    /// `crate::shm` when the runtime is re-exported.
    pub runtime_crate: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runtime_crate: rust::DEFAULT_RUNTIME.to_owned(),
        }
    }
}

/// A language's emitter: renders its files (one, or a module and its type stub) from the
/// layout set.
type Renderer = fn(&LayoutSet<'_>, &Options) -> Vec<Output>;

/// The emitter of each language; `None` where it has not been written yet.
fn renderer(lang: Lang) -> Option<Renderer> {
    match lang {
        Lang::Rust => {
            Some(|set, options| vec![file(set, Lang::Rust, rust::render_with(set, options))])
        }
        Lang::Python => Some(|set, _| {
            vec![
                file(set, Lang::Python, python::render(set)),
                Output {
                    file_name: python::stub_file_name(set.schema),
                    contents: python::render_stub(set),
                },
            ]
        }),
        Lang::C => Some(|set, _| vec![file(set, Lang::C, c::render(set))]),
    }
}

/// The main file of a language for a schema.
fn file(set: &LayoutSet<'_>, lang: Lang, contents: String) -> Output {
    Output {
        file_name: lang.file_name(set.schema),
        contents,
    }
}

/// The names of the available languages, for messages: `rust, python`.
pub(crate) fn available_names() -> String {
    Lang::available()
        .iter()
        .map(|l| l.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders one language's files for a layout set (Python also writes a `.pyi` type stub).
pub fn render(set: &LayoutSet<'_>, lang: Lang, options: &Options) -> Result<Vec<Output>, Error> {
    let render = renderer(lang).ok_or(Error::LangUnavailable(lang))?;
    if lang == Lang::Rust {
        rust::runtime_path(&options.runtime_crate)?;
    }
    Ok(render(set, options))
}
