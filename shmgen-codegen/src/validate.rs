//! Meaning: resolves a parsed [`Document`] into a [`Checked`] schema (names, types, attributes,
//! root, struct order), collecting every problem instead of stopping at the first.
//!
//! No layout arithmetic happens here: sizes, alignments and offsets are `layout`'s job.

use std::collections::HashMap;

use shmgen_runtime::table::MAX_DIMS;
use shmgen_runtime::Prim;

use crate::ast::{self, Document, FieldDef, Sp, Span, StrMap, TypeExpr};
use crate::error::{Problem, Sink};
use crate::names;

/// How far structs may nest inside each other.
pub(crate) const MAX_NESTING: usize = 32;
/// How many field visits a fully expanded struct may take (the fingerprint walks every nested
/// struct once per use, and so does rustc's `const` evaluation of it).
pub(crate) const MAX_EXPANDED_FIELDS: u64 = 1 << 20;

/// A validated schema: every name resolved, every attribute combination allowed.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    /// The schema (module) name.
    pub name: String,
    /// The user's layout version.
    pub version: u32,
    /// Structs in file order.
    pub structs: Vec<CStruct>,
    /// Struct indices, dependencies before dependants (file order among independent ones).
    pub order: Vec<usize>,
    /// Index of the root struct.
    pub root: usize,
}

/// A validated struct.
#[derive(Clone, Debug)]
pub(crate) struct CStruct {
    pub name: Sp<String>,
    pub doc: String,
    pub fields: Vec<CField>,
}

/// A validated field.
#[derive(Clone, Debug)]
pub(crate) struct CField {
    pub name: Sp<String>,
    pub doc: String,
    pub kind: CKind,
    /// `align = N`, already checked to be a power of two within range.
    pub align: Option<Sp<u64>>,
    /// The `type` value.
    pub ty_span: Span,
}

/// What a validated field holds.
#[derive(Clone, Debug)]
pub(crate) enum CKind {
    Plain(VTy),
    Atomic(Prim),
    Mutex(VTy),
    RMutex(VTy),
    SeqLock(VTy),
    Semaphore(u32),
    Event,
    Ring { item: VTy, capacity: Sp<u64> },
}

/// A resolved value type: an element and its array lengths, outermost first.
#[derive(Clone, Debug)]
pub(crate) struct VTy {
    pub elem: VElem,
    pub dims: Vec<Sp<u64>>,
    /// The type text, for messages.
    pub span: Span,
}

/// The innermost element of a resolved value type.
#[derive(Clone, Debug)]
pub(crate) enum VElem {
    Prim(Prim),
    Str(Sp<u64>),
    Bytes(Sp<u64>),
    Struct(usize),
}

/// The scalar a built-in type name or ctypes alias stands for (64-bit Linux).
pub(crate) fn builtin_type(name: &str) -> Option<Prim> {
    Some(match name {
        "u8" | "c_ubyte" | "c_uint8" => Prim::U8,
        // `c_char` is a 1-byte integer; shmgen treats it as signed (as on x86_64).
        "i8" | "c_byte" | "c_char" | "c_int8" => Prim::I8,
        "u16" | "c_ushort" | "c_uint16" => Prim::U16,
        "i16" | "c_short" | "c_int16" => Prim::I16,
        "u32" | "c_uint" | "c_uint32" => Prim::U32,
        "i32" | "c_int" | "c_int32" => Prim::I32,
        "u64" | "c_ulong" | "c_ulonglong" | "c_size_t" | "c_uint64" => Prim::U64,
        "i64" | "c_long" | "c_longlong" | "c_ssize_t" | "c_int64" => Prim::I64,
        "f32" | "c_float" => Prim::F32,
        "f64" | "c_double" => Prim::F64,
        "bool" | "c_bool" => Prim::Bool,
        _ => return None,
    })
}

