"""The PangoCairo fast path: words are shaped once, glyphs are rasterized once, strips are composed in compiled code.

Where a plain render spends its time (one 16x8464 strip of WikiText, ~0.7 ms): Pango's layout (itemizing,
HarfBuzz shaping, line breaking) ~60%, cairo compositing ~1,200 glyph masks ~40%. Both repeat the same work
strip after strip: a corpus reuses its words, and a font draws each glyph the same way every time. So:

* A strip is split at U+0020 into words. In a font that ``spacecheck.py`` passes, no lookup reaches across a
  space, so a word shapes the same wherever it stands (GoNoto: one Devanagari positioning rule does; words
  holding its 19 input glyphs are left to Pango). A strip of one script is split and its words looked up in a
  compiled copy of the word ids (``wordtable.py``) in one call; the dict is asked only for the words it lacks.
* A word missing from the cache is shaped by Pango itself -- ``pango_itemize`` and ``pango_shape_with_flags``,
  the two steps a PangoLayout runs -- in one batch with the strip's other missing words, behind an *anchor* word
  of the strip's class so that digits and punctuation (script "Common") resolve as they would in the strip. A
  word is cached under its item's class (font, script, language) when it lies, with the space after it, inside
  one left-to-right item of a script HarfBuzz shapes with its default shaper (Latin, Greek, Cyrillic, Han, Kana,
  Armenian, Georgian, Ethiopic...; not the syllabic or Thai shapers, which keep state across a buffer) or of
  Hangul (see ``scriptgate``: no jamo or tone mark), starts a cluster of its own, has whole-pixel advances and no
  unknown glyph, and that space is the class's one space glyph. A word that can never be cached is marked foreign.
* A new word of Latin, Cyrillic or Greek letters and the Common characters of their items in a class of that
  script is not shaped at all once its units and kerned pairs are learned: its glyph string is written from glyph
  and pair-advance tables learned from Pango's own items and one seed string (``glyphshape.py``; ``glyphcheck.py``
  proves per font and script that only cmap, single substitutions, one ligature lookup and pair advances touch
  those characters, and which pairs the kerning can touch), and cut by the same kernel.
* Right to left (``_lookup_rtl``, why it is Pango's layout: ``rtl.py``): an Arabic or Hebrew strip the gate
  passes is composed word by word in reverse order, numbers as level-2 items of their own; with Latin words in it,
  piece by piece in the order of Pango's own bidi levels (``rtlmix.py``).
* Han, kana and Bopomofo text (with Latin words or not; ``cjk.py``): cut into tokens at spaces, script runs and
  characters ``cjkcheck.py`` proves no lookup ties to a neighbour (per font), each cached in its run's class; a
  new proven character's glyph record is written, not shaped, when ``cjkglyph.py`` can (its class's language
  system) -- and so is a new Hangul word of precomposed syllables, digits and punctuation (opt-in:
  ``PIXELKIT_CJK_GLYPHS=1``, measured no faster yet).
* Before any of that, ``scriptgate.py`` reads the strip's characters: a script the cache never composes
  (other right-to-left text, stateful shapers) or a mixture of scripts whose paired punctuation Pango runs
  otherwise than unpaired marks (``brackets.py``) sends the strip to Pango unshaped; so does a foreign word.
* A strip is composed when all its words are cached in one class and one of them has a script of its own: then
  Pango would lay it out as one item of that class. A strip of several left-to-right scripts is composed run by
  run (``kernels.measure_mixed``: Pango's script iterator without paired punctuation; each word must lie in a run
  of its own class, a digit or punctuation word is looked up, or shaped once, in the class of the run it falls
  in; a word in which a run starts is cut there, ``brackets.pieces``). Anything else (a foreign word, pairs that
  Pango's iterator runs otherwise, ink touching across runs) goes through Pango.
  Such a strip's new words are shaped in one batch of their own too, each behind the words that set the script of
  its leading digits or marks (``mixbatch.py``), grouped by script: a first pass shapes each new word once
  and never the whole strip.
* First pass (``adopt.py``): ``adopt.composing_pays`` weighs composing a strip against Pango drawing it before
  anything is shaped; a strip it declines is drawn by Pango and its new words are cut later from that layout's own
  glyph runs -- no word is shaped twice.
* Each glyph is drawn once by cairo through ``pango_cairo_show_glyph_string`` at the class's baseline phase and kept
  as a cropped A8 mask (``glyphs.py``: a batch's new glyphs drawn side by side in one glyph string, cropped by one
  kernel); a word's mask is the saturating sum of its glyphs'. Pango rounds advances to whole pixels (the context
  rounds glyph positions), cairo 1.16 draws each glyph at the nearest whole pixel of its position (x and y offsets
  that Hebrew kerning and Arabic marks leave off whole pixels are rounded the same way, ``kernels._rows``), and
  cairo adds a run's glyph masks with saturation before painting the run, so composing cached masks with a
  saturating add gives its pixels exactly; a run drawn on an inked canvas is painted OVER it, as cairo does.

``tests/test_render_fastpath.py`` checks composed strips against Pango's own renders on real text in many scripts,
and the cache's state never changes a strip's pixels; the renderer composes a canary both ways when it starts and
drops the cache if they differ (another cairo or Pango build). It holds at most ``max_words`` words and starts over
when full.
"""

