"""The CJK glyph path (pipeline/render/pango/cjkglyph.py): new proven Han/kana characters' glyph records written from
HarfBuzz's cmap and advances and widths learned from Pango, not shaped -- checked against Pango's own glyph strings
under every language Pango may hand HarfBuzz (the process locale's, or ja / zh-TW / zh-HK / ko / zh-CN: GoNoto's
'locl' gives thousands of Han characters other glyphs under JAN, KOR, ZHT and ZHH), and composed strips against
Pango's pixels (``shape_cache=False``), first and second pass. Broken tables (a width, a glyph) give other pixels,
and the learning notices a glyph other than the table's.

Real text: the UDHR in Chinese (simplified, traditional, Cantonese), Japanese and Korean from ../shared/data.
"""

from __future__ import annotations

import numpy as np
import pytest
from pangocffi import pango
from test_render_cjk import _strips, cjk_text  # noqa: F401  (the fixture)
from test_render_fastpath import same

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset
from pixelkit.pipeline.render.pango import cjkglyph
from pixelkit.pipeline.render.pango.cjkglyph import CjkGlyphs

HAN = 17  # GUnicodeScript


@pytest.fixture(autouse=True)
def _glyph_path_on(monkeypatch):
    monkeypatch.setenv("PIXELKIT_CJK_GLYPHS", "1")  # (opt-in: the renderers made here write)
LANGS = (None, "ja", "zh-tw", "zh-hk", "ko", "zh-cn")


@pytest.fixture(scope="module")
def kor_text(cjk_text) -> str:  # noqa: F811
    from conftest import SHARED_DATA, udhr_page_text

    path = SHARED_DATA / "udhr" / "declaration" / "kor.html"
    if not path.is_file():
        return ""
    return udhr_page_text(path.read_text(encoding="utf-8"))


def _renderer(cfg: RenderConfig, lang: str | None, cache: bool = True) -> TextRenderer:
    """A renderer whose Pango context has the language ``lang`` (None: the process locale's, as the renderer
    leaves it) -- what a process started under that locale itemizes with."""
    r = TextRenderer(cfg, shape_cache=cache)
    r._ensure()
    if lang is not None:
        pango.pango_context_set_language(r._context, pango.pango_language_from_string(lang.encode()))
        pango.pango_layout_context_changed(r._layout)
    return r


def _han_class(r: TextRenderer, text: str) -> tuple[int, tuple[int, int, int]]:
    r(text[:200])  # (a first strip: the Han class and its anchor)
    cache = r._cache
    cls = cache._cjk_cls[HAN]
    return cls, next(k for k, c in cache._class_of.items() if c == cls)


def _han_items(r: TextRenderer, data: bytes, key) -> list:
    items = [it for it in r._cache._shape(data) if (it.font, it.script, it.language) == key]
    assert items
    return items


@pytest.mark.parametrize("lang", LANGS, ids=[x or "locale" for x in LANGS])
def test_written_glyph_strings_are_pangos(lang, cjk_text):
    """Half the UDHR's distinct proven Han-run characters teach the widths; the other half's written glyph string
    (glyphs, widths, offsets, flags, clusters, spaces) is Pango's own, under each language."""
    r = _renderer(RenderConfig(), lang)
    text = " ".join(cjk_text.values())
    cls, key = _han_class(r, text)
    cache = r._cache
    script = np.array(cache._gate.script_u8)
    cps = np.array(sorted({ord(c) for c in text if ord(c) < 1 << 16}), np.int64)
    cps = cps[(cache._cjk_proven[cps] == 1) & (script[cps] == HAN)]
    assert len(cps) > 600
    teach, check = cps[0::2], cps[1::2]
    g = CjkGlyphs(cache._cjk_proven)
    data = (" ".join(map(chr, teach.tolist())) + " ").encode()
    for it in _han_items(r, data, key):
        g.learn(cls, key, it, np.frombuffer(data, np.uint8))
    assert cls not in g.off and g.stats["learned"] == (g.glyphs(cls, key, teach) >= 0).sum() > 150
    cps = np.full(2 * len(check), 32, np.int64)
    cps[0::2] = check
    ok, data, item = g.write_words(cls, key, cps, g.allowed, cache._cls_space_glyph[cls], cache._cls_space[cls])
    ok = ok[:len(check)]
    assert ok.sum() > (0.95 if lang in (None, "zh-cn") else 0.2) * len(check), (lang, ok.sum(), len(check))
    assert len(item.glyphs) == 2 * ok.sum() and data == (" ".join(map(chr, check[ok].tolist())) + " ").encode()
    (theirs,) = _han_items(r, data, key)
    assert theirs.offset == 0 and theirs.length == len(data)
    assert np.array_equal(item.glyphs[:, :4], theirs.glyphs[:, :4])
    assert np.array_equal(item.glyphs[:, 4] & 3, theirs.glyphs[:, 4] & 3)
    assert np.array_equal(item.clusters, theirs.clusters)