/// Every built-in type name, for suggestions.
const BUILTIN_NAMES: &[&str] = &[
    "u8",
    "i8",
    "u16",
    "i16",
    "u32",
    "i32",
    "u64",
    "i64",
    "f32",
    "f64",
    "bool",
    "c_int",
    "c_uint",
    "c_long",
    "c_ulong",
    "c_short",
    "c_ushort",
    "c_byte",
    "c_ubyte",
    "c_char",
    "c_float",
    "c_double",
    "c_bool",
    "c_longlong",
    "c_ulonglong",
    "c_size_t",
    "c_ssize_t",
    "c_int8",
    "c_uint8",
    "c_int16",
    "c_uint16",
    "c_int32",
    "c_uint32",
    "c_int64",
    "c_uint64",
    "semaphore",
    "event",
    "ring",
];

const LOCK_KINDS: &[&str] = &["mutex", "rmutex", "seqlock"];

/// A field's type before attributes are applied.
enum FieldType {
    Value(VTy),
    Semaphore,
    Event,
    Ring,
}

struct Ctx<'a> {
    text: &'a str,
    sink: &'a mut Sink,
    /// Struct name → index of its first definition.
    structs: HashMap<String, usize>,
}

/// Validates a document. `file` is the name the file was given (its stem is the default schema
/// name). Problems go into `sink`; the result is `None` only when the structs cannot be laid
/// out at all (no struct, a nameless one, a cycle). Callers must check `sink` before using it.
pub(crate) fn validate(doc: &Document, text: &str, file: &str, sink: &mut Sink) -> Option<Checked> {
    let name = schema_name(doc, file, sink);
    let version = match &doc.version {
        None => 1,
        Some(v) => match u32::try_from(v.value) {
            Ok(v) => v,
            Err(_) => {
                sink.push(
                    Problem::new(
                        v.span.clone(),
                        format!("version {} is out of range", v.value),
                    )
                    .help(format!(
                        "a version is a whole number from 0 to {}",
                        u32::MAX
                    )),
                );
                0
            }
        },
    };
    let mut cx = Ctx {
        text,
        sink,
        structs: HashMap::new(),
    };

    // Struct names first, so fields can refer to structs declared later.
    for (i, s) in doc.structs.iter().enumerate() {
        let Some(n) = &s.name else { continue };
        if let Some((msg, help)) = names::check_type_name(&n.value) {
            cx.sink
                .push(Problem::new(n.span.clone(), format!("bad struct name: {msg}")).help(help));
        }
        if let Some(&first) = cx.structs.get(&n.value) {
            let line = line_of(text, doc.structs[first].span.start);
            cx.sink.push(
                Problem::new(n.span.clone(), format!("duplicate struct `{}`", n.value))
                    .label(format!("first defined on line {line}"))
                    .help("struct names must be unique within a schema"),
            );
        } else {
            cx.structs.insert(n.value.clone(), i);
        }
    }
    if doc.structs.is_empty() {
        cx.sink.push(
            Problem::new(0..0, "the schema declares no struct")
                .help("add at least one `[[struct]]` with `name` and `fields`"),
        );
    }

    let mut structs = Vec::new();
    for s in &doc.structs {
        let Some(sname) = &s.name else { continue };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut fields = Vec::new();
        for f in &s.fields {
            if let Some(n) = &f.name {
                if let Some((msg, help)) = names::check(&n.value) {
                    cx.sink.push(
                        Problem::new(n.span.clone(), format!("bad field name: {msg}")).help(help),
                    );
                }
                if let Some(&first) = seen.get(n.value.as_str()) {
                    cx.sink.push(
                        Problem::new(
                            n.span.clone(),
                            format!("duplicate field `{}` in struct `{}`", n.value, sname.value),
                        )
                        .label(format!("first defined on line {}", line_of(text, first)))
                        .help("field names must be unique within a struct"),
                    );
                } else {
                    seen.insert(&n.value, n.span.start);
                }
            }
            if let Some(cf) = field(&mut cx, f) {
                fields.push(cf);
            }
        }
        if s.fields.is_empty() && s.fields_ok {
            let span = s.fields_key.clone().unwrap_or_else(|| sname.span.clone());
            cx.sink.push(
                Problem::new(span, format!("struct `{}` has no fields", sname.value))
                    .help("C has no empty structs: add at least one field"),
            );
        }
        structs.push(CStruct {
            name: sname.clone(),
            doc: s.doc.as_ref().map(|d| d.value.clone()).unwrap_or_default(),
            fields,
        });
    }

    let root = root(doc, &mut cx);
    if structs.is_empty() || structs.len() != doc.structs.len() {
        // No struct, or one without a name: indices no longer agree with `doc.structs`.
        return None;
    }
    // Even with problems found so far, look for cycles and nesting problems among the fields
    // that did resolve, and hand those to `layout`, so that every problem is reported in one
    // go. Dropped fields only make structs smaller, so `layout` finds no false problems.
    let order = order(&structs, cx.sink)?;
    check_contents(&structs, &order, cx.sink);
    Some(Checked {
        name: name.unwrap_or_default(),
        version,
        structs,
        order,
        root: root.unwrap_or(0),
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

fn schema_name(doc: &Document, file: &str, sink: &mut Sink) -> Option<String> {
    match &doc.schema {
        Some(s) => match names::check(&s.value) {
            None => Some(s.value.clone()),
            Some((msg, help)) => {
                sink.push(
                    Problem::new(s.span.clone(), format!("bad schema name: {msg}")).help(format!(
                        "the schema name is the module name in every language; {help}"
                    )),
                );
                None
            }
        },
        None => {
            let stem = std::path::Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match names::check(&stem) {
                None => Some(stem),
                Some((msg, _)) => {
                    sink.push(
                        Problem::new(
                            0..0,
                            format!("the file name gives no valid schema name: {msg}"),
                        )
                        .help("add `schema = \"my_schema\"` at the top of the file"),
                    );
                    None
                }
            }
        }
    }
}

fn root(doc: &Document, cx: &mut Ctx<'_>) -> Option<usize> {
    match &doc.root {
        Some(r) => match cx.structs.get(&r.value) {
            Some(&i) => Some(i),
            None => {
                let p = Problem::new(r.span.clone(), format!("unknown root struct `{}`", r.value));
                let p = match ast::suggest(&r.value, cx.structs.keys().map(String::as_str)) {
                    Some(s) => p.help(format!("did you mean `{s}`?")),
                    None => p.help(format!(
                        "`root` names one of the structs: {}",
                        sorted_names(cx)
                    )),
                };
                cx.sink.push(p);
                None
            }
        },
        None if doc.structs.len() == 1 => Some(0),
        None if doc.structs.is_empty() => None,
        None => {
            let p = Problem::new(
                0..0,
                format!(
                    "ambiguous root: the schema has {} structs and no `root`",
                    doc.structs.len()
                ),
            )
            .help(format!(
                "add `root = \"...\"` naming the struct a segment holds, one of: {}",
                sorted_names(cx)
            ));
            cx.sink.push(p);
            None
        }
    }
}

fn sorted_names(cx: &Ctx<'_>) -> String {
    let mut v: Vec<&str> = cx.structs.keys().map(String::as_str).collect();
    v.sort_unstable();
    v.join(", ")
}

/// A hint for type names people often write by mistake.
fn type_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "int" | "integer" => "fixed-width integers are `i32`, `u64`, ...; `c_int` is the C `int`",
        "uint" | "unsigned" => {
            "fixed-width integers are `u32`, `u64`, ...; `c_uint` is the C `unsigned int`"
        }
        "float" => "floats are `f32` or `f64`",
        "double" => "a C `double` is `f64` (or `c_double`)",
        "usize" | "isize" => "sizes differ between languages: use `u64` or `i64`",
        "u128" | "i128" => "128-bit integers are not supported: use two `u64` fields",
        "string" | "String" | "text" => "text is `str[N]`: UTF-8 in N bytes",
        "char" => "a 1-byte C char is `c_char`; text is `str[N]`",
        "mutex" | "rmutex" | "seqlock" | "lock" => {
            "locks are attributes: give the field its value type and `lock = \"mutex\"`"
        }
        "atomic" => "atomics are attributes: `type = \"u64\", atomic = true`",
        "queue" | "Queue" => "a bounded FIFO is `type = \"ring\", item = \"...\", capacity = N`",
        "Semaphore" | "Event" | "Ring" => "the special types are spelled in lower case",
        _ => return None,
    })
}

