"""PangoCairo backend (through pangocffi/pangocairocffi/cairocffi; no PyGObject).

Geometry follows PIXEL's PangoCairoTextRenderer: an A8 (gray) or RGB24 surface one patch high, the font as
``"<family> <dpi/72*pt>px"``, each run drawn at y = ppp/2 - h/2 - 2 (- 1 for patches under 10 px, as PIXAR),
then inverted so ink is black on white.
Pango shapes complex scripts (HarfBuzz), lays out bidi text, and reports glyphs no loaded font has.

Gray and binary strips take the shaping cache (``pango/shapecache.py``) when they can: words shaped once, glyph masks
drawn once, strips composed in compiled code -- the same pixels, several times faster. Anything it does not
take (right-to-left pairs, a word split between bidi levels but at marks, several fonts in one run, unknown glyphs)
is laid out and drawn by Pango.
The cache is used with a single font file that ``pango/spacecheck.py`` passes (the pinned fonts all do).
``shape_cache=False`` (or ``PIXELKIT_SHAPE_CACHE=0``) draws everything through Pango.
Word lists whose runs all have masks are laid out and painted in one compiled call (``pango/wordruns.py``);
``word_kernel=False`` (or ``PIXELKIT_WORD_KERNEL=0``) keeps the per-word loop. ``PIXELKIT_ASCII_PATH=0`` has the
cache shape every new Latin, Cyrillic or Greek word with Pango instead of writing its glyph string
(``pango/glyphshape.py``).
"""

from __future__ import annotations

import logging
import os

import cairocffi
import numpy as np
import pangocffi
import pangocairocffi
from pangocffi import pango

from .base import Renderer
from .pango.fontconfig import PrivateFontConfig, address
from .pango.spacecheck import verdict

_PANGO_SCALE = 1024
_SAFE_PX = 1 << 20  # a run measured whole only below this (characters x em px); Pango's int widths end at 2**21 px
# fringes of neighbouring glyphs overlap, digits, punctuation, kerned pairs, and a long line (a Pango that rounded
# positions along the line instead of per glyph would show there): what the cache must get right
_PANGRAM = "Typography: AVAWAY fjord ffi 0123456789 -- (quick) brown fox, 'lazy' dog! Wavy jump, lit office."
CANARY = (" ".join([_PANGRAM] * 6), "Wavy jump, lit office.")
# right to left: Hebrew kerned by x offsets off whole pixels, Arabic marks placed by y offsets off whole pixels,
# numbers (level-2 items) between words -- composed in reverse order, each glyph at the pixel cairo rounds it to
RTL_CANARY = ("הואיל והכרה בכבוד 1948 הטבעי", "وضميرًا أحرارًا ١٩٤٨ 2024 عقلاً")
log = logging.getLogger(__name__)
_pffi = pangocffi.ffi
_pcffi = pangocairocffi.ffi
_pangocairo = pangocairocffi.pangocairo
_cairo = cairocffi.cairo


