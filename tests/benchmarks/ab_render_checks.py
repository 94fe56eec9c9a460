"""A/B of the renderer's input checks on the hot path, this checkout vs another (``--base DIR``), in alternating
fresh processes on one core: each process renders the same 300 WikiText strips with ``render_text`` in the preset
named (a first pass from a fresh renderer, then a second pass: the shaping cache warm, as in a long job), mean
thread CPU time per strip of each pass; the ratios are base / this of the per-process medians (above 1: this
checkout faster). Checks that both give the
same pixels. A preset may carry overrides: ``pixel:backend=pygame`` (GoNoto through PyGame).

    mkdir -p /tmp/base && git archive b70d752 | tar -x -C /tmp/base      # the other checkout
    python tests/benchmarks/ab_render_checks.py --base /tmp/base --rounds 5 --preset pixel --preset pixar --preset pixel:backend=pygame
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = r'''
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
from common import pin_one_core, full_strip_texts
pin_one_core()
from pixelkit.pipeline.render import TextRenderer, preset
texts = full_strip_texts(300)[0]
name, _, kw = sys.argv[2].partition(":")
r = TextRenderer(preset(name, **dict(x.split("=") for x in kw.split(",") if x)))
first = []
for t in texts:
    t0 = time.thread_time()
    r.render_text(t)
    first.append(time.thread_time() - t0)
times, h = [], hashlib.sha1()
for t in texts:
    t0 = time.thread_time()
    res = r.render_text(t)
    times.append(time.thread_time() - t0)
    h.update(res.pixels.tobytes(order="A"))
print(json.dumps({"ms": sum(times) * 1000 / len(times), "first_ms": sum(first) * 1000 / len(first),
                  "sha1": h.hexdigest()}))
'''


def one(checkout: Path, name: str) -> dict:
    env = {"PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CODE, str(ROOT / "tests" / "benchmarks"), name], env=env,
                         capture_output=True, text=True, check=True, cwd=checkout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--preset", action="append", default=[])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "benchmarks" / "results" / "render_checks.md")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
    from common import machine_info, write_report

    lines = ["# The renderer's input checks on the hot path: A/B", "", *machine_info(("pangocffi", "pygame-ce")),
             f"- base: `{a.base}`; this: `{ROOT}`; {a.rounds} rounds of alternating fresh processes, one core", "",
             "| preset | base ms/strip (median of processes) | this ms/strip | base / this | first pass: base | this | "
             "base / this | same pixels |", "|---|---|---|---|---|---|---|---|"]
    for name in a.preset or ["pixel"]:
        runs = {"base": [], "this": []}
        for i in range(a.rounds):
            order = [("base", a.base), ("this", ROOT)] if i % 2 == 0 else [("this", ROOT), ("base", a.base)]
            for label, path in order:
                runs[label].append(one(path, name))
        b = statistics.median(r["ms"] for r in runs["base"])
        t = statistics.median(r["ms"] for r in runs["this"])
        fb = statistics.median(r["first_ms"] for r in runs["base"])
        ft = statistics.median(r["first_ms"] for r in runs["this"])
        same = len({r["sha1"] for r in runs["base"] + runs["this"]}) == 1
        lines.append(f"| {name} | {b:.3f} | {t:.3f} | {b / t:.3f} | {fb:.3f} | {ft:.3f} | {fb / ft:.3f} | {same} |")
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
