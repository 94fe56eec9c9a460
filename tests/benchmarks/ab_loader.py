"""A/B of the shard loader between two checkouts, alternated in the same minutes (for a shared, loaded machine,
where absolute rates move with other jobs): BatchStream as the engine builds it (manifest entries and strip shape
when the checkout has them), PIXEL collate, batches of 32, one core; samples per wall-second and per CPU-second.

    mkdir -p /tmp/base && git archive b2e3655 | tar -x -C /tmp/base     # the other checkout
    python tests/benchmarks/ab_loader.py --base /tmp/base --rounds 6
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402

CODE = r'''
import os, sys, time, json, statistics
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
import torch; torch.set_num_threads(1)
from pixelkit.trainer.models import DataInfo, get_variant
from pixelkit.trainer.shardsets import resolve
from pixelkit.trainer.stream import BatchStream, StreamSpec
v = get_variant("pixel"); cfg = v.config("debug", {}, DataInfo("gray", 16, 529))
s = resolve(sys.argv[1])
wall, cpu = [], []
for r in range(3):
    try:
        spec = StreamSpec([s.urls], [1.0], 32, v.collate, cfg, seed=r, shuffle_buffer=256, expected=s.expected(),
                          strip=("gray", 16, 529))
    except (TypeError, AttributeError):  # a checkout from before the manifest checks
        spec = StreamSpec([s.urls], [1.0], 32, v.collate, cfg, seed=r, shuffle_buffer=256)
    it = iter(BatchStream(spec)); next(it)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(40): next(it)
    wall.append(1280 / (time.perf_counter() - t0)); cpu.append(1280 / (time.process_time() - c0))
print(json.dumps([statistics.median(wall), statistics.median(cpu)]))
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the other checkout")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--n", type=int, default=2000, help="strips to render into shards")
    a = ap.parse_args()
    trees = {"base": a.base.resolve(), "this": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        from bench_trainer import build_shards
        shards = build_shards(a.n, "pxz", Path(tmp))
        res: dict[str, list] = {k: [] for k in trees}
        for r in range(a.rounds):
            for name in (("base", "this") if r % 2 == 0 else ("this", "base")):
                out = subprocess.run([sys.executable, "-c", CODE, str(shards)], cwd=trees[name], capture_output=True,
                                     text=True, env={"PYTHONPATH": str(trees[name]), "OMP_NUM_THREADS": "1",
                                                     "PATH": "/usr/bin:/bin"}, check=True)
                res[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(name, [round(x) for x in res[name][-1]], flush=True)
    for k, v in res.items():
        print(f"{k}: median {statistics.median(x[0] for x in v):,.0f} samples/s, "
              f"{statistics.median(x[1] for x in v):,.0f} per CPU-second")
    ratios = [t[1] / b[1] for b, t in zip(res["base"], res["this"])]
    print(f"per-CPU-second ratio this/base, per round: {[round(x, 3) for x in ratios]}, "
          f"median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