from __future__ import annotations

import array
from itertools import compress, repeat
from operator import is_
from typing import Callable

import numpy as np

from . import kernels
from . import pango_abi as pa
from .adopt import PangoWords
from .glyphshape import GlyphShaper, GlyphWords
from .brackets import MixedWords, pieces, word_cuts
from .cjk import CjkWords
from .cjkglyph import HANGUL, HangulWords
from .classes import GLYPH_IDS, Classes
from .glyphs import GlyphMasks
from .kernels import EMPTY_WORD, FOREIGN, FOREIGN_WORD, LEAD, STRONG
from .rtl import RtlWords
from .rtllayout import warm_kernels
from .rtlmix import RtlMixWords
from .scriptgate import CJK, MIX, RTL, RTL_SCRIPTS, gate
from .tables import Atlas, Rows
from .mixbatch import mixed_batch
from .words import LONG_WORD, astral, word_code, words_in
from .wordtable import WordTable

# Scripts HarfBuzz shapes with its default shaper (GUnicodeScript numbers, which PangoScript shares): Common,
# Armenian, Bopomofo, Cherokee, Coptic, Cyrillic, Deseret, Ethiopic, Georgian, Gothic, Greek, Han, Hiragana,
# Katakana, Latin, Ogham, Old Italic, Runic, Canadian Aboriginal, Yi -- and Hangul (18), whose shaper keeps state
# only between a syllable and the conjoining jamo or tone mark after it, which the script gate sends to Pango.
# The syllabic shapers (Indic, Khmer, Myanmar, USE) and Thai/Lao keep state across a whole buffer: a broken
# syllable's dotted circle depends on the serial number (mod 16) of the broken syllable before it, however far
# away (seen in Tamil) -- so a word of those scripts does not always shape the same, and Pango draws them.
_DEFAULT_SHAPER_SCRIPTS = frozenset({0, 3, 5, 6, 7, 8, 9, 11, 12, 13, 14, 17, 18, 20, 22, 25, 29, 30, 32, 40, 41})
_NO_GAPS = np.zeros(0, np.int32)
_NO_JOIN = np.zeros(0, np.uint8)


# ---------------------------------------------------------------------------------------------------- cache


