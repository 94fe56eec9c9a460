"""The shaping cache (pipeline/render/pango/shapecache.py) gives exactly Pango's pixels, in every script and layout.

Every test renders the same real input twice -- through the cache and through Pango alone
(``shape_cache=False``) -- and compares everything the result carries.
"""

from __future__ import annotations

import json
import pickle
import re
from html import unescape

import numpy as np
import pytest
from conftest import SHARED_DATA

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset
from pixelkit.pipeline.render.config import fonts_dir
from pixelkit.pipeline.render.pango.spacecheck import check_font, manifest_entry


def strips(paragraphs: list[str], size: int = 1200) -> list[str]:
    text = " ".join(paragraphs)
    return [text[i:i + size] for i in range(0, len(text), size)]


def same(a, b) -> bool:
    return (np.array_equal(a.pixels, b.pixels) and a.num_patches == b.num_patches and a.text == b.text
            and a.unknown_glyphs == b.unknown_glyphs and a.truncated == b.truncated
            and a.sep_patches == b.sep_patches and a.word_starts == b.word_starts
            and a.offset_mapping == b.offset_mapping)


def pair(cfg: RenderConfig):
    return TextRenderer(cfg), TextRenderer(cfg, shape_cache=False)


def inputs_for(paragraphs: list[str]) -> list:
    """A language's strips, a sentence pair and a word list (PIXEL's three layouts)."""
    chunks = strips(paragraphs)
    first = chunks[0]
    return chunks + [(first[:300], first[300:600]), first[:400].split(" ")]


def test_wikitext_strips_compose_from_the_cache_and_match_pango(wikitext):
    fast, slow = pair(RenderConfig())
    texts = strips(wikitext)
    assert len(texts) > 30
    for t in texts:
        assert same(fast(t), slow(t))
    stats = fast.cache_stats
    # the cache really drew them: all but the strips of the Du Fu article that mix Han words into English lines
    assert stats["composed"] >= 0.75 * len(texts), stats
    assert slow.cache_stats is None


@pytest.mark.parametrize("cfg", [RenderConfig(), RenderConfig(mode="binary"), preset("pixar-pango"),
                                 preset("pixelgpt", mode="gray"), RenderConfig(dpi=96, font_size=10, pad_left=5)],
                         ids=["gray", "binary", "pixar-pango", "pixelgpt", "other-geometry"])
def test_every_bundled_script_and_layout_matches_pango(cfg, udhr, austen):
    fast, slow = pair(cfg)
    for lang, rec in sorted(udhr.items()):
        for x in inputs_for(rec["paragraphs"]):
            assert same(fast(x), slow(x)), (lang, type(x).__name__)
        q, ctx = rec["paragraphs"][0][:80], " ".join(rec["paragraphs"])[:3000]
        for a, b in zip(fast.render_qa(q, ctx, stride=8), slow.render_qa(q, ctx, stride=8)):
            assert same(a, b), (lang, "qa")
    long_text = " ".join(austen)  # far past the budget: truncation goes through the cache's widths
    assert fast(long_text).truncated and same(fast(long_text), slow(long_text))


def test_the_cache_takes_the_scripts_it_can(udhr):
    """Which UDHR strips are composed from cached words (all of them match Pango either way, see above)."""
    fast = TextRenderer(RenderConfig())
    composed = set()
    for lang, rec in udhr.items():
        before = fast.cache_stats["composed"]
        fast(strips(rec["paragraphs"])[0])
        if fast.cache_stats["composed"] > before:
            composed.add(lang)
    # right to left (arb, heb) word by word in reverse order, Hangul words (tests/test_render_rtl_cjk.py), Han and
    # kana token by token (tests/test_render_cjk.py)
    assert {"eng", "rus", "bul", "ell_monotonic", "vie", "amh", "arb", "heb", "kor", "jpn", "cmn_hans"} <= composed
    # HarfBuzz's syllabic and Thai shapers keep state across a buffer (hin, tam, tha): Pango draws them
    assert not composed & {"hin", "tam", "tha"}


