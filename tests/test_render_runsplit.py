"""Words cut where Pango's script iterator starts a run inside them (pipeline/render/pango/brackets.py ``word_cuts``,
``pieces``; kernels.measure_mixed ``joined``): "18.I.1919" or "„AD“," in Cyrillic prose lie in two items of Pango's
layout, each shaped alone, so the cache composes them as two pieces glued with no space. Every test renders the same
input through the cache and through Pango alone, first and second meeting, and compares all of it; two more show
that a wrong offset at the cut, or composing pieces whose ink overlaps across the cut, changes pixels.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import SHARED_DATA
from test_render_brackets import _bulgarian
from test_render_fastpath import pair, same

from pixelkit.pipeline.render import RenderConfig, preset
from pixelkit.pipeline.render.pango import brackets, kernels
from pixelkit.pipeline.render.pango.scriptgate import gate

_CFGS = [RenderConfig(), RenderConfig(mode="binary"), preset("pixar-pango")]
_IDS = ["gray", "binary", "pixar-pango"]
_CUT = "Текст 18.I.1919 текст „AD“, текст"


def _cut_composed(fast, texts: list[str]) -> int:
    """How many of ``texts`` (already rendered by ``fast``) have a word cut by a run and were composed on another
    meeting."""
    g, n = gate(), 0
    for t in texts:
        if g(t) == 2 and len(brackets.word_cuts(t)):
            before = fast.cache_stats["composed"]
            fast(t)
            n += fast.cache_stats["composed"] > before
    return n


def test_word_cuts_and_pieces():
    assert brackets.word_cuts(_CUT).tolist() == [9, 23]  # the "I" after "18.", the "A" after "„"
    words, joined = brackets.pieces(_CUT, brackets.word_cuts(_CUT))
    assert words == ["Текст", "18.", "I.1919", "текст", "„", "AD“,", "текст"]
    assert joined.tolist() == [0, 1, 0, 0, 1, 0, 0]
    assert brackets.word_cuts("Текст 1919 Latin текст").tolist() == []
    assert brackets.word_cuts("текстLatin2текст").tolist() == [5, 11]  # (the digit stays in the Latin run)
    assert brackets.word_cuts("Текст (Latin) текст") is None  # brackets that Pango's pairs run otherwise
    assert brackets.word_cuts("Текст Latin \U0001F600") is None  # past the BMP
    assert gate()(_CUT) == 2 and gate()("Текст (Latin) текст") == 0


@pytest.mark.skipif(not (SHARED_DATA / "wikipedia").is_dir(), reason="needs ../shared/data/wikipedia")
@pytest.mark.parametrize("cfg", _CFGS, ids=_IDS)
def test_bulgarian_wikipedia_words_cut_by_runs_compose_and_match_pango(cfg):
    """Real Cyrillic prose with dates such as "18.I.1919", quoted Latin names: Pango's pixels, and the strips holding
    such words are composed now (the gate sent each of them to Pango before)."""
    texts = _bulgarian()
    fast, slow = pair(cfg)
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    cut = sum(gate()(t) == 2 and len(brackets.word_cuts(t)) > 0 for t in texts)
    assert cut >= 10
    if "GoNoto" in cfg.font_file:  # (PixeloidSans has no Cyrillic: Pango draws its hex boxes)
        assert _cut_composed(fast, texts) >= cut - 2, fast.cache_stats


def _glued(rng: random.Random, words: dict[str, list[str]], base: str, other: str) -> str:
    """Words of ``base`` with words of ``other``, digits and punctuation, often glued with no space between: a
    word of one script straight after one of another, digits or a mark between them, a date with a Roman month."""
    parts: list[str] = []
    for _ in range(rng.randint(3, 80)):
        r = rng.random()
        w = rng.choice(words[base]) if r < 0.7 else rng.choice(words[other]) if r < 0.85 else str(rng.randint(1, 3000))
        if parts and rng.random() < 0.3:
            glue = rng.choice(["", "", "-", ".", "/", "1", "19.", "„", "'", "—", "…", ":"])
            parts[-1] += glue + w
        else:
            parts.append(w)
    if rng.random() < 0.5:
        date = f"{rng.randint(1, 31)}.{rng.choice('IVX')}.{rng.randint(1000, 2030)}"
        parts.insert(rng.randrange(len(parts)), date)
    return " ".join(parts)


@pytest.mark.parametrize("seed,cfg", [(31, _CFGS[0]), (32, _CFGS[0]), (33, _CFGS[1]), (34, _CFGS[2])],
                         ids=["gray-31", "gray-32", "binary-33", "pixar-pango-34"])
def test_random_glued_mixed_udhr_strips_match_pango(seed, cfg, udhr):
    """UDHR words of Cyrillic, Greek, Latin with diacritics, Ethiopic and English prose mixed two by two, glued
    at random with digits and punctuation: Pango's pixels on the first and second meeting, and many composed."""
    rng = random.Random(seed)
    words = {lang: " ".join(udhr[lang]["paragraphs"]).split() for lang in ("rus", "bul", "ell_monotonic", "vie",
                                                                           "amh", "eng")}
    texts = []
    for _ in range(120):
        base = rng.choice(list(words))
        texts.append(_glued(rng, words, base, rng.choice([x for x in words if x != base])))
    fast, slow = pair(cfg)
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    cut = sum(gate()(t) == 2 and len(brackets.word_cuts(t)) > 0 for t in texts)
    assert cut > 30
    glued = [w for t in texts for w in t.split(" ") if gate()(w) == 2 and len(brackets.word_cuts(w))]
    assert len(glued) > 50
    for i in range(0, 120, 30):  # PIXEL's other layouts: word lists (a run per word) and sentence pairs
        words, pair_ = glued[i:i + 30], (" ".join(glued[i:i + 15]), " ".join(glued[i + 15:i + 30]))
        for x in (words, pair_, words, pair_):
            assert same(fast(x), slow(x)), x
    if "GoNoto" in cfg.font_file:
        assert _cut_composed(fast, texts) > 15, fast.cache_stats


