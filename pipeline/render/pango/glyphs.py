"""Glyph masks for the shaping cache: each glyph drawn once by cairo, as Pango draws it inside a run, and kept cropped.

A glyph is drawn by ``pango_cairo_show_glyph_string`` (a string of that one glyph) with its origin on a whole pixel
column and at the class's baseline phase (the fractional part of the baseline's device y), on a blank A8 surface.
Pango places glyphs on whole pixels, so in any run of the class the glyph leaves these same coverage values, shifted.

The glyphs a batch needs are drawn together, each in a cell of its own (``CELL_W`` x ``CELL_H`` px, origin at
(``ORIGIN_X``, ``ORIGIN_Y``) of the cell), then cropped and blanked by one compiled kernel: the per-glyph cost is the
draw call alone. A glyph whose ink reaches its cell's border may have spilled into a neighbour's cell, so such a
batch is drawn again one glyph at a time in the first cell (a clipped glyph is then reported as -1: words holding it
are left to Pango).
"""

from __future__ import annotations

import numba
import numpy as np
from cairocffi import cairo as _cairo

from . import pango_abi as pa
from .tables import Atlas

CELL_W, CELL_H, ORIGIN_X, ORIGIN_Y = 256, 128, 64, 64  # a glyph's ink must stay inside its cell
CELLS = 32  # glyphs drawn per pass


@numba.njit(cache=True, nogil=True)
def ink_boxes(img, words, n, boxes):
    """Per cell k < n of the A8 ``img`` ((CELL_H, stride); ``words``: the same bytes as uint64): ``boxes[k]`` =
    first row, last row + 1, first column, last column + 1 of its ink (cell-relative); all 0 when blank. Returns
    how many cells have ink on their border."""
    edge = 0
    per = CELL_W // 8
    for k in range(n):
        r_lo, r_hi, c_lo, c_hi = CELL_H, 0, CELL_W, 0
        for r in range(CELL_H):
            for j in range(k * per, (k + 1) * per):
                if words[r, j]:  # 8 blank bytes at a time; the columns of an inked word byte by byte
                    r_lo, r_hi = min(r_lo, r), r + 1
                    for b in range(8):
                        if img[r, j * 8 + b]:
                            c = j * 8 + b - k * CELL_W
                            c_lo, c_hi = min(c_lo, c), max(c_hi, c + 1)
        if r_hi == 0:
            boxes[k, 0] = boxes[k, 1] = boxes[k, 2] = boxes[k, 3] = 0
            continue
        boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3] = r_lo, r_hi, c_lo, c_hi
        if r_lo == 0 or c_lo == 0 or r_hi == CELL_H or c_hi == CELL_W:
            edge += 1
    return edge


@numba.njit(cache=True, nogil=True)
def cut_cells(img, n, boxes, rows, row0, data, off0, out):
    """Copy each cell's ink (``boxes`` from ``ink_boxes``) into the atlas (``rows`` from row ``row0``, ``data`` from
    byte ``off0``), blank it in ``img``, and put each cell's atlas row in ``out``."""
    off = off0
    for k in range(n):
        r0, r1, c0, c1 = boxes[k, 0], boxes[k, 1], boxes[k, 2] + k * CELL_W, boxes[k, 3] + k * CELL_W
        h, w = r1 - r0, c1 - c0
        for r in range(h):
            for c in range(w):
                data[off + r * w + c] = img[r0 + r, c0 + c]
                img[r0 + r, c0 + c] = 0
        rows[row0 + k, 0], rows[row0 + k, 1], rows[row0 + k, 2] = off, h, w
        rows[row0 + k, 3] = boxes[k, 2] - ORIGIN_X if h else 0
        rows[row0 + k, 4] = r0 - ORIGIN_Y if h else 0
        out[k] = row0 + k
        off += h * w
    return off


class GlyphMasks:
    """Cropped glyph masks in one ``Atlas`` (rows [offset, height, width, left, top], left/top from the glyph's
    origin on the baseline), drawn on a private A8 surface."""

    def __init__(self):
        import cairocffi

        self.atlas = Atlas(1 << 16)
        self._surface = cairocffi.ImageSurface(cairocffi.FORMAT_A8, CELLS * CELL_W, CELL_H)
        self._sp = self._surface._pointer
        self._cr = cairocffi.Context(self._surface)
        self._crp = self._cr._pointer
        stride = self._surface.get_stride()
        self._img = np.frombuffer(self._surface.get_data(), np.uint8).reshape(CELL_H, stride)
        self._words = self._img.view(np.uint64)  # (stride: a multiple of CELL_W)
        self._paint = pa.GlyphPainter(int(cairocffi.ffi.cast("uintptr_t", self._crp)))
        self._boxes = np.zeros((CELLS, 4), np.int32)
        self._out = np.zeros(CELLS, np.int32)

    def draw(self, font: int, glyphs: list[int], phase: float) -> list[int]:
        """Atlas rows of ``glyphs`` of ``font`` drawn at baseline phase ``phase`` (-1: ink clipped at the border)."""
        out: list[int] = []
        for i in range(0, len(glyphs), CELLS):
            part = glyphs[i:i + CELLS]
            rows = self._draw(font, part, phase, spread=True)
            if rows is None:  # ink at a cell border: one glyph at a time, each alone on the surface
                rows = [r for g in part for r in self._draw(font, [g], phase, spread=False)]
            out += rows
        return out

    def _draw(self, font: int, glyphs: list[int], phase: float, spread: bool) -> list[int] | None:
        n = len(glyphs)
        for k, g in enumerate(glyphs):
            _cairo.cairo_move_to(self._crp, k * CELL_W + ORIGIN_X, ORIGIN_Y + phase)
            self._paint(font, g)
        _cairo.cairo_surface_flush(self._sp)
        boxes = self._boxes[:n]
        edge = ink_boxes(self._img, self._words, n, boxes)
        if edge and spread:
            self._img[...] = 0
            _cairo.cairo_surface_mark_dirty(self._sp)
            return None
        a = self.atlas
        a.reserve(int(((boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])).sum()))
        a.rows.reserve(n)
        a.n = int(cut_cells(self._img, n, boxes, a.rows.a, a.rows.n, a.data, a.n, self._out))
        a.rows.n += n
        _cairo.cairo_surface_mark_dirty(self._sp)
        rows = self._out[:n].tolist()
        if edge:  # (spread is False: a single glyph) clipped at the surface's border
            if self._img.any():
                self._img[...] = 0
                _cairo.cairo_surface_mark_dirty(self._sp)
            return [-1]
        return rows
