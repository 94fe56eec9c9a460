"""The glyph path beyond ASCII (pipeline/render/pango/glyphcheck.py, glyphshape.py): Latin words with diacritics,
Cyrillic and Greek words whose glyph strings are written from learned tables are Pango's own, on the UDHR in many
languages and on random words made of the pairs GoNoto kerns; strips composed with them (single-script and mixed)
are Pango's pixels; and a verdict without its kerned pairs is caught."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
from conftest import SHARED_DATA, udhr_page_text
from glyphpath import written_equal_pangos

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset
from pixelkit.pipeline.render.config import fonts_dir
from pixelkit.pipeline.render.pango import glyphshape
from pixelkit.pipeline.render.pango.glyphcheck import check_font, manifest_entry, verdict

UDHR = SHARED_DATA / "udhr" / "declaration"
LANGS = {"vi": 25, "pl": 25, "cs": 25, "tr": 25, "is": 25, "de-1996": 25, "ru": 8, "bg": 8, "sr-Cyrl": 8, "uk": 8,
         "el-monoton": 14}
GONOTO = fonts_dir() / "GoNotoCurrent.ttf"


def _udhr(langs) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in sorted(UDHR.glob("*.html")):
        raw = f.read_text(encoding="utf-8")
        lang = re.search(r'lang="([^"]+)"', raw).group(1)
        if lang in langs and lang not in out:
            out[lang] = udhr_page_text(raw)
    return out


def _kerned_words(rng: random.Random, script: int, n: int) -> list[str]:
    """Random words walking GoNoto's kerned pairs of the script (each next unit one the previous kerns with)."""
    check = verdict(GONOTO)[script]
    pairs = {u: [*v, *(check.kerned_ligs or {}).get(u, ())] for u, v in check.kerned.items()}
    firsts = sorted(pairs)
    words = []
    for _ in range(n):
        u, w = rng.choice(firsts), []
        for _ in range(rng.randint(1, 6)):
            w.append(u)
            u = rng.choice(pairs[u]) if u in pairs else rng.choice(firsts)
        words.append("".join(w) + u)
    return words


def _class(r: TextRenderer, text: str, script: int):
    r(text[:300])
    cache = r._cache
    (key, cls), = [(k, c) for k, c in cache._class_of.items() if k[1] == script]
    if cls not in cache._glyph.seeded:
        cache._glyph.seed(cls, key, cache._shape, cache._cls_anchor[cls])
    return cache, key, cls


def test_manifest_holds_the_fonts_proof():
    """fonts/MANIFEST.json's ``glyphs`` verdicts are what glyphcheck derives from the font files now (GoNoto: every
    candidate of the three scripts, the five f-ligatures, thousands of kerned pairs)."""
    manifest = json.loads((fonts_dir() / "MANIFEST.json").read_text())["fonts"]
    for name in ("GoNotoCurrent.ttf", "PixeloidSans.ttf"):
        assert manifest[name]["glyphs"] == manifest_entry(check_font(fonts_dir() / name)), name
    g = manifest["GoNotoCurrent.ttf"]["glyphs"]
    assert g["latn"]["ligatures"] == ["ffi", "ffl", "ff", "fi", "fl"]
    assert {"ё", "й", "Ђ", "ї", "ґ"} <= set(g["cyrl"]["chars"]) and {"ά", "ώ", "ς"} <= set(g["grek"]["chars"])
    assert {"ą", "ř", "ğ", "ð", "ő", "ơ"} <= set(g["latn"]["chars"])
    assert "ệ" not in g["latn"]["chars"]  # (Latin Extended Additional: Vietnamese's stacked letters go to Pango)
    kerned = {t: sum(len(g[t]["after"][k]) for k in g[t]["kerned"].values()) for t in g}
    assert min(kerned.values()) > 1000, kerned


@pytest.mark.parametrize("lang", list(LANGS))
def test_written_glyph_strings_are_pangos(lang):
    """UDHR words of the language and random words of the script's kerned pairs: the written glyph string (glyph,
    advance, offsets, cluster flags, clusters) equals the one Pango's itemize + shape gives the same batch behind
    the class's anchor."""
    script = LANGS[lang]
    text = _udhr({lang})[lang]
    r = TextRenderer(RenderConfig())
    cache, key, cls = _class(r, text, script)
    shaper = cache._glyph
    words = text.split(" ")
    batches = [words[i:i + 25] for i in range(0, len(words), 25)]
    rng = random.Random(hash(lang) % 1000)
    batches += [_kerned_words(rng, script, 25) for _ in range(60)]
    written = written_equal_pangos(cache, key, cls, script, batches)
    assert written > 1000, written
    assert not shaper.off
    if lang == "vi":  # stacked diacritics (U+1EA0...) are not proven: those words are Pango's
        assert len(shaper.eligible(words, script)) < 0.8 * len(words)


def _strips(text: str, size: int = 1100, n: int = 6) -> list[str]:
    return [text[i:i + size] for i in range(0, min(len(text), n * size), size)]


@pytest.mark.parametrize("cfg", [RenderConfig(), RenderConfig(mode="binary"), preset("pixar-pango")],
                         ids=["gray", "binary", "pixar-pango"])
def test_composed_strips_are_pangos(cfg, monkeypatch):
    """UDHR strips of eleven languages, strips of random kerned-pair words, and Cyrillic and Greek strips with Latin
    names and numbers in them (mixed), both passes: the cache (most new words written) gives Pango's pixels."""
    monkeypatch.setattr(glyphshape, "SEED_AFTER", 300)
    texts = _udhr(set(LANGS) | {"en"})
    rng = random.Random(5)
    strips = [s for lang in LANGS for s in _strips(texts[lang])]
    strips += [" ".join(_kerned_words(rng, sc, 160)) for sc in (25, 8, 14) for _ in range(3)]
    names = re.findall(r"\b[A-Z][a-z]+\b|\b\d+\b", texts["en"])
    for lang in ("ru", "bg", "el-monoton"):
        words = texts[lang].split(" ")
        mixed = " ".join(w + (" " + rng.choice(names) if k % 5 == 4 else "") for k, w in enumerate(words))
        strips += _strips(mixed, n=4)
    cache, pango = TextRenderer(cfg), TextRenderer(cfg, shape_cache=False)
    for _ in range(2):
        for t in strips:
            a, b = cache(t), pango(t)
            assert np.array_equal(a.pixels, b.pixels) and a.num_patches == b.num_patches, t[:80]
    stats = cache._cache._glyph.stats
    assert stats["words"] > 0.5 * cache.cache_stats["words_shaped"], (stats, cache.cache_stats)
    assert not cache._cache._glyph.off


def test_a_verdict_without_its_kerning_is_caught():
    """The kerned pairs are what make the unkerned ones safe to take at their lone advance: with them dropped from
    GoNoto's Cyrillic verdict, Pango's own glyph strings contradict the tables and the path turns itself off."""
    checks = dict(verdict(GONOTO))
    c = checks[8]
    checks[8] = type(c)(c.chars, c.ligatures, c.forbidden, {}, {})
    shaper = glyphshape.GlyphShaper(checks)
    r = TextRenderer(RenderConfig())
    cache, key, _ = _class(r, _udhr({"ru"})["ru"], 8)
    text = ("Т. " + " ".join(_kerned_words(random.Random(1), 8, 300)) + " ").encode("utf-8")
    for item in cache._shape(text):
        if (item.font, item.script, item.language) == key:
            shaper.learn(0, item, np.frombuffer(text, np.uint8))
    assert 0 in shaper.off
