//! The type table: a `const`-constructible description of a shared layout, and its fingerprint.
//!
//! Every path into shmgen (the TOML schema compiler, `#[derive(SharedLayout)]`, the runtime's
//! segment initialiser, the Python/C renderers) speaks this one model. The fingerprint is one
//! `const fn` over it, so all paths agree by construction.

/// Largest number of array dimensions a type may have (`[[[[T; a]; b]; c]; d]`).
pub const MAX_DIMS: usize = 4;

/// A fixed-width scalar. ctypes aliases (`c_int`, `c_long`, ...) resolve to these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prim {
    /// `u8`
    U8,
    /// `i8`
    I8,
    /// `u16`
    U16,
    /// `i16`
    I16,
    /// `u32`
    U32,
    /// `i32`
    I32,
    /// `u64`
    U64,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `bool`: one byte, 0 or 1.
    Bool,
}

impl Prim {
    /// Every scalar, in a fixed order.
    pub const ALL: [Prim; 11] = [
        Prim::U8,
        Prim::I8,
        Prim::U16,
        Prim::I16,
        Prim::U32,
        Prim::I32,
        Prim::U64,
        Prim::I64,
        Prim::F32,
        Prim::F64,
        Prim::Bool,
    ];

    /// Size in bytes (equal to the alignment on every supported target).
    pub const fn size(self) -> usize {
        match self {
            Prim::U8 | Prim::I8 | Prim::Bool => 1,
            Prim::U16 | Prim::I16 => 2,
            Prim::U32 | Prim::I32 | Prim::F32 => 4,
            Prim::U64 | Prim::I64 | Prim::F64 => 8,
        }
    }

    /// The schema (and Rust) spelling: `u8`, `f64`, `bool`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Prim::U8 => "u8",
            Prim::I8 => "i8",
            Prim::U16 => "u16",
            Prim::I16 => "i16",
            Prim::U32 => "u32",
            Prim::I32 => "i32",
            Prim::U64 => "u64",
            Prim::I64 => "i64",
            Prim::F32 => "f32",
            Prim::F64 => "f64",
            Prim::Bool => "bool",
        }
    }

    /// True for the integer types and `bool` (the types `atomic = true` accepts).
    pub const fn is_atomic_capable(self) -> bool {
        !matches!(self, Prim::F32 | Prim::F64)
    }

    /// A stable code used by the fingerprint. Never renumber.
    pub const fn code(self) -> u8 {
        match self {
            Prim::U8 => 1,
            Prim::I8 => 2,
            Prim::U16 => 3,
            Prim::I16 => 4,
            Prim::U32 => 5,
            Prim::I32 => 6,
            Prim::U64 => 7,
            Prim::I64 => 8,
            Prim::F32 => 9,
            Prim::F64 => 10,
            Prim::Bool => 11,
        }
    }
}

/// The innermost element of a value type (what remains after removing array dimensions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    /// A scalar.
    Prim(Prim),
    /// `str[N]`: UTF-8 text in N bytes, NUL-padded (`Str<N>` in Rust).
    Str(usize),
    /// `bytes[N]`: raw bytes (`Bytes<N>` in Rust).
    Bytes(usize),
    /// A nested struct.
    Struct(&'a StructLayout<'a>),
}

/// A value type: an element with zero to [`MAX_DIMS`] array dimensions, outermost first.
///
/// `[[f64; 3]; 4]` is `elem = Prim(F64), ndim = 2, dims = [4, 3, 0, 0]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ty<'a> {
    /// The innermost element.
    pub elem: Elem<'a>,
    /// How many entries of `dims` are used.
    pub ndim: u8,
    /// Array lengths, outermost first; unused entries are 0.
    pub dims: [usize; MAX_DIMS],
    /// Size of the whole value in bytes.
    pub size: usize,
    /// Alignment of the whole value in bytes.
    pub align: usize,
}

