//! The binary contract: header constants and the internal layout of every primitive.
//!
//! `docs/FORMAT.md` describes the same bytes in prose for other languages. The schema
//! compiler's layout module (`shmgen_codegen::layout`) composes structs from these formulas;
//! the runtime's own types are checked against them by tests and by the `const` assertions in
//! generated code. Keep this file and FORMAT.md in step.

/// The first 8 bytes of every shmgen segment.
pub const MAGIC: [u8; 8] = *b"SHMGEN\0\x01";
/// The version of the segment header format.
pub const HEADER_VERSION: u32 = 1;
/// Size of the segment header in bytes. The payload starts at `round_up(HEADER_SIZE, root align)`.
pub const HEADER_SIZE: usize = 128;
/// Longest root struct name the header can hold (it is stored NUL-padded in 64 bytes).
pub const MAX_ROOT_NAME: usize = 63;
/// Names the lock ABI; part of the fingerprint. Change it whenever a primitive's bytes change.
pub const LOCK_ABI: &str = "glibc-pthread-robust-48;futex-u32;seqlock-2copy;ring-vyukov-192";

/// Header state: the creator is still building the segment.
pub const STATE_INITIALISING: u32 = 0;
/// Header state: the segment is fully built and may be used.
pub const STATE_READY: u32 = 1;

/// Bytes reserved for a `pthread_mutex_t` (40 on x86_64 glibc, 48 on aarch64 glibc): the larger,
/// so layouts are the same on both targets.
pub const RAW_MUTEX_SIZE: usize = 48;
/// Alignment of the reserved mutex bytes.
pub const RAW_MUTEX_ALIGN: usize = 8;

/// Size of `Semaphore` (a `u32` count and a `u32` waiter count).
pub const SEMAPHORE_SIZE: usize = 8;
/// Alignment of `Semaphore`.
pub const SEMAPHORE_ALIGN: usize = 4;
/// Size of `Event` (a `u32` state and a `u32` waiter count).
pub const EVENT_SIZE: usize = 8;
/// Alignment of `Event`.
pub const EVENT_ALIGN: usize = 4;

/// A cache line, as far as layout and the false-sharing lint are concerned.
pub const CACHE_LINE: usize = 64;
/// Size of a ring's control block (consumer line, producer line, metadata line) before its slots.
pub const RING_HEADER_SIZE: usize = 3 * CACHE_LINE;
/// Alignment of a ring.
pub const RING_ALIGN: usize = CACHE_LINE;

/// The largest `align = N` accepted (one page).
pub const MAX_ALIGN: usize = 4096;