def test_strips_the_cache_cannot_compose_go_to_pango_unshaped(udhr):
    """The script gate decides before any shaping: a strip of a script the cache never composes, or mixing scripts
    with paired punctuation, reaches Pango without a word of it shaped first (and so is never shaped twice)."""
    fast, slow = pair(RenderConfig())
    texts = [strips(udhr[lang]["paragraphs"])[0] for lang in ("hin", "tam", "tha")]
    texts.append(strips(udhr["rus"]["paragraphs"])[0][:300] + " (Universal Declaration) " + udhr["eng"]["paragraphs"][0][:200])
    texts.append(strips(udhr["arb"]["paragraphs"])[0][:300] + " Universal \u2067Declaration\u2069")  # an isolate
    texts.append(strips(udhr["kor"]["paragraphs"])[0][:300] + " \u1100\u1161")  # a conjoining jamo
    fast("warm")
    before = dict(fast.cache_stats)
    for t in texts:
        assert same(fast(t), slow(t))
    fast.prefetch(texts)  # the pipeline's prefetch skips them too
    after = fast.cache_stats
    assert after["gated"] - before["gated"] == len(texts)
    assert (after["batches"], after["words_shaped"], after["foreign"]) == \
        (before["batches"], before["words_shaped"], before["foreign"])


def test_the_gate_only_turns_away_strips_the_cache_would_not_compose(udhr, wikitext):
    """With the gate off (every strip offered to the cache, as before it) no strip is composed that the gated
    cache leaves to Pango -- but for Han and kana, turned away on purpose: with no spaces, a cached "word" is a
    whole sentence, shaped for a strip that rarely comes again."""
    texts = strips(wikitext)[:10] + [t for lang, rec in udhr.items() if lang not in ("cmn_hans", "jpn")
                                     for t in strips(rec["paragraphs"], 300)]
    gated, open_ = TextRenderer(RenderConfig()), TextRenderer(RenderConfig())
    open_._ensure()
    open_._cache._gate = lambda text: 1
    for t in texts:
        n_gated, n_open = gated.cache_stats["composed"], open_.cache_stats["composed"]
        assert same(gated(t), open_(t))
        if open_.cache_stats["composed"] > n_open:
            assert gated.cache_stats["composed"] > n_gated, t


def test_measure_matches_pango_for_every_prefix(wikitext):
    """Chunking packs documents with measure(): its widths must be Pango's, also for text cut mid-word."""
    fast, slow = pair(RenderConfig())
    text = wikitext[0][:600]
    for n in range(1, len(text), 7):
        assert fast.measure(text[:n]) == slow.measure(text[:n]), n


def test_cache_history_never_changes_a_strip(wikitext, udhr):
    """The same text renders to the same bytes whatever was rendered (and cached) before, and after the cache
    starts over when full."""
    texts = strips(wikitext)[:20] + [strips(rec["paragraphs"])[0] for rec in udhr.values()]
    fresh = [TextRenderer(RenderConfig())(t).pixels.tobytes() for t in texts]
    used = TextRenderer(RenderConfig())
    for t in reversed(texts):
        used(t)
    assert [used(t).pixels.tobytes() for t in texts] == fresh
    tiny = TextRenderer(RenderConfig())
    tiny._ensure()
    tiny._cache.max_words = 300
    assert [tiny(t).pixels.tobytes() for t in texts] == fresh
    assert tiny.cache_stats["resets"] > 0 and tiny.cache_stats["words"] <= 300


def test_word_lists_memoized_runs_match_pango_across_cache_resets(ewt_sentences, wikitext):
    """Word lists look each run up once: composed from the cache, or (punctuation alone, a word the cache cannot
    take) drawn by Pango once and kept as a mask. Neither, nor a cache that starts over between word lists (its
    word ids change), nor strips rendered in between, changes a pixel."""
    cfg = RenderConfig(max_patches=96)
    fast, slow = pair(cfg)
    fast._ensure()
    fast._cache.max_words = 150
    odd = [["(", "e.g.", ",", "“quoted”", ")", "--", "...", "שלום", "!"], ["αβγ", ";", "x"],
           ["a", "Pneumonoultramicroscopicsilicovolcanoconiosis-is-a-word-too-long-to-memoize", "b", "."]]
    for i, words in enumerate(ewt_sentences + odd + ewt_sentences[:5]):
        assert same(fast.render_words(words), slow.render_words(words)), words
        if i % 7 == 0:
            assert same(fast(wikitext[i % len(wikitext)]), slow(wikitext[i % len(wikitext)]))
    kinds = {entry[0] for entry in fast._runs.values() if entry is not None}
    assert kinds == {"c", "m"} and fast.cache_stats["resets"] > 0


