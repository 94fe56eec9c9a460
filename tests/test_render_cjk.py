"""Han, kana and mixed CJK strips composed token by token (pipeline/render/pango/cjk.py) -- always with exactly
Pango's pixels (``shape_cache=False`` renders the same input alone; any difference fails) -- and the per-font proof
they rest on (pipeline/render/pango/cjkcheck.py): re-derived for GoNoto, and shown to refuse a font whose kerning
ties two Han characters, where composing them one by one would indeed give other pixels than Pango's.

Real text: the whole UDHR in Chinese (simplified, traditional, Cantonese) and Japanese from ../shared/data (the
bundled excerpt otherwise), and randomized strips of its characters with Latin names, numbers, brackets of both
widths, spaces, combining marks, variation selectors and characters the font lacks pushed in.
"""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import pytest
from conftest import SHARED_DATA
from test_render_fastpath import _udhr_all, pair, same

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset
from pixelkit.pipeline.render.config import fonts_dir
from pixelkit.pipeline.render.pango import cjkcheck
from pixelkit.pipeline.render.pango import pango_abi as pa
from pixelkit.pipeline.render.pango.scriptruns import runs
from pixelkit.pipeline.render.pango.scriptgate import CJK, gate

HAS_UDHR = (SHARED_DATA / "udhr").is_dir()
LANGS = ("cmn_hans", "cmn_hant", "yue", "jpn")


