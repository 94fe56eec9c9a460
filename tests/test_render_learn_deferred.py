"""The glyph path learns from a mixed strip's batch only once a strip of that class alone asks to write words
(glyphshape.GlyphWords._learn_item): real Russian UDHR text with English names and numbers, then Russian alone.
Until then the Cyrillic class's items are kept, not learned; then they are, and the tables are those learning at
once gives; every strip is Pango's pixels."""

from __future__ import annotations

import random
import re

import numpy as np
from test_render_glyphpath import _strips, _udhr

from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.render.pango import glyphshape

CYRILLIC = 8


def _texts() -> tuple[list[str], list[str]]:
    texts = _udhr({"ru", "en"})
    rng = random.Random(3)
    names = re.findall(r"\b[A-Z][a-z]+\b|\b\d+\b", texts["en"])
    words = texts["ru"].split(" ")
    mixed = " ".join(w + (" " + rng.choice(names) if k % 4 == 3 else "") for k, w in enumerate(words))
    return _strips(mixed, n=4), _strips(texts["ru"][9000:], n=3)


def _run(strips: list[str], check=None) -> TextRenderer:
    r, pango = TextRenderer(RenderConfig()), TextRenderer(RenderConfig(), shape_cache=False)
    for t in strips:
        a, b = r(t), pango(t)
        assert np.array_equal(a.pixels, b.pixels), t[:80]
        if check:
            check(r)
    return r


def test_mixed_batches_defer_learning(monkeypatch):
    mixed, alone = _texts()
    r = _run(mixed)
    cache = r._cache
    (cls,) = [c for k, c in cache._class_of.items() if k[1] == CYRILLIC]
    assert r.cache_stats["composed"] >= len(mixed)  # (composed through their batches, not left to Pango)
    assert cls not in cache._glyph.writing and cls not in cache._glyph._tables
    assert len(cache._glyph.deferred[cls]) > 0  # the mixed batches' Cyrillic items, kept
    r2 = _run(mixed + alone)
    g = r2._cache._glyph
    assert cls in g.writing and cls not in g.deferred and cls in g._tables
    # learning every item at once (as before) gives the same tables
    monkeypatch.setattr(glyphshape.GlyphWords, "_learn_item", _eager)
    eager = _run(mixed + alone)._cache
    assert not eager._glyph.deferred
    (cls2,) = [c for k, c in eager._class_of.items() if k[1] == CYRILLIC]
    for a, b in zip(g._tables[cls], eager._glyph._tables[cls2]):
        assert np.array_equal(a, b)
    assert g.stats["words"] == eager._glyph.stats["words"] > 0  # and writes the same words


def _eager(self, item, raw, mixed=False) -> None:
    """``_learn_item`` without deferring: every item learned from as it is shaped."""
    if item.script in self._glyph.scripts and item.level == 0:
        cls = self._class_of.get((item.font, item.script, item.language))
        if cls is not None:
            self._glyph.learn(cls, item, raw)