class ShapeCache(GlyphWords, HangulWords, CjkWords, RtlWords, RtlMixWords, MixedWords, PangoWords, Classes):
    """Shaped words and glyph masks for one PangoCairo renderer (one process, one font map).

    ``context`` is the renderer's PangoContext address (carrying its font description); ``line_metrics(text)``
    lays ``text`` out with the renderer's PangoLayout and returns (height px, baseline Pango units);
    ``y_top(height)`` is where the renderer puts a run of that height; words holding one of ``risky_glyphs``
    (see ``spacecheck.py``) are left to Pango; ``glyph_cell``: the cell glyphs are drawn in (``glyphs.cell_for``).
    """

    def __init__(self, context: int, line_metrics: Callable[[str], tuple[int, int]],
                 y_top: Callable[[int], float], risky_glyphs: frozenset[int] = frozenset(),
                 max_words: int = 100_000, glyph_cell: tuple[int, int, int, int] | None = None,
                 cjk_chars: frozenset[int] = frozenset(), glyph_checks=None):
        self._context = pa.ffi.cast("void *", context)
        self._line_metrics, self._y_top = line_metrics, y_top
        self.max_words = max_words
        self._risky = np.zeros(GLYPH_IDS, np.uint8)  # glyphs whose position may depend on a word's neighbours
        self._risky[[g for g in risky_glyphs if g < GLYPH_IDS]] = 1
        self._glyphs = GlyphMasks(glyph_cell) if glyph_cell else GlyphMasks()
        self._glyph = GlyphShaper(glyph_checks)  # new words' glyph strings written, not shaped (glyphshape.py)
        self._gate = gate()
        self._char_codes = self._gate.char_codes
        self._want = np.zeros(0, np.uint8)  # which words of a batch to cut (empty: all); see _measure_mixed
        self.stats = {"lookups": 0, "gated": 0, "composed": 0, "batches": 0, "batch_words": 0, "words_shaped": 0,
                      "foreign": 0, "resets": 0, "declined": 0, "noted": 0, "from_layout": 0}
        self.declined: str | None = None  # the strip lookup last left to Pango for cost (see adopt.py)
        self._composed_scripts = _DEFAULT_SHAPER_SCRIPTS
        # classes: one per (font, script, language) that Pango made a single left-to-right item of
        self._class_of: dict[tuple[int, int, int], int] = {}
        self._cls_key: list[tuple[int, int, int]] = []  # class -> its key (the inverse of _class_of)
        self._cls_space: list[int] = []  # space advance px
        self._cls_space_glyph: list[int] = []
        self._cls_base: list[tuple[int, float]] = []  # (baseline row, baseline phase)
        self._cls_phase: list[int] = []  # baseline phase in Pango units (-1: not a whole number of them)
        self._cls_anchor: list[str] = []
        self._cls_lut: list[np.ndarray] = []  # glyph id -> glyph mask row (-2: not drawn yet, -1: uncacheable)
        self._space_px = np.zeros(0, np.int32)
        self._group = np.zeros(0, np.int32)  # class -> the first class of its font and baseline
        self._rtl_cls: dict[int, int] = {}  # RTL_SCRIPTS index -> its class (level-1 items of that script)
        self._refs: list[int] = []  # fonts we hold a reference on
        self._need = np.zeros(4096, np.int32)
        self._used = np.zeros(3, np.int64)
        self._status = np.empty(1024, np.int32)
        self._shape = pa.Shaper(self._context)
        self._table = WordTable()  # a compiled copy of _ids for strips of known words
        self._reset_words()
        self._cjk_init(cjk_chars)  # the font's proven CJK characters (cjkcheck.py): Han/kana strips, cjk.py
        warm_kernels()  # rtlmix.py's, loaded now (once a process), not on a strip

    def _reset_words(self) -> None:
        self._ids: dict[str, int] = {"": EMPTY_WORD}  # the empty word (between two spaces) draws nothing
        self._table.clear()
        self._weak: dict[tuple[str, int], int] = {}  # (word of no script of its own, class) -> its row there
        self._rtl_ids: list[dict[str, int]] = [{"": EMPTY_WORD} for _ in RTL_SCRIPTS]  # words of RTL strips
        self._word_masks = Atlas(1 << 22)
        self._word_masks.add(np.zeros((0, 0), np.uint8), 0, 0)
        self._words = Rows(4, 1 << 14)
        self._words.extend(np.array([[0, 0, -1, 0], [0, 0, FOREIGN, 0]], np.int32))
        self._reset_pending()

    def __del__(self) -> None:
        for font in getattr(self, "_refs", ()):
            pa.gobject.g_object_unref(pa.ffi.cast("void *", font))

    @property
    def size(self) -> int:
        return len(self._ids) + sum(map(len, self._rtl_ids))

    # -- public ---------------------------------------------------------------------------------------
    def lookup(self, text: str) -> tuple[np.ndarray, int, int, np.ndarray] | None:
        """(word ids, width px, class, gaps) when the whole text can be composed from cached words, else None;
        gaps: the space after each word in a strip of several classes (else empty). Missing words are shaped
        (one Pango batch) and cached on the way -- unless the gate or a word already known to be foreign says
        the strip is Pango's anyway."""
        self.stats["lookups"] += 1
        scripts = self._gate(text)
        if not scripts:  # scripts the cache never composes, or a mixture it cannot: Pango's, unshaped
            self.stats["gated"] += 1
            return None
        if scripts >= MIX:  # right to left with left-to-right words: rtlmix.py
            return self._lookup_rtl_mix(text, scripts - MIX)
        if scripts == CJK:
            return self._lookup_cjk(text)
        if scripts >= RTL:
            return self._lookup_rtl(text, scripts - RTL)
        words, joined = (text.split(" ") if scripts > 1 else None), _NO_JOIN
        if words is not None:  # a word Pango's runs cut in two (brackets.word_cuts): its two pieces, glued
            cuts = self._gate.cuts[1] if self._gate.cuts[0] is text else word_cuts(text)
            if cuts is not None and len(cuts):
                words, joined = pieces(text, cuts)
        if words is None:  # the words' ids from the compiled table (wordtable.py), the dict asked for the rest
            data = np.frombuffer(text.encode("utf-8"), np.uint8)
            arr, missing = self._table.ids(data)
            if not missing:
                width, cls = kernels.measure(arr, self._words.a, self._space_px)
                return (arr, width, cls, _NO_GAPS) if cls >= 0 else None
            words, ids, miss, known = text.split(" "), arr.tolist(), np.flatnonzero(arr < 0).tolist(), arr
            for k in miss:
                ids[k] = self._ids.get(words[k])
        else:
            ids, miss = list(map(self._ids.get, words)), None
        if None in ids:  # a known foreign word, or composing would cost more (adopt.py): Pango's, nothing shaped
            if FOREIGN_WORD in ids or not (cut := self._first_pass(text, words, ids, scripts > 1, joined)):
                return None
            ids = self._ids_again(words, ids, miss) if cut > 1 else ids  # (pending words cut: look up again)
            if None in ids and FOREIGN_WORD not in ids:
                resets = self.stats["resets"]
                self._fill(words, ids, mixed=scripts > 1)
                if resets != self.stats["resets"]:  # the cache started over: every id is new, the table empty
                    miss = known = None
                ids = self._ids_again(words, ids, miss)
            if None in ids or FOREIGN_WORD in ids:
                return None
        arr = np.frombuffer(array.array("i", ids), np.int32)
        if scripts > 1:
            return self._measure_mixed(words, arr, joined)
        # the next strip of these words skips the dict (the words the table gave are not added again)
        self._table.add(data, arr, known if known is not None else arr[:0])
        width, cls = kernels.measure(arr, self._words.a, self._space_px)
        return (arr, width, cls, _NO_GAPS) if cls >= 0 else None

    def _ids_again(self, words: list[str], ids: list[int | None], miss: list[int] | None) -> list[int | None]:
        """The words' ids after shaping: looked up again at the positions ``miss`` (None: all of them)."""
        if miss is None:
            return list(map(self._ids.get, words))
        get = self._ids.get
        for k in miss:
            ids[k] = get(words[k])
        return ids

    def prefetch(self, texts: list[str]) -> None:
        """Shape every word of ``texts`` the cache does not hold yet, in one batch: a strip's own batch costs
        ~0.1 ms before its first word, so a document's lines or a bundle's chunks are best met together."""
        codes = [self._gate(t) for t in texts]
        for t in compress(texts, [c == CJK for c in codes]):
            self._lookup_cjk(t)  # (cjk.py: its tokens, shaped strip by strip)
        words = " ".join(compress(texts, [0 < c < RTL for c in codes])).split(" ")
        for i in range(0, len(words), 20_000):  # batches of a bounded size, for documents of any length
            ids = list(map(self._ids.get, part := words[i:i + 20_000]))
            if None in ids:
                self._fill(part, ids)

    def compose(self, canvas: np.ndarray, width: int, scratch: np.ndarray, over: bool,
                found: tuple[np.ndarray, int, int], x0: int) -> tuple[int, int]:
        """Draw a ``lookup`` result into the A8 ``canvas`` ((H, stride), ``width`` columns visible) from pixel
        ``x0``; ``over``: the canvas has ink already (``scratch`` is a blank (H, width) array to compose in).
        Returns the columns [lo, hi) painted (lo >= hi: none)."""
        ids, _, cls, gaps = found
        self.stats["composed"] += 1
        return kernels.compose(canvas, width, scratch, over, ids, x0, self._cls_base[cls][0], self._cls_space[cls], gaps,
                        self._words.a, self._word_masks.rows.a, self._word_masks.data)

    def word_mask(self, found) -> tuple[np.ndarray, int, int, int, int] | None:
        """What ``compose`` paints for a ``lookup`` of one word (and its space) at x = 0, y = 0: that word's mask
        (flat bytes, height, width, left, top row); None for several words."""
        ids, cls = found[0], found[2]
        if len(ids) > 2 or (len(ids) == 2 and ids[1] != EMPTY_WORD):
            return None
        off, h, w, left, top = self._word_masks.rows.a[self._words.a[ids[0], 0]].tolist()
        return self._word_masks.data[off:off + h * w], h, w, left, self._cls_base[cls][0] + top

    # -- shaping --------------------------------------------------------------------------------------
    def _fill(self, words: list[str], ids: list[int | None], mixed: bool = False) -> None:
        """Shape the missing words in one batch behind an anchor of the strip's class and cache them (a full
        cache starts over first). ``mixed``: the strip holds several scripts, so it has no one class; its words
        are shaped in their order, each cached in the class of the item it falls in (``measure_mixed`` takes a
        word of no script of its own only where the strip puts it in a run of that class)."""
        if self.size + ids.count(None) > self.max_words:
            self.stats["resets"] += 1
            self._reset_words()
            ids = list(map(self._ids.get, words))
        missing = list(dict.fromkeys(compress(words, map(is_, ids, repeat(None)))))
        if len(max(missing, key=len)) > LONG_WORD:  # never cached (its strips go to Pango): 100,000 marks took 48 s
            self._ids.update(dict.fromkeys((w for w in missing if len(w) > LONG_WORD), FOREIGN_WORD))
            ids = list(map(self._ids.get, words))
            return self._fill(words, ids, mixed) if None in ids else None
        hit = None if mixed else next((i for i in ids if i is not None and i > FOREIGN_WORD), None)
        cls = int(self._words.a[hit, 2]) if hit is not None else None
        codes = None
        joined = "".join(missing)
        plane0 = joined.isascii() or astral(joined) is None  # else codes are read here, not by the kernel
        if mixed and plane0:  # the strip's new words in their order, each behind what sets its run's script
            batch, want = mixed_batch(words, ids, self._words.a, self._weak)
            self._want = want
            try:
                self.stats["batches"] += 1
                self._harvest(batch, np.zeros(0, np.int8), 0, None, only=set(missing))
            finally:
                self._want = np.zeros(0, np.uint8)
            return
        if not plane0:
            codes = list(map(word_code, missing))
            for w, code in zip(missing, codes):
                if not code & LEAD:  # a leading mark attaches to the space before it: never cacheable
                    self._ids[w] = FOREIGN_WORD
                    self.stats["foreign"] += 1
            missing = [w for w, code in zip(missing, codes) if code & LEAD]
            codes = [code for code in codes if code & LEAD]
            if not missing:
                return
        if cls is not None and codes is None and self._glyph.on:
            missing = self._write(missing, cls)
            if not missing:
                return
        if cls is not None and codes is None and not (missing := self._write_hangul(missing, cls)):
            return  # (cjkglyph.py: words of Hangul syllables)
        skip = 0
        if cls is not None:
            missing.insert(0, self._cls_anchor[cls])
            if codes is not None:
                codes.insert(0, LEAD | STRONG)
            skip = 1
        self.stats["batches"] += 1
        self._harvest(missing, np.array(codes or [], np.int8), skip, cls)

    def _harvest(self, batch: list[str], codes: np.ndarray, skip: int, cls: int | None,
                 weak_only: bool = False, only: set[str] | None = None, rtl: int | None = None,
                 data: tuple[bytes, list[pa.Shaped]] | None = None) -> None:
        """Shape ``batch`` (words, each followed by one space) as Pango would and cache ``batch[skip:]``.

        A word that can never be cached (split between items, right-to-left, unknown or risky glyphs...) is
        marked foreign, so later strips holding it go to Pango without another batch. Words of no script of
        their own (digits, punctuation) in an item of another class than ``cls`` are left uncached: beside
        other words they may resolve to another script. ``rtl``: a batch of an RTL strip's words (see
        ``_lookup_rtl``), cached in ``_rtl_ids[rtl]``."""
        self.stats["batch_words"] += len(batch)
        data, written = data if data is not None else ((" ".join(batch) + " ").encode("utf-8"), None)
        raw = np.frombuffer(data, np.uint8)
        if len(self._status) < len(batch):
            self._status = np.empty(2 * len(batch), np.int32)
        status = self._status[:len(batch)]
        status[:] = FOREIGN_WORD
        if rtl is None:
            for item in written or self._shape(data):
                if item.level == 0 and item.script in _DEFAULT_SHAPER_SCRIPTS:  # the rest stay foreign
                    self._harvest_words(item, raw, codes, status, skip, batch, cls)
                    if written is None and self._glyph.on:  # (glyphshape.py learns from Pango's items)
                        self._learn_item(item, raw)
                    if item.script == HANGUL and written is None:
                        self._learn_hangul(item, raw)
        else:
            self._harvest_rtl(data, raw, codes, status, skip, batch, cls, rtl)
        new, st = batch[skip:], status[skip:].tolist()
        if rtl is not None:
            known = self._rtl_ids[rtl]
            known.update(zip(new, st))
            foreign = st.count(FOREIGN_WORD)
            self.stats["foreign"] += foreign
            self.stats["words_shaped"] += len(st) - foreign
            return
        got = status[skip:]
        rows = self._words.a[np.maximum(got, 0)]
        weak = np.flatnonzero((got > FOREIGN_WORD) & (rows[:, 3] == 0)).tolist()  # by class: see _measure_mixed
        self._weak.update(((new[k], int(rows[k, 2])), st[k]) for k in weak)
        if weak_only:
            return
        if only is not None:  # a whole strip was shaped: only its new words are new to the cache
            last = dict(zip(new, st))  # (a word shaped twice: its last status)
            new = list(filter(only.__contains__, last))
            st = list(map(last.__getitem__, new))
        if -1 in st:
            self._ids.update((w, i) for w, i in zip(new, st) if i != -1)
        else:
            self._ids.update(zip(new, st))
        foreign = st.count(FOREIGN_WORD)
        self.stats["foreign"] += foreign
        self.stats["words_shaped"] += len(st) - foreign - st.count(-1)

    def _harvest_words(self, item: pa.Shaped, raw: np.ndarray, codes: np.ndarray, status: np.ndarray, skip: int,
                       batch: list[str], cls: int | None, rtl: bool = False, open_end: bool = False) -> None:
        key = (item.font, item.script, item.language)
        c = self._class_of.get(key)
        if c is None:
            c = self._new_class(key, item, words_in(batch, item.offset, item.offset + item.length),
                                pa.DIRECTION_RTL if rtl else None)
            if c is None:
                return  # no anchor for a new class in this batch: stays uncached, tried again another time
        used, gm = self._used, self._glyphs.atlas
        wm, words = self._word_masks, self._words
        for _ in range(64):
            used[:] = wm.n, wm.rows.n, words.n
            code = kernels.harvest_item(item.glyphs, item.clusters, raw, item.offset, item.offset + item.length, skip,
                                 codes, self._char_codes, self._want, cls is None or c == cls, self._cls_lut[c], self._risky, self._cls_space_glyph[c],
                                 self._cls_space[c], c, gm.rows.a, gm.data,
                                 wm.rows.a, wm.data, words.a, used, status, self._need, rtl, open_end,
                                 self._cls_phase[c])
            if code == 0:
                wm.n, wm.rows.n, words.n = used.tolist()
                return
            if code == 1:  # draw the glyphs it has not seen yet, then go again
                need = list(dict.fromkeys(self._need[1:1 + self._need[0]].tolist()))  # each glyph once
                self._cls_lut[c][need] = self._glyphs.draw(item.font, need, self._cls_base[c][1])
            else:  # grow the tables, then go again
                wm.reserve(int(self._need[0]))
                wm.rows.reserve(int(self._need[1]))
                words.reserve(int(self._need[1]))
        raise RuntimeError("shape cache: harvesting did not converge")  # pragma: no cover - each round draws glyphs