impl<'a> Ty<'a> {
    /// A scalar type.
    pub const fn prim(p: Prim) -> Ty<'static> {
        Ty {
            elem: Elem::Prim(p),
            ndim: 0,
            dims: [0; MAX_DIMS],
            size: p.size(),
            align: p.size(),
        }
    }

    /// `str[N]`.
    pub const fn str(n: usize) -> Ty<'static> {
        Ty {
            elem: Elem::Str(n),
            ndim: 0,
            dims: [0; MAX_DIMS],
            size: n,
            align: 1,
        }
    }

    /// `bytes[N]`.
    pub const fn bytes(n: usize) -> Ty<'static> {
        Ty {
            elem: Elem::Bytes(n),
            ndim: 0,
            dims: [0; MAX_DIMS],
            size: n,
            align: 1,
        }
    }

    /// A nested struct.
    pub const fn structure(s: &'a StructLayout<'a>) -> Ty<'a> {
        Ty {
            elem: Elem::Struct(s),
            ndim: 0,
            dims: [0; MAX_DIMS],
            size: s.size,
            align: s.align,
        }
    }

    /// `[self; n]`: adds an outermost dimension. Panics (at compile time, in `const` use) when
    /// the type already has [`MAX_DIMS`] dimensions or the size overflows.
    pub const fn array(self, n: usize) -> Ty<'a> {
        assert!(
            (self.ndim as usize) < MAX_DIMS,
            "shmgen: too many array dimensions"
        );
        let mut dims = [0; MAX_DIMS];
        dims[0] = n;
        let mut i = 0;
        while i < self.ndim as usize {
            dims[i + 1] = self.dims[i];
            i += 1;
        }
        let size = match self.size.checked_mul(n) {
            Some(s) => s,
            None => panic!("shmgen: array size overflows"),
        };
        Ty {
            elem: self.elem,
            ndim: self.ndim + 1,
            dims,
            size,
            align: self.align,
        }
    }

    /// The array dimensions actually used, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.ndim as usize]
    }

    /// The type of one element of the outermost dimension (`None` for a non-array).
    pub fn element(&self) -> Option<Ty<'a>> {
        if self.ndim == 0 {
            return None;
        }
        let n = self.dims[0];
        let mut dims = [0; MAX_DIMS];
        dims[..self.ndim as usize - 1].copy_from_slice(&self.dims[1..self.ndim as usize]);
        Some(Ty {
            elem: self.elem,
            ndim: self.ndim - 1,
            dims,
            size: self.size.checked_div(n).unwrap_or(0),
            align: self.align,
        })
    }

    /// The number of innermost elements (product of the dimensions; 1 for a non-array).
    pub fn count(&self) -> usize {
        self.dims().iter().product()
    }

    /// Size of the innermost element.
    pub fn elem_size(&self) -> usize {
        self.size.checked_div(self.count()).unwrap_or(0)
    }
}

