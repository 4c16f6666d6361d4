//! A crate with `#![forbid(unsafe_code)]` can use the derive: its `unsafe impl`s are
//! macro-generated code (spanned at the derive's call site), which the lint leaves alone, while
//! the crate's own code stays under it.
#![forbid(unsafe_code)]

use std::sync::atomic::AtomicU64;

use shmgen_runtime::{CacheAligned, Event, Mutex, Ring, SeqLock, SharedLayout, Str};

/// A nested value type.
#[derive(SharedLayout, Clone, Copy)]
#[repr(C)]
struct Sample {
    at: u64,
    value: f64,
}

#[derive(SharedLayout)]
#[repr(C)]
struct Forbidden {
    latest: SeqLock<Sample>,
    history: Mutex<[Sample; 8]>,
    queue: Ring<Sample, 4>,
    count: CacheAligned<AtomicU64>,
    status: SeqLock<Str<16>>,
    stop: Event,
}

#[test]
fn derive_works_under_forbid_unsafe_code() {
    assert_eq!(Forbidden::LAYOUT.fields.len(), 6);
    assert_eq!(Sample::LAYOUT.size, 16);
    assert_ne!(Forbidden::FINGERPRINT, Sample::FINGERPRINT);
}
