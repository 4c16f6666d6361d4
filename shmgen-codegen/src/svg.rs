//! `shmgen layout --svg/--html`: a byte map of the root struct as an SVG picture.
//!
//! One row is one 64-byte cache line (offsets from the root's start, which a segment places on a
//! cache-line boundary). Fields are blocks coloured by kind, with the lock or control bytes of a
//! primitive shaded darker; padding (holes between fields, and the tail of an `align = N` slot)
//! is hatched; lines where the false-sharing lint fires are flagged. Runs of three or more lines
//! wholly inside one field (a ring's slots, a large array) collapse into one labelled band.
//! Below the map: a legend and the field list. The output depends only on the layout, so it can
//! be committed and snapshot-tested.

use std::fmt::Write as _;

use shmgen_runtime::abi::{self, CACHE_LINE};
use shmgen_runtime::{FieldLayout, Kind, StructLayout};

use crate::emit::LayoutSet;
use crate::layout;
use crate::lint;
use crate::report::field_type;
use crate::schema::Schema;

const BYTE_W: usize = 12;
const MAP_W: usize = CACHE_LINE * BYTE_W;
const LEFT: usize = 88;
const RIGHT: usize = 170;
const WIDTH: usize = LEFT + MAP_W + RIGHT;
const TITLE_H: usize = 62;
const RULER_H: usize = 20;
const ROW_H: usize = 38;
const ROW_GAP: usize = 6;
const BAND_H: usize = 30;
const LIST_ROW: usize = 18;
/// Approximate width of one character at font size 12 (wide enough for DejaVu Sans).
const CHAR_W: usize = 7;
/// Runs of at least this many whole lines inside one field become a band.
const MIN_BAND: usize = 3;

/// Every kind, with the colour of its blocks, in legend order.
const KINDS: [(&str, &str); 8] = [
    ("plain", "#7f8c8d"),
    ("atomic", "#27ae60"),
    ("mutex", "#c0392b"),
    ("rmutex", "#d35400"),
    ("seqlock", "#8e44ad"),
    ("semaphore", "#2980b9"),
    ("event", "#b7950b"),
    ("ring", "#16a085"),
];

fn colour(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("#7f8c8d", |(_, c)| c)
}

/// Escapes text for XML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// What one row of the map shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Row {
    /// Cache line `n`, byte by byte.
    Line(usize),
    /// Lines `first..=last`, all inside field `field` (`None`: all padding).
    Band {
        first: usize,
        last: usize,
        field: Option<usize>,
    },
}

/// The bytes at the start of a field that belong to its primitive (lock word, sequence, ring
/// control block) rather than to the value.
fn control_bytes(kind: &Kind<'_>) -> usize {
    match kind {
        Kind::Mutex(t) | Kind::RMutex(t) => {
            abi::mutex_layout(t.size, t.align).map_or(0, |c| c.value_offset)
        }
        Kind::SeqLock(t) => abi::seqlock_layout(t.size, t.align).map_or(0, |c| c.value_offset),
        Kind::Ring { item, capacity } => {
            abi::ring_layout(item.size, item.align, *capacity).map_or(0, |c| c.value_offset)
        }
        Kind::Semaphore { .. } | Kind::Event => 0,
        Kind::Plain(_) | Kind::Atomic(_) => 0,
    }
}

fn field_end(f: &FieldLayout<'_>) -> usize {
    f.offset.saturating_add(f.size)
}

/// What fills a whole cache line, if one thing does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Occupant {
    /// Field `i`'s content.
    Field(usize),
    /// Padding: a hole, or the tail of an `align = N` slot.
    Padding,
}

fn occupant(s: &StructLayout<'_>, l: usize) -> Option<Occupant> {
    let (a, b) = (l * CACHE_LINE, (l + 1) * CACHE_LINE);
    if b > s.size {
        return None;
    }
    for (i, f) in s.fields.iter().enumerate() {
        if f.offset >= b || field_end(f) <= a {
            continue;
        }
        let natural = layout::natural(&f.kind).map_or(f.size, |(n, _)| n.min(f.size));
        let content_end = f.offset + natural;
        return if f.offset <= a && content_end >= b {
            Some(Occupant::Field(i))
        } else if content_end <= a && field_end(f) >= b {
            Some(Occupant::Padding)
        } else {
            None
        };
    }
    // No field touches the line: a hole.
    Some(Occupant::Padding)
}

