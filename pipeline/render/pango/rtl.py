"""The shaping cache's right-to-left strips (``ShapeCache`` inherits this): Arabic or Hebrew text composed word by
word in reverse order.

Why that is Pango's layout, for a strip the script gate passes (``scriptgate.ScriptGate._rtl``: one right-to-left
script, no left-to-right character, bidi control or separator, numbers as words of one family of digits):

* Bidi (UAX #9, fribidi under Pango): the paragraph is right to left (its first strong character is). With no L
  character, every neutral between two words resolves to R (N1/N2: numbers count as R), so every space and every
  word but the numbers is at level 1; a number, being digits alone, is at level 2 whatever stands before it (W2
  turns European digits after an Arabic letter into Arabic ones, which changes only W4/W5 -- separators or
  terminators glued to the number -- which the gate rules out). Rule L2 reverses the level-1 line: the words stand
  in reverse order, each number's digits left to right inside it, one space (level 1) between each two.
* Shaping: a word's glyphs do not depend on the words around it when no lookup reaches across the space
  (``spacecheck.py``, per font, direction-blind: GSUB/GPOS run on logical order) and no shaper state crosses it:
  HarfBuzz's Arabic shaper joins letters through transparent marks only, and U+0020 has joining type U (joins
  nothing), so a word's first and last letters take the same forms beside a space as at the strip's ends; the
  Hebrew shaper composes within a cluster. A number's item has the same text, script (its neighbours') and
  direction in the batch as in the strip.
* Pixels: Pango rounds advances to whole pixels; x and y offsets off whole pixels (Hebrew kerning, Arabic marks)
  are put where cairo 1.16 puts them (``kernels._rows``); the start-up canary holds both (``pangocairo.RTL_CANARY``).

Words are cut from batches (an anchor word of the class first) itemized with a right-to-left paragraph direction,
as the strip's layout finds it; level-1 items come in Pango's visual order and are turned back into logical order for
``kernels.harvest_item``; a number's item ends before its space, which a level-1 item holds. Every space of a batch
must be the class's one space glyph and advance, else nothing of the batch is cached. ``tests/test_render_rtl_cjk.py``
checks composed strips against Pango's, with odd characters pushed in.
"""

from __future__ import annotations

import array
from itertools import compress, repeat
from operator import is_

import numpy as np

from . import kernels
from . import pango_abi as pa
from .kernels import FOREIGN_WORD
from .scriptgate import RTL_SCRIPTS, digit_word

_NO_GAPS = np.zeros(0, np.int32)


