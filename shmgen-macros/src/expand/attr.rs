//! Attributes the derive reads: `#[repr(...)]`, `#[shmgen(...)]` and `///` docs.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Lit, LitInt, LitStr, Meta};

use super::ctxt::Ctxt;

/// What `#[shmgen(...)]` on the struct says.
pub(crate) struct ContainerAttrs {
    /// `version = N` (default 1): the user's layout version, part of the fingerprint.
    pub(crate) version: u32,
    /// `crate = "path"` (default `::shmgen_runtime`): where the runtime is.
    pub(crate) krate: Option<syn::Path>,
}

/// The options `#[shmgen(...)]` accepts, for error messages.
const KNOWN: &str = "expected `version = N` or `crate = \"path::to::shmgen_runtime\"`";

/// Reads every `#[shmgen(...)]` on the struct. Unknown keys, duplicates and malformed values are
/// errors (recorded in `cx`), never silently ignored.
pub(crate) fn container(cx: &mut Ctxt, attrs: &[Attribute]) -> ContainerAttrs {
    let mut version: Option<(u32, Span)> = None;
    let mut krate: Option<syn::Path> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("shmgen")) {
        let Meta::List(_) = &attr.meta else {
            cx.error_spanned_by(
                attr,
                format!("shmgen: `#[shmgen]` needs arguments; {KNOWN}"),
            );
            continue;
        };
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("version") {
                let lit: LitInt = meta.value()?.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "shmgen: `version` takes an integer literal: `#[shmgen(version = 2)]`",
                    )
                })?;
                let v = lit.base10_parse::<u32>().map_err(|_| {
                    syn::Error::new(
                        lit.span(),
                        "shmgen: `version` must fit a u32 (0 to 4294967295)",
                    )
                })?;
                if version.is_some() {
                    return Err(meta.error("shmgen: duplicate `version` attribute"));
                }
                version = Some((v, lit.span()));
                Ok(())
            } else if meta.path.is_ident("crate") {
                let s: LitStr = meta.value()?.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "shmgen: `crate` takes a string: `#[shmgen(crate = \"my_runtime\")]`",
                    )
                })?;
                let path: syn::Path = s.parse().map_err(|_| {
                    syn::Error::new(
                        s.span(),
                        format!("shmgen: `crate = {:?}` is not a path", s.value()),
                    )
                })?;
                if krate.is_some() {
                    return Err(meta.error("shmgen: duplicate `crate` attribute"));
                }
                krate = Some(path);
                Ok(())
            } else {
                let name = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "this".to_owned());
                Err(meta.error(format!(
                    "shmgen: unknown attribute `{name}` on the struct; {KNOWN}"
                )))
            }
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    ContainerAttrs {
        version: version.map_or(1, |(v, _)| v),
        krate,
    }
}

/// Refuses `#[shmgen(...)]` on a field: a field's kind comes from its type.
pub(crate) fn field(cx: &mut Ctxt, field_name: &str, attrs: &[Attribute]) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("shmgen")) {
        cx.error_spanned_by(
            attr,
            format!(
                "shmgen: field `{field_name}`: fields take no `#[shmgen]` attributes; a field's \
                 kind comes from its type: `Mutex<T>` for lock = \"mutex\", `SeqLock<T>` for \
                 lock = \"seqlock\", `AtomicU64` for atomic = true, `CacheAligned<T>` for \
                 align = 64"
            ),
        );
    }
}

/// What `#[repr(...)]` says about the struct.
#[derive(Default)]
pub(crate) struct Repr {
    /// `repr(C)` is present.
    pub(crate) c: bool,
    /// A representation that excludes `C` was refused already (`transparent`, `Rust`).
    pub(crate) refused: bool,
}

/// Reads every `#[repr(...)]`. `C` is required (checked by the caller, which knows where to point);
/// `packed` and `transparent` are refused here; `align(N)` is accepted (rustc computes the
/// layout and the type table records the result).
pub(crate) fn repr(cx: &mut Ctxt, attrs: &[Attribute]) -> Repr {
    let mut repr = Repr::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let result = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            if meta.path.is_ident("C") {
                repr.c = true;
            } else if meta.path.is_ident("packed") {
                cx.error_at(
                    span,
                    "shmgen: `#[repr(packed)]` is not supported: packed fields may sit at \
                     unaligned offsets, where atomics, locks and C/ctypes readers need natural \
                     alignment; remove `packed` (add explicit padding fields or use `Bytes<N>` \
                     if you need an exact byte image)",
                );
            } else if meta.path.is_ident("transparent") {
                repr.refused = true;
                cx.error_at(
                    span,
                    "shmgen: `#[repr(transparent)]` is not supported; use `#[repr(C)]`, the \
                     layout Python and C read",
                );
            } else if meta.path.is_ident("Rust") {
                repr.refused = true;
                cx.error_at(
                    span,
                    "shmgen: `#[repr(Rust)]` lets rustc reorder fields; use `#[repr(C)]`, the \
                     layout Python and C read",
                );
            }
            // `align(N)` and anything else: consume the arguments and leave judgement to rustc.
            if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                content.parse::<proc_macro2::TokenStream>()?;
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    repr
}

/// The text of the `///` docs (`#[doc = "..."]`), one line per line, with the single space that
/// follows `///` removed and surrounding blank lines trimmed. Docs that are not string literals
/// (`#[doc = include_str!(..)]`) are skipped: a derive cannot evaluate them.
pub(crate) fn docs(attrs: &[Attribute]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        let Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        let Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) = &nv.value
        else {
            continue;
        };
        // `split`, not `lines`: an empty `///` line is a paragraph break and must stay.
        for line in s.value().split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let line = line.strip_prefix(' ').unwrap_or(line);
            lines.push(line.trim_end().to_owned());
        }
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let first = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    lines[first..].join("\n")
}
