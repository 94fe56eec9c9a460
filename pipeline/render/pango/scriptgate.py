"""Before any shaping: can the shaping cache compose this strip at all? (A few regular-expression scans.)

The cache composes a strip only when Pango would lay it out as one left-to-right item of a script HarfBuzz
shapes with its default shaper (see ``shapecache.py``). Two things rule that out from the characters alone:

* a character of a script the cache never takes: right-to-left scripts (Syriac, Thaana, N'Ko...; Arabic and
  Hebrew but in the strips ``_rtl`` or ``_rtl_mix`` pass), the stateful shapers (Indic, Thai, Lao, Tibetan, Myanmar, Khmer,
  USE scripts..., and Hangul's conjoining jamo and tone marks), and Yi; Han, kana and Bopomofo, whose text has
  no spaces to cut words at, go to ``cjk.py`` instead (``CJK`` below), which cuts them at characters;
* characters of two scripts of their own (Cyrillic with a Latin name, Greek with a Latin term) and a paired
  punctuation mark (brackets, quotes: Pango's pair list) that Pango's script iterator puts in
  another run than it would if the mark were not paired (``brackets.agree``: a closing mark takes the script of
  its opening one, which ``kernels.measure_mixed`` does not follow; where that is the script of the run it stands
  in anyway, as in "Текст (друг текст) Latin", the strip is composed);
* (not a reason: a run of Pango's script iterator that starts inside a word, "18.I.1919" or "„AD“," in Cyrillic
  prose, the digits or quote in the Cyrillic run, the letters in a Latin one: the cache cuts the word there,
  ``brackets.word_cuts``, whose positions the gate keeps in ``cuts`` for the look-up that asked).

``gate(text)`` is ``CJK`` for Han, kana or Bopomofo text with no character of another blocked script, jamo, bidi
control or character past the BMP (``cjk.py`` composes it token by token, or sends it to Pango), else 0 for such
strips, 2 for a mixture the cache may compose run by run (``measure_mixed``), 1
else (one script at most) -- and ``RTL + i`` for right-to-left text of ``RTL_SCRIPTS[i]`` (Arabic, Hebrew) that
the cache composes word by word in reverse order (see ``ScriptGate._rtl``), ``MIX + i`` for such text with words of
one composable left-to-right script (Latin names and numbers in Arabic prose: ``rtlmix.py``, ``ScriptGate._rtl_mix``).

Such a strip goes straight to Pango: its words are not shaped first (the issue's first pass shaped every new word
of a Russian, Arabic or Chinese strip, then handed the strip to Pango, which shaped it again). Anything the gate
lets through is still decided by the cache as before, so the gate only ever sends strips to Pango that the cache
would have sent there after shaping them. Scripts are GLib's (``g_unichar_get_script``), the ones Pango's script
iterator reads; digits, punctuation and marks (Common, Inherited) belong to no script of their own.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numba
import numpy as np

from . import brackets
from . import pango_abi as pa

# GUnicodeScript numbers: Common, Inherited, Unknown (no script of their own; they take their neighbours')
WEAK = frozenset({0, 1, 61})
# Scripts the cache may compose: HarfBuzz's default shaper, left to right, words cut at spaces -- Armenian,
# Cherokee, Coptic, Cyrillic, Deseret, Ethiopic, Georgian, Gothic, Greek, Latin, Ogham, Old Italic, Runic,
# Canadian Aboriginal (shapecache._DEFAULT_SHAPER_SCRIPTS without the weak scripts and Bopomofo, Han, Hiragana,
# Katakana, Yi).
COMPOSABLE = frozenset({3, 6, 7, 8, 9, 11, 12, 13, 14, 18, 25, 29, 30, 32, 40})
_HAN, _HANGUL = 17, 18
# Hangul is composable word by word when the strip holds no conjoining jamo and no tone mark: HarfBuzz's Hangul shaper
# (hb-ot-shaper-hangul.cc, preprocess_text) keeps state from one character to the next only to combine a syllable
# with the jamo or tone mark that follows it; a precomposed syllable followed by anything else is passed on as it
# is (or decomposed on its own when the font lacks it). Those characters send the strip to Pango.
_JAMO = "\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\u302e\u302f"
_JAMO_CHARS = [chr(c) for r in ((0x1100, 0x11ff), (0xa960, 0xa97f), (0xd7b0, 0xd7ff), (0x302e, 0x302f))
               for c in range(r[0], r[1] + 1)]
# Right-to-left strips the cache composes word by word (``shapecache.ShapeCache._lookup_rtl``): one of these
# scripts, returned by ``gate`` as RTL + its index here.
RTL_SCRIPTS = (2, 19)  # Arabic, Hebrew
RTL = 3
# Han, kana and Bopomofo text with left-to-right scripts the cache composes and no bidi control: ``cjk.py``
CJK = RTL + len(RTL_SCRIPTS)
# Right-to-left text of one of RTL_SCRIPTS with words of one composable left-to-right script (Latin names in Arabic
# prose): ``rtlmix.py``, returned as MIX + the RTL script's index
MIX = CJK + 1
_CJK_SCRIPTS = frozenset({5, 17, 20, 22})  # Bopomofo, Han, Hiragana, Katakana (BMP)
_BIDI_CONTROLS = "\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069"
# Digit words an RTL strip may hold: one family of digits, a separator (bidi CS) only between two digits.
_DIGIT_WORD = digit_word = re.compile("[0-9]+(?:[,./:][0-9]+)*|[\u0660-\u0669]+(?:[,./:][\u0660-\u0669]+)*"
                         "|[\u06f0-\u06f9]+(?:[,./:][\u06f0-\u06f9]+)*").fullmatch
_DIGITS = re.compile("[0-9\u0660-\u0669\u06f0-\u06f9]+").finditer


def digit_tokens(text: str):
    """The words (between spaces) of ``text`` that hold a digit, in order: the matches of "[^ ]*[0-9][^ ]*" (digits
    of the three families), found from the digits out instead -- that regex backtracks over every word from every
    position in it, ~140 us a full strip, most of an RTL strip's gate (``tests/test_render_fast_checks.py`` checks both
    give the same words)."""
    end = 0
    for m in _DIGITS(text):
        at = m.start()
        if at < end:  # another digit run of the word just given
            continue
        end = text.find(" ", at)
        end = len(text) if end < 0 else end
        yield text[text.rfind(" ", 0, at) + 1:end]
_PLANE0 = 0x10000
_RTL_PROBE = 256  # characters of a strip _rtl searches for a character that rules it out before its table pass
_SUPPLEMENTARY_BLOCKED = "\U00020000-\U0003ffff"  # Han extensions B-H (every other plane-1+ character: the cache)


@numba.njit(cache=True, nogil=True)
def _span(units: np.ndarray, table: np.ndarray) -> tuple[int, int]:
    """(least, greatest but 255) of ``table[u]`` over the UTF-16 ``units`` (greatest: 0 when all are 255)."""
    lo, hi = 255, 0
    for i in range(len(units)):
        s = table[units[i]]
        if s < lo:
            lo = s
        if s != 255 and s > hi:
            hi = s
    return lo, hi


@numba.njit(cache=True, nogil=True)
def _any_flags(units: np.ndarray, table: np.ndarray) -> int:
    """The bitwise OR of ``table[u]`` over the UTF-16 ``units``."""
    f = 0
    for i in range(len(units)):
        f |= table[units[i]]
    return f


def _table() -> list[int]:
    """GLib's script of every BMP code point (CJK ideographs and Hangul syllables by their block: ~0.2 s)."""
    get = pa.glib.g_unichar_get_script
    out = []
    for cp in range(_PLANE0):
        if 0x4E00 <= cp <= 0x9FFF:
            out.append(_HAN)
        elif 0xAC00 <= cp <= 0xD7A3:
            out.append(_HANGUL)
        elif 0xD800 <= cp <= 0xDFFF:
            out.append(61)
        else:
            out.append(get(cp))
    return out