def _ink_span_np(pixels: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero(pixels.any(axis=0))
    return (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 0)


class PangoCairoRenderer(Renderer):
    def __init__(self, cfg, shape_cache: bool = True, word_kernel: bool = True):
        super().__init__(cfg)
        self.shape_cache = shape_cache and cfg.mode != "rgb" and os.environ.get("PIXELKIT_SHAPE_CACHE", "1") != "0"
        self.word_kernel = word_kernel and os.environ.get("PIXELKIT_WORD_KERNEL", "1") != "0"
        self.ascii_path = os.environ.get("PIXELKIT_ASCII_PATH", "1") != "0"  # pango/glyphshape.py (0: off, for A/B)

    def __getstate__(self) -> dict:
        return {"cfg": self.cfg, "shape_cache": self.shape_cache, "word_kernel": self.word_kernel}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cfg"], state.get("shape_cache", True), state.get("word_kernel", True))

    @property
    def cache_stats(self) -> dict | None:
        """The shaping cache's counters (lookups, strips gated, composed strips, batches, words in batches, words
        shaped, foreign words, resets, strips declined for cost and words noted from / cut from Pango's layouts --
        see pango/adopt.py --, words held), or None when this renderer draws everything through Pango."""
        self._ensure()
        return None if self._cache is None else {**self._cache.stats, "words": self._cache.size}

    def _setup(self) -> None:
        c = self.cfg
        self._fonts = PrivateFontConfig(c.font_files())
        fontmap = _pangocairo.pango_cairo_font_map_new()  # fontconfig + FreeType on Linux
        if fontmap == _pcffi.NULL:
            raise RuntimeError("Pango could not create a cairo font map")
        self._fonts.attach(address(fontmap, _pcffi))
        self._fontmap = fontmap

        fmt = cairocffi.FORMAT_RGB24 if c.mode == "rgb" else cairocffi.FORMAT_A8
        self._surface = cairocffi.ImageSurface(fmt, c.width, c.height)
        ptr = self._surface._pointer  # cairo's own calls, without cairocffi's per-call status check (hot path)
        self._flush = lambda: _cairo.cairo_surface_flush(ptr)
        self._mark_dirty = lambda: _cairo.cairo_surface_mark_dirty(ptr)
        self._cr = cairocffi.Context(self._surface)
        stride = self._surface.get_stride()
        raw = np.frombuffer(self._surface.get_data(), dtype=np.uint8).reshape(c.height, stride)
        self._raw = raw
        self._pixels = raw[:, : c.width * 4].reshape(c.height, c.width, 4) if c.mode == "rgb" else raw[:, : c.width]
        self._columns = None  # gray / binary: the canvas out in column order in one pass (pango/columns.py)
        self._ink_span = lambda: _ink_span_np(self._pixels)  # the columns [a, b) holding ink
        if c.mode != "rgb" and stride % 8 == 0:
            from .pango.columns import canvas_columns, ink_span

            raw64 = raw.view(np.uint64)
            self._columns = lambda out, end: canvas_columns(raw, raw64, c.width, out, end)
            self._ink_span = lambda: ink_span(raw, raw64, c.width)

        cr_ptr = _pcffi.cast("cairo_t *", address(self._cr._pointer, cairocffi.ffi))
        self._cr_ptr = cr_ptr
        ctx = pango.pango_font_map_create_context(_pffi.cast("PangoFontMap *", address(fontmap, _pcffi)))
        _pangocairo.pango_cairo_update_context(cr_ptr, _pcffi.cast("PangoContext *", address(ctx, _pffi)))
        self._context = ctx
        self._layout = pango.pango_layout_new(ctx)
        self._layout_pc = _pcffi.cast("PangoLayout *", address(self._layout, _pffi))
        families = ",".join(self._fonts.families)
        desc = pango.pango_font_description_from_string(f"{families} {c.font_px}px".encode())
        pango.pango_layout_set_font_description(self._layout, desc)
        pango.pango_context_set_font_description(ctx, desc)  # what pango_itemize (the shaping cache) reads
        pango.pango_font_description_free(desc)
        self._size = _pffi.new("int[2]")
        self._text: str | None = None
        self._base_dir, self._rtl = pango.pango_context_get_base_dir(ctx), False
        # the canvas holds ink since the last _clear; none right of column _ink_end (the word kernel's runs end
        # there, any other draw may ink anywhere)
        self._inked, self._ink_end = False, c.width
        self._cache = self._found_text = self._found = self._word_runs = None
        self._runs, self._runs_epoch, self._measured = {}, 0, (None, None)
        fonts = c.font_files()
        check = verdict(fonts[0]) if self.shape_cache and len(fonts) == 1 else None
        if check is not None and check.eligible:  # see spacecheck.py: words of this font shape independently
            from .pango.glyphs import cell_for
            from .pango.shapecache import ShapeCache

            from .pango.glyphcheck import verdict as glyph_verdict
            from .pango.cjkcheck import verdict as cjk_verdict

            cjk = cjk_verdict(fonts[0])  # Han/kana characters no lookup ties to a neighbour (pango/cjkcheck.py)
            self._cache = ShapeCache(address(ctx, _pffi), self._line_metrics, self._y_top, check.risky_glyphs,
                                     glyph_cell=cell_for(fonts[0], c.font_px),
                                     cjk_chars=cjk.chars if cjk is not None and cjk.eligible else frozenset(),
                                     glyph_checks=glyph_verdict(fonts[0]) if self.ascii_path else None)
            self._scratch = np.zeros((c.height, c.width), np.uint8)
            self._check_cache()
        if self._cache is not None and self.word_kernel:
            from .pango.wordruns import WordRuns

            self._word_runs = WordRuns(c.height, c.width, self._cache, self._compose_blank)

    def _check_cache(self) -> None:
        """Compose a canary through the cache and through Pango; on any difference (a cairo or Pango build that
        composites glyphs otherwise than the one these tests run on) turn the cache off and say so."""
        a, b = CANARY
        composed = []
        for use_cache in (True, False):
            cache, self._found_text = self._cache, None
            if not use_cache:
                self._cache = None
            self._clear()
            self._draw(a, self.cfg.pad_left)
            self._draw(b, self.cfg.pad_left + 3)  # a second run over the first's ink: painted OVER it
            self._draw(b, self.cfg.width // 2)
            self._draw(RTL_CANARY[0], 3 * self.cfg.width // 4)
            self._draw(RTL_CANARY[1], 7 * self.cfg.width // 8)
            composed.append(self._canvas())
            self._cache = cache
        self._found_text = None
        if not np.array_equal(*composed):
            log.warning("the shaping cache does not reproduce Pango's pixels with this cairo/Pango build "
                        "(%d pixels differ on a canary); rendering through Pango only",
                        int((composed[0] != composed[1]).sum()))
            self._cache = None

    def __del__(self) -> None:
        layout = getattr(self, "_layout", None)
        if layout is not None:
            pangocffi.gobject.g_object_unref(layout)
            pangocffi.gobject.g_object_unref(self._context)

    # -- primitives -----------------------------------------------------------------------------------
    def _set(self, text: str) -> None:
        if text != self._text:  # measuring then drawing the same run lays it out once
            data = text.encode("utf-8")
            pango.pango_layout_set_text(self._layout, data, len(data))
            self._text = text

    def _set_base_rtl(self, rtl: bool) -> None:
        """PIXEL's RTL pair layout: no automatic direction, an RTL base direction, right alignment."""
        if rtl == self._rtl:
            return
        pango.pango_layout_set_auto_dir(self._layout, not rtl)
        pango.pango_context_set_base_dir(self._context, pango.PANGO_DIRECTION_RTL if rtl else self._base_dir)
        pango.pango_layout_set_alignment(self._layout, pango.PANGO_ALIGN_RIGHT if rtl else pango.PANGO_ALIGN_LEFT)
        pango.pango_layout_context_changed(self._layout)
        self._rtl, self._text = rtl, None  # the next run is laid out afresh

    def _pixel_size(self) -> tuple[int, int]:
        pango.pango_layout_get_pixel_size(self._layout, self._size, self._size + 1)
        return self._size[0], self._size[1]

    def _y_top(self, height: int) -> float:
        """PIXEL's placement of a run (2 px above centre); under 10 px patches 1 px, as PIXAR's renderer does,
        which keeps PixeloidSans's caps and ascenders whole in 8 px patches (baseline on row 7)."""
        ppp = self.cfg.pixels_per_patch
        return ppp / 2.0 - height / 2.0 - (1 if ppp < 10 else 2)

    def _line_metrics(self, text: str) -> tuple[int, int]:
        self._set(text)
        return self._pixel_size()[1], pango.pango_layout_get_baseline(self._layout)

    def _cached(self, text: str):
        """The shaping cache's layout of ``text`` (word ids, width, class), or None: Pango's turn."""
        if self._cache is None or self._rtl:
            return None
        if text != self._found_text:  # measuring then drawing the same run looks it up once
            self._found, self._found_text = self._cache.lookup(text), text
        return self._found

    def _prefetch(self, texts: list[str]) -> None:
        if self._cache is not None:
            self._cache.prefetch(texts)

    def _measure(self, text: str) -> int:
        found = self._cached(text)
        if found is not None:
            return found[1]
        if len(text) * self.cfg.font_px > _SAFE_PX and len(text) > 1:  # past 2**31 Pango units a layout measured 0:
            half = len(text) // 2  # 27,600 characters at --font_size 120 "fit" one patch; in halves, never that wide
            return self._measure(text[:half]) + self._measure(text[half:])
        self._set(text)
        return self._pixel_size()[0]

    def _draw(self, text: str, x: int) -> tuple[int, int]:
        found = self._cached(text)
        self._flush()
        if found is not None:
            self._cache.compose(self._raw, self.cfg.width, self._scratch, self._inked, found, x)
            self._mark_dirty()
            self._inked, self._ink_end = True, self.cfg.width
            return found[1], 0
        return self._draw_pango(text, x)

    def _draw_pango(self, text: str, x: int) -> tuple[int, int]:
        self._set(text)
        width, height = self._pixel_size()
        _cairo.cairo_move_to(self._cr._pointer, x, self._y_top(height))  # Context.move_to without its status check
        _pangocairo.pango_cairo_show_layout(self._cr_ptr, self._layout_pc)
        self._inked, self._ink_end = True, self.cfg.width
        if self._cache is not None and self._cache.declined == text and not self._rtl:
            self._cache.adopt(text, address(self._layout, _pffi))  # its new words, as this layout shaped them
        return width, pango.pango_layout_get_unknown_glyphs_count(self._layout)

    # -- word lists: short runs looked up once ------------------------------------------------------------
    _RUN_CHARS, _RUN_ORIGIN, _RUNS_MAX = 48, 32, 50_000

    def _run(self, text: str):
        """A word-list run, looked up once: ("c", found) when the shaping cache composes it, ("m", width,
        unknown, mask, left) when Pango draws it (punctuation alone, a word the cache cannot take) -- its A8
        mask as Pango drew it on a blank canvas, which at any whole-pixel x is the same mask shifted (Pango puts
        glyphs on whole pixels) -- or None: Pango draws it every time."""
        if self._cache is None or self._rtl or len(text) > self._RUN_CHARS:
            return None
        if self._runs_epoch != self._cache.stats["resets"] or len(self._runs) > self._RUNS_MAX:
            self._runs, self._runs_epoch = {}, self._cache.stats["resets"]  # word ids changed: start over
        if text in self._runs:
            return self._runs[text]
        found = self._cached(text)
        entry = ("c", found) if found is not None else self._capture_run(text)
        self._runs[text] = entry
        return entry

    def _capture_run(self, text: str):
        """Draw ``text`` through Pango on a blank canvas (the strip's canvas: blanked and restored afterwards when it
        holds ink) and keep its ink."""
        self._flush()
        saved, end = self._raw.copy() if self._inked else None, self._ink_end
        if saved is not None:
            self._pixels[...] = 0
            self._mark_dirty()
        width, unknown = self._draw_pango(text, self._RUN_ORIGIN)
        self._flush()
        a, b = self._ink_span()
        if a < b and (a == 0 or b == self.cfg.width):
            entry = None  # ink at the canvas's edge: not all of it was captured
        elif a < b:
            entry = ("m", width, unknown, self._pixels[:, a:b].copy(), a - self._RUN_ORIGIN)
        else:
            entry = ("m", width, unknown, None, 0)
        if saved is None:
            self._pixels[:, a:b] = 0  # blank again
            self._inked = False
        else:
            self._raw[...] = saved
        self._ink_end = end  # the canvas is as it was
        self._mark_dirty()
        return entry

    def _measure_word(self, text: str) -> int:
        entry = self._run(text)
        self._measured = (text, entry)  # render_words draws the run it just measured: look it up once
        if entry is None:
            return self._measure(text)
        return entry[1][1] if entry[0] == "c" else entry[1]

    def _draw_word(self, text: str, x: int) -> tuple[int, int]:
        last, entry = self._measured
        if last is not text:
            entry = self._run(text)
        # A word list's runs are written into the canvas memory without a cairo flush / mark_dirty around each:
        # _clear flushed, and cairo draws on this surface again only through _draw (below: marked dirty first,
        # flushed after) or after the next _clear; _capture_run flushes and marks on its own; _canvas only reads.
        if entry is None:
            self._mark_dirty()
            out = self._draw(text, x)
            self._flush()
            return out
        if entry[0] == "c":
            self._cache.compose(self._raw, self.cfg.width, self._scratch, self._inked, entry[1], x)
            self._inked, self._ink_end = True, self.cfg.width
            return entry[1][1], 0
        _, width, unknown, mask, left = entry
        if mask is not None:  # painted OVER the canvas as cairo paints a run (onto blank paper: a copy)
            a, b = max(0, x + left), min(self.cfg.width, x + left + mask.shape[1])
            if a < b:
                s = mask[:, a - x - left:b - x - left].astype(np.int32)
                region = self._pixels[:, a:b]
                t = region.astype(np.int32) * (255 - s) + 128
                region[...] = s + ((t + (t >> 8)) >> 8)
        self._inked, self._ink_end = True, self.cfg.width
        return width, unknown

    def _compose_blank(self, buf: np.ndarray, width: int, found, x: int) -> tuple[int, int]:
        """A cached run composed onto the blank (H, width) ``buf`` from pixel ``x``; the columns it inked."""
        return self._cache.compose(buf, width, buf, False, found, x)

    def _draw_word_list(self, words: list[str], x0: int, limit: int, gap: int):
        """The whole word list in one compiled call when every run has a mask (``pango/wordruns.py``)."""
        if self._word_runs is None or self._rtl:
            return None
        runs = [w + " " for w in words]
        runs[-1] = words[-1]
        rows = self._word_runs.rows(runs, self._run, lambda: self._prefetch([" ".join(words)]))
        if rows is None:
            return None
        c = self.cfg
        out = self._word_runs.draw(rows, self._raw, x0, limit, c.pixels_per_patch, c.max_patches - 1, gap)
        if out is None:
            return None
        self._inked, self._ink_end = True, max(self._ink_end, out[4])
        return out[:4]

    def _index_at(self, text: str, x: int) -> int | None:
        """Characters left of pixel ``x`` in the laid-out run (Pango's hit test); a hint for truncation."""
        self._set(text)
        idx, trailing = _pffi.new("int *"), _pffi.new("int *")
        pango.pango_layout_xy_to_index(self._layout, x * _PANGO_SCALE, 0, idx, trailing)
        return len(text.encode("utf-8")[: idx[0]].decode("utf-8", errors="ignore"))

    def _clear(self) -> None:
        self._flush()
        if self.cfg.mode == "rgb":
            self._pixels[...] = 255
        else:
            self._pixels[:, :self._ink_end] = 0  # A8: alpha 0 is blank paper (right of _ink_end it is already)
        self._mark_dirty()
        self._inked, self._ink_end = False, 0

    def _canvas(self) -> np.ndarray:
        self._flush()
        if self.cfg.mode == "rgb":
            return np.ascontiguousarray(self._pixels[:, :, 2::-1])  # cairo's BGRx -> RGB
        if self._columns is None:
            return np.invert(self._pixels)  # alpha coverage -> black ink on white (a copy)
        out = np.empty((self.cfg.width, self.cfg.height), np.uint8)
        self._columns(out, self._ink_end)  # the same, written column by column: pxz's order (pango/columns.py)
        return out.T

    def _char_starts(self, text: str) -> list[float]:
        """Start x of every character, from Pango's layout iterator (handles clusters and bidi)."""
        self._set(text)
        byte_to_char = {}
        pos = 0
        for i, ch in enumerate(text):
            byte_to_char[pos] = i
            pos += len(ch.encode("utf-8"))
        starts = [0.0] * len(text)
        it = pango.pango_layout_get_iter(self._layout)
        rect = _pffi.new("PangoRectangle *")
        try:
            while True:
                pango.pango_layout_iter_get_char_extents(it, rect)
                idx = byte_to_char.get(pango.pango_layout_iter_get_index(it))
                if idx is not None:
                    starts[idx] = min(rect.x, rect.x + rect.width) / _PANGO_SCALE
                if not pango.pango_layout_iter_next_char(it):
                    break
        finally:
            pango.pango_layout_iter_free(it)
        return starts
