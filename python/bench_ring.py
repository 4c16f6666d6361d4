"""Benchmark: u64 items per second between two Python processes, shmgen ring vs
``multiprocessing.Queue`` (and, for reference, a ``multiprocessing.Pipe`` connection and the
ring's batch operations ``put_many``/``get_many``).

    python python/bench_ring.py [--items N] [--capacity C] [--repeat R]

Each contender moves the same N integers from a producer process to a consumer process; the
clock runs from the moment both processes are ready until the consumer has the last item. The
best of R runs is reported, then the ratios. The ring's segment is created here and removed at
the end.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing as mp
import os
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))

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


def _ring_producer(name: str, capacity: int, n: int, go: Any, out: Any) -> None:
    seg = ring_root(capacity).open(name)
    put = ring_of(seg).put
    go.wait()
    c0 = time.process_time()
    for i in range(n):
        put(i)
    out.put(("p", time.process_time() - c0))


def _ring_consumer(name: str, capacity: int, n: int, ready: Any, go: Any, out: Any) -> None:
    seg = ring_root(capacity).open(name)
    get = ring_of(seg).get
    ready.set()
    go.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    s = 0
    for _ in range(n):
        s += get()
    out.put(("c", time.perf_counter() - t0, time.process_time() - c0, s))


def _collect(out: Any, n: int) -> Tuple[float, float, float]:
    """(wall seconds, producer CPU seconds, consumer CPU seconds) from the two reports."""
    got: Dict[str, Any] = {}
    for _ in range(2):
        r = out.get(timeout=600)
        got[r[0]] = r[1:]
    wall, ccpu, s = got["c"]
    assert s == n * (n - 1) // 2, "wrong sum"
    return wall, got["p"][0], ccpu


def _ring_producer_batch(name: str, capacity: int, n: int, go: Any, out: Any) -> None:
    seg = ring_root(capacity).open(name)
    put_many = ring_of(seg).put_many
    go.wait()
    c0 = time.process_time()
    for k in range(0, n, BATCH):
        put_many(range(k, min(n, k + BATCH)))
    out.put(("p", time.process_time() - c0))


def _ring_consumer_batch(name: str, capacity: int, n: int, ready: Any, go: Any, out: Any) -> None:
    seg = ring_root(capacity).open(name)
    get_many = ring_of(seg).get_many
    ready.set()
    go.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    s = 0
    got = 0
    while got < n:
        xs = get_many(BATCH)
        got += len(xs)
        s += sum(xs)
    out.put(("c", time.perf_counter() - t0, time.process_time() - c0, s))


BATCH = 64


def bench_ring(n: int, capacity: int, batch: bool = False) -> Tuple[float, float, float]:
    name = "shmgen-bench-ring-%d" % os.getpid()
    try:
        shmgen.remove(name)
    except Exception:
        pass
    seg = ring_root(capacity).create(name)
    try:
        ctx = mp.get_context("fork")
        ready, go, out = ctx.Event(), ctx.Event(), ctx.Queue()
        consumer, producer = (_ring_consumer_batch, _ring_producer_batch) if batch else (_ring_consumer, _ring_producer)
        c = ctx.Process(target=consumer, args=(name, capacity, n, ready, go, out))
        p = ctx.Process(target=producer, args=(name, capacity, n, go, out))
        c.start()
        p.start()
        ready.wait(30)
        time.sleep(0.05)
        go.set()
        r = _collect(out, n)
        p.join(60)
        c.join(60)
        return r
    finally:
        seg.close()
        shmgen.remove(name)


def _queue_producer(q: Any, n: int, go: Any, out: Any) -> None:
    put = q.put
    go.wait()
    c0 = time.process_time()
    for i in range(n):
        put(i)
    q.close()
    q.join_thread()  # the feeder thread has written everything (its CPU time counts too)
    out.put(("p", time.process_time() - c0))


def _queue_consumer(q: Any, n: int, ready: Any, go: Any, out: Any) -> None:
    get = q.get
    ready.set()
    go.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    s = 0
    for _ in range(n):
        s += get()
    out.put(("c", time.perf_counter() - t0, time.process_time() - c0, s))


def bench_queue(n: int) -> Tuple[float, float, float]:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    ready, go, out = ctx.Event(), ctx.Event(), ctx.Queue()
    c = ctx.Process(target=_queue_consumer, args=(q, n, ready, go, out))
    p = ctx.Process(target=_queue_producer, args=(q, n, go, out))
    c.start()
    p.start()
    ready.wait(30)
    time.sleep(0.05)
    go.set()
    r = _collect(out, n)
    p.join(60)
    c.join(60)
    return r


def _pipe_producer(conn: Any, n: int, go: Any, out: Any) -> None:
    send = conn.send
    go.wait()
    c0 = time.process_time()
    for i in range(n):
        send(i)
    out.put(("p", time.process_time() - c0))


def _pipe_consumer(conn: Any, n: int, ready: Any, go: Any, out: Any) -> None:
    recv = conn.recv
    ready.set()
    go.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    s = 0
    for _ in range(n):
        s += recv()
    out.put(("c", time.perf_counter() - t0, time.process_time() - c0, s))


def bench_pipe(n: int) -> Tuple[float, float, float]:
    ctx = mp.get_context("fork")
    rx, tx = ctx.Pipe(duplex=False)
    ready, go, out = ctx.Event(), ctx.Event(), ctx.Queue()
    c = ctx.Process(target=_pipe_consumer, args=(rx, n, ready, go, out))
    p = ctx.Process(target=_pipe_producer, args=(tx, n, go, out))
    c.start()
    p.start()
    ready.wait(30)
    time.sleep(0.05)
    go.set()
    r = _collect(out, n)
    p.join(60)
    c.join(60)
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--capacity", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    n = a.items
    contenders: List[Tuple[str, Callable[[], Tuple[float, float, float]]]] = [
        ("shmgen ring (Python)", lambda: bench_ring(n, a.capacity)),
        ("multiprocessing.Queue", lambda: bench_queue(n)),
        ("multiprocessing.Pipe", lambda: bench_pipe(n)),
        ("ring put_many/get_many", lambda: bench_ring(n, a.capacity, batch=True)),
    ]
    best: Dict[str, Tuple[float, float, float]] = {}
    for _ in range(a.repeat):
        for label, f in contenders:  # interleaved, so load changes hit all alike
            r = f()
            if label not in best or r[0] < best[label][0]:
                best[label] = r
    print(
        "%d u64 items, producer process -> consumer process, best of %d (%d CPUs, load average %.1f)"
        % (n, a.repeat, os.cpu_count() or 0, os.getloadavg()[0])
    )
    print("  %-24s %8s  %12s  %9s  %s" % ("", "seconds", "items/s", "us/item", "CPU us/item (producer, consumer)"))
    for label, _ in contenders:
        wall, pc, cc = best[label]
        print(
            "  %-24s %8.3f  %12.0f  %9.2f  %.2f, %.2f"
            % (label, wall, n / wall, wall / n * 1e6, pc / n * 1e6, cc / n * 1e6)
        )
    r, q, p, rb = (best[label] for label, _ in contenders)
    print("  ring vs multiprocessing.Queue: %.2fx items/s; %.2fx less CPU per item on the busier side"
          % (q[0] / r[0], max(q[1], q[2]) / max(r[1], r[2])))
    print("  ring vs multiprocessing.Pipe:  %.2fx items/s; %.2fx less CPU per item on the busier side"
          % (p[0] / r[0], max(p[1], p[2]) / max(r[1], r[2])))
    print("  batched ring (64) vs multiprocessing.Queue: %.2fx items/s; %.2fx less CPU per item on the busier side"
          % (q[0] / rb[0], max(q[1], q[2]) / max(rb[1], rb[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
