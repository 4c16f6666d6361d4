//! Alignment wrappers for `align = N` fields: `CacheAligned<T>` (= `align = 64`) and `AlignN<T>`.
//!
//! Each wrapper is `#[repr(C, align(N))]` around `T`, so the field starts on a multiple of N and
//! its slot is padded to a multiple of N. They deref to `T`, so `m.counter.fetch_add(..)` works
//! on a `CacheAligned<AtomicU64>`.

use crate::layout::Field;
use crate::table::Kind;

macro_rules! aligned {
    ($($(#[$doc:meta])* $name:ident = $n:literal;)*) => {$(
        $(#[$doc])*
        #[repr(C, align($n))]
        #[derive(Default, Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name<T>(pub T);

        impl<T> core::ops::Deref for $name<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T> core::ops::DerefMut for $name<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }

        // SAFETY: the wrapper has `T`'s bytes at offset 0, followed by padding; the field's
        // size and alignment in the table come from rustc (`size_of`/`align_of` of the wrapper)
        // or from `abi::aligned_slot`, which computes the same.
        unsafe impl<T: Field> Field for $name<T> {
            const KIND: Kind<'static> = T::KIND;
        }
    )*};
}

aligned! {
    /// `align = 2`.
    Align2 = 2;
    /// `align = 4`.
    Align4 = 4;
    /// `align = 8`.
    Align8 = 8;
    /// `align = 16`.
    Align16 = 16;
    /// `align = 32`.
    Align32 = 32;
    /// `align = 64`: the field has its own cache line(s); nothing else shares them.
    CacheAligned = 64;
    /// `align = 128` (two cache lines: also defeats the adjacent-line prefetcher).
    Align128 = 128;
    /// `align = 256`.
    Align256 = 256;
    /// `align = 512`.
    Align512 = 512;
    /// `align = 1024`.
    Align1024 = 1024;
    /// `align = 2048`.
    Align2048 = 2048;
    /// `align = 4096`: a page of its own.
    Align4096 = 4096;
}

/// `align = 64` under its numeric name.
pub type Align64<T> = CacheAligned<T>;
/// `align = 1` (a no-op, accepted for regularity).
pub type Align1<T> = T;
