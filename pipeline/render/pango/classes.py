"""The shaping cache's classes: one per (font, script, language) that Pango made a single left-to-right item of,
each with its anchor word, space, baseline and glyph table (``ShapeCache._new_class``; the tables are the cache's)."""

from __future__ import annotations

import math

import numpy as np

from . import pango_abi as pa
from .glyphs import new_glyphs
from .kernels import LEAD, STRONG
from .words import word_code

GLYPH_IDS = 1 << 16  # OpenType glyph ids are 16-bit


class Classes:
    """``_new_class`` and ``_predraw``, a mixin of ``ShapeCache``."""

    def _predraw(self, item: pa.Shaped) -> None:
        """Draw the glyphs of a shaped item of a known class that the class has not drawn yet, in one go, before its
        words are cut: ``kernels.harvest_item`` stops at a word's glyph not drawn yet, asks for every such glyph
        and is run again, so an item bringing new glyphs ran twice; now once. Used for CJK batches, where new glyphs
        come strip after strip (measured: for Latin/Cyrillic batches, whose glyphs are all drawn after a few strips,
        the look-up cost more than the second runs it saved). (Glyphs of words that are not cut get drawn too: a
        mask row each, never read unless a later word uses the glyph; a word's glyphs are checked by the kernel as
        before.)"""
        c = self._class_of.get((item.font, item.script, item.language))
        if c is None:
            return
        lut, out = self._cls_lut[c], np.empty(len(item.glyphs), np.int64)
        n = new_glyphs(item.glyphs, lut, out)  # (each once; not PANGO_GLYPH_EMPTY, nor an unknown character's box)
        if n:
            need = out[:n]
            lut[need] = self._glyphs.draw(item.font, need.tolist(), self._cls_base[c][1])

    def _new_class(self, key: tuple[int, int, int], item: pa.Shaped, words: list[tuple[str, int]],
                   base_dir: int | None = None) -> int | None:
        """A class needs an anchor: a word that Pango itemizes alone into this same class, so that the digits and
        punctuation of later batches resolve to the class's script behind it. The class's line height and
        baseline come from the anchor's layout, so the anchor must hold no unknown glyph: Pango's hex boxes can
        be taller than the font, and so make a taller line (seen with PixeloidSans)."""
        anchor = space = None
        for w, at in words:
            if word_code(w) & (LEAD | STRONG) == LEAD | STRONG:
                items = self._shape((w + " ").encode("utf-8"), base_dir)
                if len(items) == 1 and (items[0].font, items[0].script, items[0].language) == key:
                    glyphs = items[0].glyphs[:, pa.GLYPH]
                    if not ((glyphs & pa.GLYPH_UNKNOWN_FLAG).any() or (glyphs < 0).any()):
                        anchor, space = w, at
                        break
        j = int(np.searchsorted(item.clusters, space)) if anchor is not None else len(item.glyphs)
        if j >= len(item.glyphs) or item.clusters[j] != space:
            return None
        space_glyph, space_w = int(item.glyphs[j, pa.GLYPH]), int(item.glyphs[j, pa.WIDTH]) // pa.SCALE
        height, baseline = self._line_metrics(anchor)
        y = self._y_top(height) + baseline / pa.SCALE  # the baseline's device y, as Pango's renderer computes it
        row = math.floor(y)
        pa.gobject.g_object_ref(pa.ffi.cast("void *", key[0]))
        self._refs.append(key[0])
        cls = len(self._cls_space)
        self._class_of[key] = cls
        self._cls_key.append(key)
        self._cls_space.append(space_w)
        self._cls_space_glyph.append(space_glyph)
        self._cls_base.append((row, y - row))
        units = (y - row) * pa.SCALE
        self._cls_phase.append(int(units) if units == int(units) else -1)  # for glyphs' y offsets (kernels._rows)
        self._cls_anchor.append(anchor)
        self._space_px = np.array(self._cls_space, np.int32)
        # Classes of one font and baseline may share a strip (one line height and placement) and their glyph masks
        # (a mask depends on the font, the glyph and the baseline phase only): Russian, Ukrainian and Bulgarian
        # text draw each Cyrillic glyph once.
        same = next((c for c in range(cls) if self._refs[c] == key[0] and self._cls_base[c] == self._cls_base[cls]), cls)
        self._group = np.append(self._group, np.int32(self._group[same] if same < cls else cls))
        self._cls_lut.append(self._cls_lut[same] if same < cls else np.full(GLYPH_IDS, -2, np.int32))
        return cls
