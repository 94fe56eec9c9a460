"""A/B of the shaping cache between two checkouts, alternated in the same minutes (for a shared, loaded machine):
each run is one process of a checkout rendering each group's strips as ``bench_render_multi.run_group`` does
(Pango only and a fresh cache, interleaved strip by strip, taking turns going first; then the second pass), without
peers, so each ratio is the cache against Pango only in the same process -- the load moves both. The benchmark code
(``corpus``, ``run_group``) is this checkout's for both sides, the renderer each checkout's own, so both are measured
the same way. Ratios: each pass against Pango only's same pass; ``[both]``: the first pass against Pango only's
median over both passes (what ``run_group`` reported before it split them). Groups: names of
``bench_render_multi.corpus`` rows, or ``English`` (300 WikiText strips of ``bench_render.py``).

    mkdir -p /tmp/base && git archive ba1d8ef | tar -x -C /tmp/base      # the other checkout
    ln -s /work/shared /tmp/shared                                         # its ../shared/data
    python tests/benchmarks/ab_render.py --base /tmp/base --rounds 4 English Hebrew "Mixed: Russian + Latin names/numbers"

``--control`` adds an A/A row per group: what the ratios are when both columns are Pango only (their noise and bias).

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
sys.path.insert(0, sys.argv.pop(1))  # this checkout's tests/benchmarks: the same benchmark code for both sides
from common import pin_one_core, full_strip_texts
pin_one_core()
import bench_render_multi as b
if sys.argv[1] == "--control":  # the A/A control: the cache's column drawn by a second Pango-only renderer
    sys.argv.pop(1)
    from pixelkit.pipeline.render import TextRenderer

    class PangoOnly(type(TextRenderer(b.RenderConfig(), shape_cache=False))):
        def __init__(self, cfg, shape_cache=True):
            super().__init__(cfg, shape_cache=False)

        cache_stats = property(lambda self: {})
    b.TextRenderer = PangoOnly
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
        out[name].append({**{k: r["ms"][k] for k in ("pango", "pango1", "pango2", "first", "second", "pango1_mean",
                                                     "first_mean")}, "same": r["same"], "n": r["n"]})
print("RESULT" + json.dumps(out))
'''


def run(checkout: Path, groups: list[str], control: bool = False, reps: int = 1) -> dict:
    p = subprocess.run([sys.executable, "-c", CODE, str(ROOT / "tests" / "benchmarks"),
                        *(["--control"] if control else []), *groups],
                       cwd=checkout, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(checkout), "AB_REPS": str(reps)})
    lines = [line for line in p.stdout.splitlines() if line.startswith("RESULT")]
    if not lines:
        raise SystemExit(f"{checkout}: {p.stderr[-2000:]}")
    return json.loads(lines[0][6:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the other checkout (A)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--control", action="store_true", help="also an A/A control in each round: this checkout with "
                    "the cache's column drawn by a second Pango-only renderer (the ratios identical work gives)")
    ap.add_argument("--reps", type=int, default=1, help="runs of each group per process, each with fresh renderers "
                    "(the ones after the first meet a warm process: kernels loaded, glyphs rasterized by cairo)")
    ap.add_argument("groups", nargs="+")
    a = ap.parse_args()
    res: dict[str, list[dict]] = {"base": [], "this": [], "A/A": []}
    for i in range(a.rounds):  # alternate which side goes first
        order = [("base", a.base), ("this", ROOT)] + ([("A/A", ROOT)] if a.control else [])
        for tag, path in order if i % 2 == 0 else order[::-1]:
            res[tag].append(run(path, a.groups, control=tag == "A/A", reps=a.reps))
    for g in a.groups:
        for tag in [t for t in res if res[t]]:
            rs = [x for r in res[tag] for x in r[g]]
            first = [r["pango1"] / r["first"] for r in rs]
            second = [r["pango2"] / r["second"] for r in rs]
            both = [r["pango"] / r["first"] for r in rs]
            means = [r["pango1_mean"] / r["first_mean"] for r in rs]
            print(f"{g[:36]:36s} {tag:4s} 1st / Pango only 1st {statistics.median(first):.2f} "
                  f"[{min(first):.2f}-{max(first):.2f}] (by means {statistics.median(means):.2f})  "
                  f"2nd / Pango only 2nd {statistics.median(second):.2f} "
                  f"[{min(second):.2f}-{max(second):.2f}]  [both {statistics.median(both):.2f}]  "
                  f"identical {rs[0]['same']}/{rs[0]['n']}")


if __name__ == "__main__":
    main()
