use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C, align(8192))]
struct TwoPages {
    a: u32,
}

fn main() {}
