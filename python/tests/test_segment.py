"""Segments: the create/open protocol of docs/FORMAT.md §3 and its errors."""

from __future__ import annotations

import ctypes
import os
import pickle
import stat
import struct
import time

import pytest

import shmgen
from shmgen import abi
from conftest import run_python

import pyfixture
import pyfixture_v2
from pyfixture import Fixture


def path(name: str) -> str:
    return "/dev/shm/" + name


def test_create_open_roundtrip(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    assert seg.is_creator
    assert isinstance(seg, pyfixture.FixtureSegment)
    seg.pid = 1234
    seg.label = "hello"
    seg.hits.add(5)
    other = Fixture.open(seg_name)
    assert not other.is_creator
    assert other.pid == 1234
    assert other.label == "hello"
    assert other.hits.load() == 5
    h = other.header
    assert h.fingerprint == pyfixture.FINGERPRINT
    assert h.root_name == "Fixture" and h.layout_version == 1 and h.state == 1
    assert h.payload_offset == abi.payload_offset(Fixture._shmgen_align_)
    assert h.creator_pid == os.getpid()
    assert h.total_size % 4096 == 0 and h.total_size >= h.payload_offset + h.payload_size
    other.close()
    seg.close()


def test_header_bytes_match_format(seg_name: str) -> None:
    Fixture.create(seg_name).close()
    raw = open(path(seg_name), "rb").read(128)
    assert raw[:8] == b"SHMGEN\x00\x01"
    version, state, fp, po, ps, total, pid, lv, ns = struct.unpack_from("<IIQQQQIIQ", raw, 8)
    assert (version, state, fp, lv) == (1, 1, pyfixture.FINGERPRINT, 1)
    assert (po, ps) == (abi.payload_offset(Fixture._shmgen_align_), ctypes.sizeof(Fixture))
    assert total == os.stat(path(seg_name)).st_size
    assert pid == os.getpid()
    assert abs(ns - time.time_ns()) < 60e9
    assert raw[64:].rstrip(b"\x00") == b"Fixture"


def test_mode_defaults_to_0600_despite_umask(seg_name: str) -> None:
    old = os.umask(0o077)
    try:
        Fixture.create(seg_name).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path(seg_name)).st_mode) == 0o600


def test_mode_is_applied_with_fchmod(seg_name: str) -> None:
    old = os.umask(0o077)
    try:
        Fixture.create(seg_name, mode=0o640).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path(seg_name)).st_mode) == 0o640


def test_no_temporary_files_left(seg_name: str) -> None:
    Fixture.create(seg_name).close()
    leftovers = [f for f in os.listdir("/dev/shm") if f.startswith(".shmgen-%s." % seg_name)]
    assert leftovers == []


def test_create_refuses_existing(seg_name: str) -> None:
    Fixture.create(seg_name).close()
    with pytest.raises(shmgen.SegmentExists, match=seg_name) as e:
        Fixture.create(seg_name)
    assert isinstance(e.value, FileExistsError)


def test_open_missing(seg_name: str) -> None:
    with pytest.raises(shmgen.SegmentNotFound, match="does not exist") as e:
        Fixture.open(seg_name)
    assert isinstance(e.value, FileNotFoundError)


def test_open_or_create(seg_name: str) -> None:
    a = Fixture.open_or_create(seg_name)
    b = Fixture.open_or_create(seg_name)
    assert a.is_creator and not b.is_creator
    a.hits.add(3)
    assert b.hits.load() == 3


