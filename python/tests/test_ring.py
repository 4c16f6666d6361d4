"""The Python ring (``ring`` fields, shmgen.ring): semantics, item types, errors, threads,
processes, and recovery from processes killed in the middle of a put or a get.

Every blocking call has a timeout, so a broken protocol fails instead of hanging. The
cross-language tests (Rust at the other end) are in shmgen-runtime/tests/ring.rs.
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from typing import Any, Iterator, List

import pytest

import shmgen
import shmgen.ring as R
from shmgen.ring import RingClosed
from test_ring_peer import Item, check_of, make_struct

T = 30.0  # generous timeout for every blocking call
_names = itertools.count()


def ring_struct(item: Any, capacity: int, name: str = "Rings") -> Any:
    return make_struct(name, [("r", shmgen.ring_type(item, capacity)), ("flag", shmgen.AtomicU32)], fingerprint=0x5EED + capacity)


@pytest.fixture
def segname() -> Iterator[str]:
    name = "shmgen-pytest-ring-%d-%d" % (os.getpid(), next(_names))
    yield name
    try:
        shmgen.remove(name)
    except Exception:
        pass


def new(segname: str, item: Any = ctypes.c_uint64, capacity: int = 4) -> Any:
    return ring_struct(item, capacity).create(segname)


def test_fifo_wraparound_and_sizes(segname: str) -> None:
    seg = new(segname)
    r = seg.r
    assert r.capacity == 4 and r.empty() and not r.full() and r.qsize() == 0
    for rnd in range(50):
        for i in range(4):
            r.put(rnd * 10 + i)
        assert r.full() and r.qsize() == 4
        with pytest.raises(queue.Full):
            r.put_nowait(99)
        with pytest.raises(queue.Full):
            r.put(99, block=False)
        assert [r.get() for _ in range(4)] == [rnd * 10 + i for i in range(4)]
        with pytest.raises(queue.Empty):
            r.get_nowait()
    assert len(r) == 0
    # The methods work on a fresh (unbound) view of the same ring too.
    v = seg.root.r
    v.put(7)
    assert r.get(timeout=T) == 7


def test_capacity_one(segname: str) -> None:
    seg = new(segname, ctypes.c_uint32, 1)
    r = seg.r
    for i in range(100):
        r.put(i)
        with pytest.raises(queue.Full):
            r.put_nowait(0)
        assert r.get() == i
    assert seg.r._slots[0].seq == 200  # one slot: sequence numbers step by 2 (FORMAT.md)


def test_scalar_item_types(segname: str) -> None:
    S = make_struct(
        "Scalars",
        [
            ("f", shmgen.ring_type(ctypes.c_double, 3)),
            ("b", shmgen.ring_type(ctypes.c_bool, 3)),
            ("i", shmgen.ring_type(ctypes.c_int8, 3)),
            ("h", shmgen.ring_type(ctypes.c_float, 3)),
        ],
    )
    seg = S.create(segname)
    seg.f.put(1.5)
    seg.f.put(2)  # ints are accepted for float items
    assert seg.f.get() == 1.5 and seg.f.get() == 2.0
    seg.b.put(True)
    seg.b.put(0)
    assert seg.b.get() is True and seg.b.get() is False
    seg.i.put(-128)
    assert seg.i.get() == -128
    seg.h.put(0.25)
    assert seg.h.get() == 0.25


def test_struct_text_and_array_items(segname: str) -> None:
    S = make_struct(
        "Composite",
        [
            ("items", shmgen.ring_type(Item, 3)),
            ("names", shmgen.ring_type(shmgen.str_type(8), 2)),
            ("raw", shmgen.ring_type(shmgen.bytes_type(4), 2)),
            ("vecs", shmgen.ring_type(shmgen.array(ctypes.c_float, 3), 5)),
        ],
    )
    seg = S.create(segname)
    it = Item(id=5, producer=1, check=2)
    seg.items.put(it)
    seg.items.put({"id": 6, "producer": 3, "check": 4})
    a, b = seg.items.get(), seg.items.get()
    assert isinstance(a, Item) and (a.id, a.producer, a.check) == (5, 1, 2)
    assert (b.id, b.producer, b.check) == (6, 3, 4)
    a.id = 99  # a private copy
    seg.names.put("héllo")
    assert seg.names.get() == "héllo"
    with pytest.raises(ValueError):
        seg.names.put("far too long")
    seg.names.put("ok")  # the ring is still usable
    assert seg.names.get() == "ok"
    seg.raw.put(b"\x01\x02")
    assert seg.raw.get() == b"\x01\x02\x00\x00"
    seg.vecs.put([1.0, 2.0, 3.0])
    v = seg.vecs.get()
    assert list(v) == [1.0, 2.0, 3.0]


def test_bad_item_gives_the_slot_up(segname: str) -> None:
    seg = new(segname, ctypes.c_uint8, 2)
    r = seg.r
    r.put(1)
    with pytest.raises((ValueError, OverflowError, TypeError)):
        r.put(300)  # fails after the slot was claimed: the position is given up
    with pytest.raises(TypeError):
        r.put("x", timeout=T)  # the ring is full: fails before waiting
    assert r.get(timeout=T) == 1
    with pytest.raises(TypeError):
        r.put("x")  # fails after claiming: given up too
    r.put(2)
    assert r.get(timeout=T) == 2
    with pytest.raises(queue.Empty):
        r.get_nowait()


def test_timeouts(segname: str) -> None:
    r = new(segname).r
    t = time.monotonic()
    with pytest.raises(queue.Empty):
        r.get(timeout=0.05)
    assert time.monotonic() - t >= 0.05
    for i in range(4):
        r.put(i)
    t = time.monotonic()
    with pytest.raises(queue.Full):
        r.put(9, timeout=0.05)
    assert time.monotonic() - t >= 0.05


def test_close(segname: str) -> None:
    seg = new(segname)
    r = seg.r
    r.put(1)
    r.put(2)
    assert not r.closed
    r.close()
    assert r.closed and seg.root.r.closed
    with pytest.raises(RingClosed):
        r.put(3)
    with pytest.raises(ValueError):  # RingClosed is a ValueError, like a closed mp.Queue
        r.put_nowait(3)
    assert r.get(timeout=T) == 1
    assert r.get_nowait() == 2
    with pytest.raises(RingClosed):
        r.get(timeout=T)
    with pytest.raises(RingClosed):
        r.get_nowait()
    with pytest.raises(RingClosed):
        r.put_many([1, 2])


def test_close_wakes_a_blocked_get(segname: str) -> None:
    r = new(segname).r
    out: List[Any] = []

    def waiter() -> None:
        try:
            r.get(timeout=T)
        except RingClosed as e:
            out.append(e)

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.1)
    t = time.monotonic()
    r.close()
    th.join(T)
    assert out and time.monotonic() - t < 5


def test_put_many_get_many(segname: str) -> None:
    r = new(segname, capacity=8).r
    got: List[int] = []

    def consumer() -> None:
        while True:
            try:
                got.extend(r.get_many(5, timeout=T))
            except RingClosed:
                return

    th = threading.Thread(target=consumer)
    th.start()
    for k in range(0, 1000, 37):
        assert r.put_many(list(range(k, min(k + 37, 1000)))) == min(37, 1000 - k)
    r.close()
    th.join(T)
    assert got == list(range(1000))


def test_threads_mpmc(segname: str) -> None:
    r = new(segname, capacity=4).r
    per, producers = 3000, 3
    results: List[List[int]] = [[] for _ in range(3)]

    def prod(me: int) -> None:
        for i in range(per):
            r.put(me * per + i, timeout=T)

    def cons(k: int) -> None:
        while True:
            try:
                results[k].append(r.get(timeout=T))
            except RingClosed:
                return

    cs = [threading.Thread(target=cons, args=(k,)) for k in range(3)]
    ps = [threading.Thread(target=prod, args=(i,)) for i in range(producers)]
    for t in cs + ps:
        t.start()
    for t in ps:
        t.join(T)
    r.close()
    for t in cs:
        t.join(T)
    allv = sorted(itertools.chain.from_iterable(results))
    assert allv == list(range(per * producers))
    for res in results:  # each consumer sees each producer's items in order
        for me in range(producers):
            mine = [v for v in res if v // per == me]
            assert mine == sorted(mine)


def _mp_producer(segname: str, me: int, per: int) -> None:
    seg = ring_struct(Item, 16).open(segname)
    it = Item()
    for ident in range(me * per, (me + 1) * per):
        it.id, it.producer, it.check = ident, me, check_of(ident, me)
        seg.r.put(it, timeout=T)


def _mp_consumer(segname: str, out: Any) -> None:
    seg = ring_struct(Item, 16).open(segname)
    got = []
    while True:
        try:
            it = seg.r.get(timeout=T)
        except RingClosed:
            break
        assert it.check == check_of(it.id, it.producer)
        got.append(it.id)
    out.put(got)


def test_processes_mpmc_multiset(segname: str) -> None:
    ring_struct(Item, 16).create(segname)
    seg = ring_struct(Item, 16).open(segname)
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    per = 5000
    cs = [ctx.Process(target=_mp_consumer, args=(segname, out)) for _ in range(2)]
    ps = [ctx.Process(target=_mp_producer, args=(segname, i, per)) for i in range(2)]
    for p in cs + ps:
        p.start()
    for p in ps:
        p.join(T * 4)
        assert p.exitcode == 0
    seg.r.close()
    got = [out.get(timeout=T) for _ in cs]
    for p in cs:
        p.join(T)
        assert p.exitcode == 0
    allv = sorted(itertools.chain.from_iterable(got))
    assert allv == list(range(2 * per))


def _victim(segname: str, pop: bool, advance: bool, capacity: int) -> None:
    seg = ring_struct(ctypes.c_uint64, capacity).open(segname)
    p = R._claim_and_abandon(seg.root.r, pop, advance)
    seg.flag.store(1 if p is not None else 2)
    time.sleep(600)


def _kill_mid_operation(seg: Any, segname: str, pop: bool, advance: bool, capacity: int) -> None:
    seg.flag.store(0)
    ctx = mp.get_context("fork")
    p = ctx.Process(target=_victim, args=(segname, pop, advance, capacity))
    p.start()
    deadline = time.monotonic() + T
    while seg.flag.load() == 0:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert seg.flag.load() == 1, "the victim could not claim"
    os.kill(p.pid, signal.SIGKILL)
    # Not joined yet: a zombie still "exists" for kill(); the ring must see through that.
    time.sleep(0.05)
    return p  # type: ignore[return-value]


@pytest.mark.parametrize("advance", [False, True])
def test_producer_killed_mid_put(segname: str, advance: bool) -> None:
    seg = new(segname, capacity=4)
    r = seg.r
    r.put(100)
    victim = _kill_mid_operation(seg, segname, pop=False, advance=advance, capacity=4)
    got = []
    for i in range(12):
        r.put(200 + i, timeout=T)
        got.append(r.get(timeout=T))
    assert got == [100] + list(range(200, 211))
    assert r.get(timeout=T) == 211
    victim.join(T)


@pytest.mark.parametrize("advance", [False, True])
def test_consumer_killed_mid_get(segname: str, advance: bool) -> None:
    seg = new(segname, capacity=4)
    r = seg.r
    for i in range(4):
        r.put(i)
    victim = _kill_mid_operation(seg, segname, pop=True, advance=advance, capacity=4)
    assert [r.get(timeout=T) for _ in range(3)] == [1, 2, 3]  # item 0 died with the victim
    for i in range(4, 12):
        r.put(i, timeout=T)  # needs the victim's slot: repaired
        assert r.get(timeout=T) == i
    victim.join(T)


def test_corrupt_metadata_is_reported(segname: str) -> None:
    seg = new(segname)
    ctypes.c_uint64.from_address(ctypes.addressof(seg.root.r) + 128).value = 5
    with pytest.raises(shmgen.LayoutError):
        seg.root.r.put(1)


def test_ring_views_do_not_pickle(segname: str) -> None:
    import pickle

    seg = new(segname)
    with pytest.raises(TypeError):
        pickle.dumps(seg.r)


def test_interrupt_right_after_the_claim(segname: str, monkeypatch: Any) -> None:
    """A KeyboardInterrupt delivered just after the claiming CAS returned: the claim is given
    up, not left behind with this (live) thread's id in it."""
    real = R._gcas
    calls = {"n": 0}

    def interrupted(*args: Any) -> Any:
        r = real(*args)
        calls["n"] += 1
        if calls["n"] in (2, 5):  # claims of: put(1), put(2)!, get, put(3), get!
            raise KeyboardInterrupt
        return r

    monkeypatch.setattr(R, "_gcas", interrupted)
    seg = new(segname, capacity=4)  # bound now, with the patched CAS
    r = seg.r
    r.put(1)
    with pytest.raises(KeyboardInterrupt):
        r.put(2)  # claimed, interrupted: position given up
    assert r.get(timeout=T) == 1
    r.put(3)
    with pytest.raises(KeyboardInterrupt):
        r.get(timeout=T)  # claimed item 3, interrupted: the item is lost
    for i in range(10):  # every slot goes round again: nothing is left claimed
        r.put(10 + i, timeout=T)
        assert r.get(timeout=T) == 10 + i
    busy = [s.seq for s in seg.r._slots if s.seq & R.BUSY]
    assert busy == []