/// Rounds `n` up to a multiple of `align` (a power of two). `None` on overflow.
pub const fn round_up(n: usize, align: usize) -> Option<usize> {
    match n.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Where the parts of a composite primitive sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Composite {
    /// Offset of the (first copy of the) value, or of the first slot for a ring.
    pub value_offset: usize,
    /// Distance between consecutive value copies / ring slots.
    pub stride: usize,
    /// Total size.
    pub size: usize,
    /// Alignment.
    pub align: usize,
}

/// `Mutex<T>` and `RMutex<T>`: `{ pthread_mutex_t (48 bytes), T }`, repr(C).
pub const fn mutex_layout(inner_size: usize, inner_align: usize) -> Option<Composite> {
    let align = max(RAW_MUTEX_ALIGN, inner_align);
    let value_offset = match round_up(RAW_MUTEX_SIZE, inner_align) {
        Some(v) => v,
        None => return None,
    };
    let end = match value_offset.checked_add(inner_size) {
        Some(v) => v,
        None => return None,
    };
    match round_up(end, align) {
        Some(size) => Some(Composite {
            value_offset,
            stride: inner_size,
            size,
            align,
        }),
        None => None,
    }
}

/// `SeqLock<T>`: `{ u64 sequence, pthread_mutex_t writer lock (48), [T; 2] }`, repr(C).
pub const fn seqlock_layout(inner_size: usize, inner_align: usize) -> Option<Composite> {
    let align = max(8, inner_align);
    let value_offset = match round_up(8 + RAW_MUTEX_SIZE, inner_align) {
        Some(v) => v,
        None => return None,
    };
    let copies = match inner_size.checked_mul(2) {
        Some(v) => v,
        None => return None,
    };
    let end = match value_offset.checked_add(copies) {
        Some(v) => v,
        None => return None,
    };
    match round_up(end, align) {
        Some(size) => Some(Composite {
            value_offset,
            stride: inner_size,
            size,
            align,
        }),
        None => None,
    }
}

/// One ring slot: `{ u64 sequence, T item }`, repr(C).
pub const fn ring_slot_layout(item_size: usize, item_align: usize) -> Option<Composite> {
    let align = max(8, item_align);
    let value_offset = match round_up(8, item_align) {
        Some(v) => v,
        None => return None,
    };
    let end = match value_offset.checked_add(item_size) {
        Some(v) => v,
        None => return None,
    };
    match round_up(end, align) {
        Some(size) => Some(Composite {
            value_offset,
            stride: size,
            size,
            align,
        }),
        None => None,
    }
}

/// `Ring<T, N>`: a 192-byte control block, then `N` slots; aligned to a cache line.
/// `value_offset` is the first slot's offset and `stride` the slot size.
pub const fn ring_layout(
    item_size: usize,
    item_align: usize,
    capacity: usize,
) -> Option<Composite> {
    let slot = match ring_slot_layout(item_size, item_align) {
        Some(s) => s,
        None => return None,
    };
    let align = max(RING_ALIGN, slot.align);
    let value_offset = match round_up(RING_HEADER_SIZE, slot.align) {
        Some(v) => v,
        None => return None,
    };
    let slots = match slot.size.checked_mul(capacity) {
        Some(v) => v,
        None => return None,
    };
    let end = match value_offset.checked_add(slots) {
        Some(v) => v,
        None => return None,
    };
    match round_up(end, align) {
        Some(size) => Some(Composite {
            value_offset,
            stride: slot.size,
            size,
            align,
        }),
        None => None,
    }
}

/// A field with `align = N`: starts on a multiple of N and its slot is padded to a multiple of N.
/// Returns `(slot size, alignment)`.
pub const fn aligned_slot(
    inner_size: usize,
    inner_align: usize,
    n: usize,
) -> Option<(usize, usize)> {
    let align = max(n, inner_align);
    match round_up(inner_size, align) {
        Some(size) => Some((size, align)),
        None => None,
    }
}

/// Offset of the payload (the root struct) from the start of the segment.
pub const fn payload_offset(root_align: usize) -> usize {
    match round_up(HEADER_SIZE, root_align) {
        Some(v) => v,
        None => HEADER_SIZE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas() {
        assert_eq!(mutex_layout(8, 8).unwrap().size, 56);
        assert_eq!(mutex_layout(1, 1).unwrap().size, 56);
        assert_eq!(mutex_layout(64, 64).unwrap().value_offset, 64);
        assert_eq!(seqlock_layout(32, 1).unwrap().size, 56 + 64);
        assert_eq!(ring_slot_layout(8, 8).unwrap().size, 16);
        assert_eq!(ring_layout(8, 8, 4).unwrap().size, 192 + 64);
        assert_eq!(aligned_slot(8, 8, 64), Some((64, 64)));
        assert_eq!(payload_offset(8), 128);
        assert_eq!(payload_offset(4096), 4096);
        assert!(mutex_layout(usize::MAX - 8, 8).is_none());
    }
}

#[cfg(test)]
mod type_tests {
    use super::*;
    use crate::{Event, Mutex, RMutex, Ring, Semaphore, SeqLock, Str};
    use core::mem::{align_of, size_of};

    fn check_mutex<T>() {
        let c = mutex_layout(size_of::<T>(), align_of::<T>()).unwrap();
        assert_eq!(c.size, size_of::<Mutex<T>>());
        assert_eq!(c.align, align_of::<Mutex<T>>());
        assert_eq!(c.value_offset, core::mem::offset_of!(Mutex<T>, value));
        assert_eq!(c.size, size_of::<RMutex<T>>());
        assert_eq!(c.value_offset, core::mem::offset_of!(RMutex<T>, value));
    }

    #[test]
    fn mutex_layouts_match() {
        // glibc's pthread_mutex_t must fit the reserved bytes.
        assert!(size_of::<libc::pthread_mutex_t>() <= RAW_MUTEX_SIZE);
        assert!(align_of::<libc::pthread_mutex_t>() <= RAW_MUTEX_ALIGN);
        check_mutex::<u8>();
        check_mutex::<u64>();
        check_mutex::<[u32; 3]>();
        check_mutex::<Str<5>>();
        check_mutex::<crate::CacheAligned<u8>>();
    }

    fn check_seqlock<T>() {
        let c = seqlock_layout(size_of::<T>(), align_of::<T>()).unwrap();
        assert_eq!(c.size, size_of::<SeqLock<T>>());
        assert_eq!(c.align, align_of::<SeqLock<T>>());
        assert_eq!(c.value_offset, core::mem::offset_of!(SeqLock<T>, slots));
    }

    #[test]
    fn seqlock_layouts_match() {
        check_seqlock::<u8>();
        check_seqlock::<u64>();
        check_seqlock::<Str<32>>();
        check_seqlock::<[u16; 7]>();
    }

    fn check_ring<T, const N: usize>() {
        let c = ring_layout(size_of::<T>(), align_of::<T>(), N).unwrap();
        assert_eq!(c.size, size_of::<Ring<T, N>>());
        assert_eq!(c.align, align_of::<Ring<T, N>>());
        assert_eq!(c.value_offset, core::mem::offset_of!(Ring<T, N>, slots));
        assert_eq!(c.stride, size_of::<crate::ring::RingSlot<T>>(), "slot size");
    }

    #[test]
    fn ring_layouts_match() {
        check_ring::<u64, 1024>();
        check_ring::<u8, 3>();
        check_ring::<[u8; 64], 16>();
        check_ring::<crate::Align128<u8>, 2>();
    }

    #[test]
    fn small_primitives_match() {
        assert_eq!(size_of::<Semaphore>(), SEMAPHORE_SIZE);
        assert_eq!(align_of::<Semaphore<3>>(), SEMAPHORE_ALIGN);
        assert_eq!(size_of::<Event>(), EVENT_SIZE);
        assert_eq!(align_of::<Event>(), EVENT_ALIGN);
        assert_eq!(
            aligned_slot(8, 8, 64),
            Some((size_of::<crate::CacheAligned<u64>>(), 64))
        );
        assert_eq!(
            aligned_slot(3, 1, 4),
            Some((size_of::<crate::Align4<[u8; 3]>>(), 4))
        );
    }
}
