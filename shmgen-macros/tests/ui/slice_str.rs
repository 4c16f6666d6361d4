use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Text {
    len: u32,
    text: str,
}

#[derive(SharedLayout)]
#[repr(C)]
struct Data {
    len: u32,
    data: [u8],
}

fn main() {}