fn field(cx: &mut Ctx<'_>, f: &FieldDef) -> Option<CField> {
    let doc = f.doc.as_ref().map(|d| d.value.clone()).unwrap_or_default();
    let ty = f.ty.as_ref();
    let ft = ty.and_then(|t| field_type(cx, t, true));
    let align = f.align.as_ref().and_then(|a| check_align(cx, a));
    let lock = f.lock.as_ref().and_then(|l| {
        if LOCK_KINDS.contains(&l.value.as_str()) {
            Some(l)
        } else {
            let p = Problem::new(l.span.clone(), format!("unknown lock kind \"{}\"", l.value));
            cx.sink
                .push(match ast::suggest(&l.value, LOCK_KINDS.iter().copied()) {
                    Some(s) => p.help(format!(
                        "did you mean \"{s}\"? locks are \"mutex\", \"rmutex\" and \"seqlock\""
                    )),
                    None => p.help("locks are \"mutex\", \"rmutex\" (reentrant) and \"seqlock\""),
                });
            None
        }
    });
    let atomic = f.atomic.as_ref().filter(|a| a.value);
    if let (Some(a), Some(l)) = (atomic, &f.lock) {
        cx.sink.push(
            Problem::new(
                a.span.clone(),
                "a field cannot have both `lock` and `atomic`",
            )
            .label(format!("and `lock = \"{}\"` is set too", l.value))
            .help("an atomic needs no lock: keep one of the two"),
        );
    }

    let special = match &ft {
        Some(FieldType::Semaphore) => Some("semaphore"),
        Some(FieldType::Event) => Some("event"),
        Some(FieldType::Ring) => Some("ring"),
        _ => None,
    };
    // Keys that belong to one special type only.
    let resolved = ft.is_some();
    for (key, owner, span) in [
        (
            "initial",
            "semaphore",
            f.initial.as_ref().map(|v| v.span.clone()),
        ),
        ("item", "ring", f.item.as_ref().map(|v| v.span.clone())),
        (
            "capacity",
            "ring",
            f.capacity.as_ref().map(|v| v.span.clone()),
        ),
    ] {
        if let Some(span) = span {
            if resolved && special != Some(owner) {
                cx.sink.push(
                    Problem::new(span, format!("`{key}` only applies to `{owner}` fields")).help(
                        format!("remove `{key}`, or make the field `type = \"{owner}\"`"),
                    ),
                );
            }
        }
    }
    if let Some(sp) = special {
        if let Some(l) = &f.lock {
            cx.sink.push(
                Problem::new(
                    l.span.clone(),
                    format!("{} cannot have a `lock`", article(sp)),
                )
                .help(format!(
                    "{} synchronises itself: remove `lock`",
                    article(sp)
                )),
            );
        }
        if let Some(a) = atomic {
            cx.sink.push(
                Problem::new(
                    a.span.clone(),
                    format!("{} cannot be `atomic`", article(sp)),
                )
                .help(format!(
                    "{} synchronises itself: remove `atomic`",
                    article(sp)
                )),
            );
        }
    }

    let kind = match ft? {
        FieldType::Value(vty) => {
            if atomic.is_some() {
                let a = atomic?;
                match (&vty.elem, vty.dims.is_empty()) {
                    (VElem::Prim(p), true) if p.is_atomic_capable() => {
                        if lock.is_some() || f.lock.is_some() {
                            return None;
                        }
                        CKind::Atomic(*p)
                    }
                    (VElem::Prim(p), true) => {
                        cx.sink.push(
                            Problem::new(a.span.clone(), format!("`atomic` needs an integer or bool, not `{}`", p.name()))
                                .label(format!("on this {} field", p.name()))
                                .help("atomic floats are not supported: store the bits in a u32/u64, or use `lock = \"seqlock\"`"),
                        );
                        return None;
                    }
                    (_, false) => {
                        cx.sink.push(
                            Problem::new(a.span.clone(), "`atomic` applies to one scalar, not an array")
                                .label("on this array field")
                                .help("use an array of structs with an atomic field, or `lock = \"mutex\"` on the array"),
                        );
                        return None;
                    }
                    (_, true) => {
                        cx.sink.push(
                            Problem::new(a.span.clone(), "`atomic` needs an integer or bool scalar")
                                .label("on this non-scalar field")
                                .help("use `lock = \"mutex\"` or `lock = \"seqlock\"` for strings, bytes and structs"),
                        );
                        return None;
                    }
                }
            } else {
                match f.lock.as_ref().map(|l| l.value.as_str()) {
                    None => CKind::Plain(vty),
                    Some("mutex") => CKind::Mutex(vty),
                    Some("rmutex") => CKind::RMutex(vty),
                    Some("seqlock") => CKind::SeqLock(vty),
                    Some(_) => return None,
                }
            }
        }
        FieldType::Semaphore => {
            let initial = match &f.initial {
                None => 0,
                Some(i) if i.value < 0 => {
                    cx.sink.push(
                        Problem::new(
                            i.span.clone(),
                            format!("negative semaphore count {}", i.value),
                        )
                        .help(
                            "`initial` is how many `acquire`s succeed before one waits: 0 or more",
                        ),
                    );
                    return None;
                }
                Some(i) => match u32::try_from(i.value) {
                    Ok(v) => v,
                    Err(_) => {
                        cx.sink.push(
                            Problem::new(
                                i.span.clone(),
                                format!("semaphore count {} is too large", i.value),
                            )
                            .help(format!(
                                "the count is a 32-bit futex word: at most {}",
                                u32::MAX
                            )),
                        );
                        return None;
                    }
                },
            };
            if f.lock.is_some() || atomic.is_some() {
                return None;
            }
            CKind::Semaphore(initial)
        }
        FieldType::Event => {
            if f.lock.is_some() || atomic.is_some() {
                return None;
            }
            CKind::Event
        }
        FieldType::Ring => {
            let head = f.span.start..f.span.start + 1;
            let item = match &f.item {
                None => {
                    cx.sink.push(
                        Problem::new(head.clone(), "ring without an item type")
                            .label("this ring has no `item`")
                            .help("add e.g. `item = \"u64\"`: the type of one queued value"),
                    );
                    None
                }
                Some(i) => match field_type(cx, i, false) {
                    Some(FieldType::Value(v)) => Some(v),
                    _ => None,
                },
            };
            let capacity = match &f.capacity {
                None => {
                    cx.sink.push(
                        Problem::new(head, "ring without a capacity")
                            .label("this ring has no `capacity`")
                            .help("add e.g. `capacity = 1024`: how many items fit"),
                    );
                    None
                }
                Some(c) if c.value < 1 => {
                    cx.sink.push(
                        Problem::new(
                            c.span.clone(),
                            format!("ring capacity {} is less than 1", c.value),
                        )
                        .help("a ring holds at least one item"),
                    );
                    None
                }
                Some(c) => Some(Sp {
                    span: c.span.clone(),
                    value: c.value.unsigned_abs(),
                }),
            };
            if f.lock.is_some() || atomic.is_some() {
                return None;
            }
            CKind::Ring {
                item: item?,
                capacity: capacity?,
            }
        }
    };
    Some(CField {
        name: f.name.clone()?,
        doc,
        kind,
        align,
        ty_span: ty?.span.clone(),
    })
}

