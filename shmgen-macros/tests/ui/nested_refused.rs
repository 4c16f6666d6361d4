use shmgen_runtime::{Mutex, Ring, SeqLock, SharedLayout};

#[derive(SharedLayout)]
#[repr(C)]
struct Queues {
    names: Mutex<Vec<u8>>,
    best: SeqLock<Option<u64>>,
    lens: [[usize; 4]; 2],
    pending: Ring<char, 8>,
}

fn main() {}
