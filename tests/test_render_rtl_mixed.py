"""Right-to-left strips with left-to-right words (``pango/rtlmix.py``): Arabic, Persian, Urdu and Hebrew UDHR text
with Latin names and terms, numbers and punctuation pushed in, composed from cached pieces in Pango's visual order --
always with exactly Pango's pixels (``shape_cache=False`` renders the same input alone; any pixel of difference
fails), on the first meeting and the second, in gray, binary and PIXAR's Pango geometry.

The strips start and end with either script (so paragraphs of both directions), hold Latin runs of several words,
numbers of three digit families, punctuation glued to words of both scripts or standing alone between them, and
now and then brackets, quotes, double spaces. Most must be composed (the test counts them), so a wrong order of
runs, a wrong space class or a wrong level would show as a pixel difference.
"""

from __future__ import annotations

import random
import re
from html import unescape

import numpy as np
import pytest
from conftest import SHARED_DATA

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset
from pixelkit.pipeline.render.pango.scriptgate import MIX, gate

HAS_UDHR = (SHARED_DATA / "udhr").is_dir()
pytestmark = pytest.mark.skipif(not HAS_UDHR, reason="needs ../shared/data/udhr (the full UDHR set)")
_FILES = {"arb": "arb", "pes": "pes_1", "urd": "urd", "heb": "heb", "eng": "eng"}


def _words(name: str) -> list[str]:
    raw = (SHARED_DATA / "udhr" / "declaration" / f"{name}.html").read_text(encoding="utf-8")
    paras = [unescape(re.sub("<[^>]+>", "", p)) for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
    return " ".join(paras).split()


@pytest.fixture(scope="module")
def words():
    return {k: _words(v) for k, v in _FILES.items()}


def same(a, b) -> bool:
    return (np.array_equal(a.pixels, b.pixels) and a.num_patches == b.num_patches and a.text == b.text
            and a.unknown_glyphs == b.unknown_glyphs and a.truncated == b.truncated)


_DIGITS = {"ascii": "0123456789", "arabic": "".join(map(chr, range(0x660, 0x66A))),
           "persian": "".join(map(chr, range(0x6F0, 0x6FA)))}
_GLUE = [".", ",", ":", ";", "!", "?", "%", "\u060c", "\u061f"]  # glued to the end of a word
_ALONE = ["-", "\u2013", "/", "+", "*", "&", "=", "#", "\u2022"]  # standing alone between words
_WRAP = [("(", ")"), ("\u00ab", "\u00bb"), ("\"", "\""), ("[", "]")]


def _number(rng: random.Random, latin: bool) -> str:
    fam = "ascii" if latin or rng.random() < 0.6 else rng.choice(["arabic", "persian"])
    d = _DIGITS[fam]
    n = "".join(rng.choice(d) for _ in range(rng.randint(1, 5)))
    r = rng.random()
    if r < 0.2:
        n += rng.choice([".", ",", "/", ":"]) + "".join(rng.choice(d) for _ in range(rng.randint(1, 3)))
    return n


def _latin_run(rng: random.Random, eng: list[str]) -> list[str]:
    out = []
    for _ in range(rng.randint(1, 5)):
        r = rng.random()
        out.append(_number(rng, True) if r < 0.2 else rng.choice(eng).strip(".,;:()\"'"))
    out = [w for w in out if w]
    if out and rng.random() < 0.3:
        out[-1] += rng.choice(_GLUE)
    if out and rng.random() < 0.08:
        a, b = rng.choice(_WRAP)
        out[0], out[-1] = a + out[0], out[-1] + b
    return out


def mixed_strips(words, seed: int, n: int) -> list[str]:
    """Strips of real RTL UDHR words (Arabic, Persian, Urdu, Hebrew) with Latin runs, numbers and punctuation."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lang = rng.choice(["arb", "pes", "urd", "heb"])
        parts: list[str] = []
        if rng.random() < 0.4:  # a left-to-right start: the paragraph is left to right
            parts += _latin_run(rng, words["eng"])
        for _ in range(rng.randint(3, 60)):
            r = rng.random()
            if r < 0.7:
                w = rng.choice(words[lang])
                if rng.random() < 0.08:
                    w += rng.choice(_GLUE)
                parts.append(w)
            elif r < 0.85:
                parts += _latin_run(rng, words["eng"])
            elif r < 0.95:
                parts.append(_number(rng, False))
            else:
                parts.append(rng.choice(_ALONE))
        if rng.random() < 0.4:  # ends with a Latin run
            parts += _latin_run(rng, words["eng"])
        text = ""
        for k, p in enumerate(parts):
            text += p if k == 0 else rng.choice([" "] * 12 + ["  "]) + p
        out.append(rng.choice(["", "", "", " "]) + text + rng.choice(["", "", "", " "]))
    return out


@pytest.mark.parametrize("seed,cfg", [(31, RenderConfig()), (32, RenderConfig(mode="binary")),
                                      (33, preset("pixar-pango"))], ids=["gray", "binary", "pixar-pango"])
def test_rtl_strips_with_latin_words_match_pango(seed, cfg, words):
    """Every strip, first and second pass, has Pango's pixels; in GoNoto most are composed (PixeloidSans has no
    Arabic or Hebrew glyphs: Pango draws those strips, and they must match too)."""
    fast, slow = TextRenderer(cfg), TextRenderer(cfg, shape_cache=False)
    texts = mixed_strips(words, seed, 80)
    g = gate()
    assert sum(g(t) >= MIX for t in texts) > 60  # the gate hands most to rtlmix.py
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    if cfg.font_file.startswith("GoNoto") or cfg.mode == "gray":
        stats = fast.cache_stats
        assert stats["composed"] > 80, stats  # composed, not only sent to Pango


def test_mixed_strips_are_composed_in_both_paragraph_directions(words):
    """Composed strips of both paragraph directions (a Latin word first: left to right), with Latin runs at level
    2 (right-to-left paragraph) and Arabic runs at level 1 (left-to-right paragraph) -- the layout's two halves."""
    fast, slow = TextRenderer(RenderConfig()), TextRenderer(RenderConfig(), shape_cache=False)
    rtl = "\u0627\u0644\u0625\u0639\u0644\u0627\u0646 Universal Declaration 1948 \u0644\u062d\u0642\u0648\u0642. " \
          "\u0627\u0644\u0625\u0646\u0633\u0627\u0646 United Nations, \u0639\u0627\u0645 \u0661\u0669\u0664\u0668"
    ltr = "Article 3: " + rtl + " end."
    for t in (rtl, ltr, rtl, ltr):
        before = fast.cache_stats["composed"]
        assert same(fast(t), slow(t)), t
        assert fast.cache_stats["composed"] == before + 1, t


