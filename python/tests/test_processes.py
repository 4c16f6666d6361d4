"""Real processes: multiprocessing (spawn and fork) and subprocesses sharing segments."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

import shmgen
import workers
from conftest import run_python
from pyfixture import Fixture

N = int(os.environ.get("SHMGEN_TEST_N", "200000"))


def run_procs(method: str, target, args, count: int = 2) -> None:
    ctx = multiprocessing.get_context(method)
    ps = [ctx.Process(target=target, args=args) for _ in range(count)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(300)
        assert p.exitcode == 0, p.exitcode


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_mutex_counter_two_processes(seg_name: str, method: str) -> None:
    seg = Fixture.create(seg_name)
    run_procs(method, workers.mutex_increments, (seg_name, N))
    with seg.counter.lock() as c:
        assert c.value == 2 * N


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_atomic_counter_two_processes(seg_name: str, method: str) -> None:
    seg = Fixture.create(seg_name)
    run_procs(method, workers.atomic_increments, (seg_name, N))
    assert seg.hits.load() == 2 * N


@pytest.mark.parametrize("method", ["spawn", "fork", "forkserver"])
def test_segment_passed_to_children(seg_name: str, method: str) -> None:
    """The segment object itself goes to the children (pickled by name for spawn/forkserver,
    inherited for fork) and to a Pool."""
    seg = Fixture.create(seg_name)
    ctx = multiprocessing.get_context(method)
    p = ctx.Process(target=workers.segment_arg_increments, args=(seg, 1000))
    p.start()
    p.join(120)
    assert p.exitcode == 0
    with ctx.Pool(2) as pool:
        pids = pool.starmap(workers.segment_arg_increments, [(seg, 500)] * 4)
    assert all(pid != os.getpid() for pid in pids)
    assert seg.hits.load() == 3000
    with seg.counter.lock() as c:
        assert c.value == 3000


def kill_when_ready(seg, target, method: str = "spawn") -> None:
    ctx = multiprocessing.get_context(method)
    p = ctx.Process(target=target, args=(seg.name,))
    p.start()
    assert seg.ready.wait(60), "the child never took the lock"
    os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    assert p.exitcode == -signal.SIGKILL
    seg.ready.clear()


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_owner_died_is_recovered(seg_name: str, method: str) -> None:
    seg = Fixture.create(seg_name)
    with seg.counter.lock() as c:
        c.value = 10
    kill_when_ready(seg, workers.hold_lock_and_wait, method)

    # The next locker learns the owner died, holds the lock, repairs the value.
    with pytest.raises(shmgen.OwnerDied) as info:
        with seg.counter.lock() as c:
            pytest.fail("the with body must not run")  # pragma: no cover
    died = info.value
    assert "previous holder died" in str(died)
    assert seg.counter.try_lock() is None  # the exception holds the lock
    with died as c:
        assert c.value == 999  # the dead holder's half-done update
        c.value = 10  # repair
    # The lock keeps working, here and in other processes.
    with seg.counter.lock() as c:
        assert c.value == 10
        c.value += 1
    run_procs(method, workers.mutex_increments, (seg_name, 100))
    with seg.counter.lock() as c:
        assert c.value == 211


def test_owner_died_release_without_with(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    kill_when_ready(seg, workers.hold_lock_and_wait)
    try:
        seg.counter.lock()
    except shmgen.OwnerDied as died:
        died.value.value = 0
        died.release()
    with seg.counter.lock(timeout=5) as c:
        assert c.value == 0


def test_owner_died_seen_by_try_lock_and_acquire(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    kill_when_ready(seg, workers.hold_lock_and_wait)
    with pytest.raises(shmgen.OwnerDied) as info:
        seg.counter.try_lock()
    info.value.release()
    kill_when_ready(seg, workers.hold_lock_and_wait)
    with pytest.raises(shmgen.OwnerDied) as info:
        seg.counter.acquire()
    info.value.release()
    assert seg.counter.acquire(timeout=1)
    seg.counter.release()


def test_owner_died_rmutex_held_twice(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    kill_when_ready(seg, workers.hold_rmutex_twice_and_wait)
    with pytest.raises(shmgen.OwnerDied) as info:
        seg.items.lock()
    with info.value as items:
        items[0] = 1
    with seg.items.lock() as items:
        with seg.items.lock() as again:
            assert again[0] == 1


def test_dropped_owner_died_then_process_exit_reports_again(seg_name: str) -> None:
    """A process that gets OwnerDied and exits without releasing leaves the lock to the next
    holder, again as OwnerDied (the robust-mutex contract)."""
    seg = Fixture.create(seg_name)
    kill_when_ready(seg, workers.hold_lock_and_wait)
    code = (
        "import sys, shmgen, pyfixture\n"
        "s = pyfixture.Fixture.open(sys.argv[1])\n"
        "try:\n    s.counter.lock()\nexcept shmgen.OwnerDied:\n    print('died')\n"
    )
    r = run_python(code, seg_name)
    assert r.stdout.strip() == "died", r.stderr
    with pytest.raises(shmgen.OwnerDied) as info:
        seg.counter.lock(timeout=5)
    info.value.release()


def test_seqlock_writer_death_keeps_the_value(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    seg.status.write("before")
    code = (
        "import os, signal, sys, pyfixture\n"
        "from shmgen import _native as N\n"
        "s = pyfixture.Fixture.open(sys.argv[1])\n"
        "assert N.mutex_trylock(s.status._writer_vp) == 0\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    r = run_python(code, seg_name)
    assert r.returncode == -signal.SIGKILL
    assert seg.status.read() == "before"
    seg.status.write("after")  # the writer mutex is recovered
    assert seg.status.read() == "after"


def test_seqlock_readers_never_see_torn_values(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=workers.seqlock_writer, args=(seg_name, 20000))
    p.start()
    reads = 0
    while p.is_alive() or reads == 0:
        v = seg.position.read()
        assert v.y == 2 * v.x and v.tag == int(v.x) % 256, (v.tag, v.x, v.y)
        s = seg.status.read()
        assert s == "" or s.startswith("step ")
        reads += 1
    p.join()
    assert p.exitcode == 0
    assert seg.position.read().x == 19999.0
    assert seg.status.sequence == 20000
    assert reads > 10


def test_semaphore_across_processes(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    run_procs("spawn", workers.semaphore_worker, (seg_name, 50), count=4)
    assert seg.flag.load() is False, "more than 2 processes held the semaphore"
    assert seg.slots.value == 2 and seg.delta.load() == 0


def test_event_wakes_processes(seg_name: str) -> None:
    seg = Fixture.create(seg_name)
    seg.slots.acquire()
    seg.slots.acquire()  # count 0: children release it when they start waiting
    ctx = multiprocessing.get_context("spawn")
    ps = [ctx.Process(target=workers.event_waiter, args=(seg_name, 30)) for _ in range(3)]
    for p in ps:
        p.start()
    for _ in ps:
        assert seg.slots.acquire(timeout=60)
    time.sleep(0.2)
    t = time.monotonic()
    seg.ready.set()
    for p in ps:
        p.join(30)
        assert p.exitcode == 0
    assert time.monotonic() - t < 10
    assert seg.hits.load() == 3  # all woke by the event, none timed out


def test_event_wait_times_out_in_other_process(seg_name: str) -> None:
    Fixture.create(seg_name)
    code = (
        "import sys, time, pyfixture\n"
        "s = pyfixture.Fixture.open(sys.argv[1])\n"
        "t = time.monotonic(); ok = s.ready.wait(0.3); dt = time.monotonic() - t\n"
        "print(ok, dt >= 0.3)\n"
    )
    r = run_python(code, seg_name)
    assert r.stdout.split() == ["False", "True"], r.stderr


def test_creator_in_progress_is_invisible(seg_name: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=workers.sleeper_creator, args=(seg_name,))
    p.start()
    try:
        time.sleep(1.0)
        with pytest.raises(shmgen.SegmentNotFound):
            Fixture.open(seg_name)
        temps = [f for f in os.listdir("/dev/shm") if f.startswith(".shmgen-%s.%d." % (seg_name, p.pid))]
        assert len(temps) == 1
    finally:
        p.kill()
        p.join()
    for f in os.listdir("/dev/shm"):
        if f.startswith(".shmgen-%s." % seg_name):
            os.unlink("/dev/shm/" + f)
