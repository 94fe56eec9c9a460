"""The shaping cache's compiled word table (pango/wordtable.py) and the canvas's 8x8 block transpose
(pango/columns.py), each against the plain Python / numpy computation it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.render.pango.columns import canvas_columns
from pixelkit.pipeline.render.pango.wordtable import WordTable

WORDS = ["the", "The", "", "théâtre", "Москва", "東京", "1948", "(quick)", "a", "ab", "ba", "𝔘nicode", "—", "x" * 40]


def _bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), np.uint8)


def _ids(table: WordTable, text: str) -> list[int] | None:
    """The table's ids of ``text``'s words, None when it misses one (checking the -1s and their count agree)."""
    arr, missing = table.ids(_bytes(text))
    assert len(arr) == len(text.split(" ")) and missing == int((arr < 0).sum())
    return None if missing else arr.tolist()


def test_the_table_gives_the_ids_the_dict_gives_and_none_for_a_missing_word():
    rng = np.random.default_rng(0)
    ids = {w: i + 2 for i, w in enumerate(WORDS)}
    table = WordTable(slots=4, pool_bytes=4096)  # (grows on the way)
    first = " ".join(WORDS)
    table.add(_bytes(first), np.array([ids[w] for w in first.split(" ")], np.int32))
    for _ in range(200):
        text = " ".join(rng.choice(WORDS, rng.integers(1, 30)))  # "" words: double, leading, trailing spaces
        assert _ids(table, text) == [ids[w] for w in text.split(" ")]
    for text in ("the thé", "Москв", "the  lazy", "東京 東", "thee"):  # a prefix, an extension, a new word
        assert _ids(table, text) is None
    arr, missing = table.ids(_bytes("the lazy  dog"))
    assert arr.tolist() == [ids["the"], -1, ids[""], -1] and missing == 2


@pytest.mark.parametrize("slots,max_slots,pool", [(16, 16, 4096), (16, 16, 64), (4, 256, 4096)])
def test_a_full_table_grows_or_starts_over_and_never_gives_a_wrong_id(slots, max_slots, pool):
    table = WordTable(slots=slots, max_slots=max_slots, pool_bytes=pool)
    seen = {}
    for i in range(100):
        words = [f"w{i}", f"v{i % 7}", ""]
        ids = [i * 10 + 2, (i % 7) + 3, 0]
        table.add(_bytes(" ".join(words)), np.array(ids, np.int32))
        seen.update(zip(words, ids))
        got = _ids(table, " ".join(words))
        assert got is None or got == ids
        for w, want in seen.items():  # whatever it still holds, it holds right
            assert _ids(table, w) in (None, [want])
    assert table._used[1] <= max_slots // 2 and table._used[0] <= pool
    if max_slots > slots:  # grown, never cleared: it holds every word
        assert len(table._recs) == max_slots and all(_ids(table, w) == [i] for w, i in seen.items())
    table.clear()
    assert _ids(table, "w99") is None


def test_the_cache_reads_known_strips_from_the_table_with_the_same_pixels():
    """A strip of known words is looked up in the table (the dict is not asked), to the same result and pixels
    as the first time, when its words were looked up in the dict."""
    text = "The quick brown fox jumps over the lazy dog, 1948 times  -- twice."
    r = TextRenderer(RenderConfig())
    first = r(text).pixels.copy()
    cache = r._cache
    found = cache.lookup(text)
    assert found is not None
    assert _ids(cache._table, text) == [cache._ids[w] for w in text.split(" ")]
    cache._ids = {}  # the dict emptied: only the table can still know these words
    again = cache.lookup(text)
    assert again is not None and np.array_equal(again[0], found[0]) and again[1:3] == found[1:3]
    r._found_text = None
    assert np.array_equal(r(text).pixels, first)


@pytest.mark.parametrize("h,stride,width", [(16, 8464, 8464), (16, 8464, 8459), (8, 4232, 4232), (24, 64, 61),
                                            (12, 104, 100), (16, 16, 9), (32, 128, 120), (16, 48, 47)])
def test_block_transposed_columns_are_the_inverted_canvas(h, stride, width):
    rng = np.random.default_rng(h * width)
    for cut in (0, 1, 7, 8, 9, width // 2, width - 1, stride):
        raw = rng.integers(0, 256, (h, stride), dtype=np.uint8)
        raw[:, cut:] = 0
        raw[rng.integers(h), min(cut, width) - 1] = 255 if cut else 0  # ink in the last column it may reach
        out = np.empty((width, h), np.uint8)
        canvas_columns(raw, raw.view(np.uint64), width, out, stride)  # upto: ink may reach any column
        assert np.array_equal(out.T, np.invert(raw[:, :width]))


def test_adding_skips_the_words_the_table_gave_and_a_cache_reset_clears_the_table():
    table = WordTable(slots=64)
    table.add(_bytes("a b"), np.array([5, 6], np.int32))
    known, _ = table.ids(_bytes("a b c"))
    table.add(_bytes("a b c"), np.array([5, 6, 7], np.int32), known)
    assert _ids(table, "c b a") == [7, 6, 5] and table._used[1] == 3
    r = TextRenderer(RenderConfig())  # a cache that starts over every few strips: the table follows it
    r(" ".join(["warm", "up"]))
    r._cache.max_words = 40
    pango = TextRenderer(RenderConfig(), shape_cache=False)
    words = [f"word{i}" for i in range(30)]
    for i in range(8):
        text = " ".join(words[(7 * i) % 30:] + words[:(7 * i) % 30][:10])
        assert np.array_equal(r(text).pixels, pango(text).pixels)
        cache = r._cache
        got = _ids(cache._table, text)
        assert got is None or got == [cache._ids[w] for w in text.split(" ")]
    assert r._cache.stats["resets"] > 0
