use shmgen_runtime::SharedLayout;
use std::collections::HashMap;

#[derive(SharedLayout)]
#[repr(C)]
struct Samples {
    values: Vec<f64>,
    by_name: HashMap<u32, u32>,
}

fn main() {}
