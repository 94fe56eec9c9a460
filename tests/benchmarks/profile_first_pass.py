"""Where the shaping cache's first pass goes, against Pango only's, on rows of the multilingual benchmark.

Each round makes a fresh Pango-only renderer and a fresh cache (warmed with ``bench_render_multi.WARM_UP``), and
renders a row's strips (``bench_render_multi.corpus``) interleaved strip by strip, taking turns going first, as
``run_group`` does. Per row: the thread CPU ms per strip of both in plain rounds (mean per round; median and range
over rounds), then, with each function of ``STAGES`` wrapped in a thread-clock timer (inclusive; see ``wrap_stages``),
the ms per strip of each stage (median over rounds), and one cProfile round's top functions by own time.

    python tests/benchmarks/profile_first_pass.py --rounds 8 "Mixed: Russian + Latin names/numbers"
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_render_multi import WARM_UP, corpus  # noqa: E402
from common import pin_one_core  # noqa: E402

from pixelkit.pipeline.render import RenderConfig, TextRenderer  # noqa: E402

# stage -> the function (module of pixelkit.pipeline.render, attribute path) whose inclusive time it is
STAGES = {
    "render (whole call)": ("base", "Renderer.__call__"),
    "cache look-up (all of it)": ("pango.shapecache", "ShapeCache.lookup"),
    "  script gate": ("pango.scriptgate", "ScriptGate.__call__"),
    "  cost model + pending cuts": ("pango.adopt", "PangoWords._first_pass"),
    "  shaping batch (_fill)": ("pango.shapecache", "ShapeCache._fill"),
    "    mixed batch words": ("pango.shapecache", "mixed_batch"),
    "    glyph path write (strips of one script)": ("pango.glyphshape", "GlyphWords._write"),
    "    batch shaped, cut, cached (_harvest)": ("pango.shapecache", "ShapeCache._harvest"),
    "  RTL mixed look-up": ("pango.rtlmix", "RtlMixWords._lookup_rtl_mix"),
    "  CJK look-up": ("pango.cjk", "CjkWords._lookup_cjk"),
    "    Pango itemize+shape": ("pango.pango_abi", "Shaper.__call__"),
    "    cut words (harvest)": ("pango.shapecache", "ShapeCache._harvest_words"),
    "    draw new glyphs": ("pango.glyphs", "GlyphMasks.draw"),
    "    learn glyph tables": ("pango.glyphshape", "GlyphWords._learn_item"),
    "  measure mixed strip": ("pango.brackets", "MixedWords._measure_mixed"),
    "compose": ("pango.shapecache", "ShapeCache.compose"),
    "Pango lays out and draws": ("pangocairo", "PangoCairoRenderer._draw_pango"),
    "  note the layout's words (adopt)": ("pango.adopt", "PangoWords.adopt"),
}
SPENT: dict[str, float] = {}
CALLS: dict[str, int] = {}


def _timed(stage: str, fn):
    @functools.wraps(fn)
    def run(*args, **kw):
        t0 = time.thread_time()
        try:
            return fn(*args, **kw)
        finally:
            SPENT[stage] = SPENT.get(stage, 0.0) + time.thread_time() - t0
            CALLS[stage] = CALLS.get(stage, 0) + 1
    return run


def wrap_stages() -> None:
    """Each stage's function wrapped in a thread-clock timer (inclusive time). A thread_time() call is a system call
    (~3 us on the benchmark machine): each timed call adds ~3 us to its own stage and ~6 us to each stage around
    it, so the table gives the calls per strip too."""
    for stage, (mod, path) in STAGES.items():
        owner = importlib.import_module("pixelkit.pipeline.render." + mod)
        *outer, name = path.split(".")
        for part in outer:
            owner = getattr(owner, part)
        setattr(owner, name, _timed(stage, getattr(owner, name)))


def one_round(strips: list[str], profs: dict | None = None) -> tuple[dict[str, float], dict[str, float], dict]:
    """Fresh renderers, every strip once, interleaved: (ms per strip of each side, of each stage, cache_stats)."""
    SPENT.clear()
    CALLS.clear()
    rs = {"pango": TextRenderer(RenderConfig(), shape_cache=False), "cache": TextRenderer(RenderConfig())}
    for r in rs.values():
        for t in WARM_UP:
            r(t)
    spent, stages = {"pango": 0.0, "cache": 0.0}, {"pango": {}, "cache": {}}
    for i, t in enumerate(strips):
        for side in ("pango", "cache") if i % 2 == 0 else ("cache", "pango"):
            before = dict(SPENT)
            if profs:
                profs[side].enable()
            t0 = time.thread_time()
            rs[side](t)
            spent[side] += time.thread_time() - t0
            if profs:
                profs[side].disable()
            for k, v in SPENT.items():
                stages[side][k] = stages[side].get(k, 0.0) + v - before.get(k, 0.0)
    per = lambda d: {k: v * 1000 / len(strips) for k, v in d.items()}  # noqa: E731
    calls = {k: v / len(strips) for k, v in CALLS.items()}
    return per(spent), {side: per(v) for side, v in stages.items()}, rs["cache"].cache_stats, calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", nargs="+", help="rows of bench_render_multi.corpus")
    ap.add_argument("--rounds", type=int, default=6, help="fresh renderer pairs per row, plain and again timed")
    ap.add_argument("--strips", type=int, default=24)
    ap.add_argument("--top", type=int, default=10)
    a = ap.parse_args()
    pin_one_core()
    rows = corpus(a.strips)
    plain = {name: [one_round(rows[name])[0] for _ in range(a.rounds)] for name in a.rows}
    wrap_stages()
    for name in a.rows:
        strips, pl = rows[name], plain[name]
        timed = [one_round(strips) for _ in range(a.rounds)]
        profs = {"pango": cProfile.Profile(time.thread_time), "cache": cProfile.Profile(time.thread_time)}
        one_round(strips, profs)
        ratio = [x["pango"] / x["cache"] for x in pl]
        med = lambda xs: f"{statistics.median(xs):.2f} [{min(xs):.2f}-{max(xs):.2f}]"  # noqa: E731
        print(f"\n### {name}: {len(strips)} strips, {a.rounds} rounds plain + {a.rounds} timed by stage\n")
        print(f"plain rounds, ms/strip (mean per round; median [range] over rounds): Pango only "
              f"{med([x['pango'] for x in pl])}, cache {med([x['cache'] for x in pl])}; Pango only / cache "
              f"{med(ratio)}; timed rounds: Pango only {med([x[0]['pango'] for x in timed])}, cache "
              f"{med([x[0]['cache'] for x in timed])}")
        print(f"cache_stats (last round): {timed[-1][2]}\n")
        print("| stage (inclusive, thread CPU ms/strip, median over rounds) | cache | Pango only | calls/strip (both) |"
              "\n|---|---:|---:|---:|")
        for stage in STAGES:
            c, g = (statistics.median(x[1][side].get(stage, 0.0) for x in timed) for side in ("cache", "pango"))
            if c or g:
                print(f"| {stage} | {c:.3f} | {g:.3f} | {timed[-1][3].get(stage, 0):.1f} |")
        own = pstats.Stats(profs["cache"]).stats.items()
        top = sorted(((tt * 1000 / len(strips), f"{Path(f).name}:{fn}") for (f, _, fn), (_, _, tt, _, _) in own),
                     reverse=True)[:a.top]
        print("\ncache, one cProfile round, top functions by own time (ms/strip, inflated by the profiler): "
              + ", ".join(f"{k} {v:.3f}" for v, k in top))


if __name__ == "__main__":
    main()
