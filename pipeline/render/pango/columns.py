"""The gray canvas handed out in pxz's column order, in one compiled pass (numba, cached on disk).

Pango/cairo draw into an A8 surface, row-major, alpha 0 = blank paper. A strip leaves the renderer as black ink
on white, and pxz stores it column by column (schemas/codec.py): done in numpy, that was an inversion plus a
byte-wise transpose of every column, although most of a task strip is the blank paper after its EOS patch (on
UD English-EWT at 256 patches, ~620 of 4,096 columns hold ink on average). ``canvas_columns`` finds the last
column that may hold ink (eight columns at a time: the last nonzero 8-byte word of each row), inverts and
transposes the columns up to it and fills the rest white. The renderer returns ``out.T``: the same (H, W)
pixels, a Fortran-ordered view whose transpose the codec compresses without a copy.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def ink_columns(raw, raw64, width, out, upto):
    """``out[c, r] = 255 - raw[r, c]`` for the columns up to the last 8-column word holding ink in any row
    (``raw64``: ``raw`` (H, stride) viewed as uint64, stride a multiple of 8; ``upto``: no ink from that column
    on); returns how many columns that is (at most ``width``). Every column right of them is blank (0) on the
    canvas: the caller fills it white."""
    h, n = raw.shape[0], min(raw64.shape[1], (upto + 7) // 8)
    end = 0  # 8-column words up to the last one holding ink, over the rows so far
    for r in range(h):
        w = n - 1
        while w >= end and raw64[r, w] == 0:
            w -= 1
        end = max(end, w + 1)
    end = min(end * 8, width)
    for c in range(end):
        for r in range(h):
            out[c, r] = 255 - raw[r, c]
    return end


@numba.njit(cache=True, nogil=True)
def ink_span(raw, raw64, width):
    """The columns [first, last + 1) of the visible canvas holding ink in any row ((0, 0): none): the 8-column
    words holding ink found first (``raw64`` as above), then the exact columns within them."""
    h, n = raw64.shape[0], raw64.shape[1]
    lo, hi = n, -1
    for r in range(h):
        for w in range(n):
            if raw64[r, w] != 0:
                lo = min(lo, w)
                break
        for w in range(n - 1, hi, -1):
            if raw64[r, w] != 0:
                hi = w
                break
    a, b = width, 0
    for r in range(h):
        for c in range(lo * 8, min(hi * 8 + 8, width)):
            if raw[r, c] != 0:
                a, b = min(a, c), max(b, c + 1)
    return (a, b) if a < b else (0, 0)


def canvas_columns(raw, raw64, width, out, upto):
    """``out`` (C-contiguous (width, H) uint8) = the inverted visible canvas, transposed (``upto``: no ink from
    that column on)."""
    end = ink_columns(raw, raw64, width, out, upto)
    out[end:] = 255
