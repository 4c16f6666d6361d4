use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
struct Metrics {
    done: u64,
    failed: u32,
}

#[derive(SharedLayout)]
#[repr(align(64))]
struct OnlyAligned {
    done: u64,
}

fn main() {}
