#!/usr/bin/env python3
"""The reference examples' counter benchmark, in one run: P processes x N increments of one
shared counter, three ways:

1. ``multiprocessing.Value`` with ``get_lock()`` (the baseline the reference examples use):
       with v.get_lock(): v.value += 1
2. a shmgen ``Mutex`` field:
       with seg.locked.lock() as c: c.value += 1
3. a shmgen atomic field:
       seg.atomic.add(1)

The generated module is ``python/tests/generated/counter.py`` (from
``python/tests/schemas/counter.toml``, written by shmgen's Python emitter). Every run checks
the exact total. Times are the parallel section only (from the first worker's start to the
last worker's end, all workers released together by a barrier), best of ``--repeat`` runs;
ratios are baseline time / shmgen time (higher is better for shmgen).

    python3 python/bench_counter.py                 # 2 x 1,000,000, fork, best of 3
    python3 python/bench_counter.py -n 200000 --start-method spawn
    python3 python/bench_counter.py --json          # one JSON line with every run's seconds
                                                    # (what shmgen-bench, group (c), reads)
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import os
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "src"), os.path.join(HERE, "tests", "generated")]

import shmgen  # noqa: E402
from counter import Counter  # noqa: E402


def _timed(barrier: Any, conn: Any, body: Callable[[], None]) -> None:
    barrier.wait()
    t0 = time.perf_counter()
    body()
    t1 = time.perf_counter()
    conn.send((t0, t1))
    conn.close()


def worker_value(barrier: Any, conn: Any, v: Any, n: int) -> None:
    def body() -> None:
        lock = v.get_lock()
        for _ in range(n):
            with lock:
                v.value += 1

    _timed(barrier, conn, body)


def worker_mutex(barrier: Any, conn: Any, name: str, n: int) -> None:
    seg = Counter.open(name)

    def body() -> None:
        for _ in range(n):
            with seg.locked.lock() as c:
                c.value += 1

    _timed(barrier, conn, body)


def worker_atomic(barrier: Any, conn: Any, name: str, n: int) -> None:
    seg = Counter.open(name)

    def body() -> None:
        for _ in range(n):
            seg.atomic.add(1)

    _timed(barrier, conn, body)


def run(ctx: Any, target: Callable[..., None], arg: Any, procs: int, n: int) -> float:
    barrier = ctx.Barrier(procs)
    pipes = [ctx.Pipe(duplex=False) for _ in range(procs)]
    ps = [ctx.Process(target=target, args=(barrier, w, arg, n)) for (_, w) in pipes]
    for p in ps:
        p.start()
    spans = [r.recv() for (r, _) in pipes]
    for p in ps:
        p.join()
        if p.exitcode != 0:
            raise SystemExit("a worker failed (exit code %s)" % p.exitcode)
    return max(t1 for _, t1 in spans) - min(t0 for t0, _ in spans)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1_000_000, help="increments per process (default 1,000,000)")
    ap.add_argument("-p", "--procs", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each method; the best is reported (default 3)")
    ap.add_argument("--start-method", default="fork", choices=["fork", "spawn", "forkserver"])
    ap.add_argument("--json", action="store_true", help="print one JSON line (every run's seconds per method) instead of the table")
    a = ap.parse_args()
    ctx = multiprocessing.get_context(a.start_method)
    total = a.procs * a.n
    name = "shmgen-bench-counter-%d" % os.getpid()

    if not a.json:
        print(
            "%d processes x %s increments (%s), best of %d; Python %s, %s, load average %.2f"
            % (
                a.procs,
                format(a.n, ","),
                a.start_method,
                a.repeat,
                sys.version.split()[0],
                os.uname().machine,
                os.getloadavg()[0],
            )
        )
    times: Dict[str, List[float]] = {"value": [], "mutex": [], "atomic": []}
    seg = Counter.create(name)
    try:
        for _ in range(a.repeat):
            # Interleave the methods so that background load hits all of them alike.
            v = ctx.Value(ctypes.c_int, 0)
            times["value"].append(run(ctx, worker_value, v, a.procs, a.n))
            if v.value != total:
                raise SystemExit("multiprocessing.Value total %d != %d" % (v.value, total))

            with seg.locked.lock() as c:
                c.value = 0
            times["mutex"].append(run(ctx, worker_mutex, name, a.procs, a.n))
            with seg.locked.lock() as c:
                if c.value != total:
                    raise SystemExit("shmgen mutex total %d != %d" % (c.value, total))

            seg.atomic.store(0)
            times["atomic"].append(run(ctx, worker_atomic, name, a.procs, a.n))
            if seg.atomic.load() != total:
                raise SystemExit("shmgen atomic total %d != %d" % (seg.atomic.load(), total))
    finally:
        seg.unlink()
        seg.close()

    if a.json:
        print(json.dumps({
            "procs": a.procs,
            "n": a.n,
            "start_method": a.start_method,
            "python": sys.version.split()[0],
            "load_average": os.getloadavg()[0],
            "value": times["value"],
            "mutex": times["mutex"],
            "atomic": times["atomic"],
        }))
        return

    base = min(times["value"])
    rows: List[Tuple[str, str, float]] = [
        ("multiprocessing.Value + get_lock()", "value", 1.0),
        ("shmgen Mutex field: with lock()", "mutex", 1.5),
        ("shmgen atomic field: add(1)", "atomic", 4.0),
    ]
    print("%-36s %9s %11s %8s %6s   %s" % ("method", "best s", "ns/incr", "ratio", "goal", "all runs (s)"))
    for label, key, goal in rows:
        best = min(times[key])
        print(
            "%-36s %9.3f %11.0f %7.2fx %5s   %s"
            % (
                label,
                best,
                best / total * 1e9,
                base / best,
                "" if key == "value" else ">=%gx" % goal,
                " ".join("%.3f" % t for t in times[key]),
            )
        )
    print("totals exact: %s each" % format(total, ","))


if __name__ == "__main__":
    main()
