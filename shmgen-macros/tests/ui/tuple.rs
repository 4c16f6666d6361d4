use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Point {
    xy: (f64, f64),
    nothing: (),
}

fn main() {}
