//! The derive's implementation, kept free of `proc_macro` so tests can call it directly:
//! parse a [`syn::DeriveInput`] into a checked model, then emit the impls.
//!
//! The derive never computes a size or an offset: every number in the emitted type table is a
//! `size_of`, `align_of` or `offset_of!` that rustc evaluates, and the fingerprint is the
//! runtime's one `const fn` (the trait's default `FINGERPRINT`).

#[path = "expand/attr.rs"]
mod attr;
#[path = "expand/ctxt.rs"]
mod ctxt;
#[path = "expand/refuse.rs"]
mod refuse;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericParam, Ident, Type};

use ctxt::Ctxt;

/// One field of the struct, checked.
struct FieldModel<'a> {
    /// The field as written (`r#type` stays raw, for `offset_of!`).
    ident: &'a Ident,
    /// Its name in the type table (`type` for `r#type`).
    name: String,
    /// Its `///` docs.
    doc: String,
    /// Its type.
    ty: &'a Type,
}

/// The struct, checked.
struct Model<'a> {
    ident: &'a Ident,
    name: String,
    doc: String,
    version: u32,
    krate: syn::Path,
    fields: Vec<FieldModel<'a>>,
}

/// `#[derive(SharedLayout)]`: the impls for a valid struct, or `compile_error!`s naming every
/// problem found. Never panics.
pub fn derive(input: &DeriveInput) -> TokenStream {
    match parse(input) {
        Ok(model) => emit(&model),
        Err(errors) => errors,
    }
}

/// Checks the input and builds the model, collecting every error before giving up.
fn parse(input: &DeriveInput) -> Result<Model<'_>, TokenStream> {
    let mut cx = Ctxt::default();
    let ident = &input.ident;
    let name = ident.unraw().to_string();

    let attrs = attr::container(&mut cx, &input.attrs);
    let repr = attr::repr(&mut cx, &input.attrs);

    let data = match &input.data {
        Data::Struct(s) => Some(s),
        Data::Enum(e) => {
            cx.error_at(
                e.enum_token.span,
                format!(
                    "shmgen: `{name}` is an enum; #[derive(SharedLayout)] needs a `#[repr(C)]` \
                     struct with named fields. An enum's tag and variant layout have no twin in \
                     the schema language, Python or C: use a struct with a `u32` tag field and \
                     the variants' data as fields"
                ),
            );
            None
        }
        Data::Union(u) => {
            cx.error_at(
                u.union_token.span,
                format!(
                    "shmgen: `{name}` is a union; #[derive(SharedLayout)] needs a `#[repr(C)]` \
                     struct with named fields. Overlapping fields cannot be described, checked \
                     or initialised field by field: use separate fields, or `Bytes<N>` for raw \
                     storage"
                ),
            );
            None
        }
    };

    if !repr.c && !repr.refused && data.is_some() {
        cx.error_spanned_by(
            ident,
            format!(
                "shmgen: `{name}` needs `#[repr(C)]`: without it rustc may reorder and pad \
                 fields as it likes, and Python and C read the C layout; add `#[repr(C)]` \
                 above the struct"
            ),
        );
    }

    for param in &input.generics.params {
        let (what, why) = match param {
            GenericParam::Lifetime(_) => (
                "lifetime parameter",
                "a lifetime means the struct borrows, and shared memory cannot hold borrows",
            ),
            GenericParam::Type(_) => (
                "type parameter",
                "a shared layout is one fixed table of offsets, sizes and a fingerprint; write \
                 a concrete struct for each type you need",
            ),
            GenericParam::Const(_) => (
                "const parameter",
                "a shared layout is one fixed table of offsets, sizes and a fingerprint; use a \
                 concrete length",
            ),
        };
        cx.error_spanned_by(
            param,
            format!("shmgen: `{name}` has a {what}, which #[derive(SharedLayout)] does not support: {why}"),
        );
    }

    let mut fields = Vec::new();
    if let Some(data) = data {
        match &data.fields {
            Fields::Named(named) => {
                if named.named.is_empty() {
                    cx.error_at(
                        named.brace_token.span.join(),
                        format!(
                            "shmgen: `{name}` has no fields; a shared struct needs at least one \
                             (C has no empty structs)"
                        ),
                    );
                }
                for f in &named.named {
                    // Named fields always have an ident; skip defensively rather than panic.
                    let Some(fident) = &f.ident else { continue };
                    let fname = fident.unraw().to_string();
                    attr::field(&mut cx, &fname, &f.attrs);
                    refuse::check_type(&mut cx, &fname, &f.ty);
                    fields.push(FieldModel {
                        ident: fident,
                        name: fname,
                        doc: attr::docs(&f.attrs),
                        ty: &f.ty,
                    });
                }
            }
            Fields::Unnamed(unnamed) => {
                cx.error_at(
                    unnamed.paren_token.span.join(),
                    format!(
                        "shmgen: `{name}` is a tuple struct; #[derive(SharedLayout)] needs named \
                         fields, because field names are the names in the type table, Python and \
                         C: write `struct {name} {{ a: T, .. }}`"
                    ),
                );
                for (i, f) in unnamed.unnamed.iter().enumerate() {
                    refuse::check_type(&mut cx, &i.to_string(), &f.ty);
                }
            }
            Fields::Unit => cx.error_spanned_by(
                ident,
                format!(
                    "shmgen: `{name}` is a unit struct; #[derive(SharedLayout)] needs named \
                     fields (C has no empty structs): write `struct {name} {{ a: T, .. }}`"
                ),
            ),
        }
    }

    cx.check()?;
    Ok(Model {
        ident,
        name,
        doc: attr::docs(&input.attrs),
        version: attrs.version,
        krate: attrs
            .krate
            .unwrap_or_else(|| syn::parse_quote!(::shmgen_runtime)),
        fields,
    })
}

