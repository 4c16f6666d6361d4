//! `#[derive(SharedLayout)]`: the type table and fingerprint of a `#[repr(C)]` struct.
use proc_macro::TokenStream;

/// Derives `shmgen_runtime::SharedLayout` (work in progress: see issue 5).
#[proc_macro_derive(SharedLayout, attributes(shmgen))]
pub fn derive_shared_layout(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    syn::Error::new_spanned(&input.ident, "shmgen: #[derive(SharedLayout)] is not implemented yet")
        .to_compile_error()
        .into()
}
