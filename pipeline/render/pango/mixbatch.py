"""The batch that shapes a mixed strip's new words, and which of its words to cut (``ShapeCache._fill``), in two
compiled passes over the strip's code points and words instead of a Python loop over its words (~120 us of a full
Russian + Latin strip's first pass, ~25 here); the first pass also finds each word's first occurrence (a hash of its
code points), reads the words table and lists the cached digit and punctuation words the ``weak`` dict must be
asked about, where a dict, a Python loop and two more calls cost ~35 us a strip (``ab_mixed_batch.py``).

Pango's script iterator gives a digit or punctuation mark the script of the last character of a script of its own
before it (at the strip's start: of the first one after it). A word that starts with its own script's character
lands in that script's class wherever it stands; a word that starts with a digit or mark is put behind the words of
the strip back to the last one holding a character of a script of its own (at the start: followed by the words up
to the first such one), so that its leading characters resolve as in the strip. A cached digit or punctuation word
is cut again the same way when its run's class has no copy of it (``weak``: (word, class) -> row). Every other word
of the strip is left out: one batch shapes only what is new, not the whole strip (a word still cut in another class
than its run's is settled by ``_measure_mixed``). The pieces of the batch that stand alone, each opened by a word
that starts with a character of a script of its own, are grouped by that script (one item per script rather than
one per switch); the piece that opens the strip stays first.

``tests/test_render_mixed_batch.py`` checks every call a renderer makes over random real mixtures against the plain
Python loop this replaced (kept there as the reference).
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from .kernels import FOREIGN_WORD
from .scriptgate import gate


@functools.lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per BMP code point: 1 when it is a character of a script the cache composes (what ``gate().strong``
    searches for), its ``gate().char_codes``, and its script (``gate().script``)."""
    g = gate()
    return (g._lo != 255).astype(np.uint8), np.asarray(g.char_codes, np.uint8), g.script_u8


@numba.njit(cache=True, nogil=True)
def word_scripts(cps, strong, char_codes, script, has, first):
    """Per word of the code points ``cps`` (words separated by single spaces): ``has[k]`` 1 when it holds a
    character of a composable script, ``first[k]`` the script of its first character when that character has a
    script of its own, else -1 (the tables are per BMP code point)."""
    k = 0
    start = True
    has[:] = 0
    first[:] = -1
    for i in range(cps.shape[0]):
        c = cps[i]
        if c == 32:
            k += 1
            start = True
            continue
        if c >= 0x10000:  # (a cached word past the BMP: its characters count as none of a script of its own here,
            start = False  # as the loop this replaced read them; the missing words are BMP text)
            continue
        if start:
            if char_codes[c] & 2:
                first[k] = script[c]
            start = False
        if strong[c]:
            has[k] = 1


@numba.njit(cache=True, nogil=True)
def batch_words(missing, own, cached_weak, weak_ok, fo, has, first, keep, seen, idx, key):
    """The words of the batch: ``keep``/``seen`` (by first occurrence ``fo``) as the module doc says; ``idx[:m]``
    the kept words in strip order, ``key[:m]`` their piece's sort key (piece opener's script + 1 << 16, 0 for the
    strip's leading piece of weak words, 1 << 16 for a weak piece later on). Returns m."""
    n = missing.shape[0]
    last, lead = -1, -1
    for k in range(n):
        if own[k]:  # a cached word of a script of its own: never cut, it only sets the run
            if lead >= 0:
                keep[lead:k + 1] = 1
                lead = -1
            last = k
            continue
        if missing[k]:
            h = has[k] != 0
            cut = seen[fo[k]] == 0
            starts_weak = cut and first[k] < 0
        else:
            h = False
            cut = starts_weak = cached_weak[k] and seen[fo[k]] == 0 and weak_ok[k]
        if cut:
            seen[fo[k]] = 1
            keep[k] = 1
            if starts_weak:
                if last >= 0:
                    keep[last:k] = 1
                elif lead < 0:
                    lead = k
        if h:
            if lead >= 0:
                keep[lead:k + 1] = 1
                lead = -1
            last = k
    m = 0
    cur = 0
    for k in range(n):
        if not keep[k]:
            continue
        if first[k] >= 0:
            cur = (1 << 16) + first[k]
        elif m > 0 and keep[k - 1]:
            pass  # goes on the piece before
        else:
            cur = (1 << 16) if k > 0 else 0
        idx[m] = k
        key[m] = cur
        m += 1
    return m


