//! `Str<N>` (UTF-8 text in N bytes, NUL-padded) and `Bytes<N>` (raw bytes).

use crate::layout::Element;
use crate::table::Ty;

/// `str[N]`: UTF-8 text stored in `N` bytes, NUL-padded. Setting checks the length and never
/// splits a character; reading stops at the first NUL.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Str<const N: usize>(pub(crate) [u8; N]);

/// `bytes[N]`: `N` raw bytes. Derefs to `[u8; N]`.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Bytes<const N: usize>(pub [u8; N]);

// SAFETY: `Str<N>` is `repr(transparent)` over `[u8; N]`: size N, alignment 1, as `Ty::str` says.
unsafe impl<const N: usize> Element for Str<N> {
    const TY: Ty<'static> = Ty::str(N);
}

// SAFETY: `Bytes<N>` is `repr(transparent)` over `[u8; N]`: size N, alignment 1, as `Ty::bytes`.
unsafe impl<const N: usize> Element for Bytes<N> {
    const TY: Ty<'static> = Ty::bytes(N);
}
