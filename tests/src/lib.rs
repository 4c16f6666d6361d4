//! Cross-crate tests: the generated code of every schema in `schemas/`, compiled by rustc (so
//! every size, alignment, offset and fingerprint the schema compiler produced is confirmed by
//! `const` assertions), plus cross-process tests.
#![deny(clippy::undocumented_unsafe_blocks)]

/// `schemas/metrics.toml`, included with the one-line macro users write.
pub mod metrics {
    shmgen_runtime::include_layout!("metrics");
}

// Every other schema in `schemas/`, each in its own module (written by build.rs).
include!(concat!(env!("OUT_DIR"), "/schemas.rs"));

/// The runtime under another path, for code generated with `runtime_crate("crate::rt")`.
pub mod rt {
    pub use shmgen_runtime::*;
}

/// `schemas/metrics.toml` generated with `runtime_crate("crate::rt")`.
pub mod metrics_via_reexport {
    include!(concat!(env!("OUT_DIR"), "/rt/metrics.rs"));
}

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
