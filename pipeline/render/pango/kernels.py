"""The shaping cache's compiled kernels (numba, cached on disk): measure a strip of cached words, compose it, and
cut a shaped batch into word masks. Pure array code; ``shapecache.py`` owns the tables they read and write.

Tables. words rows: [mask row, advance px, class, script: 0 none of its own, 1 its own after a digit or punctuation
mark, 2 its own from its first character]; mask rows: [atlas offset, height,
width, left, top], left/top relative to the word's origin on the baseline. A word's mask is its glyphs' masks
added together (saturating), so a strip is one paint per word: saturating adds of non-negative values compose in
any order, min(a + b + c, 255).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

EMPTY_WORD, FOREIGN_WORD = 0, 1  # fixed rows of the words table
FOREIGN = -3  # class of words the cache cannot compose
LEAD, STRONG, FIRST = 1, 2, 4  # word codes: starts on a character of its own; has a script of its own; starts
# on a character of a script of its own (so no neighbour can pull its first characters into another script's run)

@numba.njit(cache=True, nogil=True)
def measure(ids, words, space_px):
    """(width px, class) of words laid out with one space between neighbours. Class -1 when the strip cannot
    be composed: words of different classes, a foreign word, or no word of a script of its own (a strip of
    digits alone is its own script, Common, for Pango)."""
    cls = -1
    width = 0
    strong = False
    for k in range(ids.shape[0]):
        w = ids[k]
        c = words[w, 2]
        if c == FOREIGN:
            return 0, -1
        if c >= 0:
            if cls == -1:
                cls = c
            elif c != cls:
                return 0, -1
        width += words[w, 1]
        strong = strong or words[w, 3] != 0
    if cls < 0 or not strong:
        return 0, -1
    return width + (ids.shape[0] - 1) * space_px[cls], cls


NO_INK = -(1 << 30)  # a run's ink right end before any ink
OVERLAP = -(1 << 40)


@numba.njit(cache=True, nogil=True, inline="always")
def ink_end(masks, m, x, done_hi, run_hi):
    """A run's ink right end (``run_hi``) after word mask ``m`` placed at ``x``, or ``OVERLAP`` when that ink
    reaches left of ``done_hi``, the right end of the earlier runs' ink: cairo paints each run (item) over the ones
    before it while ``compose`` adds, and the two differ only where two runs ink one column."""
    if masks[m, 1] > 0 and masks[m, 2] > 0:
        left = x + masks[m, 3]
        if left < done_hi:
            return OVERLAP
        return max(run_hi, left + masks[m, 2])
    return run_hi


@numba.njit(cache=True, nogil=True)
def measure_mixed(ids, words, space_px, group, gaps, joined, masks):
    """(width px, class of the first run, -1, -1) of words of several classes, laid out in the runs Pango's script
    iterator would cut (pango-script.c without pairs, see ``brackets.agree``): a digit or punctuation mark takes
    the script of the last character of a script of its own before it (the first one's at the strip's start), so
    a run ends where a word of another script begins. Each word must lie, with the space after it, in a run of its
    own class: a word of no script of its own is cached in the class of the run it falls in, and a word that
    starts with a digit or mark may not open a run. ``gaps[k]``: the space after word k (that of its run's class),
    0 when ``joined[k]`` (empty: none): word k is the piece of a word before a run Pango starts inside it
    (``brackets.word_cuts``), and word k + 1 the rest. Each run is painted by cairo on its own (over the ones
    before it), the words of a run added together: so no word's ink (``masks``: the words' mask rows) may reach
    left of the right end of any earlier run's ink, where painting OVER and adding differ.
    Class -1 when the strip cannot be composed so; all its classes must share a ``group`` (font and baseline).
    (0, -1, k, run) when word k, of no script of its own, is cached in another class than its run's: the caller
    may look it up in that class and try again."""
    n = ids.shape[0]
    run = -1
    for k in range(n):
        w = ids[k]
        if words[w, 2] == FOREIGN:
            return 0, -1, -1, -1
        if run == -1 and words[w, 3] != 0:
            run = words[w, 2]
    if run < 0:
        return 0, -1, -1, -1
    first, g, width = run, group[run], 0
    done_hi, run_hi = NO_INK, NO_INK  # ink's right end: of the runs before this one, of this one
    cut = joined.shape[0] > 0
    for k in range(n):
        w = ids[k]
        c = words[w, 2]
        if c >= 0:
            if group[c] != g:
                return 0, -1, -1, -1
            if words[w, 3] == 2:
                if c != run:  # a new run (item), painted after the ones before
                    done_hi = max(done_hi, run_hi)
                    run_hi = NO_INK
                run = c
            elif c != run:  # no script of its own, or one behind a digit or mark: must continue the run
                if words[w, 3] == 0:
                    return 0, -1, k, run
                return 0, -1, -1, -1
        run_hi = ink_end(masks, words[w, 0], width, done_hi, run_hi)
        if run_hi == OVERLAP:
            return 0, -1, -1, -1
        width += words[w, 1]
        if k < n - 1:
            gap = 0 if cut and joined[k] else space_px[run]
            gaps[k] = gap
            width += gap
    return width, first, -1, -1


@intrinsic
def _memcpy(typingctx, dst, dst_at, src, src_at, n):
    """memcpy between two 1-D uint8 arrays (LLVM's intrinsic): numba's own byte loops run ~7x slower here."""
    sig = types.void(dst, dst_at, src, src_at, n)

    def codegen(context, builder, signature, args):
        d, d_at, s, s_at, count = args
        dptr = builder.gep(context.make_array(signature.args[0])(context, builder, d).data, [d_at])
        sptr = builder.gep(context.make_array(signature.args[2])(context, builder, s).data, [s_at])
        cgutils.raw_memcpy(builder, dptr, sptr, count, 1)

    return sig, codegen


@numba.njit(cache=True, nogil=True, inline="always")
def _paint(flat, stride, H, W, atlas, off, h, wd, px, py, hi):
    """One mask into the row-major canvas ``flat`` (``stride`` bytes a row, H x W visible) with its top-left at
    (px, py), clipped. Columns left of ``hi`` may already hold ink and are added (saturating); the rest of the
    canvas is still blank, and adding to zero is copying."""
    r0, r1 = max(0, -py), min(h, H - py)
    c0, c1 = max(0, -px), min(wd, W - px)
    split = min(max(hi - px, c0), c1)
    for r in range(r0, r1):
        src = off + r * wd
        dst = (py + r) * stride + px
        for c in range(c0, split):
            v = np.uint16(flat[dst + c]) + np.uint16(atlas[src + c])
            flat[dst + c] = np.uint8(min(v, np.uint16(255)))
        if c1 > split:
            _memcpy(flat, np.int64(dst + split), atlas, np.int64(src + split), np.int64(c1 - split))
    return px + c0, px + c1


@numba.njit(cache=True, nogil=True)
def compose(canvas, width, scratch, over, ids, x0, y0, space, gaps, words, masks, atlas):
    """Add the words' masks into ``canvas`` (A8 coverage, (H, stride) of which ``width`` columns show) from pixel
    ``x0`` on baseline row ``y0``; with ``over``, into the blank ``scratch`` (H, width) first, then painted OVER
    ``canvas`` as pixman paints a run. Words go left to right, so right of the ink so far all is blank. Between
words: ``space`` px, or ``gaps[k]`` after word k when ``gaps`` is not empty (a strip of several classes).
    Returns the columns [lo, hi) it painted (lo >= hi: none)."""
    H = canvas.shape[0]
    dst = scratch if over else canvas
    flat = dst.reshape(dst.size)
    stride = dst.shape[1]
    lo, hi = width, 0
    x = x0
    for k in range(ids.shape[0]):
        w = ids[k]
        m = words[w, 0]
        if masks[m, 1] > 0:
            a, b = _paint(flat, stride, H, width, atlas, masks[m, 0], masks[m, 1], masks[m, 2], x + masks[m, 3],
                          y0 + masks[m, 4], hi if hi > 0 else -(1 << 30))
            if a < b:
                lo, hi = min(lo, a), max(hi, b)
        x += words[w, 1]
        if k < ids.shape[0] - 1:
            x += gaps[k] if gaps.shape[0] else space
    if over:
        for row in range(H):
            for col in range(lo, hi):
                s = np.int32(scratch[row, col])
                if s:
                    t = np.int32(canvas[row, col]) * (255 - s) + 128
                    canvas[row, col] = s + ((t + (t >> 8)) >> 8)
                    scratch[row, col] = 0
    return lo, hi


@numba.njit(cache=True, nogil=True, inline="always")
def _word_code(text, start, end, char_codes):
    """LEAD | STRONG | FIRST of the UTF-8 word text[start:end] (see words.word_code) from ``char_codes``: per
    BMP code point, bit 1 it can start a word (no mark, joiner or variation selector), bit 2 it has a script of its
    own. A character past the BMP makes the word not LEAD (the caller reads such batches in Python instead)."""
    code = LEAD
    b = start
    while b < end:
        c0 = np.int64(text[b])
        if c0 < 0x80:
            cp, n = c0, 1
        elif c0 < 0xE0:
            cp, n = ((c0 & 0x1F) << 6) | (np.int64(text[b + 1]) & 0x3F), 2
        elif c0 < 0xF0:
            cp, n = ((c0 & 0x0F) << 12) | ((np.int64(text[b + 1]) & 0x3F) << 6) | (np.int64(text[b + 2]) & 0x3F), 3
        else:
            return 0
        cc = char_codes[cp]
        if b == start:
            if not cc & 1:
                code = 0
            if cc & 2:
                code |= FIRST
        if cc & 2:
            code |= STRONG
        b += n
    return code


@numba.njit(cache=True, nogil=True, inline="always")
def _rows(dy, phase):
    """Rows a glyph moves down for a y offset of ``dy`` Pango units: cairo draws it at the nearest whole pixel of the
    baseline (at ``phase`` units below a pixel row) plus ``dy``, halves rounded up, as it draws the glyph's mask at
    the baseline itself (``phase`` -1: ``dy`` is whole pixels)."""
    if phase < 0:
        return dy // 1024
    return (phase + dy + 512) // 1024 - (phase + 512) // 1024


@numba.njit(cache=True, nogil=True, inline="always")
def _advance(glyphs, clusters, j, end):
    """Pango units from glyph j up to the first glyph of cluster ``end`` or later."""
    total = 0
    while j < glyphs.shape[0] and clusters[j] < end:
        total += glyphs[j, 1]
        j += 1
    return total


@numba.njit(cache=True, nogil=True)
def harvest_item(glyphs, clusters, text, item_start, item_end, first, codes, char_codes, want, take_weak, lut, risky,
                 space_glyph, space_w, cls, gmasks, gatlas, wmasks, wdata, words, used, status, need, rtl=False,
                 open_end=False, phase=-1):
    """Cut one shaped item of a batch into its words and cache the good ones.

    ``text``: the batch's UTF-8 bytes, words each followed by one space; ``codes``: each word's code, or empty
    when they are to be read from ``char_codes`` (see ``_word_code``); ``want``: 1 for the words to cut (empty: all); ``glyphs``: the item's (n, 5) int32
    records, ``clusters`` their byte offsets in ``text``; the item spans bytes [item_start, item_end). Words starting
    inside the item from word number ``first`` on are cut; one whose space lies past the item stays foreign.
    ``lut``: glyph id -> glyph mask row (-2: not drawn yet, -1: cannot be cached); ``risky``: glyph id -> 1.
    A word is good when it starts a cluster of its own, its glyphs sit on whole pixels (but for x offsets: cairo 1.16's
    image compositor puts a glyph at the nearest whole pixel, halves up -- ``_cairo_lround`` -- and so does this
    kernel; Hebrew kerns with such offsets -- and y offsets alike, from the class's baseline ``phase`` in Pango
    units, -1 when it is not a whole number of them: then y offsets must be whole pixels; Arabic and Hebrew marks
    sit so), are drawable and not
    risky, and its space shaped to one glyph of its own, the class's space. Good words that are wanted (a script
    of their own, or ``take_weak``) get a word-mask row in ``wmasks``/``wdata`` and a row in ``words``; then
    ``status[k]`` = the new word id; a good word not taken gets -1, the rest stay FOREIGN_WORD. (Codes: see ``_word_code``.)

    ``rtl``: a right-to-left item, its glyphs given in logical order (Pango's visual order reversed): a word's first
    glyph is its rightmost, and its mask is laid out from its right end. ``open_end``: a word that ends where the
    item ends may have its space in the next item (a number inside right-to-left text is an item of its own; the
    caller checks that item's spaces).

    ``used`` = [word-mask bytes, mask rows, word rows] in use, advanced here. Returns 0 when done, 1 when glyph
    ids listed in ``need`` (``need[0]`` = count) must be drawn first, 2 when a table is too small (``need`` =
    bytes, rows needed); nothing is cached unless it returns 0."""
    n = glyphs.shape[0]
    for i in range(1, n):
        if clusters[i] < clusters[i - 1]:
            return 0
    # the item's words: global number, first byte, separating space
    nw_all = 0
    for b in range(item_end):
        if text[b] == 32:
            nw_all += 1
    ks = np.empty(nw_all, np.int32)
    starts = np.empty(nw_all, np.int32)
    spaces = np.empty(nw_all, np.int32)
    nw = 0
    k = 0
    start = 0
    for b in range(text.shape[0]):
        if text[b] == 32:
            if start >= item_start and start < item_end and k >= first:
                if b > item_end or (b == item_end and not open_end):
                    break  # runs on into the next item: foreign
                ks[nw], starts[nw], spaces[nw] = k, start, b
                nw += 1
            k += 1
            start = b + 1
            if start >= item_end:
                break
    code = np.empty(nw, np.int8)
    for i in range(nw):
        status[ks[i]] = FOREIGN_WORD
        if codes.shape[0]:
            code[i] = codes[ks[i]]
        else:
            code[i] = _word_code(text, starts[i], spaces[i], char_codes)
    box = np.zeros((nw, 5), np.int32)  # left, top, height, width, advance
    g0s = np.zeros(nw, np.int32)
    missing = 0
    j = 0
    good = np.zeros(nw, np.bool_)
    for k in range(nw):
        while j < n and clusters[j] < starts[k]:
            j += 1
        g0s[k] = j
        if j >= n or clusters[j] != starts[k] or not code[k] & LEAD or (want.shape[0] and not want[ks[k]]):
            continue
        ok = True
        left, top, right, bottom = 1 << 30, 1 << 30, -(1 << 30), -(1 << 30)
        total = _advance(glyphs, clusters, j, spaces[k])
        x = total if rtl else 0
        while j < n and clusters[j] < spaces[k]:
            gid, w, dx, dy = glyphs[j, 0], glyphs[j, 1], glyphs[j, 2], glyphs[j, 3]
            x = x - w if rtl else x + w
            ox = x + dx if rtl else x - w + dx  # the glyph's origin from the word's left end
            j += 1
            if w % 1024 or (dy % 1024 and phase < 0):
                ok = False
            elif gid == 0x0FFFFFFF:  # PANGO_GLYPH_EMPTY: nothing to draw
                continue
            elif gid < 0 or gid >= lut.shape[0] or (gid < risky.shape[0] and risky[gid]) or lut[gid] == -1:
                ok = False
            elif lut[gid] == -2:
                if missing + 1 < need.shape[0]:
                    missing += 1
                    need[missing] = gid
            else:
                m = lut[gid]
                if gmasks[m, 1] > 0:
                    px, py = (ox + 512) // 1024 + gmasks[m, 3], _rows(dy, phase) + gmasks[m, 4]
                    left, top = min(left, px), min(top, py)
                    right, bottom = max(right, px + gmasks[m, 2]), max(bottom, py + gmasks[m, 1])
        if not ok:
            continue
        if spaces[k] >= item_end:  # (open_end) its space is the next item's
            if j != n:
                continue
        elif j >= n or clusters[j] != spaces[k] or (j + 1 < n and clusters[j + 1] == spaces[k]) \
                or glyphs[j, 0] != space_glyph or glyphs[j, 1] != space_w * 1024:
            continue
        good[k] = True
        status[ks[k]] = -1
        if right <= left:
            left = top = right = bottom = 0
        box[k, 0], box[k, 1], box[k, 2], box[k, 3], box[k, 4] = left, top, bottom - top, right - left, total // 1024
    if missing:
        need[0] = missing
        return 1
    nbytes, nrows = 0, 0
    for k in range(nw):
        if good[k] and (code[k] & STRONG or take_weak):
            nbytes += box[k, 2] * box[k, 3]
            nrows += 1
    if used[0] + nbytes > wdata.shape[0] or used[1] + nrows > wmasks.shape[0] or used[2] + nrows > words.shape[0]:
        need[0], need[1] = nbytes, nrows
        return 2
    for k in range(nw):
        if not good[k] or not (code[k] & STRONG or take_weak):
            continue
        left, top, h, wd = box[k, 0], box[k, 1], box[k, 2], box[k, 3]
        off = used[0]
        if h > 0:
            dst = wdata[off:off + h * wd]
            dst[:] = 0
            j = g0s[k]
            x = box[k, 4] * 1024 if rtl else 0
            while j < n and clusters[j] < spaces[k]:
                gid = glyphs[j, 0]
                if rtl:
                    x -= glyphs[j, 1]
                if gid != 0x0FFFFFFF:
                    m = lut[gid]
                    if gmasks[m, 1] > 0:  # glyphs of a word overlap: every column is added
                        _paint(dst, wd, h, wd, gatlas, gmasks[m, 0], gmasks[m, 1], gmasks[m, 2],
                               (x + glyphs[j, 2] + 512) // 1024 + gmasks[m, 3] - left,
                               _rows(glyphs[j, 3], phase) + gmasks[m, 4] - top, 1 << 30)
                if not rtl:
                    x += glyphs[j, 1]
                j += 1
        r = used[1]
        wmasks[r, 0], wmasks[r, 1], wmasks[r, 2], wmasks[r, 3], wmasks[r, 4] = off, h, wd, left, top
        t = used[2]
        words[t, 0], words[t, 1], words[t, 2], words[t, 3] = r, box[k, 4], cls, (2 if code[k] & FIRST else 1) if code[k] & STRONG else 0
        status[ks[k]] = t
        used[0] += h * wd
        used[1] += 1
        used[2] += 1
    return 0
