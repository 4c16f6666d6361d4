"""The ctypes types generated modules are built from, and the methods of every field kind.

Generated modules describe each struct as a :class:`Struct` (a ``ctypes.Structure``) whose
fields use these types:

==========================  ==================================  =============================
schema                      ctypes type                         what a field access gives
==========================  ==================================  =============================
``u8`` ... ``f64 bool``     ``ctypes.c_uint8`` ... ``c_bool``   ``int`` / ``float`` / ``bool``
``str[N]``                  :func:`str_type` (``c_char * N``)   ``str`` (setting checks size)
``bytes[N]``                :func:`bytes_type` (``c_uint8*N``)  ``bytes``
``[T; N]``                  :func:`array`                       an :class:`Array` view
a struct                    the generated :class:`Struct`       a live view
``atomic = true``           :class:`AtomicU64` ...              ``.add() .load() .store()``
``lock = "mutex"``          :func:`mutex_type`                  a :class:`Mutex` (``.lock()``)
``lock = "rmutex"``         :func:`rmutex_type`                 an :class:`RMutex`
``lock = "seqlock"``        :func:`seqlock_type`                a :class:`SeqLock`
``semaphore``               :func:`semaphore_type`              a :class:`Semaphore`
``event``                   :class:`Event`                      an :class:`Event`
``ring``                    :func:`ring_type`                   a :class:`Ring` (``.put() .get()``)
padding                     :func:`pad`                         (hidden)
==========================  ==================================  =============================

The bytes of every type are those of docs/FORMAT.md §4; generated modules check every size and
offset at import (:func:`verify_layout`).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import time
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    Generic,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
)

from . import _native as N
from . import abi
from .errors import LayoutError, LockNotRecoverable, LockTimeout, OwnerDied, ShmgenError
from .ring import RingOps

if TYPE_CHECKING:  # pragma: no cover
    from .segment import Segment

T = TypeVar("T")
V = TypeVar("V")
S = TypeVar("S", bound="Struct")

_addressof = ctypes.addressof
_sizeof = ctypes.sizeof
_SimpleCData = ctypes.c_int.__mro__[1]  # ctypes._SimpleCData
_StructType: Any = type(ctypes.Structure)
_ArrayType: Any = type(ctypes.Array)
_array_getitem: Any = ctypes.Array.__getitem__

__all__ = [
    "Struct",
    "Array",
    "Text",
    "Bytes",
    "Pad",
    "Ref",
    "Atomic",
    "AtomicU8",
    "AtomicI8",
    "AtomicU16",
    "AtomicI16",
    "AtomicU32",
    "AtomicI32",
    "AtomicU64",
    "AtomicI64",
    "AtomicBool",
    "Mutex",
    "RMutex",
    "Guard",
    "SeqLock",
    "Semaphore",
    "Event",
    "Ring",
    "array",
    "str_type",
    "bytes_type",
    "pad",
    "mutex_type",
    "rmutex_type",
    "seqlock_type",
    "semaphore_type",
    "ring_type",
    "verify_layout",
    "require_abi",
]


# ---------------------------------------------------------------------------------------------
# Text and bytes
# ---------------------------------------------------------------------------------------------


def encode_text(value: str, n: int, what: str = "str field") -> bytes:
    """UTF-8 encodes ``value`` and NUL-pads it to ``n`` bytes; ``ValueError`` if it does not
    fit (text is never cut, so a character is never split)."""
    if not isinstance(value, str):
        raise TypeError("%s takes str, not %s" % (what, type(value).__name__))
    b = value.encode("utf-8")
    if len(b) > n:
        raise ValueError(
            "%s holds at most %d bytes of UTF-8; %r is %d bytes" % (what, n, value, len(b))
        )
    if b"\x00" in b:
        raise ValueError("%s cannot hold NUL characters (NUL ends the text)" % what)
    return b + b"\x00" * (n - len(b))


def decode_text(raw: bytes) -> str:
    """The text in ``raw``: UTF-8 up to the first NUL (or all of it). Bytes that are not valid
    UTF-8 (written by a foreign writer) end the text: the longest valid prefix is returned, as
    the Rust runtime does."""
    end = raw.find(b"\x00")
    if end >= 0:
        raw = raw[:end]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return raw[: e.start].decode("utf-8")


def encode_bytes(value: Any, n: int, what: str = "bytes field") -> bytes:
    """``value`` (bytes-like) zero-padded to ``n`` bytes; ``ValueError`` if longer."""
    b = bytes(value)
    if len(b) > n:
        raise ValueError("%s holds at most %d bytes; got %d" % (what, n, len(b)))
    return b + b"\x00" * (n - len(b))


class Text:
    """Mixin of the ``str[N]`` types (``c_char * N``); made by :func:`str_type`."""

    _length_: ClassVar[int]

    @property
    def text(self) -> str:
        """The text (UTF-8 up to the first NUL)."""
        return decode_text(ctypes.string_at(_addressof(self), self._length_))  # type: ignore[arg-type]

    @text.setter
    def text(self, value: str) -> None:
        ctypes.memmove(_addressof(self), encode_text(value, self._length_), self._length_)  # type: ignore[arg-type]


class Bytes:
    """Mixin of the ``bytes[N]`` types (``c_uint8 * N``); made by :func:`bytes_type`."""

    _length_: ClassVar[int]

    @property
    def data(self) -> bytes:
        """The ``N`` bytes."""
        return ctypes.string_at(_addressof(self), self._length_)  # type: ignore[arg-type]

    @data.setter
    def data(self, value: bytes) -> None:
        ctypes.memmove(_addressof(self), encode_bytes(value, self._length_), self._length_)  # type: ignore[arg-type]


class Pad:
    """Mixin of explicit padding fields (``c_uint8 * N``); made by :func:`pad`. Hidden from
    views, never initialised, never read."""


_TYPE_CACHE: Dict[Any, Any] = {}


def _cached(key: Any, make: Callable[[], Any]) -> Any:
    t = _TYPE_CACHE.get(key)
    if t is None:
        t = _TYPE_CACHE[key] = make()
    return t


def str_type(n: int) -> Any:
    """The ``str[N]`` type: ``N`` bytes of NUL-padded UTF-8 (alignment 1)."""
    return _cached(
        ("str", n),
        lambda: _ArrayType("Str%d" % n, (Text, ctypes.Array), {"_type_": ctypes.c_char, "_length_": n}),
    )


def bytes_type(n: int) -> Any:
    """The ``bytes[N]`` type: ``N`` raw bytes (alignment 1)."""
    return _cached(
        ("bytes", n),
        lambda: _ArrayType("Bytes%d" % n, (Bytes, ctypes.Array), {"_type_": ctypes.c_uint8, "_length_": n}),
    )


def pad(n: int) -> Any:
    """``n`` bytes of explicit padding."""
    return _cached(
        ("pad", n),
        lambda: _ArrayType("Pad%d" % n, (Pad, ctypes.Array), {"_type_": ctypes.c_uint8, "_length_": n}),
    )


def _is_text(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, Text)


def _is_bytes(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, Bytes)


def _is_simple(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, _SimpleCData)


class _TextField:
    """Replaces the ctypes descriptor of a ``str[N]`` struct field: gives and takes ``str``."""

    __slots__ = ("name", "offset", "size", "_owner")

    def __init__(self, name: str, cfield: Any, owner: str) -> None:
        self.name = name
        self.offset = cfield.offset
        self.size = cfield.size
        self._owner = owner

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        return decode_text(ctypes.string_at(_addressof(obj) + self.offset, self.size))

    def __set__(self, obj: Any, value: str) -> None:
        data = encode_text(value, self.size, "%s.%s (str[%d])" % (self._owner, self.name, self.size))
        ctypes.memmove(_addressof(obj) + self.offset, data, self.size)


class _BytesField(_TextField):
    """Replaces the ctypes descriptor of a ``bytes[N]`` struct field: gives and takes ``bytes``."""

    __slots__ = ()

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        return ctypes.string_at(_addressof(obj) + self.offset, self.size)

    def __set__(self, obj: Any, value: Any) -> None:
        data = encode_bytes(value, self.size, "%s.%s (bytes[%d])" % (self._owner, self.name, self.size))
        ctypes.memmove(_addressof(obj) + self.offset, data, self.size)


# ---------------------------------------------------------------------------------------------
# Structs
# ---------------------------------------------------------------------------------------------


if TYPE_CHECKING:  # pragma: no cover
    from _ctypes import _PyCStructType as _StructMetaBase
else:
    _StructMetaBase = _StructType


class _StructMeta(_StructMetaBase):
    """Metaclass of :class:`Struct`: after ctypes has laid out ``_fields_``, swaps the
    descriptors of ``str[N]``/``bytes[N]`` fields for ones that give ``str``/``bytes``."""

    def __init__(cls, name: str, bases: Any, ns: Dict[str, Any], **kw: Any) -> None:
        super().__init__(name, bases, ns, **kw)
        fields = ns.get("_fields_")
        if fields is None:
            return
        for fname, ftype in fields:
            if _is_text(ftype):
                setattr(cls, fname, _TextField(fname, cls.__dict__[fname], name))
            elif _is_bytes(ftype):
                setattr(cls, fname, _BytesField(fname, cls.__dict__[fname], name))


def _field_items(t: Any) -> List[Tuple[str, Any, int]]:
    """``(name, type, offset)`` of a struct's non-padding fields."""
    out = []
    for fname, ftype in t._fields_:
        if isinstance(ftype, type) and issubclass(ftype, Pad):
            continue
        out.append((fname, ftype, getattr(t, fname).offset))
    return out


