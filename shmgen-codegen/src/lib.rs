//! shmgen's schema compiler: TOML schemas → one layout model → Rust, Python and C.
//!
//! Pipeline: `ast` (TOML → spanned document) → `validate` (names, types, attributes; every
//! problem at once) → [`layout`] (the only place doing layout arithmetic) → the runtime's type
//! table ([`Schema::with_layouts`]) → [`emit`]ters.
#![warn(missing_docs)]

mod ast;
mod builder;
mod error;
mod names;
mod report;
mod schema;
mod source;
mod validate;

pub mod emit;
pub mod layout;

pub use builder::{compile, stale_outputs, write_outputs, Builder, Written};
pub use emit::{Lang, LayoutSet, Options, Output};
pub use error::{Diagnostic, Error, Errors};
pub use report::layout_table;
pub use schema::{parse_file, parse_str, Schema};
