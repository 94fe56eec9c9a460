"""Speed paths of the script gate and of text clean-up, each against what it replaced: the RTL gate's digit words
(``scriptgate.digit_tokens``) are the matches of the regex "[^ ]*[0-9][^ ]*" (which backtracked over every word from
every position in it) on random strings; its table agrees with its regexes on every BMP code point; its short
cuts (a strip's first blocked character that rules out both ways past it; a character ruling out RTL near the start)
give the verdict of its full scans on every BMP code point and on random mixed strings; and ``text.sanitize``'s
printable fast path skips no character it would change."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from pixelkit.pipeline.render.pango import brackets
import unicodedata

from pixelkit.pipeline.render.pango.scriptgate import (CJK, COMPOSABLE, MIX, RTL, RTL_SCRIPTS, WEAK, _DIGIT_WORD,
                                                      digit_tokens, gate)

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


def _full_gate(g, text: str) -> int:
    """The gate as it was before its short cuts and kernels: every blocked strip scanned by _rtl's table and by
    _cjk_bad (numpy), the scripts of a strip with none counted by numpy."""
    if text.isascii():
        return 1
    if g._blocked(text):
        f = int(np.bitwise_or.reduce(g._rtl_flags.take(np.frombuffer(text.encode("utf-16-le", "surrogatepass"),
                                                                     np.uint16))))
        rtl = 0
        if not f & 1:
            found = [i for i in range(len(RTL_SCRIPTS)) if f & (2 << i)]
            if len(found) == 1 and all(_DIGIT_WORD(w) for w in digit_tokens(text)):
                rtl = RTL + found[0]
        return rtl or _full_mix(g, text) or (0 if g._cjk_bad(text) else CJK)
    u = np.frombuffer(text.encode("utf-16-le"), np.uint16)  # two composable scripts? (numpy, not the kernel)
    scripts = set(g._lo.take(u).tolist()) - {255}
    return 1 if len(scripts) < 2 else 2 if brackets.agree(text) else 0  # (a run inside a word: cut there)


_MIX_BAD_BIDI = {"LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI", "S", "B"}


def _full_mix(g, text: str) -> int:
    """``_rtl_mix`` character by character (unicodedata and GLib's scripts, no table): one RTL script's letters,
    left-to-right letters of one composable script but Hangul, nothing else of a script of its own, no bidi
    control, separator or character past the BMP."""
    rtl, ltr = set(), set()
    for ch in text:
        cp = ord(ch)
        if cp >= 0x10000 or 0x1100 <= cp <= 0x11FF or 0xA960 <= cp <= 0xA97F or 0xD7B0 <= cp <= 0xD7FF \
                or cp in (0x302E, 0x302F, 0x200E, 0x200F, 0x061C):
            return 0
        sc, b = g.script[cp], unicodedata.bidirectional(ch)
        if b in _MIX_BAD_BIDI or (sc not in WEAK and sc not in RTL_SCRIPTS and (sc not in COMPOSABLE or sc == 18)):
            return 0
        if b in ("R", "AL") and sc in RTL_SCRIPTS:
            rtl.add(RTL_SCRIPTS.index(sc))
        if sc in COMPOSABLE:
            ltr.add(sc)
        if b == "L" and sc in COMPOSABLE:
            ltr.add(-1)
    return MIX + rtl.pop() if len(rtl) == 1 and -1 in ltr and len(ltr) == 2 else 0


def test_the_gates_first_blocked_character_short_cut_is_exact_on_every_bmp_character():
    """``_never[cp]``: a strip holding cp is neither an RTL strip nor a CJK one -- so gating it on sight changes no
    verdict. Each character alone, after a Hebrew word, and after Han (where _rtl / CJK would have said yes)."""
    g = gate()
    assert sum(g._never) > 5000 and g._never[ord("\u0915")] and g._never[ord("\u0e01")]  # Devanagari ka, Thai ko kai
    assert not g._never[ord("\u0627")] and not g._never[ord("\u4e00")] and not g._never[ord("a")]
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        for text in (ch, "\u05e9\u05dc\u05d5\u05dd " + ch, "\u4e16\u754c" + ch, "abc " + ch + " \u0645"):
            assert g(text) == _full_gate(g, text), (hex(cp), text)


@pytest.mark.parametrize("seed", range(3))
def test_the_gate_with_its_short_cuts_gives_the_full_scans_verdict_on_random_strips(seed):
    """Strips of 0-600 characters from Latin, Cyrillic, Greek, Hangul, Arabic, Hebrew, Devanagari, Thai, Han,
    digits, marks, brackets and controls, so that a character ruling out RTL falls before, at and after the
    _RTL_PROBE-th character, and strips of one and of several composable scripts."""
    g = gate()
    pool = ["a", "Z", " ", " ", "1", "\u0661", ",", "%", "(", "\u0627", "\u0644", "\u064e", "\u05d0", "\u05e9",
            "\u0915", "\u093e", "\u0e01", "\u4e00", "\u3042", "\u200f", "\u202b", "\U0001f600", "\u1100",
            "\u0436", "\u03b1", "\uac00", "\u0301", "\u00e9", "\u00bb"]
    rng = random.Random(seed)
    seen = set()
    for _ in range(3000):
        base = rng.choice(["\u0627\u0644", "\u05d0\u05e9", "\u4e00\u3042", "a", "\u0436\u0430", "\uac00\u03b1"])
        n = rng.randrange(0, 600)
        text = "".join(rng.choice(base) if rng.random() < 0.9 else rng.choice(pool) for _ in range(n))
        if rng.random() < 0.5:
            text = " ".join(text[i:i + 7] for i in range(0, len(text), 7))
        if rng.random() < 0.1:  # words of one script each (a run splitting no word: mixed strips the gate passes)
            text = " ".join(rng.choice(["\u0436\u0430", "ab", "\u03b1", "12", "(\u0436)", "a)", "\u00bb"])
                            for _ in range(rng.randrange(1, 80)))
        got = g(text)
        assert got == _full_gate(g, text), repr(text)
        seen.add(got)
    assert {0, 1, 2, CJK, RTL, RTL + 1, MIX, MIX + 1} <= seen  # every verdict met
