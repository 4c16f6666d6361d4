use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Ids {
    uuid: u128,
    delta: i128,
}

fn main() {}
