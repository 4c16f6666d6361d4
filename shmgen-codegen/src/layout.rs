//! The layout model: offsets, sizes, alignments and padding of every struct and field, by C
//! rules for 64-bit Linux (x86_64 and aarch64).
//!
//! This is the only module of the schema compiler that does layout arithmetic. Primitives
//! (mutexes, seqlocks, rings, alignment slots, ...) come from `shmgen_runtime::abi`'s formulas;
//! this module composes them into structs. Emitters read the numbers it produced.

use shmgen_runtime::abi;
use shmgen_runtime::{Elem, Kind, Prim, StructLayout};

use crate::ast::Span;
use crate::error::{Problem, Sink};
use crate::validate::{CKind, Checked, VElem, VTy};

/// The largest type shmgen lays out: 128 TiB, the user address space of x86_64 Linux. Anything
/// larger could never be mapped (and rustc refuses such types).
pub const MAX_SIZE: usize = 1 << 47;

/// The owned layout of a whole schema; structs in dependency order.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    pub schema: String,
    pub version: u32,
    /// Structs, dependencies before dependants; [`MElem::Struct`] indexes into this.
    pub structs: Vec<MStruct>,
    /// Index of the root in `structs`.
    pub root: usize,
}

/// One struct's layout.
#[derive(Clone, Debug)]
pub(crate) struct MStruct {
    pub name: String,
    pub doc: String,
    pub size: usize,
    pub align: usize,
    pub fields: Vec<MField>,
}

/// One field's layout.
#[derive(Clone, Debug)]
pub(crate) struct MField {
    pub name: String,
    pub doc: String,
    pub offset: usize,
    pub size: usize,
    pub align: usize,
    pub kind: MKind,
}

/// What a field holds, with value types laid out.
#[derive(Clone, Debug)]
pub(crate) enum MKind {
    Plain(MTy),
    Atomic(Prim),
    Mutex(MTy),
    RMutex(MTy),
    SeqLock(MTy),
    Semaphore(u32),
    Event,
    Ring { item: MTy, capacity: usize },
}

/// A value type with its size and alignment.
#[derive(Clone, Debug)]
pub(crate) struct MTy {
    pub elem: MElem,
    /// Array lengths, outermost first.
    pub dims: Vec<usize>,
    pub size: usize,
    pub align: usize,
}

/// The innermost element of a value type.
#[derive(Clone, Copy, Debug)]
pub(crate) enum MElem {
    Prim(Prim),
    Str(usize),
    Bytes(usize),
    /// Index into [`Model::structs`].
    Struct(usize),
}

fn checked(n: Option<usize>) -> Option<usize> {
    n.filter(|&v| v <= MAX_SIZE)
}

fn too_large(span: &Span, what: &str) -> Problem {
    Problem::new(span.clone(), format!("{what} is too large"))
        .help(format!("shmgen lays out at most {MAX_SIZE} bytes (128 TiB) per type: make arrays or capacities smaller"))
}

