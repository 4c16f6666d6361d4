//! Any bytes as a `/dev/shm` segment file: `open` and `inspect` must refuse or accept it
//! without panicking or hanging, and an accepted one must be readable (`shmgen_fuzz::check_segment`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    shmgen_fuzz::check_segment(data);
});
