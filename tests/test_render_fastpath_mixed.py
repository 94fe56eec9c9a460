"""The shaping cache (pipeline/render/pango/shapecache.py) on strips that mix scripts: composed run by run with
exactly Pango's pixels (split from test_render_fastpath.py, whose helpers it uses: every test renders the same real
input through the cache and through Pango alone and compares everything the result carries).
"""

from __future__ import annotations

import pytest
from conftest import SHARED_DATA
from test_render_fastpath import pair, same

from pixelkit.pipeline.render import RenderConfig, preset


def _mixed_texts(udhr, seed: int, n: int) -> list[str]:
    """Strips of real words of two or three left-to-right scripts (Cyrillic, Greek, Latin with diacritics,
    Ethiopic, English) with numbers, in random order: a Latin name or year inside Cyrillic or Greek prose."""
    import random

    rng = random.Random(seed)
    words = {lang: " ".join(udhr[lang]["paragraphs"]).split() for lang in ("rus", "bul", "ell_monotonic", "vie", "amh", "eng")}
    base_langs = ["rus", "bul", "ell_monotonic", "amh", "vie"]
    out = []
    for _ in range(n):
        base = rng.choice(base_langs)
        other = rng.choice([x for x in words if x != base])
        parts = []
        for _ in range(rng.randint(5, 120)):
            r = rng.random()
            parts.append(rng.choice(words[base]) if r < 0.8 else rng.choice(words[other]) if r < 0.93
                         else str(rng.randint(1, 3000)) + rng.choice(["", ",", ".", " г.", "%"]))
        out.append(" ".join(parts))
    return out


@pytest.mark.parametrize("seed,cfg", [(11, RenderConfig()), (12, RenderConfig(mode="binary")), (13, preset("pixar-pango"))],
                         ids=["gray", "binary", "pixar-pango"])
def test_mixed_script_strips_compose_run_by_run_and_match_pango(seed, cfg, udhr):
    """Several scripts in one strip: composed run by run (kernels.measure_mixed) with exactly Pango's pixels, on
    their first and second meeting."""
    fast, slow = pair(cfg)
    texts = _mixed_texts(udhr, seed, 80)
    for t in texts + texts:
        assert same(fast(t), slow(t)), t
    if "GoNoto" in cfg.font_file:  # PixeloidSans has no Cyrillic, Greek or Ethiopic: Pango draws its hex boxes
        assert fast.cache_stats["composed"] > 40, fast.cache_stats


def test_a_mixed_strip_shapes_its_new_words_not_the_whole_strip():
    """A strip of several scripts meets the cache with a few new words: only those are shaped (a number behind the
    name that sets its run's script), not the whole strip again -- and it is composed with Pango's pixels."""
    fast, slow = pair(RenderConfig())
    base = ("Москва и Санкт-Петербург - крупнейшие города России, Moscow and Saint Petersburg 1147 года, "
            "а также Новосибирск и Екатеринбург")
    more = base + " новые слова Kazan 2024"
    for t in (base, more):
        before = dict(fast.cache_stats)
        assert same(fast(t), slow(t)), t
        st = fast.cache_stats
        assert st["composed"] == before["composed"] + 1, st
    assert st["batch_words"] - before["batch_words"] == 4, st  # новые, слова, Kazan, 2024 (of 22 words)


@pytest.mark.skipif(not (SHARED_DATA / "wikipedia").is_dir(), reason="needs ../shared/data/wikipedia")
def test_bulgarian_wikipedia_matches_pango():
    """Real Cyrillic prose with Latin names, numbers and brackets (the Bulgarian Wikipedia excerpt)."""
    from pixelkit.pipeline.readers.wikidump import iter_wikipedia

    text = " ".join(" ".join(r.text.split()) for r in iter_wikipedia(
        str(SHARED_DATA / "wikipedia" / "bgwiki-articles-excerpt.xml.bz2"), "bgwiki") if hasattr(r, "text"))
    texts = [text[i:i + 900] for i in range(0, min(len(text), 120_000), 900)]
    fast, slow = pair(RenderConfig())
    for t in texts + texts[:40]:
        assert same(fast(t), slow(t)), t
    assert fast.cache_stats["composed"] > 10


@pytest.mark.parametrize("seed,cfg", [(1, RenderConfig()), (2, RenderConfig()), (3, preset("pixar-pango")),
                                      (4, preset("pixar-pango"))], ids=["gray-1", "gray-2", "pixar-pango-3", "pixar-pango-4"])
def test_random_mixtures_of_real_words_and_odd_characters_match_pango(seed, cfg, udhr):
    """Strips of UDHR words of one language, now and then a word of another or one with a joiner, mark, symbol,
    BOM or private-use character pushed in: the cases that found a HarfBuzz buffer-wide state (a Tamil broken
    syllable's dotted circle depending on the one before it) and, with PixeloidSans, a class anchor whose hex
    boxes made its line taller than the font's."""
    import random

    rng = random.Random(seed)
    words = {lang: " ".join(rec["paragraphs"]).split() for lang, rec in udhr.items()}
    odd = ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u00a0", "\u0301",
           "\ufe0f", "\u20e3", "\u00a9", "\u2122", "#", "(", "\u00ab", "\u2014", "\ufb01", "\U0001F600", "\ue000",
           "\u0663", "\u00bd", "\u0130", "\u0131"]
    fast, slow = pair(cfg)
    langs = sorted(words)
    for _ in range(400):
        base = rng.choice(langs)
        parts = []
        for _ in range(rng.randint(1, 60)):
            r = rng.random()
            w = rng.choice(words[base] if r < 0.97 else words[rng.choice(langs)])
            if rng.random() < 0.05:
                i = rng.randint(0, len(w))
                w = w[:i] + rng.choice(odd) + w[i:]
            parts.append(w)
        text = rng.choice([" ", " ", "  "]).join(parts)
        assert same(fast(text), slow(text)), text
    assert fast.cache_stats["composed"] > 20