class Struct(ctypes.Structure, metaclass=_StructMeta):
    """Base class of generated structs (a ``ctypes.Structure``).

    A generated struct describes its layout with ``_fields_`` (with explicit padding fields) and
    these class attributes: ``_shmgen_name_``, ``_shmgen_size_``, ``_shmgen_align_`` (the
    layout table's numbers), ``_shmgen_fingerprint_`` (its fingerprint as a root),
    ``_shmgen_version_`` and ``_shmgen_schema_``.

    Any struct can be a segment's root: ``Metrics.create(name)``, ``Metrics.open(name)``,
    ``Metrics.open_or_create(name)`` return a :class:`shmgen.Segment`.
    """

    _shmgen_name_: ClassVar[str]
    _shmgen_size_: ClassVar[int]
    _shmgen_align_: ClassVar[int]
    _shmgen_fingerprint_: ClassVar[int]
    _shmgen_version_: ClassVar[int]
    _shmgen_schema_: ClassVar[str]

    @classmethod
    def create(
        cls: Type[S],
        name: str,
        *,
        mode: int = 0o600,
        init: Optional[Callable[[S], None]] = None,
    ) -> "Segment[S]":
        """Creates segment ``name`` holding a new, initialised ``cls``; ``SegmentExists`` if the
        name is taken. ``init(root)`` runs before anyone else can see the segment."""
        from .segment import create

        return create(cls, name, mode=mode, init=init)

    @classmethod
    def open(
        cls: Type[S],
        name: str,
        *,
        timeout: float = 5.0,
        mode: int = 0o600,
        allow_foreign_owner: bool = False,
    ) -> "Segment[S]":
        """Opens segment ``name``, checking that it holds a ``cls`` (same fingerprint), that
        the file is ours and grants nothing beyond ``mode``."""
        from .segment import open

        return open(cls, name, timeout=timeout, mode=mode, allow_foreign_owner=allow_foreign_owner)

    @classmethod
    def open_or_create(
        cls: Type[S],
        name: str,
        *,
        mode: int = 0o600,
        timeout: float = 5.0,
        init: Optional[Callable[[S], None]] = None,
        allow_foreign_owner: bool = False,
    ) -> "Segment[S]":
        """Opens segment ``name``, or creates it if it does not exist. Of several processes
        racing, exactly one creates it (``seg.is_creator``)."""
        from .segment import open_or_create

        return open_or_create(
            cls, name, mode=mode, timeout=timeout, init=init, allow_foreign_owner=allow_foreign_owner
        )

    def __repr__(self) -> str:
        parts = []
        for fname, ftype, _ in _field_items(type(self)):
            v = getattr(self, fname)
            if isinstance(v, _Primitive):
                parts.append("%s=<%s>" % (fname, type(v).__name__))
            else:
                parts.append("%s=%r" % (fname, v))
        return "%s(%s)" % (type(self).__name__, ", ".join(parts))


# ---------------------------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------------------------


class Array(Generic[T]):
    """Mixin of shmgen's fixed arrays (``ctypes.Array`` subclasses made by :func:`array`).

    Indexing gives elements (numbers, ``str``, ``bytes``, or live views of structs and inner
    arrays); ``len()``, iteration and slicing work as for ctypes arrays. :meth:`as_numpy`
    gives a zero-copy numpy view of a numeric array.
    """

    _type_: ClassVar[Any]
    _length_: ClassVar[int]

    if TYPE_CHECKING:  # pragma: no cover - ctypes implements these in C

        def __getitem__(self, i: int) -> T: ...

        def __setitem__(self, i: int, v: T) -> None: ...

        def __len__(self) -> int: ...

        def __iter__(self) -> Iterator[T]: ...

    @classmethod
    def dims(cls) -> Tuple[int, ...]:
        """The array's dimensions, outermost first."""
        out = [cls._length_]
        t = cls._type_
        while isinstance(t, type) and issubclass(t, Array):
            out.append(t._length_)
            t = t._type_
        return tuple(out)

    @classmethod
    def scalar_type(cls) -> Any:
        """The innermost element type."""
        t = cls._type_
        while isinstance(t, type) and issubclass(t, Array):
            t = t._type_
        return t

    def to_list(self) -> List[Any]:
        """The elements as a (nested) list of Python values (a copy)."""
        return [x.to_list() if isinstance(x, Array) else x for x in self]

    def as_numpy(self) -> Any:
        """A zero-copy ``numpy.ndarray`` view of this numeric array (shape :meth:`dims`).

        Writes through the view change shared memory. It is not synchronised: take the field's
        lock (if any) around uses. Needs numpy; ``TypeError`` for arrays of structs or text.
        """
        try:
            import numpy
        except ImportError as e:  # pragma: no cover - exercised only without numpy
            raise ImportError("Array.as_numpy() needs numpy (pip install numpy)") from e
        st = self.scalar_type()
        if not _is_simple(st) or st is ctypes.c_char:
            raise TypeError(
                "as_numpy() works on arrays of numbers and bools, not of %s" % getattr(st, "__name__", st)
            )
        dtype = numpy.dtype(st)
        return numpy.frombuffer(self, dtype=dtype).reshape(self.dims())  # type: ignore[call-overload]


