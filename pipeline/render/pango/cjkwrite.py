"""``cjkglyph.py``'s write in one compiled pass: which words of a batch can be written, and their glyph string and
UTF-8 bytes, from a class's tables (as ``glyphkernels._write`` does for Latin, Cyrillic and Greek words).

A batch is code points: words, each followed by one space (32). A word is written when each of its characters is
allowed (``ok``: the class's characters -- Hangul syllables, ASCII digits and punctuation for a Hangul word, proven
characters for Han/kana) and its table entry says writable: a glyph (``glyph[cp] >= 0``) and a learned width for
its advance (``widths[aidx[cp]] >= 0``). Code points not looked up yet (``glyph[cp] == UNSEEN``) are handed back
first, to be looked up in HarfBuzz before the pass runs again. The written words keep their order; each character
is one glyph record (glyph, width, no offsets, a cluster start) whose cluster is its byte offset, each space the
class's space glyph at its width -- what ``CjkGlyphs.write_text`` made with numpy before.
"""

from __future__ import annotations

import numba
import numpy as np

UNSEEN = -2  # (cjkglyph._UNSEEN: a code point not looked up yet)


@numba.njit(cache=True, nogil=True)
def write(cps, ok, glyph, aidx, widths, space_glyph, space_w, keep, out, clusters, raw, unseen):
    """Fill ``keep`` (per word: written), ``out`` / ``clusters`` (the written words' glyph records) and ``raw`` (their
    UTF-8 bytes). Returns (glyph records, bytes, written words), or (0, 0, -m) when m code points (in
    ``unseen[:m]``, maybe repeated) are not looked up yet: nothing is written then."""
    n, top = cps.shape[0], ok.shape[0]
    m = 0
    for i in range(n):
        c = cps[i]
        if c != 32 and 0 <= c < top and ok[c] and glyph[c] == UNSEEN:
            unseen[m] = c
            m += 1
    if m:
        return 0, 0, -m
    word, good = 0, True
    for i in range(n):  # which words are writable
        c = cps[i]
        if c == 32:
            keep[word] = good
            word += 1
            good = True
        elif not (0 <= c < top and ok[c] and glyph[c] >= 0 and widths[aidx[c]] >= 0):
            good = False
    k, b, start, word, kept = 0, 0, 0, 0, 0
    for i in range(n):  # the kept words' glyph records and bytes
        c = cps[i]
        if c == 32:
            if keep[word]:
                kept += 1
                for j in range(start, i + 1):
                    d = cps[j]
                    clusters[k] = b
                    out[k, 2], out[k, 3], out[k, 4] = 0, 0, 1  # (no offsets, is_cluster_start)
                    if d == 32:
                        out[k, 0], out[k, 1] = space_glyph, space_w
                        raw[b] = 32
                        b += 1
                    else:
                        out[k, 0], out[k, 1] = glyph[d], widths[aidx[d]]
                        if d < 0x80:
                            raw[b] = d
                            b += 1
                        elif d < 0x800:
                            raw[b], raw[b + 1] = 0xC0 | (d >> 6), 0x80 | (d & 0x3F)
                            b += 2
                        else:
                            raw[b], raw[b + 1], raw[b + 2] = 0xE0 | (d >> 12), 0x80 | ((d >> 6) & 0x3F), 0x80 | (d & 0x3F)
                            b += 3
                    k += 1
            word += 1
            start = i + 1
    return k, b, kept


def warm() -> None:
    """Load (or compile) the kernel once a process, not on a first strip."""
    if _WARM:
        return
    z = np.zeros(2, np.int64)
    write(np.array([0x4E00, 32], np.int64), np.ones(1 << 16, np.bool_), np.full(1 << 16, -1, np.int32),
          np.zeros(1 << 16, np.int8), np.full(4, -1, np.int64), 3, 5, np.zeros(2, np.bool_),
          np.zeros((2, 5), np.int32), np.zeros(2, np.int32), np.zeros(8, np.uint8), z)
    _WARM.append(True)


_WARM: list[bool] = []
