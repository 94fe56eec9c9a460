"""Pango's public C structs and the few calls the shaping cache needs, through our own cffi ABI binding.

pangocffi declares ``PangoGlyphString`` and ``PangoAnalysis`` opaque, so glyphs cannot be read through it. The
layouts below are the public, stable ones from pango/pango-glyph.h, pango-item.h and pango-glyph-item.h (unchanged
since Pango 1.44, the first release that shapes with HarfBuzz everywhere). The libraries are the ones pangocffi
and pangocairocffi already loaded into the process; pointers pass between bindings by address.
"""

from __future__ import annotations

import ctypes.util
from typing import NamedTuple

import numpy as np
from cffi import FFI

ffi = FFI()
ffi.cdef(
    """
    typedef struct { int width; int x_offset; int y_offset; } PangoGlyphGeometry;
    typedef struct { unsigned int is_cluster_start : 1; unsigned int is_color : 1; } PangoGlyphVisAttr;
    typedef struct { uint32_t glyph; PangoGlyphGeometry geometry; PangoGlyphVisAttr attr; } PangoGlyphInfo;
    typedef struct { int num_glyphs; PangoGlyphInfo *glyphs; int *log_clusters; int space; } PangoGlyphString;
    typedef struct {
        void *shape_engine; void *lang_engine; void *font;
        uint8_t level; uint8_t gravity; uint8_t flags; uint8_t script;
        void *language; void *extra_attrs;
    } PangoAnalysis;
    typedef struct { int offset; int length; int num_chars; PangoAnalysis analysis; } PangoItem;
    typedef struct _GList { void *data; struct _GList *next; struct _GList *prev; } GList;
    typedef struct _GSList { void *data; struct _GSList *next; } GSList;
    typedef struct { PangoItem *item; PangoGlyphString *glyphs; } PangoGlyphItem;  /* (its first fields) */
    typedef struct {
        void *layout; int start_index; int length; GSList *runs;
        unsigned int is_paragraph_start : 1; unsigned int resolved_dir : 3;
    } PangoLayoutLine;

    GList *pango_itemize(void *context, const char *text, int start_index, int length, void *attrs, void *iter);
    GList *pango_itemize_with_base_dir(void *context, int base_dir, const char *text, int start_index, int length,
                                       void *attrs, void *iter);
    void pango_item_free(PangoItem *item);
    void g_list_free(GList *list);
    int g_unichar_get_script(uint32_t ch);
    void *g_object_ref(void *object);
    void g_object_unref(void *object);
    PangoGlyphString *pango_glyph_string_new(void);
    void pango_glyph_string_set_size(PangoGlyphString *string, int new_len);
    void pango_glyph_string_free(PangoGlyphString *string);
    void pango_shape_with_flags(const char *item_text, int item_length, const char *paragraph_text,
                                int paragraph_length, const PangoAnalysis *analysis, PangoGlyphString *glyphs,
                                int flags);
    void pango_cairo_show_glyph_string(void *cr, void *font, PangoGlyphString *glyphs);
    int pango_layout_get_line_count(void *layout);
    PangoLayoutLine *pango_layout_get_line_readonly(void *layout, int line);
    uint8_t *pango_log2vis_get_embedding_levels(const char *text, int length, int *pbase_dir);
    int pango_find_base_dir(const char *text, int length);
    void g_free(void *mem);
    """
)

SHAPE_ROUND_POSITIONS = 1  # PANGO_SHAPE_ROUND_POSITIONS: what a context with round_glyph_positions (default) asks
GLYPH_EMPTY = 0x0FFFFFFF  # drawn as nothing (default-ignorables such as ZWJ)
GLYPH_UNKNOWN_FLAG = 0x10000000  # a character no font has: Pango draws a hex box
SCALE = 1024  # PANGO_SCALE
DIRECTION_RTL = 1  # PANGO_DIRECTION_RTL
DIRECTION_NEUTRAL = 6  # PANGO_DIRECTION_NEUTRAL: no strong character

