//! Collects every error the derive finds, so they are all reported at once (serde_derive's
//! `Ctxt` pattern): nothing in the derive returns early on the first problem, and nothing panics.

use proc_macro2::TokenStream;
use quote::ToTokens;
use std::fmt::Display;

/// The errors found so far.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    /// Records an error spanned by `tokens` (its first to last token).
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&mut self, tokens: T, message: M) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error at `span`.
    pub(crate) fn error_at<M: Display>(&mut self, span: proc_macro2::Span, message: M) {
        self.errors.push(syn::Error::new(span, message));
    }

    /// Records an error that `syn` produced (a malformed attribute, say).
    pub(crate) fn syn_error(&mut self, err: syn::Error) {
        self.errors.push(err);
    }

    /// `Ok` when nothing was recorded, otherwise every error as `compile_error!` invocations,
    /// each carrying its own span.
    pub(crate) fn check(self) -> Result<(), TokenStream> {
        let mut errors = self.errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for e in errors {
            combined.combine(e);
        }
        Err(combined.to_compile_error())
    }
}
