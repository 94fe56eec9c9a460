"""The compiled (numba) kernels of ``rtlmix.py``: a right-to-left strip with left-to-right words cut into pieces and
spaces (``units``), and its visual line laid out from their ids (``lay_out``: rule L2 of UAX #9, ``visual``, and
the check that no two of Pango's runs ink one pixel). Pure array code; ``rtlmix.py`` says why it is Pango's layout.
"""

from __future__ import annotations

import numba
import numpy as np

from .cjk import runs
from .kernels import EMPTY_WORD

SPACE_ID = -2  # a space's entry in a strip's word ids (ids are >= 0)
LTR_DIR = 0  # PANGO_DIRECTION_LTR


@numba.njit(cache=True, nogil=True)
def units(cps, levels, rs, char_codes, out):
    """Cut the strip into pieces and spaces, in logical order: ``out[k]`` = (start, end, level, run script, kind,
    word) in characters, kind -1 a space, 1 a whole word, 0 a piece of a word cut where its level or run changes (an
    Arabic word and the full stop after it that a Latin word follows, the stop at level 0); word: its number among
    the strip's words between spaces (-1 a space). Returns (unit count, words
    cut), count -1 when a piece would start with a mark, joiner or other character that attaches to what stands
    before it (``char_codes`` bit 1 clear) or end with a zero-width (non-)joiner: a piece must shape as the word it
    is cached as (a mark ending a piece belongs to its letter there as in the cached word)."""
    n = cps.shape[0]
    k = 0
    i = 0
    cut = 0
    word = 0
    while i < n:
        if cps[i] == 32:
            out[k, 0], out[k, 1], out[k, 2], out[k, 3], out[k, 4], out[k, 5] = i, i + 1, levels[i], rs[i], -1, -1
            k += 1
            i += 1
            word += 1
            continue
        lv, sc = levels[i], rs[i]
        j = i + 1
        while j < n and cps[j] != 32 and levels[j] == lv and rs[j] == sc:
            j += 1
        whole = 1 if (i == 0 or cps[i - 1] == 32) and (j == n or cps[j] == 32) else 0
        if j < n and cps[j] != 32:
            cut += 1
            if not char_codes[cps[j]] & 1 or cps[j - 1] == 0x200C or cps[j - 1] == 0x200D:
                return -1, 0
        out[k, 0], out[k, 1], out[k, 2], out[k, 3], out[k, 4], out[k, 5] = i, j, lv, sc, whole, word
        k += 1
        i = j
    return k, cut


@numba.njit(cache=True, nogil=True)
def sort_pieces(u, rtl_script, out):
    """Where ``rtlmix`` looks each piece of the units ``u`` (``units``; pieces numbered in order, spaces skipped)
    up, in one pass: ``out[0]`` the pieces of the right-to-left run at an odd level, ``out[1]`` those of the
    left-to-right run at an even one, ``out[2]`` 2 * piece + parity for the rest (a run at a level against its
    direction: a number or a mark). Returns the three counts."""
    a = b = c = 0
    p = -1
    for k in range(u.shape[0]):
        if u[k, 4] < 0:
            continue
        p += 1
        odd = u[k, 2] & 1
        if u[k, 3] == rtl_script:
            if odd:
                out[0, a] = p
                a += 1
            else:
                out[2, c] = 2 * p
                c += 1
        elif odd:
            out[2, c] = 2 * p + 1
            c += 1
        else:
            out[1, b] = p
            b += 1
    return a, b, c


@numba.njit(cache=True, nogil=True, inline="always")
def visual(lv, order):
    """UAX #9 rule L2 over units of levels ``lv``: ``order`` gets their visual order, left to right."""
    n = lv.shape[0]
    hi, lo = 0, 255
    for k in range(n):
        order[k] = k
        hi = max(hi, lv[k])
        if lv[k] & 1:
            lo = min(lo, lv[k])
    lev = hi
    while lev >= lo and lev > 0:
        i = 0
        while i < n:
            if lv[order[i]] >= lev:
                j = i
                while j < n and lv[order[j]] >= lev:
                    j += 1
                a, b = i, j - 1
                while a < b:
                    order[a], order[b] = order[b], order[a]
                    a += 1
                    b -= 1
                i = j
            else:
                i += 1
        lev -= 1


