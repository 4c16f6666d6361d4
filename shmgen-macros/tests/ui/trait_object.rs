use shmgen_runtime::SharedLayout;

trait Handler {}

#[derive(SharedLayout)]
#[repr(C)]
struct Dispatch {
    count: u32,
    handler: dyn Handler,
}

fn main() {}