def test_letters_glued_across_scripts_match_pango_and_touching_ink_is_left_to_pango(monkeypatch):
    """Every pair of a Cyrillic or Greek letter and a Latin one glued ("дj", "jд"): cairo paints each of Pango's
    items on its own, OVER the ones before, so where the two pieces' ink shares columns adding their masks would
    differ; ``measure_mixed`` leaves those strips to Pango. With its ink check switched off (every mask read as
    empty) they do differ."""
    texts = []
    for a in "адждуфхцщъяДЛФЖУЯαβγδζλξπρφχψΔΛΦΨ":
        texts.append("Текст " + " ".join(f"{a}{b}" for b in "abfgjpqwyAJTVWY") + " текст")
        texts.append("Latin " + " ".join(f"{b}{a}" for b in "abfgjpqwyAJTVWY") + " word")
    fast, slow = pair(RenderConfig())
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    composed = _cut_composed(fast, texts)
    assert 0 < composed < len(texts), fast.cache_stats

    real = kernels.measure_mixed

    def no_ink_check(ids, words, space_px, group, gaps, joined, masks):
        blind = masks.copy()
        blind[:, 1] = 0
        return real(ids, words, space_px, group, gaps, joined, blind)

    monkeypatch.setattr(kernels, "measure_mixed", no_ink_check)
    fast = pair(RenderConfig())[0]
    assert sum(not same(fast(t), slow(t)) for t in texts + texts) > 10


@pytest.mark.skipif(not (SHARED_DATA / "wikipedia").is_dir(), reason="needs ../shared/data/wikipedia")
def test_a_cut_one_pixel_off_differs(monkeypatch):
    """The pieces' offsets are exactly Pango's: the same strips composed with one pixel between the pieces of each
    cut word differ (so the Bulgarian test above would fail on a wrong offset)."""
    real = kernels.measure_mixed

    def off_by_one(ids, words, space_px, group, gaps, joined, masks):
        width, cls, bad, run = real(ids, words, space_px, group, gaps, joined, masks)
        if len(joined) and cls >= 0:
            glued = np.flatnonzero(joined[:len(gaps)])
            gaps[glued] += 1
            width += len(glued)
        return width, cls, bad, run

    monkeypatch.setattr(kernels, "measure_mixed", off_by_one)
    texts = [t for t in _bulgarian() if gate()(t) == 2 and len(brackets.word_cuts(t))]
    fast, slow = pair(RenderConfig())
    assert sum(not same(fast(t), slow(t)) for t in texts + texts) >= len(texts)