@pytest.fixture(scope="module")
def cjk_text(udhr) -> dict[str, str]:
    if HAS_UDHR:
        out: dict[str, str] = {}
        wanted = {"zh-Hans": "cmn_hans", "zh": "cmn_hans", "zh-Hant": "cmn_hant", "yue": "yue", "ja": "jpn"}
        for f in ("cmn_hans", "cmn_hant", "yue", "jpn"):
            path = SHARED_DATA / "udhr" / "declaration" / f"{f}.html"
            if path.is_file():
                import re
                from html import unescape
                raw = path.read_text(encoding="utf-8")
                paras = [unescape(re.sub("<[^>]+>", "", p)).strip() for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
                out[f] = " ".join(" ".join(p.split()) for p in paras if p.strip())
        del wanted
        if out:
            return out
    return {lang: " ".join(udhr[lang]["paragraphs"]) for lang in ("cmn_hans", "jpn")}


def _strips(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def test_the_proof_is_the_manifests():
    """fonts/MANIFEST.json's ``cjk`` entry is what the check finds in the font file today."""
    res = cjkcheck.check_font(fonts_dir() / "GoNotoCurrent.ttf")
    assert res.eligible
    pinned = cjkcheck.verdict(fonts_dir() / "GoNotoCurrent.ttf")
    assert pinned.chars == res.chars
    assert 0x4E00 in res.chars and 0x3001 in res.chars and 0x300C in res.chars  # 一 、 「
    # GoNoto kerns kana pairs ('kern', Noto CJK's proportional kana): those are not proven, so kana runs are
    # cached as words; its combining voiced marks form ligatures with the kana before them ('ccmp')
    assert 0x3067 not in res.chars and 0x3099 not in res.chars


def _kerned_font(tmp_path) -> tuple[str, int, int]:
    """GoNoto cut down to some Han, kana, Latin and punctuation, with one kerning pair between two Han characters."""
    from fontTools import subset
    from fontTools.feaLib.builder import addOpenTypeFeaturesFromString
    from fontTools.ttLib import TTFont

    a, b = ord("人"), ord("权")
    text = "人权的承认世界自由正义和平基础日本語のすべてABCabc 0123456789,.()、。「」（）"
    opts = subset.Options()
    opts.layout_features = ["*"]
    font = subset.load_font(str(fonts_dir() / "GoNotoCurrent.ttf"), opts)
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=[ord(c) for c in text])
    sub.subset(font)
    cmap = font.getBestCmap()
    addOpenTypeFeaturesFromString(font, f"languagesystem DFLT dflt; languagesystem hani dflt;\n"
                                        f"feature kern {{ pos {cmap[a]} {cmap[b]} -400; }} kern;", tables=["GPOS"])
    path = tmp_path / "kerned.ttf"
    font.save(str(path))
    TTFont(str(path))  # it loads
    return str(path), a, b


def test_the_proof_refuses_a_kerned_pair_that_pango_applies(tmp_path):
    """A font kerning 人 against 权: the check refuses exactly those two; Pango shapes the pair otherwise than the
    two alone, so a strip composed from them one by one (the check bypassed) differs from Pango's; with the
    check, the strip is composed (人权 as one token) and identical."""
    path, a, b = _kerned_font(tmp_path)
    res = cjkcheck.check_font(path)
    assert res.eligible
    font_chars = {ord(c) for c in "人权的承认世界自由正义和平基础日本語、。「」（）"}
    assert font_chars - res.chars == {a, b}
    cfg = RenderConfig(font_file=path)
    fast, slow = pair(cfg)
    strip = "人权的承认、世界自由正义和平基础。人权" * 8
    assert slow.measure("人权") != slow.measure("人") + slow.measure("权")  # Pango applies the kerning
    before = fast.cache_stats["composed"]
    assert same(fast(strip), slow(strip))
    assert fast.cache_stats["composed"] == before + 1
    wrong = TextRenderer(cfg)  # the proof bypassed: every character taken as proven
    wrong._ensure()
    wrong._cache._cjk_init(res.chars | {a, b})
    assert not np.array_equal(wrong(strip).pixels, slow(strip).pixels)


@pytest.mark.parametrize("cfg", [RenderConfig(), RenderConfig(mode="binary"), preset("pixelgpt", mode="gray"),
                                 RenderConfig(dpi=96, font_size=10)],
                         ids=["gray", "binary", "pixelgpt", "other-geometry"])
def test_udhr_chinese_and_japanese_strips_compose_and_match_pango(cfg, cjk_text):
    """Every strip of the UDHR in Chinese and Japanese, on the first meeting and the second: Pango's pixels, and
    composed (the gate sends them to the CJK path, none to Pango unshaped)."""
    fast, slow = pair(cfg)
    start = dict(fast.cache_stats)
    texts = [t for lang, text in cjk_text.items() for t in _strips(text, 500)][:120]
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    st = fast.cache_stats
    assert st["gated"] == start["gated"], st
    assert st["composed"] - start["composed"] >= 0.9 * 2 * len(texts), st


def _pushed(text: str, rng: random.Random, odd: list[str]) -> str:
    out = []
    for ch in text:
        out.append(ch)
        if rng.random() < 0.03:
            out.append(rng.choice(odd))
    return "".join(out)


ODD = [" ", "  ", "United Nations", "Paris", "1948", "10 December 1948", "(UN)", "（联合国）", "「宣言」", "[1]",
       "\u3099", "\u309a", "\u0301", "\ufe00", "\u200b", "\u200d", "\u00a0", "\u3000", "ー", "，", "—", "…",
       "\u9fff", "\u4dbf", "\U00020000", "\u05e9\u05dc", "Москва", "한국어", "\u0915\u094d", "1/2", "½", "A-Z",
       "\u200e", "\u202b", "«»", "‘x’", "“y”", "<b>", "{1}", "ㄅㄆ", "ｱｲｳ", "①", "㍻"]


@pytest.mark.parametrize("seed", [41, 42, 43])
def test_randomized_cjk_strips_with_odd_characters_match_pango(seed, cjk_text):
    """Random spans of the UDHR text with names, numbers, brackets (ASCII, full width, CJK), marks, variation
    selectors, joiners, characters past the font, other scripts pushed in -- composed or sent to Pango, always
    Pango's pixels, first and second pass; and Pango's own items agree with ``scriptruns.runs`` on each."""
    rng = random.Random(seed)
    fast, slow = pair(RenderConfig())
    texts = []
    pool = list(cjk_text.values())
    for _ in range(60):
        src = rng.choice(pool)
        i = rng.randrange(max(1, len(src) - 600))
        t = _pushed(src[i:i + rng.randint(1, 600)], rng, ODD)
        texts.append(rng.choice(["", " ", "  "]) + t + rng.choice(["", " "]))
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    st = fast.cache_stats
    assert st["composed"] > 20, st
    # the script iterator: Pango's item scripts, character by character
    fast._ensure()
    shape, script = fast._cache._shape, np.array(gate().script, np.uint8)
    from pixelkit.pipeline.render.pango.scriptruns import pair_table
    pairs = pair_table()
    for t in texts:
        if any(ord(c) >= 0x10000 for c in t):
            continue
        data = t.encode("utf-8")
        cps = np.array([ord(c) for c in t], np.int32)
        ours = np.empty(len(cps), np.int32)
        runs(cps, script, pairs, ours)
        starts = np.cumsum([0] + [len(c.encode("utf-8")) for c in t])[:-1]
        theirs = np.empty(len(cps), np.int32)
        for it in shape(data):
            theirs[(starts >= it.offset) & (starts < it.offset + it.length)] = it.script
        strong = [gate()(t) == CJK and not unicodedata.category(c).startswith("M") for c in t]
        assert all(o == p for o, p, s in zip(ours.tolist(), theirs.tolist(), strong) if s), t


GLUED = ["A", "T", "W", "j", "f", "y", "g", "Jy", "fj", "ƒ", "(j)", "j)", "«f»", "“f”", "7", "1."]


@pytest.mark.parametrize("cfg", [RenderConfig(), RenderConfig(mode="binary")], ids=["gray", "binary"])
def test_latin_glued_to_han_and_kana_matches_pango(cfg, cjk_text):
    """Latin letters, brackets and digits glued to Han / kana (no space): Pango paints each run over the ones before
    it, the cache adds masks, so where a Latin glyph's ink shares a column with a Han glyph's (``中文A``: one pixel)
    the strip must go to Pango. Without ``cjk.measure``'s ink rule 119 of 600 such strips differed (gray)."""
    rng = random.Random(7)
    chars = [c for c in "".join(cjk_text.values()) if "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff"]
    fast, slow = pair(cfg)
    for _ in range(40):
        parts = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 5))) + rng.choice(GLUED) for _ in range(50)]
        t = rng.choice([" ", ""]).join(parts)
        assert same(fast(t), slow(t)), t
        assert same(fast(t), slow(t)), t  # second pass
    assert same(fast("中文A 字"), slow("中文A 字"))
    before = fast.cache_stats["composed"]
    assert same(fast("中文 A 字"), slow("中文 A 字"))  # a space between: no shared column, composed
    assert fast.cache_stats["composed"] > before