/// What a field is and how it is synchronised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    /// Plain data, no synchronisation of its own.
    Plain(Ty<'a>),
    /// `atomic = true`: a std atomic of this scalar.
    Atomic(Prim),
    /// `lock = "mutex"`: `Mutex<T>`, a robust process-shared mutex in front of the value.
    Mutex(Ty<'a>),
    /// `lock = "rmutex"`: `RMutex<T>`, reentrant.
    RMutex(Ty<'a>),
    /// `lock = "seqlock"`: `SeqLock<T>`.
    SeqLock(Ty<'a>),
    /// `semaphore`: `Semaphore<INITIAL>`.
    Semaphore {
        /// The count a new segment starts with.
        initial: u32,
    },
    /// `event`: `Event`.
    Event,
    /// `ring`: `Ring<T, N>`, a bounded FIFO.
    Ring {
        /// The item type.
        item: Ty<'a>,
        /// The number of slots.
        capacity: usize,
    },
}

impl Kind<'_> {
    /// The schema's name of the lock kind or special type (`"mutex"`, `"atomic"`, `"ring"`, ...),
    /// or `"plain"`.
    pub const fn name(&self) -> &'static str {
        match self {
            Kind::Plain(_) => "plain",
            Kind::Atomic(_) => "atomic",
            Kind::Mutex(_) => "mutex",
            Kind::RMutex(_) => "rmutex",
            Kind::SeqLock(_) => "seqlock",
            Kind::Semaphore { .. } => "semaphore",
            Kind::Event => "event",
            Kind::Ring { .. } => "ring",
        }
    }

    /// True when the field is synchronised on its own (everything but `Plain`). Two such fields
    /// sharing a cache line suffer false sharing.
    pub const fn is_synchronised(&self) -> bool {
        !matches!(self, Kind::Plain(_))
    }
}

/// One field of a struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldLayout<'a> {
    /// The field's name.
    pub name: &'a str,
    /// Its documentation (`doc = "..."` or `///`); not part of the fingerprint.
    pub doc: &'a str,
    /// Byte offset from the start of the struct.
    pub offset: usize,
    /// Size of the field's slot (for `align = N` fields, padded to a multiple of N).
    pub size: usize,
    /// Alignment of the field (the natural one, or `align = N`).
    pub align: usize,
    /// What the field holds.
    pub kind: Kind<'a>,
}

/// A struct: its name, size, alignment and fields in declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructLayout<'a> {
    /// The struct's name (at most [`crate::abi::MAX_ROOT_NAME`] bytes when used as a root).
    pub name: &'a str,
    /// Its documentation; not part of the fingerprint.
    pub doc: &'a str,
    /// Size in bytes (a multiple of `align`).
    pub size: usize,
    /// Alignment in bytes.
    pub align: usize,
    /// Fields in declaration order.
    pub fields: &'a [FieldLayout<'a>],
}

impl StructLayout<'_> {
    /// The field with this name.
    pub fn field(&self, name: &str) -> Option<&FieldLayout<'_>> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A 64-bit FNV-1a hasher usable in `const` context, with a final avalanche step.
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(u64);

