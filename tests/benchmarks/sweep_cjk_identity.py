"""Not speed: a random identity sweep of CJK strips -- random spans of the UDHR in Chinese (simplified, traditional,
Cantonese), Japanese and Korean with names, numbers, brackets, marks, variation selectors and other scripts pushed in
(``tests/test_render_cjk._pushed``), and Han / kana runs glued to Latin letters, brackets and digits
(``test_render_cjk.GLUED``) -- in gray, binary and pixar-pango, under the process locale's language and (gray) with
the context language set to ja, zh-TW, zh-HK and ko (GoNoto's 'locl' glyphs), each strip twice (the cache's first
and second pass) against the same renderer with ``shape_cache=False``. Prints every strip that differs, the counts
and how many characters the glyph path (``cjkglyph.py``) wrote.

    PYTHONPATH=$PWD python tests/benchmarks/sweep_cjk_identity.py --seed 2000 --strips 60
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import SHARED_DATA, udhr_page_text  # noqa: E402
from test_render_cjk import GLUED, ODD, _pushed  # noqa: E402
from test_render_cjkglyph import _renderer  # noqa: E402
from test_render_fastpath import same  # noqa: E402

from pixelkit.pipeline.render import RenderConfig, preset  # noqa: E402

FILES = ("cmn_hans", "cmn_hant", "yue", "jpn", "kor")


def texts() -> dict[str, str]:
    out = {}
    for f in FILES:
        out[f] = udhr_page_text((SHARED_DATA / "udhr" / "declaration" / f"{f}.html").read_text(encoding="utf-8"))
    return out


def strips(src: dict[str, str], rng: random.Random, n: int) -> list[str]:
    pool = list(src.values())
    chars = [c for c in "".join(pool) if "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff"]
    out = []
    for _ in range(n):
        s = rng.choice(pool)
        i = rng.randrange(max(1, len(s) - 600))
        out.append(rng.choice(["", " "]) + _pushed(s[i:i + rng.randint(1, 600)], rng, ODD) + rng.choice(["", " "]))
    for _ in range(n // 2):
        parts = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 5))) + rng.choice(GLUED) for _ in range(50)]
        out.append(rng.choice([" ", ""]).join(parts))
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=2000)
    ap.add_argument("--strips", type=int, default=60, help="random spans per run (and half as many glued strips)")
    a = ap.parse_args()
    os.environ.setdefault("PIXELKIT_CJK_GLYPHS", "1")  # (the glyph path is opt-in: swept on unless told otherwise)
    src = texts()
    total = diff = composed = written = 0
    runs = [(RenderConfig(), None), (RenderConfig(mode="binary"), None), (preset("pixar-pango"), None)]
    runs += [(RenderConfig(), lang) for lang in ("ja", "zh-tw", "zh-hk", "ko")]
    for ri, (cfg, lang) in enumerate(runs):
        rng = random.Random(a.seed + ri)
        ts = strips(src, rng, a.strips)
        fast, slow = _renderer(cfg, lang), _renderer(cfg, lang, cache=False)
        for t in ts + ts:
            total += 1
            if not same(fast(t), slow(t)):
                diff += 1
                print(f"DIFF {cfg.mode} {cfg.font_file} {lang}: {t!r}")
        composed += fast.cache_stats["composed"]
        glyphs = fast._cache._cjk_glyphs  # (None: PIXELKIT_CJK_GLYPHS=0, the path off)
        written += glyphs.stats["chars"] if glyphs is not None else 0
        print(f"{cfg.mode} {cfg.font_file} lang={lang}: {2 * len(ts)} renders, glyph path "
              f"{glyphs.stats if glyphs is not None else 'off'}")
    print(f"renders: {total}, differ: {diff}, composed: {composed}, characters written: {written}")


if __name__ == "__main__":
    main()
