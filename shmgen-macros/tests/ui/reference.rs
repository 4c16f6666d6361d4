use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Config {
    limit: &'static u32,
    name: &'static [u8; 8],
}

fn main() {}
