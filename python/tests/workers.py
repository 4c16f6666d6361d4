"""Worker functions for multiprocessing tests (importable by spawned children)."""

from __future__ import annotations

import os
import time

import shmgen
from pyfixture import Fixture, FixtureSegment, Point


def mutex_increments(name: str, n: int) -> None:
    seg = Fixture.open(name)
    for _ in range(n):
        with seg.counter.lock() as c:
            c.value += 1
    seg.close()


def atomic_increments(name: str, n: int) -> None:
    seg = Fixture.open(name)
    add = seg.hits.add
    for _ in range(n):
        add(1)
    seg.close()


def segment_arg_increments(seg: FixtureSegment, n: int) -> int:
    """Takes the segment itself (pickled by name under spawn / Pool)."""
    for _ in range(n):
        seg.hits.add(1)
        with seg.counter.lock() as c:
            c.value += 1
    return os.getpid()


def hold_lock_and_wait(name: str) -> None:
    """Takes the counter's lock, half-updates the value, tells the parent, and waits to be
    killed."""
    seg = Fixture.open(name)
    g = seg.counter.lock()
    g.value.value = 999  # a "half-done" update the survivor must repair
    seg.ready.set()
    time.sleep(60)


def hold_rmutex_twice_and_wait(name: str) -> None:
    seg = Fixture.open(name)
    seg.items.lock()
    seg.items.lock()  # reentrant: held twice
    seg.ready.set()
    time.sleep(60)


def semaphore_worker(name: str, rounds: int) -> None:
    """Acquires the semaphore, checks at most 2 holders at once (tracked in `delta`)."""
    seg = Fixture.open(name)
    for _ in range(rounds):
        with seg.slots:
            inside = seg.delta.add(1) + 1
            if inside > 2:
                seg.flag.store(True)  # violation
            time.sleep(0.001)
            seg.delta.add(-1)
    seg.close()


def event_waiter(name: str, timeout: float) -> None:
    seg = Fixture.open(name)
    seg.slots.release()  # "I am about to wait"
    ok = seg.ready.wait(timeout)
    seg.hits.add(1 if ok else 1000)
    seg.close()


def seqlock_writer(name: str, n: int) -> None:
    seg = Fixture.open(name)
    for i in range(n):
        # Every published value is self-consistent: y == 2 * x, tag == x % 256.
        p = Point()
        p.tag = i % 256
        p.x = float(i)
        p.y = float(2 * i)
        seg.position.write(p)
        seg.status.write("step %d" % i)
    seg.close()


def sleeper_creator(name: str) -> None:
    """Creates a segment whose init callback never finishes (the creator is killed)."""

    def init(root: Fixture) -> None:
        time.sleep(60)

    Fixture.create(name, init=init)

