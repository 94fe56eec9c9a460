"""Glyph masks for the shaping cache: each glyph drawn once by cairo, as Pango draws it inside a run, and kept cropped.

A glyph is drawn by ``pango_cairo_show_glyph_string`` (a string of that one glyph) with its origin on a whole pixel
column and at the class's baseline phase (the fractional part of the baseline's device y), on a blank A8 surface.
Pango places glyphs on whole pixels, so in any run of the class the glyph leaves these same coverage values, shifted.

The glyphs a batch needs are drawn together, in one glyph string (one ``pango_cairo_show_glyph_string`` call for up
to ``CELLS`` glyphs), each in a cell of its own (``CELL_W`` x ``CELL_H`` px, origin at
(``ORIGIN_X``, ``ORIGIN_Y``) of the cell -- or, from ``cell_for``, a cell just big enough for the font's bounding box
in its 'head' table, which holds every glyph's outline: 128 x 48 px instead of 256 x 128 for GoNoto at PIXEL's
size, a fifth of the bytes to scan), then cropped and blanked by one compiled kernel: the per-glyph cost is the
draw call alone. A glyph whose ink reaches its cell's border may have spilled into a neighbour's cell, so such a
batch is drawn again one glyph at a time in the first cell (a clipped glyph is then reported as -1: words holding it
are left to Pango).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numba
import numpy as np
from cairocffi import cairo as _cairo

from . import pango_abi as pa
from .tables import Atlas

CELL_W, CELL_H, ORIGIN_X, ORIGIN_Y = 256, 128, 64, 64  # a glyph's ink must stay inside its cell
CELLS = 128  # glyphs drawn per pass at most (a Han strip brings ~115 new ones: one call, not four) ...
SURFACE_BYTES = 1 << 20  # ... and fewer where the cells would make a larger surface (32 of the default cell)
_MARGIN = 3  # px around the font's bounding box: antialiasing and hinting may reach a pixel past an outline


def cell_for(font_file: str | Path, em_px: float) -> tuple[int, int, int, int]:
    """(cell width, cell height, origin x, origin y) that hold any glyph of ``font_file`` drawn at ``em_px`` pixels
    per em, from the bounding box of all its glyphs (the 'head' table); the default cell when the file is not a
    plain sfnt or the box is larger than the default cell."""
    default = (CELL_W, CELL_H, ORIGIN_X, ORIGIN_Y)
    try:
        with open(font_file, "rb") as f:
            head = f.read(12)
            if head[:4] not in (b"\x00\x01\x00\x00", b"OTTO", b"true"):
                return default
            n = struct.unpack(">H", head[4:6])[0]
            records = f.read(16 * n)
            for i in range(n):
                tag, _, offset, _ = struct.unpack(">4sIII", records[16 * i:16 * i + 16])
                if tag == b"head":
                    f.seek(offset)
                    table = f.read(54)
                    break
            else:
                return default
    except OSError:
        return default
    upem = struct.unpack(">H", table[18:20])[0]
    x_min, y_min, x_max, y_max = struct.unpack(">hhhh", table[36:44])
    if upem <= 0 or x_max < x_min or y_max < y_min:
        return default
    k = em_px / upem
    left, right = math.ceil(-x_min * k) + _MARGIN, math.ceil(x_max * k) + _MARGIN
    above, below = math.ceil(y_max * k) + _MARGIN, math.ceil(-y_min * k) + _MARGIN + 1  # (+1: the baseline phase)
    width = -(-(left + right) // 8) * 8  # the ink kernel reads a cell 8 bytes at a time
    height = above + below
    if width > CELL_W or height > CELL_H or left > ORIGIN_X or above > ORIGIN_Y:
        return default
    return width, height, left, above


@numba.njit(cache=True, nogil=True)
def ink_boxes(img, words, n, boxes, cell_w, cell_h):
    """Per cell k < n (``cell_w`` x ``cell_h``) of the A8 ``img`` ((cell_h, stride); ``words``: the same bytes as
    uint64): ``boxes[k]`` = first row, last row + 1, first column, last column + 1 of its ink (cell-relative); all 0
    when blank. Returns (how many cells have ink on their border, the boxes' total bytes).

    The rows are OR-ed together first, 8 bytes at a time (a loop the compiler vectorizes): a column holds ink iff
    its byte in the OR does (little-endian words: byte b is bits 8b..8b+7), which gives each cell's columns; its
    first and last inked rows are then searched from the top and the bottom within those columns only. The same
    boxes as reading every byte (``tests/test_render_glyph_boxes.py``), in a third of the time for Han glyphs."""
    per = cell_w // 8
    m = n * per
    acc = np.zeros(m, np.uint64)
    for r in range(cell_h):
        for j in range(m):
            acc[j] |= words[r, j]
    edge = 0
    total = 0
    for k in range(n):
        base = k * cell_w
        c_lo, c_hi = cell_w, 0
        for j in range(k * per, (k + 1) * per):
            w = acc[j]
            if w:
                c = j * 8 - base
                if c < c_lo:
                    for b in range(8):
                        if (w >> np.uint64(8 * b)) & np.uint64(255):
                            c_lo = c + b
                            break
                for b in range(7, -1, -1):
                    if (w >> np.uint64(8 * b)) & np.uint64(255):
                        c_hi = c + b + 1
                        break
        if c_hi == 0:
            boxes[k, 0] = boxes[k, 1] = boxes[k, 2] = boxes[k, 3] = 0
            continue
        j0, j1 = (base + c_lo) // 8, (base + c_hi - 1) // 8 + 1
        r_lo, r_hi = 0, cell_h
        while True:
            hit = False
            for j in range(j0, j1):
                if words[r_lo, j]:
                    hit = True
                    break
            if hit:
                break
            r_lo += 1
        while True:
            hit = False
            for j in range(j0, j1):
                if words[r_hi - 1, j]:
                    hit = True
                    break
            if hit:
                break
            r_hi -= 1
        boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3] = r_lo, r_hi, c_lo, c_hi
        total += (r_hi - r_lo) * (c_hi - c_lo)
        if r_lo == 0 or c_lo == 0 or r_hi == cell_h or c_hi == cell_w:
            edge += 1
    return edge, total


@numba.njit(cache=True, nogil=True)
def cut_cells(img, n, boxes, rows, row0, data, off0, out, cell_w, origin_x, origin_y):
    """Copy each cell's ink (``boxes`` from ``ink_boxes``) into the atlas (``rows`` from row ``row0``, ``data`` from
    byte ``off0``), blank it in ``img``, and put each cell's atlas row in ``out``."""
    off = off0
    for k in range(n):
        r0, r1, c0, c1 = boxes[k, 0], boxes[k, 1], boxes[k, 2] + k * cell_w, boxes[k, 3] + k * cell_w
        h, w = r1 - r0, c1 - c0
        for r in range(h):
            for c in range(w):
                data[off + r * w + c] = img[r0 + r, c0 + c]
                img[r0 + r, c0 + c] = 0
        rows[row0 + k, 0], rows[row0 + k, 1], rows[row0 + k, 2] = off, h, w
        rows[row0 + k, 3] = boxes[k, 2] - origin_x if h else 0
        rows[row0 + k, 4] = r0 - origin_y if h else 0
        out[k] = row0 + k
        off += h * w
    return off