impl Fnv64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// A fresh hasher.
    pub const fn new() -> Self {
        Fnv64(Self::OFFSET)
    }

    /// Feeds bytes.
    pub const fn bytes(mut self, b: &[u8]) -> Self {
        let mut i = 0;
        while i < b.len() {
            self.0 ^= b[i] as u64;
            self.0 = self.0.wrapping_mul(Self::PRIME);
            i += 1;
        }
        self
    }

    /// Feeds a length-prefixed string (so `"ab","c"` and `"a","bc"` differ).
    pub const fn str(self, s: &str) -> Self {
        self.u64(s.len() as u64).bytes(s.as_bytes())
    }

    /// Feeds a `u64`, little-endian.
    pub const fn u64(self, v: u64) -> Self {
        self.bytes(&v.to_le_bytes())
    }

    /// Feeds one byte.
    pub const fn u8(self, v: u8) -> Self {
        self.bytes(&[v])
    }

    /// The hash, avalanched (splitmix64's finaliser) so nearby inputs spread.
    pub const fn finish(self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Default for Fnv64 {
    fn default() -> Self {
        Self::new()
    }
}

const fn hash_ty(h: Fnv64, ty: &Ty<'_>) -> Fnv64 {
    let mut h = match ty.elem {
        Elem::Prim(p) => h.u8(b'p').u8(p.code()),
        Elem::Str(n) => h.u8(b's').u64(n as u64),
        Elem::Bytes(n) => h.u8(b'b').u64(n as u64),
        Elem::Struct(s) => hash_struct(h.u8(b'S'), s),
    };
    h = h.u8(ty.ndim);
    let mut i = 0;
    while i < ty.ndim as usize {
        h = h.u64(ty.dims[i] as u64);
        i += 1;
    }
    h.u64(ty.size as u64).u64(ty.align as u64)
}

const fn hash_kind(h: Fnv64, kind: &Kind<'_>) -> Fnv64 {
    match kind {
        Kind::Plain(t) => hash_ty(h.u8(b'P'), t),
        Kind::Atomic(p) => h.u8(b'A').u8(p.code()),
        Kind::Mutex(t) => hash_ty(h.u8(b'M'), t),
        Kind::RMutex(t) => hash_ty(h.u8(b'R'), t),
        Kind::SeqLock(t) => hash_ty(h.u8(b'Q'), t),
        Kind::Semaphore { initial } => h.u8(b'E').u64(*initial as u64),
        Kind::Event => h.u8(b'V'),
        Kind::Ring { item, capacity } => hash_ty(h.u8(b'G').u64(*capacity as u64), item),
    }
}

const fn hash_struct(h: Fnv64, s: &StructLayout<'_>) -> Fnv64 {
    let mut h = h
        .str(s.name)
        .u64(s.size as u64)
        .u64(s.align as u64)
        .u64(s.fields.len() as u64);
    let mut i = 0;
    while i < s.fields.len() {
        let f = &s.fields[i];
        h = h
            .u8(b'F')
            .str(f.name)
            .u64(f.offset as u64)
            .u64(f.size as u64)
            .u64(f.align as u64);
        h = hash_kind(h, &f.kind);
        i += 1;
    }
    h
}

/// The layout fingerprint of SCHEMA.md §2: a 64-bit hash of every field's name, type, offset,
/// size, alignment and kind, recursively, plus the user's `version`, the header version, the
/// pointer width, the byte order and the lock ABI. Docs do not take part.
///
/// This one function is used by generated code, derived code, the schema compiler and the
/// runtime, so every path computes the same number.
pub const fn fingerprint(root: &StructLayout<'_>, version: u32) -> u64 {
    let h = Fnv64::new()
        .str("shmgen-layout")
        .u64(crate::abi::HEADER_VERSION as u64)
        .str(crate::abi::LOCK_ABI)
        .u64(usize::BITS as u64)
        .u8(if cfg!(target_endian = "little") { 1 } else { 2 })
        .u64(version as u64);
    hash_struct(h, root).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER_FIELDS: [FieldLayout<'static>; 1] = [FieldLayout {
        name: "a",
        doc: "",
        offset: 0,
        size: 4,
        align: 4,
        kind: Kind::Plain(Ty::prim(Prim::U32)),
    }];
    const INNER: StructLayout<'static> = StructLayout {
        name: "Inner",
        doc: "",
        size: 4,
        align: 4,
        fields: &INNER_FIELDS,
    };

    #[test]
    fn array_dims_are_outermost_first() {
        let t = Ty::prim(Prim::F64).array(3).array(4);
        assert_eq!(t.dims(), &[4, 3]);
        assert_eq!(t.size, 96);
        assert_eq!(t.element().unwrap().dims(), &[3]);
        assert_eq!(t.count(), 12);
        assert_eq!(t.elem_size(), 8);
    }

    #[test]
    fn fingerprint_depends_on_everything_but_docs() {
        let base = fingerprint(&INNER, 1);
        assert_ne!(base, fingerprint(&INNER, 2));
        let mut renamed = INNER_FIELDS;
        renamed[0].name = "b";
        let s = StructLayout {
            fields: &renamed,
            ..INNER
        };
        assert_ne!(base, fingerprint(&s, 1));
        let mut documented = INNER_FIELDS;
        documented[0].doc = "words";
        let s = StructLayout {
            fields: &documented,
            doc: "more words",
            ..INNER
        };
        assert_eq!(base, fingerprint(&s, 1));
        let mut atomic = INNER_FIELDS;
        atomic[0].kind = Kind::Atomic(Prim::U32);
        let s = StructLayout {
            fields: &atomic,
            ..INNER
        };
        assert_ne!(base, fingerprint(&s, 1));
    }

    #[test]
    fn fingerprint_is_const() {
        const FP: u64 = fingerprint(&INNER, 1);
        assert_eq!(FP, fingerprint(&INNER, 1));
    }
}