fn rows(s: &StructLayout<'_>) -> Vec<Row> {
    let lines = s.size.div_ceil(CACHE_LINE);
    let mut out = Vec::new();
    let mut l = 0;
    while l < lines {
        if let Some(occ) = occupant(s, l) {
            let mut last = l;
            while last + 1 < lines && occupant(s, last + 1) == Some(occ) {
                last += 1;
            }
            // A field that starts on this line keeps it as a normal row (its label and control
            // bytes show there); the band holds the rest.
            let first = match occ {
                Occupant::Field(i) if s.fields[i].offset == l * CACHE_LINE => l + 1,
                _ => l,
            };
            if last >= first && last + 1 - first >= MIN_BAND - 1 {
                if first > l {
                    out.push(Row::Line(l));
                }
                out.push(Row::Band {
                    first,
                    last,
                    field: match occ {
                        Occupant::Field(i) => Some(i),
                        Occupant::Padding => None,
                    },
                });
                l = last + 1;
                continue;
            }
        }
        out.push(Row::Line(l));
        l += 1;
    }
    out
}

fn row_height(r: &Row) -> usize {
    match r {
        Row::Line(_) => ROW_H,
        Row::Band { .. } => BAND_H,
    }
}

fn text(out: &mut String, x: usize, y: usize, size: usize, attrs: &str, content: &str) {
    let _ = writeln!(
        out,
        r#"<text x="{x}" y="{y}" font-size="{size}"{attrs}>{}</text>"#,
        esc(content)
    );
}

/// The widest stretch of field `f` inside one row, as `(row index, first byte, end byte)`.
fn label_place(rows: &[Row], f: &FieldLayout<'_>, fi: usize) -> Option<(usize, usize, usize)> {
    let mut best: Option<(usize, usize, usize)> = None;
    for (ri, r) in rows.iter().enumerate() {
        let (a, b) = match *r {
            Row::Line(l) => (l * CACHE_LINE, (l + 1) * CACHE_LINE),
            Row::Band { field, .. } if field == Some(fi) => {
                // Only when no normal row shows part of the field.
                if best.is_none() {
                    best = Some((ri, 0, 0));
                }
                continue;
            }
            Row::Band { .. } => continue,
        };
        // The field's content, not the padded tail of an `align = N` slot.
        let content_end =
            f.offset + layout::natural(&f.kind).map_or(f.size, |(n, _)| n.min(f.size));
        let (x, y) = (f.offset.max(a), content_end.min(b));
        if x >= y {
            continue;
        }
        let (x, y) = (x - a, y - a);
        if best.map_or(true, |(bi, bx, by)| {
            matches!(rows[bi], Row::Band { .. }) || y - x > by - bx
        }) {
            best = Some((ri, x, y));
        }
    }
    best
}

