// A field type that implements `Field` but is not `Sync` (here a hand-made one) is refused.
use shmgen_runtime::{Field, Kind, Prim, SharedLayout};
use std::cell::UnsafeCell;

pub struct Racy(UnsafeCell<u32>);

// SAFETY: `Racy` is four bytes, like an atomic u32 (a deliberately wrong type for this test).
unsafe impl Field for Racy {
    const KIND: Kind<'static> = Kind::Atomic(Prim::U32);
}

#[derive(SharedLayout)]
#[repr(C)]
struct Unsound {
    counter: Racy,
}

fn main() {}