def _ranges(table: list[int]) -> dict[int, list[str]]:
    """Script -> its BMP code points as regex class ranges (one pass over the table)."""
    out: dict[int, list[str]] = {}
    start = 0
    for cp in range(1, _PLANE0 + 1):
        if cp == _PLANE0 or table[cp] != table[start]:
            out.setdefault(table[start], []).append(
                f"\\u{start:04x}" if cp - 1 == start else f"\\u{start:04x}-\\u{cp - 1:04x}")
            start = cp
    return out


class ScriptGate:
    """``gate(text)``: 0 when the strip can not be composed (send it to Pango without shaping a word), 2 when it
    mixes scripts the cache may compose run by run, 1 else."""

    def __init__(self):
        t = _table()
        self._script = self.script = t  # GLib's script of every BMP code point (by block for CJK and Hangul)
        self.script_u8 = np.array(t, np.uint8)  # the same as an array (the kernels of cjk, brackets, mixbatch)
        self._ranges = _ranges(t)
        blocked = self._class(lambda s: s not in WEAK and s not in COMPOSABLE)
        self._blocked = re.compile(f"[{blocked}{_JAMO}{_SUPPLEMENTARY_BLOCKED}]").search
        cjk_bad = self._class(lambda s: s not in WEAK and s not in COMPOSABLE and s not in _CJK_SCRIPTS)
        self._cjk_bad = re.compile(f"[{cjk_bad}{_JAMO}{_BIDI_CONTROLS}\U00010000-\U0010ffff]").search
        # An RTL strip is composed when nothing in it can take a level of its own but numbers (see _rtl)
        rtl_bad = self._class(lambda s: s not in WEAK and s not in RTL_SCRIPTS)
        bidi = [unicodedata.bidirectional(chr(cp)) if not 0xD800 <= cp <= 0xDFFF else "" for cp in range(_PLANE0)]
        other = "".join(re.escape(chr(cp)) for cp in range(_PLANE0) if bidi[cp] in (
            "L", "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI", "S", "B")
            or (bidi[cp] in ("EN", "AN") and not _DIGIT_WORD(chr(cp))))
        self._rtl_bad = re.compile(f"[{rtl_bad}{other}\u200e\u200f\u061c\U00010000-\U0010ffff]").search
        self._rtl_has = [re.compile("[" + "".join(re.escape(chr(cp)) for cp in range(_PLANE0) if t[cp] == sc and bidi[cp]
                                                  in ("R", "AL")) + "]").search for sc in RTL_SCRIPTS]
        # the same two questions (and: any digit?) per UTF-16 unit, one table look-up each (``_rtl``): bit 0 a
        # character _rtl_bad finds (a surrogate: a character past the BMP), bit 1 + i one _rtl_has[i] finds, bit 7 a digit
        flags = np.zeros(_PLANE0, np.uint8)
        for cp in range(_PLANE0):
            b, sc = bidi[cp], t[cp]
            if (sc not in WEAK and sc not in RTL_SCRIPTS) or b in ("L", "LRE", "LRO", "RLE", "RLO", "PDF", "LRI",
                                                                   "RLI", "FSI", "PDI", "S", "B") \
                    or (b in ("EN", "AN") and not _DIGIT_WORD(chr(cp))) or cp in (0x200E, 0x200F, 0x061C):
                flags[cp] |= 1
            if b in ("R", "AL") and sc in RTL_SCRIPTS:
                flags[cp] |= 2 << RTL_SCRIPTS.index(sc)
        flags[0xD800:0xE000] |= 1
        flags[[ord(c) for c in "0123456789\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
               "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9"]] |= 128
        self._rtl_flags = flags
        # the same for _rtl_mix: bit 0 a character it refuses (a script neither weak, RTL nor composable but Hangul,
        # a bidi control, a segment or paragraph separator, past the BMP), bit 1 + i as above, bit 6 a strong L
        mix = np.zeros(_PLANE0, np.uint8)
        for cp in range(_PLANE0):
            b, sc = bidi[cp], t[cp]
            if (sc not in WEAK and sc not in RTL_SCRIPTS and (sc not in COMPOSABLE or sc == _HANGUL)) or b in (
                    "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI", "S", "B") or cp in (0x200E, 0x200F,
                                                                                                      0x061C):
                mix[cp] |= 1
            if b in ("R", "AL") and sc in RTL_SCRIPTS:
                mix[cp] |= 2 << RTL_SCRIPTS.index(sc)
            if b == "L" and sc in COMPOSABLE:
                mix[cp] |= 64
        mix[0xD800:0xE000] |= 1
        mix[[ord(c) for c in _JAMO_CHARS]] |= 1
        self._mix_flags = mix
        # per BMP code point: 1 when it rules out the gate's ways past a blocked character (_rtl: it is a
        # character _rtl_bad finds; _rtl_mix: one it refuses; CJK: one _cjk_bad finds), so that a strip whose first blocked character is one
        # of these (Indic, Thai, Tibetan, Myanmar, Khmer... letters) is gated at once: the full-strip scans of
        # _rtl cost ~25 us a strip just after Pango drew one (caches cold), ~1-2% of a gated strip
        fl = flags.tolist()
        never = bytearray(_PLANE0)
        for cp in range(_PLANE0):
            if fl[cp] & 1 and mix[cp] & 1 and not 0xD800 <= cp <= 0xDFFF and self._cjk_bad(chr(cp)):
                never[cp] = 1
        self._never = bytes(never)
        # search for a character of a composable script of its own (the shaping cache's mixed batches use it too)
        self.cuts: tuple[str, np.ndarray | None] = ("", None)  # (the last mixed strip, its brackets.word_cuts)
        self._strong = self.strong = re.compile(f"[{self._class(lambda s: s in COMPOSABLE)}]").search
        # per BMP code point (UTF-16 unit) its script if composable, else 255: a strip mixes composable scripts
        # when the least and the greatest (but 255) of its characters' differ
        self._lo = np.array([sc if sc in COMPOSABLE and not 0xD800 <= cp <= 0xDFFF else 255
                             for cp, sc in enumerate(t)], np.uint8)
        _span(np.zeros(1, np.uint16), self._lo), _any_flags(np.zeros(1, np.uint16), flags)  # compiled or loaded
        # now, not on a strip
        # per BMP code point, for the shaping cache's kernels: 1 it can start a word (no mark, format character or
        # variation selector, which attach to what stands before them), 2 it has a script of its own
        self.char_codes = np.array([(0 if unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me", "Cf")
                                     or 0xFE00 <= cp <= 0xFE0F else 1) | (0 if t[cp] in WEAK else 2)
                                    for cp in range(_PLANE0)], np.uint8)

    def _class(self, keep) -> str:
        """A regex character class (without brackets) of the BMP code points whose script passes ``keep``."""
        return "".join(r for script, ranges in self._ranges.items() if keep(script) for r in ranges)

    def __call__(self, text: str) -> int:
        if text.isascii():  # Latin letters and Common: one script at most
            return 1
        m = self._blocked(text)
        if m:
            cp = ord(text[m.start()])
            if cp >= _PLANE0 or self._never[cp]:  # (past the BMP: _rtl_bad and _cjk_bad find it too)
                return 0
            return self._rtl(text) or (self._rtl_mix(text) if self._cjk_bad(text) else CJK)  # (MIX holds RTL letters,
            # which _cjk_bad finds: a CJK strip skips _rtl_mix's scan)
        # two composable scripts? (a table look-up per UTF-16 unit, in one compiled loop: ~15 us a full strip
        # just after Pango drew one, where numpy's take / min / take / max took ~35; a regex class per script took
        # ~10 ms to compile, on the first strip of each script)
        lo, hi = _span(np.frombuffer(text.encode("utf-16-le"), np.uint16), self._lo)
        if lo == 255 or hi == lo:
            return 1
        cuts = brackets.word_cuts(text)
        if cuts is None:
            return 0
        self.cuts = (text, cuts)  # (read back by the shaping cache's look-up of this very strip: ``is``, not ==)
        return 2

    def _rtl(self, text: str) -> int:
        """RTL + i when ``text`` is right-to-left text of ``RTL_SCRIPTS[i]`` alone, else 0. Its paragraph is
        right-to-left (its first strong character is), and in it (UAX #9) every character is at level 1 but the
        digits, at level 2: there is no left-to-right character (bidi L), explicit embedding or isolate, segment or
        paragraph separator, nor a character of another script of its own; every number is a word of one family of
        digits (separators only between digits), so none of the rules that make a number's neighbours part of it
        (W4, W5: "1+2", "50%" after an Arabic letter) or its level depend on what stands before it. Each space is
        then at level 1, between two words whose levels do not depend on each other, and the line shows the words
        in reverse order."""
        # (_rtl_bad and _rtl_has as one table look-up per UTF-16 unit, compiled: ~12 us a full strip just after
        # Pango drew one, ~24 with numpy's take / reduce, ~30 with the regexes. A character that rules the strip
        # out near its start -- an Arabic strip with Latin names, which Pango draws -- is found first by _rtl_bad
        # on the strip's first _RTL_PROBE characters, ~3 us)
        if self._rtl_bad(text, 0, _RTL_PROBE):
            return 0
        f = _any_flags(np.frombuffer(text.encode("utf-16-le", "surrogatepass"), np.uint16), self._rtl_flags)
        if f & 1:
            return 0
        found = [i for i in range(len(RTL_SCRIPTS)) if f & (2 << i)]
        if len(found) != 1:
            return 0
        if f & 128:
            for word in digit_tokens(text):
                if not _DIGIT_WORD(word):
                    return 0
        return RTL + found[0]

    def _rtl_mix(self, text: str) -> int:
        """MIX + i when ``text`` holds right-to-left letters of ``RTL_SCRIPTS[i]`` (and of no other RTL script),
        left-to-right letters of one composable script (not Hangul), weak and neutral characters, and nothing else:
        no bidi control, separator or character past the BMP. Whether Pango lays it out as cached words is
        ``rtlmix.py``'s question, from Pango's own bidi levels."""
        units = np.frombuffer(text.encode("utf-16-le", "surrogatepass"), np.uint16)
        f = _any_flags(units, self._mix_flags)
        if f & 1 or not f & 64:
            return 0
        found = [i for i in range(len(RTL_SCRIPTS)) if f & (2 << i)]
        if len(found) != 1:
            return 0
        lo, hi = _span(units, self._lo)
        return MIX + found[0] if lo != 255 and lo == hi else 0


@functools.lru_cache(maxsize=1)
def gate() -> ScriptGate:
    """The process's gate (its tables are built once, on first use)."""
    return ScriptGate()
