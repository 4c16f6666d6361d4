//! The layout table `shmgen check` prints: per struct, every field's offset, size, alignment,
//! kind and type, the padding holes, and the totals.

use std::fmt::Write as _;

use shmgen_runtime::{Elem, FieldLayout, Kind, StructLayout, Ty};

use crate::emit::LayoutSet;
use crate::layout;
use crate::schema::Schema;

/// A value type in schema spelling: `u64`, `[[f64; 3]; 4]`, `str[32]`, `WorkerStats`.
pub(crate) fn type_name(t: &Ty<'_>) -> String {
    let mut s = match t.elem {
        Elem::Prim(p) => p.name().to_owned(),
        Elem::Str(n) => format!("str[{n}]"),
        Elem::Bytes(n) => format!("bytes[{n}]"),
        Elem::Struct(st) => st.name.to_owned(),
    };
    for d in t.dims().iter().rev() {
        s = format!("[{s}; {d}]");
    }
    s
}

/// A field's type column: its value type, `initial = K`, `T x N`, plus `(align = N)`.
pub(crate) fn field_type(f: &FieldLayout<'_>) -> String {
    let base = match &f.kind {
        Kind::Plain(t) | Kind::Mutex(t) | Kind::RMutex(t) | Kind::SeqLock(t) => type_name(t),
        Kind::Atomic(p) => p.name().to_owned(),
        Kind::Semaphore { initial } => format!("initial = {initial}"),
        Kind::Event => "-".to_owned(),
        Kind::Ring { item, capacity } => format!("{} x {capacity}", type_name(item)),
    };
    if layout::natural(&f.kind) == Some((f.size, f.align)) {
        base
    } else {
        format!("{base} (align = {})", f.align)
    }
}

fn struct_table(out: &mut String, s: &StructLayout<'_>, is_root: bool) {
    let root = if is_root { ", root" } else { "" };
    let _ = writeln!(
        out,
        "struct {} (size {}, align {}{root})",
        s.name, s.size, s.align
    );
    for line in s.doc.lines() {
        let _ = writeln!(out, "  /// {line}");
    }
    let holes = layout::holes(s);
    // Rows: offset, size, align, kind, type, field.
    let mut rows: Vec<[String; 6]> = Vec::new();
    for (i, f) in s.fields.iter().enumerate() {
        for h in holes.iter().filter(|h| h.before == Some(i)) {
            rows.push(hole_row(h));
        }
        rows.push([
            f.offset.to_string(),
            f.size.to_string(),
            f.align.to_string(),
            f.kind.name().to_owned(),
            field_type(f),
            f.name.to_owned(),
        ]);
    }
    for h in holes.iter().filter(|h| h.before.is_none()) {
        rows.push(hole_row(h));
    }
    let header = ["offset", "size", "align", "kind", "type", "field"].map(String::from);
    let mut w = [0usize; 6];
    for r in std::iter::once(&header).chain(&rows) {
        for (wi, c) in w.iter_mut().zip(r) {
            *wi = (*wi).max(c.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "  {:>w0$}  {:>w1$}  {:>w2$}  {:<w3$}  {:<w4$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let padding: usize = holes.iter().map(|h| h.size).sum();
    let in_fields: usize = s.fields.iter().map(|f| f.size).sum();
    let n = holes.len();
    let holes_word = if n == 1 { "hole" } else { "holes" };
    let _ = writeln!(
        out,
        "  total {} bytes: {in_fields} in fields, {padding} padding ({n} {holes_word})",
        s.size,
    );
}

fn hole_row(h: &layout::Hole) -> [String; 6] {
    [
        h.offset.to_string(),
        h.size.to_string(),
        String::new(),
        "padding".to_owned(),
        String::new(),
        String::new(),
    ]
}

/// Renders the layout table of every struct of a layout set.
pub fn layout_table(set: &LayoutSet<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "schema {} (from {}), version {}, root {}, fingerprint {:#018x}",
        set.schema,
        set.source,
        set.version,
        set.root.name,
        set.fingerprint()
    );
    for s in &set.structs {
        out.push('\n');
        struct_table(&mut out, s, std::ptr::eq(*s, set.root));
    }
    out
}

impl Schema {
    /// The layout table `shmgen check` prints.
    pub fn layout_table(&self) -> String {
        self.with_layouts(layout_table)
    }
}