@numba.njit(cache=True, nogil=True)
def scan(cps, at, rows, strong, char_codes, script, has, first, fo, missing, own, cached_weak, cls, weak_ok, check,
         slots):
    """``word_scripts`` and, per word of id ``at[k]`` (-1: missing), whether it is missing, cached with a script of
    its own, cached without one, its class (``rows``: the words table), and ``fo[k]`` the position of its first
    occurrence (equal code points; ``slots``: a zeroed hash table, a power of two > the word count) -- one compiled
    pass instead of a dict over the words and three calls. ``weak_ok`` is set for every word but the cached digit
    and punctuation words behind a cached word that sets the run: those are listed in ``check`` (position, that
    word's class), for the caller to ask the ``weak`` dict; returns how many."""
    word_scripts(cps, strong, char_codes, script, has, first)
    n = at.shape[0]
    last = -1  # the last word before k that sets a run's script (cached with one of its own, or missing with one)
    m = 0
    for k in range(n):
        i = at[k]
        missing[k] = i < 0
        c = i > FOREIGN_WORD
        r = rows[max(i, 0)]
        own[k] = c and r[3] != 0
        cached_weak[k] = c and r[3] == 0
        cls[k] = r[2]
        weak_ok[k] = True
        if cached_weak[k] and last >= 0 and not missing[last]:
            check[0, m] = k
            check[1, m] = cls[last]
            m += 1
        if own[k] or (missing[k] and has[k] != 0):
            last = k
    mask = slots.shape[0] - 1
    starts = np.empty(n + 1, np.int64)
    k = 0
    starts[0] = 0
    for i in range(cps.shape[0]):
        if cps[i] == 32:
            k += 1
            starts[k] = i + 1
    starts[n] = cps.shape[0] + 1
    for k in range(n):
        s, e = starts[k], starts[k + 1] - 1
        h = np.uint64(14695981039346656037)
        for i in range(s, e):
            h = (h ^ np.uint64(cps[i])) * np.uint64(1099511628211)
        j = np.int64(h & np.uint64(mask))
        while True:
            o = slots[j] - 1
            if o < 0:
                slots[j] = k + 1
                fo[k] = k
                break
            p0, p1 = starts[o], starts[o + 1] - 1
            if p1 - p0 == e - s:
                same = True
                for i in range(e - s):
                    if cps[p0 + i] != cps[s + i]:
                        same = False
                        break
                if same:
                    fo[k] = o
                    break
            j = (j + 1) & mask
    return m


def mixed_batch(words: list[str], ids: list[int | None], rows: np.ndarray, weak: dict) -> tuple[list[str], np.ndarray]:
    """(batch, want): the words to shape for a mixed strip of BMP text whose words ``ids`` (None: missing) the
    cache partly holds (``rows``: its words table), and which of the batch's words to cut (1) -- the rest are
    context that sets a run's script."""
    n = len(words)
    strong, char_codes, script = tables()
    at = np.array([-1 if i is None else i for i in ids], np.int64)
    flags = np.empty((4, n), np.bool_)  # missing, own, cached_weak, weak_ok
    missing, own, cached_weak, weak_ok = flags
    ints = np.empty((4, n), np.int64)  # cls, fo, idx, key
    cls, fo, idx, key = ints[0], ints[1], ints[2], ints[3]
    cps = np.frombuffer(" ".join(words).encode("utf-32-le"), np.uint32)
    small = np.zeros((3, n), np.uint8)  # has, keep, seen
    has, keep, seen = small[0], small[1], small[2]
    first = np.empty(n, np.int32)
    check = np.empty((2, n), np.int64)
    m = scan(cps, at, rows, strong, char_codes, script, has, first, fo, missing, own, cached_weak, cls, weak_ok, check,
             np.zeros(1 << (2 * n).bit_length(), np.int64))
    for k, c in zip(*check[:, :m].tolist()):  # the dict is asked only for cached digit and punctuation words
        weak_ok[k] = (words[k], c) not in weak
    m = batch_words(missing, own, cached_weak, weak_ok, fo, has, first, keep, seen, idx, key)
    order = idx[:m][np.argsort(key[:m], kind="stable")]
    batch = [words[k] for k in order.tolist()]
    return batch, seen[fo[order]].astype(np.uint8)
