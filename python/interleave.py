"""Item-passing benchmarks that survive a noisy machine: every contender runs in the *same* pair
of processes, in short alternating chunks, so a change of machine speed (load, a neighbour on
the host, CPU frequency, which vCPU each process landed on) hits all contenders alike.

Used by ``bench_ring.py`` (standalone) and ``bench_suite.py messages`` (shmgen-bench). One
producer process (forked) and one consumer process (the caller) pass items ``0..n-1`` through
each contender in turn: round ``r`` runs every contender once on its own range of ``chunk``
items, in an order rotated by ``r``. Before each chunk the consumer releases the producer
(a semaphore) and starts its clock; the chunk ends when the consumer has the chunk's last item,
whose numbers it sums and checks. The producer's CPU time of a chunk is measured between two
releases (so a ``multiprocessing.Queue``'s feeder thread counts); the consumer's around its
loop. Results per contender: items/s and CPU per item for every round, and per round the ratio
to a baseline contender measured moments apart.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from typing import Any, Callable, List, Sequence, Tuple

#: ``make(i)``: the item with number ``i``; ``number(item)``: its number back.
Make = Callable[[int], Any]
Number = Callable[[Any], int]


class Contender:
    """One way of passing items. ``setup`` runs in the consumer before the producer is forked
    (create shared resources there); ``producer_end`` in the producer returns
    ``run(lo, hi)`` (put items ``lo..hi-1``); ``consumer_end`` in the consumer returns
    ``take(k)`` (get ``k`` items, return the sum of their numbers)."""

    label = "?"

    def setup(self) -> None:
        pass

    def producer_end(self, make: Make) -> Callable[[int, int], None]:
        raise NotImplementedError

    def producer_done(self) -> None:
        pass

    def consumer_end(self, number: Number) -> Callable[[int], int]:
        raise NotImplementedError

    def teardown(self) -> None:
        pass

    def abandon(self) -> None:
        """The run is being aborted (the process exits right after, other threads may still
        use the resources): remove what would outlive the process (names), unmap nothing."""


def take_loop(get: Callable[[], Any], number: Number) -> Callable[[int], int]:
    """``take(k)`` for a one-item ``get``."""

    def take(k: int) -> int:
        s = 0
        for _ in range(k):
            s += number(get())
        return s

    return take


def put_loop(put: Callable[[Any], None], make: Make) -> Callable[[int, int], None]:
    """``run(lo, hi)`` for a one-item ``put``."""

    def run(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            put(make(i))

    return run


class QueueContender(Contender):
    """``multiprocessing.Queue`` ``put``/``get``."""

    label = "multiprocessing.Queue"

    def setup(self) -> None:
        self.q = mp.get_context("fork").Queue()

    def producer_end(self, make: Make) -> Callable[[int, int], None]:
        return put_loop(self.q.put, make)

    def producer_done(self) -> None:
        self.q.close()
        self.q.join_thread()

    def consumer_end(self, number: Number) -> Callable[[int], int]:
        return take_loop(self.q.get, number)


class PipeContender(Contender):
    """A ``multiprocessing.Pipe`` connection's ``send``/``recv``."""

    label = "multiprocessing.Pipe"

    def setup(self) -> None:
        self.rx, self.tx = mp.get_context("fork").Pipe(duplex=False)

    def producer_end(self, make: Make) -> Callable[[int, int], None]:
        return put_loop(self.tx.send, make)

    def consumer_end(self, number: Number) -> Callable[[int], int]:
        return take_loop(self.rx.recv, number)


def _producer(
    contenders: Sequence[Contender], schedule: List[Tuple[int, int, int]], make: Make, go: Any, out: Any
) -> None:
    runs = [c.producer_end(make) for c in contenders]
    marks: List[float] = []
    for ci, lo, hi in schedule:
        go.acquire()
        marks.append(time.process_time())
        runs[ci](lo, hi)
    go.acquire()  # released after the last chunk arrived
    marks.append(time.process_time())
    for c in contenders:
        c.producer_done()
    out.send([b - a for a, b in zip(marks, marks[1:])])


