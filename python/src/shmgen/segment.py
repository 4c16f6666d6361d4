"""Segments: named shared-memory files in ``/dev/shm`` holding a header and one root struct.

Implements docs/FORMAT.md §1-3 exactly, like the Rust runtime: the create protocol (a private
temporary file, fully initialised, then ``link()``-ed to its final name), the open checks (in
FORMAT.md's order, each error naming both sides), ``0600`` by default.

Segments are files, not ``multiprocessing.shared_memory`` blocks: no resource tracker unlinks
them behind your back (CPython issue 82300). A segment stays until someone calls
:meth:`Segment.unlink` (or ``shmgen.remove(name)``); closing a segment or exiting never
removes it.
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import fcntl
import itertools
import mmap
import operator
import os
import stat
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, Generic, NamedTuple, Optional, Tuple, Type, TypeVar

from . import _native as N
from . import abi
from .errors import (
    BadMagic,
    CorruptHeader,
    CreatorDied,
    ForeignOwner,
    InvalidName,
    LayoutId,
    LayoutMismatch,
    NotRegularFile,
    OpenTimeout,
    SegmentExists,
    SegmentNotFound,
    ShmgenError,
    TooPermissive,
    Truncated,
    UnsupportedHeaderVersion,
)
from .types import Struct, _field_items, _is_bytes, _is_simple, _is_text, _Primitive, held_by_this_process, init_in_place

S = TypeVar("S", bound=Struct)

__all__ = ["Segment", "create", "open", "open_or_create", "remove", "inspect", "HeaderInfo", "validate_name"]

_SEQ = itertools.count()

#: Every mapping this process has open. At interpreter exit they are deliberately kept mapped
#: (see ``_keep_mappings_at_exit``).
_LIVE_MAPPINGS: "weakref.WeakSet[mmap.mmap]" = weakref.WeakSet()
#: Mappings closed while this process held one of their locks: kept mapped for ever.
_PARKED: "list[mmap.mmap]" = []


@atexit.register
def _keep_mappings_at_exit() -> None:
    """Keeps every segment mapped until the process is gone.

    A robust mutex held by an exiting process is marked "owner died" by the kernel, which walks
    the thread's robust list *after* the program has finished -- reading the list through the
    mutexes themselves. If interpreter finalisation unmapped a segment first, the kernel could
    not follow the list, the mutex would stay locked for ever and every later ``lock()`` would
    hang. So at exit each live mapping gets one extra reference and is never unmapped by
    Python; the kernel unmaps it after processing the robust list.
    """
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None
    for mm in list(_LIVE_MAPPINGS):
        if not mm.closed:
            incref(mm)
_OPEN_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
#: What `open` adds: a FIFO planted under the name must not block `open`, and a terminal must
#: not become our controlling tty (FORMAT.md §3, SECURITY.md).
_OPEN_EXISTING = _OPEN_FLAGS | os.O_NONBLOCK | os.O_NOCTTY


class _Checks(NamedTuple):
    """What an opener accepts (FORMAT.md §3 "Open")."""

    timeout: float
    #: Permission bits the file may have (the creator's ``mode`` doubles as it).
    allowed_mode: int
    allow_foreign_owner: bool


def validate_name(name: str) -> None:
    """Raises :class:`shmgen.InvalidName` unless ``name`` is 1 to 200 of ``[A-Za-z0-9._-]``,
    not starting with ``.``."""
    why = abi.validate_name(name)
    if why is not None:
        raise InvalidName(
            "invalid segment name %r: %s (names are 1 to 200 of [A-Za-z0-9._-], not starting with '.')"
            % (name, why)
        )


def _path(name: str) -> str:
    return "%s/%s" % (abi.SHM_DIR, name)


class HeaderInfo(NamedTuple):
    """A segment header, as read by :func:`inspect` and :attr:`Segment.header`."""

    header_version: int
    state: int
    fingerprint: int
    payload_offset: int
    payload_size: int
    total_size: int
    creator_pid: int
    layout_version: int
    created_unix_ns: int
    root_name: str
    file_size: int

    def layout_id(self) -> LayoutId:
        """Root name, version, fingerprint and payload size."""
        return LayoutId(self.root_name, self.layout_version, self.fingerprint, self.payload_size)


def _header_info(h: abi.Header, file_size: int) -> HeaderInfo:
    root = bytes(h.root_name)
    end = root.find(b"\x00")
    if end >= 0:
        root = root[:end]
    return HeaderInfo(
        h.header_version,
        h.state,
        h.fingerprint,
        h.payload_offset,
        h.payload_size,
        h.total_size,
        h.creator_pid,
        h.layout_version,
        h.created_unix_ns,
        root.decode("utf-8", errors="replace"),
        file_size,
    )


def _expected_id(struct: Any) -> LayoutId:
    return LayoutId(struct._shmgen_name_, struct._shmgen_version_, struct._shmgen_fingerprint_, struct._shmgen_size_)


def _check_struct(struct: Any) -> None:
    if not (isinstance(struct, type) and issubclass(struct, Struct) and hasattr(struct, "_shmgen_fingerprint_")):
        raise TypeError("expected a shmgen-generated struct class, got %r" % (struct,))
    if len(struct._shmgen_name_.encode("utf-8")) > abi.MAX_ROOT_NAME:
        raise ShmgenError(
            "struct name %r is longer than %d bytes and cannot be a segment root" % (struct._shmgen_name_, abi.MAX_ROOT_NAME)
        )


# ---------------------------------------------------------------------------------------------
# Segment objects
# ---------------------------------------------------------------------------------------------


class _Closed:
    """Stands in for the root view of a closed segment."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str) -> Any:
        raise ValueError("segment %r is closed" % object.__getattribute__(self, "_name"))

    def __setattr__(self, attr: str, value: Any) -> None:
        raise ValueError("segment %r is closed" % object.__getattribute__(self, "_name"))