# PangoGlyphInfo as five int32 columns: glyph (the unknown flag stays visible: ids are < 2**31 but for
# PANGO_GLYPH_INVALID_INPUT, -1 here), width, x_offset, y_offset, the bitfield word.
GLYPH, WIDTH, X_OFFSET, Y_OFFSET = 0, 1, 2, 3
assert ffi.sizeof("PangoGlyphInfo") == 20
# cffi parses a type given as a string on every call; these are parsed once
_UINTPTR, _VOIDP, _ITEMP = ffi.typeof("uintptr_t"), ffi.typeof("void *"), ffi.typeof("PangoItem *")
_CHARP, _CHARS, _ANALYSISP = ffi.typeof("char *"), ffi.typeof("char[]"), ffi.typeof("PangoAnalysis *")
_ANALYSIS_AT = ffi.offsetof("PangoItem", "analysis")
_GLYPH_ITEMP = ffi.typeof("PangoGlyphItem *")



def _glyph_infos(gs, n: int) -> np.ndarray:
    """(n, 5) int32 copies of a glyph string's PangoGlyphInfo: glyph, width, x / y offset, attr. Only the attr word's
    two flag bits (is_cluster_start, is_color) are Pango's; the rest of that word is whatever the allocation held,
    so it is cleared (it made equal shapings compare unequal, from run to run)."""
    glyphs = np.frombuffer(ffi.buffer(gs.glyphs, n * 20), np.int32).reshape(n, 5).copy()
    glyphs[:, 4] &= 3
    return glyphs

def _load(names: tuple[str, ...]):
    for name in names:
        path = ctypes.util.find_library(name)
        if path:
            return ffi.dlopen(path)
    raise OSError(f"could not load any of {names}")


pango = _load(("pango-1.0",))
glib = _load(("glib-2.0",))
gobject = _load(("gobject-2.0",))
pangocairo = _load(("pangocairo-1.0",))


class Shaped(NamedTuple):
    """One shaped item: glyph records (int32 columns GLYPH..Y_OFFSET) and their byte clusters (from the text's
    start), with the item's analysis."""

    glyphs: np.ndarray
    clusters: np.ndarray
    offset: int  # byte offset of the item in the text
    length: int  # bytes
    font: int  # PangoFont address
    script: int
    level: int
    language: int  # PangoLanguage address (interned, stable for the process)


class Shaper:
    """Pango's own itemization (script, bidi level, font per character) and HarfBuzz shaping of every item, as a
    PangoLayout does for a single unwrapped line; nothing is drawn. ``context`` must carry the layout's font
    description (pango_context_set_font_description). One glyph string is reused from call to call."""

    def __init__(self, context):
        self._context = context
        self._gs = pango.pango_glyph_string_new()

    def __call__(self, text: bytes, base_dir: int | None = None) -> list[Shaped]:
        """``base_dir``: the paragraph direction (``DIRECTION_RTL`` for a right-to-left strip, which a PangoLayout
        with automatic direction finds from its first strong character); None: the context's."""
        buf = ffi.from_buffer(_CHARS, text)  # one buffer: Pango finds an item's context by pointer arithmetic
        if base_dir is None:
            items = pango.pango_itemize(self._context, buf, 0, len(text), ffi.NULL, ffi.NULL)
        else:
            items = pango.pango_itemize_with_base_dir(self._context, base_dir, buf, 0, len(text), ffi.NULL, ffi.NULL)
        gs, out = self._gs, []
        node = items
        try:
            while node != ffi.NULL:
                item = ffi.cast(_ITEMP, node.data)
                a = ffi.cast(_ANALYSISP, ffi.cast(_CHARP, item) + _ANALYSIS_AT)
                offset, length = item.offset, item.length
                pango.pango_shape_with_flags(buf + offset, length, buf, len(text), a, gs, SHAPE_ROUND_POSITIONS)
                n = gs.num_glyphs
                glyphs = _glyph_infos(gs, n)
                clusters = np.frombuffer(ffi.buffer(gs.log_clusters, n * 4), np.int32) + offset
                out.append(Shaped(glyphs, clusters, offset, length, int(ffi.cast(_UINTPTR, a.font)), a.script,
                                  a.level, int(ffi.cast(_UINTPTR, a.language))))
                pango.pango_item_free(item)
                node = node.next
        finally:
            glib.g_list_free(items)
        return out

    def __del__(self) -> None:
        gs = getattr(self, "_gs", None)
        if gs is not None:
            pango.pango_glyph_string_free(gs)