/// Computes the layout of every struct. Problems (sizes that overflow, `align` below the
/// natural alignment) go into `sink`; the result is `None` when there were any.
pub(crate) fn compute(c: &Checked, sink: &mut Sink) -> Option<Model> {
    // Position of each checked struct in dependency order.
    let mut pos = vec![0usize; c.structs.len()];
    for (p, &i) in c.order.iter().enumerate() {
        pos[i] = p;
    }
    let mut structs: Vec<MStruct> = Vec::with_capacity(c.structs.len());
    let mut ok = true;
    for &i in &c.order {
        let s = &c.structs[i];
        let mut offset = 0usize;
        let mut align = 1usize;
        let mut fields = Vec::with_capacity(s.fields.len());
        for f in &s.fields {
            let Some(kind) = kind(&f.kind, &structs, &pos, sink) else {
                ok = false;
                continue;
            };
            let Some((nsize, nalign)) = natural_of(&kind) else {
                sink.push(too_large(&f.ty_span, &format!("field `{}`", f.name.value)));
                ok = false;
                continue;
            };
            let (size, falign) = match &f.align {
                None => (nsize, nalign),
                Some(a) => {
                    let n = a.value as usize;
                    if n < nalign {
                        sink.push(
                            Problem::new(a.span.clone(), format!("`align = {n}` is below the natural alignment of `{}` ({nalign})", f.name.value))
                                .help(format!("use `align = {nalign}` or more (a power of two), or remove `align`")),
                        );
                        ok = false;
                        continue;
                    }
                    match abi::aligned_slot(nsize, nalign, n).filter(|&(s, _)| s <= MAX_SIZE) {
                        Some(v) => v,
                        None => {
                            sink.push(too_large(&f.ty_span, &format!("field `{}`", f.name.value)));
                            ok = false;
                            continue;
                        }
                    }
                }
            };
            let Some(start) = checked(abi::round_up(offset, falign)) else {
                sink.push(too_large(
                    &s.name.span,
                    &format!("struct `{}`", s.name.value),
                ));
                ok = false;
                break;
            };
            let Some(end) = checked(start.checked_add(size)) else {
                sink.push(too_large(
                    &f.ty_span,
                    &format!("struct `{}` up to field `{}`", s.name.value, f.name.value),
                ));
                ok = false;
                break;
            };
            fields.push(MField {
                name: f.name.value.clone(),
                doc: f.doc.clone(),
                offset: start,
                size,
                align: falign,
                kind,
            });
            offset = end;
            align = align.max(falign);
        }
        let size = match checked(abi::round_up(offset, align)) {
            Some(s) => s,
            None => {
                sink.push(too_large(
                    &s.name.span,
                    &format!("struct `{}`", s.name.value),
                ));
                ok = false;
                0
            }
        };
        structs.push(MStruct {
            name: s.name.value.clone(),
            doc: s.doc.clone(),
            size,
            align,
            fields,
        });
    }
    ok.then(|| Model {
        schema: c.name.clone(),
        version: c.version,
        structs,
        root: pos[c.root],
    })
}

fn ty(t: &VTy, structs: &[MStruct], pos: &[usize], sink: &mut Sink) -> Option<MTy> {
    let (elem, mut size, align) = match &t.elem {
        VElem::Prim(p) => (MElem::Prim(*p), p.size(), p.size()),
        VElem::Str(n) | VElem::Bytes(n) => {
            let Some(len) = usize::try_from(n.value).ok().filter(|&v| v <= MAX_SIZE) else {
                sink.push(too_large(&n.span, "this length"));
                return None;
            };
            let e = if matches!(t.elem, VElem::Str(_)) {
                MElem::Str(len)
            } else {
                MElem::Bytes(len)
            };
            (e, len, 1)
        }
        VElem::Struct(i) => {
            let s = &structs[pos[*i]];
            (MElem::Struct(pos[*i]), s.size, s.align)
        }
    };
    let mut dims = Vec::with_capacity(t.dims.len());
    for d in t.dims.iter().rev() {
        let n = usize::try_from(d.value).ok();
        match n.and_then(|n| checked(size.checked_mul(n))) {
            Some(s) => size = s,
            None => {
                sink.push(too_large(&t.span, "this array"));
                return None;
            }
        }
        dims.push(d.value as usize);
    }
    dims.reverse();
    Some(MTy {
        elem,
        dims,
        size,
        align,
    })
}

fn kind(k: &CKind, structs: &[MStruct], pos: &[usize], sink: &mut Sink) -> Option<MKind> {
    Some(match k {
        CKind::Plain(t) => MKind::Plain(ty(t, structs, pos, sink)?),
        CKind::Atomic(p) => MKind::Atomic(*p),
        CKind::Mutex(t) => MKind::Mutex(ty(t, structs, pos, sink)?),
        CKind::RMutex(t) => MKind::RMutex(ty(t, structs, pos, sink)?),
        CKind::SeqLock(t) => MKind::SeqLock(ty(t, structs, pos, sink)?),
        CKind::Semaphore(i) => MKind::Semaphore(*i),
        CKind::Event => MKind::Event,
        CKind::Ring { item, capacity } => {
            let item = ty(item, structs, pos, sink)?;
            let Some(capacity) = usize::try_from(capacity.value)
                .ok()
                .filter(|&c| c <= MAX_SIZE)
            else {
                sink.push(too_large(&capacity.span, "this capacity"));
                return None;
            };
            MKind::Ring { item, capacity }
        }
    })
}

