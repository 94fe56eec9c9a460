"""``glyphs.ink_boxes`` reads an inked word's bytes only where they could widen the box found so far: the same boxes
(and border count and byte total) as reading every byte, on cells of real glyphs drawn by cairo (Han, kana, Hangul,
Latin, Cyrillic) and on random sparse cells with ink at every byte position of a word and on every border."""

from __future__ import annotations

import numpy as np

from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.render.pango import glyphs as G


def _reference(img: np.ndarray, n: int, cell_w: int, cell_h: int) -> tuple[np.ndarray, int, int]:
    boxes, edge, total = np.zeros((n, 4), np.int32), 0, 0
    for k in range(n):
        rows, cols = np.nonzero(img[:cell_h, k * cell_w:(k + 1) * cell_w])
        if len(rows):
            box = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            boxes[k] = box
            total += (box[1] - box[0]) * (box[3] - box[2])
            edge += box[0] == 0 or box[2] == 0 or box[1] == cell_h or box[3] == cell_w
    return boxes, edge, total


def _check(img: np.ndarray, n: int, cell_w: int, cell_h: int) -> None:
    boxes = np.full((n, 4), -7, np.int32)
    edge, total = G.ink_boxes(img, img.view(np.uint64), n, boxes, cell_w, cell_h)
    want, want_edge, want_total = _reference(img, n, cell_w, cell_h)
    assert np.array_equal(boxes, want), np.flatnonzero((boxes != want).any(axis=1))
    assert (edge, total) == (want_edge, want_total)


def test_boxes_of_random_sparse_cells():
    rng = np.random.default_rng(12)
    cell_w, cell_h, n = 64, 24, 20
    for _ in range(200):
        img = np.zeros((cell_h, cell_w * n + 16), np.uint8)  # (a stride past the last cell, as cairo's may be)
        for k in range(n):
            for _ in range(int(rng.integers(0, 6))):  # a few specks anywhere in the cell, borders included
                r, c = int(rng.integers(0, cell_h)), int(rng.integers(0, cell_w))
                img[r, k * cell_w + c] = rng.integers(1, 256)
            if rng.random() < 0.3:  # a run across words, ending at any byte of one
                r, a = int(rng.integers(0, cell_h)), int(rng.integers(0, cell_w))
                img[r, k * cell_w + a:k * cell_w + int(rng.integers(a, cell_w)) + 1] = 255
        _check(img, n, cell_w, cell_h)


def test_boxes_of_cairo_glyph_rows():
    r = TextRenderer(RenderConfig())
    text = "漢字の組版と한국어 문장 Typography ffi Москва 1948 「かな」カタカナ"
    r(text)
    cache = r._cache
    gm = cache._glyphs
    drawn = 0
    for c, lut in enumerate(cache._cls_lut):
        glyph_ids = np.flatnonzero(lut >= 0).tolist()[:gm._cells]
        if not glyph_ids:
            continue
        font, phase = cache._refs[c], cache._cls_base[c][1]
        G._cairo.cairo_move_to(gm._crp, gm._ox, gm._oy + phase)
        gm._paint.row(font, glyph_ids, gm._cell_w)
        G._cairo.cairo_surface_flush(gm._sp)
        assert gm._img.any()
        _check(gm._img, len(glyph_ids), gm._cell_w, gm._cell_h)
        drawn += len(glyph_ids)
        gm._img[...] = 0
        G._cairo.cairo_surface_mark_dirty(gm._sp)
    assert drawn > 40, drawn
