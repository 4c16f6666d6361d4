//! Any bytes as a TOML schema: parsing, validation, layout and every emitter must not panic,
//! and whatever compiles must give Rust that re-parses (`shmgen_fuzz::check_schema`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    shmgen_fuzz::check_schema(data);
});
