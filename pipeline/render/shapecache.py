"""The PangoCairo fast path: words are shaped once, glyphs are rasterized once, strips are composed in compiled code.

Where a plain render spends its time (one 16x8464 strip of WikiText, ~0.7 ms): Pango's layout (itemizing,
HarfBuzz shaping, line breaking) ~60%, cairo compositing ~1,200 glyph masks ~40%. Both repeat the same work
strip after strip: a corpus reuses its words, and a font draws each glyph the same way every time. So:

* A strip is split at U+0020 into words. In a font that ``spacecheck.py`` passes, no lookup reaches across a
  space, so a word shapes the same wherever it stands (GoNoto: one Devanagari positioning rule does; words
  holding its 19 input glyphs are left to Pango).
* A word missing from the cache is shaped by Pango itself -- ``pango_itemize`` and ``pango_shape_with_flags``,
  the two steps a PangoLayout runs -- in one batch with the strip's other missing words, behind an *anchor* word
  of the strip's class so that digits and punctuation (script "Common") resolve as they would in the strip. A
  word is cached under its item's class (font, script, language) when it lies, with the space after it, inside
  one left-to-right item, starts a cluster of its own, has whole-pixel glyph positions and no unknown glyph, and
  that space is the class's one space glyph. A word that can never be cached is marked foreign.
* A strip is composed only when all its words are cached in one class and one of them has a script of its own:
  then Pango would lay it out as one item of that class. Anything else (a foreign word, mixed classes,
  right-to-left pairs) goes through Pango as before.
* Each glyph is drawn once by cairo through ``pango_cairo_show_glyph_string`` at the class's baseline phase and
  kept as a cropped A8 mask; a word's mask is the saturating sum of its glyphs'. Pango places glyphs on whole
  pixels (the context rounds glyph positions) and cairo adds a run's glyph masks with saturation before painting
  the run, so composing cached masks with a saturating add gives its pixels exactly; a run drawn on a canvas that
  already has ink is painted OVER it, as cairo does.

``tests/test_render_fastpath.py`` checks composed strips against Pango's own renders on real text in many
scripts, and the cache's state never changes a strip's pixels; the renderer composes a canary both ways when it
starts and drops the cache if they differ (another cairo or Pango build). It holds at most ``max_words`` words and starts
over when full.
"""

from __future__ import annotations

import array
import math
import re
import unicodedata
from itertools import compress, repeat
from operator import is_
from typing import Callable

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import pango_abi as pa

_SCRATCH_W, _SCRATCH_H, _ORIGIN_X, _ORIGIN_Y = 256, 128, 64, 64  # glyph capture surface; ink must stay inside
_GLYPH_IDS = 1 << 16  # OpenType glyph ids are 16-bit
_EMPTY_WORD, _FOREIGN_WORD = 0, 1  # fixed rows of the words table
_FOREIGN = -3  # class of words the cache cannot compose
_WEAK_SCRIPTS = frozenset({0, 1, 61})  # G_UNICODE_SCRIPT_COMMON, _INHERITED, _UNKNOWN
_LEAD, _STRONG = 1, 2
_ascii_letter = re.compile("[A-Za-z]").search


def _word_code(word: str) -> int:
    """_LEAD: the word starts on a character of its own (not a combining mark, joiner or variation selector,
    which attach to the space before it, or take a dotted circle at the start of a text); _STRONG: it has a
    character of a script of its own (digits and punctuation are Common and take their neighbours' script)."""
    if word.isascii():  # the common case: ASCII letters are Latin, the rest of ASCII is Common
        return _LEAD | _STRONG if _ascii_letter(word) else _LEAD
    lead = unicodedata.category(word[0]) not in ("Mn", "Mc", "Me", "Cf") and not "\ufe00" <= word[0] <= "\ufe0f"
    get = pa.glib.g_unichar_get_script
    strong = any(get(ord(ch)) not in _WEAK_SCRIPTS for ch in word)
    return (_LEAD if lead else 0) | (_STRONG if strong else 0)


def _words_in(batch: list[str], start: int, end: int) -> list[tuple[str, int]]:
    """The words of a batch (each followed by one space) that start in bytes [start, end), with their space's
    byte offset."""
    out, at = [], 0
    for w in batch:
        space = at + len(w.encode("utf-8"))
        if start <= at < end:
            out.append((w, space))
        at = space + 1
    return out


