//! Field types the derive refuses, each with why and what to use instead.
//!
//! This is a courtesy check on the syntax: it turns the commonest mistakes into one clear,
//! spanned error per field. The real gate is the `Field` trait bound the expansion asserts for
//! every field type, so a type that gets past these names (an alias, a renamed import) is still
//! refused by rustc; it only gets a less specific message.

use syn::{GenericArgument, PathArguments, Type, TypePath};

use super::ctxt::Ctxt;

/// Checks one field's type, recursing into arrays and generic arguments (`Mutex<Vec<u8>>` is
/// refused at `Vec<u8>`), and records an error for every refused type found.
pub(crate) fn check_type(cx: &mut Ctxt, field: &str, ty: &Type) {
    check(cx, field, ty, false);
}

/// `nested` is false for the field's own type and true inside arrays and generic arguments, where
/// the messages say "contains" rather than "is".
fn check(cx: &mut Ctxt, field: &str, ty: &Type, nested: bool) {
    let is = if nested { "contains" } else { "is" };
    let has = if nested { "contains" } else { "has" };
    match ty {
        Type::Array(a) => check(cx, field, &a.elem, true),
        Type::Group(g) => check(cx, field, &g.elem, nested),
        Type::Paren(p) => check(cx, field, &p.elem, nested),
        Type::Path(p) => check_path(cx, field, p, is),
        Type::Ptr(_) => cx.error_spanned_by(
            ty,
            format!(
                "shmgen: field `{field}` {is} a raw pointer: an address means nothing in another \
                 process, which maps the segment (and everything else) at its own addresses; \
                 store an index or a byte offset (`u64`) instead"
            ),
        ),
        Type::Reference(_) => cx.error_spanned_by(
            ty,
            format!(
                "shmgen: field `{field}` {is} a reference: it points into this process's memory, \
                 which other processes cannot see; store the value itself, or an index or byte \
                 offset (`u64`)"
            ),
        ),
        Type::BareFn(_) => cx.error_spanned_by(
            ty,
            format!(
                "shmgen: field `{field}` {is} a function pointer: code addresses differ between \
                 processes (and languages); store a `u32` tag and dispatch on it in each process"
            ),
        ),
        Type::Slice(_) => cx.error_spanned_by(
            ty,
            format!(
                "shmgen: field `{field}` {is} a slice, which has no fixed size; use an array \
                 `[T; N]`"
            ),
        ),
        Type::TraitObject(_) | Type::ImplTrait(_) => cx.error_spanned_by(
            ty,
            format!(
                "shmgen: field `{field}` {is} a trait object: it has no fixed size and its vtable \
                 is a pointer into this process; use a concrete field type"
            ),
        ),
        Type::Tuple(t) if t.elems.is_empty() => cx.error_spanned_by(
            ty,
            format!(
                "shmgen: field `{field}` {has} the unit type `()`, which has no bytes and no \
                 equivalent in Python or C; remove the field"
            ),
        ),
        Type::Tuple(_) => cx.error_spanned_by(
            ty,
            format!(
                "shmgen: field `{field}` {is} a tuple: tuple members have no names in the type \
                 table, Python or C; use a nested `#[derive(SharedLayout)]` struct with named \
                 fields, or an array `[T; N]` if the members share a type"
            ),
        ),
        Type::Never(_) => cx.error_spanned_by(
            ty,
            format!("shmgen: field `{field}` {has} the never type `!`, which has no values"),
        ),
        // `_` is refused by rustc in this position; type macros and verbatim tokens cannot be
        // judged here: the `Field` bound decides.
        _ => {}
    }
}

/// The std paths a name is also refused under (`std::string::String`, `alloc::vec::Vec`, ...).
fn is_std_root(first: &str) -> bool {
    matches!(first, "std" | "core" | "alloc")
}

