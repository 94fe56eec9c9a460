"""Hostile text through every rendering mode (PangoCairo gray / RGB / binary, PyGame gray / binary) and every layout
(text, pair, words, QA): what draws nothing is ``empty``, what cannot be drawn whole is ``too_wide``, never a strip
that silently shows less than it says."""

from __future__ import annotations

import numpy as np
import pytest

from pixelkit.pipeline.render import TextRenderer, preset

MODES = {
    "pango-gray": preset("pixel", max_patches=64),
    "pango-rgb": preset("pixel-rgb", max_patches=64),
    "pango-binary": preset("pixar-pango", max_patches=96),
    "pygame-gray": preset("pixar", mode="gray", antialias=True, max_patches=96),
    "pygame-binary": preset("pixar", max_patches=96),
}
# spaces of many kinds, zero-width and format characters (ZWSP, ZWNJ, ZWJ, BOM, word joiner, bidi controls, an
# unbalanced RLO and PDF, soft hyphen, Mongolian vowel separator), controls that sanitising turns into spaces
BLANKS = {
    "spaces": " \u00a0\u2000\u2001\u2002\u2003\u2009\u202f\u205f\u3000 ",
    "zero-width": "\u200b\u200c\u200d\ufeff\u2060\u00ad\u180e",
    "bidi controls": "\u202e\u202c\u202c\u200e\u200f\u2067\u2069",
    "controls": "\x00\x01\t\x1f\x7f\x85\x9f\u2028\u2029",
    "hangul fillers": "\u3164\u3164 \u115f\u1160 \uffa0",  # "invisible" letters: blank in GoNoto, skipped by PyGame
}


@pytest.fixture(scope="module", params=list(MODES))
def r(request):
    return TextRenderer(MODES[request.param])


def _renders(r, blank: str, word: str) -> dict:
    return {"text": [r.render_text(blank)], "pair": [r.render_pair(blank, blank + " ")],
            "words": [r.render_words([blank, blank])], "qa": r.render_qa(word, blank)}


@pytest.mark.parametrize("kind", list(BLANKS))
def test_text_that_draws_nothing_is_empty_in_every_mode_and_layout(r, kind, udhr):
    """A text of only spaces of other kinds than U+0020, zero-width and format characters or Hangul fillers passed
    the renderer's ``str.strip`` check (ZWSP and bidi controls are not white space to Python) and became a blank strip
    (tofu boxes of the fillers under PixeloidSans through Pango) reported as
    a good render (a blank PNG from ``pixel-render text``, a blank labelled sample from ``pixel-render task``); the
    job's chunking already dropped such lines. Now every layout says ``empty``; with a real word in it, it draws."""
    blank = BLANKS[kind]
    word = udhr["rus"]["paragraphs"][0].split()[0]
    for layout, results in _renders(r, blank, word).items():
        assert [res.reason for res in results] == ["empty"], (layout, [res.ok for res in results])
    ok = r.render_text(blank + word + blank)
    assert ok.ok and ok.num_patches > 0
    ink = np.asarray(ok.pixels)[:, : ok.num_patches * r.cfg.pixels_per_patch]
    assert (ink != ink.max()).any()
    pair = r.render_pair(blank, word)  # one blank side of a pair stays allowed: the other draws
    assert pair.ok and pair.text.endswith(word)


def test_a_pair_or_question_whose_first_cluster_fills_half_the_strip_is_too_wide(r, udhr):
    """A pair's first text gets at most half the strip; when its first character cluster alone was wider (a long
    emoji ZWJ sequence), it was cut to nothing and the strip showed a blank text, the SEP patch and the second text,
    flagged only as ``truncated``: the pair the label belongs to was not on it. The same for a QA question. Now
    both are ``too_wide``; a second text that loses its first words keeps the usual truncation."""
    sentence = udhr["eng"]["paragraphs"][0]
    cluster = "\u200d".join(["\U0001F468"] * 150)  # one grapheme cluster wider than half of every strip here
    assert r.measure(cluster) > r.cfg.width // 2
    assert r.render_pair(cluster, sentence).reason == "too_wide"
    assert r.render_pair(sentence, cluster).reason == "too_wide"
    assert [w.reason for w in r.render_qa(cluster, sentence)] == ["too_wide"]
    long_b = r.render_pair(sentence[:40], sentence * 4)
    assert long_b.ok and long_b.truncated and long_b.text.startswith(sentence[:40])


def test_pixel_render_text_says_when_the_pygame_backend_drew_text_unshaped(tmp_path, udhr, capsys, caplog):
    """``pixel-render text`` printed only tofu and truncation: Arabic through ``--backend pygame`` (GoNoto has it,
    so no tofu) came out left to right and unjoined with nothing to say so. Its line now holds ``unshaped_chars``
    and a warning names ``--backend pangocairo``; the PangoCairo line is as before."""
    import json
    import logging

    from pixelkit.pipeline.cli import main as render_main

    arabic = udhr["arb"]["paragraphs"][0][:60]
    with caplog.at_level(logging.WARNING, logger="pixel-render"):
        assert render_main(["text", arabic, "--backend", "pygame", "--out", str(tmp_path / "pg.png")]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["unshaped_chars"] > 20 and line["unknown_glyphs"] == 0
    assert any("--backend pangocairo" in r.getMessage() for r in caplog.records)
    assert render_main(["text", arabic, "--out", str(tmp_path / "pc.png")]) == 0
    assert "unshaped_chars" not in json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_a_qa_context_holding_a_cluster_no_window_can_hold_is_too_wide(r, udhr):
    """A character cluster wider than a QA window's room in the middle of the context (a long emoji ZWJ
    sequence): every window after the first stopped before it, the stride restart made them repeat the same few
    characters (8 windows ending at the same offset) and the context after it was never drawn, with nothing to
    tell -- every window but the last is ``truncated`` anyway. Now the record is ``too_wide``; a long context
    without one still advances window by window to its end."""
    sentence = udhr["eng"]["paragraphs"][0]
    cluster = "\u200d".join(["\U0001F468"] * 150)
    assert [w.reason for w in r.render_qa("Who?", f"{sentence} {cluster} {sentence * 3}", stride=8)] == ["too_wide"]
    windows = r.render_qa("Who?", sentence * 6, stride=8)
    spans = [w.context_span for w in windows]
    assert len(windows) > 1 and all(w.ok for w in windows) and spans[-1][1] == len(sentence * 6)
    assert all(b[0] > a[0] and b[1] > a[1] for a, b in zip(spans, spans[1:]))
