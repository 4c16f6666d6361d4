//! `shmgen layout SCHEMA [--svg OUT.svg] [--html OUT.html]`: the root struct's byte map as an
//! SVG picture or an HTML page (`-` writes to standard output); without either, the layout
//! table `check` prints.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

/// Arguments of `shmgen layout`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The schema file (TOML).
    #[arg(value_name = "SCHEMA")]
    schema: PathBuf,
    /// Write the SVG byte map here (`-`: standard output).
    #[arg(long, value_name = "OUT.svg")]
    svg: Option<PathBuf>,
    /// Write an HTML page (byte map, layout table, false-sharing findings) here.
    #[arg(long, value_name = "OUT.html")]
    html: Option<PathBuf>,
}

fn write(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        print!("{text}");
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Runs `shmgen layout`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let schema = super::load_schema(&args.schema)?;
    if args.svg.is_none() && args.html.is_none() {
        print!("{}", schema.layout_table());
    }
    if let Some(p) = &args.svg {
        write(p, &schema.render_svg())?;
    }
    if let Some(p) = &args.html {
        write(p, &schema.render_html())?;
    }
    Ok(ExitCode::SUCCESS)
}
