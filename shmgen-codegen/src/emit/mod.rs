//! Back ends: each renders one language from the layout model ([`LayoutSet`]).
//!
//! Emitters read numbers from the type table; they never add, align or pad on their own
//! (the layout module and `shmgen_runtime::abi` are the only places that do layout arithmetic).

use shmgen_runtime::StructLayout;

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

impl LayoutSet<'_> {
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
    /// Python ctypes: `<schema>.py` (plus `<schema>.pyi`).
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
