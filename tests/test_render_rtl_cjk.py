"""The shaping cache beyond left-to-right word scripts: right-to-left strips (Arabic, Hebrew) composed word by word
in reverse order, and Hangul words -- always with exactly Pango's pixels (``shape_cache=False`` renders the same
input alone; any pixel of difference fails).

What the script gate lets through (``scriptgate.ScriptGate._rtl``): one right-to-left script, no left-to-right
character, bidi control or separator, numbers as words of one family of digits. Everything else -- Latin inside
Arabic, "50%" after an Arabic word, a jamo after a Hangul syllable -- goes to Pango; the randomized strips below push
such characters in to check that the gate sends them there and that what it lets through still matches.
"""

from __future__ import annotations

import random
import re
from html import unescape

import numpy as np
import pytest
from conftest import SHARED_DATA

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset
from pixelkit.pipeline.render.pango.scriptgate import CJK, MIX, RTL, gate


def same(a, b) -> bool:
    return (np.array_equal(a.pixels, b.pixels) and a.num_patches == b.num_patches and a.text == b.text
            and a.unknown_glyphs == b.unknown_glyphs and a.truncated == b.truncated
            and a.offset_mapping == b.offset_mapping)


def pair(cfg: RenderConfig):
    return TextRenderer(cfg), TextRenderer(cfg, shape_cache=False)


_NUMBERS = [lambda r: str(r.randint(1, 3000)), lambda r: f"{r.randint(1, 99)},{r.randint(100, 999)}",
            lambda r: f"{r.randint(1, 31)}/{r.randint(1, 12)}/{r.randint(1900, 2030)}", lambda r: f"{r.random():.2f}"]
_ARABIC_NUMBERS = [lambda r: "".join(chr(0x0660 + int(d)) for d in str(r.randint(1, 3000))),  # Arabic-Indic (AN)
                   lambda r: "".join(chr(0x06F0 + int(d)) for d in str(r.randint(1, 3000)))]  # Persian (EN)
_PUNCT = ["-", "\u2013", "\u00ab", "\u00bb", "(", ")", ".", ":", "\"", "*", "%", "+"]
_OWN_PUNCT = {"arb": ["\u060c", "\u061f", "\u061b"], "heb": ["\u05be", "\u05f3", "\u05f4"]}  # of the script


def _rtl_strips(udhr, seed: int, n: int, odd: list[str] = ()) -> list[str]:
    """Strips of real Arabic or Hebrew UDHR words in random order with numbers (three families of digits,
    separators), punctuation words, double, leading and trailing spaces; with ``odd``, now and then one of those
    characters pushed into a word."""
    rng = random.Random(seed)
    words = {lang: " ".join(udhr[lang]["paragraphs"]).split() for lang in ("arb", "heb")}
    out = []
    for _ in range(n):
        base = rng.choice(["arb", "heb"])
        parts = []
        for _ in range(rng.randint(1, 150)):
            r = rng.random()
            numbers = _NUMBERS + _ARABIC_NUMBERS if base == "arb" else _NUMBERS
            w = rng.choice(words[base]) if r < 0.85 else rng.choice(numbers)(rng) if r < 0.94 else \
                rng.choice(_PUNCT + _OWN_PUNCT[base])
            if odd and rng.random() < 0.04:
                i = rng.randint(0, len(w))
                w = w[:i] + rng.choice(odd) + w[i:]
            parts.append(w)
        text = rng.choice([" ", " ", " ", "  "]).join(parts)
        out.append(rng.choice(["", "", " "]) + text + rng.choice(["", "", " "]))
    return out


@pytest.mark.parametrize("seed,cfg", [(21, RenderConfig()), (22, RenderConfig(mode="binary")),
                                      (23, preset("pixelgpt", mode="gray")), (24, RenderConfig(dpi=96, font_size=10))],
                         ids=["gray", "binary", "pixelgpt", "other-geometry"])
def test_rtl_strips_compose_word_by_word_and_match_pango(seed, cfg, udhr):
    """Arabic and Hebrew strips with numbers between the words: composed in reverse word order (numbers left to
    right inside), on their first meeting and their second, with Pango's pixels."""
    fast, slow = pair(cfg)
    texts = _rtl_strips(udhr, seed, 60)
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    stats = fast.cache_stats
    assert stats["gated"] == 0 and stats["composed"] > 90, stats  # the gate let them all through
    assert stats["batches"] <= 60 + 2, stats  # each strip's new words shaped once, in one batch


