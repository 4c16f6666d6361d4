"""Rings (``ring`` fields): bounded FIFOs in shared memory, like ``multiprocessing.Queue`` for
fixed-size items, shared with Rust (``shmgen_runtime::Ring``) and any other process.

This module implements exactly the protocol of docs/FORMAT.md §4 "Ring" (Vyukov's bounded MPMC
queue with per-slot sequence numbers, slots claimed by a compare-and-swap that writes a *busy
word* naming the claimer's thread, crash repair, futex eventcounts). The generated ``ring``
field's view (:class:`shmgen.Ring`) delegates its methods here::

    seg.jobs.put(42)                      # blocks while full; queue.Full after timeout=...
    x = seg.jobs.get(timeout=1.0)         # blocks while empty; queue.Empty after the timeout
    seg.jobs.close()                      # for every process: puts fail, gets drain then fail

Errors follow ``multiprocessing.Queue``: ``put(..., timeout=t)`` / ``put_nowait`` raise
``queue.Full``; ``get(timeout=t)`` / ``get_nowait`` raise ``queue.Empty``. After ``close()``
(by any process) ``put`` raises :class:`RingClosed` (a ``ValueError``, as ``put`` on a closed
``multiprocessing.Queue``); ``get`` returns what is left and then raises :class:`RingClosed`.

Items: numbers (``int``/``float``/``bool``) for scalar item types; ``str`` / ``bytes`` for
``str[N]`` / ``bytes[N]``; for struct and array item types ``get`` returns a private copy (a
ctypes instance of the item type) and ``put`` takes an instance of the item type, a ``dict`` of
field values (struct items) or a sequence (array items).

Performance: the fast path is a handful of memoryview accesses and one libatomic call (the
compare-and-swap) per operation; everything is bound once per ring view. ``get`` copies the item
out, then takes it with the compare-and-swap that frees its slot (FORMAT.md, *copy, then
commit*), so a consumer never holds a claimed slot. On x86_64 (a TSO machine) plain aligned
8-byte loads and stores through a memoryview are the acquire loads and release stores the
protocol needs; elsewhere libatomic fences are added around them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import queue
import struct
import sys
import threading
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

from . import _native as N
from .errors import LayoutError, ShmgenError

__all__ = ["RingClosed", "RingOps", "bind", "BUSY", "BUSY_POP", "MAX_CAPACITY"]

#: Bit 63 of a sequence number: the slot is claimed (a busy word).
BUSY = 1 << 63
#: Bit 62 of a busy word: claimed by a consumer (pop).
BUSY_POP = 1 << 62
#: Busy words keep the low 30 bits of the claimed position in bits 32..61.
POS_BITS = 30
POS_MASK = (1 << POS_BITS) - 1
#: The largest capacity (2^28), as in the Rust runtime.
MAX_CAPACITY = 1 << 28
_U64_MASK = (1 << 64) - 1

#: Futex sleeps are capped so that dead claimers are noticed (busy) and a waker killed between
#: publishing and waking is survived (idle).
BUSY_NAP = 0.010
IDLE_NAP = 0.100
#: Taken positions one attempt skips before reporting full/empty (only a corrupted ring gets
#: there; it keeps timeouts working).
MAX_SKIP = 1 << 16
#: Attempts before sleeping (each one re-reads the ring; Python attempts cost about a
#: microsecond), then ``sched_yield`` rounds.
SPIN_TRIES = 8
YIELD_TRIES = 4

_SC = N.SEQ_CST
_STRONG = N.STRONG_ORDERING
#: The compare-and-swap's expected and desired u64 values as bytes (native byte order).
_pack_u64 = struct.Struct("=Q").pack


#: ``block`` value that makes ``put``/``get`` one non-raising attempt (``push_once``/``pop_once``).
_ATTEMPT: Any = object()


class RingClosed(ShmgenError, ValueError):
    """The ring was closed (by any process): ``put`` after ``close()``, or ``get`` once the
    ring is closed and drained. A ``ValueError``, like using a closed
    ``multiprocessing.Queue``."""


# ---------------------------------------------------------------------------------------------
# Thread ids: busy words name the claiming thread (gettid), cached per thread, reset in forked
# children.
# ---------------------------------------------------------------------------------------------

_tls = threading.local()
_c_void_p = ctypes.c_void_p


def _tid() -> int:
    """The calling thread's kernel thread id (cached per thread; reset in forked children)."""
    try:
        return _tls.tid  # type: ignore[no-any-return]
    except AttributeError:
        _tls.tid = t = threading.get_native_id()
        return t


