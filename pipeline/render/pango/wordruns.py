"""Word lists in one compiled call: a word list's runs kept as ink, laid out and painted by one kernel.

A word list (POS, NER, parsing input) is drawn run by run: "word " for every word but the last, the last word alone,
each run starting on a patch boundary (``Renderer.render_words``). The renderer already remembers each short run
once (``PangoCairoRenderer._run``: its cached words, or the mask Pango drew for it). Here each such run is turned
into what it leaves on a blank strip -- an A8 mask the strip's height, its left offset from the run's origin, its
advance and its unknown glyph count -- and ``draw_runs`` does the whole per-word loop of ``render_words`` in
compiled code: the widths, the patch-aligned x of each word, the stop before a word that does not fit, the word
starts, the x the EOS patch is found from, and every run painted OVER the strip as cairo paints a run.

Why the masks give the loop's pixels exactly: a cached run is composed into blank paper by a saturating add of its
words' masks, and a run drawn over ink is that same composition painted OVER the canvas (``kernels.compose``); on
blank paper OVER is a copy. So every run can be painted OVER, in order, from its composition on blank paper --
which is the mask kept here (clipping to the strip's rows and columns is per pixel, so it commutes). A first word
wider than the strip (cut by ``_fit``) is left to the per-word loop; ``tests/test_word_kernel.py`` compares both
paths on real UD sentences and on truncated lists.
"""

from __future__ import annotations

import numba
import numpy as np

from .kernels import _memcpy
from .tables import Rows

# columns of the runs table: a mask of HEIGHT x WIDTH bytes (row-major) at OFFSET in the atlas, its top-left at
# (LEFT, TOP) from the run's origin on the strip's top row
OFFSET, HEIGHT, WIDTH, LEFT, TOP, ADVANCE, UNKNOWN = range(7)
ORIGIN = 32  # px: where a run is composed on the blank capture buffer (room for ink left of its origin)
_NO_INK = np.zeros((0, 0), np.uint8)


