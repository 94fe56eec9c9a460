"""pygame.freetype backend (pygame-ce): fast gray and crisp binary strips, no shaping.

This backend draws with FreeType through ``pygame.freetype``, glyph by glyph in logical order. It does no
shaping and no bidi: Arabic, Hebrew and other right-to-left text comes out left to right in memory order,
Indic and other complex scripts are not shaped (no conjuncts, no reordering, marks just overprint their
base), and there is no kerning or ligatures. Use it for Latin-script corpora and for PIXAR's binary pixel
font; the PangoCairo backend is the default because it shapes every script.

Fonts: ``cfg.font_files()`` in order. A character is drawn with the first font that has a glyph for it (a
per-character fallback; pygame has no font fallback of its own). Bitmap-only fonts (e.g. Noto Color Emoji,
which only has 109 px strikes) cannot be scaled by pygame.freetype and are skipped with a warning.
Default-ignorable characters (ZWJ, ZWNJ, bidi marks, variation selectors, soft hyphen, ...) are never drawn
and take no room, as HarfBuzz does. Characters no font has are drawn as the primary font's .notdef box and
counted in ``unknown_glyphs``, but for Unicode spaces (an em space, a thin space, the ideographic space: drawn blank at
HarfBuzz's fallback widths, as Pango draws them). Characters a font draws here otherwise than a shaper would (right-to-left letters,
combining marks, joining left-to-right letters: ``text.needs_shaping``) are counted in ``unshaped_chars``, which
the pipeline sums per source and warns about: nothing is drawn wrong silently.

Geometry: size = ``font_size`` points at ``dpi`` (so ``cfg.font_px`` pixels). Glyphs sit on one baseline
for the whole process, not centred per text, so words drawn as separate runs line up. The baseline follows
PIXEL/PIXAR's Pango placement (``y = ppp/2 - h/2 - shift`` with h = ascent + descent, shift 1 below 10 px
patches as in PIXAR, else 2 as in PIXEL), then is clamped so the ink of ASCII letters, digits and brackets
fits in the strip; when it cannot fit (PixeloidSans at 8.9 px spans 9 rows: 7 above the baseline, 2
below), caps and ascenders are kept whole and the last row of the g/j/p/q/y descenders is cut, which is
also where PIXAR's own renderer puts the baseline. Widths are sums of hinted advances (kerning is off), so
a text drawn in pieces is pixel-identical to the same text drawn in one go.

Each process owns one Surface (255 = white), reused for every render: 8-bit gray palette when glyphs are
drawn without antialiasing (binary, or ``antialias=False``), 24-bit when antialiased; the renderer is not
thread-safe. Everything pygame is built in ``_setup`` so the renderer pickles and survives fork.
"""

from __future__ import annotations

import math
import os
import unicodedata
import warnings

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402
import pygame  # noqa: E402  (the pygame-ce distribution)
import pygame.freetype  # noqa: E402
from pygame import surfarray  # noqa: E402

# pygame-ce makes surfarray a lazy module (importlib's LazyLoader), loaded on its first attribute access; on Python
# < 3.12 that load is not thread-safe, so two threads' first renderers (Beam's --direct_running_mode
# multi_threading) could see it half loaded: "module 'pygame.surfarray' has no attribute 'pixels2d'". Loaded here,
# under this module's import lock.
surfarray.pixels2d  # noqa: B018

from .base import Renderer  # noqa: E402
from .text import needs_shaping  # noqa: E402

_MAX_CP = 0x110000
# What _font_of holds per code point: 0 = not looked up yet, i + 1 = drawn with font i, or:
_SKIP = -1  # not drawn, not unknown: a default-ignorable (zero width) or a space no font has (its fallback width)
_MISSING = -2  # no loaded font has it: primary font's .notdef box, counted as unknown

# Ink that must fit between the strip's top and bottom rows (when the font allows it at all).
_REFERENCE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789()[]|"
# Format characters that do have a visible glyph (prepended concatenation marks): not ignorable.
_VISIBLE_CF = frozenset([*range(0x600, 0x606), 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0x110BD, 0x110CD])