class Segment(Generic[S]):
    """A mapped segment holding one root struct ``S``.

    The root's fields are attributes of the segment: plain scalars, ``str`` and ``bytes`` read
    and write shared memory directly (``seg.count = 3``); every other field gives its live view
    (``seg.tasks_done.add(1)``, ``with seg.workers.lock() as w: ...``, ``seg.samples[2]``).
    ``seg.root`` is the root struct itself (a ``ctypes.Structure`` view).

    If a field has the name of one of the segment's own attributes (``name``, ``close``, ...),
    the field wins; the segment's attribute stays reachable as ``shmgen.Segment.close(seg)``.

    A segment pickles as its struct class and name: unpickling (``multiprocessing`` with the
    ``spawn`` or ``forkserver`` start method, ``Pool`` arguments) opens the segment again in the
    receiving process. With ``fork``, children simply inherit the mapping.

    Closing (``close()``, or leaving a ``with`` block) unmaps; it never removes the segment.
    """

    _struct_: ClassVar[Any] = None
    _seg_view_fields_: ClassVar[Tuple[str, ...]] = ()

    _seg_name: str
    _seg_struct: Any
    _seg_mm: Optional[mmap.mmap]
    _seg_root: Any
    _seg_header: Any
    _seg_views: Dict[str, Any]
    _seg_creator: bool
    _seg_file_id: Tuple[int, int]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        st = cls.__dict__.get("_struct_")
        if st is not None:
            _install_fields(cls, st)

    def __init__(
        self,
        struct: Any,
        name: str,
        mm: mmap.mmap,
        payload_offset: int,
        creator: bool,
        file_id: Tuple[int, int],
        root: Any = None,
    ) -> None:
        d = self.__dict__
        d["_seg_name"] = name
        d["_seg_struct"] = struct
        d["_seg_mm"] = mm
        d["_seg_creator"] = creator
        d["_seg_file_id"] = file_id
        d["_seg_header"] = abi.Header.from_buffer(mm, 0)
        # Through the metaclass: a field named `from_buffer` would shadow the class method.
        root = root if root is not None else type(struct).from_buffer(struct, mm, payload_offset)
        d["_seg_root"] = root
        views: Dict[str, Any] = {}
        for fname in type(self)._seg_view_fields_:
            v = getattr(root, fname)
            if isinstance(v, _Primitive):
                v._bind_fast()
            views[fname] = v
            d[fname] = v
        d["_seg_views"] = views

    # -- the segment's own attributes (fields of the same name shadow them) --

    @property
    def name(self) -> str:
        """The segment name (``/dev/shm/NAME``)."""
        return self._seg_name

    @property
    def path(self) -> str:
        """The segment's file, ``/dev/shm/NAME``."""
        return _path(self._seg_name)

    @property
    def root(self) -> S:
        """The root struct: a ``ctypes.Structure`` view of shared memory."""
        return self._seg_root  # type: ignore[no-any-return]

    @property
    def struct(self) -> Type[S]:
        """The root struct's class."""
        return self._seg_struct  # type: ignore[no-any-return]

    @property
    def is_creator(self) -> bool:
        """Whether this process created the segment (rather than opening it)."""
        return self._seg_creator

    @property
    def header(self) -> HeaderInfo:
        """The segment header."""
        mm = self._seg_mm
        if mm is None:
            raise ValueError("segment %r is closed" % self._seg_name)
        return _header_info(self._seg_header, len(mm))

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._seg_mm is None

    def close(self) -> None:
        """Unmaps the segment (never removes it). Views obtained from it keep the mapping alive
        until they are garbage collected; fields of a closed segment raise ``ValueError``.

        If a thread of this process still holds one of the segment's locks, the mapping is
        kept (never unmapped) instead: the kernel needs it to report the owner's death to the
        next locker should this process exit without releasing.
        """
        d = self.__dict__
        mm = d.get("_seg_mm")
        if mm is None:
            return
        root = d.get("_seg_root")
        if root is not None and not isinstance(root, _Closed):
            if held_by_this_process(self._seg_struct, ctypes.addressof(root)):
                _PARKED.append(mm)
        for fname in type(self)._seg_view_fields_:
            d.pop(fname, None)
        d["_seg_views"] = {}
        d["_seg_root"] = _Closed(self._seg_name)
        d["_seg_header"] = None
        d["_seg_mm"] = None
        try:
            mm.close()
        except BufferError:
            pass  # views still exported: the mapping goes when the last one does

    def unlink(self) -> None:
        """Removes the segment's name, so later ``open``s fail and a new segment may be created
        under it; mappings (here and in other processes) stay valid until closed.

        If the name now refers to another segment (someone removed this one and created a new
        one), that one is left alone. :class:`shmgen.SegmentNotFound` if the name is gone.
        """
        p = _path(self._seg_name)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            raise SegmentNotFound("segment %r does not exist (no %s)" % (self._seg_name, p)) from None
        if (st.st_dev, st.st_ino) != self._seg_file_id:
            return
        try:
            os.unlink(p)
        except FileNotFoundError:
            raise SegmentNotFound("segment %r does not exist (no %s)" % (self._seg_name, p)) from None

    def layout_id(self) -> LayoutId:
        """The layout this segment holds (root, version, fingerprint, payload size)."""
        return _expected_id(self._seg_struct)

    def __enter__(self) -> "Segment[S]":
        return self

    def __exit__(self, *exc: object) -> None:
        Segment.close(self)

    def __reduce__(self) -> Tuple[Callable[..., Any], Tuple[Any, ...]]:
        mode, foreign = self.__dict__.get("_seg_accept", (0o600, False))
        return (_reopen, (self._seg_struct, self._seg_name, mode, foreign))

    if not TYPE_CHECKING:  # (hidden from type checkers, so unknown attributes stay errors)

        def __getattr__(self, attr: str) -> Any:
            # Only called when normal lookup fails.
            if attr in type(self)._seg_view_fields_ and self.__dict__.get("_seg_mm", 1) is None:
                raise ValueError("segment %r is closed" % self._seg_name)
            raise AttributeError("%r object has no attribute %r" % (type(self).__name__, attr))

    def __setattr__(self, attr: str, value: Any) -> None:
        cls = type(self)
        if attr in cls._seg_view_fields_:
            raise AttributeError(
                "%s.%s is a %s view; use its methods (or assign to its elements/fields)"
                % (cls.__name__, attr, type(self._seg_views.get(attr)).__name__)
            )
        descr = getattr(cls, attr, None)
        if isinstance(descr, property) and descr.fset is not None:
            descr.fset(self, value)
            return
        raise AttributeError("cannot set %r on a segment (not a plain field of %s)" % (attr, self._seg_struct.__name__))

    def __repr__(self) -> str:
        state = "closed" if self._seg_mm is None else "open"
        return "<%s %r %s, %s>" % (type(self).__name__, self._seg_name, _expected_id(self._seg_struct), state)