/// The natural `(size, align)` of a field kind from the owned model, `None` on overflow.
fn natural_of(k: &MKind) -> Option<(usize, usize)> {
    let r = match k {
        MKind::Plain(t) => Some((t.size, t.align)),
        MKind::Atomic(p) => Some((p.size(), p.size())),
        MKind::Mutex(t) | MKind::RMutex(t) => {
            abi::mutex_layout(t.size, t.align).map(|c| (c.size, c.align))
        }
        MKind::SeqLock(t) => abi::seqlock_layout(t.size, t.align).map(|c| (c.size, c.align)),
        MKind::Semaphore(_) => Some((abi::SEMAPHORE_SIZE, abi::SEMAPHORE_ALIGN)),
        MKind::Event => Some((abi::EVENT_SIZE, abi::EVENT_ALIGN)),
        MKind::Ring { item, capacity } => {
            abi::ring_layout(item.size, item.align, *capacity).map(|c| (c.size, c.align))
        }
    };
    r.filter(|&(s, _)| s <= MAX_SIZE)
}

/// The natural `(size, align)` of a field of this kind, before any `align = N`: what the
/// runtime's field type (`u64`, `Mutex<T>`, `Ring<T, N>`, ...) occupies by itself. A table
/// field whose size or alignment differs from this has `align = N` (an alignment wrapper).
/// `None` when the size overflows (never for a table this crate built).
pub fn natural(kind: &Kind<'_>) -> Option<(usize, usize)> {
    match kind {
        Kind::Plain(t) => Some((t.size, t.align)),
        Kind::Atomic(p) => Some((p.size(), p.size())),
        Kind::Mutex(t) | Kind::RMutex(t) => {
            abi::mutex_layout(t.size, t.align).map(|c| (c.size, c.align))
        }
        Kind::SeqLock(t) => abi::seqlock_layout(t.size, t.align).map(|c| (c.size, c.align)),
        Kind::Semaphore { .. } => Some((abi::SEMAPHORE_SIZE, abi::SEMAPHORE_ALIGN)),
        Kind::Event => Some((abi::EVENT_SIZE, abi::EVENT_ALIGN)),
        Kind::Ring { item, capacity } => {
            abi::ring_layout(item.size, item.align, *capacity).map(|c| (c.size, c.align))
        }
    }
}

/// Unused bytes in a struct: between fields, or at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hole {
    /// Where the hole starts.
    pub offset: usize,
    /// How many bytes it spans.
    pub size: usize,
    /// The index of the field the hole comes before; `None` for trailing padding.
    pub before: Option<usize>,
}

/// The padding holes of a struct, in offset order (padding inside a field's own slot, such as
/// an `align = N` field's tail or a lock's internal padding, belongs to the field).
pub fn holes(s: &StructLayout<'_>) -> Vec<Hole> {
    let mut out = Vec::new();
    let mut end = 0usize;
    for (i, f) in s.fields.iter().enumerate() {
        if f.offset > end {
            out.push(Hole {
                offset: end,
                size: f.offset - end,
                before: Some(i),
            });
        }
        end = end.max(f.offset.saturating_add(f.size));
    }
    if s.size > end {
        out.push(Hole {
            offset: end,
            size: s.size - end,
            before: None,
        });
    }
    out
}

/// True when a struct holds nothing but plain data, recursively (no locks, atomics,
/// semaphores, events or rings): it can be copied bytewise.
pub fn is_plain(s: &StructLayout<'_>) -> bool {
    s.fields.iter().all(|f| match f.kind {
        Kind::Plain(t) => match t.elem {
            Elem::Struct(inner) => is_plain(inner),
            _ => true,
        },
        _ => false,
    })
}