def _layout_levels(renderer, text: str) -> np.ndarray:
    """Each character's bidi level as the renderer's own PangoLayout itemized ``text`` (its line's runs)."""
    from pixelkit.pipeline.render.pango import pango_abi as pa
    from pixelkit.pipeline.render.pango.fontconfig import address

    renderer._set(text)
    lay = pa.ffi.cast("void *", address(renderer._layout, __import__("pangocffi").ffi))
    assert pa.pango.pango_layout_get_line_count(lay) == 1
    data = text.encode("utf-8")
    per_byte = np.full(len(data), 255, np.uint8)
    node = pa.pango.pango_layout_get_line_readonly(lay, 0).runs
    while node != pa.ffi.NULL:
        item = pa.ffi.cast("PangoGlyphItem *", node.data).item
        per_byte[item.offset:item.offset + item.length] = item.analysis.level
        node = node.next
    starts = np.frombuffer(data, np.uint8)
    return per_byte[(starts & 0xC0) != 0x80]  # the first byte of each character


def test_the_levels_the_cache_reads_are_the_layouts(words):
    """``pango_abi.bidi_levels`` (Pango's own find_base_dir + log2vis) gives, character by character, the levels of
    the items the renderer's PangoLayout makes of the same strip -- both paragraph directions, brackets, numbers."""
    from pixelkit.pipeline.render.pango import pango_abi as pa

    r = TextRenderer(RenderConfig(), shape_cache=False)
    r("x")
    checked = 0
    for t in mixed_strips(words, 41, 60):
        t = t.strip()[:300].strip()
        if not t:
            continue
        lv = np.empty(len(t), np.uint8)
        assert pa.bidi_levels(t.encode("utf-8"), lv) >= 0
        assert np.array_equal(lv, _layout_levels(r, t)), t
        checked += 1
    assert checked > 50


_GAF_YE = "\u06af\u06d2"  # Urdu gaf, bari ye: the ye's tail reaches past its advance


_URDU = "\u0634\u0627\u062f\u06cc \u06a9\u0648 * \u062d\u0642 \u06c1\u0631"


