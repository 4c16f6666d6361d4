"""Field kinds in one process: plain values, text, bytes, arrays, numpy, atomics, locks,
seqlocks, semaphores, events, rings (layout and init only)."""

from __future__ import annotations

import ctypes
import threading
import time

import pytest

import shmgen
from pyfixture import Fixture, Point

np = pytest.importorskip  # (numpy tests import it lazily)


@pytest.fixture
def seg(seg_name: str):
    s = Fixture.create(seg_name)
    yield s
    s.close()


def test_plain_scalars_and_structs(seg) -> None:
    seg.pid = 4_000_000_000
    assert seg.pid == 4_000_000_000
    seg.origin.x = 1.5
    seg.origin.tag = 255
    assert (seg.origin.x, seg.origin.tag) == (1.5, 255)
    assert seg.root.origin.x == 1.5
    with pytest.raises(AttributeError):
        seg.hits = 3  # a view, not a value
    with pytest.raises(AttributeError):
        seg.nonexistent = 3


def test_str_field(seg) -> None:
    assert seg.label == ""
    seg.label = "héllo wörld"
    assert seg.label == "héllo wörld"
    seg.label = "x" * 16  # exactly N bytes: no NUL needed
    assert seg.label == "x" * 16
    seg.label = "ab"
    assert seg.label == "ab"
    assert bytes(seg.root)[Fixture.label.offset : Fixture.label.offset + 16] == b"ab" + b"\x00" * 14
    with pytest.raises(ValueError, match="at most 16 bytes"):
        seg.label = "é" * 9  # 18 bytes
    with pytest.raises(TypeError):
        seg.label = b"bytes"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="NUL"):
        seg.label = "a\x00b"


def test_invalid_utf8_reads_longest_valid_prefix(seg) -> None:
    off = ctypes.addressof(seg.root) + Fixture.label.offset
    ctypes.memmove(off, b"ok\xff\xfezz", 6)
    assert seg.label == "ok"


def test_bytes_field(seg) -> None:
    assert seg.blob == b"\x00" * 8
    seg.blob = b"\x01\x02\x03"
    assert seg.blob == b"\x01\x02\x03" + b"\x00" * 5
    seg.blob = bytearray(b"12345678")
    assert seg.blob == b"12345678"
    with pytest.raises(ValueError, match="at most 8 bytes"):
        seg.blob = b"123456789"


def test_arrays(seg) -> None:
    assert len(seg.samples) == 8
    seg.samples[3] = 2.5
    assert seg.samples[3] == 2.5
    assert seg.samples[:4] == [0.0, 0.0, 0.0, 2.5]
    seg.grid[1][2] = -7
    assert seg.grid.to_list() == [[0, 0, 0], [0, 0, -7]]
    assert seg.grid.dims() == (2, 3)
    seg.bits[4] = True
    assert list(seg.bits) == [False, False, False, False, True]


def test_numpy_zero_copy(seg) -> None:
    numpy = pytest.importorskip("numpy")
    a = seg.samples.as_numpy()
    assert a.dtype == numpy.float64 and a.shape == (8,)
    a[:] = numpy.arange(8)
    assert seg.samples[7] == 7.0  # same memory
    seg.samples[0] = 42.0
    assert a[0] == 42.0
    g = seg.grid.as_numpy()
    assert g.shape == (2, 3) and g.dtype == numpy.int16
    g[1, 1] = 5
    assert seg.grid[1][1] == 5
    b = seg.bits.as_numpy()
    assert b.dtype == numpy.bool_
    # The view lives in shared memory: another mapping sees it.
    other = Fixture.open(seg.name)
    assert other.samples[5] == 5.0
    with pytest.raises(TypeError, match="arrays of numbers"):
        with seg.points.lock() as pts:
            pts.as_numpy()


def test_atomics(seg) -> None:
    assert seg.hits.add(1) == 0  # returns the previous value
    assert seg.hits.add() == 1
    assert seg.hits.add(10) == 2
    assert seg.hits.load() == 12
    assert seg.hits.value == 12
    seg.hits.store(2**64 - 1)
    assert seg.hits.add(1) == 2**64 - 1
    assert seg.hits.load() == 0  # wraps like the C type
    seg.hits.add(2**40)
    assert seg.hits.load() == 2**40
    seg.hits.add(-(2**40) - 1)
    assert seg.hits.load() == 2**64 - 1
    with pytest.raises(OverflowError):
        seg.hits.store(-1)
    with pytest.raises(OverflowError):
        seg.hits.store(2**64)
    assert seg.hits.exchange(5) == 2**64 - 1
    assert seg.hits.compare_exchange(5, 6) == (True, 5)
    assert seg.hits.compare_exchange(5, 7) == (False, 6)
    assert seg.hits.sub(2) == 6 and seg.hits.load() == 4


