"""The generated modules themselves: import-time layout checks, name collisions, docs."""

from __future__ import annotations

import ctypes

import pytest

import shmgen
from conftest import run_python


def test_layout_checks_run_under_python_O() -> None:
    r = run_python("import sys, pyfixture, metrics, tricky; print(sys.flags.optimize)", timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stderr
    import subprocess, sys

    from conftest import python_env

    r = subprocess.run(
        [sys.executable, "-O", "-c", "import sys, pyfixture; print(sys.flags.optimize)"],
        env=python_env(),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


def test_verify_layout_reports_both_numbers() -> None:
    from pyfixture import Point

    with pytest.raises(shmgen.LayoutError, match="offset of Point.x is 8 in ctypes but 4 in the layout table"):
        shmgen.verify_layout(Point, 24, 8, [("tag", 0, 1, 1), ("x", 4, 8, 8), ("y", 16, 8, 8)])
    with pytest.raises(shmgen.LayoutError, match="sizeof\\(Point\\) is 24 in ctypes but 32"):
        shmgen.verify_layout(Point, 32, 8, [("tag", 0, 1, 1), ("x", 8, 8, 8), ("y", 16, 8, 8)])
    with pytest.raises(shmgen.LayoutError, match="Point.y is not in the layout table"):
        shmgen.verify_layout(Point, 24, 8, [("tag", 0, 1, 1), ("x", 8, 8, 8)])
    shmgen.verify_layout(Point, 24, 8, [("tag", 0, 1, 1), ("x", 8, 8, 8), ("y", 16, 8, 8)])


def test_require_abi() -> None:
    with pytest.raises(shmgen.LayoutError, match="header version 2"):
        shmgen.require_abi(2, shmgen.abi.LOCK_ABI)
    with pytest.raises(shmgen.LayoutError, match="lock ABI"):
        shmgen.require_abi(1, "other")


def test_explicit_padding_no_pack() -> None:
    import pyfixture

    for cls in (pyfixture.Fixture, pyfixture.Point):
        assert "_pack_" not in cls.__dict__ and "_align_" not in cls.__dict__
    pads = [n for n, t in pyfixture.Fixture._fields_ if issubclass(t, shmgen.Pad)]
    assert pads, "Fixture has gaps; they must be explicit fields"
    # u8 then f64: 7 bytes of explicit padding.
    assert pyfixture.Point._fields_[1][0] == "_pad0" and ctypes.sizeof(pyfixture.Point._fields_[1][1]) == 7


def test_align_64_field_has_its_own_cache_line(seg_name: str) -> None:
    import pyfixture

    f = pyfixture.Fixture
    assert f.hits.offset % 64 == 0
    seg = f.create(seg_name)
    assert ctypes.addressof(seg.hits) % 64 == 0


def test_docstrings_from_schema() -> None:
    import metrics
    import pyfixture

    assert metrics.WorkerStats.__doc__.startswith("What one worker reports.")
    assert "counter (mutex u64, offset 0" in pyfixture.Fixture.__doc__
    assert "Incremented under its lock." in pyfixture.Fixture.__doc__


def test_field_named_like_a_segment_attribute(seg_name: str) -> None:
    import text

    seg = text.Labels.create(seg_name)
    seg.name = "field"
    assert seg.name == "field"  # the field wins
    assert shmgen.Segment.name.fget(seg) == seg_name


def test_page_aligned_root(seg_name: str) -> None:
    import align

    seg = align.Hot.create(seg_name)
    assert align.Hot._shmgen_align_ == 4096
    assert seg.header.payload_offset == 4096
    assert ctypes.addressof(seg.root) % 4096 == 0
    seg.a.add(1)
    with seg.lock.lock() as v:
        v.value = 3
    assert align.Hot.open(seg_name).a.load() == 1


def test_colliding_names(seg_name: str) -> None:
    """Structs named `ctypes`/`shmgen`, fields named like ctypes' and shmgen's own methods and
    like segment attributes: the module imports and every field works."""
    import collide

    assert collide.Clash.create.__class__.__name__ == "CField"  # the field shadows the method
    seg = shmgen.create(collide.Clash, seg_name)
    S = shmgen.Segment
    seg.name = "n"
    assert seg.name == "n" and S.name.fget(seg) == seg_name
    assert seg.close.add(2) == 0 and seg.close.load() == 2  # the atomic field `close`
    with seg.root.lock() as r:  # the mutex field `root` (a struct named `ctypes`)
        r.from_buffer = 7
        r.from_address = 1
    seg.from_buffer = 99
    assert seg.from_buffer == 99
    seg.header.set()
    assert seg.header.is_set()
    seg.path.open = 5
    seg.is_creator[1].from_buffer = 3
    other = shmgen.open(collide.Clash, seg_name)
    with other.root.lock() as r:
        assert (r.from_buffer, r.from_address) == (7, 1)
    assert other.path.open == 5 and other.is_creator[1].from_buffer == 3
    assert S.header.fget(other).root_name == "Clash"
    S.close(other)
    S.close(seg)
    assert S.closed.fget(seg)
