"""Compiled passes for the bookkeeping of ``cjk.CjkWords``'s first pass, each in place of numpy round trips over a
strip's tokens (a full Han strip: ~500 tokens, of which ~200 new on a fresh cache).

* ``cut``: Pango's script runs, the tokens, the trailing empty token and the tokens' starting ids, with the run
  scripts present, in one call (was ``scriptruns.runs``, ``cjk.tokens``, ``np.vstack``/``np.append`` and four array
  passes of ``_cjk_ids``).
* ``batch_at``: a run script's anchor token and its missing tokens (was ``_cjk_fill``'s per-character script
  lookup, ``np.flatnonzero`` twice and ``np.searchsorted``).
* ``plan``: ``batch_at``, then the distinct missing tokens in the order they first occur and the batch's UTF-8
  bytes ``anchor t1 t2 ... `` (was ``cjk._distinct``'s numpy passes, dict and list steps and
  ``" ".join(batch).encode()``: ~20-70 us a Han strip; tokens of several characters, such as Latin names, digits
  and kana runs, are told apart by their code points in compiled code since render_profile_cjk.md's last section).
* ``settle``: a batch's ids as cached in the class, and its one-character tokens entered in the class's
  per-code-point table (was five array passes of ``_cjk_batch``; unproven characters, such as the full-width
  comma, went to the class's dict of token texts then).

``tests/test_render_cjk_fuse.py`` checks each against the numpy code it replaced (kept there as the reference) on
real UDHR Chinese, Japanese and Korean text and on random strings.
"""

from __future__ import annotations

import numba
import numpy as np

from .cjk import tokens
from .kernels import EMPTY_WORD, FOREIGN_WORD
from .scriptruns import _real, runs


@numba.njit(cache=True, nogil=True)
def cut(cps, script, pair, proven, rs, tok, spaces, ids, present):
    """Runs (``rs``), tokens (``tok``, ``spaces``: see ``cjk.tokens``; sized len(cps) + 2, an empty token appended
    after trailing spaces), each token's starting id (``ids``: ``EMPTY_WORD`` for an empty token, else -2) and
    ``present[s]`` = 1 for each run script s of a non-empty token (``present``: 256 zeros). Returns the token count,
    or -1 when a non-empty token's run has no script of its own (then ``ids``/``present`` are partial)."""
    n = cps.shape[0]
    runs(cps, script, pair, rs)
    spaces[:] = 0
    nt = tokens(cps, rs, proven, tok, spaces)
    if nt and spaces[nt - 1]:  # trailing spaces: an empty token after them
        tok[nt, 0], tok[nt, 1], tok[nt, 2] = n, n, -1
        spaces[nt] = 0
        nt += 1
    for k in range(nt):
        if tok[k, 1] == tok[k, 0]:
            ids[k] = EMPTY_WORD
            continue
        ids[k] = -2
        s = tok[k, 2]
        if not _real(s):
            return -1
        present[s & 255] = 1
    return nt


@numba.njit(cache=True, nogil=True)
def batch_at(s, rs, script, cps, tok, ids, at):
    """For run script ``s``: (k, m) -- k the token holding the strip's first character that is of script ``s`` in
    a run of ``s`` (-1: none; then m is 0), and ``at[:m]`` the tokens of runs of ``s`` with no id yet (ids < 0), in
    strip order."""
    first = -1
    for i in range(cps.shape[0]):
        if rs[i] == s and script[cps[i]] == s:
            first = i
            break
    if first < 0:
        return -1, 0
    k = -1
    for j in range(tok.shape[0]):  # (tokens start in strip order: the last one starting at or before it)
        if tok[j, 0] <= first:
            k = j
    m = 0
    for j in range(tok.shape[0]):
        if tok[j, 2] == s and ids[j] < 0:
            at[m] = j
            m += 1
    return k, m