def test_signed_and_narrow_atomics(seg) -> None:
    assert seg.delta.add(-5) == 0
    assert seg.delta.load() == -5
    seg.delta.store(2**31 - 1)
    assert seg.delta.add(1) == 2**31 - 1
    assert seg.delta.load() == -(2**31)
    with pytest.raises(OverflowError):
        seg.delta.store(2**31)
    seg.small.store(255)
    assert seg.small.add(1) == 255 and seg.small.load() == 0
    assert seg.small.compare_exchange(0, 9) == (True, 0)


def test_atomic_bool(seg) -> None:
    assert seg.flag.load() is False
    seg.flag.store(True)
    assert seg.flag.value is True
    assert seg.flag.exchange(False) is True
    assert seg.flag.compare_exchange(False, True) == (True, False)
    assert seg.flag.compare_exchange(False, True) == (False, True)


def test_atomic_threads(seg) -> None:
    def work() -> None:
        for _ in range(20000):
            seg.hits.add(1)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seg.hits.load() == 80000


def test_mutex_scalar(seg) -> None:
    with seg.counter.lock() as c:
        assert isinstance(c, ctypes.c_uint64)
        c.value += 5
    with seg.counter.lock() as c:
        assert c.value == 5
    g = seg.counter.lock()
    assert seg.counter.try_lock() is None  # busy (same thread, non-reentrant)
    g.release()
    g = seg.counter.try_lock()
    assert g is not None
    g.release()
    with pytest.raises(shmgen.ShmgenError, match="does not hold the lock"):
        g.release()


def test_mutex_struct_array_and_text(seg) -> None:
    with seg.points.lock() as pts:
        pts[1].x = 3.0
        pts[2].tag = 7
    with seg.points.lock() as pts:
        assert (pts[1].x, pts[2].tag) == (3.0, 7)
    with seg.note.lock() as note:
        assert note.value == ""
        note.value = "twelve bytes"
        with pytest.raises(ValueError):
            note.value = "thirteen byte"
    with seg.note.lock() as note:
        assert note.value == "twelve bytes"


def test_lock_timeout_and_acquire(seg) -> None:
    seg.counter.lock()
    t = time.monotonic()
    held = []

    def other() -> None:
        try:
            seg.counter.lock(timeout=0.3)
        except shmgen.LockTimeout as e:
            held.append(str(e))
        held.append(seg.counter.acquire(timeout=0.1))
        held.append(seg.counter.acquire(block=False))

    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert "timed out" in held[0] and held[1:] == [False, False]
    assert time.monotonic() - t >= 0.3
    seg.counter.release()
    assert seg.counter.acquire()
    seg.counter.release()


def test_lock_waits_for_release(seg) -> None:
    g = seg.counter.lock()
    done = []

    def other() -> None:
        with seg.counter.lock() as c:
            c.value += 1
        done.append(time.monotonic())

    th = threading.Thread(target=other)
    th.start()
    time.sleep(0.3)
    assert not done
    released = time.monotonic()
    g.release()
    th.join(5)
    assert done and done[0] - released < 0.25


def test_rmutex_is_reentrant(seg) -> None:
    with seg.items.lock() as outer:
        outer[0] = 1
        with seg.items.lock() as inner:
            inner[0] += 1
    with seg.items.lock() as v:
        assert v[0] == 2
    # Held twice by this thread: another thread must wait until both are released.
    seg.items.lock()
    seg.items.lock()
    got = []
    th = threading.Thread(target=lambda: got.append(seg.items.acquire(timeout=0.2)))
    th.start()
    th.join()
    assert got == [False]
    seg.items.release()
    th = threading.Thread(target=lambda: got.append(seg.items.acquire(timeout=0.2)))
    th.start()
    th.join()
    assert got == [False, False]
    seg.items.release()
    th = threading.Thread(target=lambda: (got.append(seg.items.acquire(timeout=1)), seg.items.release()))
    th.start()
    th.join()
    assert got == [False, False, True]


