"""Not speed: a random identity sweep of mixed-script strips -- UDHR Arabic / Persian / Urdu / Hebrew text with Latin
runs, numbers of three digit families and punctuation (``tests/test_render_rtl_mixed.mixed_strips``) and UDHR
Russian / Bulgarian / Ukrainian words glued or spaced with English words, digits, dates and marks
(``tests/test_render_runsplit._glued``), in gray, binary and pixar-pango, each strip twice (the cache's first and
second pass) against the same renderer with ``shape_cache=False``. Prints every strip that differs and the counts.

    PYTHONPATH=$PWD python tests/benchmarks/sweep_mixed_identity.py --seed 1000 --rtl 90 --cyrillic 80
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_render_rtl_mixed import _FILES, _words, mixed_strips, same  # noqa: E402
from test_render_runsplit import _glued  # noqa: E402

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--rtl", type=int, default=90, help="right-to-left strips per geometry")
    ap.add_argument("--cyrillic", type=int, default=80, help="Cyrillic + Latin strips per geometry")
    a = ap.parse_args()
    rtl_words = {k: _words(v) for k, v in _FILES.items()}
    cyr = {k: _words(k) for k in ("rus", "bul", "ukr", "eng")}
    total = diff = composed = 0
    for ci, cfg in enumerate([RenderConfig(), RenderConfig(mode="binary"), preset("pixar-pango")]):
        rng = random.Random(a.seed + ci)
        texts = mixed_strips(rtl_words, a.seed + 10 + ci, a.rtl)
        texts += [_glued(rng, cyr, rng.choice(["rus", "bul", "ukr"]), "eng") for _ in range(a.cyrillic)]
        rng.shuffle(texts)
        fast, slow = TextRenderer(cfg), TextRenderer(cfg, shape_cache=False)
        for t in texts + texts:
            total += 1
            if not same(fast(t), slow(t)):
                diff += 1
                print("DIFF", ci, repr(t[:200]))
        composed += fast.cache_stats["composed"]
    print(f"strips {total // 2} x 2 passes = {total} renders, {diff} differences, composed {composed}")


if __name__ == "__main__":
    main()