def _ignorable(cp: int) -> bool:
    """Unicode Default_Ignorable_Code_Point (close enough): invisible, zero-width when not supported."""
    if cp in (0x34F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0):
        return True
    if 0x180B <= cp <= 0x180F or 0xFE00 <= cp <= 0xFE0F or 0xE0000 <= cp <= 0xE0FFF:
        return True
    return unicodedata.category(chr(cp)) == "Cf" and cp not in _VISIBLE_CF


# Spaces a font may lack, drawn blank with HarfBuzz's fallback width (hb-ot-shape-fallback: what Pango draws them
# as): a fraction of the em, or the advance of a digit / a full stop / half a space. U+1680 OGHAM SPACE MARK has
# ink: not here (tofu, counted, as any letter no font has).
_FALLBACK_SPACES = {0x2000: 1 / 2, 0x2001: 1, 0x2002: 1 / 2, 0x2003: 1, 0x2004: 1 / 3, 0x2005: 1 / 4, 0x2006: 1 / 6,
                    0x2007: "0", 0x2008: ".", 0x2009: 1 / 5, 0x200A: 1 / 16, 0x202F: " ", 0x205F: 4 / 18, 0x3000: 1}


def _px(width: float) -> int:
    """Whole pixels a run takes (advances are hinted to whole pixels; round up any float dust)."""
    return math.ceil(width - 1e-6)


def _signed(v: int) -> int:
    """pygame-ce reports negative glyph metrics as unsigned 32-bit integers."""
    return v - (1 << 32) if v >= (1 << 31) else v


def draw_problem(cfg) -> str | None:
    """Why this backend cannot draw ``cfg``'s font at its size, as a settings line naming the flag and the fix (None:
    it can): checked once in the launcher, as every worker would fail alike -- a bitmap-only font (ValueError), a
    size under 1/64 pt or 1 px per em (ValueError, "invalid ppem"), glyphs too large to load (pygame.error) or a
    strip with nothing drawn (from 1000 pt at 500 dpi)."""
    font = cfg.font_path.name
    try:
        res = PygameRenderer(cfg).render_text("Hello, world 0123")
    except ValueError as e:
        if "bitmap" in str(e):
            return (f"--font {font} has only bitmap glyphs (no outlines), which the pygame backend cannot scale; give "
                    "an outline font (e.g. --font PixeloidSans.ttf or GoNotoCurrent.ttf), or --backend pangocairo")
        why = str(e)
    except pygame.error as e:
        why = str(e)
    else:
        if res.ok and res.num_patches > 0:
            return None
        why = "nothing is drawn"
    return (f"--font_size {cfg.font_size:g} at --dpi {cfg.dpi} ({cfg.font_px:.3g} px per em): the pygame backend cannot "
            f"draw {font} at that size ({why[:80]}); give a size of at least 1 px per em and at most a few thousand "
            "(PIXAR: 8 pt at 80 dpi), or --backend pangocairo")


