"""Where a first pass goes on Han, Hangul and Japanese strips: Pango only against the shaping cache, with the CJK
glyph path (``PIXELKIT_CJK_GLYPHS=1``) off and on, stage by stage, the class's first strip apart from the later ones.

Each (row, side) runs alone in a fresh process (as ``first_pass_alone.py``: no other renderer warms cairo's glyph
cache for it), pinned to one core, warmed with ``bench_render_multi.WARM_UP`` (timed too: the warm-up's "暖身" is
the Han class's birth strip), then renders the row's strips of ``bench_render_multi.corpus`` once. Each stage is a
method wrapped with a timer of the thread's CPU time, counting its own time only (nested timed calls are their own
stages); "other" is the strip's total less the stages (the gate, the look-ups, the strip out in columns ...).

    python tests/benchmarks/profile_cjk_first_pass.py --rounds 3 --out tests/benchmarks/results/render_profile_cjk.md
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

ROWS = ("Han (zh)", "Hangul (ko)", "Japanese (kana + kanji)")
SIDES = {"pango": ("Pango only", None), "off": ("cache, glyph path off", "0"), "on": ("cache, glyph path on", "1")}
# (object path, method, stage): the object path from the renderer ("" the renderer, "c" its cache, "c._glyphs" ...)
STAGES = [
    ("", "_pixel_size", "Pango layout (itemize + shape)"),
    ("", "_draw_pango", "Pango draw (cairo: raster + paint)"),
    ("c", "lookup", "cache look-up (gate, cut, ids)"),
    ("c", "_lookup_cjk", "cache look-up (gate, cut, ids)"),
    ("c", "_first_pass", "cost model (adopt.py)"),
    ("c", "adopt", "adopt / pending (adopt.py)"),
    ("c", "_from_pending", "adopt / pending (adopt.py)"),
    ("c", "_fill", "batch bookkeeping"),
    ("c", "_cjk_fill", "batch bookkeeping"),
    ("c", "_cjk_batch", "batch bookkeeping"),
    ("c", "_shape", "batch shaping (Pango itemize + shape)"),
    ("c", "_new_class", "new class (anchor, metrics)"),
    ("c", "_predraw", "new glyphs: which"),
    ("c._glyphs", "draw", "new glyphs: cairo raster + crop"),
    ("c", "_harvest_words", "cut batch into masks"),
    ("c", "_harvest", "cut batch into masks"),
    ("c", "_cjk_written", "glyph path (learn, tables, write)"),
    ("c", "_write_hangul", "glyph path (learn, tables, write)"),
    ("c._cjk_glyphs", "learn", "glyph path (learn, tables, write)"),
    ("c._cjk_glyphs", "tables", "glyph path (learn, tables, write)"),
    ("c._cjk_glyphs", "write_words", "glyph path (learn, tables, write)"),
    ("c._cjk_glyphs", "_learn_hangul", "glyph path (learn, tables, write)"),
    ("c", "compose", "compose (kernels)"),
]
LABELS = list(dict.fromkeys(s for _, _, s in STAGES))

CODE = r'''
import json, os, sys, time
from collections import defaultdict
sys.path.insert(0, sys.argv[1])
from bench_render_multi import WARM_UP, corpus
from common import pin_one_core
from profile_cjk_first_pass import STAGES
from pixelkit.pipeline.render import RenderConfig, TextRenderer
pin_one_core()
strips = corpus(int(sys.argv[4]))[sys.argv[3]]
r = TextRenderer(RenderConfig(), shape_cache=sys.argv[2] != "pango")
r._ensure()
acc, stack = defaultdict(int), []

def wrap(obj, name, label):
    f = getattr(obj, name)

    def timed(*a, **k):
        t0 = time.thread_time_ns()
        stack.append(0)
        try:
            return f(*a, **k)
        finally:
            dt = time.thread_time_ns() - t0
            acc[label] += dt - stack.pop()
            if stack:
                stack[-1] += dt
    setattr(obj, name, timed)

for path, name, label in STAGES:
    obj = r
    for part in filter(None, path.split(".")):
        obj = getattr(obj, "_cache" if part == "c" else part, None)
    if obj is not None and hasattr(obj, name):
        wrap(obj, name, label)

def run(text):
    acc.clear()
    t0 = time.thread_time_ns()
    r(text)
    row = {k: v / 1e6 for k, v in acc.items()}
    row["total"] = (time.thread_time_ns() - t0) / 1e6
    return row

warm = [run(t) for t in WARM_UP]
out = [run(s) for s in strips]
print(json.dumps({"warm": warm, "strips": out, "stats": r.cache_stats}))
'''


def one(side: str, row: str, strips: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    if SIDES[side][1] is not None:
        env["PIXELKIT_CJK_GLYPHS"] = SIDES[side][1]
    out = subprocess.run([sys.executable, "-c", CODE, str(HERE), side, row, str(strips)], capture_output=True,
                         text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def summary(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Per part (warm-up's Han strip, first strip, later strips): each stage's mean ms (over the part's strips,
    then the median over rounds) and the total's median."""
    def stage_ms(rows: list[dict]) -> dict[str, float]:
        keys = ["total", *LABELS]
        return {k: statistics.fmean(x.get(k, 0.0) for x in rows) for k in keys} | {
            "median": statistics.median(x["total"] for x in rows)}

    parts = {"warm-up \"暖身 kernels\"": [r["warm"][2:3] for r in runs], "strip 1": [r["strips"][:1] for r in runs],
             "strips 2-n": [r["strips"][1:] for r in runs]}
    return {p: {k: statistics.median(stage_ms(rows)[k] for rows in per_run) for k in ["total", "median", *LABELS]}
            for p, per_run in parts.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", nargs="*", default=list(ROWS), help="rows of bench_render_multi")
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per row and side")
    ap.add_argument("--strips", type=int, default=24)
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/render_profile_cjk.md")
    a = ap.parse_args()
    load = os.getloadavg()
    lines = ["# First pass on CJK strips, stage by stage", "", *machine_info(("numpy", "pangocffi")),
             f"- load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared with other jobs: "
             "thread CPU time)",
             f"- {a.rounds} fresh processes per row and side (PYTHONPATH=$PWD nice -n 5 OMP_NUM_THREADS=1), sides "
             "alternating",
             "- ms of thread CPU time; a part's stage = its mean over the part's strips (median over the processes), "
             "so the stages add up to `mean`; `median` is the part's median strip total; stages that cost < 0.01 ms "
             "everywhere in a part are left out", ""]
    for row in a.rows:
        runs: dict[str, list[dict]] = {s: [] for s in SIDES}
        for i in range(a.rounds):
            order = list(SIDES) if i % 2 == 0 else list(SIDES)[::-1]
            for side in order:
                runs[side].append(one(side, row, a.strips))
        n = len(runs["pango"][0]["strips"])
        sums = {s: summary(v) for s, v in runs.items()}
        lines += [f"## {row} ({n} strips)", ""]
        for part in sums["pango"]:
            used = [k for k in LABELS if any(sums[s][part][k] >= 0.01 for s in SIDES)]
            lines += [f"**{part}**", "", "| side | mean | median | Pango only / side (mean) | " + " | ".join(used)
                      + " | other |", "|---|---:|---:|---:|" + "---:|" * (len(used) + 1)]
            for s, (name, _) in SIDES.items():
                v = sums[s][part]
                other = v["total"] - sum(v[k] for k in LABELS)
                lines.append(f"| {name} | {v['total']:.2f} | {v['median']:.2f} | "
                             f"{sums['pango'][part]['total'] / v['total']:.2f}x | "
                             + " | ".join(f"{v[k]:.2f}" for k in used) + f" | {other:.2f} |")
            lines.append("")
        st = runs["off"][0]["stats"]
        lines += [f"cache counters (path off, one process, warm-up included): {json.dumps(st)}", ""]
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