def test_overlapping_runs_are_painted_over_as_cairo_does(wikitext):
    """A run drawn where another already left ink is painted OVER it (cairo's operator), not added."""
    fast, slow = pair(RenderConfig())
    for r in (fast, slow):
        r._ensure()
    a, b = wikitext[1][:200], wikitext[2][:200]
    for shift in (1, 3, 6):
        canvases = []
        for r in (fast, slow):
            r._clear()
            r._draw(a, 2)
            r._draw(b, 2 + shift)
            canvases.append(r._canvas())
        assert np.array_equal(*canvases), shift
    assert fast.cache_stats["composed"] >= 6


@pytest.mark.parametrize("text", [
    "Prices in \ue000 rose by 3 \U0010fffd percent",  # private-use characters: tofu, drawn as hex boxes
    "The ωc ratio and the α-helix",  # words that switch script inside
    "shalom שלום and salaam سلام inside English",  # right-to-left words in a left-to-right line
    "a \u0301 combining mark after a space, and \u200dzwj",  # marks that attach to the space before them
    "हिंदी में अनुस्वार और रेफ़ — कंप्यूटर",  # Devanagari marks that GoNoto positions across a space
    "   leading and trailing spaces   ", "double  spaces  between", "1948 – 1949 : 12.5 %",
])
def test_words_the_cache_cannot_take_fall_back_to_pango(text):
    fast, slow = pair(RenderConfig())
    a, b = fast(text), slow(text)
    assert same(a, b)
    if "\ue000" in text:
        assert a.unknown_glyphs == 2


def test_foreign_words_are_remembered():
    fast = TextRenderer(RenderConfig())
    fast("The \ue000c ratio")  # a private-use character: GoNoto has no glyph for it
    batches = fast.cache_stats["batches"]
    assert fast.cache_stats["foreign"] >= 1
    fast("The \ue000c ratio")
    assert fast.cache_stats["batches"] == batches  # no second shaping for a known foreign word
    fast("Текст (Latin) текст")  # a bracket Pango's pairs run otherwise than unpaired: the gate's, never shaped
    assert fast.cache_stats["batches"] == batches and fast.cache_stats["gated"] >= 1


def test_switches_and_pickling(monkeypatch):
    r = TextRenderer(RenderConfig(), shape_cache=False)
    assert pickle.loads(pickle.dumps(r)).shape_cache is False
    assert pickle.loads(pickle.dumps(TextRenderer(RenderConfig()))).shape_cache is True
    assert TextRenderer(preset("pixel-rgb")).shape_cache is False  # RGB (colour emoji) always goes to Pango
    monkeypatch.setenv("PIXELKIT_SHAPE_CACHE", "0")
    off = TextRenderer(RenderConfig())
    assert off.cache_stats is None


def test_pinned_fonts_verdicts_match_the_manifest():
    """fonts/MANIFEST.json's shape_cache entries are what spacecheck derives from the font files."""
    manifest = json.loads((fonts_dir() / "MANIFEST.json").read_text())["fonts"]
    for name, entry in manifest.items():
        assert entry["shape_cache"] == manifest_entry(check_font(fonts_dir() / name)), name
    assert manifest["GoNotoCurrent.ttf"]["shape_cache"]["risky_glyphs"]  # the Devanagari 'dist' rule


def test_a_font_that_kerns_against_the_space_gets_no_cache(tmp_path):
    """spacecheck finds a pair adjustment with the space; a renderer with that font draws through Pango."""
    from fontTools.feaLib.builder import addOpenTypeFeaturesFromString
    from fontTools.ttLib import TTFont

    font = TTFont(str(fonts_dir() / "PixeloidSans.ttf"))
    addOpenTypeFeaturesFromString(font, "feature kern { pos space A -300; } kern;")
    path = tmp_path / "KernedSpace.ttf"
    font.save(str(path))
    res = check_font(path)
    assert not res.eligible and any("kerns against the space" in f for f in res.findings)
    cfg = RenderConfig(font_file=str(path), font_size=8, dpi=80, pixels_per_patch=8)
    r = TextRenderer(cfg)
    assert r("A space before A").ok and r.cache_stats is None