class _Rows:
    """A growable int32 table (rows appended, never removed until reset)."""

    def __init__(self, cols: int, cap: int = 4096):
        self.a = np.zeros((cap, cols), np.int32)
        self.n = 0

    def reserve(self, rows: int) -> None:
        if self.n + rows > len(self.a):
            grown = np.empty((max(self.n + rows, 2 * len(self.a)), self.a.shape[1]), np.int32)
            grown[:self.n] = self.a[:self.n]
            self.a = grown

    def extend(self, rows: np.ndarray) -> int:
        self.reserve(len(rows))
        start = self.n
        self.a[start:start + len(rows)] = rows
        self.n += len(rows)
        return start


class _Atlas:
    """Masks: a rows table [offset, height, width, left, top] over one growing byte buffer."""

    def __init__(self, cap: int):
        self.rows = _Rows(5)
        self.data = np.zeros(cap, np.uint8)
        self.n = 0

    def reserve(self, nbytes: int) -> None:
        if self.n + nbytes > len(self.data):
            grown = np.empty(max(self.n + nbytes, 2 * len(self.data)), np.uint8)
            grown[:self.n] = self.data[:self.n]
            self.data = grown

    def add(self, crop: np.ndarray, left: int, top: int) -> int:
        flat = np.ascontiguousarray(crop).reshape(-1)
        self.reserve(len(flat))
        self.data[self.n:self.n + len(flat)] = flat
        idx = self.rows.extend(np.array([[self.n, crop.shape[0], crop.shape[1], left, top]], np.int32))
        self.n += len(flat)
        return idx


# ---------------------------------------------------------------------------------------------------- kernels
# words rows: [mask row, advance px, class, has a script of its own]; mask rows: [atlas offset, height, width,
# left, top], left/top relative to the word's origin on the baseline. A word's mask is its glyphs' masks added
# together (saturating), so a strip is one blit per word: saturating adds of non-negative values compose in any
# order, min(a + b + c, 255).


@numba.njit(cache=True, nogil=True)
def _measure(ids, words, space_px):
    """(width px, class) of words laid out with one space between neighbours. Class -1 when the strip cannot
    be composed: words of different classes, a foreign word, or no word of a script of its own (a strip of
    digits alone is its own script, Common, for Pango)."""
    cls = -1
    width = 0
    strong = False
    for k in range(ids.shape[0]):
        w = ids[k]
        c = words[w, 2]
        if c == _FOREIGN:
            return 0, -1
        if c >= 0:
            if cls == -1:
                cls = c
            elif c != cls:
                return 0, -1
        width += words[w, 1]
        strong = strong or words[w, 3] != 0
    if cls < 0 or not strong:
        return 0, -1
    return width + (ids.shape[0] - 1) * space_px[cls], cls


@numba.njit(cache=True, nogil=True, inline="always")
def _blit(dst, atlas, off, h, wd, px, py):
    """Saturating add of one mask into ``dst`` with its top-left at (px, py), clipped to ``dst``."""
    H, W = dst.shape
    r0, r1 = max(0, -py), min(h, H - py)
    c0, c1 = max(0, -px), min(wd, W - px)
    for r in range(r0, r1):
        row = dst[py + r, px + c0:px + c1]
        src = atlas[off + r * wd + c0:off + r * wd + c1]
        for c in range(row.shape[0]):
            v = np.uint16(row[c]) + np.uint16(src[c])
            row[c] = np.uint8(min(v, np.uint16(255)))
    return px + c0, px + c1


@intrinsic
def _memcpy(typingctx, dst, dst_at, src, src_at, n):
    """memcpy between two 1-D uint8 arrays (LLVM's intrinsic): numba's own byte loops run ~7x slower here."""
    sig = types.void(dst, dst_at, src, src_at, n)

    def codegen(context, builder, signature, args):
        d, d_at, s, s_at, count = args
        dptr = builder.gep(context.make_array(signature.args[0])(context, builder, d).data, [d_at])
        sptr = builder.gep(context.make_array(signature.args[2])(context, builder, s).data, [s_at])
        cgutils.raw_memcpy(builder, dptr, sptr, count, 1)

    return sig, codegen


