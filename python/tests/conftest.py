"""Shared fixtures: the generated modules (python/tests/generated, written by shmgen-codegen's
emit_python_c test from the real emitter) on sys.path, unique segment names, cleanup."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "generated"
SRC = HERE.parent / "src"
for p in (str(GENERATED), str(HERE), str(SRC)):
    if p not in sys.path:
        sys.path.insert(0, p)

import shmgen  # noqa: E402

_counter = itertools.count()


def _cleanup(name: str) -> None:
    try:
        shmgen.remove(name)
    except (shmgen.SegmentNotFound, shmgen.InvalidName):
        pass


@pytest.fixture
def seg_name() -> Iterator[str]:
    """A fresh segment name, removed after the test."""
    name = "shmgen-pytest-%d-%d" % (os.getpid(), next(_counter))
    _cleanup(name)
    yield name
    _cleanup(name)


@pytest.fixture
def seg_names() -> Iterator[List[str]]:
    """Several fresh names (``seg_names[i]``), removed after the test."""
    names = ["shmgen-pytest-%d-%d" % (os.getpid(), next(_counter)) for _ in range(4)]
    yield names
    for n in names:
        _cleanup(n)


def python_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(GENERATED), str(HERE)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs ``python -c code args...`` in a new process with the runtime and the generated
    modules importable."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
