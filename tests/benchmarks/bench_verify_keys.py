"""Memory of ``pixel-shards verify``'s check for a key in two shards: the dict of every key it held before (key ->
the shard it was first found in) against ``shardkeys.KeysSeen`` (an 8-byte hash and a shard index per key), for
N keys shaped as the pipeline's (``wikitext_h<20 hex>_<4 digits>``) spread over shards of 1,000; tracemalloc's
size after all keys are in and its peak through ``repeated()`` (no repeat: nothing is read again), and the thread
CPU time of the adds (measured without tracemalloc, net of making the keys).

    PYTHONPATH=$PWD .venv/bin/python tests/benchmarks/bench_verify_keys.py --keys 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine_info, write_report  # noqa: E402

from pixelkit.pipeline.shardkeys import KeysSeen  # noqa: E402


def keys(n: int):
    for i in range(n):
        yield f"wikitext_h{hashlib.sha1(str(i // 7).encode()).hexdigest()[:20]}_{i % 7:04d}", i // 1000


def fill(kind: str, n: int, names: list[str]):
    if kind == "dict":
        seen: dict = {}
        for key, shard in keys(n):
            seen.setdefault(key, names[shard])
        return seen
    if kind == "hashes":
        ks = KeysSeen()
        for key, shard in keys(n):
            ks.add(key, shard)
        return ks
    for _ in keys(n):  # the keys alone (made as verify's reader makes them, one by one)
        pass
    return None


def measure(kind: str, n: int, rounds: int) -> tuple[float, float, float]:
    """(bytes held after the adds, peak bytes, thread CPU seconds without tracemalloc: median of ``rounds``)"""
    names = [f"train-{s:05d}-of-{n // 1000:05d}.tar" for s in range(n // 1000 + 1)]
    times = []
    for _ in range(rounds):
        t0 = time.thread_time()
        fill(kind, n, names)
        times.append(time.thread_time() - t0)
    cpu = statistics.median(times)
    tracemalloc.start()
    held = fill(kind, n, names)
    size = tracemalloc.get_traced_memory()[0]
    if isinstance(held, KeysSeen):
        assert held.repeated(lambda i: []) == []
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return size, peak, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "benchmarks" / "results" / "verify_keys.md")
    a = ap.parse_args()
    gen = measure("keys", a.keys, a.rounds)[2]
    rows = [(label, *measure(kind, a.keys, a.rounds)) for label, kind in (("dict of keys (before)", "dict"),
                                                                ("KeysSeen (now)", "hashes"))]
    lines = ["# pixel-shards verify: memory of the check for a key in two shards", "",
             f"{a.keys:,} keys; memory by tracemalloc (Python allocations, the key strings the dict keeps included); "
             f"CPU without tracemalloc, median of {a.rounds} rounds, net of making the keys ({gen:.2f} s)", "",
             "| holds | MB after the adds | bytes per key | peak MB (with `repeated()`) | CPU us per key |",
             "|---|---|---|---|---|"]
    lines += [f"| {label} | {size / 1e6:.1f} | {size / a.keys:.1f} | {peak / 1e6:.1f} | {(cpu - gen) / a.keys * 1e6:.2f} |"
              for label, size, peak, cpu in rows]
    lines += ["", *machine_info(("numpy",))]
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
