//! shmgen's schema compiler: TOML schemas → one layout model → Rust, Python and C.
//!
//! Pipeline: `ast` (TOML → spanned document) → `validate` (names, types, attributes; every
//! problem at once) → [`layout`] (the only place doing layout arithmetic) → the runtime's type
//! table ([`Schema::with_layouts`]) → [`emit`]ters.
//!
//! From a build script, [`compile`] (or [`Builder`]) writes `<schema>.rs` into `OUT_DIR`, and the
//! crate includes it with `shmgen_runtime::include_layout!("<schema>")`. In memory:
//!
//! ```
//! let schema = shmgen_codegen::parse_str(
//!     "schemas/counter.toml",
//!     r#"
//!     [[struct]]
//!     name = "Counter"
//!     fields = [
//!       { name = "hits", type = "u64", atomic = true },
//!       { name = "label", type = "str[16]", lock = "seqlock" },
//!     ]
//!     "#,
//! )?;
//! assert_eq!(schema.name(), "counter");
//! assert_eq!(schema.root(), "Counter");
//! let rust = schema.render_rust();
//! assert!(rust.contains("pub hits: ::core::sync::atomic::AtomicU64,"));
//! assert!(schema.layout_table().contains("seqlock"));
//!
//! // Every problem at once, rustc-style, with file:line:column.
//! let errors = shmgen_codegen::parse_str(
//!     "bad.toml",
//!     "[[struct]]\nname = \"S\"\nfields = [{ name = \"x\", type = \"u65\" }]\n",
//! )
//! .unwrap_err();
//! assert!(errors.to_string().starts_with("error: unknown type \"u65\"\n --> bad.toml:3:33"));
//! # Ok::<(), shmgen_codegen::Errors>(())
//! ```
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
pub mod lint;
pub mod svg;

pub use builder::{compile, stale_outputs, write_outputs, Builder, Written};
pub use emit::{Lang, LayoutSet, Options, Output};
pub use error::{Diagnostic, Error, Errors};
pub use report::layout_table;
pub use schema::{parse_file, parse_str, Schema};
