//! The `shmgen` command: build code from schemas, check layouts.
//!
//! Exit codes: 0 success; 1 a schema error (or stale files under `build --check`, or a file
//! that could not be written); 2 a usage error (bad arguments, a schema file that cannot be
//! read, a language that is not available yet).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

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
    /// Validate schemas and print their layout tables.
    Check(cmd::check::Args),
}

fn main() -> ExitCode {
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
    match err.downcast_ref::<E>() {
        Some(E::Schema(_) | E::DuplicateSchema { .. } | E::Write { .. }) => cmd::EXIT_FAILURE,
        Some(E::Read { .. } | E::LangUnavailable(_) | E::BadRuntimePath(_) | E::NoOutDir) => {
            cmd::EXIT_USAGE
        }
        // The error type is non-exhaustive in spirit: anything new is a failure, not usage.
        None => cmd::EXIT_FAILURE,
    }
}
