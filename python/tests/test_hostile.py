"""Hostile /dev/shm entries and crashes, for the Python runtime: the same cases as the Rust
runtime's tests/hostile.rs and tests/startup_crash.rs (docs/SECURITY.md). Every bad file is
refused with a ``shmgen.ShmgenError`` subclass naming what is wrong (never another exception
type, never a hang), new segments are private whatever the umask, and a creator killed during
start-up never exposes a half-built segment. test_segment.py has the basic cases (bad magic,
short files, FIFO, socket, owner, mode); this file adds extreme header values, random
corruption, symlink variants, every name rule at every entry point, files shrunk under a
mapping, and crashes."""

from __future__ import annotations

import ctypes
import os
import random
import signal
import stat
import struct
import subprocess
import sys
import time

import pytest

import shmgen
from shmgen import abi
from conftest import python_env, run_python

import pyfixture
from pyfixture import Fixture


def path(name: str) -> str:
    return "/dev/shm/" + name


def write_private(name: str, data: bytes) -> None:
    """A file with mode 0600 (what ``open`` accepts by default)."""
    try:
        os.unlink(path(name))
    except FileNotFoundError:
        pass
    fd = os.open(path(name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def fresh(name: str) -> bytes:
    """Creates a valid Fixture segment under ``name`` and returns its bytes."""
    try:
        shmgen.remove(name)
    except shmgen.SegmentNotFound:
        pass
    Fixture.create(name).close()
    with open(path(name), "rb") as f:
        return f.read()


def put(name: str, offset: int, fmt: str, value: int) -> None:
    fd = os.open(path(name), os.O_WRONLY)
    try:
        os.pwrite(fd, struct.pack(fmt, value), offset)
    finally:
        os.close(fd)


def open_err(name: str, **kw) -> shmgen.ShmgenError:
    kw.setdefault("timeout", 0.2)
    with pytest.raises(shmgen.ShmgenError) as e:
        Fixture.open(name, **kw).close()
    return e.value


PAYLOAD_OFFSET = abi.payload_offset(Fixture._shmgen_align_)
PAYLOAD_END = PAYLOAD_OFFSET + ctypes.sizeof(Fixture)
U64_MAX = 2**64 - 1


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

BAD_NAMES = [
    "", ".", "..", "../x", "a/../b", "/abs", "dir/", "a\x00b", "\x00", ".hidden",
    ".shmgen-x.1.2", "tab\t", "new\nline", "a:b", "a*", "é", "x" * 201,
]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_names_are_refused_by_every_entry_point(bad: str) -> None:
    for call in (
        lambda: Fixture.create(bad),
        lambda: Fixture.open(bad),
        lambda: Fixture.open_or_create(bad),
        lambda: shmgen.remove(bad),
        lambda: shmgen.inspect(bad),
    ):
        with pytest.raises(shmgen.InvalidName, match="invalid segment name"):
            call()


def test_the_longest_name_works() -> None:
    name = ("m" * 188 + "-%011d" % os.getpid())[:200]
    assert len(name) == 200
    try:
        Fixture.create(name).close()
        Fixture.open(name).close()
    finally:
        shmgen.remove(name)


# ---------------------------------------------------------------------------------------------
# Files that are not ours to open
# ---------------------------------------------------------------------------------------------

def test_symlinks_are_never_followed(seg_name: str, seg_names) -> None:
    target = seg_names[0]
    fresh(target)
    missing = "/dev/shm/shmgen-no-such-file-%d" % os.getpid()
    for to in (path(target), "/etc/hostname", missing):
        if os.path.lexists(path(seg_name)):
            os.unlink(path(seg_name))
        os.symlink(to, path(seg_name))
        e = open_err(seg_name)
        assert isinstance(e, shmgen.NotRegularFile) and "symbolic link" in str(e), e
        with pytest.raises(shmgen.NotRegularFile):
            Fixture.open_or_create(seg_name)
        with pytest.raises(shmgen.SegmentExists):
            Fixture.create(seg_name)  # link() never replaces a name, not even a symlink
    assert not os.path.exists(missing)
    shmgen.remove(seg_name)  # removes the link, not its target
    assert os.path.isfile(path(target))


def test_mode_rules(seg_name: str) -> None:
    fresh(seg_name)
    for mode, extra in [(0o666, 0o066), (0o620, 0o020), (0o604, 0o004), (0o700, 0o100), (0o4600, 0o4000)]:
        os.chmod(path(seg_name), mode)
        e = open_err(seg_name)
        assert isinstance(e, shmgen.TooPermissive), e
        assert (e.mode, e.allowed, e.extra) == (mode, 0o600, extra)
        with pytest.raises(shmgen.TooPermissive):
            Fixture.open_or_create(seg_name)
    os.chmod(path(seg_name), 0o660)
    Fixture.open(seg_name, mode=0o660).close()
    Fixture.open(seg_name, mode=0o666).close()
    assert isinstance(open_err(seg_name, mode=0o640), shmgen.TooPermissive)
    os.chmod(path(seg_name), 0o600)
    Fixture.open(seg_name).close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a file to another user")
def test_foreign_owner_is_not_replaced_by_open_or_create(seg_name: str) -> None:
    fresh(seg_name)
    os.chown(path(seg_name), 4321, 4321)
    with pytest.raises(shmgen.ForeignOwner):
        Fixture.open_or_create(seg_name)
    assert os.stat(path(seg_name)).st_uid == 4321


# ---------------------------------------------------------------------------------------------
# Headers that lie
# ---------------------------------------------------------------------------------------------

def test_sizes_beyond_the_file_up_to_u64_max(seg_name: str) -> None:
    fresh(seg_name)
    for total in (4097 * 64, 1 << 40, U64_MAX):
        put(seg_name, 40, "<Q", total)
        e = open_err(seg_name)
        assert isinstance(e, shmgen.Truncated) and str(total) in str(e), e
    put(seg_name, 40, "<Q", PAYLOAD_END - 1)
    assert isinstance(open_err(seg_name), shmgen.CorruptHeader)


def test_payload_offsets_anywhere_are_refused(seg_name: str) -> None:
    fresh(seg_name)
    for off in (0, 8, PAYLOAD_OFFSET + 8, 4096, 1 << 40, U64_MAX - 7, U64_MAX):
        put(seg_name, 24, "<Q", off)
        e = open_err(seg_name)
        assert isinstance(e, shmgen.CorruptHeader), e
        assert "payload offset is %d" % off in str(e), e


def test_payload_sizes_are_part_of_the_layout_identity(seg_name: str) -> None:
    fresh(seg_name)
    for size in (0, 1, 4096, U64_MAX):
        put(seg_name, 32, "<Q", size)
        e = open_err(seg_name)
        assert isinstance(e, shmgen.LayoutMismatch), e
        assert "%d bytes)" % size in str(e), e


@pytest.mark.parametrize("state", [2, 3, 0x100, 2**32 - 1])
def test_states_other_than_0_and_1_are_corrupt_at_once(seg_name: str, state: int) -> None:
    fresh(seg_name)
    put(seg_name, 12, "<I", state)
    t = time.monotonic()
    e = open_err(seg_name, timeout=5)
    assert time.monotonic() - t < 1
    assert isinstance(e, shmgen.CorruptHeader) and "state is %d" % state in str(e), e


@pytest.mark.parametrize("pid", [0, 2**31, 2**32 - 1])
def test_creator_pids_that_cannot_be_alive(seg_name: str, pid: int) -> None:
    fresh(seg_name)
    put(seg_name, 12, "<I", 0)
    put(seg_name, 48, "<I", pid)
    t = time.monotonic()
    e = open_err(seg_name, timeout=5)
    assert time.monotonic() - t < 1
    assert isinstance(e, shmgen.CreatorDied), e


def test_root_names_that_are_not_utf8(seg_name: str) -> None:
    fresh(seg_name)
    fd = os.open(path(seg_name), os.O_WRONLY)
    os.pwrite(fd, b"\xff\xfe", 64)
    os.close(fd)
    assert isinstance(open_err(seg_name), shmgen.LayoutMismatch)
    fd = os.open(path(seg_name), os.O_WRONLY)
    os.pwrite(fd, b"x" * 64, 64)
    os.close(fd)
    assert isinstance(open_err(seg_name), shmgen.LayoutMismatch)
    shmgen.inspect(seg_name)


def test_random_header_corruption_only_raises_shmgen_errors(seg_name: str) -> None:
    good = fresh(seg_name)
    rng = random.Random(0x5EED)
    refused = accepted = 0
    start = time.monotonic()
    for _ in range(1500):
        data = bytearray(good)
        for _ in range(1 + rng.randrange(4)):
            if len(data) < 128:
                break
            at = rng.randrange(128)
            kind = rng.randrange(4)
            if kind == 0:
                data[at] ^= 1 << rng.randrange(8)
            elif kind == 1:
                data[at] = rng.randrange(256)
            elif kind == 2:
                at &= ~7
                v = rng.choice([0, 1, U64_MAX, 1 << 63, rng.getrandbits(64)])
                data[at:at + 8] = v.to_bytes(8, "little")
            else:
                del data[rng.choice([0, 1, 127, 128, 129, 4095]):]
        # A state-0 header names a creator that cannot be alive, so that opens do not wait.
        if len(data) >= 128 and data[12:16] == b"\x00\x00\x00\x00":
            data[48:52] = (0xFFFFFFF0).to_bytes(4, "little")
        write_private(seg_name, bytes(data))
        try:
            shmgen.inspect(seg_name)
        except shmgen.ShmgenError:
            pass
        try:
            Fixture.open(seg_name, timeout=0.02).close()
            accepted += 1
        except shmgen.ShmgenError as e:
            assert str(e)
            refused += 1
    assert time.monotonic() - start < 120
    assert refused > 1000, (refused, accepted)


# ---------------------------------------------------------------------------------------------
# Shrunk files
# ---------------------------------------------------------------------------------------------

def test_a_file_shrunk_under_a_mapping(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    seg.hits.add(7)
    total = seg.header.total_size  # read now: after the shrink even the header faults
    os.truncate(path(seg_name), 128)
    e = open_err(seg_name)
    assert isinstance(e, shmgen.Truncated) and "the file has 128 bytes" in str(e), e
    os.truncate(path(seg_name), 0)
    assert isinstance(open_err(seg_name), shmgen.Truncated)
    # Grown back: the pages are zeros now; nothing faults; it is no longer a segment.
    os.truncate(path(seg_name), total)
    assert seg.hits.load() == 0
    assert isinstance(open_err(seg_name), shmgen.BadMagic)
    seg.close()


TOUCH_AFTER_SHRINK = """
import os, sys, time
from pyfixture import Fixture
seg = Fixture.open(sys.argv[1])
print("opened", flush=True)
deadline = time.monotonic() + 30
while os.stat("/dev/shm/" + sys.argv[1]).st_size > 0 and time.monotonic() < deadline:
    time.sleep(0.001)
print("value", seg.hits.load(), flush=True)
"""


def test_touching_a_mapping_after_the_file_shrank_raises_sigbus(seg_name: str) -> None:
    # The documented limit (docs/SECURITY.md): whoever may write the file can shrink it under
    # everyone's mappings, and the next access faults.
    Fixture.create(seg_name).close()
    p = subprocess.Popen(
        [sys.executable, "-c", TOUCH_AFTER_SHRINK, seg_name],
        env=python_env(), stdout=subprocess.PIPE, text=True,
    )
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "opened"
        os.truncate(path(seg_name), 0)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGBUS, p.returncode


# ---------------------------------------------------------------------------------------------
# Private by default
# ---------------------------------------------------------------------------------------------

CREATE_UNDER_UMASK = """
import os, stat, sys
from pyfixture import Fixture
os.umask(int(sys.argv[2], 8))
seen = []
def init(root):
    name = sys.argv[1]
    temps = [f for f in os.listdir("/dev/shm") if f.startswith(".shmgen-%s." % name)]
    seen.extend(stat.S_IMODE(os.stat("/dev/shm/" + f).st_mode) for f in temps)
kw = {"mode": int(sys.argv[3], 8)} if len(sys.argv) > 3 else {}
Fixture.create(sys.argv[1], init=init, **kw).close()
print("%o %s" % (stat.S_IMODE(os.stat("/dev/shm/" + sys.argv[1]).st_mode), " ".join("%o" % m for m in seen)))
"""


@pytest.mark.parametrize(
    "umask,mode,expected",
    [("000", None, 0o600), ("022", None, 0o600), ("077", None, 0o600), ("077", "660", 0o660), ("000", "640", 0o640)],
)
def test_new_segments_are_private_whatever_the_umask(seg_name: str, umask: str, mode, expected: int) -> None:
    args = [seg_name, umask] + ([mode] if mode else [])
    r = run_python(CREATE_UNDER_UMASK, *args)
    assert r.returncode == 0, r.stderr
    final, *temps = r.stdout.split()
    assert int(final, 8) == expected
    assert temps and all(int(t, 8) == expected for t in temps), r.stdout  # already while building


# ---------------------------------------------------------------------------------------------
# A creator killed during start-up
# ---------------------------------------------------------------------------------------------

DIE_IN_INIT = """
import os, signal, sys
from pyfixture import Fixture
def init(root):
    root.samples[0] = 1.5
    os.kill(os.getpid(), signal.SIGKILL)  # after the header and every primitive, before "ready"
Fixture.create(sys.argv[1], init=init)
"""


def test_a_creator_killed_before_ready_leaves_no_segment(seg_name: str) -> None:
    r = run_python(DIE_IN_INIT, seg_name)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    # Nothing under the name (openers do not wait), only the temporary file.
    t = time.monotonic()
    with pytest.raises(shmgen.SegmentNotFound):
        Fixture.open(seg_name)
    assert time.monotonic() - t < 1
    temps = [f for f in os.listdir("/dev/shm") if f.startswith(".shmgen-%s." % seg_name)]
    assert len(temps) == 1, temps
    st = os.lstat("/dev/shm/" + temps[0])
    assert stat.S_IMODE(st.st_mode) == 0o600
    # open_or_create creates a new, whole segment.
    seg = Fixture.open_or_create(seg_name)
    assert seg.is_creator and seg.header.state == 1 and seg.samples[0] == 0.0
    seg.close()
    # The dead creator's temporary file can be removed (pid dead; shmgen gc does this).
    pid = int(temps[0].rsplit(".", 2)[1])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    os.unlink("/dev/shm/" + temps[0])


RACER = """
import os, sys, time
from pyfixture import Fixture
start = int(sys.argv[2]) / 1e9
while time.time() < start:
    pass
deadline = time.monotonic() + 20
while True:
    try:
        seg = Fixture.open_or_create(sys.argv[1], init=lambda r: setattr(r, "pid", os.getpid()))
        break
    except Exception as e:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.001)
assert seg.header.state == 1 and seg.pid != 0
seg.hits.add(1)
print("creator" if seg.is_creator else "opener", seg.pid)
"""


def test_many_processes_recover_a_dead_half_initialised_segment(seg_name: str) -> None:
    # A crafted state-0 segment at the final name whose creator is dead: exactly one racer
    # replaces it (under flock) and every racer attaches to that one new segment.
    dead = int(run_python("import os; print(os.getpid())").stdout)
    good = bytearray(fresh(seg_name))
    good[12:16] = (0).to_bytes(4, "little")
    good[48:52] = dead.to_bytes(4, "little")
    os.unlink(path(seg_name))
    write_private(seg_name, bytes(good))
    start = str(time.time_ns() + 300_000_000)
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, seg_name, start], env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outs.append(out.split())
    assert sum(o[0] == "creator" for o in outs) == 1, outs
    assert len({o[1] for o in outs}) == 1, outs
    seg = Fixture.open(seg_name)
    assert seg.hits.load() == 4
    seg.close()
