use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Holder {
    value: Box<u64>,
}

fn main() {}
