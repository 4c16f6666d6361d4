//! The `shmgen` command: build code from schemas, check layouts, and look after the segments in
//! `/dev/shm` (list, inspect, watch, rm, gc).
//!
//! Exit codes: 0 success; 1 a failure (a schema error, stale files under `build --check`, a
//! file that could not be written, a segment that is missing, damaged or of another layout,
//! `check --deny-warnings` with warnings); 2 a usage error (bad arguments, an invalid segment
//! name, a schema file that cannot be read, a language that is not available yet).
#![deny(clippy::undocumented_unsafe_blocks)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod consistent;
mod decode;
mod shm;

/// Typed shared memory between processes: schema compiler and tools.
#[derive(Debug, Parser)]
#[command(name = "shmgen", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate Rust, Python and C code from schemas.
    Build(cmd::build::Args),
    /// Validate schemas, print their layout tables, warn about false sharing.
    Check(cmd::check::Args),
    /// Draw a schema's root struct as a byte map (SVG or HTML).
    Layout(cmd::layout::Args),
    /// List the shmgen segments in /dev/shm.
    List(cmd::list::Args),
    /// Show a segment's header and, with its schema, every field's value and lock state.
    Inspect(cmd::inspect::Args),
    /// Show a segment's fields refreshed in place, with per-second rates.
    Watch(cmd::watch::Args),
    /// Remove segments by name.
    Rm(cmd::rm::Args),
    /// Remove segments whose creator is dead and that no process uses.
    Gc(cmd::gc::Args),
}

fn main() -> ExitCode {
    // Output piped into `head` and closed early ends the program quietly, as for other Unix
    // tools, instead of a panic in `println!`.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started; no
    // handler function is involved.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", message(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    Ok(match cli.command {
        Command::Build(args) => cmd::build::run(&args)?,
        Command::Check(args) => cmd::check::run(&args)?,
        Command::Layout(args) => cmd::layout::run(&args)?,
        Command::List(args) => cmd::list::run(&args)?,
        Command::Inspect(args) => cmd::inspect::run(&args)?,
        Command::Watch(args) => cmd::watch::run(&args)?,
        Command::Rm(args) => cmd::rm::run(&args)?,
        Command::Gc(args) => cmd::gc::run(&args)?,
    })
}

/// Schema errors are already rendered rustc-style; everything else gets an `error:` prefix.
fn message(err: &anyhow::Error) -> String {
    match err.downcast_ref::<shmgen_codegen::Error>() {
        Some(shmgen_codegen::Error::Schema(errors)) => errors.to_string(),
        _ => format!("error: {err:#}"),
    }
}

fn exit_code(err: &anyhow::Error) -> u8 {
    use shmgen_codegen::Error as E;
    if err.downcast_ref::<cmd::Usage>().is_some() {
        return cmd::EXIT_USAGE;
    }
    match err.downcast_ref::<E>() {
        Some(E::Schema(_) | E::DuplicateSchema { .. } | E::Write { .. }) => cmd::EXIT_FAILURE,
        Some(E::Read { .. } | E::LangUnavailable(_) | E::BadRuntimePath(_) | E::NoOutDir) => {
            cmd::EXIT_USAGE
        }
        // The error type is non-exhaustive in spirit: anything new is a failure, not usage.
        None => cmd::EXIT_FAILURE,
    }
}