def test_open_or_create_race_has_one_creator(seg_name: str) -> None:
    code = (
        "import sys, pyfixture\n"
        "s = pyfixture.Fixture.open_or_create(sys.argv[1])\n"
        "s.hits.add(1)\n"
        "print('creator' if s.is_creator else 'opener')\n"
    )
    import subprocess, sys

    from conftest import python_env

    procs = [
        subprocess.Popen([sys.executable, "-c", code, seg_name], env=python_env(), stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(outs).count("creator") == 1, outs
    assert Fixture.open(seg_name).hits.load() == 6


def test_init_callback_runs_before_publication(seg_name: str) -> None:
    seen = []

    def init(root: Fixture) -> None:
        # Nobody can open it yet: the final name does not exist until init returns.
        with pytest.raises(shmgen.SegmentNotFound):
            Fixture.open(seg_name)
        root.pid = 77
        root.label = "initial"
        seen.append(True)

    seg = Fixture.create(seg_name, init=init)
    assert seen == [True]
    assert Fixture.open(seg_name).pid == 77
    seg.close()


def test_init_failure_leaves_nothing(seg_name: str) -> None:
    def init(root: Fixture) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        Fixture.create(seg_name, init=init)
    assert not os.path.exists(path(seg_name))
    assert not [f for f in os.listdir("/dev/shm") if f.startswith(".shmgen-%s." % seg_name)]


@pytest.mark.parametrize(
    "bad",
    ["", ".hidden", "a/b", "a b", "é", "a\x00b", "x" * 201, "../etc/passwd"],
)
def test_invalid_names(bad: str) -> None:
    with pytest.raises(shmgen.InvalidName, match="invalid segment name"):
        Fixture.create(bad)
    with pytest.raises(shmgen.InvalidName):
        Fixture.open(bad)
    with pytest.raises(shmgen.InvalidName):
        shmgen.remove(bad)


def test_valid_names(seg_name: str) -> None:
    for n in ["a", "A-b_c.9", "x" * 200]:
        shmgen.validate_name(n)


def test_layout_mismatch_names_both_fingerprints(seg_name: str) -> None:
    Fixture.create(seg_name).close()
    with pytest.raises(shmgen.LayoutMismatch) as e:
        pyfixture_v2.Fixture.open(seg_name)
    msg = str(e.value)
    assert "0x%016x" % pyfixture.FINGERPRINT in msg
    assert "0x%016x" % pyfixture_v2.FINGERPRINT in msg
    assert "Fixture v1" in msg and "Fixture v2" in msg and seg_name in msg
    assert e.value.found.fingerprint == pyfixture.FINGERPRINT
    assert e.value.expected.fingerprint == pyfixture_v2.FINGERPRINT


def test_layout_mismatch_other_root(seg_name: str) -> None:
    pyfixture.Point.create(seg_name).close()
    with pytest.raises(shmgen.LayoutMismatch, match="Point v1 .* but this program expects Fixture v1"):
        Fixture.open(seg_name)


def write_file(name: str, data: bytes) -> None:
    fd = os.open(path(name), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def good_header(**over: int) -> bytearray:
    v = dict(
        version=1,
        state=1,
        fp=pyfixture.FINGERPRINT,
        po=abi.payload_offset(Fixture._shmgen_align_),
        ps=ctypes.sizeof(Fixture),
        total=abi.total_size(Fixture._shmgen_align_, ctypes.sizeof(Fixture)),
        pid=os.getpid(),
        lv=1,
    )
    v.update(over)
    h = bytearray(b"SHMGEN\x00\x01")
    h += struct.pack("<IIQQQQIIQ", v["version"], v["state"], v["fp"], v["po"], v["ps"], v["total"], v["pid"], v["lv"], 0)
    h += b"Fixture".ljust(64, b"\x00")
    assert len(h) == 128
    return h


def test_bad_magic(seg_name: str) -> None:
    write_file(seg_name, b"NOTSHMGEN" + b"\x00" * 4000)
    with pytest.raises(shmgen.BadMagic, match="not a shmgen segment: its first bytes are 4e 4f 54"):
        Fixture.open(seg_name)


def test_short_file_is_truncated(seg_name: str) -> None:
    write_file(seg_name, b"SHMGEN\x00\x01" + b"\x00" * 20)
    with pytest.raises(shmgen.Truncated, match="the file has 28 bytes but 128 are needed"):
        Fixture.open(seg_name)


def test_empty_file_is_truncated(seg_name: str) -> None:
    write_file(seg_name, b"")
    with pytest.raises(shmgen.Truncated):
        Fixture.open(seg_name)


def test_payload_truncated(seg_name: str) -> None:
    write_file(seg_name, bytes(good_header()) + b"\x00" * 64)
    with pytest.raises(shmgen.Truncated, match="the payload"):
        Fixture.open(seg_name)


def test_total_size_beyond_file(seg_name: str) -> None:
    h = good_header(total=1 << 40)
    data = bytes(h) + b"\x00" * (abi.total_size(Fixture._shmgen_align_, ctypes.sizeof(Fixture)) - 128)
    write_file(seg_name, data)
    with pytest.raises(shmgen.Truncated, match="total_size"):
        Fixture.open(seg_name)


def test_unsupported_header_version(seg_name: str) -> None:
    write_file(seg_name, bytes(good_header(version=7)) + b"\x00" * 8192)
    with pytest.raises(shmgen.UnsupportedHeaderVersion, match="header version 7, but this runtime supports header version 1"):
        Fixture.open(seg_name)


def test_bad_state(seg_name: str) -> None:
    write_file(seg_name, bytes(good_header(state=9)) + b"\x00" * 8192)
    with pytest.raises(shmgen.CorruptHeader, match="state is 9"):
        Fixture.open(seg_name)


def test_bad_payload_offset(seg_name: str) -> None:
    write_file(seg_name, bytes(good_header(po=4096)) + b"\x00" * 16384)
    with pytest.raises(shmgen.CorruptHeader, match="payload offset is 4096"):
        Fixture.open(seg_name)


def test_creator_died(seg_name: str) -> None:
    # A pid that is certainly dead: a child that already exited.
    r = run_python("import os; print(os.getpid())")
    dead = int(r.stdout)
    write_file(seg_name, bytes(good_header(state=0, pid=dead)) + b"\x00" * 8192)
    t = time.monotonic()
    with pytest.raises(shmgen.CreatorDied, match="creator \\(pid %d\\) died" % dead):
        Fixture.open(seg_name, timeout=10)
    assert time.monotonic() - t < 5, "must fail at once, not wait for the timeout"


def test_open_timeout_while_initialising(seg_name: str) -> None:
    write_file(seg_name, bytes(good_header(state=0, pid=os.getpid())) + b"\x00" * 8192)
    t = time.monotonic()
    with pytest.raises(shmgen.OpenTimeout, match="still initialising"):
        Fixture.open(seg_name, timeout=0.3)
    assert 0.25 < time.monotonic() - t < 5


def test_open_waits_for_ready(seg_name: str) -> None:
    write_file(seg_name, bytes(good_header(state=0, pid=os.getpid())) + b"\x00" * 8192)
    # Another process flips the state to ready after a moment.
    code = (
        "import os, sys, time, mmap\n"
        "time.sleep(0.3)\n"
        "fd = os.open('/dev/shm/' + sys.argv[1], os.O_RDWR)\n"
        "m = mmap.mmap(fd, 128)\n"
        "m[12:16] = (1).to_bytes(4, 'little')\n"
    )
    import subprocess, sys

    from conftest import python_env

    p = subprocess.Popen([sys.executable, "-c", code, seg_name], env=python_env())
    try:
        # The payload of this hand-made file is zero; opening only checks the header.
        seg = Fixture.open(seg_name, timeout=10)
        assert seg.header.state == 1
        seg.close()
    finally:
        p.wait(timeout=30)


def test_symlink_refused(seg_name: str, tmp_path) -> None:
    target = tmp_path / "x"
    target.write_bytes(b"\x00" * 4096)
    os.symlink(str(target), path(seg_name))
    with pytest.raises(shmgen.NotRegularFile, match="symbolic link"):
        Fixture.open(seg_name)


def test_directory_refused(seg_name: str) -> None:
    os.mkdir(path(seg_name))
    try:
        with pytest.raises(shmgen.NotRegularFile, match="directory"):
            Fixture.open(seg_name)
    finally:
        os.rmdir(path(seg_name))


def test_close_does_not_unlink(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    seg.close()
    seg.close()  # idempotent
    assert os.path.exists(path(seg_name))
    assert seg.closed
    with pytest.raises(ValueError, match="closed"):
        seg.hits  # noqa: B018
    with pytest.raises(ValueError, match="closed"):
        seg.pid  # noqa: B018


def test_context_manager_closes_not_unlinks(seg_name: str) -> None:
    with Fixture.create(seg_name) as seg:
        seg.hits.add(2)
    assert seg.closed and os.path.exists(path(seg_name))
    with Fixture.open(seg_name) as again:
        assert again.hits.load() == 2


def test_views_outlive_close_safely(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    hits = seg.hits
    samples = seg.samples
    seg.close()
    # The mapping stays while views exist: no crash, still shared.
    hits.add(1)
    samples[0] = 1.5
    assert Fixture.open(seg_name).hits.load() == 1


def test_unlink(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    seg.hits.add(1)
    seg.unlink()
    assert not os.path.exists(path(seg_name))
    assert seg.hits.add(1) == 1  # the mapping stays valid
    with pytest.raises(shmgen.SegmentNotFound):
        seg.unlink()
    with pytest.raises(shmgen.SegmentNotFound):
        Fixture.open(seg_name)


def test_unlink_leaves_a_newer_segment_alone(seg_name: str) -> None:
    old = Fixture.create(seg_name)
    shmgen.remove(seg_name)
    new = Fixture.create(seg_name)
    old.unlink()  # the name is someone else's now
    assert os.path.exists(path(seg_name))
    new.unlink()
    assert not os.path.exists(path(seg_name))


def test_segment_outlives_its_creator(seg_name: str) -> None:
    code = (
        "import sys, pyfixture\n"
        "s = pyfixture.Fixture.create(sys.argv[1])\n"
        "s.hits.add(41)\n"
        "s.label = 'from the dead'\n"
        "with s.counter.lock() as c: c.value = 7\n"
        "s.status.write('done')\n"
    )
    r = run_python(code, seg_name)
    assert r.returncode == 0, r.stderr
    seg = Fixture.open(seg_name)
    assert seg.hits.load() == 41
    assert seg.label == "from the dead"
    assert seg.counter.lock().value.value == 7
    seg.counter.release()
    assert seg.status.read() == "done"


def test_multiprocessing_shared_memory_is_not_used() -> None:
    import sys

    r = run_python("import sys, shmgen, pyfixture; print('multiprocessing.shared_memory' in sys.modules, 'multiprocessing.resource_tracker' in sys.modules)")
    assert r.stdout.split() == ["False", "False"], r.stdout + r.stderr
    assert sys.modules  # keep the import


def test_pickle_reopens_by_name(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    seg.hits.add(9)
    data = pickle.dumps(seg)
    assert len(data) < 300  # the name and the class, not the bytes
    again = pickle.loads(data)
    assert again is not seg
    assert again.name == seg_name and again.hits.load() == 9
    again.hits.add(1)
    assert seg.hits.load() == 10


def test_primitives_do_not_pickle(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(seg.hits)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(seg.counter)


def test_inspect(seg_name: str) -> None:
    Fixture.create(seg_name).close()
    info = shmgen.inspect(seg_name)
    assert info.root_name == "Fixture" and info.fingerprint == pyfixture.FINGERPRINT
    assert str(info.layout_id()) == "Fixture v1 (fingerprint 0x%016x, %d bytes)" % (
        pyfixture.FINGERPRINT,
        ctypes.sizeof(Fixture),
    )


def test_repr(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    assert repr(seg).startswith("<FixtureSegment %r Fixture v1 (fingerprint 0x" % seg_name)


def test_close_while_holding_a_lock_keeps_the_mapping(seg_name: str) -> None:
    """Unmapping a held robust mutex would break owner-death detection: close() keeps it."""
    from shmgen import segment as S

    code = (
        "import sys, pyfixture\n"
        "s = pyfixture.Fixture.open(sys.argv[1])\n"
        "s.counter.lock()\n"
        "s.close()\n"  # still holding the lock
        "import gc; gc.collect()\n"
        "print('exiting')\n"
    )
    seg = Fixture.create(seg_name)
    r = run_python(code, seg_name)
    assert r.stdout.strip() == "exiting", r.stderr
    with pytest.raises(shmgen.OwnerDied) as info:
        seg.counter.lock(timeout=5)
    info.value.release()
    n = len(S._PARKED)
    g = seg.counter.lock()
    seg.close()
    assert len(S._PARKED) == n + 1
    g.release()


def test_too_permissive_file_refused(seg_name: str) -> None:
    Fixture.create(seg_name, mode=0o644).close()
    with pytest.raises(shmgen.TooPermissive, match="has mode 0o644, which grants 0o044 beyond the allowed 0o600") as e:
        Fixture.open(seg_name)
    assert (e.value.mode, e.value.allowed, e.value.extra) == (0o644, 0o600, 0o044)
    Fixture.open(seg_name, mode=0o644).close()
    assert not Fixture.open_or_create(seg_name, mode=0o664).is_creator


def test_shared_mode_pickles_with_its_mode(seg_name: str) -> None:
    seg = Fixture.create(seg_name, mode=0o660)
    again = pickle.loads(pickle.dumps(seg))  # reopened with mode 0o660 accepted
    assert again.name == seg_name


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a file to another user")
def test_foreign_owner_refused(seg_name: str) -> None:
    Fixture.create(seg_name).close()
    os.chown(path(seg_name), 54321, -1)
    with pytest.raises(shmgen.ForeignOwner, match="owned by uid 54321, not by this process's effective uid 0"):
        Fixture.open(seg_name)
    Fixture.open(seg_name, allow_foreign_owner=True).close()


def test_fifo_refused_without_blocking(seg_name: str) -> None:
    os.mkfifo(path(seg_name), 0o600)
    t = time.monotonic()
    with pytest.raises(shmgen.NotRegularFile, match="FIFO"):
        Fixture.open(seg_name)
    assert time.monotonic() - t < 5


def test_socket_refused(seg_name: str) -> None:
    import socket

    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(path(seg_name))
        os.chmod(path(seg_name), 0o600)
        with pytest.raises(shmgen.NotRegularFile, match="socket"):
            Fixture.open(seg_name)
    finally:
        s.close()


def test_total_size_smaller_than_payload_is_corrupt(seg_name: str) -> None:
    write_file(seg_name, bytes(good_header(total=200)) + b"\x00" * 16384)
    with pytest.raises(shmgen.CorruptHeader, match="total_size 200 is less than"):
        Fixture.open(seg_name)


def test_open_or_create_replaces_a_dead_creators_leftover(seg_name: str) -> None:
    dead = int(run_python("import os; print(os.getpid())").stdout)
    write_file(seg_name, bytes(good_header(state=0, pid=dead)) + b"\x00" * 8192)
    with pytest.raises(shmgen.CreatorDied):
        Fixture.open(seg_name)
    seg = Fixture.open_or_create(seg_name)
    assert seg.is_creator and seg.header.state == 1


def test_open_or_create_leaves_a_live_creators_file_alone(seg_name: str) -> None:
    write_file(seg_name, bytes(good_header(state=0, pid=os.getpid())) + b"\x00" * 8192)
    with pytest.raises(shmgen.OpenTimeout):
        Fixture.open_or_create(seg_name, timeout=0.2)
    assert os.path.exists(path(seg_name))
