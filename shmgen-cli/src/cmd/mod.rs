//! The subcommands. Each parses its own arguments (clap) and returns an exit code or a typed
//! `shmgen_codegen::Error`; `main` turns errors into messages and exit codes.

pub mod build;
pub mod check;

/// A schema error, stale generated files, or a write failure.
pub const EXIT_FAILURE: u8 = 1;
/// Bad arguments or unreadable input.
pub const EXIT_USAGE: u8 = 2;