ODD = ["a", "Z", "\u200e", "\u200f", "\u202b", "\u2067", "%", "+", "\u0301", "\u064b", "\u05b8", "\u0640", "\u200c",
       "\u200d", "5", "\u0665", "\u06f5", "\u00b2", "\u0710", "\u07ca", "\t", "\u00a0", "\u060c", "\ufeff", "\u05f3",
       "\u0374", "\U0001F600", "\ue000", "\u2066"]


@pytest.mark.parametrize("seed", [31, 32])
def test_rtl_strips_with_odd_characters_pushed_in_match_pango(seed, udhr):
    """Latin letters, bidi marks, embeddings and isolates, digits glued to words ("50%" after an Arabic word is
    "%50" on screen), superscripts, marks, tatweel, joiners, Syriac, N'Ko, a tab, emoji: strips holding them go to
    Pango or are composed -- either way with Pango's pixels."""
    fast, slow = pair(RenderConfig())
    texts = _rtl_strips(udhr, seed, 150, odd=ODD)
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    stats = fast.cache_stats
    assert stats["composed"] > 40 and stats["gated"] > 40, stats


@pytest.mark.parametrize("text,rtl", [
    ("كلمة أخرى 2024 هنا ١٩٤٨ و ۱۹۴۸ 1,000 1.5 12/3/1948", True),
    ("הואיל והכרה (בכבוד) 1948 - «האדם»", True),
    ("  שלום  ", True),
    ("كلمة 50%", False),  # W5: "%" joins the number or not depending on the strong letter before it
    ("كلمة 1+2", False),  # W4 likewise
    ("كلمة 2024م", False),  # a number glued to a letter: two levels in one word
    ("كلمة ١2", False),  # two families of digits in one number
    ("كلمة Google هنا", "mix"),  # a left-to-right word: its own level (pango/rtlmix.py, from Pango's own levels)
    ("كلمة\u200f هنا", False),  # a bidi mark
    ("كلمة \u2067هنا\u2069", False),  # an isolate
    ("עברית ועربية", False),  # two right-to-left scripts
    ("2024 1948", False),  # no strong character: a left-to-right paragraph
    ("ܫܠܡܐ", False),  # Syriac: not composed
])
def test_the_gate_lets_through_only_rtl_strips_with_fixed_levels(text, rtl):
    code = gate()(text)
    assert (RTL <= code < CJK) == (rtl is True) and (code >= MIX) == (rtl == "mix"), code
    fast, slow = pair(RenderConfig())
    before = fast.cache_stats["composed"]  # (after the start-up canary)
    assert same(fast(text), slow(text))
    assert fast.cache_stats["composed"] - before == int(bool(rtl))


def test_rtl_pairs_word_lists_and_qa_windows_match_pango(udhr):
    """PIXEL's other layouts: an RTL pair (Pango draws it: right-aligned, RTL base direction), word lists (each word
    its own run, composed), QA windows, and a truncated strip (its width measured from the cache)."""
    fast, slow = pair(RenderConfig())
    for lang in ("arb", "heb"):
        text = " ".join(udhr[lang]["paragraphs"])
        for x in [(text[:300], text[300:600]), text[:500].split(" "), text * 8]:
            assert same(fast(x), slow(x)), (lang, type(x).__name__)
        for a, b in zip(fast.render_qa(text[:80], text, stride=8), slow.render_qa(text[:80], text, stride=8)):
            assert same(a, b)
    assert fast(text * 8).truncated


def test_the_canary_covers_rtl_offsets():
    """The start-up canary holds Hebrew kerned by x offsets off whole pixels and Arabic marks placed by y offsets
    off whole pixels, and the cache composes both (so a cairo that rounds glyph positions otherwise switches the
    cache off)."""
    from pixelkit.pipeline.render.pangocairo import RTL_CANARY

    fast, slow = pair(RenderConfig())
    for t in RTL_CANARY:
        before = fast.cache_stats["composed"]
        assert same(fast(t), slow(t))
        assert fast.cache_stats["composed"] == before + 1
    fast._ensure()
    shaped = fast._cache._shape
    from pixelkit.pipeline.render.pango import pango_abi as pa

    offsets = np.concatenate([it.glyphs[:, pa.X_OFFSET:pa.Y_OFFSET + 1] for t in RTL_CANARY
                              for it in shaped(t.encode(), pa.DIRECTION_RTL)])
    assert (offsets[:, 0] % pa.SCALE != 0).any() and (offsets[:, 1] % pa.SCALE != 0).any()