def _watchdog(p: Any, done: threading.Event, timeout: float, contenders: Sequence[Contender]) -> None:
    """The consumer's gets block without a timeout (a timeout would change what is measured):
    if the producer dies, or the run takes longer than ``timeout``, end this process with an
    error instead of waiting forever."""
    deadline = time.monotonic() + timeout
    while not done.wait(0.5):
        code = p.exitcode
        why = None
        if code is not None and code != 0:
            why = "the producer failed (exit code %s)" % code
        elif time.monotonic() > deadline:
            why = "no result after %.0f s" % timeout
        if why is not None and not done.is_set():
            sys.stderr.write("interleave: %s\n" % why)
            sys.stderr.flush()
            if p.is_alive():
                p.kill()
            for c in contenders:
                try:
                    c.abandon()
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
            os._exit(2)


class Result:
    """Per contender: ``rate[r]`` items/s, ``pcpu[r]`` / ``ccpu[r]`` producer / consumer CPU
    seconds per item, in round ``r``."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.rate: List[float] = []
        self.pcpu: List[float] = []
        self.ccpu: List[float] = []

    def median_rate(self) -> float:
        return statistics.median(self.rate)

    def ratios(self, base: "Result") -> List[float]:
        """Per-round items/s ratio to ``base`` (measured in the same round)."""
        return [a / b for a, b in zip(self.rate, base.rate)]

    def cpu_ratios(self, base: "Result") -> List[float]:
        """Per-round ratio of the busier side's CPU per item: ``base``'s over ours."""
        return [max(bp, bc) / max(p, c) for p, c, bp, bc in zip(self.pcpu, self.ccpu, base.pcpu, base.ccpu)]


def run(
    contenders: Sequence[Contender],
    rounds: int,
    chunk: int,
    make: Make = lambda i: i,
    number: Number = lambda x: x,
    timeout: float = 600.0,
) -> List[Result]:
    """Runs every contender ``rounds`` times on ``chunk`` items each, interleaved (above)."""
    if rounds < 1 or chunk < 1:
        raise ValueError("rounds and chunk must be >= 1")
    ctx = mp.get_context("fork")
    schedule: List[Tuple[int, int, int]] = []
    k = len(contenders)
    for r in range(rounds):
        for j in range(k):
            ci = (r + j) % k
            lo = (r * k + ci) * chunk
            schedule.append((ci, lo, lo + chunk))
    for c in contenders:
        c.setup()
    go = ctx.Semaphore(0)
    rx, tx = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_producer, args=(contenders, schedule, make, go, tx))
    p.start()
    done = threading.Event()
    threading.Thread(target=_watchdog, args=(p, done, timeout, contenders), daemon=True).start()
    try:
        takes = [c.consumer_end(number) for c in contenders]
        results = [Result(c.label) for c in contenders]
        walls: List[float] = []
        for ci, lo, hi in schedule:
            t0, c0 = time.perf_counter(), time.process_time()
            go.release()
            s = takes[ci](hi - lo)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if s != (lo + hi - 1) * (hi - lo) // 2:
                raise SystemExit("%s: wrong sum of items %d..%d" % (contenders[ci].label, lo, hi - 1))
            results[ci].rate.append((hi - lo) / wall)
            results[ci].ccpu.append(cpu / (hi - lo))
            walls.append(wall)
        go.release()
        if not rx.poll(timeout):
            raise SystemExit("the producer did not report")
        pcpu = rx.recv()
        for (ci, lo, hi), c in zip(schedule, pcpu):
            results[ci].pcpu.append(c / (hi - lo))
        p.join(timeout)
        if p.exitcode != 0:
            raise SystemExit("the producer failed (exit code %s)" % p.exitcode)
        return results
    finally:
        done.set()
        if p.is_alive():
            p.kill()
            p.join()
        for c in contenders:
            c.teardown()


def summary(x: Sequence[float]) -> Tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(x), min(x), max(x)