_SEGMENT_DATA_ATTRS = frozenset(k for k, v in vars(Segment).items() if isinstance(v, property))


def _install_fields(cls: Any, struct: Any) -> None:
    """Adds the root struct's fields to a segment class: properties for plain scalar, ``str``
    and ``bytes`` fields; the names of view fields (cached per segment in ``__init__``)."""
    views = []
    for fname, ftype, _ in _field_items(struct):
        if _is_simple(ftype) or _is_text(ftype) or _is_bytes(ftype):
            setattr(cls, fname, property(operator.attrgetter("_seg_root." + fname), _setter(fname), doc="field %s" % fname))
        else:
            views.append(fname)
            if fname in _SEGMENT_DATA_ATTRS:
                setattr(cls, fname, property(_view_getter(fname), doc="field %s" % fname))
    cls._seg_view_fields_ = tuple(views)
    struct._shmgen_segment_class_ = cls


def _setter(fname: str) -> Callable[[Any, Any], None]:
    def set_(self: Any, value: Any) -> None:
        setattr(self._seg_root, fname, value)

    return set_


def _view_getter(fname: str) -> Callable[[Any], Any]:
    def get(self: Any) -> Any:
        try:
            return self._seg_views[fname]
        except KeyError:
            raise ValueError("segment %r is closed" % self._seg_name) from None

    return get