fn check_align(cx: &mut Ctx<'_>, a: &Sp<i64>) -> Option<Sp<u64>> {
    let max = shmgen_runtime::abi::MAX_ALIGN;
    let ok = u64::try_from(a.value)
        .ok()
        .filter(|v| v.is_power_of_two() && *v <= max as u64);
    if ok.is_none() {
        let why = if a.value > max as i64 {
            format!("`align = {}` is more than {max}", a.value)
        } else {
            format!("`align = {}` is not a power of two", a.value)
        };
        cx.sink.push(
            Problem::new(a.span.clone(), why)
                .help(format!("`align` is a power of two from 1 to {max}, at least the field's natural alignment; 64 gives the field its own cache line")),
        );
    }
    ok.map(|value| Sp {
        span: a.span.clone(),
        value,
    })
}

/// Resolves a type string. `allow_special` admits `semaphore`, `event` and `ring` (field types,
/// not value types).
fn field_type(cx: &mut Ctx<'_>, t: &Sp<String>, allow_special: bool) -> Option<FieldType> {
    let map = StrMap::new(cx.text, t);
    let expr = match ast::parse_type(t, &map, MAX_DIMS) {
        Ok(e) => e,
        Err(p) => {
            cx.sink.push(p);
            return None;
        }
    };
    let mut dims = Vec::new();
    let mut cur = &expr;
    let mut ok = true;
    while let TypeExpr::Array { elem, len, .. } = cur {
        if len.value == 0 {
            cx.sink.push(
                Problem::new(
                    len.span.clone(),
                    format!("zero-length array in `{}`", t.value),
                )
                .help("arrays hold at least one element"),
            );
            ok = false;
        }
        dims.push(len.clone());
        cur = elem;
    }
    let elem = match cur {
        TypeExpr::Array { .. } => return None,
        TypeExpr::Str(n) | TypeExpr::Bytes(n) => {
            let which = if matches!(cur, TypeExpr::Str(_)) {
                "str"
            } else {
                "bytes"
            };
            if n.value == 0 {
                cx.sink.push(
                    Problem::new(n.span.clone(), format!("zero-length `{which}[0]`"))
                        .help(format!("`{which}[N]` holds N bytes: N is at least 1")),
                );
                return None;
            }
            if which == "str" {
                VElem::Str(n.clone())
            } else {
                VElem::Bytes(n.clone())
            }
        }
        TypeExpr::Name(n) => {
            if let Some(p) = builtin_type(&n.value) {
                VElem::Prim(p)
            } else if let Some(&i) = cx.structs.get(&n.value) {
                VElem::Struct(i)
            } else if let special @ ("semaphore" | "event" | "ring") = n.value.as_str() {
                if !dims.is_empty() || !allow_special {
                    let place = if dims.is_empty() {
                        "a ring item"
                    } else {
                        "an array element"
                    };
                    cx.sink.push(
                        Problem::new(n.span.clone(), format!("{} cannot be {place}", article(special)))
                            .help("put it in a struct field of its own (an array of structs holding one works)"),
                    );
                    return None;
                }
                return ok.then_some(match special {
                    "semaphore" => FieldType::Semaphore,
                    "event" => FieldType::Event,
                    _ => FieldType::Ring,
                });
            } else {
                let p = Problem::new(n.span.clone(), format!("unknown type \"{}\"", n.value));
                let candidates = BUILTIN_NAMES
                    .iter()
                    .copied()
                    .chain(cx.structs.keys().map(String::as_str));
                let p = if let Some(h) = type_hint(&n.value) {
                    p.help(h)
                } else if let Some(s) = ast::suggest(&n.value, candidates) {
                    p.help(format!("did you mean `{s}`?"))
                } else {
                    p.help(ast::TYPE_HELP)
                };
                cx.sink.push(p);
                return None;
            }
        }
    };
    ok.then_some(FieldType::Value(VTy {
        elem,
        dims,
        span: t.span.clone(),
    }))
}

