//! `shmgen build SCHEMA... [--out-dir DIR] [--lang rust,python,c] [--check]`.

use std::path::PathBuf;
use std::process::ExitCode;

use shmgen_codegen::{stale_outputs, write_outputs, Builder, Error, Lang};

/// Arguments of `shmgen build`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Schema files (TOML).
    #[arg(required = true, value_name = "SCHEMA")]
    schemas: Vec<PathBuf>,
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR", default_value = "generated")]
    out_dir: PathBuf,
    /// Languages to generate, comma-separated (default: every available one).
    #[arg(long, value_name = "LANGS", value_delimiter = ',')]
    lang: Vec<Lang>,
    /// Write nothing; exit 1 and list the files that are missing or out of date.
    #[arg(long)]
    check: bool,
    /// How generated Rust names the runtime crate.
    #[arg(long, value_name = "PATH", default_value = "::shmgen_runtime")]
    runtime_crate: String,
}

/// Runs `shmgen build`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let langs = if args.lang.is_empty() {
        Lang::available()
    } else {
        args.lang.clone()
    };
    let outputs = Builder::new()
        .emit_rerun_if_changed(false)
        .langs(&langs)
        .runtime_crate(args.runtime_crate.clone())
        .generate(&args.schemas)?;
    if args.check {
        let stale = stale_outputs(&args.out_dir, &outputs);
        if stale.is_empty() {
            println!(
                "{} generated file(s) up to date in {}",
                outputs.len(),
                args.out_dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for p in &stale {
            println!("stale: {}", p.display());
        }
        eprintln!(
            "error: {} generated file(s) are missing or out of date; run `shmgen build` without --check",
            stale.len()
        );
        return Ok(ExitCode::from(super::EXIT_FAILURE));
    }
    for w in write_outputs(&args.out_dir, &outputs)? {
        let what = if w.changed { "wrote" } else { "unchanged" };
        println!("{what} {}", w.path.display());
    }
    Ok(ExitCode::SUCCESS)
}
