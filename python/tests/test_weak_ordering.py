"""The weakly ordered machines' code path (aarch64: libatomic fences around plain memoryview
loads and stores in the ring and the seqlock), run here on x86_64 through the test hook
``SHMGEN_ASSUME_WEAK_ORDERING=1``: the fences are redundant on x86_64, so this checks that the
path is complete and correct, not that the fences are sufficient on a weak machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _env() -> dict:
    env = dict(os.environ, SHMGEN_ASSUME_WEAK_ORDERING="1")
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
    return env


def test_the_hook_selects_the_weak_path() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import shmgen._native as N; print(N.STRONG_ORDERING)"],
        env=_env(), capture_output=True, text=True, timeout=60, check=True,
    )
    assert out.stdout.strip() == "False"


def test_rings_and_seqlocks_on_the_weak_path() -> None:
    """The ring tests (threads, processes, crashes, wrap-around) and the seqlock tests (torn
    reads across processes) with every fence of the weak path in place."""
    r = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
            "test_ring.py", "test_fields.py::test_seqlock",
            "test_processes.py::test_seqlock_readers_never_see_torn_values",
            "test_processes.py::test_seqlock_writer_death_keeps_the_value",
        ],
        cwd=HERE, env=_env(), capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout, r.stdout[-2000:]
