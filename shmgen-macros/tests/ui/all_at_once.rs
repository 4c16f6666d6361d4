// Every problem is reported in one go, not one per build.
use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[shmgen(version = 2, colour = "blue")]
struct Everything<T> {
    a: usize,
    b: String,
    c: *const u8,
    #[shmgen(align = 64)]
    d: T,
}

fn main() {}