@numba.njit(cache=True, nogil=True, inline="always")
def _paint(flat, stride, H, W, atlas, off, h, wd, px, py, hi):
    """One mask into the row-major canvas ``flat`` (``stride`` bytes a row, H x W visible) with its top-left at
    (px, py), clipped. Columns left of ``hi`` may already hold ink and are added (saturating); the rest of the
    canvas is still blank, and adding to zero is copying."""
    r0, r1 = max(0, -py), min(h, H - py)
    c0, c1 = max(0, -px), min(wd, W - px)
    split = min(max(hi - px, c0), c1)
    for r in range(r0, r1):
        src = off + r * wd
        dst = (py + r) * stride + px
        for c in range(c0, split):
            v = np.uint16(flat[dst + c]) + np.uint16(atlas[src + c])
            flat[dst + c] = np.uint8(min(v, np.uint16(255)))
        if c1 > split:
            _memcpy(flat, np.int64(dst + split), atlas, np.int64(src + split), np.int64(c1 - split))
    return px + c0, px + c1


@numba.njit(cache=True, nogil=True)
def _compose(canvas, width, scratch, over, ids, x0, y0, space, words, masks, atlas):
    """Add the words' masks into ``canvas`` (A8 coverage, (H, stride) of which ``width`` columns show) from pixel
    ``x0`` on baseline row ``y0``; with ``over``, into the blank ``scratch`` (H, width) first, then painted OVER
    ``canvas`` as pixman paints a run. Words go left to right, so right of the ink so far all is blank."""
    H = canvas.shape[0]
    dst = scratch if over else canvas
    flat = dst.reshape(dst.size)
    stride = dst.shape[1]
    lo, hi = width, 0
    x = x0
    for k in range(ids.shape[0]):
        w = ids[k]
        m = words[w, 0]
        if masks[m, 1] > 0:
            a, b = _paint(flat, stride, H, width, atlas, masks[m, 0], masks[m, 1], masks[m, 2], x + masks[m, 3],
                          y0 + masks[m, 4], hi if hi > 0 else -(1 << 30))
            if a < b:
                lo, hi = min(lo, a), max(hi, b)
        x += words[w, 1]
        if k < ids.shape[0] - 1:
            x += space
    if over:
        for row in range(H):
            for col in range(lo, hi):
                s = np.int32(scratch[row, col])
                if s:
                    t = np.int32(canvas[row, col]) * (255 - s) + 128
                    canvas[row, col] = s + ((t + (t >> 8)) >> 8)
                    scratch[row, col] = 0


