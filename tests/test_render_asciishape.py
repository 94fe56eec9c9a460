"""The shaping cache's glyph path (pipeline/render/pango/glyphshape.py) on ASCII: new ASCII words' glyph strings
written from learned tables are Pango's own, and strips composed with them are Pango's pixels."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import SHARED_DATA
from glyphpath import written_equal_pangos

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset
from pixelkit.pipeline.render.config import fonts_dir
from pixelkit.pipeline.render.pango import glyphshape
from pixelkit.pipeline.render.pango.asciicheck import check_font, manifest_entry

WIKI = SHARED_DATA / "prose" / "wikitext-2-raw" / "wiki.test.raw"


def _wiki_strips(n: int, size: int = 1200) -> list[str]:
    lines = [" ".join(x.split()) for x in WIKI.read_text(encoding="utf-8").splitlines()]
    text = " ".join(x for x in lines if x and not x.startswith("="))
    return [text[i:i + size] for i in range(0, n * size, size)]


def _random_words(rng: random.Random, n: int) -> list[str]:
    """Printable ASCII words, ligature sequences (ff, fi, fl, ffi, ffl) and kerning pairs (AV, To) made likely."""
    pieces = [chr(c) for c in range(0x21, 0x7F)] + ["ff", "fi", "fl", "ffi", "ffl", "fff", "AV", "To", "Ty", "r.", "f"] * 4
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 9))) for _ in range(n)]


def _latin_class(r: TextRenderer):
    r("The shaping cache seeds its Latin class from this sentence.")
    cache = r._cache
    (key, cls), = [(k, c) for k, c in cache._class_of.items() if k[1] == 25]
    if cls not in cache._glyph.seeded:
        cache._glyph.seed(cls, key, cache._shape, cache._cls_anchor[cls])
    return cache, key, cls


def test_manifest_holds_the_fonts_proof():
    """fonts/MANIFEST.json's ``ascii`` verdicts are what asciicheck derives now (GoNoto: all printable ASCII, its
    five f-ligatures written in the order its liga lookup tries them)."""
    manifest = json.loads((fonts_dir() / "MANIFEST.json").read_text())["fonts"]
    for name in ("GoNotoCurrent.ttf", "PixeloidSans.ttf"):
        assert manifest[name]["ascii"] == manifest_entry(check_font(fonts_dir() / name)), name
    assert manifest["GoNotoCurrent.ttf"]["ascii"]["ligatures"] == ["ffi", "ffl", "ff", "fi", "fl"]
    assert len(manifest["GoNotoCurrent.ttf"]["ascii"]["chars"]) == 95


def test_written_glyph_strings_are_pangos():
    """Real WikiText words and random ASCII words: the written glyph string (glyph, advance, offsets, cluster flags,
    clusters) equals the one Pango's itemize + shape gives the same batch behind the class's anchor."""
    r = TextRenderer(RenderConfig())
    cache, key, cls = _latin_class(r)
    shaper = cache._glyph
    rng = random.Random(12)
    words = [w for s in _wiki_strips(40) for w in s.split(" ") if w]
    batches = [words[i:i + 25] for i in range(0, len(words), 25)]
    batches += [_random_words(rng, 25) for _ in range(120)]
    written = written_equal_pangos(cache, key, cls, 25, batches)
    assert written > 3000
    assert not shaper.off


@pytest.mark.parametrize("cfg", [RenderConfig(), RenderConfig(mode="binary"), preset("pixar-pango")],
                         ids=["gray", "binary", "pixar-pango"])
def test_composed_strips_are_pangos(cfg, monkeypatch):
    """WikiText strips and strips of random ASCII words, both passes: the cache (most new words written, not shaped:
    seeded at once) gives Pango's pixels, as it does with the glyph path off."""
    monkeypatch.setattr(glyphshape, "SEED_AFTER", 0)
    rng = random.Random(3)
    texts = _wiki_strips(30) + [" ".join(_random_words(rng, 150)) for _ in range(10)]
    cache, pango = TextRenderer(cfg), TextRenderer(cfg, shape_cache=False)
    for _ in range(2):
        for t in texts:
            a, b = cache(t), pango(t)
            assert np.array_equal(a.pixels, b.pixels) and a.num_patches == b.num_patches, t[:80]
    stats = cache._cache._glyph.stats
    assert stats["words"] > 0.6 * cache.cache_stats["words_shaped"]
    assert not cache._cache._glyph.off


def test_path_off_shapes_everything(monkeypatch):
    """``PIXELKIT_ASCII_PATH=0``: no word written, the same pixels."""
    monkeypatch.setenv("PIXELKIT_ASCII_PATH", "0")
    r, p = TextRenderer(RenderConfig()), TextRenderer(RenderConfig(), shape_cache=False)
    for t in _wiki_strips(3):
        assert np.array_equal(r(t).pixels, p(t).pixels)
    assert not r._cache._glyph.on and r._cache._glyph.stats["words"] == 0


def test_a_class_is_seeded_once_unlearned_words_paid_for_it(monkeypatch):
    """Words are written from what Pango's own batches taught from the second strip on, with no seed; the seed
    comes once the new words that went to Pango for want of a unit or pair (and their batches) cost what it costs
    (SEED_AFTER per 12,000 seed characters; lowered after two strips here so that a short run reaches it)."""
    r = TextRenderer(RenderConfig())
    texts = _wiki_strips(40)
    r(texts[0])
    shaper = r._cache._glyph
    assert not shaper.seeded and shaper.stats["words"] == 0
    r(texts[1])
    assert not shaper.seeded and shaper.stats["words"] > 0  # (learned from the first strip)
    monkeypatch.setattr(glyphshape, "SEED_AFTER", 10)
    for t in texts[2:]:
        r(t)
    (cls,) = shaper.seeded
    assert shaper._met[cls] >= 10 * shaper.scripts[25].seed_chars // 12_000
