"""``Classes._predraw``: a CJK batch's new glyphs are drawn before its tokens are cut, so the cutting kernel runs once
per item of a known class (before, it stopped at the first glyph not drawn yet, asked for them and was run again) --
with Pango's pixels on every strip, first and second pass, over real Chinese and Japanese text with Latin words."""

from __future__ import annotations

import numpy as np
from test_render_cjk import cjk_text  # noqa: F401  (fixture)
from test_render_cjk_batch import _mixed

from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.render.pango import shapecache


def test_cjk_items_of_known_classes_are_cut_in_one_kernel_run(cjk_text, monkeypatch):  # noqa: F811
    runs: list[tuple[bool, int]] = []  # (the item's class existed before, kernel return code)
    known = [False]
    real_kernel, real_words = shapecache.kernels.harvest_item, shapecache.ShapeCache._harvest_words

    def kernel(*args, **kw):
        code = real_kernel(*args, **kw)
        runs.append((known[0], code))
        return code

    def harvest_words(self, item, *args, **kw):
        known[0] = (item.font, item.script, item.language) in self._class_of
        return real_words(self, item, *args, **kw)

    monkeypatch.setattr(shapecache.kernels, "harvest_item", kernel)
    monkeypatch.setattr(shapecache.ShapeCache, "_harvest_words", harvest_words)
    fast, slow = TextRenderer(RenderConfig()), TextRenderer(RenderConfig(), shape_cache=False)
    texts = [s for lang in sorted(cjk_text) for s in _mixed(cjk_text[lang], 8)]
    fast("warm up 暖身 kernels")
    runs.clear()  # (the renderer's canary and warm-up: Latin and RTL batches, which do not predraw)
    for t in texts + texts:  # first pass, then second
        assert np.array_equal(fast(t).pixels, slow(t).pixels), t
    again = [code for was_known, code in runs if was_known and code == 1]
    assert sum(1 for was_known, _ in runs if was_known) > 20 and again == [], (len(runs), len(again))
    assert fast.cache_stats["composed"] > len(texts), fast.cache_stats