/// Renders the byte map of a layout set's root struct as a standalone SVG document.
pub fn svg(set: &LayoutSet<'_>) -> String {
    let s = set.root;
    let rows = rows(s);
    let holes = layout::holes(s);
    let findings = lint::false_sharing(s);
    let kinds_used: Vec<&str> = KINDS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| s.fields.iter().any(|f| f.kind.name() == *k))
        .collect();

    let map_top = TITLE_H + RULER_H;
    let map_h: usize = rows.iter().map(|r| row_height(r) + ROW_GAP).sum();
    let legend_top = map_top + map_h + 16;
    let legend_h = 2 * LIST_ROW + 8;
    let list_top = legend_top + legend_h + 8;
    let list_h = (s.fields.len() + holes.len() + 1) * LIST_ROW + 12;
    let height = list_top + list_h;

    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Verdana, Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(
        o,
        "<title>{} byte map ({}, generated by shmgen)</title>",
        esc(s.name),
        esc(set.source)
    );
    o.push_str(concat!(
        "<defs>\n",
        r##"<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f2f2f2"/><line x1="0" y1="0" x2="0" y2="6" stroke="#a0a0a0" stroke-width="2"/></pattern>"##,
        "\n",
        r##"<pattern id="band" width="12" height="12" patternUnits="userSpaceOnUse" patternTransform="rotate(-30)"><rect width="12" height="12" fill="#000000" fill-opacity="0"/><line x1="0" y1="0" x2="0" y2="12" stroke="#ffffff" stroke-opacity="0.25" stroke-width="3"/></pattern>"##,
        "\n</defs>\n",
    ));
    let _ = writeln!(
        o,
        r##"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    );

    // Title.
    text(
        &mut o,
        16,
        26,
        18,
        r##" font-weight="bold" fill="#222222""##,
        &format!(
            "{} — schema {} v{} ({})",
            s.name, set.schema, set.version, set.source
        ),
    );
    text(
        &mut o,
        16,
        46,
        12,
        r##" fill="#555555""##,
        &format!(
            "{} bytes, align {}, fingerprint {:#018x}. One row = one 64-byte cache line; offsets from the start of {}.",
            s.size,
            s.align,
            set.fingerprint(),
            s.name
        ),
    );

    // Ruler: byte offsets within a line.
    for b in (0..=CACHE_LINE).step_by(8) {
        let x = LEFT + b * BYTE_W;
        let _ = writeln!(
            o,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#999999" stroke-width="1"/>"##,
            map_top - 6,
            map_top - 1
        );
        let anchor = if b == CACHE_LINE { "end" } else { "middle" };
        text(
            &mut o,
            x,
            map_top - 8,
            10,
            &format!(r##" text-anchor="{anchor}" fill="#777777""##),
            &format!("+{b}"),
        );
    }

    // Rows.
    let mut y = map_top;
    let mut first_line_y = Vec::with_capacity(rows.len());
    for (ri, r) in rows.iter().enumerate() {
        let h = row_height(r);
        first_line_y.push(y);
        match *r {
            Row::Line(l) => {
                let (a, b) = (l * CACHE_LINE, (l + 1) * CACHE_LINE);
                // Background: bytes past the end of the struct stay white with an outline.
                let _ = writeln!(
                    o,
                    r##"<rect x="{LEFT}" y="{y}" width="{MAP_W}" height="{h}" fill="#ffffff" stroke="#dddddd"/>"##
                );
                for hole in &holes {
                    let (x0, x1) = (hole.offset.max(a), (hole.offset + hole.size).min(b));
                    if x0 < x1 {
                        let _ = writeln!(
                            o,
                            r##"<rect x="{}" y="{y}" width="{}" height="{h}" fill="url(#hatch)" stroke="#bbbbbb"><title>padding: bytes {}..{} ({} bytes)</title></rect>"##,
                            LEFT + (x0 - a) * BYTE_W,
                            (x1 - x0) * BYTE_W,
                            hole.offset,
                            hole.offset + hole.size,
                            hole.size
                        );
                    }
                }
                for f in s.fields {
                    let (x0, x1) = (f.offset.max(a), field_end(f).min(b));
                    if x0 >= x1 {
                        continue;
                    }
                    let kind = f.kind.name();
                    let _ = writeln!(
                        o,
                        r##"<rect x="{}" y="{y}" width="{}" height="{h}" fill="{}" stroke="#ffffff" stroke-width="1"><title>{}: {} {}, bytes {}..{} ({} bytes)</title></rect>"##,
                        LEFT + (x0 - a) * BYTE_W,
                        (x1 - x0) * BYTE_W,
                        colour(kind),
                        esc(f.name),
                        kind,
                        esc(&field_type(f)),
                        f.offset,
                        field_end(f),
                        f.size
                    );
                    // The primitive's own bytes (lock, sequence, ring control block): darker.
                    let ctl_end = f.offset + control_bytes(&f.kind);
                    let (c0, c1) = (x0, ctl_end.min(x1));
                    if c0 < c1 {
                        let _ = writeln!(
                            o,
                            r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#000000" fill-opacity="0.22"/>"##,
                            LEFT + (c0 - a) * BYTE_W + 1,
                            y + h - 7,
                            (c1 - c0) * BYTE_W - 2,
                            5
                        );
                    }
                    // The tail of an `align = N` slot: padding inside the field.
                    if let Some((natural, _)) = layout::natural(&f.kind) {
                        let (p0, p1) = ((f.offset + natural).max(x0), x1);
                        if natural < f.size && p0 < p1 {
                            let _ = writeln!(
                                o,
                                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="url(#hatch)" stroke="{}"><title>{}: alignment padding, bytes {}..{}</title></rect>"##,
                                LEFT + (p0 - a) * BYTE_W,
                                y + 1,
                                (p1 - p0) * BYTE_W,
                                h - 2,
                                colour(kind),
                                esc(f.name),
                                f.offset + natural,
                                field_end(f)
                            );
                        }
                    }
                }
                // Cache-line boundary and labels.
                let _ = writeln!(
                    o,
                    r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333333" stroke-width="1.5" stroke-dasharray="4 3"/>"##,
                    LEFT - 6,
                    y + h + ROW_GAP / 2,
                    LEFT + MAP_W + 6,
                    y + h + ROW_GAP / 2
                );
                text(
                    &mut o,
                    LEFT - 10,
                    y + h / 2 + 4,
                    12,
                    r##" text-anchor="end" fill="#333333" font-family="DejaVu Sans Mono, Menlo, monospace""##,
                    &a.to_string(),
                );
                text(
                    &mut o,
                    LEFT + MAP_W + 12,
                    y + h / 2 + 4,
                    12,
                    r##" fill="#333333""##,
                    &format!("line {l}"),
                );
                if findings.iter().any(|x| x.line == l) {
                    text(
                        &mut o,
                        LEFT + MAP_W + 62,
                        y + h / 2 + 4,
                        12,
                        r##" fill="#c0392b" font-weight="bold""##,
                        "⚠ false sharing",
                    );
                }
            }
            Row::Band {
                first,
                last,
                field: None,
            } => {
                let _ = writeln!(
                    o,
                    r##"<rect x="{LEFT}" y="{y}" width="{MAP_W}" height="{h}" fill="url(#hatch)" stroke="#bbbbbb"><title>padding: lines {first}..{last}, collapsed</title></rect>"##
                );
                band_frame(&mut o, y, h, first, last);
                let label = format!(
                    "padding: {} lines, bytes {}..{}",
                    last + 1 - first,
                    first * CACHE_LINE,
                    (last + 1) * CACHE_LINE
                );
                let w = label.chars().count() * CHAR_W + 16;
                let _ = writeln!(
                    o,
                    r##"<rect x="{}" y="{}" width="{w}" height="18" rx="3" fill="#ffffff" fill-opacity="0.9"/>"##,
                    LEFT + MAP_W / 2 - w / 2,
                    y + h / 2 - 9
                );
                text(
                    &mut o,
                    LEFT + MAP_W / 2,
                    y + h / 2 + 4,
                    12,
                    r##" text-anchor="middle" fill="#555555""##,
                    &label,
                );
            }
            Row::Band {
                first,
                last,
                field: Some(field),
            } => {
                let f = &s.fields[field];
                let kind = f.kind.name();
                let _ = writeln!(
                    o,
                    r##"<rect x="{LEFT}" y="{y}" width="{MAP_W}" height="{h}" fill="{}" stroke="#ffffff"><title>{}: lines {first}..{last} (bytes {}..{}), collapsed</title></rect>"##,
                    colour(kind),
                    esc(f.name),
                    first * CACHE_LINE,
                    (last + 1) * CACHE_LINE
                );
                let ctl_end = f.offset + control_bytes(&f.kind);
                if ctl_end > first * CACHE_LINE {
                    let lines = (ctl_end.min((last + 1) * CACHE_LINE) - first * CACHE_LINE)
                        .div_ceil(CACHE_LINE);
                    let _ = writeln!(
                        o,
                        r##"<rect x="{}" y="{}" width="{}" height="5" fill="#000000" fill-opacity="0.22"><title>{lines} control line(s)</title></rect>"##,
                        LEFT + 1,
                        y + h - 7,
                        MAP_W - 2
                    );
                }
                // Torn edges mark the collapsed part.
                for edge in [y, y + h] {
                    let mut d = format!("M{} {edge}", LEFT);
                    let mut x = LEFT;
                    let mut up = true;
                    while x < LEFT + MAP_W {
                        x = (x + 8).min(LEFT + MAP_W);
                        let yy = if up { edge - 3 } else { edge + 3 };
                        let _ = write!(d, " L{x} {yy}");
                        up = !up;
                    }
                    let _ = writeln!(
                        o,
                        r##"<path d="{d}" fill="none" stroke="#ffffff" stroke-width="2"/>"##
                    );
                }
                band_frame(&mut o, y, h, first, last);
                text(
                    &mut o,
                    LEFT + MAP_W / 2,
                    y + h / 2 + 5,
                    13,
                    r##" text-anchor="middle" fill="#ffffff" font-weight="bold""##,
                    &format!(
                        "{} ({} {}) continues: {} more lines, bytes {}..{}",
                        f.name,
                        kind,
                        field_type(f),
                        last + 1 - first,
                        first * CACHE_LINE,
                        (last + 1) * CACHE_LINE
                    ),
                );
            }
        }
        let _ = ri;
        y += h + ROW_GAP;
    }

    // Field labels, in the widest stretch of each field.
    for (fi, f) in s.fields.iter().enumerate() {
        let Some((ri, x0, x1)) = label_place(&rows, f, fi) else {
            continue;
        };
        if matches!(rows[ri], Row::Band { .. }) {
            continue; // the band has its own label
        }
        let w = (x1 - x0) * BYTE_W;
        let cx = LEFT + x0 * BYTE_W + w / 2;
        let top = first_line_y[ri];
        let name = f.name;
        let detail = format!("{} {}B", f.kind.name(), f.size);
        let fits = |t: &str, cw: usize| t.chars().count() * cw + 6 <= w;
        if fits(name, CHAR_W) {
            text(
                &mut o,
                cx,
                top + 16,
                12,
                r##" text-anchor="middle" fill="#ffffff" font-weight="bold""##,
                name,
            );
            if fits(&detail, 6) {
                text(
                    &mut o,
                    cx,
                    top + 29,
                    10,
                    r##" text-anchor="middle" fill="#ffffff""##,
                    &detail,
                );
            }
        } else {
            // Too narrow for the name: its first letters, then the field list says the rest.
            let n = (w.saturating_sub(4) / 7).min(name.chars().count());
            if n >= 1 {
                let short: String = name.chars().take(n).collect();
                text(
                    &mut o,
                    cx,
                    top + 16,
                    11,
                    r##" text-anchor="middle" fill="#ffffff" font-weight="bold""##,
                    &short,
                );
            }
        }
    }

    // Legend.
    let mut x = 16;
    let ly = legend_top;
    for k in &kinds_used {
        let _ = writeln!(
            o,
            r##"<rect x="{x}" y="{ly}" width="14" height="14" fill="{}"/>"##,
            colour(k)
        );
        text(&mut o, x + 20, ly + 12, 12, r##" fill="#333333""##, k);
        x += 20 + k.len() * CHAR_W + 18;
    }
    let _ = writeln!(
        o,
        r##"<rect x="{x}" y="{ly}" width="14" height="14" fill="url(#hatch)" stroke="#bbbbbb"/>"##
    );
    text(
        &mut o,
        x + 20,
        ly + 12,
        12,
        r##" fill="#333333""##,
        "padding",
    );
    let ly2 = ly + LIST_ROW + 4;
    let _ = writeln!(
        o,
        r##"<rect x="16" y="{}" width="22" height="5" fill="#000000" fill-opacity="0.4"/>"##,
        ly2 + 5
    );
    text(
        &mut o,
        44,
        ly2 + 12,
        12,
        r##" fill="#333333""##,
        "lock / sequence / ring control bytes",
    );
    let _ = writeln!(
        o,
        r##"<line x1="290" y1="{0}" x2="318" y2="{0}" stroke="#333333" stroke-width="1.5" stroke-dasharray="4 3"/>"##,
        ly2 + 8
    );
    text(
        &mut o,
        324,
        ly2 + 12,
        12,
        r##" fill="#333333""##,
        "cache-line boundary",
    );
    text(
        &mut o,
        470,
        ly2 + 12,
        12,
        r##" fill="#c0392b" font-weight="bold""##,
        "⚠",
    );
    text(
        &mut o,
        486,
        ly2 + 12,
        12,
        r##" fill="#333333""##,
        "two synchronised fields share the line (shmgen check says which)",
    );

    // Field list.
    let mono = r##" fill="#333333" font-family="DejaVu Sans Mono, Menlo, monospace" xml:space="preserve""##;
    text(
        &mut o,
        36,
        list_top + 12,
        12,
        &format!("{mono} font-weight=\"bold\""),
        &format!(
            "{:>7} {:>7}  {:<10} {:<26} {}",
            "offset", "size", "kind", "type", "field"
        ),
    );
    let mut entries: Vec<(usize, String, Option<&str>)> = s
        .fields
        .iter()
        .map(|f| {
            (
                f.offset,
                format!(
                    "{:>7} {:>7}  {:<10} {:<26} {}",
                    f.offset,
                    f.size,
                    f.kind.name(),
                    field_type(f),
                    f.name
                ),
                Some(colour(f.kind.name())),
            )
        })
        .collect();
    for h in &holes {
        entries.push((
            h.offset,
            format!("{:>7} {:>7}  {:<10}", h.offset, h.size, "padding"),
            None,
        ));
    }
    entries.sort_by_key(|e| e.0);
    for (i, (_, line, fill)) in entries.iter().enumerate() {
        let yy = list_top + (i + 1) * LIST_ROW;
        match fill {
            Some(c) => {
                let _ = writeln!(
                    o,
                    r##"<rect x="16" y="{}" width="12" height="12" fill="{c}"/>"##,
                    yy + 2
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    r##"<rect x="16" y="{}" width="12" height="12" fill="url(#hatch)" stroke="#bbbbbb"/>"##,
                    yy + 2
                );
            }
        }
        text(&mut o, 36, yy + 12, 12, mono, line);
    }
    o.push_str("</svg>\n");
    o
}

/// Renders a standalone HTML page: the SVG byte map, the layout table and the lint's findings.
pub fn html(set: &LayoutSet<'_>) -> String {
    let findings = lint::false_sharing(set.root);
    let mut o = String::new();
    let title = format!("{} — shmgen layout of schema {}", set.root.name, set.schema);
    let _ = writeln!(o, "<!DOCTYPE html>");
    let _ = writeln!(o, "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">");
    let _ = writeln!(o, "<title>{}</title>", esc(&title));
    let _ = writeln!(
        o,
        "<style>body {{ font-family: sans-serif; margin: 2em; color: #222; }} pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }} .warn {{ color: #c0392b; }}</style>"
    );
    let _ = writeln!(o, "</head>\n<body>\n<h1>{}</h1>", esc(&title));
    o.push_str(&svg(set));
    let _ = writeln!(
        o,
        "<h2>Layout table</h2>\n<pre>{}</pre>",
        esc(&crate::layout_table(set))
    );
    let _ = writeln!(o, "<h2>False sharing</h2>");
    if findings.is_empty() {
        let _ = writeln!(
            o,
            "<p>No two independently synchronised fields share a cache line.</p>"
        );
    } else {
        let _ = writeln!(o, "<ul>");
        for f in &findings {
            let _ = writeln!(
                o,
                "<li class=\"warn\">{}</li>",
                esc(&f.message(set.root.name))
            );
        }
        let _ = writeln!(o, "</ul>");
    }
    let _ = writeln!(o, "</body>\n</html>");
    o
}

impl Schema {
    /// The SVG byte map of the root struct ([`svg`]).
    pub fn render_svg(&self) -> String {
        self.with_layouts(svg)
    }

    /// The HTML page with the byte map, layout table and lint findings ([`html`]).
    pub fn render_html(&self) -> String {
        self.with_layouts(html)
    }
}

/// The frame of a collapsed band of cache lines: the line boundary below it, its first offset
/// on the left and its line range on the right.
fn band_frame(o: &mut String, y: usize, h: usize, first: usize, last: usize) {
    let _ = writeln!(
        o,
        r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333333" stroke-width="1.5" stroke-dasharray="4 3"/>"##,
        LEFT - 6,
        y + h + ROW_GAP / 2,
        LEFT + MAP_W + 6,
        y + h + ROW_GAP / 2
    );
    text(
        o,
        LEFT - 10,
        y + h / 2 + 4,
        12,
        r##" text-anchor="end" fill="#333333" font-family="DejaVu Sans Mono, Menlo, monospace""##,
        &format!("{}…", first * CACHE_LINE),
    );
    text(
        o,
        LEFT + MAP_W + 12,
        y + h / 2 + 4,
        12,
        r##" fill="#333333""##,
        &format!("lines {first}–{last}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_collapse_into_a_band_and_output_is_deterministic() {
        let schema = crate::parse_str(
            "r.toml",
            "[[struct]]\nname = \"R\"\nfields = [\n  { name = \"n\", type = \"u32\", atomic = true },\n  { name = \"q\", type = \"ring\", item = \"u64\", capacity = 1024 },\n]\n",
        )
        .unwrap();
        let a = schema.render_svg();
        assert_eq!(a, schema.render_svg());
        assert!(
            a.contains("q (ring u64 x 1024) continues: 258 more lines"),
            "{a}"
        );
        assert!(a.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(a.trim_end().ends_with("</svg>"));
        assert!(a.contains("url(#hatch)"));
    }

    #[test]
    fn escapes() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
