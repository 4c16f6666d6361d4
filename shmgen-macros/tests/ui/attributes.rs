use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
#[shmgen(version = 1, version = 2)]
struct Duplicate {
    a: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
#[shmgen(version = -1)]
struct Negative {
    a: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
#[shmgen(version = 4294967296)]
struct TooBig {
    a: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
#[shmgen(version = "2")]
struct Quoted {
    a: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
#[shmgen(crate = shmgen_runtime)]
struct Unquoted {
    a: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
#[shmgen(crate = "not a path")]
struct BadPath {
    a: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
#[shmgen]
struct Bare {
    a: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
#[shmgen(fingerprint = 7)]
struct Unknown {
    a: u32,
}

#[derive(SharedLayout)]
#[repr(C)]
struct FieldAttr {
    #[shmgen(lock = "mutex")]
    a: u32,
}

fn main() {}
