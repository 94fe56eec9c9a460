"""A longer first pass over Han and Japanese text: every UDHR version in Chinese varieties and in Japanese, packed
into full strips, rendered once through a fresh shaping cache and through Pango only, interleaved strip by strip on
one core (thread CPU time), then a second time. The multilingual benchmark (``bench_render_multi.py``) meets 4-6
strips per script, where nearly every character is new to the cache; here characters come back as they do in a
corpus, and the first pass shows what composing them costs when they do.

    python tests/benchmarks/bench_render_cjk_long.py --out tests/benchmarks/results/render_cjk_long.md
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from html import unescape
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine_info, pin_one_core, write_report  # noqa: E402

from pixelkit.pipeline.chunking import chunk_document  # noqa: E402
from pixelkit.pipeline.documents import Document  # noqa: E402
from pixelkit.pipeline.render import RenderConfig, TextRenderer  # noqa: E402

UDHR = ROOT.parent / "shared" / "data" / "udhr" / "declaration"
GROUPS = {
    "Chinese (cmn_hans and 5 regional versions, cmn_hant, yue, wuu)": [
        "cmn_hans", "cmn_hans_beijing", "cmn_hans_guiyang", "cmn_hans_harbin", "cmn_hans_nanjing",
        "cmn_hans_tianjin", "cmn_hant", "yue", "wuu"],
    "Japanese (jpn, jpn_osaka, jpn_tokyo)": ["jpn", "jpn_osaka", "jpn_tokyo"],
}


def udhr(name: str) -> str:
    raw = (UDHR / f"{name}.html").read_text(encoding="utf-8")
    paras = [" ".join(unescape(re.sub("<[^>]+>", "", p)).split()) for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
    return "\n".join(p for p in paras if p)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/render_cjk_long.md")
    a = ap.parse_args()
    pinned = pin_one_core()
    lines = ["# Han and Japanese: a longer first pass", "", *machine_info(("numpy",)), f"- {pinned}; thread CPU time",
             "", "| text | strips | Pango only, 1st pass total ms | cache, 1st pass total ms | 1st pass: Pango / cache | "
             "2nd pass medians ms (Pango / cache) | 2nd: Pango / cache | identical to Pango only | composed (1st) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, names in GROUPS.items():
        measure = TextRenderer(RenderConfig(), shape_cache=False)
        strips = [c.text for n in names for c in chunk_document(Document("bench", n, udhr(n)), measure.measure,
                                                                measure.text_budget)
                  if measure.measure(c.text) >= 0.8 * measure.text_budget]
        pango, cache = TextRenderer(RenderConfig(), shape_cache=False), TextRenderer(RenderConfig())
        for r in (pango, cache):
            # (the second Han strip loads cjk._char_ids: see bench_render_multi.WARM_UP)
            r("warm up Pango and the kernels"), r("暖身 kernels"), r("身暖 kernels")
        before = cache.cache_stats["composed"]
        times: dict[str, list[float]] = {"p1": [], "c1": [], "p2": [], "c2": []}
        same = 0
        for rnd in "12":
            for t in strips:
                t0 = time.thread_time()
                x = pango(t).pixels
                t1 = time.thread_time()
                y = cache(t).pixels
                t2 = time.thread_time()
                times["p" + rnd].append(t1 - t0)
                times["c" + rnd].append(t2 - t1)
                same += int(np.array_equal(x, y))
            if rnd == "1":
                composed = cache.cache_stats["composed"] - before
        p1, c1 = sum(times["p1"]) * 1e3, sum(times["c1"]) * 1e3
        p2, c2 = statistics.median(times["p2"]) * 1e3, statistics.median(times["c2"]) * 1e3
        lines.append(f"| {label} | {len(strips)} | {p1:.1f} | {c1:.1f} | {p1 / c1:.2f}x | {p2:.2f} / {c2:.2f} | "
                     f"{p2 / c2:.2f}x | {same}/{2 * len(strips)} | {composed} |")
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
