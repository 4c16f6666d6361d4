use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Key {
    pressed: char,
}

fn main() {}