@numba.njit(cache=True, nogil=True)
def draw_runs(rows, table, atlas, canvas, width, x0, limit, ppp, last_patch, gap, starts):
    """The per-word loop of ``render_words`` for runs ``rows`` (rows of ``table``), onto the blank A8 ``canvas``
    ((H, stride), ``width`` columns visible). Returns (words drawn, x after the last, unknown glyphs, truncated,
    the column after the last one painted); ``starts[:drawn]`` gets each word's start patch. (-1, 0, 0, False, 0),
    with nothing painted, when the first run does not fit: the caller cuts it."""
    n = rows.shape[0]
    x = x0
    drawn = 0
    truncated = False
    # 1. layout: a run must end GAP px before the EOS patch's latest start (``limit``); the next starts on the patch
    # boundary at or after its end (after the last word: its end + GAP), at most the last patch
    for i in range(n):
        adv = table[rows[i], ADVANCE]
        if adv > limit - x - gap:
            if i == 0:
                return -1, 0, 0, False, 0
            truncated = True  # stop before the first word that does not fit
            break
        starts[i] = x
        end = x + adv + (gap if i == n - 1 else 0)
        x = min((end + ppp - 1) // ppp, last_patch) * ppp
        drawn += 1
    # 2. paint each run's mask OVER the canvas at its x (clipped to the strip), as cairo paints a run:
    # out = s + canvas * (255 - s) / 255, rounded as pixman does. Runs go left to right, so the canvas is still
    # blank from column ``hi`` (right of all ink so far) on, where OVER is a copy.
    H, stride = canvas.shape[0], canvas.shape[1]
    flat = canvas.reshape(canvas.size)
    unknown = 0
    hi = 0
    for i in range(drawn):
        r = rows[i]
        off, h, w = table[r, OFFSET], table[r, HEIGHT], table[r, WIDTH]
        px, py = starts[i] + table[r, LEFT], table[r, TOP]
        c0, c1 = max(0, -px), min(w, width - px)
        split = min(max(hi - px, c0), c1)
        for row in range(max(0, -py), min(h, H - py)):
            src, dst = off + row * w, (py + row) * stride + px
            for c in range(c0, split):
                s = np.int32(atlas[src + c])
                if s:
                    t = np.int32(flat[dst + c]) * (255 - s) + 128
                    flat[dst + c] = s + ((t + (t >> 8)) >> 8)
            if c1 > split:
                _memcpy(flat, np.int64(dst + split), atlas, np.int64(src + split), np.int64(c1 - split))
        if c1 > c0:
            hi = max(hi, px + c1)
        unknown += table[r, UNKNOWN]
        starts[i] //= ppp
    return drawn, x, unknown, truncated, hi


class WordRuns:
    """The runs a renderer has met in word lists, as masks in tables ``draw_runs`` reads (at most ``max_runs``;
    then it starts over). ``cache``: the renderer's ``ShapeCache``; ``compose(buf, width, found, x)`` composes a
    lookup of it into the blank A8 ``buf`` and returns the columns it inked."""

    def __init__(self, height: int, width: int, cache, compose, max_runs: int = 50_000):
        self.height, self.width, self.max_runs = height, width, max_runs
        self._cache, self._compose = cache, compose
        self._buf = np.zeros((height, width), np.uint8)  # blank paper to compose a new run on
        self._starts = np.zeros(64, np.int64)
        self.lists = 0  # word lists drawn by the kernel
        self._reset()

    def _reset(self) -> None:
        self.ids: dict[str, int | None] = {}  # run text -> table row (None: only the per-word loop draws it)
        self.table = Rows(7)
        self.atlas = np.zeros(1 << 20, np.uint8)
        self.used = 0

    def rows(self, runs: list[str], entry, prefetch) -> np.ndarray | None:
        """The table rows of ``runs``, adding the new ones from ``entry(run)`` (``PangoCairoRenderer._run``;
        ``prefetch()`` is called first, once, so that their words are shaped in one batch); None when a run has
        no mask (too long, ink past the capture buffer's edge): the per-word loop draws the list."""
        if len(self.ids) > self.max_runs:
            self._reset()
        ids = self.ids
        rows = list(map(ids.get, runs))
        if None in rows:
            if any(r not in ids for r in runs):
                prefetch()
            for i, r in enumerate(rows):
                if r is None:
                    run = runs[i]
                    if run not in ids:
                        ids[run] = self._add(entry(run))
                    r = rows[i] = ids[run]
                    if r is None:
                        return None
        return np.array(rows, np.int32)

    def _add(self, entry) -> int | None:
        """A table row for one ``_run`` entry: ("c", found) composed here on blank paper, ("m", width, unknown, mask,
        left) as Pango drew it; None for None or ink reaching the capture buffer's edge."""
        if entry is None:
            return None
        if entry[0] == "m":
            _, advance, unknown, mask, left = entry
            if mask is None:
                return self._keep(_NO_INK, 0, 0, 0, 0, advance, unknown)
            return self._keep(mask, *mask.shape, left, 0, advance, unknown)
        found = entry[1]
        one = self._cache.word_mask(found)  # one word: its mask as compose paints it, no composing needed
        if one is not None:
            return self._keep(*one, found[1], 0)
        lo, hi = self._compose(self._buf, self.width, found, ORIGIN)
        if hi <= lo:
            return self._keep(_NO_INK, 0, 0, 0, 0, found[1], 0)
        if lo == 0 or hi == self.width:
            self._buf[...] = 0
            return None
        row = self._keep(self._buf[:, lo:hi], self.height, hi - lo, lo - ORIGIN, 0, found[1], 0)
        self._buf[:, lo:hi] = 0
        return row

    def _keep(self, mask: np.ndarray, h: int, w: int, left: int, top: int, advance: int, unknown: int) -> int:
        size, used = h * w, self.used
        if used + size > len(self.atlas):
            grown = np.zeros(max(2 * len(self.atlas), used + size), np.uint8)
            grown[:used] = self.atlas[:used]
            self.atlas = grown
        self.atlas[used:used + size] = mask.reshape(-1)
        t = self.table
        if t.n == len(t.a):
            t.reserve(1)
        t.a[t.n] = used, h, w, left, top, advance, unknown
        t.n += 1
        self.used += size
        return t.n - 1

    def draw(self, rows: np.ndarray, canvas: np.ndarray, x0: int, limit: int, ppp: int, last_patch: int, gap: int):
        """``draw_runs`` onto ``canvas``: (word starts, x after the last word, unknown glyphs, truncated, the column
        after the last one painted), or None (nothing painted) when the first word does not fit."""
        if len(self._starts) < len(rows):
            self._starts = np.zeros(2 * len(rows), np.int64)
        n, x, unknown, truncated, hi = draw_runs(rows, self.table.a, self.atlas, canvas, self.width, x0, limit, ppp,
                                                 last_patch, gap, self._starts)
        if n < 0:
            return None
        self.lists += 1
        return self._starts[:n].tolist(), int(x), int(unknown), bool(truncated), int(hi)
