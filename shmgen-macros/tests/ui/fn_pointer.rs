use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Callbacks {
    on_ready: fn(u32) -> u32,
    on_exit: Option<extern "C" fn()>,
}

fn main() {}