@numba.njit(cache=True, nogil=True, inline="always")
def _touch(atlas, ma, xa, mb, xb):
    """Do two placed masks (rows ``ma``, ``mb`` of [offset, height, width, left, top], origins at x ``xa``, ``xb`` on
    one baseline) both ink some pixel?"""
    c0 = max(xa + ma[3], xb + mb[3])
    c1 = min(xa + ma[3] + ma[2], xb + mb[3] + mb[2])
    r0, r1 = max(ma[4], mb[4]), min(ma[4] + ma[1], mb[4] + mb[1])
    for y in range(r0, r1):
        for x in range(c0, c1):
            if atlas[ma[0] + (y - ma[4]) * ma[2] + x - xa - ma[3]] and \
                    atlas[mb[0] + (y - mb[4]) * mb[2] + x - xb - mb[3]]:
                return True
    return False


@numba.njit(cache=True, nogil=True)
def lay_out(u, ids, words, masks, atlas, space_px, cls_rtl, cls_ltr, rtl_script, out_ids, gaps):
    """The visual line (``visual``'s order of the units ``u``): ``out_ids`` the pieces left to right (an empty word
    first / last when the line starts / ends with a space), ``gaps[k]`` the spaces' advance after piece k (0 between
    two pieces of one word). Returns (count, width px), count -1 when a piece is not of its run's class, or when it
    inks a pixel that an item before it (in visual order: a change of level or run) inked: cairo paints each of
    Pango's runs OVER the ones before, and adds glyph masks with saturation only within a run, as ``compose`` does
    for the whole line -- the same pixels only where no two runs ink one pixel ("\u06af\u06d2?" at level 1 / 0: the
    stop meets the bari ye's tail)."""
    n = u.shape[0]
    order = np.empty(n, np.int64)
    visual(u[:, 2], order)
    at = np.empty(n + 2, np.int64)  # each placed piece's x and item number
    item_of = np.empty(n + 2, np.int64)
    m = 0
    width = 0
    pending = 0
    key, item = -1, 0
    before, ink = -(1 << 30), -(1 << 30)  # rightmost ink column of the items before this one; of all so far
    for q in range(n):
        k = order[q]
        if u[k, 2] * 4096 + u[k, 3] != key:  # another item
            key = u[k, 2] * 4096 + u[k, 3]
            before = ink
            item += 1
        c = cls_rtl if u[k, 3] == rtl_script else cls_ltr
        w = ids[k]
        if w == SPACE_ID:
            if m == 0:
                out_ids[0] = EMPTY_WORD
                at[0], item_of[0] = 0, -1
                m = 1
            pending += space_px[c]
            continue
        if words[w, 2] != c:
            return -1, 0
        if m > 0:
            gaps[m - 1] = pending
            width += pending
        pending = 0
        r = words[w, 0]
        if masks[r, 1] > 0 and masks[r, 2] > 0:
            if width + masks[r, 3] < before:  # its ink's columns meet an earlier item's: do its pixels?
                for j in range(m - 1, -1, -1):
                    if item_of[j] >= 0 and item_of[j] != item and \
                            _touch(atlas, masks[words[out_ids[j], 0]], at[j], masks[r], width):
                        return -1, 0
            ink = max(ink, width + masks[r, 3] + masks[r, 2])
        out_ids[m] = w
        at[m], item_of[m] = width, item
        width += words[w, 1]
        m += 1
    if pending:
        gaps[m - 1] = pending
        width += pending
        out_ids[m] = EMPTY_WORD
        m += 1
    return m, width


_WARM = []


def warm_kernels() -> None:
    """Load (or compile) the kernels once a process: ~3 ms each, which the first mixed strip would pay."""
    if _WARM:
        return
    u = np.zeros((1, 6), np.int32)
    units(np.zeros(1, np.int32), np.zeros(1, np.uint8), np.zeros(1, np.int32), np.zeros(1, np.uint8), u)
    lay_out(u, np.zeros(1, np.int32), np.zeros((1, 4), np.int32), np.zeros((1, 5), np.int32), np.zeros(1, np.uint8),
            np.zeros(1, np.int32), 0, 0, 2, np.zeros(3, np.int32), np.zeros(3, np.int32))
    runs(np.zeros(1, np.int32), np.zeros(1, np.uint8), np.full(1, -1, np.int16), np.zeros(1, np.int32))
    sort_pieces(u, 2, np.zeros((3, 1), np.int64))
    _WARM.append(True)
