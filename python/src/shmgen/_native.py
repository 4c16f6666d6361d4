"""The one platform module: every foreign function the runtime calls, bound once with ctypes.

- glibc's pthread mutex functions (``libc.so.6``; ``libpthread.so.0`` on glibc < 2.34);
- the futex system call through ``syscall(2)``;
- libatomic's sized ``__atomic_*`` functions for 1, 2, 4 and 8 bytes, sequentially consistent.

Non-blocking calls (atomics, ``trylock``, ``unlock``) are bound through ``ctypes.PyDLL``: they
keep the GIL, which saves a GIL release and re-acquire per call. Calls that may block
(``pthread_mutex_timedlock``, ``FUTEX_WAIT``) go through ``ctypes.CDLL``, which releases the GIL
while the call sleeps, so other Python threads keep running.

Linux with glibc on x86_64 or aarch64 only (docs/FORMAT.md §1).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import sys
import time
from typing import Any, Dict, Optional, Tuple

if not sys.platform.startswith("linux"):  # pragma: no cover
    raise ImportError("shmgen supports Linux (glibc, x86_64 or aarch64) only")

MACHINE = platform.machine()
_SYS_FUTEX = {"x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98}
if MACHINE not in _SYS_FUTEX:  # pragma: no cover
    raise ImportError("shmgen supports x86_64 and aarch64 Linux, not %r" % MACHINE)
SYS_futex = _SYS_FUTEX[MACHINE]
#: x86_64 is TSO: loads are not reordered with older loads, so the seqlock reader needs no fence.
#: ``SHMGEN_ASSUME_WEAK_ORDERING=1`` (a test hook) takes the weakly ordered machines' path with
#: its fences on x86_64 too, where they are redundant but harmless, so that path is tested here.
STRONG_ORDERING = MACHINE in ("x86_64", "amd64") and os.environ.get("SHMGEN_ASSUME_WEAK_ORDERING") != "1"

FUTEX_WAIT = 0
FUTEX_WAKE = 1
INT_MAX = 2**31 - 1

PTHREAD_MUTEX_NORMAL = 0
PTHREAD_MUTEX_RECURSIVE = 1
PTHREAD_PROCESS_SHARED = 1
PTHREAD_MUTEX_ROBUST = 1

#: C memory orders, as ``__ATOMIC_*``.
RELAXED, ACQUIRE, RELEASE, SEQ_CST = 0, 2, 3, 5

_c_void_p = ctypes.c_void_p
_c_int = ctypes.c_int
_c_long = ctypes.c_long


class Timespec(ctypes.Structure):
    """``struct timespec`` on 64-bit Linux."""

    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_libc() -> Tuple[ctypes.CDLL, ctypes.PyDLL]:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True), ctypes.PyDLL("libc.so.6", use_errno=True)
    except OSError as e:  # pragma: no cover
        raise ImportError("shmgen needs glibc (libc.so.6): %s" % e) from e


_libc, _libc_py = _load_libc()


def _pthread_libs() -> Tuple[Any, Any]:
    """glibc >= 2.34 has the pthread functions in libc; older ones in libpthread."""
    try:
        _libc.pthread_mutex_consistent  # noqa: B018  (probe)
        return _libc, _libc_py
    except AttributeError:  # pragma: no cover
        name = ctypes.util.find_library("pthread") or "libpthread.so.0"
        return ctypes.CDLL(name, use_errno=True), ctypes.PyDLL(name, use_errno=True)


_pt, _pt_py = _pthread_libs()


def _fn(lib: Any, name: str, restype: Any, *argtypes: Any) -> Any:
    f = lib[name]  # a new function object (getattr would share one per library and name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


def _raw(lib: Any, name: str, restype: Any) -> Any:
    """A function with ``restype`` and *no* ``argtypes``: the caller passes ctypes objects
    (``c_void_p`` addresses, typed values) or Python ints in the C ``int`` range, which ctypes
    converts without allocating converter objects (about a third of the cost of a call)."""
    f = lib[name]  # a new function object: restypes differ per (width, type)
    f.restype = restype
    return f


# --- pthread mutexes -----------------------------------------------------------------------
# The hot ones take the mutex address as a ``c_void_p`` object and have no argtypes (see _raw).
#: int pthread_mutex_lock(pthread_mutex_t *) -- may block: releases the GIL.
mutex_lock = _raw(_pt, "pthread_mutex_lock", _c_int)
#: int pthread_mutex_timedlock(pthread_mutex_t *, const struct timespec *) -- may block.
mutex_timedlock = _raw(_pt, "pthread_mutex_timedlock", _c_int)
#: int pthread_mutex_trylock(pthread_mutex_t *) -- never blocks: keeps the GIL.
mutex_trylock = _raw(_pt_py, "pthread_mutex_trylock", _c_int)
#: int pthread_mutex_unlock(pthread_mutex_t *) -- never blocks.
mutex_unlock = _raw(_pt_py, "pthread_mutex_unlock", _c_int)
#: int pthread_mutex_consistent(pthread_mutex_t *)
mutex_consistent = _raw(_pt_py, "pthread_mutex_consistent", _c_int)
_mutex_init = _fn(_pt_py, "pthread_mutex_init", _c_int, _c_void_p, _c_void_p)
_attr_init = _fn(_pt_py, "pthread_mutexattr_init", _c_int, _c_void_p)
_attr_destroy = _fn(_pt_py, "pthread_mutexattr_destroy", _c_int, _c_void_p)
_attr_setpshared = _fn(_pt_py, "pthread_mutexattr_setpshared", _c_int, _c_void_p, _c_int)
_attr_setrobust = _fn(_pt_py, "pthread_mutexattr_setrobust", _c_int, _c_void_p, _c_int)
_attr_settype = _fn(_pt_py, "pthread_mutexattr_settype", _c_int, _c_void_p, _c_int)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        raise OSError(rc, "%s failed: %s" % (what, os.strerror(rc)))


def mutex_init(addr: int, recursive: bool) -> None:
    """``pthread_mutex_init`` at ``addr``: process-shared, robust, NORMAL or RECURSIVE."""
    attr = (ctypes.c_uint64 * 2)()  # pthread_mutexattr_t is 4 bytes on glibc; room to spare
    a = ctypes.addressof(attr)
    _check(_attr_init(a), "pthread_mutexattr_init")
    try:
        _check(_attr_setpshared(a, PTHREAD_PROCESS_SHARED), "pthread_mutexattr_setpshared")
        _check(_attr_setrobust(a, PTHREAD_MUTEX_ROBUST), "pthread_mutexattr_setrobust")
        kind = PTHREAD_MUTEX_RECURSIVE if recursive else PTHREAD_MUTEX_NORMAL
        _check(_attr_settype(a, kind), "pthread_mutexattr_settype")
        _check(_mutex_init(addr, a), "pthread_mutex_init")
    finally:
        _attr_destroy(a)


def deadline_timespec(timeout: float) -> Timespec:
    """An absolute ``CLOCK_REALTIME`` deadline ``timeout`` seconds from now."""
    ns = time.time_ns() + max(0, int(timeout * 1e9))
    return Timespec(ns // 1_000_000_000, ns % 1_000_000_000)


# --- futex -----------------------------------------------------------------------------------
_syscall = _fn(_libc, "syscall", _c_long, _c_long, _c_void_p, _c_long, _c_long, _c_void_p,
               _c_void_p, _c_long)
_syscall_py = _fn(_libc_py, "syscall", _c_long, _c_long, _c_void_p, _c_long, _c_long, _c_void_p,
                  _c_void_p, _c_long)


def futex_wait(addr: int, expected: int, timeout: Optional[float]) -> int:
    """``FUTEX_WAIT`` (shared, not ``_PRIVATE``) on the u32 at ``addr`` while it equals
    ``expected``, at most ``timeout`` seconds (relative, ``CLOCK_MONOTONIC``). Releases the GIL.

    Returns 0 when woken, else the errno (``EAGAIN``: the word changed; ``ETIMEDOUT``;
    ``EINTR``: a signal arrived -- Python handlers run when this returns).
    """
    if timeout is None:
        ts = None
    else:
        ns = max(0, int(timeout * 1e9))
        ts = ctypes.byref(Timespec(ns // 1_000_000_000, ns % 1_000_000_000))
    r = _syscall(SYS_futex, addr, FUTEX_WAIT, expected, ts, None, 0)
    if r == -1:
        return ctypes.get_errno()
    return 0


def futex_wake(addr: int, count: int) -> int:
    """``FUTEX_WAKE``: wakes up to ``count`` waiters on ``addr``; returns how many woke."""
    r = _syscall_py(SYS_futex, addr, FUTEX_WAKE, count, None, None, 0)
    return 0 if r < 0 else int(r)


# --- atomics (libatomic) ----------------------------------------------------------------------
def _load_libatomic() -> ctypes.PyDLL:
    for name in ("libatomic.so.1", ctypes.util.find_library("atomic")):
        if name:
            try:
                return ctypes.PyDLL(name)
            except OSError:
                continue
    raise ImportError(
        "shmgen needs libatomic (libatomic.so.1) for atomic fields: install it "
        "(Debian/Ubuntu: apt-get install libatomic1; Fedora: dnf install libatomic)"
    )


_libatomic = _load_libatomic()

_INT_TYPES = {
    (1, False): ctypes.c_uint8,
    (1, True): ctypes.c_int8,
    (2, False): ctypes.c_uint16,
    (2, True): ctypes.c_int16,
    (4, False): ctypes.c_uint32,
    (4, True): ctypes.c_int32,
    (8, False): ctypes.c_uint64,
    (8, True): ctypes.c_int64,
}


class AtomicOps:
    """libatomic's functions for one width and value type ``ctype``.

    The ``raw_*`` functions are the hot paths: no ``argtypes``; the address is passed as a
    ``c_void_p`` object and small integers as Python ints (see :func:`_raw`). The methods take
    the address as an ``int`` and any value of the type.
    """

    def __init__(self, width: int, ctype: Any) -> None:
        self.width = width
        self.ctype = ctype
        lib = _libatomic
        n = width
        self.raw_load = _raw(lib, "__atomic_load_%d" % n, ctype)
        self.raw_store = _raw(lib, "__atomic_store_%d" % n, None)
        self.raw_fetch_add = _raw(lib, "__atomic_fetch_add_%d" % n, ctype)
        self.raw_exchange = _raw(lib, "__atomic_exchange_%d" % n, ctype)
        # bool __atomic_compare_exchange_N(T *ptr, T *expected, T desired, int succ, int fail)
        self.raw_cas = _raw(lib, "__atomic_compare_exchange_%d" % n, ctypes.c_bool)

    def load(self, addr: int, order: int = SEQ_CST) -> Any:
        return self.raw_load(_c_void_p(addr), order)

    def store(self, addr: int, value: Any, order: int = SEQ_CST) -> None:
        self.raw_store(_c_void_p(addr), self.ctype(value), order)

    def fetch_add(self, addr: int, n: Any = 1, order: int = SEQ_CST) -> Any:
        if self.ctype is not ctypes.c_bool and _I32_MIN <= n <= _I32_MAX:
            return self.raw_fetch_add(_c_void_p(addr), n, order)
        return self.raw_fetch_add(_c_void_p(addr), self.ctype(n), order)

    def exchange(self, addr: int, value: Any, order: int = SEQ_CST) -> Any:
        return self.raw_exchange(_c_void_p(addr), self.ctype(value), order)

    def compare_exchange(self, addr: int, expected: Any, new: Any) -> Tuple[bool, Any]:
        """CAS; returns ``(True, expected)`` when it swapped, else ``(False, current value)``."""
        cell = self.ctype(expected)
        ok = self.raw_cas(_c_void_p(addr), ctypes.byref(cell), self.ctype(new), SEQ_CST, SEQ_CST)
        return bool(ok), cell.value


_OPS: Dict[Tuple[int, Any], AtomicOps] = {}


def atomic_ops(width: int, signed: Any) -> AtomicOps:
    """The (cached) :class:`AtomicOps` for a width in bytes and a signedness (or, for
    ``signed=ctypes.c_bool``, the bool type)."""
    key = (width, signed)
    ops = _OPS.get(key)
    if ops is None:
        ctype = signed if signed is ctypes.c_bool else _INT_TYPES[(width, bool(signed))]
        ops = _OPS[key] = AtomicOps(width, ctype)
    return ops


U32 = atomic_ops(4, False)
U64 = atomic_ops(8, False)

try:
    _fence: Any = _fn(_libatomic, "atomic_thread_fence", None, _c_int)
except AttributeError:  # pragma: no cover - libatomic < 1.2
    _fence = None


def fence(order: int) -> None:
    """A memory fence of ``order`` (``ACQUIRE``, ``RELEASE``, ``SEQ_CST``) on weakly ordered
    machines; a no-op on x86_64, where plain loads are acquire loads, plain stores release
    stores, and the callers' SeqCst read-modify-writes are full barriers."""
    if STRONG_ORDERING:
        return
    if _fence is not None:
        _fence(order)
    else:  # pragma: no cover - libatomic < 1.2: an RMW with acq_rel ordering orders around it
        U64.fetch_add(ctypes.addressof(_FENCE_WORD), 0)


def acquire_fence() -> None:
    """``fence(ACQUIRE)``."""
    fence(ACQUIRE)


def release_fence() -> None:
    """``fence(RELEASE)``."""
    fence(RELEASE)


_FENCE_WORD = ctypes.c_uint64(0)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (``kill(pid, 0)``; ``EPERM`` counts as alive)."""
    # Linux pids never exceed 2**22 (PID_MAX_LIMIT); a larger value (e.g. from a hostile header)
    # names no process, and os.kill would raise OverflowError past 2**31 - 1.
    if pid <= 0 or pid > 0x7FFF_FFFF:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError as e:  # pragma: no cover
        return e.errno != errno.ESRCH
    return True