def layout_items(layout: int, scripts: frozenset[int]) -> list[Shaped] | None:
    """The left-to-right (level 0) glyph runs of ``scripts`` that a PangoLayout (address ``layout``) holding one
    line has just shaped, as ``Shaper`` gives them, or None when the layout has several lines. What the shaping
    cache reads after Pango drew a strip, so that its words are never shaped again."""
    lay = ffi.cast(_VOIDP, layout)
    if pango.pango_layout_get_line_count(lay) != 1:
        return None
    out = []
    node = pango.pango_layout_get_line_readonly(lay, 0).runs
    while node != ffi.NULL:
        run = ffi.cast(_GLYPH_ITEMP, node.data)
        node = node.next
        item = run.item
        a = ffi.cast(_ANALYSISP, ffi.cast(_CHARP, item) + _ANALYSIS_AT)
        if a.level or a.script not in scripts:
            continue
        gs, offset = run.glyphs, item.offset
        n = gs.num_glyphs
        glyphs = _glyph_infos(gs, n)
        clusters = np.frombuffer(ffi.buffer(gs.log_clusters, n * 4), np.int32) + offset
        out.append(Shaped(glyphs, clusters, offset, item.length, int(ffi.cast(_UINTPTR, a.font)), a.script, 0,
                          int(ffi.cast(_UINTPTR, a.language))))
    return out


def bidi_levels(text: bytes, out: np.ndarray) -> int:
    """The bidi embedding level of each character of the UTF-8 ``text`` into ``out`` (uint8, one per character), as a
    PangoLayout with automatic direction itemizes it: the paragraph direction from its first strong character
    (``pango_find_base_dir``, as pango-layout.c), then Pango's own call into fribidi
    (``pango_log2vis_get_embedding_levels``: bidi and bracket types, UAX #9 rules up to L1). Returns the paragraph
    direction (PangoDirection), or -1 when the text has no strong character."""
    buf = ffi.from_buffer(_CHARS, text)
    base = pango.pango_find_base_dir(buf, len(text))
    if base == DIRECTION_NEUTRAL:
        return -1
    d = ffi.new("int *", base)
    levels = pango.pango_log2vis_get_embedding_levels(buf, len(text), d)
    try:
        out[:] = np.frombuffer(ffi.buffer(levels, len(out)), np.uint8)
    finally:
        glib.g_free(levels)
    return base


class GlyphPainter:
    """Draws one glyph of a font with cairo, as pango_cairo_show_layout would draw it inside a run."""

    def __init__(self, cr_address: int):
        self._cr = ffi.cast("void *", cr_address)
        self._gs = pango.pango_glyph_string_new()
        pango.pango_glyph_string_set_size(self._gs, 1)
        self._gs.log_clusters[0] = 0
        info = self._gs.glyphs[0]
        info.geometry.width = info.geometry.x_offset = info.geometry.y_offset = 0
        info.attr.is_cluster_start = 1

    def __call__(self, font: int, glyph: int) -> None:
        """Draw ``glyph`` with its origin at the cairo context's current point."""
        self._gs.glyphs[0].glyph = glyph
        pangocairo.pango_cairo_show_glyph_string(self._cr, ffi.cast(_VOIDP, font), self._gs)

    def row(self, font: int, glyphs: list[int], step: int) -> None:
        """Draw ``glyphs`` in one call, the first with its origin at the current point, each next one ``step`` px
        to the right of the one before (whole pixels: every glyph lands as it would alone there). One glyph string
        is kept from call to call (grown when a row is longer than any before)."""
        n = len(glyphs)
        if n > self._row_cap:
            if self._row is None:
                self._row = pango.pango_glyph_string_new()
            pango.pango_glyph_string_set_size(self._row, n)  # (reallocates: the views are taken again)
            self._row_cap = n
            self._row_info = np.frombuffer(ffi.buffer(self._row.glyphs, n * 20), np.int32).reshape(n, 5)
            np.frombuffer(ffi.buffer(self._row.log_clusters, n * 4), np.int32)[:] = 0
            self._row_info[:, 2:5] = [0, 0, 1]  # no offsets; is_cluster_start
        info = self._row_info
        info[:n, 0] = glyphs
        info[:n, 1] = step * SCALE
        self._row.num_glyphs = n  # (what set_size does when the string holds n already)
        pangocairo.pango_cairo_show_glyph_string(self._cr, ffi.cast(_VOIDP, font), self._row)

    _row, _row_cap, _row_info = None, 0, None

    def __del__(self) -> None:
        for gs in (getattr(self, "_gs", None), getattr(self, "_row", None)):
            if gs is not None:
                pango.pango_glyph_string_free(gs)
