use shmgen_runtime::SharedLayout;
use std::rc::Rc;
use std::sync::Arc;

#[derive(SharedLayout)]
#[repr(C)]
struct Shared {
    local: Rc<u64>,
    threads: Arc<u64>,
}

fn main() {}
