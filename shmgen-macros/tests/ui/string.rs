use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct Status {
    code: u32,
    message: String,
    qualified: std::string::String,
}

fn main() {}