fn check_path(cx: &mut Ctxt, field: &str, p: &TypePath, is: &str) {
    // `<T as Trait>::Assoc` names no type we can judge.
    if p.qself.is_some() {
        return;
    }
    let segments = &p.path.segments;
    let Some(last) = segments.last() else {
        return;
    };
    let name = last.ident.to_string();
    let first = segments
        .first()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    // A bare name (`String`, after `use std::string::String` or from the prelude), or the same
    // name under std/core/alloc. `crate::Box` or `self::Box` names a type of the user's own.
    let bare = p.path.leading_colon.is_none() && segments.len() == 1;
    let std_named = bare || is_std_root(&first);
    // A process-local lock from std or a popular crate.
    let foreign_lock_crate = is_std_root(&first)
        || matches!(
            first.as_str(),
            "parking_lot" | "spin" | "tokio" | "async_std"
        );

    let why: Option<String> = match name.as_str() {
        "usize" | "isize" if std_named => {
            let (fixed, c) = if name == "usize" {
                ("u64", "size_t")
            } else {
                ("i64", "ssize_t")
            };
            Some(format!(
                "`{name}`, whose width depends on the target (4 bytes on 32-bit, 8 on 64-bit), \
                 so it has no fixed-width twin in Python ctypes or C (`{c}` varies too); use \
                 `{fixed}`"
            ))
        }
        "AtomicUsize" | "AtomicIsize" if std_named => {
            let fixed = if name == "AtomicUsize" {
                "AtomicU64"
            } else {
                "AtomicI64"
            };
            Some(format!(
                "`{name}`, whose width depends on the target and has no fixed-width twin in \
                 Python or C; use `{fixed}`"
            ))
        }
        "u128" | "i128" if std_named => Some(format!(
            "`{name}`, which the schema language does not have (C and ctypes give 128-bit \
             integers no portable layout); use two `u64` fields or `Bytes<16>`"
        )),
        "f16" | "f128" if std_named => Some(format!(
            "`{name}`, which the schema language does not have; use `f32` or `f64`"
        )),
        "char" if std_named => Some(
            "`char`: a 4-byte Unicode scalar value with invalid bit patterns (zeroed or \
             foreign-written memory may not be a valid `char`), and no twin in Python or C; use \
             `Str<N>` for text or `u32` for a code point"
                .to_owned(),
        ),
        "str" if std_named => Some(
            "`str`, which has no fixed size; use `Str<N>` (UTF-8 text in N bytes, NUL-padded)"
                .to_owned(),
        ),
        "String" if std_named => Some(
            "`String`, which owns memory on this process's heap; use `Str<N>` (UTF-8 text in \
             N bytes, NUL-padded)"
                .to_owned(),
        ),
        "CString" | "OsString" | "PathBuf" | "CStr" | "OsStr" | "Path" if std_named => {
            Some(format!(
                "`{name}`, which owns or borrows memory of this process; use `Str<N>` for \
                 text or `Bytes<N>` for raw bytes"
            ))
        }
        "Vec" | "VecDeque" | "LinkedList" | "BinaryHeap" if std_named => Some(format!(
            "`{name}`, which owns memory on this process's heap; use an array `[T; N]`, or \
             `Ring<T, N>` for a queue"
        )),
        "HashMap" | "HashSet" | "BTreeMap" | "BTreeSet" if std_named => Some(format!(
            "`{name}`, which owns memory on this process's heap; use a fixed array of \
             entries (`[Entry; N]` with a nested `#[derive(SharedLayout)]` struct)"
        )),
        "Box" if std_named => Some(
            "`Box`, a pointer to this process's heap that other processes cannot follow; \
             store the value inline"
                .to_owned(),
        ),
        "Rc" | "Arc" | "Weak" if std_named => Some(format!(
            "`{name}`, a reference-counted pointer to this process's heap that other \
             processes cannot follow; store the value inline (shared memory is already shared)"
        )),
        "Cow" if std_named => Some(
            "`Cow`, which borrows or owns memory of this process; use `Str<N>`, `Bytes<N>` \
             or an array"
                .to_owned(),
        ),
        "NonNull" | "AtomicPtr" if std_named => Some(format!(
            "`{name}`, a pointer: an address means nothing in another process; store an \
             index or a byte offset (`u64`/`AtomicU64`)"
        )),
        "Option" if std_named => Some(
            "`Option`, whose layout (niche or tag) is Rust's choice and has no twin in \
             Python or C; add a `bool` field saying whether the value is present, or reserve a \
             sentinel value"
                .to_owned(),
        ),
        "Result" if std_named => Some(
            "`Result`, an enum whose layout is Rust's choice and has no twin in Python or C; \
             use a status code field (`u32`) next to the value"
                .to_owned(),
        ),
        "Cell" | "RefCell" | "UnsafeCell" | "OnceCell" if std_named => Some(format!(
            "`{name}`, whose interior mutability is not synchronised between processes; use \
             an atomic (`AtomicU64`, ...), `Mutex<T>` or `SeqLock<T>`"
        )),
        "PhantomData" if std_named => Some(
            "`PhantomData`, which has no bytes and no equivalent in Python or C; remove the \
             field"
                .to_owned(),
        ),
        "Mutex" | "RwLock" | "Condvar" | "Barrier" | "Once" | "OnceLock" | "LazyLock"
            if foreign_lock_crate =>
        {
            let path = segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect::<Vec<_>>()
                .join("::");
            Some(format!(
                "`{path}`, a lock that works within one process only; use shmgen's \
                 process-shared `Mutex<T>`, `RMutex<T>`, `SeqLock<T>`, `Semaphore` or `Event`"
            ))
        }
        "RwLock" | "Condvar" | "Barrier" if bare => Some(format!(
            "`{name}`, which shmgen has no process-shared version of; use `SeqLock<T>` \
             (readers never block) or `Mutex<T>`, and `Event`/`Semaphore` to wait"
        )),
        _ => None,
    };
    if let Some(why) = why {
        cx.error_spanned_by(p, format!("shmgen: field `{field}` {is} {why}"));
        return;
    }
    // Look inside: `Mutex<Vec<u8>>`, `SeqLock<Option<u64>>`, `Ring<usize, 8>`.
    for seg in segments {
        if let PathArguments::AngleBracketed(args) = &seg.arguments {
            for arg in &args.args {
                if let GenericArgument::Type(t) = arg {
                    check(cx, field, t, true);
                }
            }
        }
    }
}