def segment_class(struct: Any) -> Any:
    """The segment class for a struct (the generated ``<Name>Segment``, or one made here)."""
    c = struct.__dict__.get("_shmgen_segment_class_")
    if c is None:
        c = type("%sSegment" % struct.__name__, (Segment,), {"_struct_": struct, "__module__": struct.__module__})
    return c


def _reopen(struct: Any, name: str, mode: int = 0o600, allow_foreign_owner: bool = False) -> Any:
    return open(struct, name, mode=mode, allow_foreign_owner=allow_foreign_owner)


# ---------------------------------------------------------------------------------------------
# Create / open (FORMAT.md §3)
# ---------------------------------------------------------------------------------------------


def _creator_alive(pid: int) -> bool:
    """Whether the creator pid read from a header names a live process. A pid that does not
    fit a positive ``pid_t`` (0, or 2**31 and above, which a corrupt or hostile header may hold)
    counts as dead, as in the Rust runtime, instead of making ``os.kill`` raise
    ``OverflowError``."""
    return 0 < pid <= 0x7FFFFFFF and N.pid_alive(pid)


def _store_state(h: abi.Header, state: int) -> None:
    N.U32.store(ctypes.addressof(h) + abi.Header.state.offset, state, N.RELEASE)


def _load_state(h: abi.Header) -> int:
    return N.U32.load(ctypes.addressof(h) + abi.Header.state.offset, N.ACQUIRE)  # type: ignore[no-any-return]


def create(
    struct: Type[S],
    name: str,
    *,
    mode: int = 0o600,
    init: Optional[Callable[[S], None]] = None,
) -> Segment[S]:
    """Creates segment ``name`` holding a new ``struct`` (FORMAT.md §3 "Create").

    ``mode``: the file's permission bits (default ``0o600``, applied with ``fchmod`` so the
    umask does not change them). ``init(root)`` runs on the new root struct after its
    primitives are initialised and before anyone else can see the segment: give plain fields
    their initial values there. :class:`shmgen.SegmentExists` if the name is taken.
    """
    validate_name(name)
    _check_struct(struct)
    return _create(struct, name, mode, init)