@pytest.mark.parametrize("text,composed", [
    ("人人生而自由，在尊严和权利上一律平等。", True),
    ("「日本国憲法」第1条 United Nations は 1948年 に採択された。", True),
    ("联合国大会 (General Assembly) 于1948年12月10日通过", True),
    ("  世界人权宣言  ", True),
    ("人類社会のすべての構成員", True),
    ("か\u3099き\u309a", True),  # kana with combining voiced marks: one token, its ligatures inside
    ("漢\u0301字", False),  # a mark after a Han character: Pango's
    ("漢\ufe00字", False),  # a variation selector: Pango's
    ("漢字 \u05e9\u05dc\u05d5\u05dd", False),  # right to left: Pango's
    ("漢字\u200e", False),  # a bidi mark
    ("𠀀漢字", False),  # past the BMP
    ("1948", False),  # no CJK at all: not this path
])
def test_the_cjk_path_takes_what_it_can(text, composed):
    fast, slow = pair(RenderConfig())
    before = fast.cache_stats["composed"]
    assert same(fast(text), slow(text))
    assert same(fast(text), slow(text))  # second pass
    if text != "1948":
        assert (fast.cache_stats["composed"] - before > 0) == composed, fast.cache_stats


def test_word_lists_pairs_and_qa_windows_match_pango(cjk_text):
    fast, slow = pair(RenderConfig())
    for text in cjk_text.values():
        for x in [(text[:200], text[200:400]), list(text[:300]), text[:300].split("，"), text * 3]:
            assert same(fast(x), slow(x)), type(x).__name__
        for a, b in zip(fast.render_qa(text[:40], text[:2000], stride=8),
                        slow.render_qa(text[:40], text[:2000], stride=8)):
            assert same(a, b)