def test_get_discards_a_copy_whose_slot_was_taken(segname: str, monkeypatch: Any) -> None:
    """Copy, then commit (FORMAT.md, *Pop*): another consumer takes the item between our copy
    and our CAS; our CAS fails, the copy is dropped and the next item is returned."""
    real = R._gcas
    steal: List[int] = []

    def racing(size: int, obj: Any, expected: Any, desired: Any, s: int, f: int) -> Any:
        if steal:
            steal.pop()
            # The other consumer's CAS, full(p) -> free(p + N), lands first.
            assert real(size, obj, bytes(expected), bytes(desired), s, f)
        return real(size, obj, expected, desired, s, f)

    monkeypatch.setattr(R, "_gcas", racing)
    seg = new(segname, capacity=4)  # bound now, with the patched CAS
    r = seg.r
    for i in range(3):
        r.put(i)
    steal.append(1)
    assert r.get(timeout=T) == 1  # item 0 went to the other consumer
    assert r.get(timeout=T) == 2
    assert r.empty()
    for i in range(8):  # slot 0 goes round again normally
        r.put(10 + i, timeout=T)
        assert r.get(timeout=T) == 10 + i


@pytest.mark.parametrize("start", [0, 0xFFFF, 0x10000, (1 << 30) - 2, (1 << 31) + 0x12345])
def test_push_claims_with_the_format_busy_word(segname: str, monkeypatch: Any, start: int) -> None:
    """The busy word a put's CAS writes is FORMAT.md's BUSY(push, p, tid), for positions whose
    30-bit field wraps too."""
    real = R._gcas
    seen: List[int] = []

    def recording(size: int, obj: Any, expected: Any, desired: Any, s: int, f: int) -> Any:
        seen.append(int.from_bytes(bytes(desired), sys.byteorder))
        return real(size, obj, expected, desired, s, f)

    monkeypatch.setattr(R, "_gcas", recording)
    seg = new(segname, capacity=4)
    r = seg.r
    # Move the ring to position `start` (as if `start` items had gone through).
    q = memoryview(r).cast("B").cast("Q")
    first = type(r)._slots.offset // 8
    step = type(r)._slot_size_ // 8
    q[0] = q[8] = start
    for i in range(4):
        p = start + (i - start) % 4  # the position that uses slot i next
        q[first + i * step] = p
    for k in range(3):
        r.put(k)
    tid = threading.get_native_id()
    assert seen == [R.BUSY | ((start + k) & R.POS_MASK) << 32 | tid for k in range(3)]
    assert [r.get(timeout=T) for _ in range(3)] == [0, 1, 2]


def test_garbage_sequence_numbers_only_block(segname: str) -> None:
    """A ring whose slots were scribbled over does not hang or crash: operations block and
    their timeouts apply."""
    seg = new(segname, capacity=4)
    for s in seg.r._slots:
        s.seq = 1 << 40  # "a much later lap" everywhere
    t = time.monotonic()
    with pytest.raises(queue.Full):
        seg.r.put(1, timeout=0.05)
    with pytest.raises(queue.Empty):
        seg.r.get(timeout=0.05)
    with pytest.raises(queue.Empty):
        seg.r.get_nowait()
    assert time.monotonic() - t < 20
