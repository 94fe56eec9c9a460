"""The word-list kernel (pipeline/render/pango/wordruns.py) gives exactly what the per-word loop of
``render_words`` gives: the same pixels, word starts, text, truncation flag, unknown glyph count and EOS patch --
on real UD English-EWT sentences (the bundled excerpt; the whole test split too when ../shared/data has it), at
strip lengths that truncate them, and on odd lists, in any order on one renderer."""

from __future__ import annotations

import random

import numpy as np
import pytest

from conftest import SHARED_DATA
from pixelkit.pipeline.render import RenderConfig, TextRenderer

EWT_TEST = SHARED_DATA / "ud" / "UD_English-EWT" / "en_ewt-ud-test.conllu"


def _same(a, b) -> bool:
    if a.ok != b.ok or a.reason != b.reason:
        return False
    if not a.ok:
        return True
    return (np.array_equal(a.pixels, b.pixels) and a.word_starts == b.word_starts and a.text == b.text
            and a.truncated == b.truncated and a.unknown_glyphs == b.unknown_glyphs
            and a.num_patches == b.num_patches and a.sep_patches == b.sep_patches
            and a.replaced_chars == b.replaced_chars)


def _compare(cfg: RenderConfig, lists: list[list[str]]) -> tuple[int, int]:
    """Render every list with the kernel and with the loop; (lists the kernel drew, lists truncated)."""
    kernel, loop = TextRenderer(cfg), TextRenderer(cfg, word_kernel=False)
    truncated = 0
    for words in lists:
        a, b = kernel.render_words(words), loop.render_words(words)
        assert _same(a, b), (cfg.max_patches, words[:8], a.word_starts, b.word_starts)
        truncated += bool(b.truncated)
    assert loop._word_runs is None
    return kernel._word_runs.lists, truncated


def _ewt_lists(ewt_sentences) -> list[list[str]]:
    if not EWT_TEST.is_file():
        return ewt_sentences
    from pixelkit.pipeline.tasks import LabelledRecord, read_records, resolve

    recs = read_records(str(EWT_TEST), resolve("ud-en_ewt-pos"), limit=700)
    return ewt_sentences + [list(r.words) for r in recs if isinstance(r, LabelledRecord)]


@pytest.mark.parametrize("patches", [256, 24, 10])
def test_the_kernel_draws_ud_sentences_as_the_loop_does(ewt_sentences, patches):
    lists = _ewt_lists(ewt_sentences)
    drawn, truncated = _compare(RenderConfig(max_patches=patches), lists)
    assert drawn >= 0.95 * len(lists)  # the kernel drew (nearly) all of them: the comparison is not vacuous
    if patches < 256:
        assert truncated > len(lists) // 4  # many lists stop before a word that does not fit


def test_binary_strips_match(ewt_sentences):
    drawn, _ = _compare(RenderConfig(max_patches=64, mode="binary"), ewt_sentences)
    assert drawn == len(ewt_sentences)


def test_odd_lists_in_any_order_on_one_renderer(ewt_sentences, udhr):
    """Lists the kernel leaves to the loop (a first word wider than the strip, a run over 48 characters, a capped
    word) between lists it draws, so a strip the loop inked everywhere is followed by the kernel's; words with
    spaces inside, empty and white-space words, punctuation and digits alone (runs Pango draws), unknown glyphs,
    control characters, Greek, Cyrillic, Hebrew and Arabic words."""
    words = {lang: " ".join(udhr[lang]["paragraphs"]).split() for lang in ("ell_monotonic", "rus", "heb", "arb")}
    odd = [
        ["x" * 400, "is", "too", "wide"],
        ["see", "https://example.org/a/rather/long/path/that/goes/on/and/on?x=1", "."],
        ["New York", "is", "big", "."],
        ["", "a", " ", "b", "  "],
        ["(", "1,234", ")", "--", "!", "?", "'s", "%"],
        ["tofu", "\U000e0100\U0001fbf9", "here"],
        ["tab\there", "nul\x00", "ok"],
        words["ell_monotonic"][:12], words["rus"][:12], words["heb"][:10], words["arb"][:10],
        words["rus"][:5] + ["and", "English"] + words["ell_monotonic"][:5],
    ]
    lists = ewt_sentences[:20] + odd
    rng = random.Random(7)
    for cfg in (RenderConfig(max_patches=48), RenderConfig(max_patches=48, max_chars=6)):
        order = lists * 2
        rng.shuffle(order)
        drawn, truncated = _compare(cfg, order)
        assert 0 < drawn < len(order) and truncated > 0  # both paths taken, in turns


def test_the_kernel_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("PIXELKIT_WORD_KERNEL", "0")
    r = TextRenderer(RenderConfig(max_patches=16))
    assert not r.word_kernel and r.render_words(["a", "b"]).word_starts == [0, 1]
    assert r._word_runs is None
