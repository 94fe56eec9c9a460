"""Two leads of ``results/render_profile_cjk.md`` probed, each in fresh processes (warmed with
``bench_render_multi.WARM_UP``, pinned to one core, thread CPU time):

* ``shape``: the new Han batch puts a space after every character (``"暖 c1 c2 ... "``). What would shaping the
  first Han strip's distinct proven characters without them (``"暖 c1c2..."``) save? Pango's itemize + shape of
  either string, its first call in the process (what a first pass pays) and a second call. And how many glyphs
  the cache rasterizes on that strip (``GlyphMasks.draw``) against its new characters: is the space drawn again?
* ``hangul``: the cut of a Hangul batch (``harvest_item``): how often the kernel runs per strip and its ms, as is
  and with the class's new glyphs drawn before the cut (``_predraw``, as the CJK batches do): ``pre``.

    python tests/benchmarks/probe_cjk_batch.py --rounds 3 --out /tmp/probe_cjk_batch.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import ROOT, machine_info, write_report  # noqa: E402

CODE = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
from bench_render_multi import WARM_UP, corpus
from common import pin_one_core
from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.render.pango import kernels
pin_one_core()
mode = sys.argv[2]
r = TextRenderer(RenderConfig(), shape_cache=True)
r._ensure()
c = r._cache
for t in WARM_UP:
    r(t)
if mode in ("spaced", "joined"):
    strip = corpus(8)["Han (zh)"][0]
    chars = list(dict.fromkeys(ch for ch in strip if ord(ch) < 1 << 16 and c._cjk_proven[ord(ch)]))
    data = ("暖 " + (" ".join(chars) + " " if mode == "spaced" else "".join(chars))).encode("utf-8")
    ms = []
    for _ in range(2):
        t0 = time.thread_time_ns()
        items = c._shape(data)
        ms.append((time.thread_time_ns() - t0) / 1e6)
    drawn, draw = [], c._glyphs.draw
    c._glyphs.draw = lambda font, glyphs, phase: drawn.append(len(glyphs)) or draw(font, glyphs, phase)
    r(strip)  # (in a fresh renderer's cache: the shaping above left no trace in it)
    print(json.dumps({"chars": len(chars), "glyphs": sum(len(i.glyphs) for i in items), "first": ms[0],
                      "again": ms[1], "drawn": sum(drawn)}))
else:
    runs, ms, harvest = [0], [0.0], kernels.harvest_item
    def timed(*a):
        t0 = time.thread_time_ns()
        out = harvest(*a)
        ms[0] += (time.thread_time_ns() - t0) / 1e6
        runs[0] += 1
        return out
    kernels.harvest_item = timed
    if mode == "pre":
        cut = c._harvest_words
        def pre(item, *a):
            c._predraw(item)
            return cut(item, *a)
        c._harvest_words = pre
    out = []
    for s in corpus(8)["Hangul (ko)"]:
        runs[0], ms[0] = 0, 0.0
        r(s)
        out.append((runs[0], ms[0]))
    print(json.dumps(out))
'''


def one(mode: str):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CODE, str(HERE), mode], capture_output=True, text=True, check=True,
                         env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def rng(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} [{min(xs):.3f}-{max(xs):.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("/tmp/probe_cjk_batch.md"))
    a = ap.parse_args()
    load = os.getloadavg()
    got: dict[str, list] = {m: [] for m in ("spaced", "joined", "base", "pre")}
    for _ in range(a.rounds):  # sides alternating
        for m in got:
            got[m].append(one(m))
    lines = ["# The CJK batch's spaces and the Hangul cut, probed", "", *machine_info(("numpy", "pangocffi")),
             f"- load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
             f"- {a.rounds} fresh processes per side, sides alternating; ms of thread CPU time, median [range]", "",
             "## Han strip 1's distinct proven characters shaped behind `暖 `", "",
             "| batch | characters | glyphs shaped | 1st call ms | 2nd call ms | glyphs the cache draws on the strip |",
             "|---|---:|---:|---:|---:|---:|"]
    for m, label in (("spaced", "a space after each (today)"), ("joined", "no spaces")):
        rows = got[m]
        lines.append(f"| {label} | {rows[0]['chars']} | {rows[0]['glyphs']} | {rng([x['first'] for x in rows])} | "
                     f"{rng([x['again'] for x in rows])} | {rows[0]['drawn']} |")
    lines += ["", "## Hangul strips: the cut kernel (`harvest_item`) per strip", "",
              "| strip | runs (as is) | ms (as is) | runs (pre) | ms (pre) |", "|---:|---:|---:|---:|---:|"]
    for k in range(len(got["base"][0])):
        b = [x[k] for x in got["base"]]
        p = [x[k] for x in got["pre"]]
        lines.append(f"| {k + 1} | {b[0][0]} | {rng([x[1] for x in b])} | {p[0][0]} | {rng([x[1] for x in p])} |")
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
