"""The generated stubs (.pyi) let mypy check code that uses segments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GENERATED, SRC

pytest.importorskip("mypy")

GOOD = '''
import ctypes
import shmgen
from metrics import Metrics, MetricsSegment
from pyfixture import Fixture, Point

def use(seg: MetricsSegment) -> int:
    prev: int = seg.tasks_done.add(1)
    with seg.workers.lock() as w:
        w[0].completed += 1
        c: int = w[1].errors
    seg.status.write("running")
    s: str = seg.status.read()
    seg.shutdown.set()
    ok: bool = seg.shutdown.wait(timeout=1.0)
    got: bool = seg.slots.acquire(timeout=0.5)
    seg.slots.release()
    return prev + c + len(s) + int(ok) + int(got) + seg.jobs.capacity

def fixture() -> None:
    seg = Fixture.open_or_create("typing-example")
    with seg.counter.lock() as c:
        v: ctypes.c_uint64 = c
        v.value += 1
    with seg.note.lock() as n:
        text: str = n.value
        n.value = text + "!"
    p: Point = seg.position.read()
    x: float = p.x + seg.origin.y
    seg.label = "hello"
    b: bytes = seg.blob
    arr: shmgen.Array[float] = seg.samples
    first: float = arr[0]
    g: int = seg.grid[1][2]
    try:
        seg.counter.lock()
    except shmgen.OwnerDied as died:
        with died as value:
            pass
    guard = seg.counter.try_lock()
    if guard is not None:
        guard.release()
    seg.close()
    shmgen.Segment.unlink(seg)
    print(x, b, first, g)

def main() -> None:
    seg: MetricsSegment = Metrics.create("typing-example", mode=0o600)
    use(seg)
'''

BAD = '''
from metrics import Metrics
seg = Metrics.open("x")
seg.tasks_done.add("one")
seg.status.write(3)
n: str = seg.tasks_done.load()
seg.nonexistent.add(1)
'''


def run_mypy(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    f = tmp_path / "example.py"
    f.write_text(code)
    env = dict(os.environ)
    env["MYPYPATH"] = os.pathsep.join([str(GENERATED), str(SRC)])
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(f)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_stubs_type_check_good_code(tmp_path: Path) -> None:
    r = run_mypy(tmp_path, GOOD)
    assert r.returncode == 0, r.stdout + r.stderr


def test_stubs_catch_mistakes(tmp_path: Path) -> None:
    r = run_mypy(tmp_path, BAD)
    assert r.returncode == 1
    out = r.stdout
    assert 'Argument 1 to "add" of "Atomic" has incompatible type "str"' in out, out
    assert 'Argument 1 to "write" of "SeqLock" has incompatible type "int"' in out, out
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in out, out
    assert '"MetricsSegment" has no attribute "nonexistent"' in out, out


def test_all_stubs_are_valid(tmp_path: Path) -> None:
    stubs = sorted(str(p) for p in GENERATED.glob("*.pyi"))
    env = dict(os.environ)
    env["MYPYPATH"] = str(SRC)
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), *stubs],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
