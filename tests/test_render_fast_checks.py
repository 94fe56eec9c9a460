"""Speed paths of the script gate and of text clean-up, each against what it replaced: the RTL gate's digit words
(``scriptgate.digit_tokens``) are the matches of the regex "[^ ]*[0-9][^ ]*" (which backtracked over every word from
every position in it) on random strings; its table agrees with its regexes on every BMP code point; and
``text.sanitize``'s printable fast path skips no character it would change."""

from __future__ import annotations

import random
import re

import pytest

from pixelkit.pipeline.render.pango.scriptgate import RTL, digit_tokens, gate

_OLD = re.compile("[^ ]*[0-9\u0660-\u0669\u06f0-\u06f9][^ ]*").finditer
_ALPHABET = " 07\u0660\u0669\u06f0\u06f5,./:-a\u05d0\u0627\u200f\n"


@pytest.mark.parametrize("seed", range(5))
def test_digit_tokens_are_the_old_regexs_matches(seed):
    rng = random.Random(seed)
    for _ in range(2000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 40)))
        assert list(digit_tokens(text)) == [m.group() for m in _OLD(text)], repr(text)


def test_rtl_strips_with_numbers_pass_or_fail_the_gate_on_their_digit_words():
    g = gate()
    assert g("\u05e9\u05dc\u05d5\u05dd 1948 \u05e2\u05d5\u05dc\u05dd") >= RTL  # a number word: composed
    assert g("\u05e9\u05dc\u05d5\u05dd 10% \u05e2\u05d5\u05dc\u05dd") == 0  # "50%": its level depends on neighbours
    assert g("\u05e9\u05dc\u05d5\u05dd \u05d01 \u05e2\u05d5\u05dc\u05dd") == 0  # a digit glued to a letter
    assert g("\u0633\u0644\u0627\u0645 \u0661\u0669\u0664\u0668 \u0639\u0627\u0644\u0645") >= RTL


def test_the_rtl_table_agrees_with_the_gates_regexes_on_every_bmp_character():
    """``_rtl`` reads one table per UTF-16 unit; bit for bit what ``_rtl_bad`` / ``_rtl_has`` / a digit say."""
    g = gate()
    for cp in range(0x10000):
        f = int(g._rtl_flags[cp])
        if 0xD800 <= cp <= 0xDFFF:
            assert f & 1  # half of a character past the BMP, which _rtl_bad finds
            continue
        ch = chr(cp)
        assert bool(f & 1) == bool(g._rtl_bad(ch)), hex(cp)
        for i, has in enumerate(g._rtl_has):
            assert bool(f & (2 << i)) == bool(has(ch)), hex(cp)
        assert bool(f & 128) == (ch in "0123456789" or "\u0660" <= ch <= "\u0669" or "\u06f0" <= ch <= "\u06f9"), hex(cp)
    assert g("\u05e9\u05dc\u05d5\u05dd \U0001f600 \u05e2\u05d5\u05dc\u05dd") == 0  # past the BMP: Pango's
    assert g("\u05e9\u05dc\u05d5\u05dd \u0633\u0644\u0627\u0645") == 0  # two RTL scripts


def test_sanitizes_printable_fast_path_skips_no_suspect_character():
    """``text.sanitize`` returns printable text as it is: sound only while every character its _SUSPECT pattern
    finds is unprintable to Python."""
    from pixelkit.pipeline.render.text import _SUSPECT, sanitize

    suspects = [chr(cp) for cp in range(0x10000) if _SUSPECT.fullmatch(chr(cp))]
    assert len(suspects) > 2000 and not any(ch.isprintable() for ch in suspects)
    assert sanitize("Привет\u2028мир\x07") == ("Привет мир ", 1)  # a line separator: a space, not counted
