"""Benchmark: u64 items per second between two Python processes, shmgen ring vs
``multiprocessing.Queue`` (and, for reference, a ``multiprocessing.Pipe`` connection and the
ring's batch operations ``put_many``/``get_many``).

    python python/bench_ring.py [--chunk N] [--rounds R] [--capacity C]

All contenders run in the same producer and consumer processes, in alternating chunks of N
integers, R rounds (see ``interleave.py``): on a machine whose speed changes from one second to
the next, each round's ratios compare contenders measured moments apart. Prints the median
items/s and CPU per item of each, then the median (min–max) of the per-round ratios. The ring's
segment is created here and removed at the end.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing as mp
import os
import statistics
import sys
from typing import Any, Callable, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "src"))
sys.path.insert(0, HERE)

import interleave  # noqa: E402
import shmgen  # noqa: E402
import shmgen.ring  # noqa: E402,F401
from shmgen import abi  # noqa: E402


def ring_root(capacity: int) -> Any:
    """``struct Bench { jobs: Ring<u64, capacity> }``."""
    rt = shmgen.ring_type(ctypes.c_uint64, capacity)
    size = ctypes.sizeof(rt)
    return type(
        "Bench",
        (shmgen.Struct,),
        {
            "_fields_": [("jobs", rt)],
            "_shmgen_schema_": "bench",
            "_shmgen_version_": 1,
            "_shmgen_name_": "Bench",
            "_shmgen_size_": size,
            "_shmgen_align_": abi.RING_ALIGN,
            "_shmgen_fingerprint_": 0x62656E6368 + capacity,
        },
    )


def ring_of(seg: Any) -> Any:
    r = seg.jobs
    return r if hasattr(r, "put") else shmgen.ring.bind(r)


BATCH = 64


class RingContender(interleave.Contender):
    """The ring ``jobs`` of a ``Bench`` segment: ``put``/``get``, or with ``batch``
    ``put_many``/``get_many`` of up to ``batch`` items."""

    def __init__(self, capacity: int, batch: int = 0) -> None:
        self.root = ring_root(capacity)
        self.batch = batch
        self.label = "ring put_many/get_many" if batch else "shmgen ring (Python)"

    def setup(self) -> None:
        self.name = "shmgen-bench-ring-%d-%d" % (os.getpid(), self.batch)
        try:
            shmgen.remove(self.name)
        except shmgen.ShmgenError:
            pass
        self.seg = self.root.create(self.name)

    def producer_end(self, make: interleave.Make) -> Callable[[int, int], None]:
        ring = ring_of(self.root.open(self.name))
        if not self.batch:
            return interleave.put_loop(ring.put, make)
        put_many, b = ring.put_many, self.batch

        def run(lo: int, hi: int) -> None:
            for k in range(lo, hi, b):
                put_many([make(i) for i in range(k, min(hi, k + b))])

        return run

    def consumer_end(self, number: interleave.Number) -> Callable[[int], int]:
        ring = ring_of(self.seg)
        if not self.batch:
            return interleave.take_loop(ring.get, number)
        get_many, b = ring.get_many, self.batch

        def take(k: int) -> int:
            s = got = 0
            while got < k:
                xs = get_many(min(b, k - got))
                got += len(xs)
                s += sum(number(x) for x in xs)
            return s

        return take

    def teardown(self) -> None:
        self.seg.close()
        shmgen.remove(self.name)

    def abandon(self) -> None:
        shmgen.remove(self.name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunk", type=int, default=20_000, help="items per contender per round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--capacity", type=int, default=1024)
    a = ap.parse_args()
    contenders: List[interleave.Contender] = [
        RingContender(a.capacity),
        interleave.QueueContender(),
        interleave.PipeContender(),
        RingContender(a.capacity, batch=BATCH),
    ]
    results = interleave.run(contenders, a.rounds, a.chunk)
    print(
        "u64 items, producer process -> consumer process: %d rounds of %d items per contender, "
        "interleaved (%d CPUs, load average %.1f)" % (a.rounds, a.chunk, os.cpu_count() or 0, os.getloadavg()[0])
    )
    print("  %-24s %12s  %9s  %s" % ("", "items/s", "us/item", "CPU us/item (producer, consumer); medians"))
    for r in results:
        rate = r.median_rate()
        print(
            "  %-24s %12.0f  %9.2f  %.2f, %.2f"
            % (r.label, rate, 1e6 / rate, statistics.median(r.pcpu) * 1e6, statistics.median(r.ccpu) * 1e6)
        )
    ring, queue_, pipe, batched = results
    for what, x, base in (
        ("ring vs multiprocessing.Queue", ring, queue_),
        ("ring vs multiprocessing.Pipe", ring, pipe),
        ("batched ring (%d) vs multiprocessing.Queue" % BATCH, batched, queue_),
    ):
        m, lo, hi = interleave.summary(x.ratios(base))
        cm, clo, chi = interleave.summary(x.cpu_ratios(base))
        print(
            "  %s: %.2fx items/s (%.2f-%.2f over rounds); %.2fx less CPU per item on the busier side (%.2f-%.2f)"
            % (what, m, lo, hi, cm, clo, chi)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
