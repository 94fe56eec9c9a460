"""The shaping cache's words: what a word's characters say about where it may be cut and cached, and which words
of a strip go into a batch (``shapecache.py`` owns the cache; ``kernels.py`` reads the same codes from a batch's
bytes; ``mixbatch.py`` builds a mixed strip's batch)."""

from __future__ import annotations

import re
import unicodedata

from . import pango_abi as pa
from .kernels import FIRST, LEAD, STRONG
from .scriptgate import gate

_WEAK_SCRIPTS = frozenset({0, 1, 61})  # G_UNICODE_SCRIPT_COMMON, _INHERITED, _UNKNOWN
_ascii_letter = re.compile("[A-Za-z]").search
astral = re.compile("[\U00010000-\U0010ffff]").search  # a character past the BMP
# A word longer than this is never cached (its strips go to Pango): one cluster's shaping time grows with the square
# of its length, and a prefetched document is not capped (100,000 combining marks on a letter: 48 s in one batch)
LONG_WORD = 256


def word_code(word: str) -> int:
    """LEAD: the word starts on a character of its own (not a combining mark, joiner or variation selector,
    which attach to the space before it, or take a dotted circle at the start of a text); STRONG: it has a
    character of a script of its own (digits and punctuation are Common and take their neighbours' script);
    FIRST: its first character is one."""
    if word.isascii():  # the common case: ASCII letters are Latin, the rest of ASCII is Common
        return LEAD | STRONG | (FIRST if word[:1].isalpha() else 0) if _ascii_letter(word) else LEAD
    lead = unicodedata.category(word[0]) not in ("Mn", "Mc", "Me", "Cf") and not "\ufe00" <= word[0] <= "\ufe0f"
    table, get = gate().script, pa.glib.g_unichar_get_script
    scripts = [table[o] if o < 0x10000 else get(o) for o in map(ord, word)]
    strong = any(sc not in _WEAK_SCRIPTS for sc in scripts)
    first = scripts[0] not in _WEAK_SCRIPTS
    return (LEAD if lead else 0) | (STRONG if strong else 0) | (FIRST if first else 0)


def words_in(batch: list[str], start: int, end: int) -> list[tuple[str, int]]:
    """The words of a batch (each followed by one space) that start in bytes [start, end), with their space's
    byte offset."""
    out, at = [], 0
    for w in batch:
        space = at + len(w.encode("utf-8"))
        if start <= at < end:
            out.append((w, space))
        at = space + 1
    return out
