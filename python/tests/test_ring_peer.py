"""The Python end of the cross-language ring tests, and its layouts.

``python test_ring_peer.py ROLE SEGMENT FINGERPRINT ARGS...`` is run by the Rust test
``shmgen-runtime/tests/ring_xlang.rs`` (and by ``test_ring.py``): it opens a segment the other
side created and produces or consumes. The structs below mirror the Rust test's
``shared_struct!`` declarations field for field (the fingerprint comes from the Rust side on
the command line, since the Python runtime never recomputes fingerprints). Under pytest this
file only checks that the layouts have the sizes the Rust side computes.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from typing import Any, List, Sequence, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import shmgen  # noqa: E402
from shmgen import abi  # noqa: E402
from shmgen.ring import RingClosed  # noqa: E402


def make_struct(name: str, fields: Sequence[Tuple[str, Any]], fingerprint: int = 0, element: bool = False) -> Any:
    """A ``shmgen.Struct`` laid out by the C rules with explicit padding, as generated modules
    are."""
    out: List[Tuple[str, Any]] = []
    at = 0
    align = 1
    pads = 0
    for fname, t in fields:
        a = getattr(t, "_shmgen_align_", None) or ctypes.alignment(t)
        align = max(align, a)
        off = abi.round_up(at, a)
        if off > at:
            out.append(("_pad%d" % pads, shmgen.pad(off - at)))
            pads += 1
        out.append((fname, t))
        at = off + ctypes.sizeof(t)
    size = abi.round_up(at, align)
    if size > at:
        out.append(("_pad%d" % pads, shmgen.pad(size - at)))
    ns = {
        "_fields_": out,
        "_shmgen_schema_": "ringtest",
        "_shmgen_version_": 1,
        "_shmgen_name_": name,
        "_shmgen_size_": size,
        "_shmgen_align_": align,
        "_shmgen_fingerprint_": fingerprint,
    }
    t = type(name, (shmgen.Struct,), ns)
    assert ctypes.sizeof(t) == size, (name, ctypes.sizeof(t), size)
    return t


#: Rust: `element struct Item { id: u64, producer: u32, check: u32 }`.
Item = make_struct("Item", [("id", ctypes.c_uint64), ("producer", ctypes.c_uint32), ("check", ctypes.c_uint32)])


def pipe_struct(fingerprint: int = 0) -> Any:
    """Rust: `struct Pipe { ring: Ring<u64, 1024>, started: AtomicU32 }`."""
    return make_struct("Pipe", [("ring", shmgen.ring_type(ctypes.c_uint64, 1024)), ("started", shmgen.AtomicU32)], fingerprint)


def crowd_struct(fingerprint: int = 0) -> Any:
    """Rust: `struct Crowd { ring: Ring<Item, 16>, started: AtomicU32, producers_done: AtomicU32 }`."""
    return make_struct(
        "Crowd",
        [("ring", shmgen.ring_type(Item, 16)), ("started", shmgen.AtomicU32), ("producers_done", shmgen.AtomicU32)],
        fingerprint,
    )


def check_of(ident: int, producer: int) -> int:
    """The Rust test's `check_of`: a word that shows torn items."""
    return ((ident * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> 32 ^ producer


def ring_of(seg: Any) -> Any:
    """The ring view with its methods (``shmgen.ring.bind`` if the runtime's ``Ring`` view
    does not have them yet)."""
    r = seg.ring
    if hasattr(r, "put"):
        return r
    return shmgen.ring.bind(r)


def main(argv: List[str]) -> int:
    role, name, fp = argv[0], argv[1], int(argv[2], 0)
    args = argv[3:]
    if role == "pipe-producer":
        seg = pipe_struct(fp).open(name)
        r = ring_of(seg)
        n = int(args[0])
        seg.started.add(1)
        put = r.put
        for i in range(n):
            put(i)
        r.close()
    elif role == "pipe-consumer":
        seg = pipe_struct(fp).open(name)
        r = ring_of(seg)
        n = int(args[0])
        seg.started.add(1)
        get = r.get
        expect = 0
        while True:
            try:
                v = get(timeout=60)
            except RingClosed:
                break
            if v != expect:
                print("out of order or lost: got %d, expected %d" % (v, expect))
                return 1
            expect += 1
        if expect != n:
            print("consumed %d, expected %d" % (expect, n))
            return 1
        print("consumed %d" % expect)
    elif role == "crowd-producer":
        seg = crowd_struct(fp).open(name)
        r = ring_of(seg)
        me, per = int(args[0]), int(args[1])
        seg.started.add(1)
        first = me * per
        put = r.put
        it = Item()
        for ident in range(first, first + per):
            it.id = ident
            it.producer = me
            it.check = check_of(ident, me)
            put(it)
        seg.producers_done.add(1)
    elif role == "crowd-consumer":
        seg = crowd_struct(fp).open(name)
        r = ring_of(seg)
        out = args[0]
        seg.started.add(1)
        got = bytearray()
        last = {}
        get = r.get
        while True:
            try:
                it = get(timeout=120)
            except RingClosed:
                break
            if it.check != check_of(it.id, it.producer):
                print("torn item", it.id, it.producer, it.check)
                return 1
            l = last.get(it.producer)
            if l is not None and it.id <= l:
                print("producer %d went backwards" % it.producer)
                return 1
            last[it.producer] = it.id
            got += it.id.to_bytes(8, "little")
        with open(out, "wb") as f:
            f.write(got)
    elif role == "bench-consumer":
        # Consumes N u64 items as fast as possible; prints the elapsed time of the transfer.
        seg = pipe_struct(fp).open(name)
        r = ring_of(seg)
        n = int(args[0])
        seg.started.add(1)
        get = r.get
        t0 = time.perf_counter()
        for _ in range(n):
            get()
        print("%.6f" % (time.perf_counter() - t0))
    else:
        print("unknown role %s" % role)
        return 2
    return 0


def test_layouts_match_rust() -> None:
    # Numbers from `abi::ring_layout` (and `size_of` in the Rust test).
    assert ctypes.sizeof(Item) == 16
    assert ctypes.sizeof(pipe_struct()) == 16640
    assert ctypes.sizeof(crowd_struct()) == 640  # ring 192 + 16 * 24, then two u32, padded to 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