class _TextArrayMixin:
    """Arrays of ``str[N]``: elements are ``str``."""

    _type_: ClassVar[Any]
    _length_: ClassVar[int]

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._length_))]
        return _array_getitem(self, i).text

    def __setitem__(self, i: int, v: Any) -> None:
        _array_getitem(self, i).text = v

    def __iter__(self) -> Iterator[Any]:
        for i in range(self._length_):
            yield self[i]


class _BytesArrayMixin(_TextArrayMixin):
    """Arrays of ``bytes[N]``: elements are ``bytes``."""

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._length_))]
        return _array_getitem(self, i).data

    def __setitem__(self, i: int, v: Any) -> None:
        _array_getitem(self, i).data = v


def array(elem: Any, n: int) -> Any:
    """``[elem; n]``: a ``ctypes.Array`` subclass with the :class:`Array` methods."""

    def make() -> Any:
        if _is_text(elem):
            bases: Tuple[Any, ...] = (_TextArrayMixin, Array, ctypes.Array)
        elif _is_bytes(elem):
            bases = (_BytesArrayMixin, Array, ctypes.Array)
        else:
            bases = (Array, ctypes.Array)
        return _ArrayType("%s_x%d" % (elem.__name__, n), bases, {"_type_": elem, "_length_": n})

    return _cached(("array", elem, n), make)


# ---------------------------------------------------------------------------------------------
# Primitives: common machinery
# ---------------------------------------------------------------------------------------------

_c_void_p = ctypes.c_void_p
_SEQ_CST = N.SEQ_CST
_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


class _Cached:
    """A lazily computed per-instance attribute: computed by ``make(obj)`` on first access and
    stored in the instance ``__dict__`` (ctypes instances have one), so later reads are plain
    dictionary hits."""

    def __init__(self, make: Callable[[Any], Any]) -> None:
        self._make = make
        self._name = make.__name__

    def __set_name__(self, owner: Any, name: str) -> None:
        self._name = name

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        v = obj.__dict__[self._name] = self._make(obj)
        return v


class _Primitive:
    """Mixin of the synchronised field types (atomics, locks, semaphores, events, rings).

    A primitive lives in shared memory: copying it is meaningless, so pickling one raises
    ``TypeError`` (pass the segment instead; it pickles by name).
    """

    _kind_: ClassVar[str] = ""

    @_Cached
    def _addr(self) -> int:
        return _addressof(self)  # type: ignore[arg-type]

    @_Cached
    def _vp(self) -> Any:
        # The address argument of the hot libatomic/pthread calls: a ``byref`` object, which
        # ctypes passes as it is (a ``c_void_p`` would make ctypes allocate a converter object
        # per call, about a tenth of the call's cost). It keeps this view (and the mapping)
        # alive.
        return ctypes.byref(self)  # type: ignore[arg-type]

    def _bind_fast(self) -> None:
        """Warms the per-instance caches (called on the segment's cached field views)."""
        self._vp  # noqa: B018

    def __reduce__(self) -> Any:
        raise TypeError(
            "a shmgen %s lives in shared memory and cannot be pickled (a copy would not be "
            "shared); pass the segment, which pickles by name, and take the field from it"
            % type(self).__name__
        )


class Ref(Generic[T]):
    """A live reference to a ``str`` or ``bytes`` value inside a lock: ``.value`` reads and
    writes shared memory (like ``multiprocessing.Value.value``)."""

    __slots__ = ("_obj", "_addr", "_get", "_set")

    def __init__(self, obj: Any, addr: int, get: Callable[[int], T], set: Callable[[int, T], None]) -> None:
        self._obj = obj  # keeps the mapping alive
        self._addr = addr
        self._get = get
        self._set = set

    @property
    def value(self) -> T:
        return self._get(self._addr)

    @value.setter
    def value(self, v: T) -> None:
        self._set(self._addr, v)

    def __repr__(self) -> str:
        return "Ref(%r)" % (self.value,)


def _value_accessors(vt: Any) -> Tuple[Callable[[int], Any], Callable[[int, Any], None], Callable[[Any], bytes]]:
    """For a value type: ``get(addr)``, ``set(addr, v)`` and ``to_bytes(v)`` (what a write
    stores; takes Python values or ctypes instances)."""
    size = _sizeof(vt)
    if _is_text(vt):
        n = vt._length_
        what = "str[%d] value" % n

        def to_bytes(v: Any) -> bytes:
            return encode_text(v, n, what)

        def get(a: int) -> Any:
            return decode_text(ctypes.string_at(a, n))

    elif _is_bytes(vt):
        n = vt._length_
        what = "bytes[%d] value" % n

        def to_bytes(v: Any) -> bytes:
            return encode_bytes(v, n, what)

        def get(a: int) -> Any:
            return ctypes.string_at(a, n)

    elif _is_simple(vt):

        def to_bytes(v: Any) -> bytes:
            if isinstance(v, vt):
                return bytes(v)
            return bytes(vt(v))

        def get(a: int) -> Any:
            return vt.from_address(a).value

    else:  # structs and arrays: a ctypes instance of the type, or (arrays) a sequence

        def to_bytes(v: Any) -> bytes:
            if isinstance(v, vt):
                return bytes(v)
            if isinstance(v, (bytes, bytearray, memoryview)):
                raise TypeError("write a %s instance, not raw bytes" % vt.__name__)
            if issubclass(vt, ctypes.Array):
                return bytes(_array_from(vt, v))
            raise TypeError("expected a %s, got %s" % (vt.__name__, type(v).__name__))

        def get(a: int) -> Any:
            return type(vt).from_buffer_copy(vt, ctypes.string_at(a, size))

    def set(a: int, v: Any) -> None:
        ctypes.memmove(a, to_bytes(v), size)

    return get, set, to_bytes


def _array_from(vt: Any, seq: Sequence[Any]) -> Any:
    """A new (private) instance of array type ``vt`` filled from a (nested) sequence."""
    if len(seq) != vt._length_:
        raise ValueError("%s needs %d elements, got %d" % (vt.__name__, vt._length_, len(seq)))
    out = vt()
    et = vt._type_
    nested = isinstance(et, type) and issubclass(et, ctypes.Array) and not (_is_text(et) or _is_bytes(et))
    for i, x in enumerate(seq):
        if nested and not isinstance(x, et):
            x = _array_from(et, x)
        out[i] = x
    return out