def _create(struct: Any, name: str, mode: int, init: Optional[Callable[[Any], None]]) -> Segment[Any]:
    size = struct._shmgen_size_
    align = struct._shmgen_align_
    po = abi.payload_offset(align)
    total = abi.total_size(align, size)
    pid = os.getpid()
    while True:  # a stale temporary file of an earlier process with our pid: take the next SEQ
        tmp = "%s/.shmgen-%s.%d.%d" % (abi.SHM_DIR, name, pid, next(_SEQ))
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise ShmgenError("segment %r: creating %s failed: %s" % (name, tmp, e)) from e
    mm = None
    seg = None
    try:
        try:
            os.fchmod(fd, mode & 0o777)
            os.ftruncate(fd, total)
            st = os.fstat(fd)
            mm = mmap.mmap(fd, total, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            _LIVE_MAPPINGS.add(mm)
        finally:
            os.close(fd)
        h = abi.Header.from_buffer(mm, 0)
        ctypes.memmove(ctypes.addressof(h.magic), abi.MAGIC, 8)
        h.header_version = abi.HEADER_VERSION
        h.fingerprint = struct._shmgen_fingerprint_
        h.payload_offset = po
        h.payload_size = size
        h.total_size = total
        h.creator_pid = pid
        h.layout_version = struct._shmgen_version_
        h.created_unix_ns = time.time_ns()
        rn = struct._shmgen_name_.encode("utf-8")
        ctypes.memmove(ctypes.addressof(h.root_name), rn, len(rn))
        _store_state(h, abi.STATE_INITIALISING)
        base = ctypes.addressof(ctypes.c_char.from_buffer(mm, po))
        init_in_place(struct, base)
        root = type(struct).from_buffer(struct, mm, po)
        if init is not None:
            init(root)
        _store_state(h, abi.STATE_READY)
        del h
        seg = segment_class(struct)(struct, name, mm, po, True, (st.st_dev, st.st_ino), root)
        seg.__dict__["_seg_accept"] = (mode & 0o7777, False)
        try:
            os.link(tmp, _path(name))
        except FileExistsError:
            raise SegmentExists("segment %r already exists (%s)" % (name, _path(name))) from None
        except OSError as e:
            raise ShmgenError("segment %r: link %s to %s failed: %s" % (name, tmp, _path(name), e)) from e
        return seg  # type: ignore[no-any-return]
    except BaseException:
        if seg is not None:
            Segment.close(seg)
        elif mm is not None:
            try:
                mm.close()
            except BufferError:
                pass
        raise
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def open(
    struct: Type[S],
    name: str,
    *,
    timeout: float = 5.0,
    mode: int = 0o600,
    allow_foreign_owner: bool = False,
) -> Segment[S]:
    """Opens segment ``name``, checking it holds a ``struct`` (FORMAT.md §3 "Open").

    The file must be a regular file owned by this process's effective uid (else
    :class:`shmgen.ForeignOwner`, unless ``allow_foreign_owner``) with no permission bit
    beyond ``mode`` (else :class:`shmgen.TooPermissive`). Waits up to ``timeout`` seconds for a
    segment whose creator is still initialising it (:class:`shmgen.OpenTimeout`), but fails at
    once with :class:`shmgen.CreatorDied` when the creator is dead. Other errors:
    :class:`shmgen.SegmentNotFound`, :class:`shmgen.NotRegularFile`,
    :class:`shmgen.BadMagic`, :class:`shmgen.UnsupportedHeaderVersion`,
    :class:`shmgen.LayoutMismatch` (naming both fingerprints), :class:`shmgen.CorruptHeader`,
    :class:`shmgen.Truncated`.
    """
    validate_name(name)
    _check_struct(struct)
    return _open(struct, name, _Checks(timeout, mode & 0o7777, allow_foreign_owner))


def _os_open(name: str) -> int:
    p = _path(name)
    try:
        return os.open(p, _OPEN_EXISTING)
    except FileNotFoundError:
        raise SegmentNotFound("segment %r does not exist (no %s)" % (name, p)) from None
    except OSError as e:
        what = {
            errno.ELOOP: "a symbolic link",
            errno.EISDIR: "a directory",
            errno.ENXIO: "a socket or a special file",
            errno.ENODEV: "a socket or a special file",
        }.get(e.errno or 0)
        if what is not None:
            raise NotRegularFile("segment %r: %s is %s, not a regular file" % (name, p, what)) from None
        raise ShmgenError("segment %r: open %s failed: %s" % (name, p, e)) from e


def _check_file(name: str, st: os.stat_result, checks: Optional[_Checks]) -> None:
    """The checks on the open file itself, before a byte of it is read."""
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise NotRegularFile("segment %r: %s is %s, not a regular file" % (name, _path(name), kind))
    if checks is None:
        return
    euid = os.geteuid()
    if st.st_uid != euid and not checks.allow_foreign_owner:
        raise ForeignOwner(name, st.st_uid, euid)
    mode = stat.S_IMODE(st.st_mode)
    if mode & ~checks.allowed_mode:
        raise TooPermissive(name, mode, checks.allowed_mode)


def _open_file(name: str, checks: Optional[_Checks]) -> Tuple[mmap.mmap, int, Tuple[int, int]]:
    fd = _os_open(name)
    try:
        st = os.fstat(fd)
        _check_file(name, st, checks)
        if st.st_size < abi.HEADER_SIZE:
            raise Truncated(
                "segment %r is truncated: the file has %d bytes but %d are needed (the header)"
                % (name, st.st_size, abi.HEADER_SIZE)
            )
        try:
            mm = mmap.mmap(fd, st.st_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as e:
            raise ShmgenError("segment %r: mmap failed: %s" % (name, e)) from e
        _LIVE_MAPPINGS.add(mm)
    finally:
        os.close(fd)
    return mm, st.st_size, (st.st_dev, st.st_ino)


def _open(struct: Any, name: str, checks: _Checks) -> Segment[Any]:
    mm, file_size, file_id = _open_file(name, checks)
    try:
        seg = _check_and_wrap(struct, name, mm, file_size, file_id, checks.timeout)
        seg.__dict__["_seg_accept"] = (checks.allowed_mode, checks.allow_foreign_owner)
        return seg
    except BaseException:
        try:
            mm.close()
        except BufferError:  # pragma: no cover
            pass
        raise


def _check_and_wrap(struct: Any, name: str, mm: mmap.mmap, file_size: int, file_id: Tuple[int, int], timeout: float) -> Segment[Any]:
    h = abi.Header.from_buffer(mm, 0)
    try:
        magic = bytes(h.magic)
        if magic != abi.MAGIC:
            raise BadMagic(
                "segment %r is not a shmgen segment: its first bytes are %s, expected %s (b\"SHMGEN\\0\\x01\")"
                % (name, magic.hex(" "), abi.MAGIC.hex(" "))
            )
        if h.header_version != abi.HEADER_VERSION:
            raise UnsupportedHeaderVersion(
                "segment %r has header version %d, but this runtime supports header version %d"
                % (name, h.header_version, abi.HEADER_VERSION)
            )
        start = time.monotonic()
        pause = 0.0001
        while True:
            state = _load_state(h)
            if state == abi.STATE_READY:
                break
            if state != abi.STATE_INITIALISING:
                raise CorruptHeader("segment %r has a corrupt header: state is %d, neither 0 (initialising) nor 1 (ready)" % (name, state))
            pid = h.creator_pid
            if not _creator_alive(pid):
                raise CreatorDied(
                    "segment %r was left half-initialised: its creator (pid %d) died before it was ready; "
                    "remove it and create it again" % (name, pid)
                )
            waited = time.monotonic() - start
            if waited >= timeout:
                raise OpenTimeout(
                    "timed out after %.3fs waiting for segment %r to be ready (its creator, pid %d, is still initialising it)"
                    % (waited, name, pid)
                )
            time.sleep(min(pause, timeout - waited))
            pause = min(pause * 2, 0.01)
        info = _header_info(h, file_size)
        found = info.layout_id()
        expected = _expected_id(struct)
        if found != expected:
            raise LayoutMismatch(name, found, expected)
        po = abi.payload_offset(struct._shmgen_align_)
        if info.payload_offset != po:
            raise CorruptHeader(
                "segment %r has a corrupt header: payload offset is %d but the layout puts the payload at %d"
                % (name, info.payload_offset, po)
            )
        if info.total_size < info.payload_offset + info.payload_size:
            raise CorruptHeader(
                "segment %r has a corrupt header: total_size %d is less than payload offset %d + payload size %d"
                % (name, info.total_size, info.payload_offset, info.payload_size)
            )
        if info.payload_offset + info.payload_size > file_size:
            raise Truncated(
                "segment %r is truncated: the file has %d bytes but %d are needed (the payload)"
                % (name, file_size, info.payload_offset + info.payload_size)
            )
        if info.total_size > file_size:
            raise Truncated(
                "segment %r is truncated: the file has %d bytes but %d are needed (the header's total_size)"
                % (name, file_size, info.total_size)
            )
    finally:
        del h
    return segment_class(struct)(struct, name, mm, po, False, file_id)  # type: ignore[no-any-return]


def open_or_create(
    struct: Type[S],
    name: str,
    *,
    mode: int = 0o600,
    timeout: float = 5.0,
    init: Optional[Callable[[S], None]] = None,
    allow_foreign_owner: bool = False,
) -> Segment[S]:
    """Opens segment ``name``, or creates it if it does not exist. Of several processes racing,
    exactly one creates it (its ``is_creator`` is true; only its ``init`` runs). ``mode`` is
    both the new file's mode and the most an existing file may grant.

    A segment left half-initialised under the name by a dead creator (which shmgen's own
    protocol never does, but a crafted file or another program might) is replaced, under an
    exclusive ``flock`` and only while it is provably still dead and unready (FORMAT.md §3
    "Open or create")."""
    validate_name(name)
    _check_struct(struct)
    checks = _Checks(timeout, mode & 0o7777, allow_foreign_owner)
    last: Optional[BaseException] = None
    for _ in range(16):
        try:
            return _open(struct, name, checks)
        except SegmentNotFound as e:
            last = e
        except CreatorDied as e:
            _remove_dead_half_initialised(name, checks)
            last = e
            continue
        try:
            return _create(struct, name, mode, init)
        except SegmentExists as e:
            last = e
    assert last is not None
    raise last


def _remove_dead_half_initialised(name: str, checks: _Checks) -> None:
    """Removes the half-initialised segment under ``name`` if, holding an exclusive ``flock``
    on it, it still passes the file checks, has the magic, header version 1 and state 0, its
    creator pid is still dead, and the name still refers to this very file. Otherwise leaves
    it alone (the caller goes round and ``open`` reports what is there)."""
    try:
        fd = _os_open(name)
    except SegmentNotFound:
        return
    try:
        st = os.fstat(fd)
        _check_file(name, st, checks)
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= checks.timeout:
                    raise OpenTimeout(
                        "timed out after %.3fs waiting for the lock on half-initialised segment %r" % (waited, name)
                    ) from None
                time.sleep(0.001)
        b = os.pread(fd, abi.HEADER_SIZE, 0)
        if len(b) == abi.HEADER_SIZE:
            h = abi.Header.from_buffer_copy(b)
            dead_and_unready = (
                bytes(h.magic) == abi.MAGIC
                and h.header_version == abi.HEADER_VERSION
                and h.state == abi.STATE_INITIALISING
                and not _creator_alive(h.creator_pid)
            )
            try:
                now = os.lstat(_path(name))
                same_file = (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)
            except FileNotFoundError:
                same_file = False
            if dead_and_unready and same_file:
                try:
                    os.unlink(_path(name))
                except FileNotFoundError:
                    pass
    finally:
        os.close(fd)  # also releases the flock


def remove(name: str) -> None:
    """Removes segment ``name`` from ``/dev/shm`` (like ``shm_unlink``); processes that have it
    mapped keep using it. :class:`shmgen.SegmentNotFound` if there is none."""
    validate_name(name)
    try:
        os.unlink(_path(name))
    except FileNotFoundError:
        raise SegmentNotFound("segment %r does not exist (no %s)" % (name, _path(name))) from None


def inspect(name: str) -> HeaderInfo:
    """Reads segment ``name``'s header without checking its layout (the magic and header
    version are still checked)."""
    validate_name(name)
    mm, file_size, _ = _open_file(name, None)
    try:
        h = abi.Header.from_buffer_copy(mm[: abi.HEADER_SIZE])
    finally:
        mm.close()
    if bytes(h.magic) != abi.MAGIC:
        raise BadMagic("segment %r is not a shmgen segment: its first bytes are %s" % (name, bytes(h.magic).hex(" ")))
    return _header_info(h, file_size)

