"""Mixed left-to-right strips with paired punctuation (pipeline/render/pango/brackets.py): composed run by run when
Pango's script iterator cuts the same runs with its pairs as without them, with exactly Pango's pixels, first and
second pass (every test renders the same input through the cache and through Pango alone and compares all of it).
"""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import pytest
from conftest import SHARED_DATA
from test_render_fastpath import pair, same

from pixelkit.pipeline.render import RenderConfig, preset
from pixelkit.pipeline.render.pango import brackets
from pixelkit.pipeline.render.pango.scriptruns import PAIRED, pair_table, runs
from pixelkit.pipeline.render.pango.scriptgate import gate

# ASCII and typographic pairs (Pango's list), marks that are not in it (U+201E, U+00BF), a lone ASCII quote
_OPEN = ["(", "[", "{", "<", "\u00ab", "\u2018", "\u201c", "\u2039", "\u27e8", "\uff08"]
_CLOSE = [")", "]", "}", ">", "\u00bb", "\u2019", "\u201d", "\u203a", "\u27e9", "\uff09"]
_OTHER = ["\u201e", "\"", "'", "\u2014", "\u00bf", "\u2026"]


def _composed_paired(fast, texts: list[str]) -> int:
    """How many of ``texts`` (already rendered by ``fast``) mix scripts, hold a mark of Pango's pair list, and were
    composed on a second meeting: the strips this module lets through."""
    g, n = gate(), 0
    for t in texts:
        if g(t) == 2 and any(ord(c) in PAIRED for c in t):
            before = fast.cache_stats["composed"]
            fast(t)
            n += fast.cache_stats["composed"] > before
    return n


def test_agree_is_pangos_iterator_with_and_without_its_pairs():
    """``agree``: both runs of scriptruns.runs per character; a closing bracket after a word of another script than its
    opening one's disagrees, one in its opening one's script agrees (nested, unmatched, closing first)."""
    assert brackets.agree("Текст (друг текст) Latin")
    assert brackets.agree("(Latin) Текст") and brackets.agree("Текст (Latin") and brackets.agree("Latin) Текст")
    assert brackets.agree("Текст [a (b) c] Текст") is False  # ] closes [ opened in the Cyrillic run
    assert not brackets.agree("Текст (Latin) текст") and not brackets.agree("Latin (Текст) x")
    assert not brackets.agree("Текст \U0001F600 (текст)")  # past the BMP: never
    cps = np.frombuffer("Текст (Latin) x".encode("utf-32-le"), np.uint32).astype(np.int32)
    out = np.empty(len(cps), np.int32)
    runs(cps, np.array(gate().script, np.uint8), pair_table(), out)
    assert out[12] == 8  # the ")" is Cyrillic's (GUnicodeScript 8), its opening bracket's
    assert gate()("Текст (Latin) текст") == 0 and gate()("Текст (друг текст) Latin") == 2
    # a run that starts inside a word (its digits or quote in the Cyrillic run, its letters in a Latin one): cut there
    assert brackets.word_cuts("Текст 18.I.1919 текст").tolist() == [9]
    assert brackets.word_cuts("Текст „AD“, текст").tolist() == [7]
    assert brackets.word_cuts("Текст 1919 Latin, текст (текст) AD").tolist() == []
    assert brackets.word_cuts("Текст 1919 Latin, (текст) AD") is None  # "(" in the Latin run, ")" follows it
    assert brackets.word_cuts("Текст ( Latin ) текст") is None  # a lone closing one: agree says no
    assert brackets.word_cuts("Текст Latin ) текст").tolist() == []
    assert brackets.word_cuts("Текст ( Latin текст").tolist() == []
    assert brackets.word_cuts("Текст Latin \U0001F600") is None  # past the BMP


def _runs_are_pangos(fast, texts: list[str]) -> None:
    """``scriptruns.runs`` with Pango's pairs gives each character (but marks) the script of the item Pango puts it in."""
    fast._ensure()
    shape, script, pairs = fast._cache._shape, np.array(gate().script, np.uint8), pair_table()
    for t in texts:
        if any(ord(c) >= 0x10000 for c in t):
            continue
        cps = np.array([ord(c) for c in t], np.int32)
        ours = np.empty(len(cps), np.int32)
        runs(cps, script, pairs, ours)
        starts = np.cumsum([0] + [len(c.encode("utf-8")) for c in t])[:-1]
        theirs = np.full(len(cps), -1, np.int32)
        for it in shape(t.encode("utf-8")):
            theirs[(starts >= it.offset) & (starts < it.offset + it.length)] = it.script
        keep = [not unicodedata.category(c).startswith("M") for c in t]
        assert (ours[keep] == theirs[keep]).all(), t


def _bulgarian() -> list[str]:
    """The excerpt's text (~7,500 characters) as 1,000-character strips and as 400-character windows every 110 (all
    shorter than a strip's width: composed or drawn whole)."""
    from pixelkit.pipeline.readers.wikidump import iter_wikipedia

    text = " ".join(" ".join(r.text.split()) for r in iter_wikipedia(
        str(SHARED_DATA / "wikipedia" / "bgwiki-articles-excerpt.xml.bz2"), "bgwiki") if hasattr(r, "text"))
    return [text[i:i + 1000] for i in range(0, len(text), 1000)] + [text[i:i + 400] for i in range(0, len(text), 110)]