def test_the_language_system_matters(monkeypatch, cjk_text):
    """Under 'ja' Pango gives many Han characters other glyphs than their cmap glyph (GoNoto's JAN 'locl'): the
    tables that ignored the language system would write them wrong; the real ones refuse exactly such
    characters."""
    r = _renderer(RenderConfig(), "ja")
    text = " ".join(cjk_text.values())
    cls, key = _han_class(r, text)
    cache = r._cache
    cps = np.array(sorted({ord(c) for c in text if ord(c) < 1 << 16}), np.int64)
    cps = cps[(cache._cjk_proven[cps] == 1) & (np.array(cache._gate.script_u8)[cps] == HAN)]
    data = (" ".join(map(chr, cps.tolist())) + " ").encode()
    (item,) = _han_items(r, data, key)
    pango_glyph = item.glyphs[0::2, 0]
    real = CjkGlyphs(cache._cjk_proven).glyphs(cls, key, cps)
    monkeypatch.setattr(cjkglyph, "touched_glyphs", lambda *a: np.zeros(0, np.uint32))
    naive = CjkGlyphs(cache._cjk_proven).glyphs(cls, key, cps)
    differ = naive != pango_glyph
    assert differ.sum() > 100  # the locl at work
    assert (real[differ] == -1).all()  # all refused
    assert np.array_equal(real[real >= 0], pango_glyph[real >= 0])
    # and learning from Pango's string with the naive table notices it
    g = CjkGlyphs(cache._cjk_proven)
    g.learn(cls, key, item, np.frombuffer(data, np.uint8))
    assert cls in g.off


@pytest.mark.parametrize("cfg", [RenderConfig(), RenderConfig(mode="binary"), preset("pixar-pango")],
                         ids=["gray", "binary", "pixar-pango"])
def test_udhr_strips_with_written_glyphs_match_pango(cfg, cjk_text, kor_text):  # noqa: F811
    """Every UDHR Chinese, Japanese and Korean strip, first and second pass: Pango's pixels, with characters
    written (PIXAR's PixeloidSans has no CJK glyphs: Pango's pixels, nothing written)."""
    texts = [t for text in [*cjk_text.values(), kor_text] for t in _strips(text, 300)]
    for lang in (None, "ja") if cfg.mode == "gray" and cfg.font_size == RenderConfig().font_size else (None,):
        fast, slow = _renderer(cfg, lang), _renderer(cfg, lang, cache=False)
        for t in texts + texts:
            assert same(fast(t), slow(t)), (lang, t)
        g = fast._cache._cjk_glyphs
        assert (g.stats["chars"] > 300 if "GoNoto" in cfg.font_file else g.stats["chars"] == 0) and not g.off


