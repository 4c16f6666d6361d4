// Types the syntax check cannot recognise are still refused by the `Field` bound.
use shmgen_runtime::SharedLayout;

type Length = usize;

struct NotShared {
    a: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
struct Uses {
    len: Length,
    inner: NotShared,
}

fn main() {}
