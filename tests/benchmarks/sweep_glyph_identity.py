"""Not speed: a random identity sweep of the glyph path (``pipeline/render/pango/glyphshape.py``) -- strips cut at
random from the UDHR in every language of Latin, Cyrillic or Greek script it holds (letters of those scripts make up
>= 90% of a text's letters: ~300 languages, Vietnamese's stacked diacritics and Latin Extended Additional included),
single-language and mixed (words of a Cyrillic or Greek text with words of a Latin one), in gray, binary and
pixar-pango, each strip twice (the cache's first and second pass, the path learning and seeding as it goes) against
the same renderer with ``shape_cache=False``. Prints every strip that differs and the counts.

    PYTHONPATH=$PWD python tests/benchmarks/sweep_glyph_identity.py --seed 7 --strips 400
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import SHARED_DATA, udhr_page_text  # noqa: E402

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset  # noqa: E402

UDHR = SHARED_DATA / "udhr" / "declaration"
_RANGES = {"latn": lambda c: c.isalpha() and (c < "\u0250" or "\u1e00" <= c < "\u1f00"),
           "cyrl": lambda c: "\u0400" <= c < "\u0530", "grek": lambda c: "\u0370" <= c < "\u0400" or "\u1f00" <= c < "\u2000"}


def texts() -> dict[str, dict[str, str]]:
    """script -> language -> the UDHR text (first file of each language)."""
    out: dict[str, dict[str, str]] = {k: {} for k in _RANGES}
    for f in sorted(UDHR.glob("*.html")):
        raw = f.read_text(encoding="utf-8")
        lang = re.search(r'lang="([^"]+)"', raw).group(1)
        text = udhr_page_text(raw)
        letters = [c for c in text if c.isalpha()]
        for script, inside in _RANGES.items():
            if letters and sum(map(inside, letters)) >= 0.9 * len(letters) and lang not in out[script]:
                out[script][lang] = text
    return out


def strips(rng: random.Random, by: dict[str, dict[str, str]], n: int) -> list[str]:
    out = []
    for _ in range(n):
        size = rng.randint(200, 1400)
        if rng.random() < 0.3:  # mixed: a Cyrillic or Greek text's words with a Latin one's
            a = rng.choice(list(by[rng.choice(["cyrl", "grek"])].values())).split(" ")
            b = rng.choice(list(by["latn"].values())).split(" ")
            i, j = rng.randrange(len(a)), rng.randrange(len(b))
            words = [a[(i + k) % len(a)] if rng.random() < 0.7 else b[(j + k) % len(b)] for k in range(size // 6)]
            out.append(" ".join(words)[:size])
        else:
            t = rng.choice(list(by[rng.choice(["latn", "latn", "cyrl", "grek"])].values()))
            i = rng.randrange(max(1, len(t) - size))
            out.append(t[i:i + size].strip())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--strips", type=int, default=400, help="strips per geometry")
    a = ap.parse_args()
    by = texts()
    print("languages:", {k: len(v) for k, v in by.items()}, flush=True)
    total = bad = 0
    for name, cfg in (("gray", RenderConfig()), ("binary", RenderConfig(mode="binary")), ("pixar-pango", preset("pixar-pango"))):
        rng = random.Random(a.seed)
        cache, pango = TextRenderer(cfg), TextRenderer(cfg, shape_cache=False)
        batch = strips(rng, by, a.strips)
        for p in range(2):
            for t in batch:
                x, y = cache(t), pango(t)
                total += 1
                if not (np.array_equal(x.pixels, y.pixels) and x.num_patches == y.num_patches):
                    bad += 1
                    print(f"DIFF {name} pass {p + 1}: {t[:120]!r}", flush=True)
        g = cache._cache._glyph
        print(f"{name}: written words {g.stats['words']}, words shaped {cache.cache_stats['words_shaped']}, "
              f"seeded classes {len(g.seeded)}, classes off {sorted(g.off)}", flush=True)
    print(f"renders {total}, differences {bad}")


if __name__ == "__main__":
    main()
