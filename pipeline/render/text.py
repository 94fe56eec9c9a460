"""Pure text clean-up shared by every backend: what bad input becomes before it reaches a font engine."""

from __future__ import annotations

import re
import string
import unicodedata

# Length-preserving, so character offsets into the input stay valid (QA offset mappings rely on it):
# whitespace controls become a space (PIXEL replaces newlines with spaces), every other C0/C1 control,
# NUL included, becomes a space too and is counted; a lone surrogate becomes U+FFFD and is counted.
# Format characters (ZWJ, bidi marks) stay: they matter for shaping.
_SUSPECT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SPACE = {"\n", "\r", "\t", "\v", "\f", "\x85", "\u2028", "\u2029"}


def to_text(data: str | bytes) -> tuple[str, int]:
    """Decode bytes as UTF-8, replacing invalid sequences; return (text, number of replacements)."""
    if isinstance(data, str):
        return data, 0
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected str or bytes, got {type(data).__name__}")
    text = bytes(data).decode("utf-8", errors="replace")
    # U+FFFD already present in valid input is not a replacement; count only what decoding added.
    strict = bytes(data).decode("utf-8", errors="ignore")
    return text, text.count("\ufffd") - strict.count("\ufffd")


def sanitize(text: str) -> tuple[str, int]:
    """Return (clean text, number of characters replaced or dropped)."""
    # fast paths: most corpus text (every character _SUSPECT finds is unprintable to Python: Cc, Zl, Zp, Cs)
    if text.isprintable() or _SUSPECT.search(text) is None:
        return text, 0
    out = []
    changed = 0
    for ch in text:
        if ch in _SPACE:
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc":
            out.append(" ")
            changed += 1
        elif cat == "Cs":
            out.append("\ufffd")
            changed += 1
        else:
            out.append(ch)
    return "".join(out), changed


def prepare(data: str | bytes, cap: int) -> tuple[str, int, bool]:
    """Decode, sanitise and cap to ``cap`` characters: (text, replaced, capped)."""
    text, bad = to_text(data)
    text, changed = sanitize(text)
    capped = len(text) > cap
    if capped:
        text = text[:cap]
    return text, bad + changed, capped


_NOT_VOTING = str.maketrans("", "", string.whitespace + string.punctuation + string.digits)
_RTL_TYPES = frozenset({"R", "AL", "RLE", "RLO"})  # what Pango's unichar_direction calls RTL (strong, right)


def is_rtl(text: str) -> bool:
    """PIXEL's vote for a right-to-left text: after dropping ASCII whitespace, punctuation and digits, at least
    two of the first, middle and last characters are strong right-to-left. PIXEL lays a pair out with a
    right-to-left base direction when both of its texts pass."""
    t = text.translate(_NOT_VOTING)
    if not t:
        return False
    return sum(unicodedata.bidirectional(ch) in _RTL_TYPES for ch in (t[0], t[len(t) // 2], t[-1])) >= 2


# Joining or composing left-to-right letters: conjoining Hangul jamo, Mongolian and Phags-pa letters
_SHAPED_LTR = ((0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF), (0x1820, 0x18AA), (0xA840, 0xA873))


def needs_shaping(ch: str) -> bool:
    """Whether a renderer without a shaper or bidi (PyGame) draws ``ch`` otherwise than HarfBuzz and Pango do:
    right-to-left letters (drawn left to right in memory order, unjoined), combining marks (placed by their
    advance, not by the font's anchors: no conjuncts, no reordering, no stacking), joining or composing
    left-to-right letters (Mongolian, Phags-pa, conjoining Hangul jamo)."""
    if unicodedata.bidirectional(ch) in ("R", "AL") or unicodedata.category(ch) in ("Mn", "Mc", "Me"):
        return True
    cp = ord(ch)
    return any(a <= cp <= b for a, b in _SHAPED_LTR)


_NO_INK = frozenset(("Cc", "Cf", "Zs", "Zl", "Zp"))  # controls, format characters (ZWSP, joiners, BOM...), spaces
_MARKS_WITH_INK = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd")
# letters that are default-ignorable and drawn blank (GoNoto's glyphs for them are empty, PyGame skips them): the
# Hangul fillers, used as "invisible" names and padding
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def _inks(c: str) -> bool:
    return (unicodedata.category(c) not in _NO_INK and c not in _BLANK_LETTERS) or c in _MARKS_WITH_INK


def has_ink(text: str) -> bool:
    """Whether ``text`` has a character that draws something: a text of only spaces (of any kind), zero-width and
    format characters (ZWSP, ZWJ, BOM, bidi controls) or Hangul fillers renders a blank strip. Unassigned and
    private-use characters draw (tofu), and so do the prepended concatenation marks (Arabic number signs), although
    they are format characters."""
    text = text.strip()  # white space of every kind draws nothing (and strip() returns the text when none is there)
    return bool(text) and (_inks(text[0]) or any(map(_inks, text)))  # the common case: one look