@pytest.mark.parametrize("text", [f"work or + {_GAF_YE} {_URDU}? into", f"basis of {_GAF_YE}? right 12 family."])
def test_pieces_of_two_runs_whose_ink_meets_go_to_pango(text):
    """Urdu gaf, bari ye then "?" in a left-to-right paragraph: the letters at level 1, the stop at level 0, two runs
    whose ink shares a column. Cairo paints the second OVER the first where ``compose`` would add them with
    saturation, so the strip must go to Pango (``rtlmix.lay_out``); composing it anyway differs by a pixel."""
    fast, slow = TextRenderer(RenderConfig()), TextRenderer(RenderConfig(), shape_cache=False)
    for _ in range(2):
        assert same(fast(text), slow(text)), text


_LATIN_BITS = ["A", "T", "W", "j", "f", "y", "g", "Jy", "fj", "\u0192", "(j)", "j)", "\u00abf\u00bb", "7", "1.", "USA",
               "NATO", "iPhone", "J.K.", "x2"]  # letters whose ink overhangs their advance, brackets, stops


@pytest.mark.parametrize("glue", [False, True], ids=["spaced", "glued"])
def test_latin_bits_beside_rtl_letters_match_pango_in_gray(glue, words):
    """Latin letters that overhang their advance (j, f, y, g, W), brackets and stops, inserted between RTL UDHR words
    or glued to them, in gray (where a pixel painted by two runs shows): every strip as Pango draws it -- composed
    where no two runs ink one pixel, else drawn by Pango (``rtllayout.lay_out``)."""
    rng = random.Random(7 + glue)
    fast, slow = TextRenderer(RenderConfig()), TextRenderer(RenderConfig(), shape_cache=False)
    texts = []
    for lang in ("arb", "heb", "pes", "urd"):
        for _ in range(12):
            ws = [rng.choice(words[lang]) for _ in range(50)]
            for _ in range(10):
                i = rng.randrange(len(ws))
                if glue:
                    ws[i] = rng.choice([ws[i] + rng.choice(_LATIN_BITS), rng.choice(_LATIN_BITS) + ws[i]])
                else:
                    ws.insert(i, " ".join(rng.choice(_LATIN_BITS) for _ in range(rng.randint(1, 3))))
            texts.append(" ".join(ws))
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    assert fast.cache_stats["composed"] > 20, fast.cache_stats


def test_pieces_and_their_sorting_match_the_plain_definitions(words):
    """``rtlmix._pieces`` (a strip's pieces from its words, only the cut words sliced) and ``rtllayout.sort_pieces``
    (where each piece is looked up) against the plain reading of ``units``' rows, over random mixed strips (double
    spaces, glued stops and words cut where a level or run changes included)."""
    from pixelkit.pipeline.render.pango import pango_abi as pa
    from pixelkit.pipeline.render.pango.cjk import pair_table, runs
    from pixelkit.pipeline.render.pango.rtllayout import sort_pieces, units
    from pixelkit.pipeline.render.pango.rtlmix import _pieces
    from pixelkit.pipeline.render.pango.scriptgate import RTL_SCRIPTS

    g, pairs = gate(), pair_table()
    checked = cut_strips = 0
    for t in mixed_strips(words, 51, 150):
        code = g(t)
        if code < MIX:
            continue
        cps = np.frombuffer(t.encode("utf-32-le"), np.uint32).astype(np.int32)
        lv = np.empty(len(cps), np.uint8)
        if pa.bidi_levels(t.encode("utf-8"), lv) < 0:
            continue
        rs = np.empty(len(cps), np.int32)
        runs(cps, g.script_u8, pairs, rs)
        u = np.empty((len(cps), 6), np.int32)
        n, cut = units(cps, lv, rs, g.char_codes, u)
        if n < 0:
            continue
        u = u[:n]
        pu = u[u[:, 4] >= 0]
        plain = [t.split(" ")[w] if whole else t[a:b] for a, b, whole, w in pu[:, [0, 1, 4, 5]].tolist()]
        assert _pieces(t, u, cut) == plain, t
        script = RTL_SCRIPTS[code - MIX]
        at = np.empty((3, len(plain)), np.int64)
        na, nb, nc = sort_pieces(u, script, at)
        rtl, odd = pu[:, 3] == script, (pu[:, 2] & 1) == 1
        assert at[0, :na].tolist() == np.flatnonzero(rtl & odd).tolist()
        assert at[1, :nb].tolist() == np.flatnonzero(~rtl & ~odd).tolist()
        assert at[2, :nc].tolist() == [2 * k + int(odd[k]) for k in np.flatnonzero(rtl != odd).tolist()]
        checked += 1
        cut_strips += cut > 0
    assert checked > 100 and cut_strips > 20, (checked, cut_strips)
