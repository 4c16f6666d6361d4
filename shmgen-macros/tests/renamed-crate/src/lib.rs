//! The derive, with the runtime renamed to `shm`, in a crate that forbids unsafe code and is
//! `no_std` outside its tests (the expansion needs only `core`).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::sync::atomic::AtomicU64;

use shm::{CacheAligned, Event, Mutex, SeqLock, SharedLayout, Str};

/// A nested value type.
#[derive(SharedLayout, Clone, Copy)]
#[repr(C)]
#[shmgen(crate = "shm")]
pub struct Sample {
    /// When.
    pub at: u64,
    /// What.
    pub value: f64,
}

/// The root.
#[derive(SharedLayout)]
#[repr(C)]
#[shmgen(crate = "shm", version = 7)]
pub struct Renamed {
    /// Latest sample.
    pub latest: SeqLock<Sample>,
    /// Recent samples.
    pub history: Mutex<[Sample; 4]>,
    /// How many.
    pub count: CacheAligned<AtomicU64>,
    /// Status text.
    pub status: SeqLock<Str<16>>,
    /// Stop flag.
    pub stop: Event,
}

/// Inside a function and a module, too.
pub mod inner {
    /// The layout of a struct declared inside a function.
    pub fn local_layout() -> shm::StructLayout<'static> {
        #[derive(shm::SharedLayout)]
        #[repr(C)]
        #[shmgen(crate = "shm")]
        struct Local {
            a: u8,
            b: u32,
        }
        <Local as shm::SharedLayout>::LAYOUT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_runtime_works() {
        assert_eq!(Renamed::VERSION, 7);
        assert_eq!(Renamed::FINGERPRINT, shm::fingerprint(&Renamed::LAYOUT, 7));
        assert_eq!(Renamed::LAYOUT.fields.len(), 5);
        assert_eq!(
            Renamed::LAYOUT.fields[2].offset,
            core::mem::offset_of!(Renamed, count)
        );
        assert_eq!(Sample::LAYOUT.size, 16);
        assert_eq!(inner::local_layout().fields[1].offset, 4);
    }
}