@numba.njit(cache=True, nogil=True)
def _harvest_item(glyphs, clusters, text, item_start, item_end, first, codes, take_weak, lut, risky, space_glyph,
                  space_w, cls, gmasks, gatlas, wmasks, wdata, words, used, status, need):
    """Cut one shaped item of a batch into its words and cache the good ones.

    ``text``: the batch's UTF-8 bytes, words each followed by one space; ``glyphs``: the item's (n, 5) int32
    records, ``clusters`` their byte offsets in ``text``; the item spans bytes [item_start, item_end). Words starting
    inside the item from word number ``first`` on are cut; one whose space lies past the item stays foreign.
    ``lut``: glyph id -> glyph mask row (-2: not drawn yet, -1: cannot be cached); ``risky``: glyph id -> 1.
    A word is good when it starts a cluster of its own, its glyphs sit on whole pixels, are drawable and not
    risky, and its space shaped to one glyph of its own, the class's space. Good words that are wanted (a script
    of their own, or ``take_weak``) get a word-mask row in ``wmasks``/``wdata`` and a row in ``words``; then
    ``status[k]`` = the new word id; a good word not taken gets -1, the rest stay _FOREIGN_WORD. ``codes``: each
    word's _LEAD | _STRONG, or empty for an ASCII batch: then every word leads and is strong when it has a
    letter.

    ``used`` = [word-mask bytes, mask rows, word rows] in use, advanced here. Returns 0 when done, 1 when glyph
    ids listed in ``need`` (``need[0]`` = count) must be drawn first, 2 when a table is too small (``need`` =
    bytes, rows needed); nothing is cached unless it returns 0."""
    n = glyphs.shape[0]
    for i in range(1, n):
        if clusters[i] < clusters[i - 1]:
            return 0
    # the item's words: global number, first byte, separating space
    nw_all = 0
    for b in range(item_end):
        if text[b] == 32:
            nw_all += 1
    ks = np.empty(nw_all, np.int32)
    starts = np.empty(nw_all, np.int32)
    spaces = np.empty(nw_all, np.int32)
    nw = 0
    k = 0
    start = 0
    for b in range(text.shape[0]):
        if text[b] == 32:
            if start >= item_start and start < item_end and k >= first:
                if b >= item_end:
                    break  # runs on into the next item: foreign
                ks[nw], starts[nw], spaces[nw] = k, start, b
                nw += 1
            k += 1
            start = b + 1
            if start >= item_end:
                break
    code = np.empty(nw, np.int8)
    for i in range(nw):
        status[ks[i]] = _FOREIGN_WORD
        if codes.shape[0]:
            code[i] = codes[ks[i]]
        else:
            code[i] = _LEAD
            for b in range(starts[i], spaces[i]):
                ch = text[b] | 0x20
                if 97 <= ch <= 122:  # an ASCII letter
                    code[i] = _LEAD | _STRONG
                    break
    box = np.zeros((nw, 5), np.int32)  # left, top, height, width, advance
    g0s = np.zeros(nw, np.int32)
    missing = 0
    j = 0
    good = np.zeros(nw, np.bool_)
    for k in range(nw):
        while j < n and clusters[j] < starts[k]:
            j += 1
        g0s[k] = j
        if j >= n or clusters[j] != starts[k] or not code[k] & _LEAD:
            continue
        ok = True
        left, top, right, bottom = 1 << 30, 1 << 30, -(1 << 30), -(1 << 30)
        x = 0
        while j < n and clusters[j] < spaces[k]:
            gid, w, dx, dy = glyphs[j, 0], glyphs[j, 1], glyphs[j, 2], glyphs[j, 3]
            x += w
            j += 1
            if w % 1024 or dx % 1024 or dy % 1024:
                ok = False
            elif gid == 0x0FFFFFFF:  # PANGO_GLYPH_EMPTY: nothing to draw
                continue
            elif gid < 0 or gid >= lut.shape[0] or (gid < risky.shape[0] and risky[gid]) or lut[gid] == -1:
                ok = False
            elif lut[gid] == -2:
                if missing + 1 < need.shape[0]:
                    missing += 1
                    need[missing] = gid
            else:
                m = lut[gid]
                if gmasks[m, 1] > 0:
                    px, py = (x - w + dx) // 1024 + gmasks[m, 3], dy // 1024 + gmasks[m, 4]
                    left, top = min(left, px), min(top, py)
                    right, bottom = max(right, px + gmasks[m, 2]), max(bottom, py + gmasks[m, 1])
        if not ok or j >= n or clusters[j] != spaces[k] or (j + 1 < n and clusters[j + 1] == spaces[k]) \
                or glyphs[j, 0] != space_glyph or glyphs[j, 1] != space_w * 1024:
            continue
        good[k] = True
        status[ks[k]] = -1
        if right <= left:
            left = top = right = bottom = 0
        box[k, 0], box[k, 1], box[k, 2], box[k, 3], box[k, 4] = left, top, bottom - top, right - left, x // 1024
    if missing:
        need[0] = missing
        return 1
    nbytes, nrows = 0, 0
    for k in range(nw):
        if good[k] and (code[k] & _STRONG or take_weak):
            nbytes += box[k, 2] * box[k, 3]
            nrows += 1
    if used[0] + nbytes > wdata.shape[0] or used[1] + nrows > wmasks.shape[0] or used[2] + nrows > words.shape[0]:
        need[0], need[1] = nbytes, nrows
        return 2
    for k in range(nw):
        if not good[k] or not (code[k] & _STRONG or take_weak):
            continue
        left, top, h, wd = box[k, 0], box[k, 1], box[k, 2], box[k, 3]
        off = used[0]
        if h > 0:
            dst = wdata[off:off + h * wd].reshape((h, wd))
            dst[:] = 0
            x = 0
            j = g0s[k]
            while clusters[j] < spaces[k]:
                gid = glyphs[j, 0]
                if gid != 0x0FFFFFFF:
                    m = lut[gid]
                    if gmasks[m, 1] > 0:
                        _blit(dst, gatlas, gmasks[m, 0], gmasks[m, 1], gmasks[m, 2],
                              (x + glyphs[j, 2]) // 1024 + gmasks[m, 3] - left, glyphs[j, 3] // 1024 + gmasks[m, 4] - top)
                x += glyphs[j, 1]
                j += 1
        r = used[1]
        wmasks[r, 0], wmasks[r, 1], wmasks[r, 2], wmasks[r, 3], wmasks[r, 4] = off, h, wd, left, top
        t = used[2]
        words[t, 0], words[t, 1], words[t, 2], words[t, 3] = r, box[k, 4], cls, 1 if code[k] & _STRONG else 0
        status[ks[k]] = t
        used[0] += h * wd
        used[1] += 1
        used[2] += 1
    return 0


# ---------------------------------------------------------------------------------------------------- cache


class ShapeCache:
    """Shaped words and glyph masks for one PangoCairo renderer (one process, one font map).

    ``context`` is the renderer's PangoContext address (carrying its font description); ``line_metrics(text)``
    lays ``text`` out with the renderer's PangoLayout and returns (height px, baseline Pango units);
    ``y_top(height)`` is where the renderer puts a run of that height; words holding one of ``risky_glyphs``
    (see ``spacecheck.py``) are left to Pango.
    """

    def __init__(self, context: int, line_metrics: Callable[[str], tuple[int, int]],
                 y_top: Callable[[int], float], risky_glyphs: frozenset[int] = frozenset(),
                 max_words: int = 100_000):
        import cairocffi

        self._context = pa.ffi.cast("void *", context)
        self._line_metrics, self._y_top = line_metrics, y_top
        self.max_words = max_words
        self._risky = np.zeros(_GLYPH_IDS, np.uint8)  # glyphs whose position may depend on a word's neighbours
        self._risky[[g for g in risky_glyphs if g < _GLYPH_IDS]] = 1
        self._surface = cairocffi.ImageSurface(cairocffi.FORMAT_A8, _SCRATCH_W, _SCRATCH_H)
        self._cr = cairocffi.Context(self._surface)
        stride = self._surface.get_stride()
        self._capture = np.frombuffer(self._surface.get_data(), np.uint8).reshape(_SCRATCH_H, stride)[:, :_SCRATCH_W]
        self._paint = pa.GlyphPainter(int(cairocffi.ffi.cast("uintptr_t", self._cr._pointer)))
        self.stats = {"lookups": 0, "composed": 0, "batches": 0, "words_shaped": 0, "foreign": 0, "resets": 0}
        # classes: one per (font, script, language) that Pango made a single left-to-right item of
        self._class_of: dict[tuple[int, int, int], int] = {}
        self._cls_space: list[int] = []  # space advance px
        self._cls_space_glyph: list[int] = []
        self._cls_base: list[tuple[int, float]] = []  # (baseline row, baseline phase)
        self._cls_height: list[int] = []
        self._cls_anchor: list[str] = []
        self._cls_lut: list[np.ndarray] = []  # glyph id -> glyph mask row (-2: not drawn yet, -1: uncacheable)
        self._space_px = np.zeros(0, np.int32)
        self._glyph_masks = _Atlas(1 << 16)
        self._refs: list[int] = []  # fonts we hold a reference on
        self._need = np.zeros(4096, np.int32)
        self._used = np.zeros(3, np.int64)
        self._status = np.empty(1024, np.int32)
        self._shape = pa.Shaper(self._context)
        self._reset_words()

    def _reset_words(self) -> None:
        self._ids: dict[str, int] = {"": _EMPTY_WORD}  # the empty word (between two spaces) draws nothing
        self._word_masks = _Atlas(1 << 22)
        self._word_masks.add(np.zeros((0, 0), np.uint8), 0, 0)
        self._words = _Rows(4, 1 << 14)
        self._words.extend(np.array([[0, 0, -1, 0], [0, 0, _FOREIGN, 0]], np.int32))

    def __del__(self) -> None:
        for font in getattr(self, "_refs", ()):
            pa.gobject.g_object_unref(pa.ffi.cast("void *", font))

    @property
    def size(self) -> int:
        return len(self._ids)

    # -- public ---------------------------------------------------------------------------------------
    def lookup(self, text: str) -> tuple[np.ndarray, int, int] | None:
        """(word ids, width px, class) when the whole text can be composed from cached words, else None.
        Missing words are shaped (one Pango batch) and cached on the way."""
        self.stats["lookups"] += 1
        words = text.split(" ")
        ids = list(map(self._ids.get, words))
        if None in ids:
            if self.size + ids.count(None) > self.max_words:  # full: start over
                self.stats["resets"] += 1
                self._reset_words()
                ids = list(map(self._ids.get, words))
            self._fill(words, ids)
            ids = list(map(self._ids.get, words))
            if None in ids:
                return None
        arr = np.frombuffer(array.array("i", ids), np.int32)
        width, cls = _measure(arr, self._words.a, self._space_px)
        if cls < 0:
            return None
        return arr, width, cls

    def prefetch(self, texts: list[str]) -> None:
        """Shape every word of ``texts`` the cache does not hold yet, in one batch: a strip's own batch costs
        ~0.1 ms before its first word, so a document's lines or a bundle's chunks are best met together."""
        words = " ".join(texts).split(" ")
        for i in range(0, len(words), 20_000):  # batches of a bounded size, for documents of any length
            part = words[i:i + 20_000]
            ids = list(map(self._ids.get, part))
            if None in ids:
                if self.size + ids.count(None) > self.max_words:
                    self.stats["resets"] += 1
                    self._reset_words()
                    ids = list(map(self._ids.get, part))
                self._fill(part, ids)

    def baseline(self, cls: int) -> tuple[int, int]:
        """(layout height px, baseline row) of the class's runs."""
        return self._cls_height[cls], self._cls_base[cls][0]

    def compose(self, canvas: np.ndarray, width: int, scratch: np.ndarray, over: bool,
                found: tuple[np.ndarray, int, int], x0: int) -> None:
        """Draw a ``lookup`` result into the A8 ``canvas`` ((H, stride), ``width`` columns visible) from pixel
        ``x0``; ``over``: the canvas has ink already (``scratch`` is a blank (H, width) array to compose in)."""
        ids, _, cls = found
        self.stats["composed"] += 1
        _compose(canvas, width, scratch, over, ids, x0, self._cls_base[cls][0], self._cls_space[cls],
                 self._words.a, self._word_masks.rows.a, self._word_masks.data)

    # -- shaping --------------------------------------------------------------------------------------
    def _fill(self, words: list[str], ids: list[int | None]) -> None:
        """Shape the missing words in one batch behind an anchor of the strip's class and cache them."""
        missing = list(dict.fromkeys(compress(words, map(is_, ids, repeat(None)))))
        hit = next((i for i in ids if i is not None and i > _FOREIGN_WORD), None)
        cls = int(self._words.a[hit, 2]) if hit is not None else None
        codes = None
        if not all(map(str.isascii, missing)):  # ASCII words all lead; the kernel finds their letters
            codes = list(map(_word_code, missing))
            for w, code in zip(missing, codes):
                if not code & _LEAD:  # a leading mark attaches to the space before it: never cacheable
                    self._ids[w] = _FOREIGN_WORD
                    self.stats["foreign"] += 1
            missing = [w for w, code in zip(missing, codes) if code & _LEAD]
            codes = [code for code in codes if code & _LEAD]
            if not missing:
                return
        skip = 0
        if cls is not None:
            missing.insert(0, self._cls_anchor[cls])
            if codes is not None:
                codes.insert(0, _LEAD | _STRONG)
            skip = 1
        self.stats["batches"] += 1
        self._harvest(missing, np.array(codes or [], np.int8), skip, cls)

    def _harvest(self, batch: list[str], codes: np.ndarray, skip: int, cls: int | None) -> None:
        """Shape ``batch`` (words, each followed by one space) as Pango would and cache ``batch[skip:]``.

        A word that can never be cached (split between items, right-to-left, unknown or risky glyphs...) is
        marked foreign, so later strips holding it go to Pango without another batch. Words of no script of
        their own (digits, punctuation) in an item of another class than ``cls`` are left uncached: beside
        other words they may resolve to another script."""
        data = (" ".join(batch) + " ").encode("utf-8")
        raw = np.frombuffer(data, np.uint8)
        if len(self._status) < len(batch):
            self._status = np.empty(2 * len(batch), np.int32)
        status = self._status[:len(batch)]
        status[:] = _FOREIGN_WORD
        for item in self._shape(data):
            if item.level == 0:  # a right-to-left item's words stay foreign
                self._harvest_words(item, raw, codes, status, skip, batch, cls)
        new, st = batch[skip:], status[skip:].tolist()
        if -1 in st:
            self._ids.update((w, i) for w, i in zip(new, st) if i != -1)
        else:
            self._ids.update(zip(new, st))
        foreign = st.count(_FOREIGN_WORD)
        self.stats["foreign"] += foreign
        self.stats["words_shaped"] += len(st) - foreign - st.count(-1)

    def _harvest_words(self, item: pa.Shaped, raw: np.ndarray, codes: np.ndarray, status: np.ndarray, skip: int,
                       batch: list[str], cls: int | None) -> None:
        key = (item.font, item.script, item.language)
        c = self._class_of.get(key)
        if c is None:
            c = self._new_class(key, item, _words_in(batch, item.offset, item.offset + item.length))
            if c is None:
                return  # no anchor for a new class in this batch: stays uncached, tried again another time
        used = self._used
        wm, words = self._word_masks, self._words
        for _ in range(64):
            used[:] = wm.n, wm.rows.n, words.n
            code = _harvest_item(item.glyphs, item.clusters, raw, item.offset, item.offset + item.length, skip, codes,
                                 cls is None or c == cls, self._cls_lut[c], self._risky, self._cls_space_glyph[c],
                                 self._cls_space[c], c, self._glyph_masks.rows.a, self._glyph_masks.data,
                                 wm.rows.a, wm.data, words.a, used, status, self._need)
            if code == 0:
                wm.n, wm.rows.n, words.n = used.tolist()
                return
            if code == 1:  # draw the glyphs it has not seen yet, then go again
                lut = self._cls_lut[c]
                for glyph in self._need[1:1 + self._need[0]].tolist():
                    lut[glyph] = self._glyph_mask(item.font, glyph, c)
            else:  # grow the tables, then go again
                wm.reserve(int(self._need[0]))
                wm.rows.reserve(int(self._need[1]))
                words.reserve(int(self._need[1]))
        raise RuntimeError("shape cache: harvesting did not converge")  # pragma: no cover - each round draws glyphs

    def _new_class(self, key: tuple[int, int, int], item: pa.Shaped, words: list[tuple[str, int]]) -> int | None:
        """A class needs an anchor: a word that Pango itemizes alone into this same class, so that the digits and
        punctuation of later batches resolve to the class's script behind it. Its metrics come from the layout."""
        anchor = space = None
        for w, at in words:
            if _word_code(w) == _LEAD | _STRONG:
                items = self._shape((w + " ").encode("utf-8"))
                if len(items) == 1 and (items[0].font, items[0].script, items[0].language) == key:
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
        self._cls_space.append(space_w)
        self._cls_space_glyph.append(space_glyph)
        self._cls_base.append((row, y - row))
        self._cls_height.append(height)
        self._cls_anchor.append(anchor)
        self._cls_lut.append(np.full(_GLYPH_IDS, -2, np.int32))
        self._space_px = np.array(self._cls_space, np.int32)
        return cls

    def _glyph_mask(self, font: int, glyph: int, cls: int) -> int:
        """Row of the cropped mask of ``glyph`` drawn by cairo at the class's baseline phase (-1: its ink reaches
        the capture surface's edge, so words holding it are left to Pango)."""
        phase = self._cls_base[cls][1]
        self._surface.flush()
        self._capture[...] = 0
        self._surface.mark_dirty()
        self._cr.move_to(_ORIGIN_X, _ORIGIN_Y + phase)
        self._paint(font, glyph)
        self._surface.flush()
        ink = self._capture
        rows, cols = np.nonzero(ink.any(axis=1))[0], np.nonzero(ink.any(axis=0))[0]
        if not len(rows):
            return self._glyph_masks.add(np.zeros((0, 0), np.uint8), 0, 0)
        if rows[0] == 0 or cols[0] == 0 or rows[-1] == _SCRATCH_H - 1 or cols[-1] == _SCRATCH_W - 1:
            return -1
        crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        return self._glyph_masks.add(crop, int(cols[0]) - _ORIGIN_X, int(rows[0]) - _ORIGIN_Y)