def _udhr_all() -> list[tuple[str, list[str]]]:
    out = []
    for f in sorted((SHARED_DATA / "udhr" / "declaration").glob("*.html")):
        raw = f.read_text(encoding="utf-8")
        lang = re.search(r'lang="([^"]+)"', raw).group(1)
        paras = [unescape(re.sub("<[^>]+>", "", p)).strip() for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
        out.append((lang, [" ".join(p.split()) for p in paras if p.strip()]))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "udhr").is_dir(), reason="needs ../shared/data/udhr (the full UDHR set)")
def test_all_udhr_languages_match_pango():
    """532 languages, ~40 scripts: strips, pairs and word lists, one renderer (a cache holding every script)."""
    fast, slow = pair(RenderConfig())
    bad = []
    for lang, paras in _udhr_all():
        for x in inputs_for(paras)[-4:]:
            if not same(fast(x), slow(x)):
                bad.append((lang, type(x).__name__))
    assert not bad
    assert fast.cache_stats["composed"] > 1000


def test_a_cache_that_composes_otherwise_than_pango_is_switched_off(monkeypatch, caplog):
    """The canary at start-up: a cairo/Pango build compositing differently (here: a fault injected into the
    cache's compositing) turns the cache off, with a warning, and the renderer still draws Pango's pixels."""
    from pixelkit.pipeline.render.pango import shapecache

    real = shapecache.ShapeCache.compose

    def off_by_one(self, canvas, *args, **kwargs):
        real(self, canvas, *args, **kwargs)
        canvas[8, 40] ^= 1

    monkeypatch.setattr(shapecache.ShapeCache, "compose", off_by_one)
    with caplog.at_level("WARNING"):
        r = TextRenderer(RenderConfig())
        res = r("Typography for a canary")
    assert r.cache_stats is None and "does not reproduce Pango" in caplog.text
    assert np.array_equal(res.pixels, TextRenderer(RenderConfig(), shape_cache=False)("Typography for a canary").pixels)


def test_prefetch_shapes_a_documents_words_at_once_and_changes_nothing(wikitext):
    texts = strips(wikitext)[:10]
    fresh = [TextRenderer(RenderConfig())(t).pixels.tobytes() for t in texts]
    r = TextRenderer(RenderConfig())
    r.prefetch(texts)
    batches = r.cache_stats["batches"]
    assert [r(t).pixels.tobytes() for t in texts] == fresh
    assert r.cache_stats["batches"] == batches  # every word was there already
    TextRenderer(RenderConfig(), shape_cache=False).prefetch(texts)  # a no-op without a cache


def test_a_word_with_tofu_never_sets_a_class_line_height():
    """A class takes its line height from its anchor's layout; an anchor with a hex box (PixeloidSans has no yat)
    would make its line a pixel taller than the font's and shift every later strip of the class."""
    fast, slow = pair(preset("pixar-pango"))
    first = "\u0463\u0434\u0440\u043e \u04a9\u044b"  # the first Cyrillic this renderer meets, with two tofu
    assert slow(first).unknown_glyphs == 2
    later = "Все люди рождаются свободными и равными в своем достоинстве и правах."
    assert same(fast(first), slow(first))
    before = fast.cache_stats["composed"]
    assert same(fast(later), slow(later))
    assert fast.cache_stats["composed"] == before + 1  # the later strip was composed from the cache


def test_fontcheck_cli_reports_and_fails_on_an_unusable_font(tmp_path, capsys):
    from fontTools.feaLib.builder import addOpenTypeFeaturesFromString
    from fontTools.ttLib import TTFont

    from pixelkit.pipeline.cli import main

    main(["fontcheck", str(fonts_dir() / "PixeloidSans.ttf")])
    assert "words shape independently" in capsys.readouterr().out
    font = TTFont(str(fonts_dir() / "PixeloidSans.ttf"))
    addOpenTypeFeaturesFromString(font, "feature kern { pos space A -300; } kern;")
    font.save(str(tmp_path / "Kerned.ttf"))
    with pytest.raises(SystemExit) as e:
        main(["fontcheck", str(tmp_path / "Kerned.ttf")])
    assert e.value.code == 1 and "kerns against the space" in capsys.readouterr().out
