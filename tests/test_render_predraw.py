"""``Classes._predraw``: a batch's new glyphs are drawn before its words are cut, so the cutting kernel runs once per
item of a known class (before, it stopped at the first glyph not drawn yet, asked for them and was run again) --
with Pango's pixels on every strip, first and second pass, over real mixed-script, CJK, Arabic and Hebrew text."""

from __future__ import annotations

import numpy as np
from test_render_cjk import cjk_text  # noqa: F401  (fixture)
from test_render_fastpath_mixed import _mixed_texts

from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.render.pango import shapecache


def test_items_of_known_classes_are_cut_in_one_kernel_run(udhr, cjk_text, monkeypatch):  # noqa: F811
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
    rtl = [" ".join(udhr[lang]["paragraphs"])[i:i + 300] for lang in ("arb", "heb") for i in range(0, 1500, 300)]
    texts = _mixed_texts(udhr, 31, 40) + [t[i:i + 200] for t in cjk_text.values() for i in range(0, 2000, 200)] + rtl
    for t in texts + texts:  # first pass, then second
        assert np.array_equal(fast(t).pixels, slow(t).pixels), t
    again = [code for was_known, code in runs if was_known and code == 1]
    assert sum(1 for was_known, _ in runs if was_known) > 40 and again == [], (len(runs), len(again))
    assert fast.cache_stats["composed"] > len(texts), fast.cache_stats