if sys.byteorder == "little":
    #: ``_pack_busy(tid, lo, hi)``: the bytes of the u64 ``tid | lo << 32 | hi << 48``, where
    #: ``lo = p & 0xFFFF`` and ``hi = 0x8000 | (p >> 16 & 0x3FFF)`` make ``BUSY(push, p, tid)``
    #: (FORMAT.md) from small ints only (cheaper than building the 64-bit int).
    _pack_busy = struct.Struct("<IHH").pack
else:  # pragma: no cover - no big-endian target

    def _pack_busy(tid: int, lo: int, hi: int) -> bytes:
        return _pack_u64(tid | lo << 32 | hi << 48)


# The compare-and-swap is libatomic's generic ``__atomic_compare_exchange(8, obj, &expected,
# &desired, success_order, failure_order)``, called through ctypes with arguments that ctypes
# converts without allocating: ``obj`` is a ``ctypes.byref`` object made once per slot, and
# ``&expected`` / ``&desired`` are new 8-byte ``bytes`` objects (ctypes passes a pointer to
# their contents). libatomic reads both and, on failure, writes the current value over
# ``expected``: a temporary that nothing else references (``struct.pack`` returns a new
# object), dropped right after the call. Per-call objects also make the operation safe to
# re-enter from a signal handler, which shared scratch words would not be.


# membarrier(2): a sleeper issues MEMBARRIER_CMD_GLOBAL_EXPEDITED after registering, which puts
# a full barrier into every running thread of every registered process; so wakers in a
# registered process may check the sleep registrations with a plain load (FORMAT.md, *Waiting*).
_SYS_MEMBARRIER = {"x86_64": 324, "amd64": 324, "aarch64": 283, "arm64": 283}.get(N.MACHINE)
_MEMBARRIER_CMD_GLOBAL_EXPEDITED = 1 << 1
_MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 1 << 2
_sys = ctypes.PyDLL(None, use_errno=True)["syscall"]  # a private function object
_sys.restype = ctypes.c_long
_sys_blocking = ctypes.CDLL(None, use_errno=True)["syscall"]
_sys_blocking.restype = ctypes.c_long


def _membarrier(cmd: int) -> bool:
    if _SYS_MEMBARRIER is None:  # pragma: no cover
        return False
    return bool(_sys(_SYS_MEMBARRIER, cmd, 0) == 0)


#: Whether this process is registered (redone in forked children: registration is per process).
_mb_registered = _membarrier(_MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)


def _global_barrier() -> bool:
    """The sleeper's barrier; False when the kernel (or a seccomp filter) refuses it."""
    if _SYS_MEMBARRIER is None:  # pragma: no cover
        return False
    return bool(_sys_blocking(_SYS_MEMBARRIER, _MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0) == 0)


def _after_fork() -> None:
    global _tls, _mb_registered
    _tls = threading.local()  # new thread ids in the child
    _mb_registered = _membarrier(_MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)


os.register_at_fork(after_in_child=_after_fork)


def thread_gone(tid: int) -> bool:
    """Whether thread/process ``tid`` has finished: ``kill(tid, 0)`` fails with ``ESRCH``, or
    ``/proc/<tid>/stat`` shows a zombie (``kill`` still succeeds on a zombie, whose parent may
    be the very process asking)."""
    if not N.pid_alive(tid):
        return True
    try:
        with open("/proc/%d/stat" % tid, "rb") as f:
            stat = f.read()
    except OSError:
        return False  # no /proc view of it: never repair on a guess
    i = stat.rfind(b")")
    return i >= 0 and stat[i + 2 : i + 3] in (b"Z", b"X")


class _Block:
    """What stopped an attempt: slot ``index`` showed sequence number ``seq``."""

    __slots__ = ("index", "seq")

    def __init__(self, index: int, seq: int) -> None:
        self.index = index
        self.seq = seq


def _delta30(w: int, p: int) -> int:
    """``busy position - p`` as a signed 30-bit number."""
    d = ((w >> 32) - p) & POS_MASK
    return d - (1 << POS_BITS) if d >= (1 << (POS_BITS - 1)) else d


_gcas = N._libatomic["__atomic_compare_exchange"]  # (size, obj, expected*, desired*, succ, fail)
_gcas.restype = ctypes.c_bool