class RtlWords:
    """``_lookup_rtl`` and its batches; the tables are ``ShapeCache``'s (``_rtl_ids``: one dict of words per RTL
    script; ``_rtl_cls``: the script's class)."""

    def _lookup_rtl(self, text: str, i: int):
        """A right-to-left strip of ``RTL_SCRIPTS[i]`` that the gate passed (see ``ScriptGate._rtl``): Pango lays it out
        as one right-to-left line in which every word but the numbers is at level 1 and each number at level 2, every
        space at level 1 -- so the line shows the words in reverse order, each as it shapes alone (its glyphs in
        Pango's visual order), with the class's space between them. The words are cached from batches itemized
        with a right-to-left paragraph direction, as the strip's layout finds it."""
        known = self._rtl_ids[i]
        words = text.split(" ")
        ids = list(map(known.get, words))
        if None in ids:
            if FOREIGN_WORD in ids:
                return None
            self._fill_rtl(words, ids, i)
            known = self._rtl_ids[i]
            ids = list(map(known.get, words))
            if None in ids:
                return None
        ids.reverse()
        arr = np.frombuffer(array.array("i", ids), np.int32)
        width, cls = kernels.measure(arr, self._words.a, self._space_px)
        if cls < 0:
            return None
        return arr, width, cls, _NO_GAPS

    def _fill_rtl(self, words: list[str], ids: list[int | None], i: int) -> None:
        if self.size + ids.count(None) > self.max_words:
            self.stats["resets"] += 1
            self._reset_words()
            ids = list(map(self._rtl_ids[i].get, words))
        missing = list(dict.fromkeys(compress(words, map(is_, ids, repeat(None)))))
        cls = self._rtl_cls.get(i)
        batch, skip = ([self._cls_anchor[cls]] + missing, 1) if cls is not None else (missing, 0)
        self.stats["batches"] += 1
        self._harvest(batch, np.zeros(0, np.int8), skip, cls, rtl=i)


    def _harvest_rtl(self, data: bytes, raw: np.ndarray, codes: np.ndarray, status: np.ndarray, skip: int,
                     batch: list[str], cls: int | None, rtl: int, shaped: list | None = None,
                     end: int | None = None) -> None:
        """Cut an RTL batch: its level-1 items (glyphs turned back into logical order) and its numbers, level-2
        items whose space is the next item's. Every space of the batch must be the class's one space glyph and
        advance, else nothing of it is cached. ``shaped``, ``end``: the batch's items, shaped already, of which the
        ones before byte ``end`` are the RTL words' (``_fill_merged``)."""
        script = RTL_SCRIPTS[rtl]
        shaped = self._shape(data, pa.DIRECTION_RTL) if shaped is None else [it for it in shaped if it.offset < end]
        items = [it for it in shaped if it.script == script and it.level in (1, 2)]
        for item in items:
            if item.level == 2 and not digit_word(data[item.offset:item.offset + item.length].decode("utf-8")):
                continue  # only a number may stand at level 2 (the gate's bidi classes are Python's, Pango's fribidi's)
            if item.level == 1:  # Pango gives a right-to-left item's glyphs in visual order
                item = item._replace(glyphs=np.ascontiguousarray(item.glyphs[::-1]),
                                     clusters=np.ascontiguousarray(item.clusters[::-1]))
            self._harvest_words(item, raw, codes, status, skip, batch, cls, rtl=item.level == 1,
                                open_end=item.level == 2)
        c = self._rtl_cls.get(rtl)
        if c is None:
            c = next((self._class_of[k] for k in ((it.font, it.script, it.language) for it in items if it.level == 1)
                      if k in self._class_of), None)
            if c is None:
                status[:] = FOREIGN_WORD
                return
            self._rtl_cls[rtl] = c
        spaces = int(np.count_nonzero((raw if end is None else raw[:end]) == 32))
        seen = 0
        for it in items:
            at = raw[it.clusters] == 32
            g = it.glyphs[at]
            seen += len(g)
            if it.level != 1 or (g[:, pa.GLYPH] != self._cls_space_glyph[c]).any() or \
                    (g[:, pa.WIDTH] != self._cls_space[c] * pa.SCALE).any() or self._class_of.get(
                        (it.font, it.script, it.language)) != c:
                if len(g) or it.level == 1:
                    status[:] = FOREIGN_WORD
                    return
        if seen != spaces:
            status[:] = FOREIGN_WORD

    def _fill_merged(self, i: int, rtl_words: list[str], ltr_words: list[str], c_rtl: int, c_ltr: int,
                     only: set[str]) -> None:
        """A right-to-left strip's new RTL words and new left-to-right words in one right-to-left batch, as the strip
        itself is itemized: [RTL anchor] + RTL words + [LTR anchor] + LTR words + [LTR anchor]. The RTL part is cut
        as ``_fill_rtl``'s batches are, and kept as they are (a Latin letter after it resolves its last neutrals as the
        end of the paragraph does: to the paragraph's R; a bracket paired across the parts stays R, as the RTL text
        before it sets); the LTR words stand between two strong L letters, so every one of
        them, numbers and marks too, is in a level-2 item of their script, cut as a left-to-right batch is (words
        ``only`` names go into the word table; each number or mark under its class), of which only the words cut
        whole are kept (a closing bracket paired with an RTL word's is not in their run): the caller shapes the rest
        in a batch of their own."""
        anchor = self._cls_anchor[c_ltr]
        batch = [self._cls_anchor[c_rtl]] + rtl_words + [anchor] + ltr_words + [anchor]
        self.stats["batches"] += 1
        self.stats["batch_words"] += len(batch)
        data = (" ".join(batch) + " ").encode("utf-8")
        end = len((" ".join(batch[:1 + len(rtl_words)]) + " ").encode("utf-8"))
        raw = np.frombuffer(data, np.uint8)
        status = np.full(len(batch), FOREIGN_WORD, np.int32)
        codes = np.zeros(0, np.int8)
        shaped = self._shape(data, pa.DIRECTION_RTL)
        self._harvest_rtl(data, raw, codes, status, 1, batch, c_rtl, i, shaped, end)
        first = 2 + len(rtl_words)
        for item in shaped:
            if item.offset >= end and not item.level & 1 and self._class_of.get(
                    (item.font, item.script, item.language)) == c_ltr:
                self._harvest_words(item, raw, codes, status, first, batch, c_ltr)
        st = status[1:first - 1].tolist()
        self._rtl_ids[i].update(zip(rtl_words, st))
        good = [s for s in st if s > FOREIGN_WORD]
        self.stats["foreign"] += len(st) - len(good)
        new, got = ltr_words, status[first:first + len(ltr_words)]
        rows = self._words.a[np.maximum(got, 0)]
        weak = np.flatnonzero((got > FOREIGN_WORD) & (rows[:, 3] == 0)).tolist()
        self._weak.update(((new[k], int(rows[k, 2])), int(got[k])) for k in weak)
        kept = [(w, s) for w, s in zip(new, got.tolist()) if s > FOREIGN_WORD and w in only]
        self._ids.update(kept)
        self.stats["words_shaped"] += len(good) + len(kept)
