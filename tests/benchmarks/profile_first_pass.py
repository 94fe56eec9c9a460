"""Where the shaping cache's first pass goes on a script of the multilingual benchmark (a fresh cache, every
strip once): per strip the CPU ms of Pango only and of the cache and the words it had to shape, then the
cache's profile (cProfile, by own time).

    python tests/benchmarks/profile_first_pass.py --script "Cyrillic (ru, uk, bg)" --strips 24
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_render_multi import MIXED, SCRIPTS, full_strips, mixed, udhr_texts  # noqa: E402
from common import pin_one_core  # noqa: E402

from pixelkit.pipeline.render import RenderConfig, TextRenderer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", default="Cyrillic (ru, uk, bg)", choices=[*SCRIPTS, *MIXED])
    ap.add_argument("--strips", type=int, default=24)
    a = ap.parse_args()
    pin_one_core()
    udhr = udhr_texts()
    pango = TextRenderer(RenderConfig(), shape_cache=False)
    if a.script in MIXED:  # the benchmark's mixed strips: sentences each followed by an English name or number
        text = mixed(udhr[MIXED[a.script]].replace("\n", " "), udhr["en"])
        strips = full_strips(text, MIXED[a.script], pango.measure, pango.text_budget, a.strips)
    else:
        strips = [s for lang in SCRIPTS[a.script] for s in full_strips(udhr[lang], lang, pango.measure,
                                                                         pango.text_budget, a.strips)][:a.strips]
    cache = TextRenderer(RenderConfig())
    for r in (pango, cache):
        r("warm up Pango and the kernels"), r("warm up Москва kernels")
    prof = cProfile.Profile()
    print(f"{a.script}: strip, Pango only ms, cache first pass ms, words shaped / words")
    for i, s in enumerate(strips):
        t0 = time.thread_time()
        pango(s)
        p = time.thread_time() - t0
        shaped = cache.cache_stats["words_shaped"]
        prof.enable()
        t0 = time.thread_time()
        cache(s)
        c = time.thread_time() - t0
        prof.disable()
        print(f"{i:3d} {p * 1000:7.2f} {c * 1000:7.2f}  {cache.cache_stats['words_shaped'] - shaped:4d} / {len(s.split())}")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
    print(out.getvalue())


if __name__ == "__main__":
    main()