# ---------------------------------------------------------------------------------------------
# Atomics
# ---------------------------------------------------------------------------------------------


class Atomic(_Primitive):
    """An ``atomic = true`` integer: every access is one atomic instruction (sequentially
    consistent), safe against every other process and thread, Rust's and C's included.

    ``add(n=1)`` returns the value *before* the addition, like C's ``atomic_fetch_add`` and
    Rust's ``fetch_add``, and wraps around on overflow as the C type does. ``store``,
    ``exchange`` and ``compare_exchange`` raise ``OverflowError`` for values that do not fit.
    """

    _kind_ = "atomic"
    _ops_: ClassVar[N.AtomicOps]
    _bits_: ClassVar[int]
    _signed_: ClassVar[bool]
    # The raw libatomic functions (ctypes function objects are not descriptors: no binding).
    _fetch_add_: ClassVar[Any]
    _load_: ClassVar[Any]

    def load(self) -> int:
        """The current value."""
        return self._load_(self._vp, 5)  # type: ignore[no-any-return]

    def store(self, value: int) -> None:
        """Sets the value."""
        self._ops_.raw_store(self._vp, self._ops_.ctype(self._check(value)), _SEQ_CST)

    def add(self, n: int = 1) -> int:
        """Atomically adds ``n`` (may be negative); returns the previous value."""
        # Ints in the C int range go to ctypes as they are (no converter object); others as
        # the value type (ctypes would truncate them to 32 bits).
        if -2147483648 <= n <= 2147483647:
            return self._fetch_add_(self._vp, n, 5)  # type: ignore[no-any-return]
        return self._fetch_add_(self._vp, self._ops_.ctype(n), 5)  # type: ignore[no-any-return]

    def sub(self, n: int = 1) -> int:
        """Atomically subtracts ``n``; returns the previous value."""
        return self.add(-n)

    def exchange(self, value: int) -> int:
        """Atomically replaces the value; returns the previous one."""
        return self._ops_.raw_exchange(self._vp, self._ops_.ctype(self._check(value)), _SEQ_CST)  # type: ignore[no-any-return]

    def compare_exchange(self, expected: int, new: int) -> Tuple[bool, int]:
        """If the value is ``expected``, replaces it with ``new``. Returns ``(True, expected)``
        when it did, else ``(False, current value)``."""
        return self._ops_.compare_exchange(self._addr, self._check(expected), self._check(new))

    @property
    def value(self) -> int:
        """The current value (an atomic load); setting it is an atomic store."""
        return self.load()

    @value.setter
    def value(self, v: int) -> None:
        self.store(v)

    def _check(self, v: Any) -> Any:
        if self._signed_:
            lo, hi = -(1 << (self._bits_ - 1)), (1 << (self._bits_ - 1)) - 1
        else:
            lo, hi = 0, (1 << self._bits_) - 1
        if not lo <= v <= hi:
            raise OverflowError("%d does not fit %s" % (v, type(self).__name__))
        return v

    def __repr__(self) -> str:
        return "%s(%r)" % (type(self).__name__, self.load())