def _hangul_strips(udhr, seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    words = " ".join(udhr["kor"]["paragraphs"]).split()
    latin = " ".join(udhr["eng"]["paragraphs"]).split()
    odd = ["\u1100\u1161", "\u11a8", "\u302e", "\u3131", "\u314f", "\uffa1", "(", "1948", "\u00b7"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 150)):
            r = rng.random()
            w = rng.choice(words) if r < 0.85 else rng.choice(latin) if r < 0.93 else str(rng.randint(1, 3000))
            if rng.random() < 0.03:
                i = rng.randint(0, len(w))
                w = w[:i] + rng.choice(odd) + w[i:]
            parts.append(w)
        out.append(" ".join(parts))
    return out


@pytest.mark.parametrize("seed,cfg", [(41, RenderConfig()), (42, RenderConfig(mode="binary"))], ids=["gray", "binary"])
def test_hangul_strips_compose_word_by_word_and_match_pango(seed, cfg, udhr):
    """Korean strips with Latin words and numbers (run by run), now and then a conjoining jamo or tone mark (the
    Hangul shaper's one state: such strips go to Pango), compatibility jamo (not conjoined: composed)."""
    fast, slow = pair(cfg)
    texts = _hangul_strips(udhr, seed, 80)
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    stats = fast.cache_stats
    assert stats["composed"] > 60, stats
    assert gate()("한국어 \u1100\u1161 문장") == 0 and gate()("한국어\u302e") == 0 and gate()("한국어 ㄱ 문장") == 1


_FULL = {"ar", "fa", "ur", "ps", "he", "yi", "ko", "ug", "sd", "ckb"}


@pytest.mark.skipif(not (SHARED_DATA / "udhr").is_dir(), reason="needs ../shared/data/udhr (the full UDHR set)")
def test_full_udhr_rtl_and_hangul_languages_match_pango():
    """Every right-to-left and Hangul language of the full UDHR set, cut into strips, twice: all pixel-identical,
    most composed."""
    fast, slow = pair(RenderConfig())
    texts = []
    for f in sorted((SHARED_DATA / "udhr" / "declaration").glob("*.html")):
        raw = f.read_text(encoding="utf-8")
        if re.search(r'lang="([^"]+)"', raw).group(1) not in _FULL:
            continue
        paras = [unescape(re.sub("<[^>]+>", "", p)).strip() for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
        text = " ".join(" ".join(p.split()) for p in paras if p.strip())
        texts += [text[i:i + 900] for i in range(0, len(text), 900)]
    assert len(texts) > 40
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    assert fast.cache_stats["composed"] > len(texts), fast.cache_stats


def test_glyph_cells_from_the_font_box_give_the_same_masks():
    """Glyphs are drawn in cells sized from the font's bounding box ('head'), a fifth of the default cell's bytes for
    GoNoto: every 17th glyph of the font and the widest and tallest ones come out the same as in the default cell."""
    from pixelkit.pipeline.render.pango import pango_abi as pa
    from pixelkit.pipeline.render.pango.glyphs import CELL_H, CELL_W, GlyphMasks, cell_for

    cfg = RenderConfig()
    cell = cell_for(cfg.font_files()[0], cfg.font_px)
    assert cell[0] * cell[1] * 5 <= CELL_W * CELL_H
    r = TextRenderer(cfg)
    r._ensure()
    (item,) = r._cache._shape("\ufdfd".encode(), pa.DIRECTION_RTL)  # the widest glyph (an Arabic ligature)
    tall = [g for it in r._cache._shape("\u0f00 \u1e9b\u0323 \u0e2c\u0e31\u0e49 Å\u0301".encode()) for g in it.glyphs[:, 0]]
    glyphs = sorted({*range(1, 65000, 17), *item.glyphs[:, 0].tolist(), *tall} - {pa.GLYPH_EMPTY})
    small, default = GlyphMasks(cell), GlyphMasks()

    def masks(gm, rows):
        a = gm.atlas
        return [(tuple(a.rows.a[i, 1:]), a.data[a.rows.a[i, 0]:a.rows.a[i, 0] + a.rows.a[i, 1] * a.rows.a[i, 2]].tobytes())
                if i >= 0 else None for i in rows]

    for phase in (0.0, 0.5):
        a, b = small.draw(item.font, glyphs, phase), default.draw(item.font, glyphs, phase)
        assert -1 not in a and masks(small, a) == masks(default, b)
