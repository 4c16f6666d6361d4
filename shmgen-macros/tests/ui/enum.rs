use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
enum State {
    Idle,
    Running { pid: u32 },
}

fn main() {}
