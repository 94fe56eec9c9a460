"""The shaping cache's words: what a word's characters say about where it may be cut and cached, and which words
of a strip go into the batch that shapes its new words (``shapecache.py`` owns the cache; ``kernels.py`` reads the
same codes from a batch's bytes)."""

from __future__ import annotations

import re
import unicodedata
from itertools import compress

import numpy as np

from . import pango_abi as pa
from .kernels import FIRST, FOREIGN_WORD, LEAD, STRONG
from .scriptgate import gate

_WEAK_SCRIPTS = frozenset({0, 1, 61})  # G_UNICODE_SCRIPT_COMMON, _INHERITED, _UNKNOWN
_ascii_letter = re.compile("[A-Za-z]").search
astral = re.compile("[\U00010000-\U0010ffff]").search  # a character past the BMP


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


def mixed_batch(words: list[str], ids: list[int | None], rows: np.ndarray, weak: dict, strong, script,
                 char_codes: bytes):
    """The batch that shapes a mixed strip's missing words (``ids`` None; BMP text), and which of its words to cut.

    Pango's script iterator gives a digit or punctuation mark the script of the last character of a script of its
    own before it (at the strip's start: of the first one after it). A word that starts with its own script's
    character lands in that script's class wherever it stands; a word that starts with a digit or mark is put
    behind the words of the strip back to the last one holding a character of a script of its own (at the start:
    followed by the words up to the first such one), so that its leading characters resolve as in the strip. A
    cached digit or punctuation word is cut again the same way when its run's class has no copy of it
    (``weak``: (word, class) -> row). Every other word of the strip is left out: one batch shapes only what is
    new, not the whole strip (a word still cut in another class than its run's is settled by ``_measure_mixed``).
    """
    n = len(words)
    keep = bytearray(n)  # 1: in the batch
    seen: set[str] = set()
    at = np.array([-1 if i is None else i for i in ids], np.int64)
    row = rows[np.maximum(at, 0)]
    own = (row[:, 3] != 0) & (at > FOREIGN_WORD)  # cached words with a character of a script of their own
    cached_weak = ((row[:, 3] == 0) & (at > FOREIGN_WORD)).tolist()
    own, cls = own.tolist(), row[:, 2].tolist()
    last, lead = -1, -1  # the last word with a character of a script of its own; the first weak word before any
    for k in range(n):
        if own[k]:  # (most of a strip: a cached word of a script of its own is never cut, it only sets the run)
            if lead >= 0:
                keep[lead:k + 1] = b"\x01" * (k + 1 - lead)
                lead = -1
            last = k
            continue
        w = words[k]
        if ids[k] is None:
            has = strong(w) is not None
            cut = w not in seen
            starts_weak = cut and not (w and char_codes[ord(w[0])] & 2)
        else:
            has = own[k]
            cut = starts_weak = cached_weak[k] and w not in seen and (
                last < 0 or ids[last] is None or (w, cls[last]) not in weak)
        if cut:
            seen.add(w)
            keep[k] = 1
            if starts_weak:
                if last >= 0:
                    keep[last:k] = b"\x01" * (k - last)
                elif lead < 0:
                    lead = k
        if has:
            if lead >= 0:  # the weak words at the strip's start: followed by the first strong word
                keep[lead:k + 1] = b"\x01" * (k + 1 - lead)
                lead = -1
            last = k
    # Pieces of the batch that stand alone, each opened by a word that starts with a character of a script of its
    # own (what follows it in the piece resolves behind it), grouped by that script: a batch of one item per script
    # rather than one per switch (Pango shapes item by item); the piece that opens the strip stays first.
    segs: list[tuple[int, int, list[str]]] = []
    for k in compress(range(n), keep):
        w = words[k]
        o = ord(w[0]) if w else 0
        if o < 0x10000 and char_codes[o] & 2:
            segs.append((1, script[o], [w]))
        elif segs and keep[k - 1]:
            segs[-1][2].append(w)
        else:  # a stretch that opens with a weak word: only the strip's lead (see above), or a context word
            segs.append((int(k > 0), 0, [w]))
    segs.sort(key=lambda t: t[:2])
    batch = [w for _, _, seg in segs for w in seg]
    want = np.array([w in seen for w in batch], np.uint8)
    return batch, want
