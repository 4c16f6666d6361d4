//! The traits that tie Rust types to the type table: [`SharedLayout`] for structs a segment can
//! hold, [`Element`] for value types, [`Field`] for everything a struct field may be.

use crate::table::{fingerprint, Kind, Prim, StructLayout, Ty};

/// A `#[repr(C)]` struct that can live in a shared segment. Implemented by generated code and by
/// `#[derive(SharedLayout)]`; not meant to be implemented by hand.
///
/// # Safety
/// The implementor guarantees that:
/// - `LAYOUT` describes `Self` exactly (every offset, size, alignment and kind; generated and
///   derived code assert this at compile time);
/// - every field is a scalar, a `Str`/`Bytes`, an array or struct of such, or one of the
///   runtime's shared types (`Mutex`, `RMutex`, `SeqLock`, std atomics, `Semaphore`, `Event`,
///   `Ring`, alignment wrappers), so that all-zero bytes followed by the runtime's in-place
///   initialisation of the shared types (driven by `LAYOUT`) is a valid value of `Self`;
/// - `Self` holds no pointers or references and is meaningful at any address.
pub unsafe trait SharedLayout: Sized + Sync {
    /// The type table of this struct.
    const LAYOUT: StructLayout<'static>;
    /// The user's layout version (`version = N` in a schema, `#[shmgen(version = N)]` in a derive).
    const VERSION: u32 = 1;
    /// The layout fingerprint ([`crate::table::fingerprint`] of `LAYOUT` and `VERSION`).
    const FINGERPRINT: u64 = fingerprint(&Self::LAYOUT, Self::VERSION);
}

/// A value type: may be a plain field, an array element, a lock's protected value or a ring item.
///
/// # Safety
/// `TY` describes `Self` exactly (size, alignment, element and dimensions).
pub unsafe trait Element: Sized {
    /// The value type's description.
    const TY: Ty<'static>;
}

/// Anything a field of a shared struct may be.
///
/// # Safety
/// `KIND` describes `Self` exactly, and `Self` has the bytes `docs/FORMAT.md` gives that kind.
pub unsafe trait Field: Sized {
    /// The field's kind.
    const KIND: Kind<'static>;
}

macro_rules! prim_element {
    ($($t:ty => $p:ident),* $(,)?) => {$(
        // SAFETY: a scalar's size and alignment are `Prim::size()` on every supported target
        // (64-bit Linux on x86_64 and aarch64), checked by the `prims_match` test.
        unsafe impl Element for $t {
            const TY: Ty<'static> = Ty::prim(Prim::$p);
        }
    )*};
}
prim_element!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32,
    u64 => U64, i64 => I64, f32 => F32, f64 => F64, bool => Bool);

// SAFETY: `[T; N]` is N values of T back to back; `Ty::array` multiplies the size by N and keeps
// the alignment, as rustc lays arrays out.
unsafe impl<T: Element, const N: usize> Element for [T; N] {
    const TY: Ty<'static> = T::TY.array(N);
}

// SAFETY: every `Element` is a plain field; `Kind::Plain` carries its exact `TY`.
unsafe impl<T: Element> Field for T {
    const KIND: Kind<'static> = Kind::Plain(T::TY);
}

macro_rules! atomic_field {
    ($($t:ty => $p:ident),* $(,)?) => {$(
        // SAFETY: std's atomic integers have the size and alignment of the integer on 64-bit
        // Linux (x86_64, aarch64), checked by the `atomics_match` test.
        unsafe impl Field for $t {
            const KIND: Kind<'static> = Kind::Atomic(Prim::$p);
        }
    )*};
}
use core::sync::atomic as at;
atomic_field!(at::AtomicU8 => U8, at::AtomicI8 => I8, at::AtomicU16 => U16, at::AtomicI16 => I16,
    at::AtomicU32 => U32, at::AtomicI32 => I32, at::AtomicU64 => U64, at::AtomicI64 => I64,
    at::AtomicBool => Bool);

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, size_of};

    #[test]
    fn prims_match() {
        fn check<T: Element>() {
            assert_eq!(T::TY.size, size_of::<T>());
            assert_eq!(T::TY.align, align_of::<T>());
        }
        check::<u8>();
        check::<i16>();
        check::<u32>();
        check::<f32>();
        check::<u64>();
        check::<f64>();
        check::<bool>();
        check::<[[f64; 3]; 4]>();
    }

    #[test]
    fn atomics_match() {
        fn check<T: Field>() {
            let Kind::Atomic(p) = T::KIND else {
                panic!("not atomic")
            };
            assert_eq!(p.size(), size_of::<T>());
            assert_eq!(p.size(), align_of::<T>());
        }
        check::<at::AtomicU8>();
        check::<at::AtomicI16>();
        check::<at::AtomicU32>();
        check::<at::AtomicU64>();
        check::<at::AtomicI64>();
        check::<at::AtomicBool>();
    }
}
