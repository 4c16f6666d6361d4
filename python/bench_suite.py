#!/usr/bin/env python3
"""The Python contenders of shmgen's benchmark suite (``shmgen-bench``, bench/ in the
repository), one repetition per call, so that shmgen-bench can interleave them with its Rust
contenders:

``messages --size 8|64|4096 -n N``
    N items from a producer process to a consumer process (this one), one item per call: a
    shmgen ring (``Rings.small`` / ``medium`` / ``large``: ``u64``, ``bytes[64]``,
    ``bytes[4096]``, capacity 1,024) with ``put``/``get``, and ``multiprocessing.Queue`` with
    ``put``/``get`` of the same items (``int``, or ``bytes`` of that size), in ``--rounds``
    alternating chunks in the same two processes (``interleave.py``: a noisy machine hits both
    alike). The clock runs from releasing the waiting producer to the chunk's last item
    received; the sum of the items' numbers is checked. Prints the median items/s of each
    and the median per-round ratio.

``bulk``
    Publishing a 64 MiB ``f64`` array (8,388,608 elements) to another process: through the
    segment's numpy view (``Bulk.data.as_numpy()[:] = src``, then the ``published`` event), and
    with ``multiprocessing.Queue.put`` of the numpy array. Timed from the producer starting
    (``CLOCK_MONOTONIC``, shared by processes) to the consumer having the data. Needs numpy.

The layouts are the module ``benchlayouts``, which shmgen-bench generates from
``bench/schemas/benchlayouts.toml`` with shmgen's Python emitter; pass its directory with
``--layouts DIR`` (standalone: ``shmgen build bench/schemas/benchlayouts.toml --lang python
--out-dir DIR``). ``--json`` prints one JSON line (what shmgen-bench reads).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "src"))
sys.path.insert(0, HERE)

import interleave  # noqa: E402
import shmgen  # noqa: E402

CLOCK = time.CLOCK_MONOTONIC
ELEMS = 8_388_608  # 64 MiB of f64


def now_ns() -> int:
    return time.clock_gettime_ns(CLOCK)


def seg_name(tag: str) -> str:
    return "shmgen-bench-py-%s-%d" % (tag, os.getpid())


# -- messages ------------------------------------------------------------------------------


def make_items(size: int) -> Callable[[int], Any]:
    """Item number ``i``: the int itself for u64, else ``size`` bytes starting with ``i``."""
    if size == 8:
        return lambda i: i
    pad = bytes(size - 8)
    return lambda i: i.to_bytes(8, "little") + pad


def number_of(size: int) -> Callable[[Any], int]:
    if size == 8:
        return lambda x: x
    return lambda x: int.from_bytes(x[:8], "little")


def ring_field(seg: Any, size: int) -> Any:
    return {8: seg.small, 64: seg.medium, 4096: seg.large}[size]


class RingsContender(interleave.Contender):
    """The ``Rings`` segment's ring for ``size``-byte items, ``put``/``get``."""

    label = "ring"

    def __init__(self, size: int) -> None:
        self.size = size

    def setup(self) -> None:
        from benchlayouts import Rings

        self.name = seg_name("rings")
        self.seg = Rings.create(self.name)

    def producer_end(self, make: interleave.Make) -> Callable[[int, int], None]:
        from benchlayouts import Rings

        return interleave.put_loop(ring_field(Rings.open(self.name), self.size).put, make)

    def consumer_end(self, number: interleave.Number) -> Callable[[int], int]:
        return interleave.take_loop(ring_field(self.seg, self.size).get, number)

    def teardown(self) -> None:
        self.seg.unlink()
        self.seg.close()

    def abandon(self) -> None:
        self.seg.unlink()


def messages(size: int, n: int, rounds: int) -> Dict[str, Any]:
    """The ring and ``multiprocessing.Queue`` in alternating chunks of ``n // rounds`` items
    (interleave.py); medians over the rounds."""
    ring, q = interleave.run(
        [RingsContender(size), interleave.QueueContender()], rounds, max(1, n // rounds), make_items(size), number_of(size)
    )
    return {
        "size": size,
        "n": n,
        "rounds": rounds,
        "ring_items_per_sec": ring.median_rate(),
        "queue_items_per_sec": q.median_rate(),
        "paired_ratio": statistics.median(ring.ratios(q)),
    }


# -- bulk ----------------------------------------------------------------------------------


def _bulk_producer(name: str, ready: Any) -> None:
    import numpy

    from benchlayouts import Bulk

    seg = Bulk.open(name)
    view = seg.data.as_numpy()
    src = numpy.arange(ELEMS, dtype=numpy.float64)
    view[:] = src  # touch the pages once: a publisher that lives on has them mapped
    ready.set()
    if not seg.go.wait(120):
        raise SystemExit("no go")
    t0 = now_ns()
    numpy.copyto(view, src)
    seg.t0.store(t0)
    seg.published.set()


def _queue_bulk_producer(q: Any, ready: Any, go: Any) -> None:
    import numpy

    src = numpy.arange(ELEMS, dtype=numpy.float64) * 2
    ready.set()
    go.wait()
    q.put((now_ns(), src))
    q.close()
    q.join_thread()


def bulk() -> Dict[str, Any]:
    try:
        import numpy
    except ImportError:
        return {"error": "numpy is not installed for %s (pip install numpy)" % sys.executable}
    from benchlayouts import Bulk

    ctx = mp.get_context("fork")
    name = seg_name("bulk")
    seg = Bulk.create(name)
    try:
        ready = ctx.Event()
        p = ctx.Process(target=_bulk_producer, args=(name, ready))
        p.start()
        if not ready.wait(120):
            raise SystemExit("bulk producer did not start")
        seg.published.clear()
        seg.go.set()
        if not seg.published.wait(120):
            raise SystemExit("nothing published")
        t1 = now_ns()
        numpy_s = (t1 - seg.t0.load()) / 1e9
        view = seg.data.as_numpy()
        if view[-1] != ELEMS - 1:
            raise SystemExit("wrong data")
        del view
        p.join(60)
        if p.exitcode != 0:
            raise SystemExit("bulk producer failed (%s)" % p.exitcode)
    finally:
        seg.unlink()
        seg.close()

    q = ctx.Queue()
    ready, go = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_queue_bulk_producer, args=(q, ready, go))
    p.start()
    if not ready.wait(120):
        raise SystemExit("queue producer did not start")
    go.set()
    t0, arr = q.get()
    t1 = now_ns()
    queue_s = (t1 - t0) / 1e9
    if arr[-1] != (ELEMS - 1) * 2:
        raise SystemExit("wrong data from the queue")
    p.join(60)
    return {"numpy_secs": numpy_s, "queue_secs": queue_s, "numpy": numpy.__version__}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("messages", help="items between 2 processes: shmgen ring vs multiprocessing.Queue")
    m.add_argument("--size", type=int, default=8, choices=[8, 64, 4096])
    m.add_argument("-n", type=int, default=100_000, help="items per contender (all rounds)")
    m.add_argument("--rounds", type=int, default=5, help="alternating chunks per contender")
    sub.add_parser("bulk", help="publish a 64 MiB f64 array: numpy view vs multiprocessing.Queue")
    for p in sub.choices.values():
        p.add_argument("--layouts", required=True, help="directory holding benchlayouts.py")
        p.add_argument("--json", action="store_true", help="print one JSON line")
    a = ap.parse_args()
    sys.path.insert(0, a.layouts)
    out = messages(a.size, a.n, a.rounds) if a.cmd == "messages" else bulk()
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print("%-22s %s" % (k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
