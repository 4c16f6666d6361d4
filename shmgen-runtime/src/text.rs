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

/// [`Str::set`] was given text longer than the field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("text of {len} bytes does not fit a str[{capacity}] field")]
pub struct StrTooLong {
    /// Length of the text, in UTF-8 bytes.
    pub len: usize,
    /// The field's capacity `N`.
    pub capacity: usize,
}

impl<const N: usize> Str<N> {
    /// The capacity in bytes.
    pub const CAPACITY: usize = N;

    /// An empty string (all NUL).
    pub const fn new() -> Self {
        Str([0; N])
    }

    /// `s` as a `Str<N>`; [`StrTooLong`] when it has more than `N` bytes.
    pub fn try_from_str(s: &str) -> Result<Self, StrTooLong> {
        let mut v = Self::new();
        v.set(s)?;
        Ok(v)
    }

    /// `s` cut to at most `N` bytes at a character boundary.
    pub fn from_truncated(s: &str) -> Self {
        let mut v = Self::new();
        v.set_truncated(s);
        v
    }

    /// The text: the bytes up to the first NUL (or all `N`). If they are not valid UTF-8 (a
    /// foreign or hostile writer), the longest valid prefix.
    pub fn as_str(&self) -> &str {
        let bytes = self.as_bytes();
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            // `valid_up_to` is a char boundary of a valid prefix, so this cannot fail; the
            // fallback keeps the function panic-free anyway.
            Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        }
    }

    /// The stored bytes up to the first NUL (or all `N`), as written (not checked for UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(N);
        &self.0[..end]
    }

    /// All `N` bytes, NUL padding included.
    pub fn as_raw_bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// Stores `s` and NUL-pads the rest; [`StrTooLong`] (and no change) when `s` has more than
    /// `N` bytes. A NUL inside `s` ends the text for readers.
    pub fn set(&mut self, s: &str) -> Result<(), StrTooLong> {
        if s.len() > N {
            return Err(StrTooLong {
                len: s.len(),
                capacity: N,
            });
        }
        self.0[..s.len()].copy_from_slice(s.as_bytes());
        self.0[s.len()..].fill(0);
        Ok(())
    }

    /// Stores as much of `s` as fits in `N` bytes, cut at a character boundary, and NUL-pads
    /// the rest.
    pub fn set_truncated(&mut self, s: &str) {
        let mut end = s.len().min(N);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.0[..end].copy_from_slice(&s.as_bytes()[..end]);
        self.0[end..].fill(0);
    }

    /// Length of the text in bytes (up to the first NUL).
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.first().map_or(true, |&b| b == 0)
    }
}

impl<const N: usize> Default for Str<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Display for Str<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> core::fmt::Debug for Str<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> TryFrom<&str> for Str<N> {
    type Error = StrTooLong;
    fn try_from(s: &str) -> Result<Self, StrTooLong> {
        Self::try_from_str(s)
    }
}

impl<const N: usize> PartialEq<str> for Str<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> PartialEq<&str> for Str<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> AsRef<str> for Str<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> Bytes<N> {
    /// All zeros.
    pub const fn new() -> Self {
        Bytes([0; N])
    }
}

impl<const N: usize> Default for Bytes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> From<[u8; N]> for Bytes<N> {
    fn from(b: [u8; N]) -> Self {
        Bytes(b)
    }
}

impl<const N: usize> From<Bytes<N>> for [u8; N] {
    fn from(b: Bytes<N>) -> Self {
        b.0
    }
}

impl<const N: usize> core::ops::Deref for Bytes<N> {
    type Target = [u8; N];
    fn deref(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> core::ops::DerefMut for Bytes<N> {
    fn deref_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> AsRef<[u8]> for Bytes<N> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: usize> AsMut<[u8]> for Bytes<N> {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_roundtrip_and_limits() {
        let mut s = Str::<8>::new();
        assert!(s.is_empty());
        s.set("running").unwrap();
        assert_eq!(s.as_str(), "running");
        assert_eq!(s, "running");
        assert_eq!(s.len(), 7);
        assert_eq!(
            s.set("too long!"),
            Err(StrTooLong {
                len: 9,
                capacity: 8
            })
        );
        assert_eq!(s.as_str(), "running", "a failed set changes nothing");
        s.set("12345678").unwrap();
        assert_eq!(s.as_str(), "12345678");
        s.set("ab").unwrap();
        assert_eq!(s.as_raw_bytes(), b"ab\0\0\0\0\0\0");
        assert_eq!(format!("{s}/{s:?}"), "ab/\"ab\"");
    }

    #[test]
    fn str_truncates_at_char_boundary() {
        let mut s = Str::<5>::new();
        s.set_truncated("héllo"); // h, é (2 bytes), l, l = 5 bytes
        assert_eq!(s.as_str(), "héll");
        s.set_truncated("ééé"); // 6 bytes: only two é fit
        assert_eq!(s.as_str(), "éé");
        assert_eq!(s.as_raw_bytes()[4], 0);
        s.set_truncated("日本"); // 3 + 3 bytes: only one fits
        assert_eq!(s.as_str(), "日");
    }

    #[test]
    fn str_survives_invalid_utf8() {
        let s = Str::<6>([b'o', b'k', 0xE6, 0x97, b'x', 0xFF]);
        assert_eq!(s.as_str(), "ok");
        let s = Str::<3>([0xFF, 0, 0]);
        assert_eq!(s.as_str(), "");
        let s = Str::<0>([]);
        assert_eq!(s.as_str(), "");
        assert!(s.is_empty());
    }

    #[test]
    fn bytes_basics() {
        let mut b: Bytes<40> = Default::default();
        b[3] = 7;
        assert_eq!(b.len(), 40);
        let a: [u8; 40] = b.into();
        assert_eq!(a[3], 7);
        assert_eq!(Bytes::from([1u8, 2]).as_ref(), &[1, 2]);
    }
}
