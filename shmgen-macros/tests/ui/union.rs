use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
union Word {
    int: u64,
    float: f64,
}

fn main() {}
