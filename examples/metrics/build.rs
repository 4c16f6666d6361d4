//! Compiles `schemas/metrics.toml` into `OUT_DIR`, the way a user's build script would.
fn main() -> Result<(), shmgen_codegen::Error> {
    shmgen_codegen::compile(&["../../schemas/metrics.toml"])
}