class _Lazy:
    """A read-only "list" computed on access (per-slot tables of very large rings)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[int], Any]) -> None:
        self.fn = fn

    def __getitem__(self, i: int) -> Any:
        return self.fn(i)


def _is_textual(t: Any) -> bool:
    from .types import Bytes, Text

    return issubclass(t, (Text, Bytes))


class _Ops:
    """The bound operations of one ring view (closures over cached addresses and views)."""

    __slots__ = (
        "put", "get", "put_nowait", "get_nowait", "put_many", "get_many", "qsize", "empty",
        "full", "close", "closed", "capacity",
    )
    put: Callable[..., None]
    get: Callable[..., Any]
    put_nowait: Callable[[Any], None]
    get_nowait: Callable[[], Any]
    put_many: Callable[..., int]
    get_many: Callable[..., List[Any]]
    qsize: Callable[[], int]
    empty: Callable[[], bool]
    full: Callable[[], bool]
    close: Callable[[], None]
    closed: Callable[[], bool]
    capacity: int


def bind(ring: Any) -> _Ops:
    """Binds the protocol to a ring view (a ``ctypes.Structure`` made by
    :func:`shmgen.ring_type`). Raises :class:`shmgen.LayoutError` when the ring's metadata
    (written by the segment's creator) disagrees with the type."""
    t = type(ring)
    n = int(t._capacity_)
    if not 1 <= n <= MAX_CAPACITY:
        raise LayoutError("ring capacity %d is outside 1..%d" % (n, MAX_CAPACITY))
    slot_size = int(t._slot_size_)
    item_off = int(t._slot_item_offset_)
    item_t = t._item_type_
    item_size = ctypes.sizeof(item_t)
    first = t._slots.offset
    addr = ctypes.addressof(ring)
    size = ctypes.sizeof(t)

    mvb = memoryview(ring).cast("B")  # keeps `ring` (and so the mapping) alive
    q = mvb.cast("Q")
    d32 = mvb.cast("I")
    if q[16] != n or q[17] != slot_size:
        raise LayoutError(
            "ring metadata says capacity %d and slot size %d, the type has capacity %d and slot "
            "size %d: the segment is corrupt" % (q[16], q[17], n, slot_size)
        )
    if first % 8 or slot_size % 8 or size % 8:
        raise LayoutError("ring slots are not 8-byte aligned")  # pragma: no cover

    K = 2 if n == 1 else 1  # sequence numbers step by 2 with one slot (FORMAT.md)
    HEAD, TAIL = 0, 8  # u64 indexes in q
    CLOSED = 144 // 4  # u32 index in d32
    seq0 = first // 8
    step8 = slot_size // 8
    c_void_p = ctypes.c_void_p
    U64 = ctypes.c_uint64
    byref = ctypes.byref
    cas = N.U64.raw_cas
    gcas = _gcas
    fetch_add32 = N.U32.raw_fetch_add
    xchg32 = N.U32.raw_exchange
    futex_wake = N.futex_wake
    futex_wait = N.futex_wait
    head_vp = c_void_p(addr)
    tail_vp = c_void_p(addr + 64)
    # Futex words: producers advance the one on their (tail) line and consumers sleep on it;
    # consumers advance the one on the head line and producers sleep on it.
    not_empty = addr + 72
    not_empty_vp = c_void_p(not_empty)
    consumers_waiting_vp = c_void_p(addr + 76)
    not_full = addr + 8
    not_full_vp = c_void_p(not_full)
    producers_waiting_vp = c_void_p(addr + 12)
    seq_addr0 = addr + first
    fence = N.fence

    # -- per-slot tables: seq word index in `q`, seq word address, item key --------------------
    def table(fn: Callable[[int], Any]) -> Any:
        """``[fn(i) for i in range(n)]``, or a lazy equivalent for very large rings."""
        if n <= 65536:
            return [fn(i) for i in range(n)]
        return _Lazy(fn)

    seqi = table(lambda i: seq0 + i * step8)
    seq_refs = table(lambda i: ctypes.byref(ring, first + i * slot_size))  # slot i's seq

    # -- items -------------------------------------------------------------------------------
    fmt: Any = getattr(item_t, "_type_", None)
    simple = isinstance(item_t, type) and issubclass(item_t, ctypes._SimpleCData) and isinstance(fmt, str) and fmt in "bBhHiIlLqQfd?"
    encode: Optional[Callable[[Any], Any]] = None
    check: Optional[Callable[[Any], None]] = None
    item_get: Callable[[Any], Any]
    byte0 = first + item_off
    # `items[ikeys[i]]` is slot i's item: a typed view indexed by number for simple items (its
    # value), else the byte view indexed by slice (stores take bytes; reads use item_get).
    direct = simple and byte0 % item_size == 0 and slot_size % item_size == 0
    if direct:
        items = mvb.cast(fmt)
        item0 = byte0 // item_size
        istep = slot_size // item_size
        if fmt in "fd":
            encode = float
        elif fmt == "?":
            encode = bool
        ikeys = table(lambda i: item0 + i * istep)
        item_get = items.__getitem__
        probe = memoryview(bytearray(item_size)).cast(fmt)

        def check_scalar(x: Any) -> None:
            """Raises now what writing ``x`` would raise (before waiting for a slot)."""
            probe[0] = x

        check = check_scalar
    else:
        from .types import _is_text, _value_accessors, decode_text  # lazily: types imports us

        get_value, _, to_bytes = _value_accessors(item_t)
        is_struct = isinstance(item_t, type) and issubclass(item_t, ctypes.Structure)

        def encode_bytes(x: Any) -> Any:
            if is_struct and isinstance(x, dict):
                x = item_t(**x)
            b = to_bytes(x)
            if len(b) != item_size:  # pragma: no cover - to_bytes sizes exactly
                raise ValueError("item encodes to %d bytes, not %d" % (len(b), item_size))
            return b

        encode = encode_bytes
        ikeys = table(lambda i: slice(byte0 + i * slot_size, byte0 + i * slot_size + item_size))
        items = mvb
        if is_struct or (isinstance(item_t, type) and issubclass(item_t, ctypes.Array) and not _is_textual(item_t)):
            from_copy = item_t.from_buffer_copy

            def get_copy(key: slice) -> Any:
                return from_copy(mvb, key.start)

            item_get = get_copy
        elif _is_text(item_t):

            def get_text(key: slice) -> Any:
                return decode_text(mvb[key].tobytes())  # a copy first: see pop_once

            item_get = get_text
        elif _is_textual(item_t):  # bytes[N]: its N bytes

            def get_bytes(key: slice) -> Any:
                return mvb[key].tobytes()

            item_get = get_bytes
        else:  # pragma: no cover - every value type is one of the above

            def get_value_at(key: slice) -> Any:
                return get_value(addr + key.start)

            item_get = get_value_at

    # -- the protocol ------------------------------------------------------------------------

    def give_up(si: int, w: int, p: int, line: int) -> None:
        """We hold slot ``seqi^-1(si)`` with busy word ``w`` for position ``p`` and cannot
        finish (closed ring, a bad item, an exception): free it for the next lap (others skip
        position p)."""
        if q[si] == w:
            if q[line] <= p:
                q[line] = p + 1
            if not _STRONG:
                fence(N.RELEASE)
            q[si] = (p + n) * K
            wake_all()

    skip_limit = n + MAX_SKIP  # taken positions one attempt may skip (FORMAT.md, *Trust*)
    pack, pack_busy = _pack_u64, _pack_busy

    def put(obj: Any, block: Any = True, timeout: Optional[float] = None) -> Any:
        """Puts ``obj`` at the end, waiting while the ring is full (at most ``timeout``
        seconds, then ``queue.Full``; ``block=False``: ``queue.Full`` at once).

        With ``block=_ATTEMPT`` (``push_once``): one attempt with an encoded item, returning
        None when pushed, False when the ring is closed, a _Block when full. The hot path is
        kept to plain memoryview accesses and one libatomic call."""
        x = obj if encode is None or block is _ATTEMPT else encode(obj)
        p = p0 = q[TAIL]  # a hint: every position below it is taken
        while True:
            i = p % n
            si = seqi[i]
            s = q[si]
            f = p * K
            if s == f:
                if not _STRONG:
                    fence(N.ACQUIRE)
                try:
                    tid = _tls.tid
                except AttributeError:
                    tid = _tid()
                try:
                    # Inside the try: an exception raised just after the CAS returned (by a
                    # signal handler) must still give a successful claim up.
                    ok = gcas(8, seq_refs[i], pack(f), pack_busy(tid, p & 0xFFFF, 0x8000 | (p >> 16 & 0x3FFF)), _SC, _SC)
                    if not ok:
                        continue  # look at the same position again
                    if q[TAIL] <= p:
                        q[TAIL] = p + 1
                    if not _STRONG:
                        fence(_SC)
                    if d32[CLOSED]:
                        give_up(si, BUSY | tid | (p & POS_MASK) << 32, p, TAIL)
                        if block is _ATTEMPT:
                            return False
                        raise RingClosed("put() on a closed ring")
                    items[ikeys[i]] = x
                    if not _STRONG:
                        fence(N.RELEASE)
                    q[si] = f + 1
                except BaseException:
                    give_up(si, BUSY | tid | (p & POS_MASK) << 32, p, TAIL)  # (a no-op if given up)
                    raise
                # Dekker pairing with a sleeping consumer's "waiters += 1; barrier; re-check".
                if _mb_registered and not d32[CW]:
                    return None
                wake_consumers()
                return None
            if s & BUSY:
                delta = _delta30(s, p)
            else:
                delta = s - f
            if delta < 0 or p - p0 >= skip_limit:  # (the limit: only a corrupted ring)
                r = _Block(i, s)
                return r if block is _ATTEMPT else put_blocked(x, r, block, timeout)
            p += 1  # p is taken: try the next position

    def push_once(x: Any) -> Any:
        """One attempt to push the encoded item ``x``: None, False (closed) or a _Block."""
        return put(x, _ATTEMPT)

    def get(block: Any = True, timeout: Optional[float] = None) -> Any:
        """Removes and returns the oldest item, waiting while the ring is empty (at most
        ``timeout`` seconds, then ``queue.Empty``; ``block=False``: ``queue.Empty`` at once).
        :class:`RingClosed` once the ring is closed and drained.

        Copy-then-commit (FORMAT.md, *Pop*): the item is copied out first and the slot freed
        by the compare-and-swap that takes it, so a get never holds a slot (nothing to repair
        if this process dies). With ``block=_ATTEMPT`` (``pop_once``): one attempt, returning
        the item or a _Block when empty."""
        p = p0 = q[HEAD]  # a hint: every position below it is taken
        while True:
            i = p % n
            si = seqi[i]
            s = q[si]
            fu = p * K + 1
            if s == fu:
                if not _STRONG:
                    fence(N.ACQUIRE)
                # A copy, valid only if the CAS below finds seq still full(p).
                v = items[ikeys[i]] if direct else item_get(ikeys[i])
                ok = gcas(8, seq_refs[i], pack(fu), pack((p + n) * K), _SC, _SC)
                if not ok:
                    continue  # taken meanwhile: look at the same position again
                if q[HEAD] <= p:
                    q[HEAD] = p + 1
                if _mb_registered and not d32[PW]:
                    return v
                wake_producers()
                return v
            if s & BUSY:
                delta = _delta30(s, p)
                if delta == 0 and not s & BUSY_POP:
                    delta = -1  # a producer is writing item p: empty
            else:
                delta = s - fu
            if delta < 0 or p - p0 >= skip_limit:  # (the limit: only a corrupted ring)
                r = _Block(i, s)
                return r if block is _ATTEMPT else get_blocked(r, block, timeout)
            p += 1  # p is taken: try the next position

    def pop_once() -> Any:
        """One attempt to pop: the item, or a _Block when empty."""
        return get(_ATTEMPT)

    # Waiter counts are "sleep registrations since the last wake-up": sleepers add 1 (and never
    # take it back), wakers swap in 0 and wake that many. In a process registered for global
    # membarriers, a plain load first (the sleeper's barrier orders it against our seq store).
    CW = 76 // 4  # consumers_asleep, u32 index in d32
    PW = 12 // 4  # producers_asleep

    def wake_consumers() -> None:
        if _mb_registered and not d32[CW]:
            return
        c = xchg32(consumers_waiting_vp, 0, _SC)
        if c:
            fetch_add32(not_empty_vp, 1, _SC)
            futex_wake(not_empty, c)

    def wake_producers() -> None:
        if _mb_registered and not d32[PW]:
            return
        c = xchg32(producers_waiting_vp, 0, _SC)
        if c:
            fetch_add32(not_full_vp, 1, _SC)
            futex_wake(not_full, c)

    def wake_all() -> None:
        for a, vp, wvp in ((not_full, not_full_vp, producers_waiting_vp), (not_empty, not_empty_vp, consumers_waiting_vp)):
            xchg32(wvp, 0, _SC)
            fetch_add32(vp, 1, _SC)
            futex_wake(a, N.INT_MAX)

    def is_closed() -> bool:
        return bool(N.U32.raw_load(c_void_p(addr + 144), _SC))

    def repair_if_dead(b: _Block) -> bool:
        """If ``b`` is a busy word whose thread is gone: free the slot (the item is lost), move
        the claimer's line past it, wake everyone. True when something changed."""
        w = b.seq
        if not w & BUSY or not thread_gone(w & 0xFFFFFFFF):
            return False
        pop = bool(w & BUSY_POP)
        line, line_vp = (HEAD, head_vp) if pop else (TAIL, tail_vp)
        t = N.U64.raw_load(line_vp, _SC)
        vp = c_void_p(seq_addr0 + b.index * slot_size)
        if N.U64.raw_load(vp, _SC) != w:
            return True
        qpos = t + _delta30(w, t)  # the claimed position: the one nearest the hint
        if qpos % n != b.index:
            return False
        if cas(vp, byref(U64(w)), U64((qpos + n) * K), _SC, _SC):
            if q[line] <= qpos:
                q[line] = qpos + 1
            wake_all()
        return True

    def drained_and_closed() -> bool:
        if not is_closed():
            return False
        p = N.U64.raw_load(head_vp, _SC)
        limit = p + n + MAX_SKIP
        while True:
            i = p % n
            s = N.U64.raw_load(c_void_p(seq_addr0 + i * slot_size), _SC)
            if s & BUSY:
                d = _delta30(s, p)
                if d < 0:
                    return True
                if d == 0 and not s & BUSY_POP:
                    return False
            else:
                d = s - (p * K + 1)
                if d < 0:
                    return True
                if d == 0:
                    return False
            p += 1
            if p > limit:
                return False  # only a corrupted ring gets here

    def sleep_on(fut: int, fut_vp: Any, waiters_vp: Any, nap: float, recheck: Callable[[], Any]) -> Any:
        """Registers as a sleeper on futex ``fut``, re-checks, sleeps if the re-check found
        nothing (None); returns the re-check's result."""
        fetch_add32(waiters_vp, 1, _SC)  # never taken back: the next waker clears it
        if not _global_barrier():
            nap = min(nap, 0.001)  # a registered waker could miss us: nap briefly
        f = N.U32.raw_load(fut_vp, _SC)
        r = recheck()
        if r is None:
            futex_wait(fut, f, nap)
        return r

    def nap_for(deadline: Optional[float], busy: bool) -> Optional[float]:
        cap = BUSY_NAP if busy else IDLE_NAP
        if deadline is None:
            return cap
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        return min(left, cap)

    _PUSHED, _CLOSED = object(), object()

    def push_wait(x: Any, deadline: Optional[float]) -> bool:
        """Blocking push of an encoded item; True when pushed, False on timeout; raises
        RingClosed. Wakes consumers."""
        tries = 0
        while True:
            r = push_once(x)
            if r is None:
                wake_consumers()
                return True
            if r is False or is_closed():
                raise RingClosed("put() on a closed ring")
            tries += 1
            if tries < SPIN_TRIES:
                continue
            if tries < SPIN_TRIES + YIELD_TRIES:
                os.sched_yield()
                continue
            busy = bool(r.seq & BUSY)
            if busy and repair_if_dead(r):
                continue
            nap = nap_for(deadline, busy)
            if nap is None:
                return False

            def recheck() -> Any:
                r2 = push_once(x)
                if r2 is None:
                    return _PUSHED
                if r2 is False or is_closed():
                    return _CLOSED
                return None

            got = sleep_on(not_full, not_full_vp, producers_waiting_vp, nap, recheck)
            if got is _PUSHED:
                wake_consumers()
                return True
            if got is _CLOSED:
                raise RingClosed("put() on a closed ring")
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def pop_wait(deadline: Optional[float]) -> Any:
        """Blocking pop; the item, or _Block-free sentinel _CLOSED / None on timeout."""
        tries = 0
        while True:
            r = pop_once()
            if type(r) is not _Block:
                wake_producers()
                return r
            if drained_and_closed():
                raise RingClosed("get() on a closed, drained ring")
            tries += 1
            if tries < SPIN_TRIES:
                continue
            if tries < SPIN_TRIES + YIELD_TRIES:
                os.sched_yield()
                continue
            busy = bool(r.seq & BUSY)
            if busy and repair_if_dead(r):
                continue
            nap = nap_for(deadline, busy)
            if nap is None:
                return _Block

            def recheck() -> Any:
                r2 = pop_once()
                if type(r2) is not _Block:
                    return (r2,)
                if is_closed():
                    return _CLOSED
                return None

            got = sleep_on(not_empty, not_empty_vp, consumers_waiting_vp, nap, recheck)
            if type(got) is tuple:
                wake_producers()
                return got[0]
            if deadline is not None and time.monotonic() >= deadline and not drained_and_closed():
                return _Block

    # -- the public operations (multiprocessing.Queue's names and signatures) ---------------

    def put_blocked(x: Any, r: _Block, block: bool, timeout: Optional[float]) -> None:
        """``put`` found the ring full (at that moment)."""
        if is_closed():
            raise RingClosed("put() on a closed ring")
        if check is not None:
            check(x)
        if not block:
            if r.seq & BUSY and try_harder_push(x, r):
                return
            raise queue.Full
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        if not push_wait(x, deadline):
            raise queue.Full

    def try_harder_push(x: Any, r: _Block) -> bool:
        """``put_nowait`` found a slot being emptied by a consumer: retry briefly (repairing a
        dead one) rather than report "full"."""
        for _ in range(SPIN_TRIES):
            if r.seq & BUSY and repair_if_dead(r):
                pass
            r2 = push_once(x)
            if r2 is None:
                wake_consumers()
                return True
            if r2 is False or is_closed():
                raise RingClosed("put() on a closed ring")
            if not r2.seq & BUSY:
                return False
            r = r2
        return False

    def get_blocked(r: _Block, block: bool, timeout: Optional[float]) -> Any:
        """``get`` found the ring empty (at that moment)."""
        # Empty (at this moment).
        if drained_and_closed():
            raise RingClosed("get() on a closed, drained ring")
        if not block:
            for _ in range(SPIN_TRIES if r.seq & BUSY else 0):
                if r.seq & BUSY:
                    repair_if_dead(r)
                r2 = pop_once()
                if type(r2) is not _Block:
                    wake_producers()
                    return r2
                r = r2
                if not r.seq & BUSY:
                    break
            if drained_and_closed():
                raise RingClosed("get() on a closed, drained ring")
            raise queue.Empty
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        v = pop_wait(deadline)
        if v is _Block:
            raise queue.Empty
        return v

    def put_nowait(obj: Any) -> None:
        """``put(obj, block=False)``."""
        put(obj, False)

    def get_nowait() -> Any:
        """``get(block=False)``."""
        return get(False)

    def put_many(objs: Sequence[Any], timeout: Optional[float] = None) -> int:
        """Puts every item of ``objs`` in order, waiting while the ring is full; wakes
        consumers once per batch. Returns how many were put (all of them; fewer only when
        the ring was closed after some went in; :class:`RingClosed` if none did).
        ``queue.Full`` if ``timeout`` passes first (some items may be in)."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        done = 0
        unannounced = 0
        try:
            for obj in objs:
                x = encode(obj) if encode is not None else obj
                r = push_once(x)
                if r is None:
                    done += 1
                    unannounced += 1
                    continue
                if r is False or is_closed():
                    break
                if unannounced:
                    wake_consumers()
                    unannounced = 0
                if not push_wait(x, deadline):
                    raise queue.Full
                done += 1
        except RingClosed:
            pass
        finally:
            if unannounced:
                wake_consumers()
        if done == 0 and len(objs):
            raise RingClosed("put_many() on a closed ring")
        return done

    def get_many(max_items: int, block: bool = True, timeout: Optional[float] = None) -> List[Any]:
        """Up to ``max_items`` items, oldest first, waiting (like :meth:`get`) until there is at
        least one; wakes producers once per batch."""
        out: List[Any] = []
        if max_items <= 0:
            return out
        while len(out) < max_items:
            r = pop_once()
            if type(r) is _Block:
                break
            out.append(r)
        if out:
            wake_producers()
            return out
        out.append(get(block, timeout))
        k = 0
        while len(out) < max_items:
            r = pop_once()
            if type(r) is _Block:
                break
            out.append(r)
            k += 1
        if k:
            wake_producers()
        return out

    def qsize() -> int:
        """Approximate number of items (a snapshot)."""
        h = q[HEAD]
        t_ = q[TAIL]
        return max(0, min(n, t_ - h))

    def empty() -> bool:
        """Whether the ring holds no items (a snapshot)."""
        return qsize() == 0

    def full() -> bool:
        """Whether every slot is taken (a snapshot)."""
        return qsize() == n

    def close() -> None:
        """Closes the ring for every process (permanent): puts fail from now on; gets return
        what is left, then raise :class:`RingClosed`. Wakes every sleeper."""
        N.U32.raw_store(c_void_p(addr + 144), 1, _SC)
        wake_all()

    ops = _Ops()
    ops.put = put
    ops.get = get
    ops.put_nowait = put_nowait
    ops.get_nowait = get_nowait
    ops.put_many = put_many
    ops.get_many = get_many
    ops.qsize = qsize
    ops.empty = empty
    ops.full = full
    ops.close = close
    ops.closed = is_closed
    ops.capacity = n
    return ops


_OPS_NAMES = ("put", "get", "put_nowait", "get_nowait", "put_many", "get_many", "qsize", "empty", "full")


class RingOps:
    """Mixin giving :class:`shmgen.Ring` views the ring methods (bound on first use and
    cached on the view; segments pre-bind their ring fields)."""

    _ring_ops_cache: Any

    def _ring_ops(self) -> _Ops:
        d = self.__dict__
        ops = d.get("_ring_ops_cache")
        if ops is None:
            ops = d["_ring_ops_cache"] = bind(self)
        return ops

    def _bind_ring(self) -> None:
        """Installs the bound operations as instance attributes (skipping one call level)."""
        try:
            ops = self._ring_ops()
        except LayoutError:
            return  # reported when the ring is used
        d = self.__dict__
        for name in _OPS_NAMES:
            d[name] = getattr(ops, name)

    def put(self, obj: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        """Puts ``obj`` at the end, waiting while the ring is full (``queue.Full`` after
        ``timeout`` seconds or at once with ``block=False``; :class:`RingClosed` once closed)."""
        self._ring_ops().put(obj, block, timeout)

    def get(self, block: bool = True, timeout: Optional[float] = None) -> Any:
        """Removes and returns the oldest item, waiting while the ring is empty
        (``queue.Empty`` after ``timeout`` seconds or at once with ``block=False``;
        :class:`RingClosed` once closed and drained)."""
        return self._ring_ops().get(block, timeout)

    def put_nowait(self, obj: Any) -> None:
        """``put(obj, block=False)``."""
        self._ring_ops().put(obj, False)

    def get_nowait(self) -> Any:
        """``get(block=False)``."""
        return self._ring_ops().get(False)

    def put_many(self, objs: Sequence[Any], timeout: Optional[float] = None) -> int:
        """Puts all of ``objs`` in order (one wake-up per batch); returns how many went in."""
        return self._ring_ops().put_many(objs, timeout)

    def get_many(self, max_items: int, block: bool = True, timeout: Optional[float] = None) -> List[Any]:
        """Up to ``max_items`` items (at least one, waiting like :meth:`get`)."""
        return self._ring_ops().get_many(max_items, block, timeout)

    def qsize(self) -> int:
        """Approximate number of items."""
        return self._ring_ops().qsize()

    def empty(self) -> bool:
        """Whether the ring is empty (a snapshot)."""
        return self._ring_ops().empty()

    def full(self) -> bool:
        """Whether the ring is full (a snapshot)."""
        return self._ring_ops().full()

    def close(self) -> None:
        """Closes the ring for every process: puts fail; gets drain, then fail."""
        self._ring_ops().close()

    @property
    def closed(self) -> bool:
        """Whether the ring was closed (by any process)."""
        return self._ring_ops().closed()

    def __len__(self) -> int:
        return self._ring_ops().qsize()


def _claim_and_abandon(ring: Any, pop: bool, advance: bool) -> Optional[int]:
    """Test hook: claims the next slot of ``ring`` for a push (or a pop) the way ``put``/``get``
    do, raises the tail (head) hint if ``advance``, and returns the position without finishing:
    what a process killed in the middle of an operation leaves behind."""
    t = type(ring)
    n = int(t._capacity_)
    K = 2 if n == 1 else 1
    q = memoryview(ring).cast("B").cast("Q")
    line = 0 if pop else 8
    p = q[line]
    a = ctypes.addressof(ring) + t._slots.offset + (p % n) * int(t._slot_size_)
    expect = p * K + (1 if pop else 0)
    w = BUSY | (BUSY_POP if pop else 0) | ((p & POS_MASK) << 32) | threading.get_native_id()
    if not N.U64.raw_cas(_c_void_p(a), ctypes.byref(ctypes.c_uint64(expect)), ctypes.c_uint64(w), _SC, _SC):
        return None
    if advance and q[line] <= p:
        q[line] = p + 1
    return p
