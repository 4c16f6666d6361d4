use shmgen_runtime::SharedLayout;

#[derive(SharedLayout)]
#[repr(C)]
struct ThisStructNameIsFarTooLongToFitIntoTheSixtyThreeBytesOfTheSegmentHeader {
    a: u32,
}

fn main() {}
