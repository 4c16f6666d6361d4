//! `shmgen check SCHEMA... [--deny-warnings]`: validate, print the layout table of every
//! struct, and lint the root struct for false sharing (warnings on standard error).

use std::path::PathBuf;
use std::process::ExitCode;

use shmgen_codegen::{lint, Builder, Error};

/// Arguments of `shmgen check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Schema files (TOML).
    #[arg(required = true, value_name = "SCHEMA")]
    schemas: Vec<PathBuf>,
    /// Exit 1 when there are warnings (false sharing).
    #[arg(long)]
    deny_warnings: bool,
}

/// Runs `shmgen check`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let schemas = Builder::new().parse(&args.schemas)?;
    let mut warnings = 0;
    for (i, (s, path)) in schemas.iter().zip(&args.schemas).enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", s.layout_table());
        let found = lint::lint_file(path)?;
        for w in &found {
            eprintln!("{w}");
        }
        if !found.is_empty() {
            let n = found.len();
            eprintln!(
                "warning: {} generated {n} warning{}",
                path.display(),
                if n == 1 { "" } else { "s" }
            );
        }
        warnings += found.len();
    }
    if warnings > 0 && args.deny_warnings {
        eprintln!("error: warnings are denied (--deny-warnings)");
        return Ok(ExitCode::from(super::EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}