/// The structs a field refers to.
fn refs(kind: &CKind) -> Option<usize> {
    let ty = match kind {
        CKind::Plain(t) | CKind::Mutex(t) | CKind::RMutex(t) | CKind::SeqLock(t) => t,
        CKind::Ring { item, .. } => item,
        CKind::Atomic(_) | CKind::Semaphore(_) | CKind::Event => return None,
    };
    match ty.elem {
        VElem::Struct(i) => Some(i),
        _ => None,
    }
}

/// Orders structs dependencies-first (depth-first, in file order) and reports every cycle.
fn order(structs: &[CStruct], sink: &mut Sink) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let edges: Vec<Vec<(usize, Span)>> = structs
        .iter()
        .map(|s| {
            s.fields
                .iter()
                .filter_map(|f| refs(&f.kind).map(|j| (j, f.ty_span.clone())))
                .collect()
        })
        .collect();
    let mut mark = vec![Mark::New; structs.len()];
    let mut order = Vec::with_capacity(structs.len());
    let mut cyclic = false;
    for start in 0..structs.len() {
        if mark[start] != Mark::New {
            continue;
        }
        // An explicit stack: (struct, next edge to follow).
        let mut stack = vec![(start, 0usize)];
        mark[start] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some((to, span)) = edges[node].get(*next) {
                *next += 1;
                match mark[*to] {
                    Mark::New => {
                        mark[*to] = Mark::Open;
                        stack.push((*to, 0));
                    }
                    Mark::Open => {
                        cyclic = true;
                        let from = stack.iter().position(|&(n, _)| n == *to).unwrap_or(0);
                        let mut path: Vec<&str> = stack[from..]
                            .iter()
                            .map(|&(n, _)| structs[n].name.value.as_str())
                            .collect();
                        path.push(&structs[*to].name.value);
                        let msg = if path.len() == 2 {
                            format!("struct `{}` contains itself", structs[*to].name.value)
                        } else {
                            format!("cycle between structs: {}", path.join(" → "))
                        };
                        sink.push(
                            Problem::new(span.clone(), msg)
                                .label(format!("`{}` is used here", structs[*to].name.value))
                                .help("a struct cannot contain itself, directly or through other structs (shared memory holds no pointers)"),
                        );
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                order.push(node);
                stack.pop();
            }
        }
    }
    (!cyclic).then_some(order)
}