def test_the_cache_starting_over_changes_nothing(cjk_text):
    fast, slow = pair(RenderConfig())
    fast._ensure()
    fast._cache.max_words = 300  # starts over many times within these strips
    texts = [t for text in cjk_text.values() for t in _strips(text, 400)][:40]
    for t in texts + texts:
        assert same(fast(t), slow(t))
    assert fast.cache_stats["resets"] > 0


def test_a_font_without_cjk_proof_composes_no_cjk(monkeypatch):
    """Without fontTools' verdict (all characters unproven) a Han strip is still Pango's pixels."""
    fast, slow = pair(RenderConfig())
    fast._ensure()
    fast._cache._cjk_init(frozenset())
    before = fast.cache_stats["composed"]
    t = "人人生而自由，在尊严和权利上一律平等。"
    assert same(fast(t), slow(t))
    assert fast.cache_stats["composed"] == before


def test_pango_abi_is_the_one_used():
    assert pa.SCALE == 1024


def test_proven_characters_shape_in_pairs_as_alone():
    """The proof cross-checked by Pango's own shaper on GoNoto: for random pairs of proven characters (Han, kana
    that are proven, CJK and full-width punctuation) and pairs of a proven character with a kana, a Latin letter,
    a digit or an ASCII mark, each character's glyphs and positions beside the other are those it has with a space
    after it in the same run (behind a Han anchor, so digits and punctuation take the script they take in text)."""
    r = TextRenderer(RenderConfig())
    r._ensure()
    shape = r._cache._shape
    proven = sorted(cjkcheck.verdict(fonts_dir() / "GoNotoCurrent.ttf").chars)
    others = [ord(c) for c in "のをはでいるすアイウカキーAVTaf01,.(「"]
    rng = random.Random(7)
    anchor = "一 ".encode("utf-8")

    def glyphs(text: str, start: int, end: int) -> list[tuple[int, ...]]:
        """The glyphs of bytes [start, end) of ``text`` (after the anchor), shaped as a strip would be."""
        out = []
        for it in shape(anchor + text.encode("utf-8")):
            # the attr word holds Pango's two flags and nothing else (its other bits were the allocation's, and
            # failed this test in CI: ('ー', '徽') compared 1570351105 to 7128065, both 1 in their low bits)
            assert not (it.glyphs[:, 4] & ~3).any(), it.glyphs
            for g, c in zip(it.glyphs.tolist(), it.clusters.tolist()):
                if len(anchor) + start <= c < len(anchor) + end:
                    out.append(tuple(g))
        return out

    for _ in range(3000):
        a = chr(rng.choice(proven))
        b = chr(rng.choice(proven if rng.random() < 0.5 else others))
        a, b = (a, b) if rng.random() < 0.5 else (b, a)
        na, nb = len(a.encode("utf-8")), len(b.encode("utf-8"))
        alone = glyphs(a + " " + b + " ", 0, na) + glyphs(a + " " + b + " ", na + 1, na + 1 + nb)
        assert glyphs(a + b, 0, na + nb) == alone, (a, b)
