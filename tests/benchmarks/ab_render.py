"""A/B of the shaping cache between two checkouts, alternated in the same minutes (for a shared, loaded machine):
each run is one process of a checkout rendering each group's strips as ``bench_render_multi.run_group`` does
(Pango only and a fresh cache, interleaved strip by strip; then the second pass), without peers, so each ratio is
the cache against Pango only in the same process -- the load moves both. Groups: names of
``bench_render_multi.corpus`` rows, or ``English`` (300 WikiText strips of ``bench_render.py``).

    mkdir -p /tmp/base && git archive ba1d8ef | tar -x -C /tmp/base      # the other checkout
    ln -s /work/shared /tmp/shared                                         # its ../shared/data
    python tests/benchmarks/ab_render.py --base /tmp/base --rounds 4 English Hebrew "Mixed: Russian + Latin names/numbers"

``--reps N``: each process renders each group N times, with fresh renderers each time (after the first, the process
is warm: kernels loaded, glyphs already rasterized by cairo, as for the later groups of ``bench_render_multi``); the
ratios are over every run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = r'''
import os, sys, json
sys.path.insert(0, "tests/benchmarks")
from common import pin_one_core, full_strip_texts
pin_one_core()
import bench_render_multi as b
want = sys.argv[1:]
groups = {"English": full_strip_texts(300)[0]} if "English" in want else {}
rest = [w for w in want if w != "English"]
if rest:
    rows = b.corpus(24)
    groups.update({w: rows[w] for w in rest})
reps = int(os.environ.get("AB_REPS", "1"))
out = {}
for name, strips in groups.items():
    out[name] = []
    for _ in range(reps):  # fresh renderers each time (run_group makes them)
        r = b.run_group(strips, [])
        out[name].append({**{k: r["ms"][k] for k in ("pango", "first", "second", "pango_mean", "first_mean")},
                          "same": r["same"], "n": r["n"]})
print("RESULT" + json.dumps(out))
'''


def run(checkout: Path, groups: list[str], reps: int = 1) -> dict:
    p = subprocess.run([sys.executable, "-c", CODE, *groups], cwd=checkout, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(checkout), "AB_REPS": str(reps)})
    lines = [line for line in p.stdout.splitlines() if line.startswith("RESULT")]
    if not lines:
        raise SystemExit(f"{checkout}: {p.stderr[-2000:]}")
    return json.loads(lines[0][6:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the other checkout (A)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--reps", type=int, default=1, help="runs of each group per process, each with fresh renderers "
                    "(the ones after the first meet a warm process: kernels loaded, glyphs rasterized by cairo)")
    ap.add_argument("groups", nargs="+")
    a = ap.parse_args()
    res: dict[str, list[dict]] = {"base": [], "this": []}
    for i in range(a.rounds):  # alternate which side goes first
        order = [("base", a.base), ("this", ROOT)]
        for tag, path in order if i % 2 == 0 else order[::-1]:
            res[tag].append(run(path, a.groups, a.reps))
    for g in a.groups:
        for tag in ("base", "this"):
            rs = [x for r in res[tag] for x in (r[g] if isinstance(r[g], list) else [r[g]])]
            first = [r["pango"] / r["first"] for r in rs]
            means = [r["pango_mean"] / r["first_mean"] for r in rs if "first_mean" in r]
            second = [r["pango"] / r["second"] for r in rs]
            print(f"{g[:36]:36s} {tag:4s} 1st / Pango only {statistics.median(first):.2f} "
                  f"[{min(first):.2f}-{max(first):.2f}]  2nd / Pango only {statistics.median(second):.2f} "
                  f"[{min(second):.2f}-{max(second):.2f}]  identical {rs[0]['same']}/{rs[0]['n']}"
                  + (f"  1st / Pango only by means {statistics.median(means):.2f} [{min(means):.2f}-{max(means):.2f}]"
                     if means else ""))


if __name__ == "__main__":
    main()
