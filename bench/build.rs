//! Generates the Rust code of `schemas/benchlayouts.toml` into `OUT_DIR` (the Python module is
//! generated at run time from the same file, by the same emitters).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    shmgen_codegen::compile(&["schemas/benchlayouts.toml"])?;
    Ok(())
}
