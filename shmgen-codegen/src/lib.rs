//! shmgen's schema compiler: TOML schemas → one layout model → Rust, Python and C.
#![warn(missing_docs)]

pub mod emit;

pub use emit::{Lang, LayoutSet, Output};
