use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Node {
    value: u64,
    next: *const Node,
    prev: *mut Node,
}

fn main() {}