def test_seqlock(seg) -> None:
    assert seg.status.read() == ""
    assert seg.status.sequence == 0
    seg.status.write("running")
    assert seg.status.read() == "running"
    assert seg.status.sequence == 1
    with pytest.raises(ValueError):
        seg.status.write("x" * 33)
    p = Point(tag=3, x=1.0, y=2.0)
    seg.position.write(p)
    q = seg.position.read()
    assert isinstance(q, Point) and (q.tag, q.x, q.y) == (3, 1.0, 2.0)
    q.x = 99.0  # a private copy
    assert seg.position.read().x == 1.0
    with pytest.raises(TypeError):
        seg.position.write(b"\x00" * ctypes.sizeof(Point))  # type: ignore[arg-type]


def test_semaphore(seg) -> None:
    assert seg.slots.value == 2  # initial = 2
    assert seg.slots.acquire() and seg.slots.acquire()
    assert seg.slots.acquire(block=False) is False
    t = time.monotonic()
    assert seg.slots.acquire(timeout=0.2) is False
    assert time.monotonic() - t >= 0.2
    seg.slots.release()
    with seg.slots:
        assert seg.slots.value == 0
    assert seg.slots.get_value() == 1


def test_semaphore_wakes_a_waiting_thread(seg) -> None:
    seg.slots.acquire()
    seg.slots.acquire()
    got = []
    th = threading.Thread(target=lambda: got.append(seg.slots.acquire(timeout=5)))
    th.start()
    time.sleep(0.2)
    assert not got
    seg.slots.release()
    th.join(5)
    assert got == [True]


def test_event(seg) -> None:
    assert not seg.ready.is_set()
    assert seg.ready.wait(0.1) is False
    got = []
    th = threading.Thread(target=lambda: got.append(seg.ready.wait(5)))
    th.start()
    time.sleep(0.2)
    seg.ready.set()
    th.join(5)
    assert got == [True] and seg.ready.is_set() and seg.ready.wait() is True
    seg.ready.clear()
    assert not seg.ready.is_set()


def test_ring_is_initialised(seg) -> None:
    r = seg.root.queue
    assert seg.queue.capacity == 8
    assert r._capacity == 8
    assert r._slot_size == ctypes.sizeof(r._slot_type_)
    assert [r._slots[i].seq for i in range(8)] == list(range(8))
    assert (r._head, r._tail, r._closed) == (0, 0, 0)
    assert ctypes.addressof(r) % 64 == 0


def test_mutexes_are_initialised_robust_and_shared(seg) -> None:
    # glibc's pthread_mutex_t: __kind at offset 16 (x86_64 and aarch64). PTHREAD_MUTEX_ROBUST
    # adds 16 (PTHREAD_MUTEX_ROBUST_NORMAL_NP), process-shared adds 128 (PSHARED bit).
    kind = lambda m: ctypes.c_int.from_address(ctypes.addressof(m) + 16).value  # noqa: E731
    assert kind(seg.root.counter) & 0x7F == 16  # robust, NORMAL
    assert kind(seg.root.items) & 0x7F == 16 | 1  # robust, RECURSIVE
    assert kind(seg.root.counter) & 128
    writer = ctypes.c_int.from_address(ctypes.addressof(seg.root.status) + 8 + 16).value
    assert writer & 0x7F == 16


def test_struct_repr(seg) -> None:
    seg.pid = 5
    r = repr(seg.root)
    assert r.startswith("Fixture(counter=<Mutex_c_ulong>") and "pid=5" in r


def test_every_generated_module_creates_and_opens(seg_name: str) -> None:
    import importlib
    import os

    gen = os.path.join(os.path.dirname(__file__), "generated")
    for f in sorted(os.listdir(gen)):
        if not f.endswith(".py"):
            continue
        mod = importlib.import_module(f[:-3])
        root = getattr(mod, mod.ROOT)
        S = shmgen.Segment  # (fields may shadow the struct's and the segment's methods)
        s = shmgen.create(root, seg_name)
        o = shmgen.open(root, seg_name)
        assert S.header.fget(o).fingerprint == mod.FINGERPRINT
        S.close(o)
        S.unlink(s)
        S.close(s)