@pytest.mark.parametrize("broken", ["width", "glyph"])
def test_broken_tables_give_other_pixels(broken, cjk_text, monkeypatch):
    """A written width one pixel off, or a neighbour's glyph, shows in the pixels: the identity checks can fail."""
    text = cjk_text["cmn_hans"] if "cmn_hans" in cjk_text else next(iter(cjk_text.values()))
    texts = _strips(text, 300)
    fast, slow = _renderer(RenderConfig(), None), _renderer(RenderConfig(), None, cache=False)
    assert same(fast(texts[0]), slow(texts[0]))
    cache = fast._cache
    cls = cache._cjk_cls[HAN]
    t = cache._cjk_glyphs._cls[cls]
    if broken == "width":
        t.widths[t.widths >= 0] += 1024
    else:  # every glyph looked up from now on one off
        real = cjkglyph.CjkGlyphs._look_up

        def look_up(self, t, codes):
            real(self, t, codes)
            t.glyph[codes] = np.where(t.glyph[codes] >= 0, t.glyph[codes] + 1, t.glyph[codes])

        monkeypatch.setattr(cjkglyph.CjkGlyphs, "_look_up", look_up)
    differ = sum(not same(fast(t), slow(t)) for t in texts[1:])
    assert cache._cjk_glyphs.stats["chars"] > 50
    assert differ > 0


@pytest.mark.parametrize("lang", (None, "ko", "ja"), ids=["locale", "ko", "ja"])
def test_written_hangul_words_are_pangos(lang, kor_text):  # noqa: F811
    """Words of precomposed syllables, digits and punctuation from the Korean UDHR: half teach the widths, the other
    half's written glyph string is Pango's own (the Hangul shaper leaves such syllables alone)."""
    from pixelkit.pipeline.render.pango.cjkglyph import HANGUL, HANGUL_OK, _SYLLABLES

    r = _renderer(RenderConfig(), lang)
    words = list(dict.fromkeys(w for w in kor_text.split(" ") if _SYLLABLES.fullmatch(w)))
    assert len(words) > 300
    r(" ".join(words[:20]))
    cache = r._cache
    cls = next(c for k, c in cache._class_of.items() if k[1] == HANGUL)
    key = next(k for k, c in cache._class_of.items() if c == cls)
    g = CjkGlyphs(cache._cjk_proven)
    data = (" ".join(words[0::2]) + " ").encode()
    for it in _han_items(r, data, key):
        g.learn(cls, key, it, np.frombuffer(data, np.uint8))
    assert cls not in g.off and g.stats["learned"] > 1000
    check = " ".join(words[1::2]) + " "
    cps = np.frombuffer(check.encode("utf-32-le"), np.uint32).astype(np.int64)
    ok, data, item = g.write_words(cls, key, cps, HANGUL_OK, cache._cls_space_glyph[cls], cache._cls_space[cls])
    assert ok[:len(words[1::2])].all() and data == check.encode()
    (theirs,) = _han_items(r, data, key)
    assert theirs.offset == 0 and theirs.length == len(data)
    assert np.array_equal(item.glyphs[:, :4], theirs.glyphs[:, :4])
    assert np.array_equal(item.glyphs[:, 4] & 3, theirs.glyphs[:, 4] & 3)
    assert np.array_equal(item.clusters, theirs.clusters)


@pytest.mark.parametrize("cfg", [RenderConfig(), RenderConfig(mode="binary")], ids=["gray", "binary"])
def test_korean_strips_with_written_words_match_pango(cfg, kor_text):  # noqa: F811
    """Korean UDHR strips, first and second pass: Pango's pixels, most new words written; and a width one pixel off
    shows in the pixels."""
    texts = _strips(kor_text, 300)
    fast, slow = _renderer(cfg, None), _renderer(cfg, None, cache=False)
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    g = fast._cache._cjk_glyphs
    assert g.stats["chars"] > 1000 and not g.off, g.stats
    fast, slow = _renderer(cfg, None), _renderer(cfg, None, cache=False)
    assert same(fast(texts[0]), slow(texts[0]))
    for t in fast._cache._cjk_glyphs._cls.values():
        if t is not None:
            t.widths[t.widths >= 0] += 1024
    assert sum(not same(fast(t), slow(t)) for t in texts[1:]) > 0