/// The expansion: a block of compile-time checks, `SharedLayout` and `Element`.
///
/// The tokens the derive invents are spanned at the call site, so the `unsafe impl`s count as
/// macro-generated code (which `#![forbid(unsafe_code)]` leaves alone). The user's own names and
/// types keep their spans, and the safe checks are spanned at the struct's name or the field's
/// type, so rustc's errors point at what caused them.
fn emit(m: &Model<'_>) -> TokenStream {
    let Model {
        ident,
        name,
        doc,
        version,
        krate,
        fields,
    } = m;

    // Every field type must implement `Field`. Reading the kinds through this local trait gives
    // one error per bad field, at the field's type, in shmgen's words.
    let field_type_trait = quote! {
        #[diagnostic::on_unimplemented(
            message = "shmgen: `{Self}` is not a shmgen field type",
            label = "not a shmgen field type",
            note = "a field of a `#[derive(SharedLayout)]` struct is a fixed-width scalar (u8..i64, f32, f64, bool), an array, `Str<N>`, `Bytes<N>`, another `#[derive(SharedLayout)]` struct, a std atomic (AtomicU8..AtomicI64, AtomicBool), `Mutex<T>`, `RMutex<T>`, `SeqLock<T>`, `Semaphore<K>`, `Event`, `Ring<T, N>`, or `CacheAligned<T>`/`AlignN<T>` around one of these"
        )]
        trait __ShmgenFieldType {
            const KIND: #krate::Kind<'static>;
        }
    };
    // Spanned at the struct's name rather than the derive: rustc would otherwise suggest
    // "manually implementing" this helper when a field type is not a `Field`.
    let field_type_impl = quote_spanned! {ident.span()=>
        impl<T: #krate::Field> __ShmgenFieldType for T {
            const KIND: #krate::Kind<'static> = <T as #krate::Field>::KIND;
        }
    };

    let name_too_long = format!(
        "shmgen: the struct name `{name}` ({} bytes) does not fit a segment header, which holds \
         at most shmgen_runtime::abi::MAX_ROOT_NAME bytes; rename the struct",
        name.len()
    );
    let too_aligned = format!(
        "shmgen: `{name}` is aligned to more than a page (shmgen_runtime::abi::MAX_ALIGN), \
         which a segment cannot provide; lower its `#[repr(align(N))]` or its fields' alignment"
    );

    let field_layouts = fields.iter().map(|f| {
        let FieldModel {
            ident: fident,
            name: fname,
            doc: fdoc,
            ty,
        } = f;
        // Spanned at the field's type, so a type that is not a field type is reported there.
        let kind = quote_spanned! {ty.span()=> <#ty as __ShmgenFieldType>::KIND };
        quote! {
            #krate::FieldLayout {
                name: #fname,
                doc: #fdoc,
                offset: ::core::mem::offset_of!(#ident, #fident),
                size: ::core::mem::size_of::<#ty>(),
                align: ::core::mem::align_of::<#ty>(),
                kind: #kind,
            }
        }
    });

    // Spanned at the struct's name, so a failed check points there rather than at the derive.
    let checks = quote_spanned! {ident.span()=>
        if #name.len() > #krate::abi::MAX_ROOT_NAME {
            ::core::panic!(#name_too_long);
        }
        if ::core::mem::align_of::<#ident>() > #krate::abi::MAX_ALIGN {
            ::core::panic!(#too_aligned);
        }
    };

    let layout_safety = format!(
        " SAFETY: `{name}` is `#[repr(C)]` with named fields (checked by the derive), no \
         generics and no `packed`. Every number in `LAYOUT` is computed by rustc \
         (`size_of`, `align_of`, `offset_of!`), and every field's `kind` is its type's \
         `Field::KIND`, an unsafe trait whose implementors vouch for their bytes; a field type \
         that does not implement `Field` fails to compile. So `LAYOUT` describes `{name}` \
         exactly, all its fields are shmgen field types (valid when zeroed and then \
         initialised in place from `LAYOUT`), and none holds a pointer. `Sync` is required by \
         the trait."
    );
    let element_safety = format!(
        " SAFETY: `TY` is `Ty::structure` of `{name}`'s own `LAYOUT`, whose size and alignment \
         are rustc's `size_of::<{name}>()` and `align_of::<{name}>()` (see the `SharedLayout` \
         impl above)."
    );
    let version = proc_macro2::Literal::u32_unsuffixed(*version);

    quote! {
        // Compile-time checks: the name fits the segment header and the alignment a page.
        // (Field types are checked where `LAYOUT` reads their kinds, `Sync` by the trait.)
        const _: () = {
            #checks
        };

        #[doc = #layout_safety]
        #[automatically_derived]
        unsafe impl #krate::SharedLayout for #ident {
            const LAYOUT: #krate::StructLayout<'static> = {
                #field_type_trait
                #field_type_impl
                #krate::StructLayout {
                    name: #name,
                    doc: #doc,
                    size: ::core::mem::size_of::<#ident>(),
                    align: ::core::mem::align_of::<#ident>(),
                    fields: &[#(#field_layouts),*],
                }
            };
            const VERSION: u32 = #version;
        }

        #[doc = #element_safety]
        #[automatically_derived]
        unsafe impl #krate::Element for #ident {
            const TY: #krate::Ty<'static> =
                #krate::Ty::structure(&<Self as #krate::SharedLayout>::LAYOUT);
        }
    }
}