class PygameRenderer(Renderer):
    # -- setup ----------------------------------------------------------------------------------------
    def _setup(self) -> None:
        c = self.cfg
        pygame.freetype.init()
        antialias = bool(c.antialias) and c.mode != "binary"
        self._fonts: list = []
        for i, path in enumerate(c.font_files()):
            try:
                font = pygame.freetype.Font(str(path), c.font_size, resolution=c.dpi, ucs4=True)
            except (OSError, pygame.error) as err:
                if i == 0:
                    raise
                warnings.warn(f"pygame backend: cannot load fallback font {path.name}: {err}", stacklevel=2)
                continue
            if not font.scalable:
                if i == 0:
                    raise ValueError(f"pygame backend needs a scalable font, {path.name} has only bitmap strikes")
                warnings.warn(f"pygame backend: skipping bitmap-only fallback font {path.name} "
                              f"(pygame.freetype cannot scale it to {c.font_px:.2f} px)", stacklevel=2)
                continue
            font.antialiased = antialias
            font.origin = True  # render_to's (x, y) is the pen position on the baseline
            font.kerning = False  # advances stay additive: _measure and split runs match pygame's pen
            font.pad = False
            self._fonts.append(font)

        # Per code point: which font draws it and how far it moves the pen. np.zeros maps pages lazily.
        self._font_of = np.zeros(_MAX_CP, dtype=np.int8)
        self._adv = np.zeros(_MAX_CP, dtype=np.float64)
        self._unshaped_cp = np.zeros(_MAX_CP, dtype=np.bool_)  # drawn by a font, but a shaper would lay it out
        self._any_unshaped, self._unshaped = False, 0  # any such code point met yet; how many drawn since _clear
        self._notdef_adv: float | None = None
        self._last_text: str | None = None  # see _lookup
        self._resolve(np.arange(32, 127, dtype=np.uint32))

        if antialias:
            # Antialiased glyphs blend per channel on a 24-bit surface (an 8-bit palette surface would
            # search the palette for every blended pixel: ~20x slower); the red channel is the gray level.
            surface = pygame.Surface((c.width, c.height), depth=24)
            view = surfarray.pixels_red(surface)
            self._planes = surfarray.pixels3d(surface)  # (W, H, 3): clearing writes every channel
        else:
            # Mono glyphs only ever write palette index 0 on 255: an 8-bit gray palette is the fastest target.
            surface = pygame.Surface((c.width, c.height), depth=8)
            surface.set_palette([(v, v, v) for v in range(256)])  # palette index == gray level
            view = surfarray.pixels2d(surface)
            self._planes = view  # (W, H)
        surface.fill((255, 255, 255))
        self._surface = surface
        # Persistent numpy views of the pixels; they keep the surface locked, which render_to and fill
        # allow (blit would not, and is never used). _rows is (H, W) gray levels.
        self._rows = view.T
        self._dirty = 0  # columns [0, _dirty) may hold ink
        self._ink = (0, 0, 0)
        self._baseline = self._place_baseline()

    def _place_baseline(self) -> int:
        """Row (y of the pen) where the baseline sits; see the module docstring."""
        ppp = self.cfg.pixels_per_patch
        font = self._fonts[0]
        asc, desc = font.get_sized_ascender(), -font.get_sized_descender()
        shift = 1 if ppp < 10 else 2
        base = math.floor(ppp / 2 - (asc + desc) / 2 - shift + asc + 0.5)
        metrics = [m for m in font.get_metrics(_REFERENCE) if m is not None]
        if not metrics:
            return min(max(base, 0), ppp)
        top = max(_signed(m[3]) for m in metrics)  # rows of ink above the baseline
        bottom = max(0, max(-_signed(m[2]) for m in metrics))  # rows of ink at and below it
        if top + bottom <= ppp:
            return min(max(base, top), ppp - bottom)
        return min(top, ppp)  # cannot fit: keep caps and ascenders whole, cut descender tails

    # -- per-character lookup -------------------------------------------------------------------------
    @staticmethod
    def _codes(text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")

    def _resolve(self, cps: np.ndarray) -> None:
        """Fill _font_of / _adv for code points not looked up yet."""
        todo = np.unique(cps[self._font_of[cps] == 0])
        for cp in todo.tolist():
            if _ignorable(cp):
                self._font_of[cp], self._adv[cp] = _SKIP, 0.0
                continue
            ch = chr(cp)
            for i, font in enumerate(self._fonts):
                m = font.get_metrics(ch)[0]
                if m is not None:
                    self._font_of[cp], self._adv[cp] = i + 1, m[4]
                    if needs_shaping(ch):
                        self._unshaped_cp[cp] = self._any_unshaped = True
                    break
            else:
                space = self._fallback_space(cp)
                if space is not None:  # a space no font has was the .notdef box, counted as tofu (Pango: blank)
                    self._font_of[cp], self._adv[cp] = _SKIP, space
                else:
                    self._font_of[cp], self._adv[cp] = _MISSING, self._notdef_advance(ch)

    def _fallback_space(self, cp: int) -> float | None:
        """The width of a space no font has (``_FALLBACK_SPACES``), in whole pixels as Pango's hinting rounds it;
        None for any other character."""
        how = _FALLBACK_SPACES.get(cp)
        if how is None:
            return None
        if isinstance(how, str):  # the advance of that character (half of it for the narrow space)
            ref = ord(how)
            adv = self._adv[ref] if self._font_of[ref] > 0 else self.cfg.font_px / 2
            return float(round(adv / 2)) if how == " " else float(adv)
        return float(round(self.cfg.font_px * how))

    def _notdef_advance(self, ch: str) -> float:
        """Pen advance of the primary font's .notdef glyph (get_metrics reports None for it)."""
        if self._notdef_adv is None:
            font = self._fonts[0]
            probe = next((p for p in "H0x.|" if font.get_metrics(p)[0] is not None), None)
            if probe is None:
                self._notdef_adv = float(font.get_rect(ch).width)
            else:
                a, b = font.get_rect(probe), font.get_rect(ch + probe)
                self._notdef_adv = float(max(0, (b.x + b.width) - (a.x + a.width)))
        return self._notdef_adv

    def _lookup(self, text: str) -> tuple[np.ndarray, np.ndarray, bool]:
        """(font per char, pen position before each char and after the last, one primary-font run?).

        The arrays of the last text looked up are kept and a prefix of it is answered by slicing: the base
        class measures a text, bisects over its prefixes to fit the budget, then draws one of them, which
        is a single pass over the characters for the whole render.
        """
        n = len(text)
        last = self._last_text
        if last is None or n > len(last) or not last.startswith(text):
            cps = self._codes(text)
            fonts = self._font_of[cps]
            if not fonts.all():
                self._resolve(cps)
                fonts = self._font_of[cps]
            pen = np.empty(n + 1, dtype=np.float64)
            pen[0] = 0.0
            np.cumsum(self._adv[cps], out=pen[1:])
            self._last_text, self._fonts_of_last, self._pen_of_last, self._cps_of_last = text, fonts, pen, cps
            if (fonts == 1).all():
                self._primary_prefix = n
            else:  # missing characters are drawn by the primary font too (its .notdef box), in the same run
                other = np.flatnonzero((fonts != 1) & (fonts != _MISSING))
                self._primary_prefix = int(other[0]) if len(other) else n
        return self._fonts_of_last[:n], self._pen_of_last[: n + 1], n <= self._primary_prefix

    # -- primitives -----------------------------------------------------------------------------------
    def _measure(self, text: str) -> int:
        if not text:
            return 0
        return _px(self._lookup(text)[1][-1])

    def _char_starts(self, text: str) -> list[float]:
        if not text:
            return []
        return self._lookup(text)[1][:-1].tolist()

    def _draw(self, text: str, x: int) -> tuple[int, int]:
        if not text:
            return 0, 0
        fonts, pen, one_run = self._lookup(text)
        width = _px(pen[-1])
        unknown = int(np.count_nonzero(fonts == _MISSING))
        if self._any_unshaped:
            self._unshaped += int(np.count_nonzero(self._unshaped_cp[self._cps_of_last[: len(text)]]))
        y, surface, ink = self._baseline, self._surface, self._ink
        if one_run:  # the common case: everything in the primary font
            box = self._fonts[0].render_to(surface, (x, y), text, ink)
            self._dirty = max(self._dirty, box.right + 1, x + width)
            return width, unknown
        which = np.where(fonts == _MISSING, 1, fonts)
        cuts = [0, *(np.flatnonzero(which[1:] != which[:-1]) + 1).tolist(), len(text)]
        for start, end in zip(cuts[:-1], cuts[1:]):
            w = int(which[start])
            if w == _SKIP:
                continue
            box = self._fonts[w - 1].render_to(surface, (x + int(round(pen[start])), y), text[start:end], ink)
            self._dirty = max(self._dirty, box.right + 1)
        self._dirty = max(self._dirty, x + width)
        return width, unknown

    def _unshaped_chars(self) -> int:
        return self._unshaped

    def _clear(self) -> None:
        self._unshaped = 0
        # render_to reports the box it inked; clear only the columns any draw since the last clear touched.
        if self._dirty:
            self._planes[: self._dirty].fill(255)  # numpy: 3-4x faster than Surface.fill here
            self._dirty = 0

    def _canvas(self) -> np.ndarray:
        return self._rows.copy()
