use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Buffer<'a, T, const N: usize> {
    items: [T; N],
    tag: &'a u8,
}

fn main() {}
