use shmgen_runtime::SharedLayout;
use std::sync::atomic::AtomicUsize;

#[derive(SharedLayout)]
#[repr(C)]
struct Counters {
    len: usize,
    delta: isize,
    hits: AtomicUsize,
}

fn main() {}
