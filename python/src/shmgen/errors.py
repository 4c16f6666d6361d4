"""The exceptions of the shmgen runtime.

Every segment error names the segment and, for mismatches, both sides (what the segment's
header says and what this program's generated module expects), like the Rust runtime's
``shmgen_runtime::Error``. Fingerprints are always printed as ``0x%016x``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .types import Guard

__all__ = [
    "ShmgenError",
    "InvalidName",
    "SegmentNotFound",
    "SegmentExists",
    "NotRegularFile",
    "ForeignOwner",
    "TooPermissive",
    "BadMagic",
    "UnsupportedHeaderVersion",
    "Truncated",
    "CorruptHeader",
    "LayoutMismatch",
    "CreatorDied",
    "OpenTimeout",
    "LayoutError",
    "OwnerDied",
    "LockTimeout",
    "LockNotRecoverable",
    "LayoutId",
]


class ShmgenError(Exception):
    """Base class of every error the shmgen runtime raises."""


class InvalidName(ShmgenError, ValueError):
    """A segment name is not 1 to 200 of ``[A-Za-z0-9._-]`` not starting with ``.``."""


class SegmentNotFound(ShmgenError, FileNotFoundError):
    """``open``: no segment with this name exists."""


class SegmentExists(ShmgenError, FileExistsError):
    """``create``: a segment with this name already exists."""


class NotRegularFile(ShmgenError):
    """``/dev/shm/NAME`` is a symbolic link, a directory or another non-regular file."""


class ForeignOwner(ShmgenError, PermissionError):
    """The segment file belongs to another user, who can rewrite its bytes and permissions at
    will. Refused unless the opener passes ``allow_foreign_owner=True``."""

    def __init__(self, name: str, owner: int, expected: int) -> None:
        super().__init__(
            "segment %r: /dev/shm/%s is owned by uid %d, not by this process's effective uid %d; "
            "refusing a segment another user controls (allow_foreign_owner=True accepts it)"
            % (name, name, owner, expected)
        )
        self.name = name
        self.owner = owner
        self.expected = expected


class TooPermissive(ShmgenError, PermissionError):
    """The segment file grants permission bits beyond the opener's ``mode`` (default
    ``0o600``), e.g. a group- or world-writable file anyone could scribble on."""

    def __init__(self, name: str, mode: int, allowed: int) -> None:
        extra = mode & ~allowed
        super().__init__(
            "segment %r: /dev/shm/%s has mode 0o%03o, which grants 0o%03o beyond the allowed "
            "0o%03o; refusing a segment others may read or write (chmod it, or open with "
            "mode=0o%03o to accept)" % (name, name, mode, extra, allowed, mode)
        )
        self.name = name
        self.mode = mode
        self.allowed = allowed
        self.extra = extra


class BadMagic(ShmgenError):
    """The file does not start with shmgen's magic bytes: it is not a shmgen segment."""


class UnsupportedHeaderVersion(ShmgenError):
    """The segment header has a version this runtime does not implement."""


class Truncated(ShmgenError):
    """The file is shorter than the header or the layout needs."""


class CorruptHeader(ShmgenError):
    """The header is internally inconsistent (bad state, payload offset, ...)."""


class LayoutId:
    """What identifies a layout: root struct name, user version, fingerprint, payload size.

    ``str()`` gives ``Metrics v1 (fingerprint 0x0123456789abcdef, 1400 bytes)``, the same text
    as the Rust runtime.
    """

    __slots__ = ("root", "version", "fingerprint", "payload_size")

    def __init__(self, root: str, version: int, fingerprint: int, payload_size: int) -> None:
        self.root = root
        self.version = version
        self.fingerprint = fingerprint
        self.payload_size = payload_size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayoutId):
            return NotImplemented
        return (self.root, self.version, self.fingerprint, self.payload_size) == (
            other.root,
            other.version,
            other.fingerprint,
            other.payload_size,
        )

    def __hash__(self) -> int:
        return hash((self.root, self.version, self.fingerprint, self.payload_size))

    def __str__(self) -> str:
        return "%s v%d (fingerprint 0x%016x, %d bytes)" % (
            self.root,
            self.version,
            self.fingerprint,
            self.payload_size,
        )

    def __repr__(self) -> str:
        return "LayoutId(%r, %d, 0x%016x, %d)" % (
            self.root,
            self.version,
            self.fingerprint,
            self.payload_size,
        )


class LayoutMismatch(ShmgenError):
    """The segment holds another layout than this program expects.

    ``found`` is what the segment's header says, ``expected`` what the generated module says;
    the message names both fingerprints.
    """

    def __init__(self, name: str, found: LayoutId, expected: LayoutId) -> None:
        super().__init__(
            "segment %r holds %s but this program expects %s" % (name, found, expected)
        )
        self.name = name
        self.found = found
        self.expected = expected


class CreatorDied(ShmgenError):
    """The segment is still initialising and its creator is no longer alive."""


class OpenTimeout(ShmgenError, TimeoutError):
    """``open`` waited longer than its timeout for the creator to finish initialising."""


class LayoutError(ShmgenError, ImportError):
    """A generated module's ctypes layout disagrees with shmgen's layout table.

    Raised at import time by :func:`shmgen.verify_layout`; it means the module was generated
    for another shmgen runtime, or was edited.
    """


class LockTimeout(ShmgenError, TimeoutError):
    """``lock(timeout=...)`` did not get the lock in time."""


class LockNotRecoverable(ShmgenError):
    """A robust mutex was left unrecoverable (``ENOTRECOVERABLE``): a process that saw its
    previous owner die unlocked it without marking it consistent. shmgen itself always marks
    mutexes consistent at once, so this means a foreign writer broke the protocol."""


class OwnerDied(ShmgenError):
    """The lock was acquired, but its previous holder died while holding it.

    **This exception holds the lock.** The mutex has already been marked consistent
    (``pthread_mutex_consistent``), so it keeps working, but the protected value may be
    half-updated. Repair it, then release the lock, in one of these ways::

        try:
            with seg.workers.lock() as w:
                w[0].completed += 1
        except shmgen.OwnerDied as died:
            with died as w:          # still holding the lock; released at the end of the block
                repair(w)

    or ``w = died.value; ...; died.release()``. If the exception is dropped without either,
    the lock stays held by this thread (like a ``Lock.acquire()`` without ``release()``);
    when the process exits, the next locker gets ``OwnerDied`` again.
    """

    def __init__(self, guard: Optional["Guard[Any]"], what: str) -> None:
        super().__init__(
            "%s: the previous holder died while holding the lock; this process now holds it "
            "and the value may need repair (use `with died as value:` or `died.release()`)"
            % what
        )
        self.guard = guard

    @property
    def value(self) -> Any:
        """The protected value (a live view; the lock is held)."""
        if self.guard is None:
            raise ShmgenError("this OwnerDied does not carry a lock")
        return self.guard.value

    def release(self) -> None:
        """Releases the lock this exception holds."""
        if self.guard is not None:
            self.guard.release()

    def __enter__(self) -> Any:
        if self.guard is None:
            raise ShmgenError("this OwnerDied does not carry a lock")
        return self.guard.value

    def __exit__(self, *exc: object) -> None:
        self.release()
