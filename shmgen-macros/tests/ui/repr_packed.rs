use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C, packed)]
struct Wire {
    tag: u8,
    value: u64,
}

#[derive(SharedLayout)]
#[repr(C)]
#[repr(packed(2))]
struct Wire2 {
    tag: u8,
    value: u64,
}

#[derive(SharedLayout)]
#[repr(transparent)]
struct Wrapper {
    value: u64,
}

fn main() {}