@pytest.mark.skipif(not (SHARED_DATA / "wikipedia").is_dir(), reason="needs ../shared/data/wikipedia")
def test_bulgarian_wikipedia_strips_with_brackets_compose_and_match_pango():
    """Real Cyrillic prose with Latin names and brackets, quotes, years in parentheses: Pango's pixels, and the
    strips with paired marks are composed now (the gate sent every one of them to Pango before)."""
    texts = _bulgarian()
    fast, slow = pair(RenderConfig())
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    _runs_are_pangos(fast, texts)
    assert _composed_paired(fast, texts) >= 12, fast.cache_stats  # (most hold a word such as "18.I.1919" or
    # "„AD“," whose digits or quote fall in a Cyrillic run, its letters in a Latin one: cut there, test_render_runsplit)


def _with_brackets(rng: random.Random, words: dict[str, list[str]], base: str, other: str) -> str:
    """Words of ``base`` with words of ``other``, and brackets: around a span of either script or across both,
    nested, unmatched, closing before opening, glued to a word or standing alone between two scripts."""
    parts: list[str] = []
    for _ in range(rng.randint(3, 90)):
        r = rng.random()
        parts.append(rng.choice(words[base]) if r < 0.75 else rng.choice(words[other]) if r < 0.9
                     else str(rng.randint(1, 3000)))
    for _ in range(rng.randint(1, 8)):
        k = rng.randrange(len(parts))
        i = rng.randrange(len(_OPEN))
        how = rng.random()
        if how < 0.35:  # a pair around a span (nested when spans overlap)
            j = rng.randint(k, min(len(parts) - 1, k + rng.randint(0, 6)))
            parts[k] = _OPEN[i] + parts[k]
            parts[j] = parts[j] + _CLOSE[i]
        elif how < 0.5:  # a lone opening or closing one
            parts[k] = parts[k] + _OPEN[i] if rng.random() < 0.5 else _CLOSE[i] + parts[k]
        elif how < 0.65:  # closing before opening
            j = rng.randint(k, min(len(parts) - 1, k + 4))
            parts[k] = parts[k] + _CLOSE[i]
            parts[j] = _OPEN[i] + parts[j]
        elif how < 0.8:  # standing alone between two words (of two scripts, often)
            parts.insert(k, rng.choice(_OPEN + _CLOSE))
        elif how < 0.9:  # a pair around one word of the other script, inside the base text
            parts.insert(k, _OPEN[i] + rng.choice(words[other]) + _CLOSE[i])
        else:  # marks not in Pango's pair list
            parts[k] = rng.choice(_OTHER) + parts[k] + rng.choice(_OTHER + [""])
    return " ".join(parts)


@pytest.mark.parametrize("seed,cfg", [(21, RenderConfig()), (22, RenderConfig()), (23, RenderConfig(mode="binary")),
                                      (24, preset("pixar-pango"))],
                         ids=["gray-21", "gray-22", "binary-23", "pixar-pango-24"])
def test_random_brackets_in_mixed_udhr_strips_match_pango(seed, cfg, udhr):
    """UDHR words of Cyrillic, Greek, Latin with diacritics, Ethiopic and English prose mixed two by two, with
    brackets placed at random: Pango's pixels on the first and second meeting, and many composed."""
    rng = random.Random(seed)
    words = {lang: " ".join(udhr[lang]["paragraphs"]).split() for lang in ("rus", "bul", "ell_monotonic", "vie",
                                                                           "amh", "eng")}
    texts = []
    for _ in range(150):
        base = rng.choice(["rus", "bul", "ell_monotonic", "amh", "eng", "vie"])
        texts.append(_with_brackets(rng, words, base, rng.choice([x for x in words if x != base])))
    fast, slow = pair(cfg)
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    _runs_are_pangos(fast, texts)
    agreeing = sum(gate()(t) == 2 and any(ord(c) in PAIRED for c in t) for t in texts)
    assert agreeing > 20 and len(texts) - agreeing > 20  # both kinds are met
    if "GoNoto" in cfg.font_file:  # PixeloidSans has no Cyrillic, Greek or Ethiopic: Pango draws its hex boxes
        assert _composed_paired(fast, texts) > 15, fast.cache_stats


def test_a_closing_bracket_that_kerns_with_a_word_of_another_script_is_left_to_pango():
    """GoNoto kerns "T)", "W]", "Y»"...: a closing bracket glued to a Latin word, its opening one in a Cyrillic or
    Greek run, is an item of its own in Pango's layout (the opening one's script), so composing the word as one
    Latin item would differ (it does: with ``word_cuts`` made to say yes, these strips fail). The gate
    sends those to Pango; the same brackets opened in the Latin run, or not opened at all, are composed."""
    fast, slow = pair(RenderConfig())
    g = gate()
    split, whole = [], []
    for o, c in zip(_OPEN, _CLOSE):
        for letter in "TWKYVwy":
            split += [f"Текст {o}текст Wa{letter}{c} текст", f"Λέξη {o}λέξη Wa{letter}{c} λέξη"]
            whole += [f"Latin word {o}Wa{letter}{c} текст", f"Текст текст Wa{letter}{c} текст",
                      f"Λέξη λέξη Wa{letter}{c} λέξη {o}"]
    for t in split + whole + split + whole:
        assert same(fast(t), slow(t)), t
    assert all(g(t) == 0 for t in split) and all(g(t) == 2 for t in whole)
    whole = [t for t in whole if "\u27e9" not in t]  # (the mathematical angle brackets: in another font of the set)
    assert _composed_paired(fast, whole) == len(whole), fast.cache_stats
