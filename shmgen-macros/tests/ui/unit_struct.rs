use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Marker;

#[derive(SharedLayout)]
#[repr(C)]
struct Empty {}

fn main() {}