def _atomic_class(name: str, ctype: Any, bits: int, signed: bool) -> Any:
    return _StructType(
        name,
        (Atomic, ctypes.Structure),
        {
            "_fields_": [("_v", ctype)],
            "_ops_": N.atomic_ops(bits // 8, signed),
            "_fetch_add_": N.atomic_ops(bits // 8, signed).raw_fetch_add,
            "_load_": N.atomic_ops(bits // 8, signed).raw_load,
            "_bits_": bits,
            "_signed_": signed,
            "__doc__": "An atomic %s%d (``atomic = true``)." % ("i" if signed else "u", bits),
            "__module__": __name__,
        },
    )


if TYPE_CHECKING:  # pragma: no cover

    class AtomicU8(Atomic, ctypes.Structure): ...
    class AtomicI8(Atomic, ctypes.Structure): ...
    class AtomicU16(Atomic, ctypes.Structure): ...
    class AtomicI16(Atomic, ctypes.Structure): ...
    class AtomicU32(Atomic, ctypes.Structure): ...
    class AtomicI32(Atomic, ctypes.Structure): ...
    class AtomicU64(Atomic, ctypes.Structure): ...
    class AtomicI64(Atomic, ctypes.Structure): ...
else:
    AtomicU8 = _atomic_class("AtomicU8", ctypes.c_uint8, 8, False)
    AtomicI8 = _atomic_class("AtomicI8", ctypes.c_int8, 8, True)
    AtomicU16 = _atomic_class("AtomicU16", ctypes.c_uint16, 16, False)
    AtomicI16 = _atomic_class("AtomicI16", ctypes.c_int16, 16, True)
    AtomicU32 = _atomic_class("AtomicU32", ctypes.c_uint32, 32, False)
    AtomicI32 = _atomic_class("AtomicI32", ctypes.c_int32, 32, True)
    AtomicU64 = _atomic_class("AtomicU64", ctypes.c_uint64, 64, False)
    AtomicI64 = _atomic_class("AtomicI64", ctypes.c_int64, 64, True)


_BOOL_OPS = N.atomic_ops(1, ctypes.c_bool)


class AtomicBool(_Primitive, ctypes.Structure):
    """An atomic ``bool`` (``atomic = true``): ``load``, ``store``, ``exchange``,
    ``compare_exchange``, ``value``."""

    _kind_ = "atomic"
    _fields_ = [("_v", ctypes.c_bool)]

    def load(self) -> bool:
        """The current value."""
        return _BOOL_OPS.raw_load(self._vp, _SEQ_CST)  # type: ignore[no-any-return]

    def store(self, value: bool) -> None:
        """Sets the value."""
        _BOOL_OPS.raw_store(self._vp, ctypes.c_bool(bool(value)), _SEQ_CST)

    def exchange(self, value: bool) -> bool:
        """Atomically replaces the value; returns the previous one."""
        return _BOOL_OPS.raw_exchange(self._vp, ctypes.c_bool(bool(value)), _SEQ_CST)  # type: ignore[no-any-return]

    def compare_exchange(self, expected: bool, new: bool) -> Tuple[bool, bool]:
        """If the value is ``expected``, sets ``new``: ``(True, expected)``, else
        ``(False, current)``."""
        ok, cur = _BOOL_OPS.compare_exchange(self._addr, bool(expected), bool(new))
        return ok, bool(cur)

    @property
    def value(self) -> bool:
        """The current value; setting it is an atomic store."""
        return self.load()

    @value.setter
    def value(self, v: bool) -> None:
        self.store(v)

    def __repr__(self) -> str:
        return "AtomicBool(%r)" % self.load()


# ---------------------------------------------------------------------------------------------
# Mutexes
# ---------------------------------------------------------------------------------------------

_EBUSY = errno.EBUSY
_EOWNERDEAD = errno.EOWNERDEAD
_ENOTRECOVERABLE = errno.ENOTRECOVERABLE
_ETIMEDOUT = errno.ETIMEDOUT
_EPERM = errno.EPERM
_trylock = N.mutex_trylock
_unlock = N.mutex_unlock
#: A blocking lock waits in slices this long, so Ctrl-C (and other signals) are handled.
_LOCK_SLICE = 0.2
#: How many times a contended lock() retries trylock before sleeping in the kernel.
_SPIN = 2


class Guard(Generic[V]):
    """What :meth:`Mutex.lock` returns while this thread holds the lock.

    A context manager: ``with m.lock() as value:`` gives the protected value and releases at
    the end of the block. ``guard.value`` is the same value; ``guard.release()`` releases
    early. Releasing a lock this thread does not hold raises :class:`shmgen.ShmgenError`.

    The value is a live view of shared memory: the ctypes struct or array itself, the ctypes
    scalar (``c_uint64`` ...) whose ``.value`` reads and writes the number, or a :class:`Ref`
    whose ``.value`` is the ``str`` / ``bytes``. Do not keep it after releasing.
    """

    __slots__ = ("_m", "_vp", "_value")

    def __init__(self, m: "Mutex[V]") -> None:
        self._m = m
        self._vp = m._vp
        self._value = m._make_view()

    @property
    def value(self) -> V:
        """The protected value (see the class documentation)."""
        return self._value  # type: ignore[no-any-return]

    def __enter__(self) -> V:
        return self._value  # type: ignore[no-any-return]

    def __exit__(self, t: object, v: object, tb: object) -> None:
        if _unlock(self._vp):
            self._m._unlock_failed()

    def release(self) -> None:
        """Releases the lock."""
        if _unlock(self._vp):
            self._m._unlock_failed()


class Mutex(_Primitive, Generic[V]):
    """A value with its own robust, process-shared mutex (``lock = "mutex"``, like
    ``multiprocessing.Lock``).

    ``with m.lock() as v: ...`` -- ``v`` is the protected value (see :class:`Guard`). If the
    previous holder died holding the lock, ``lock()`` raises :class:`shmgen.OwnerDied`, which
    holds the lock: repair the value and release (``with died as v: ...``). ``try_lock()``
    returns ``None`` when the lock is busy; ``lock(timeout=s)`` raises
    :class:`shmgen.LockTimeout` after ``s`` seconds. ``acquire()``/``release()`` work as for
    ``multiprocessing.Lock``.

    A waiting ``lock()`` sleeps in the kernel (the GIL is released) and wakes every 0.2 s to
    let Python handle signals such as Ctrl-C.
    """

    _kind_ = "mutex"
    _recursive_: ClassVar[bool] = False
    _value_type_: ClassVar[Any]
    _value_offset_: ClassVar[int]

    @_Cached
    def _guard(self) -> Guard[V]:
        return Guard(self)

    def lock(self, timeout: Optional[float] = None) -> Guard[V]:
        """Acquires the lock, waiting at most ``timeout`` seconds (``None``: for ever), and
        returns the :class:`Guard`."""
        rc = _trylock(self._vp)
        if rc:
            self._lock_slow(rc, timeout)
        return self._guard  # type: ignore[no-any-return]

    def try_lock(self) -> Optional[Guard[V]]:
        """Acquires the lock if it is free and returns the :class:`Guard`, else ``None``."""
        rc = _trylock(self._vp)
        if rc:
            if rc == _EBUSY:
                return None
            self._lock_failed(rc)
        return self._guard  # type: ignore[no-any-return]

    def acquire(self, block: bool = True, timeout: Optional[float] = None) -> bool:
        """``multiprocessing.Lock.acquire`` style: ``True`` when acquired, ``False`` when not
        (``block=False`` or the timeout passed). Release with :meth:`release`. Raises
        ``OwnerDied`` (holding the lock) as :meth:`lock` does."""
        rc = _trylock(self._vp)
        if rc == 0:
            return True
        if rc == _EBUSY:
            if not block:
                return False
            try:
                self._lock_slow(rc, timeout)
            except LockTimeout:
                return False
            return True
        self._lock_failed(rc)
        return True  # pragma: no cover - _lock_failed always raises

    def release(self) -> None:
        """Releases the lock (taken with :meth:`acquire` or :meth:`lock`)."""
        if _unlock(self._vp):
            self._unlock_failed()

    @property
    def value(self) -> V:
        """The protected value, *without* taking the lock (for inspection and for
        ``init=`` callbacks, where nobody else can see the segment yet)."""
        return self._make_view()  # type: ignore[no-any-return]

    def _lock_slow(self, rc: int, timeout: Optional[float]) -> None:
        vp = self._vp
        if rc == _EBUSY:
            for _ in range(_SPIN):
                rc = _trylock(vp)
                if rc != _EBUSY:
                    break
        if rc == _EBUSY:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                if deadline is None:
                    step = _LOCK_SLICE
                else:
                    step = min(_LOCK_SLICE, deadline - time.monotonic())
                    if step <= 0:
                        raise LockTimeout(
                            "%s: timed out after %ss waiting for the lock" % (self._describe(), timeout)
                        )
                rc = N.mutex_timedlock(vp, ctypes.byref(N.deadline_timespec(step)))
                if rc != _ETIMEDOUT:
                    break
        if rc:
            self._lock_failed(rc)

    def _lock_failed(self, rc: int) -> None:
        if rc == _EOWNERDEAD:
            # We hold the lock. Make it consistent at once, so it keeps working whatever the
            # caller does with the exception, then report the death.
            N.mutex_consistent(self._vp)
            raise OwnerDied(self._guard, self._describe())
        if rc == _ENOTRECOVERABLE:
            raise LockNotRecoverable("%s: the mutex is not recoverable (ENOTRECOVERABLE)" % self._describe())
        if rc == errno.EDEADLK:
            raise ShmgenError("%s: this thread already holds this (non-reentrant) lock" % self._describe())
        raise OSError(rc, "%s: pthread_mutex_lock failed: %s" % (self._describe(), errno.errorcode.get(rc, rc)))

    def _unlock_failed(self) -> None:
        raise ShmgenError("%s: release() by a thread that does not hold the lock" % self._describe())

    def _describe(self) -> str:
        return "%s at 0x%x" % (type(self).__name__, self._addr)

    def _make_view(self) -> Any:
        vt = self._value_type_
        if _is_text(vt) or _is_bytes(vt):
            get, set_, _ = _value_accessors(vt)
            return Ref(self, self._addr + self._value_offset_, get, set_)
        # Scalars: the ctypes scalar itself (``.value`` reads and writes shared memory);
        # structs and arrays: their live view.
        # Through the metaclass: a struct field named `from_buffer` would shadow the method.
        return type(vt).from_buffer(vt, self, self._value_offset_)

    def __repr__(self) -> str:
        return "<%s of %s>" % (type(self).__name__, self._value_type_.__name__)


class RMutex(Mutex[V]):
    """A reentrant robust mutex (``lock = "rmutex"``, like ``multiprocessing.RLock``): the
    thread holding it may lock it again; every ``lock()`` needs its release."""

    _kind_ = "rmutex"
    _recursive_ = True


def _composite_fields(parts: List[Tuple[str, Any, int]], size: int) -> List[Tuple[str, Any]]:
    """``_fields_`` from ``(name, type, offset)`` parts, with explicit padding between them and
    up to ``size``."""
    fields: List[Tuple[str, Any]] = []
    at = 0
    for i, (name, t, off) in enumerate(parts):
        if off < at:
            raise LayoutError("internal: overlapping parts at %d" % off)
        if off > at:
            fields.append(("_pad%d" % i, pad(off - at)))
        fields.append((name, t))
        at = off + _sizeof(t)
    if size > at:
        fields.append(("_tail", pad(size - at)))
    return fields


def _type_align(t: Any, align: Optional[int]) -> int:
    return align if align is not None else getattr(t, "_shmgen_align_", None) or ctypes.alignment(t)


_RawMutex = ctypes.c_uint64 * (abi.RAW_MUTEX_SIZE // 8)  # 48 bytes, alignment 8


def _mutex_class(base: Any, value_type: Any, align: Optional[int]) -> Any:
    a = _type_align(value_type, align)
    c = abi.mutex_layout(_sizeof(value_type), a)
    fields = _composite_fields([("_raw", _RawMutex, 0), ("_value", value_type, c.value_offset)], c.size)
    t = _StructType(
        "%s_%s" % (base.__name__, value_type.__name__),
        (base, ctypes.Structure),
        {
            "_fields_": fields,
            "_value_type_": value_type,
            "_value_offset_": c.value_offset,
            "_shmgen_align_": c.align,
            "__module__": __name__,
        },
    )
    if _sizeof(t) != c.size:  # pragma: no cover - a ctypes/FORMAT disagreement
        raise LayoutError("%s: ctypes size %d, FORMAT.md size %d" % (t.__name__, _sizeof(t), c.size))
    return t


def mutex_type(value_type: Any, align: Optional[int] = None) -> Any:
    """``Mutex<T>`` for value type ``T`` whose alignment (from the layout table) is ``align``."""
    return _cached(("mutex", value_type, align), lambda: _mutex_class(Mutex, value_type, align))


def rmutex_type(value_type: Any, align: Optional[int] = None) -> Any:
    """``RMutex<T>``."""
    return _cached(("rmutex", value_type, align), lambda: _mutex_class(RMutex, value_type, align))


# ---------------------------------------------------------------------------------------------
# SeqLock
# ---------------------------------------------------------------------------------------------

_load8 = N.U64.load
_store8 = N.U64.store


class SeqLock(_Primitive, Generic[V]):
    """A seqlock-protected value (``lock = "seqlock"``): one writer at a time; readers never
    block and never see a torn value.

    ``read()`` returns a copy of the value (``int``/``float``/``bool``, ``str``, ``bytes``, or a
    private ctypes instance for structs and arrays); ``write(v)`` stores a whole new value
    (a Python value, a ctypes instance of the type, or for arrays a sequence).
    """

    _kind_ = "seqlock"
    _value_type_: ClassVar[Any]
    _value_offset_: ClassVar[int]
    _value_size_: ClassVar[int]
    _get_: ClassVar[Callable[[int], Any]]
    _to_bytes_: ClassVar[Callable[[Any], bytes]]

    def read(self) -> V:
        """The current value (a copy); retries while a writer publishes a new one."""
        addr = self._addr
        copies = addr + self._value_offset_
        size = self._value_size_
        string_at = ctypes.string_at
        while True:
            s1 = _load8(addr)
            data = string_at(copies + (s1 & 1) * size, size)
            N.acquire_fence()
            if _load8(addr) == s1:
                break
        return self._from_bytes(data)  # type: ignore[no-any-return]

    @_Cached
    def _writer_vp(self) -> Any:
        return ctypes.byref(self, 8)  # type: ignore[arg-type]  # the writer mutex (see _vp)

    def write(self, value: V) -> None:
        """Publishes a new value (readers switch to it atomically). Writers take turns on the
        seqlock's robust writer mutex; if a writer died holding it, the mutex is made
        consistent and the write goes on (a dead writer never published a torn value)."""
        data = type(self)._to_bytes_(value)
        addr = self._addr
        w = self._writer_vp
        rc = _trylock(w)
        if rc == _EBUSY:
            rc = N.mutex_lock(w)
        if rc == _EOWNERDEAD:
            N.mutex_consistent(w)
        elif rc:
            raise OSError(rc, "SeqLock writer mutex: lock failed: %s" % errno.errorcode.get(rc, rc))
        try:
            s = _load8(addr)
            size = self._value_size_
            N.release_fence()
            ctypes.memmove(addr + self._value_offset_ + ((s + 1) & 1) * size, data, size)
            _store8(addr, s + 1, N.RELEASE)
        finally:
            _unlock(w)

    @property
    def sequence(self) -> int:
        """The sequence number (how many writes so far)."""
        return _load8(self._addr)  # type: ignore[no-any-return]

    def _from_bytes(self, data: bytes) -> Any:
        vt = self._value_type_
        if _is_text(vt):
            return decode_text(data)
        if _is_bytes(vt):
            return data
        if _is_simple(vt):
            return vt.from_buffer_copy(data).value
        return type(vt).from_buffer_copy(vt, data)

    def __repr__(self) -> str:
        return "<SeqLock %r>" % (self.read(),)


def seqlock_type(value_type: Any, align: Optional[int] = None) -> Any:
    """``SeqLock<T>``."""

    def make() -> Any:
        a = _type_align(value_type, align)
        c = abi.seqlock_layout(_sizeof(value_type), a)
        fields = _composite_fields(
            [("_seq", ctypes.c_uint64, 0), ("_writer", _RawMutex, 8), ("_copies", value_type * 2, c.value_offset)],
            c.size,
        )
        _, _, to_bytes = _value_accessors(value_type)
        t = _StructType(
            "SeqLock_%s" % value_type.__name__,
            (SeqLock, ctypes.Structure),
            {
                "_fields_": fields,
                "_value_type_": value_type,
                "_value_offset_": c.value_offset,
                "_value_size_": _sizeof(value_type),
                "_to_bytes_": staticmethod(to_bytes),
                "_shmgen_align_": c.align,
            },
        )
        if _sizeof(t) != c.size:  # pragma: no cover
            raise LayoutError("%s: ctypes size %d, FORMAT.md size %d" % (t.__name__, _sizeof(t), c.size))
        return t

    return _cached(("seqlock", value_type, align), make)


# ---------------------------------------------------------------------------------------------
# Semaphore and Event
# ---------------------------------------------------------------------------------------------

_U32 = N.U32
_EAGAIN = errno.EAGAIN
_EINTR = errno.EINTR


def _remaining(deadline: Optional[float]) -> Optional[float]:
    if deadline is None:
        return None
    return deadline - time.monotonic()


class Semaphore(_Primitive, ctypes.Structure):
    """A counting semaphore (``semaphore``, ``initial = K``), like
    ``multiprocessing.Semaphore``: ``acquire(block=True, timeout=None)``, ``release()``,
    ``value``, and ``with sem:``."""

    _kind_ = "semaphore"
    _fields_ = [("_count", ctypes.c_uint32), ("_waiters", ctypes.c_uint32)]
    _initial_: ClassVar[int] = 0

    def acquire(self, block: bool = True, timeout: Optional[float] = None) -> bool:
        """Decrements the count, waiting (at most ``timeout`` seconds) while it is 0.
        Returns ``False`` on timeout or, with ``block=False``, when the count is 0."""
        count = self._addr
        waiters = count + 4
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            c = _U32.load(count)
            if c > 0:
                if _U32.compare_exchange(count, c, c - 1)[0]:
                    return True
                continue
            if not block:
                return False
            left = _remaining(deadline)
            if left is not None and left <= 0:
                return False
            _U32.fetch_add(waiters, 1)
            try:
                N.futex_wait(count, 0, left)
            finally:
                _U32.fetch_add(waiters, -1)

    def release(self, n: int = 1) -> None:
        """Increments the count by ``n`` and wakes up to ``n`` waiters."""
        if n < 1:
            raise ValueError("release(n) needs n >= 1")
        count = self._addr
        while True:  # count += n, saturating at u32::MAX (FORMAT.md)
            c = _U32.load(count)
            if _U32.compare_exchange(count, c, min(c + n, 0xFFFFFFFF))[0]:
                break
        if _U32.load(count + 4) > 0:
            N.futex_wake(count, n)

    @property
    def value(self) -> int:
        """The current count."""
        return _U32.load(self._addr)  # type: ignore[no-any-return]

    def get_value(self) -> int:
        """The current count (``multiprocessing.Semaphore.get_value``)."""
        return self.value

    def __enter__(self) -> "Semaphore":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return "<Semaphore value=%d>" % self.value


def semaphore_type(initial: int = 0) -> Any:
    """The semaphore type whose new segments start with count ``initial``."""
    if initial == 0:
        return Semaphore
    if not 0 <= initial <= 0xFFFFFFFF:
        raise ValueError("semaphore initial count %d does not fit u32" % initial)
    return _cached(
        ("semaphore", initial),
        lambda: _StructType("Semaphore_%d" % initial, (Semaphore,), {"_initial_": initial}),
    )


class Event(_Primitive, ctypes.Structure):
    """A set/clear/wait flag (``event``), like ``multiprocessing.Event``."""

    _kind_ = "event"
    _fields_ = [("_state", ctypes.c_uint32), ("_waiters", ctypes.c_uint32)]

    def set(self) -> None:
        """Sets the flag and wakes every waiter."""
        a = self._addr
        _U32.store(a, 1)
        if _U32.load(a + 4) > 0:
            N.futex_wake(a, N.INT_MAX)

    def clear(self) -> None:
        """Clears the flag."""
        _U32.store(self._addr, 0)

    def is_set(self) -> bool:
        """Whether the flag is set."""
        return bool(_U32.load(self._addr) != 0)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits until the flag is set (at most ``timeout`` seconds). Returns whether it is."""
        a = self._addr
        deadline = None if timeout is None else time.monotonic() + timeout
        while _U32.load(a) == 0:
            left = _remaining(deadline)
            if left is not None and left <= 0:
                return False
            _U32.fetch_add(a + 4, 1)
            try:
                N.futex_wait(a, 0, left)
            finally:
                _U32.fetch_add(a + 4, -1)
        return True

    def __repr__(self) -> str:
        return "<Event %s>" % ("set" if self.is_set() else "clear")


# ---------------------------------------------------------------------------------------------
# Ring
# ---------------------------------------------------------------------------------------------


class Ring(RingOps, _Primitive, Generic[V]):
    """A bounded FIFO (``ring``, ``item = T``, ``capacity = N``), like ``multiprocessing.Queue``:
    ``put``/``get`` (with ``block``/``timeout``), ``put_nowait``/``get_nowait``, ``put_many``/
    ``get_many``, ``qsize``/``empty``/``full``, ``close``. Implemented in :mod:`shmgen.ring`.
    """

    def _bind_fast(self) -> None:
        self._bind_ring()

    _kind_ = "ring"
    _item_type_: ClassVar[Any]
    _slot_type_: ClassVar[Any]
    _capacity_: ClassVar[int]

    @property
    def capacity(self) -> int:
        """The number of slots."""
        return self._capacity_

    def __repr__(self) -> str:
        return "<Ring of %d x %s>" % (self._capacity_, self._item_type_.__name__)


def ring_type(item_type: Any, capacity: int, align: Optional[int] = None) -> Any:
    """``Ring<T, N>``: the 192-byte control block, then ``N`` ``{ u64 seq; T item }`` slots."""

    def make() -> Any:
        a = _type_align(item_type, align)
        slot = abi.ring_slot_layout(_sizeof(item_type), a)
        slot_t = _StructType(
            "RingSlot_%s" % item_type.__name__,
            (ctypes.Structure,),
            {"_fields_": _composite_fields([("seq", ctypes.c_uint64, 0), ("item", item_type, slot.value_offset)], slot.size)},
        )
        c = abi.ring_layout(_sizeof(item_type), a, capacity)
        u32, u64 = ctypes.c_uint32, ctypes.c_uint64
        parts = [
            ("_head", u64, 0),
            ("_head_futex", u32, 8),
            ("_head_waiters", u32, 12),
            ("_tail", u64, 64),
            ("_tail_futex", u32, 72),
            ("_tail_waiters", u32, 76),
            ("_capacity", u64, 128),
            ("_slot_size", u64, 136),
            ("_closed", u32, 144),
            ("_slots", slot_t * capacity, c.value_offset),
        ]
        t = _StructType(
            "Ring_%s_%d" % (item_type.__name__, capacity),
            (Ring, ctypes.Structure),
            {
                "_fields_": _composite_fields(parts, c.size),
                "_item_type_": item_type,
                "_slot_type_": slot_t,
                "_capacity_": capacity,
                "_slot_size_": slot.size,
                "_slot_item_offset_": slot.value_offset,
                "_shmgen_align_": c.align,
            },
        )
        if _sizeof(t) != c.size or _sizeof(slot_t) != slot.size:  # pragma: no cover
            raise LayoutError("%s: ctypes size %d, FORMAT.md size %d" % (t.__name__, _sizeof(t), c.size))
        return t

    return _cached(("ring", item_type, capacity, align), make)


# ---------------------------------------------------------------------------------------------
# In-place initialisation (FORMAT.md §3 step 4), mirroring shmgen_runtime's Initialiser
# ---------------------------------------------------------------------------------------------

_NEEDS_INIT: Dict[Any, bool] = {}


def needs_init(t: Any) -> bool:
    """Whether a new segment must initialise something inside type ``t``."""
    r = _NEEDS_INIT.get(t)
    if r is None:
        if isinstance(t, type) and issubclass(t, (Mutex, SeqLock, Ring)):
            r = True
        elif isinstance(t, type) and issubclass(t, Semaphore):
            r = t._initial_ != 0
        elif isinstance(t, type) and issubclass(t, ctypes.Structure) and not issubclass(t, _Primitive):
            r = any(needs_init(ft) for _, ft, _ in _field_items(t))
        elif isinstance(t, type) and issubclass(t, ctypes.Array) and not issubclass(t, (Text, Bytes, Pad)):
            r = needs_init(t._type_)
        else:
            r = False
        _NEEDS_INIT[t] = r
    return r


def init_in_place(t: Any, addr: int) -> None:
    """Initialises every primitive of a value of type ``t`` at ``addr`` (zeroed memory nobody
    else uses yet): mutexes, seqlock writer mutexes, semaphore counts, ring metadata and slot
    sequence numbers, walking struct fields, array elements, locked values and ring items."""
    if not needs_init(t):
        return
    if issubclass(t, Mutex):
        N.mutex_init(addr, t._recursive_)
        init_in_place(t._value_type_, addr + t._value_offset_)
    elif issubclass(t, SeqLock):
        N.mutex_init(addr + 8, False)
        init_in_place(t._value_type_, addr + t._value_offset_)
        init_in_place(t._value_type_, addr + t._value_offset_ + t._value_size_)
    elif issubclass(t, Semaphore):
        ctypes.c_uint32.from_address(addr).value = t._initial_
    elif issubclass(t, Ring):
        ctypes.c_uint64.from_address(addr + 128).value = t._capacity_
        ctypes.c_uint64.from_address(addr + 136).value = t._slot_size_
        first = addr + t._slots.offset
        step = t._slot_size_
        item_t = t._item_type_
        deep = needs_init(item_t)
        from_address = ctypes.c_uint64.from_address
        for i in range(t._capacity_):
            s = first + i * step
            from_address(s).value = i
            if deep:
                init_in_place(item_t, s + t._slot_item_offset_)
    elif issubclass(t, ctypes.Array):
        et = t._type_
        step = _sizeof(et)
        for i in range(t._length_):
            init_in_place(et, addr + i * step)
    else:
        for _, ft, off in _field_items(t):
            init_in_place(ft, addr + off)


def mutex_addresses(t: Any, addr: int) -> Iterator[int]:
    """The address of every ``pthread_mutex_t`` inside a value of type ``t`` at ``addr``
    (mutexes, rmutexes and seqlock writer mutexes, walking as :func:`init_in_place` does)."""
    if not needs_init(t):
        return
    if issubclass(t, Mutex):
        yield addr
        yield from mutex_addresses(t._value_type_, addr + t._value_offset_)
    elif issubclass(t, SeqLock):
        yield addr + 8
        yield from mutex_addresses(t._value_type_, addr + t._value_offset_)
        yield from mutex_addresses(t._value_type_, addr + t._value_offset_ + t._value_size_)
    elif issubclass(t, Ring):
        if needs_init(t._item_type_):
            first = addr + t._slots.offset + t._slot_item_offset_
            for i in range(t._capacity_):
                yield from mutex_addresses(t._item_type_, first + i * t._slot_size_)
    elif issubclass(t, (Semaphore, Event)):
        return
    elif issubclass(t, ctypes.Array):
        et = t._type_
        step = _sizeof(et)
        for i in range(t._length_):
            yield from mutex_addresses(et, addr + i * step)
    else:
        for _, ft, off in _field_items(t):
            yield from mutex_addresses(ft, addr + off)


_FUTEX_TID_MASK = 0x3FFFFFFF


def held_by_this_process(t: Any, addr: int) -> bool:
    """Whether a thread of this process holds one of the mutexes inside the value at ``addr``
    (glibc keeps the owner's thread id in the low bits of the lock word)."""
    for a in mutex_addresses(t, addr):
        tid = ctypes.c_uint32.from_address(a).value & _FUTEX_TID_MASK
        if tid and os.path.exists("/proc/self/task/%d" % tid):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Import-time checks used by generated modules
# ---------------------------------------------------------------------------------------------


def require_abi(header_version: int, lock_abi: str, generator: str = "") -> None:
    """Called first by every generated module: the module's format must be this runtime's."""
    if header_version != abi.HEADER_VERSION or lock_abi != abi.LOCK_ABI:
        raise LayoutError(
            "this module was generated%s for segment header version %d and lock ABI %r, but "
            "the installed shmgen runtime implements header version %d and lock ABI %r; "
            "regenerate it or install the matching shmgen"
            % (" by " + generator if generator else "", header_version, lock_abi, abi.HEADER_VERSION, abi.LOCK_ABI)
        )


def verify_layout(
    struct: Any,
    size: int,
    align: int,
    fields: Sequence[Tuple[str, int, int, int]],
) -> None:
    """Checks what ctypes computed for ``struct`` against shmgen's layout table: its size, that
    its ctypes alignment divides the table's ``align``, and every ``(name, offset, size, align)``
    field: ctypes offset equal, ctypes size not larger than the table's slot size, offset a
    multiple of the field's alignment. Raises :class:`shmgen.LayoutError` (an ``ImportError``)
    naming both numbers; unlike ``assert`` it also runs under ``python -O``."""
    name = struct.__name__
    problems = []
    if _sizeof(struct) != size:
        problems.append("sizeof(%s) is %d in ctypes but %d in the layout table" % (name, _sizeof(struct), size))
    ca = ctypes.alignment(struct)
    if align % ca:
        problems.append("alignment of %s is %d in ctypes, which does not divide the table's %d" % (name, ca, align))
    if getattr(struct, "_shmgen_size_", size) != size or getattr(struct, "_shmgen_align_", align) != align:
        problems.append("%s: class attributes disagree with the table" % name)
    seen = set()
    for fname, off, fsize, falign in fields:
        seen.add(fname)
        d = struct.__dict__.get(fname)
        if d is None or not hasattr(d, "offset"):
            problems.append("%s.%s: no such ctypes field" % (name, fname))
            continue
        if d.offset != off:
            problems.append("offset of %s.%s is %d in ctypes but %d in the layout table" % (name, fname, d.offset, off))
        if d.size > fsize:
            problems.append("size of %s.%s is %d in ctypes but the table's slot is %d" % (name, fname, d.size, fsize))
        if off % falign:
            problems.append("%s.%s: offset %d is not a multiple of its alignment %d" % (name, fname, off, falign))
    for fname, _, _ in _field_items(struct):
        if fname not in seen:
            problems.append("%s.%s is not in the layout table" % (name, fname))
    if problems:
        raise LayoutError("layout check failed for %s: %s" % (name, "; ".join(problems)))

