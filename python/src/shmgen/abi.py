"""The byte contract of docs/FORMAT.md: header constants, the header struct and the layout
formulas of the primitives (mirroring ``shmgen_runtime::abi``; keep the three in step)."""

from __future__ import annotations

import ctypes
from typing import NamedTuple, Optional

MAGIC = b"SHMGEN\x00\x01"
HEADER_VERSION = 1
HEADER_SIZE = 128
MAX_ROOT_NAME = 63
#: Names the lock ABI; part of every fingerprint (generated modules check it at import).
LOCK_ABI = "glibc-pthread-robust-48;futex-u32;seqlock-2copy;ring-vyukov-192"

STATE_INITIALISING = 0
STATE_READY = 1

RAW_MUTEX_SIZE = 48
RAW_MUTEX_ALIGN = 8
SEMAPHORE_SIZE = 8
SEMAPHORE_ALIGN = 4
EVENT_SIZE = 8
EVENT_ALIGN = 4
CACHE_LINE = 64
RING_HEADER_SIZE = 3 * CACHE_LINE
RING_ALIGN = CACHE_LINE
PAGE_SIZE = 4096

SHM_DIR = "/dev/shm"
MAX_NAME_LEN = 200


def round_up(n: int, align: int) -> int:
    """Rounds ``n`` up to a multiple of ``align`` (a power of two)."""
    return (n + align - 1) & ~(align - 1)


class Composite(NamedTuple):
    """Where the parts of a composite primitive sit (``abi::Composite``)."""

    value_offset: int
    stride: int
    size: int
    align: int


def mutex_layout(size: int, align: int) -> Composite:
    """``Mutex<T>``/``RMutex<T>``: ``{ pthread_mutex_t (48 bytes), T }``."""
    a = max(RAW_MUTEX_ALIGN, align)
    vo = round_up(RAW_MUTEX_SIZE, align)
    return Composite(vo, size, round_up(vo + size, a), a)


def seqlock_layout(size: int, align: int) -> Composite:
    """``SeqLock<T>``: ``{ u64 seq, pthread_mutex_t writer (48), [T; 2] }``."""
    a = max(8, align)
    vo = round_up(8 + RAW_MUTEX_SIZE, align)
    return Composite(vo, size, round_up(vo + 2 * size, a), a)


def ring_slot_layout(size: int, align: int) -> Composite:
    """One ring slot: ``{ u64 seq, T item }``."""
    a = max(8, align)
    vo = round_up(8, align)
    s = round_up(vo + size, a)
    return Composite(vo, s, s, a)


def ring_layout(size: int, align: int, capacity: int) -> Composite:
    """``Ring<T, N>``: a 192-byte control block, then N slots; ``value_offset`` is the first
    slot's offset and ``stride`` the slot size."""
    slot = ring_slot_layout(size, align)
    a = max(RING_ALIGN, slot.align)
    vo = round_up(RING_HEADER_SIZE, slot.align)
    return Composite(vo, slot.size, round_up(vo + slot.size * capacity, a), a)


def payload_offset(root_align: int) -> int:
    """Offset of the root struct from the start of the segment."""
    return round_up(HEADER_SIZE, root_align)


def total_size(root_align: int, root_size: int) -> int:
    """The file size a creator sets."""
    return round_up(payload_offset(root_align) + root_size, PAGE_SIZE)


class Header(ctypes.Structure):
    """The 128-byte segment header (FORMAT.md §2)."""

    _fields_ = [
        ("magic", ctypes.c_uint8 * 8),
        ("header_version", ctypes.c_uint32),
        ("state", ctypes.c_uint32),
        ("fingerprint", ctypes.c_uint64),
        ("payload_offset", ctypes.c_uint64),
        ("payload_size", ctypes.c_uint64),
        ("total_size", ctypes.c_uint64),
        ("creator_pid", ctypes.c_uint32),
        ("layout_version", ctypes.c_uint32),
        ("created_unix_ns", ctypes.c_uint64),
        ("root_name", ctypes.c_uint8 * 64),
    ]


assert ctypes.sizeof(Header) == HEADER_SIZE
assert Header.state.offset == 12 and Header.root_name.offset == 64


def validate_name(name: object) -> Optional[str]:
    """Why ``name`` is not a valid segment name, or ``None`` when it is."""
    if not isinstance(name, str):
        return "it is not a str"
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME_LEN:
        return "it is longer than 200 characters"
    if name.startswith("."):
        return "it starts with '.'"
    for c in name:
        if not (c.isascii() and (c.isalnum() or c in "._-")):
            return "it contains %r, which is outside [A-Za-z0-9._-]" % c
    return None
