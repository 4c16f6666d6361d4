use shmgen_runtime::SharedLayout;
use std::sync::RwLock;

#[derive(SharedLayout)]
#[repr(C)]
struct Locks {
    counter: std::sync::Mutex<u64>,
    table: RwLock<[u32; 8]>,
    flag: std::cell::Cell<bool>,
}

fn main() {}
