"""The shaping cache's first pass (pipeline/render/pango/adopt.py): a strip whose words are nearly all new is left
to Pango before any shaping, its new words are read from the layout Pango drew it with, and a later strip holding
them is composed without shaping them again -- always with Pango's exact pixels.

Real text: the whole UDHR in Korean, Russian (with English names), Amharic and Greek from ../shared/data (the
bundled excerpt is too short for strips of new words), every strip rendered through the cache and through Pango
alone (``shape_cache=False``) and compared (test_render_fastpath.same: pixels and everything else).
"""

from __future__ import annotations

import pytest
from conftest import SHARED_DATA
from test_render_fastpath import _udhr_all, pair, same

from pixelkit.pipeline.render import RenderConfig
from pixelkit.pipeline.render.pango.adopt import composing_pays


needs_udhr = pytest.mark.skipif(not (SHARED_DATA / "udhr").is_dir(), reason="needs ../shared/data/udhr")


@pytest.fixture(scope="module")
def udhr_full() -> dict[str, str]:
    out: dict[str, str] = {}
    for lang, paras in _udhr_all():
        out.setdefault(lang, " ".join(paras))
    return out


def _cases(udhr, lang: str, names: list[str], fit):
    """(known, rare, mixed, noted): a strip of the language's first 100 words; a full strip of distinct words the
    first does not hold (with ``names``: Latin words inside it) -- all new when met; a strip of the first strip's
    words with every third one taken from the rare strip (all of them known or noted); the rare strip's words but
    its last (which has no space after it in Pango's layout)."""
    words = udhr[lang].split()
    known = words[:100]
    pool = [w for w in dict.fromkeys(words[100:]) if w not in set(known)]
    pool = pool[:40] + names + pool[40:]
    n = 50
    while fit(" ".join(pool[:n + 10])):
        n += 10
    rare = pool[:n]
    mixed = [rare[i // 3] if i % 3 == 2 else w for i, w in enumerate(known)]
    return " ".join(known), " ".join(rare), " ".join(mixed), set(rare[:-1])


@needs_udhr
@pytest.mark.parametrize("lang,names", [("ko", []), ("ru", ["United", "Nations", "Paris", "1948"])],
                         ids=["korean", "russian-with-latin"])
def test_a_strip_of_new_words_goes_to_pango_and_its_words_are_never_shaped_again(udhr_full, lang, names):
    fast, slow = pair(RenderConfig())
    known, rare, mixed, noted_words = _cases(udhr_full, lang, names, lambda t: slow.measure(t) <= slow.text_budget)
    start = dict(fast.cache_stats)  # (the renderer composed its start-up canary)

    assert same(fast(known), slow(known))
    st = dict(fast.cache_stats)
    assert st["composed"] == start["composed"] + 1 and st["declined"] == 0, st  # mostly new, composing pays

    out = fast(rare)  # nearly every word new: Pango draws it, nothing is shaped
    assert same(out, slow(rare)) and not out.truncated
    after = fast.cache_stats
    assert after["declined"] == st["declined"] + 1 and after["composed"] == st["composed"], after
    assert (after["batches"], after["words_shaped"]) == (st["batches"], st["words_shaped"]), after
    noted = after["noted"] - st["noted"]
    assert noted >= 0.9 * len(noted_words), (noted, len(noted_words))

    assert same(fast(mixed), slow(mixed))  # known and noted words: composed, cut from Pango's runs, none shaped
    last = fast.cache_stats
    assert last["composed"] == after["composed"] + 1, last
    assert (last["batches"], last["words_shaped"]) == (after["batches"], after["words_shaped"]), last
    cut = {w for w in mixed.split() if w in noted_words}
    assert last["from_layout"] - after["from_layout"] == len(cut), (last, len(cut))

    for t in (known, rare, mixed, rare):  # a second pass: every strip composed, Pango's pixels
        before = fast.cache_stats["composed"]
        assert same(fast(t), slow(t))
        assert fast.cache_stats["composed"] == before + 1, t[:80]


@needs_udhr
def test_udhr_strips_match_pango_whatever_the_first_pass_decides(udhr_full):
    """Real UDHR strips in Korean, Russian, Amharic and Greek, each language met fresh, then again: every strip
    with Pango's pixels, whichever way the cost model sent it; on the second meeting every strip is composed."""
    fast, slow = pair(RenderConfig())
    texts = []
    for lang in ("ko", "ru", "am", "el-monoton"):
        text = udhr_full[lang]
        texts += [text[i:i + 900] for i in range(0, min(len(text), 9000), 900)]
    for t in texts:
        assert same(fast(t), slow(t)), t[:80]
    before = fast.cache_stats["composed"]
    for t in texts:
        assert same(fast(t), slow(t)), t[:80]
    assert fast.cache_stats["composed"] - before >= 0.9 * len(texts), fast.cache_stats


def test_the_cost_model_composes_unless_nearly_every_word_is_new():
    """A full strip of ~200 words: composed with half of them new, left to Pango when all are; a strip of several
    scripts sooner (its batch costs more a word); a strip of known words always composed."""
    assert composing_pays(200, 100, 0) and composing_pays(200, 0, 100) and composing_pays(200, 0, 0)
    assert not composing_pays(200, 200, 0)
    assert composing_pays(160, 60, 0, mixed=True) and not composing_pays(160, 130, 0, mixed=True)
    assert composing_pays(1, 1, 0)  # a single word (word lists): composed as before
