"""The shaping cache's first pass against Pango only's, each renderer alone in a fresh process (no peer, no other
renderer), alternating: what a user's process pays.

``bench_render_multi.run_group`` interleaves Pango only and the cache strip by strip in one process, and cairo's
glyph cache is shared by both font maps: whichever renders a strip first rasterizes its new glyphs for both (on the
"Hangul (ko)" row, ~16 us a new syllable; the cache loses its odd strips, which it renders first, and wins the even
ones). Here each process holds one renderer, warmed with the benchmark's ``WARM_UP`` strings, and renders a group's
strips once (the strips cut by ``bench_render_multi.corpus``'s own Pango-only renderer, whose layouts draw
nothing, as in that benchmark); per strip CPU time of the thread. Ratios: Pango only / cache, of each pair of processes' medians and means (> 1: the cache is faster).

    python tests/benchmarks/first_pass_alone.py --rounds 8 "Hangul (ko)"
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODE = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
from bench_render_multi import WARM_UP, corpus
from common import pin_one_core
from pixelkit.pipeline.render import RenderConfig, TextRenderer
pin_one_core()
strips = corpus(int(sys.argv[4]))[sys.argv[3]]
r = TextRenderer(RenderConfig(), shape_cache=sys.argv[2] == "cache")
for t in WARM_UP:
    r(t)
out = []
for s in strips:
    t0 = time.thread_time_ns()
    r(s)
    out.append((time.thread_time_ns() - t0) / 1e6)
print(json.dumps(out))
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("groups", nargs="+", help="rows of bench_render_multi (names as in its table)")
    ap.add_argument("--rounds", type=int, default=6, help="pairs of processes per group")
    ap.add_argument("--strips", type=int, default=24, help="full strips per group at most, as bench_render_multi")
    a = ap.parse_args()
    for group in a.groups:
        runs: dict[str, list[list[float]]] = {"pango": [], "cache": []}
        for i in range(a.rounds):
            for side in ("pango", "cache") if i % 2 == 0 else ("cache", "pango"):
                out = subprocess.run([sys.executable, "-c", CODE, str(HERE), side, group, str(a.strips)],
                                     capture_output=True, text=True, check=True).stdout
                runs[side].append(json.loads(out.strip().splitlines()[-1]))
        med = [statistics.median(p) / statistics.median(c) for p, c in zip(runs["pango"], runs["cache"])]
        mean = [statistics.fmean(p) / statistics.fmean(c) for p, c in zip(runs["pango"], runs["cache"])]
        n = len(runs["pango"][0])
        per = [statistics.median(r[k] for r in runs["pango"]) / statistics.median(r[k] for r in runs["cache"])
               for k in range(n)]
        print(f"{group}: {n} strips, {a.rounds} pairs of processes; ms/strip (median of medians) Pango only "
              f"{statistics.median(map(statistics.median, runs['pango'])):.2f}, cache "
              f"{statistics.median(map(statistics.median, runs['cache'])):.2f}; Pango only / cache by medians "
              f"{statistics.median(med):.2f} [{min(med):.2f}-{max(med):.2f}], by means {statistics.median(mean):.2f} "
              f"[{min(mean):.2f}-{max(mean):.2f}]; per strip " + " ".join(f"{x:.2f}" for x in per))


if __name__ == "__main__":
    main()