/// Rules that look inside nested structs: locked values and ring items are plain data; nesting
/// depth and the expanded size of the type table stay bounded.
fn check_contents(structs: &[CStruct], order: &[usize], sink: &mut Sink) {
    let n = structs.len();
    // Per struct: the first field that is not plain data (path), nesting depth, expanded field
    // count.
    let mut impure: Vec<Option<String>> = vec![None; n];
    let mut depth = vec![1usize; n];
    let mut expanded = vec![0u64; n];
    for &i in order {
        let s = &structs[i];
        let mut e = s.fields.len() as u64;
        for f in &s.fields {
            if impure[i].is_none() && !matches!(f.kind, CKind::Plain(_)) {
                impure[i] = Some(format!(
                    "{}.{} ({})",
                    s.name.value,
                    f.name.value,
                    kind_name(&f.kind)
                ));
            }
            if let Some(j) = refs(&f.kind) {
                depth[i] = depth[i].max(depth[j] + 1);
                e = e.saturating_add(expanded[j]);
                if impure[i].is_none() && matches!(f.kind, CKind::Plain(_)) {
                    impure[i] = impure[j].clone();
                }
            }
            let value = match &f.kind {
                CKind::Mutex(t) | CKind::RMutex(t) => Some((t, "a locked value")),
                CKind::SeqLock(t) => Some((t, "a seqlock value")),
                CKind::Ring { item, .. } => Some((item, "a ring item")),
                _ => None,
            };
            if let Some((t, what)) = value {
                if let VElem::Struct(j) = t.elem {
                    if let Some(inner) = &impure[j] {
                        sink.push(
                            Problem::new(t.span.clone(), format!("{what} must be plain data, but `{}` holds {inner}", structs[j].name.value))
                                .help("locks, atomics, semaphores, events and rings cannot be nested inside a locked value or a ring item: move them next to it"),
                        );
                    }
                }
            }
        }
        expanded[i] = e;
        if depth[i] == MAX_NESTING + 1 {
            sink.push(
                Problem::new(
                    s.name.span.clone(),
                    format!(
                        "struct `{}` nests structs more than {MAX_NESTING} deep",
                        s.name.value
                    ),
                )
                .help("flatten some of the nesting"),
            );
        }
        if e > MAX_EXPANDED_FIELDS
            && s.fields
                .iter()
                .filter_map(|f| refs(&f.kind))
                .all(|j| expanded[j] <= MAX_EXPANDED_FIELDS)
        {
            sink.push(
                Problem::new(s.name.span.clone(), format!("struct `{}` expands to more than {MAX_EXPANDED_FIELDS} nested fields", s.name.value))
                    .help("its type table (and fingerprint) visit every nested struct once per use: reuse fewer nested structs"),
            );
        }
    }
}

fn kind_name(k: &CKind) -> &'static str {
    match k {
        CKind::Plain(_) => "plain",
        CKind::Atomic(_) => "atomic",
        CKind::Mutex(_) => "mutex",
        CKind::RMutex(_) => "rmutex",
        CKind::SeqLock(_) => "seqlock",
        CKind::Semaphore(_) => "semaphore",
        CKind::Event => "event",
        CKind::Ring { .. } => "ring",
    }
}

/// `a semaphore`, `an event`, `a ring`.
fn article(word: &str) -> String {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {word}")
    } else {
        format!("a {word}")
    }
}