@numba.njit(cache=True, nogil=True)
def settle(st, words, cls, one_cp, table, got, one):
    """A batch's statuses ``st`` (after its anchor) as ids: ``got[i]`` = st[i] when it is a word cut in class
    ``cls``, else ``FOREIGN_WORD``; ``one[i]`` = 1 when token i is one character (``one_cp[i]``, its code point,
    or -1), whose id then goes into ``table`` (per code point; may be empty when no token is one character): a
    one-character token is cached by code point whether the font's proof cleared it or not (it is its text), so
    ``_char_ids`` finds it there, not in the class's dict. Returns how many were cut in ``cls``."""
    good = 0
    for i in range(st.shape[0]):
        v = st[i]
        g = FOREIGN_WORD
        if v > FOREIGN_WORD and words[v, 2] == cls:
            g = v
            good += 1
        got[i] = g
        c = one_cp[i]
        if c >= 0:
            one[i] = 1
            table[c] = g
        else:
            one[i] = 0
    return good


@numba.njit(cache=True, nogil=True)
def _utf8(c, buf, o):
    """Code point ``c`` (BMP) as UTF-8 into ``buf`` at ``o``; returns the next offset."""
    if c < 0x80:
        buf[o] = c
        return o + 1
    if c < 0x800:
        buf[o], buf[o + 1] = 0xC0 | (c >> 6), 0x80 | (c & 0x3F)
        return o + 2
    buf[o], buf[o + 1], buf[o + 2] = 0xE0 | (c >> 12), 0x80 | ((c >> 6) & 0x3F), 0x80 | (c & 0x3F)
    return o + 3


@numba.njit(cache=True, nogil=True)
def _same(cps, a, b, c, d):
    """Whether the strip's characters ``a:b`` and ``c:d`` are the same text."""
    if b - a != d - c:
        return False
    for i in range(b - a):
        if cps[a + i] != cps[c + i]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def plan(s, rs, script, cps, tok, ids, at, slot_of_cp, codes, inv, slot_at, buf):
    """``batch_at`` for run script ``s`` -- (k, m), ``at[:m]`` -- then the distinct ones of those m tokens in the
    order they first occur: ``codes[:n]`` their code points (-1: a token of several characters; one-character
    tokens told apart by ``slot_of_cp``, a per-code-point scratch of -1, left so; the others by their text),
    ``slot_at[:n]`` the first position among ``at`` of each, ``inv[i]`` the slot of token ``at[i]``; and the batch
    ``anchor t1 t2 ... tn `` as UTF-8 in ``buf[:nbytes]`` (``buf``: at least 8 bytes a character of the strip,
    plus 8: the anchor is also a token, each character at most 3 bytes -- the CJK look-up takes BMP text only,
    see ``_utf8`` -- and each token one space). Returns (k, m, n, nbytes); k = -1 when none."""
    k, m = batch_at(s, rs, script, cps, tok, ids, at)
    if k < 0:
        return k, m, 0, 0
    o = 0
    for i in range(tok[k, 0], tok[k, 1]):
        o = _utf8(cps[i], buf, o)
    buf[o] = 32
    o += 1
    n = 0
    multi = np.empty(m, np.int64)  # the slots of tokens of several characters
    n_multi = 0
    for i in range(m):
        a, b = tok[at[i], 0], tok[at[i], 1]
        if b - a == 1:
            c = cps[a]
            if slot_of_cp[c] < 0:
                slot_of_cp[c] = n
                codes[n], slot_at[n] = c, i
                n += 1
                o = _utf8(c, buf, o)
                buf[o] = 32
                o += 1
            inv[i] = slot_of_cp[c]
            continue
        j = -1
        for q in range(n_multi):
            p = at[slot_at[multi[q]]]
            if _same(cps, tok[p, 0], tok[p, 1], a, b):
                j = multi[q]
                break
        if j < 0:
            j = n
            codes[n], slot_at[n] = -1, i
            multi[n_multi] = n
            n_multi += 1
            n += 1
            for x in range(a, b):
                o = _utf8(cps[x], buf, o)
            buf[o] = 32
            o += 1
        inv[i] = j
    for j in range(n):
        if codes[j] >= 0:
            slot_of_cp[codes[j]] = -1
    return k, m, n, o
