"""Word lists and right-to-left pairs are rendered as PIXEL's own renderer renders them: every strip of the bundled
UD English-EWT excerpt is pixel-identical to xplip/pixel's ``PangoCairoTextRenderer(words)``, word starts too
(PIXEL's list also holds the EOS patch), and Arabic/Hebrew pairs (as pairs and as QA windows) to its
``renderer((a, b))``: sha256 of the reference's strips, measured by tests/assets/parity/pixel_words.py."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from pixelkit.pipeline.render import RenderConfig, TextRenderer

sys.path.insert(0, str(Path(__file__).resolve().parent / "assets" / "parity"))
from pixel_words import PATCHES, sentences  # noqa: E402

ASSET = json.loads((Path(__file__).resolve().parent / "assets" / "parity" / "pixel-words.json").read_text())


def _digest(pixels) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def test_word_lists_are_pixel_identical_to_pixels_renderer():
    sents, ref = sentences(), ASSET["strips"]
    assert [len(w) for w in sents] == [r["words"] for r in ref]
    compared = 0
    for shape_cache in (False, True):  # Pango alone, and the shaping cache
        r = TextRenderer(RenderConfig(max_patches=PATCHES), shape_cache=shape_cache)
        for words, want in zip(sents, ref):
            res = r.render_words(words)
            if res.truncated:  # PIXEL draws the word that does not fit clipped at the end; we stop before it
                continue
            assert list(res.pixels.shape) == want["shape"]
            assert _digest(res.pixels) == want["sha256"], words
            assert res.word_starts == want["word_starts"][:-1], words
            compared += 1
    assert compared == 2 * len(sents)  # every sentence of the excerpt fits in 256 patches


def test_rtl_pairs_are_pixel_identical_to_pixels_renderer():
    r = TextRenderer(RenderConfig())
    pairs = ASSET["rtl_pairs"]
    assert len(pairs) == 21 and any(p["pair"][0].startswith("Article") for p in pairs)
    for p in pairs:
        a, b = p["pair"]
        assert _digest(r.render_pair(a, b).pixels) == p["sha256"], (a[:40], b[:40])
        assert _digest(r.render_qa(a, b)[0].pixels) == p["sha256"], (a[:40], b[:40])