@numba.njit(cache=True, nogil=True)
def new_glyphs(item, lut, out):
    """The distinct glyphs of a shaped item (``item``: Pango's glyph infos, (n, 5) int32, the glyph in column 0)
    that a class's ``lut`` has not drawn yet (-2), skipping PANGO_GLYPH_EMPTY and unknown characters' boxes (ids
    past the table), into ``out`` in the order they first occur; ``lut`` is left as it was. Returns their count."""
    n = 0
    size = lut.shape[0]
    for i in range(item.shape[0]):
        g = item[i, 0]
        if 0 <= g < size and lut[g] == -2:
            lut[g] = -4  # (seen: restored below)
            out[n] = g
            n += 1
    for i in range(n):
        lut[out[i]] = -2
    return n


class GlyphMasks:
    """Cropped glyph masks in one ``Atlas`` (rows [offset, height, width, left, top], left/top from the glyph's
    origin on the baseline), drawn on a private A8 surface."""

    def __init__(self, cell: tuple[int, int, int, int] = (CELL_W, CELL_H, ORIGIN_X, ORIGIN_Y)):
        import cairocffi

        self.atlas = Atlas(1 << 16)
        self._cell_w, self._cell_h, self._ox, self._oy = cell
        self._cells = max(1, min(CELLS, SURFACE_BYTES // (self._cell_w * self._cell_h)))
        self._surface = cairocffi.ImageSurface(cairocffi.FORMAT_A8, self._cells * self._cell_w, self._cell_h)
        self._sp = self._surface._pointer
        self._cr = cairocffi.Context(self._surface)
        self._crp = self._cr._pointer
        stride = self._surface.get_stride()
        self._img = np.frombuffer(self._surface.get_data(), np.uint8).reshape(self._cell_h, stride)
        self._img.fill(0)  # (its pages faulted in now, not by the first strip's glyphs: see tables.touched)
        self._words = self._img.view(np.uint64)  # (stride: a multiple of 8)
        self._paint = pa.GlyphPainter(int(cairocffi.ffi.cast("uintptr_t", self._crp)))
        self._boxes = np.zeros((self._cells, 4), np.int32)
        self._out = np.zeros(self._cells, np.int32)

    def draw(self, font: int, glyphs: list[int], phase: float) -> list[int]:
        """Atlas rows of ``glyphs`` of ``font`` drawn at baseline phase ``phase`` (-1: ink clipped at the border)."""
        out: list[int] = []
        for i in range(0, len(glyphs), self._cells):
            part = glyphs[i:i + self._cells]
            rows = self._draw(font, part, phase, spread=True)
            if rows is None:  # ink at a cell border: one glyph at a time, each alone on the surface
                rows = [r for g in part for r in self._draw(font, [g], phase, spread=False)]
            out += rows
        return out

    def _draw(self, font: int, glyphs: list[int], phase: float, spread: bool) -> list[int] | None:
        n = len(glyphs)
        _cairo.cairo_move_to(self._crp, self._ox, self._oy + phase)
        if n == 1:
            self._paint(font, glyphs[0])
        else:  # one glyph string, one glyph per cell: one call, not one per glyph
            self._paint.row(font, glyphs, self._cell_w)
        _cairo.cairo_surface_flush(self._sp)
        boxes = self._boxes[:n]
        edge, total = ink_boxes(self._img, self._words, n, boxes, self._cell_w, self._cell_h)
        if edge and spread:
            self._img[...] = 0
            _cairo.cairo_surface_mark_dirty(self._sp)
            return None
        a = self.atlas
        if a.n + total > len(a.data):
            a.reserve(total)
        if a.rows.n + n > len(a.rows.a):
            a.rows.reserve(n)
        a.n = int(cut_cells(self._img, n, boxes, a.rows.a, a.rows.n, a.data, a.n, self._out, self._cell_w, self._ox,
                            self._oy))
        a.rows.n += n
        _cairo.cairo_surface_mark_dirty(self._sp)
        rows = self._out[:n].tolist()
        if edge:  # (spread is False: a single glyph) clipped at the surface's border
            if self._img.any():
                self._img[...] = 0
                _cairo.cairo_surface_mark_dirty(self._sp)
            return [-1]
        return rows
