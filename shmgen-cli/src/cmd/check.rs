//! `shmgen check SCHEMA...`: validate and print the layout table of every struct.

use std::path::PathBuf;
use std::process::ExitCode;

use shmgen_codegen::{Builder, Error};

/// Arguments of `shmgen check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Schema files (TOML).
    #[arg(required = true, value_name = "SCHEMA")]
    schemas: Vec<PathBuf>,
}

/// Runs `shmgen check`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let schemas = Builder::new().parse(&args.schemas)?;
    for (i, s) in schemas.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", s.layout_table());
    }
    Ok(ExitCode::SUCCESS)
}
