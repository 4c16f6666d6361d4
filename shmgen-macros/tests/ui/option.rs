use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Job {
    deadline: Option<u64>,
    outcome: Result<u32, u32>,
}

fn main() {}
