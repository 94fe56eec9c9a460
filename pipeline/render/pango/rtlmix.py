"""The shaping cache's right-to-left strips with left-to-right words (``ShapeCache`` inherits this): Arabic or Hebrew
text holding Latin (or another composable left-to-right script's) names, terms and numbers, composed from cached
words in Pango's visual order.

What Pango does with such a strip (a PangoLayout with automatic direction, one line):

* Bidi: the paragraph takes the direction of its first strong character (``pango_find_base_dir``) and every
  character its embedding level from fribidi (``pango_log2vis_get_embedding_levels``, rules W1-W7, N0-N2 with
  bracket pairs, I1-I2 and L1). The cache asks Pango itself for those levels, strip by strip
  (``pango_abi.bidi_levels``): nothing of UAX #9 is re-implemented or assumed.
* Items: a run of one level and one script (Pango's script iterator with its paired punctuation: ``cjk.runs``),
  of the one font the cache works with. A space between a Latin word and an Arabic one is usually at the
  paragraph's level 1 while in the Latin script run: an item of its own, right to left, of the Latin class.
* Line: rule L2 reverses, from the highest level down to the lowest odd one, every stretch at that level or
  higher; each item's glyphs are drawn in that visual order, advances rounded to whole pixels.

So the strip is cut into pieces: at spaces, and inside a word where its level or script run changes ("word." before
a Latin word in a left-to-right paragraph: the stop is at level 0, the word at 1), never before a mark, joiner or
other character that attaches to what precedes it (``units``). Each piece is then one item's text, or a whole word
of it, and is looked up as that item shapes it: a piece of the right-to-left script's run at an odd level, or a
number of that run at an even one, as the right-to-left strips cache it (``rtl.py``: a right-to-left batch, numbers
as level-2 items); a piece of the left-to-right script's run at an even level as left-to-right strips cache it, in
that script's class (a number or mark there: ``_weak``); punctuation standing against its run's direction (the
stop above; a comma after a Latin word before an Arabic one, at level 1 in the Latin run) from batches that put it
so (``_fill_cross``). A piece does not see its neighbours: no lookup crosses a space (``spacecheck.py``) or an item
boundary, the Arabic shaper joins nothing across a space or punctuation, and an item's direction is its level's
parity, so each shapes as cached. Each space is its run's class's space glyph and advance (a right-to-left space of
the Latin class included). Pieces and spaces are laid out in the L2 order of their levels (``lay_out``), and only
where no two of Pango's runs ink one pixel: cairo paints each run OVER the ones before it, ``compose`` adds
the whole line with saturation (an Urdu bari ye's tail under the "?" after it differed by one pixel). Anything
else -- a left-to-right script piece at an odd level that is not punctuation, a mark or letter of the right-to-left
run at an even level, two classes of different fonts or baselines, a piece no batch caches -- is Pango's. A strip's
new words of both directions are shaped in one right-to-left batch (``rtl._fill_merged``).

``tests/test_render_rtl_mixed.py`` checks composed strips against Pango's pixels (Arabic, Persian, Urdu and Hebrew
UDHR text with Latin words, numbers and punctuation pushed in at random, paragraphs of either direction).
"""

from __future__ import annotations

import array
import unicodedata
from itertools import compress

import numpy as np

from . import pango_abi as pa
from .cjk import pair_table, runs
from .kernels import FOREIGN_WORD
from .rtllayout import LTR_DIR, SPACE_ID, lay_out, sort_pieces, units
from .scriptgate import RTL_SCRIPTS, digit_word

_NEUTRAL = frozenset({"ON", "CS", "ES", "ET"})


def marks_only(piece: str) -> bool:
    """Punctuation and symbols alone (bidi classes ON, CS, ES, ET): no letter, digit, mark or control."""
    return all(unicodedata.bidirectional(c) in _NEUTRAL for c in piece)


class RtlMixWords:
    """``_lookup_rtl_mix``; the tables are ``ShapeCache``'s (``_rtl_ids``, ``_ids``, ``_weak``) and ``_cross``:
    (piece, class, parity) -> id for marks shaped against their run's direction (a full stop of the Arabic run at
    level 0, a comma of the Latin run at level 1), cut from batches of their own (``_fill_cross``)."""

    _mix_pairs = None
    _cross_rows = None

    def _lookup_rtl_mix(self, text: str, i: int):
        """A right-to-left strip of ``RTL_SCRIPTS[i]`` with words of one composable left-to-right script that the
        gate passed (``ScriptGate._rtl_mix``): its pieces in Pango's visual order (see the module doc), or None."""
        cps = np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.int32)
        lv = np.empty(len(cps), np.uint8)
        if pa.bidi_levels(text.encode("utf-8"), lv) < 0:
            return None
        if self._mix_pairs is None:
            RtlMixWords._mix_pairs = pair_table()
        rs = np.empty(len(cps), np.int32)
        runs(cps, self._gate.script_u8, self._mix_pairs, rs)
        u = np.empty((len(cps), 6), np.int32)
        n, cut = units(cps, lv, rs, self._char_codes, u)
        if n < 0:
            return None
        u = u[:n]
        if self._cross_rows is not self._words:  # the cache started over: so do the crossed pieces
            self._cross, self._cross_rows = {}, self._words
        toks = _pieces(text, u, cut)
        at = np.empty((3, len(toks)), np.int64)
        na, nb, nc = sort_pieces(u, RTL_SCRIPTS[i], at)
        rk, cross = at[0, :na].tolist(), []
        for kk in at[2, :nc].tolist():  # the RTL run at an even level, the other at an odd one
            k, o = kk >> 1, kk & 1
            w = toks[k]
            if not o and digit_word(w):  # a number: a level-2 item of the RTL script, as the RTL batches cut it
                rk.append(k)
            elif marks_only(w):
                cross.append((k, w, o))
            else:
                return None
        if len(rk) > na:
            rk.sort()
        got = self._mix_ids(toks, i, 2, (rk, at[1, :nb].tolist(), cross), [-1] * len(toks), None)
        if got is None:
            return None
        pid, c_rtl, c_ltr = got
        pid = np.frombuffer(array.array("i", pid), np.int32)
        if self._group[c_rtl] != self._group[c_ltr]:  # one font and baseline: one line height, one y
            return None
        ids = np.full(n, SPACE_ID, np.int32)
        ids[u[:, 4] >= 0] = pid
        out = np.empty(n + 2, np.int32)
        gaps = np.zeros(n + 2, np.int32)
        m, width = lay_out(u, ids, self._words.a, self._word_masks.rows.a, self._word_masks.data, self._space_px, c_rtl,
                           c_ltr, RTL_SCRIPTS[i], out, gaps)
        if m < 0:
            return None
        return out[:m], width, c_rtl, gaps[:max(m - 1, 1)]

    def _mix_ids(self, toks: list[str], i: int, fill: int, sorts: tuple, pid: list[int], c_ltr: int | None):
        """Each piece's id (``pid``, a list) and the two classes; None when a piece can not be composed. ``sorts``:
        which pieces are looked up where (the pieces of the RTL run at an odd level and the numbers of that run,
        the left-to-right run's at an even level, the marks against their run's direction); ``c_ltr``: the
        left-to-right class when known. With ``fill`` rounds left, the strip's new pieces are shaped first
        (``_mix_fill``: its words, then the numbers and marks whose class they set), and the next round looks up
        only the pieces this one did not find (a found id stays valid: rows are only appended to until the cache
        starts over, which ends the strip)."""
        if self._cross_rows is not self._words:  # (the cache started over since the round before)
            return None
        c_rtl, rows = self._rtl_cls.get(i), self._words.a
        rk, ltr_k, cross = sorts
        rg = list(map(self._rtl_ids[i].get, map(toks.__getitem__, rk)))
        rtl_miss = rtl_new = []
        if FOREIGN_WORD in rg:  # a word known not to compose: Pango's, nothing shaped
            return None
        if None in rg:
            rtl_miss = [k for k, g in zip(rk, rg) if g is None]
            rtl_new = list(map(toks.__getitem__, rtl_miss))
        for k, g in zip(rk, rg):
            pid[k] = g  # (None where missing: set by the next round)
        ltr_strong, strong_k, ltr_weak, weak_cls = [], [], [], []
        if ltr_k:
            ltr = list(map(toks.__getitem__, ltr_k))
            gots = list(map(self._ids.get, ltr))
            if FOREIGN_WORD in gots:
                return None
            strong = self._gate.strong
            for k, w, got, r in zip(ltr_k, ltr, gots, rows[[0 if g is None else g for g in gots]].tolist()):
                if got is not None and r[3] != 0:  # a word of a script of its own: sets the class
                    if c_ltr is None:
                        c_ltr = r[2]
                    pid[k] = got
                elif got is None and strong(w):
                    ltr_strong.append(w)
                    strong_k.append(k)
                else:
                    ltr_weak.append((k, w, got))
                    weak_cls.append(r[2])
        weak_new, cross_new = [], []
        if c_ltr is not None:
            weak_get = self._weak.get
            weak_new = _place(pid, ltr_weak, [got if got is not None and wc == c_ltr else weak_get((w, c_ltr))
                                              for (_, w, got), wc in zip(ltr_weak, weak_cls)])
            if c_rtl is not None and weak_new is not None:
                cross_new = _place(pid, cross, [self._cross.get((w, c_ltr if o else c_rtl, o)) for _, w, o in cross])
            if weak_new is None or cross_new is None:
                return None
        else:
            weak_new, cross_new = ltr_weak, cross
        if rtl_new or ltr_strong or weak_new or cross_new:
            if not fill:
                return None
            todo = (rtl_miss, sorted(strong_k + [k for k, _, _ in weak_new]),
                    cross if c_ltr is None or c_rtl is None else cross_new)
            return self._mix_fill(toks, i, fill, rtl_new, ltr_strong, weak_new, cross_new, c_ltr, todo, pid)
        if c_ltr is None or c_rtl is None:
            return None
        return pid, c_rtl, c_ltr

    def _mix_fill(self, toks, i, fill, rtl_new, ltr_strong, ltr_weak, cross, c_ltr, sorts, pid):
        """Shape the strip's new pieces -- right-to-left ones in a right-to-left batch (``_fill_rtl``), left-to-right
        ones behind the anchor of their class (numbers and marks after a word of the script when the class is new),
        crossed marks in batches of their own (``_fill_cross``) -- then look the pieces still missing up again."""
        if self.size + len(rtl_new) + len(ltr_strong) + len(ltr_weak) + len(cross) > self.max_words:
            self.stats["resets"] += 1
            self._reset_words()
            return None  # (every id changed: the next strip starts afresh)
        ltr = list(dict.fromkeys(ltr_strong + [w for _, w, _ in ltr_weak]))
        only = set(ltr_strong) | {w for _, w, got in ltr_weak if got is None}
        c_rtl = self._rtl_cls.get(i)
        if rtl_new and ltr and c_ltr is not None and c_rtl is not None:  # one batch for both (rtl._fill_merged)
            words = list(dict.fromkeys(rtl_new))
            self._fill_merged(i, words, ltr, c_rtl, c_ltr, only)
            ids_get, weak_get = self._ids.get, self._weak.get
            rtl_new = []
            ltr = [w for w in ltr if (ids_get(w) is None if w in only else weak_get((w, c_ltr)) is None)]
        if rtl_new:
            words = list(dict.fromkeys(rtl_new))
            self._fill_rtl(words, [None] * len(words), i)
        if ltr:
            batch, skip = ([self._cls_anchor[c_ltr]] + ltr, 1) if c_ltr is not None else (ltr, 0)
            self.stats["batches"] += 1
            self._harvest(batch, np.zeros(0, np.int8), skip, c_ltr, only=only)
        if cross and c_ltr is not None:  # (a new class: its marks are shaped in the next round)
            self._fill_cross(i, cross, c_ltr)
        return self._mix_ids(toks, i, fill - 1, sorts, pid, c_ltr)

    def _fill_cross(self, i, cross, c_ltr):
        """Marks of a run at a level against its script's direction, each shaped where a batch puts it so: between
        a word of its run's script and one of the other direction (``A p L`` with a left-to-right paragraph for the
        Arabic run's marks at an even level, ``L p A`` with a right-to-left one for the Latin run's at an odd
        level), cut from the items of that script and level parity; the rest are remembered as foreign."""
        c_rtl = self._rtl_cls.get(i)
        if c_rtl is None or c_ltr is None:
            return
        for odd in (0, 1):
            marks = list(dict.fromkeys(w for _, w, o in cross if o == odd))
            if not marks:
                continue
            own, other = (self._cls_anchor[c_ltr], self._cls_anchor[c_rtl]) if odd else \
                (self._cls_anchor[c_rtl], self._cls_anchor[c_ltr])
            batch = [x for w in marks for x in (own, w, other)]
            script, cls = (self._ltr_script_of(c_ltr), c_ltr) if odd else (RTL_SCRIPTS[i], c_rtl)
            self.stats["batches"] += 1
            self.stats["batch_words"] += len(batch)
            data = (" ".join(batch) + " ").encode("utf-8")
            raw = np.frombuffer(data, np.uint8)
            status = np.full(len(batch), FOREIGN_WORD, np.int32)
            want = np.zeros(len(batch), np.uint8)
            want[1::3] = 1
            self._want = want
            try:
                for item in self._shape(data, pa.DIRECTION_RTL if odd else LTR_DIR):
                    if item.script != script or item.level & 1 != odd:
                        continue
                    if odd:  # Pango gives a right-to-left item's glyphs in visual order
                        item = item._replace(glyphs=np.ascontiguousarray(item.glyphs[::-1]),
                                             clusters=np.ascontiguousarray(item.clusters[::-1]))
                    self._harvest_words(item, raw, np.zeros(0, np.int8), status, 0, batch, cls, rtl=bool(odd))
            finally:
                self._want = np.zeros(0, np.uint8)
            for w, st in zip(marks, status[1::3].tolist()):
                ok = st > FOREIGN_WORD and self._words.a[st, 2] == cls
                self._cross[(w, cls, odd)] = st if ok else FOREIGN_WORD

    def _ltr_script_of(self, cls: int) -> int:
        return self._cls_key[cls][1]


def _pieces(text: str, u: np.ndarray, cut: int) -> list[str]:
    """The pieces of ``text`` that ``units`` cut (``u``), in order: its words between spaces, those cut where a
    level or run changes (``cut`` of them) replaced by their pieces (``u``: the rows of kind 0)."""
    words = text.split(" ")
    if not cut:
        return list(filter(None, words))
    by_word: dict[int, list[str]] = {}
    for a, b, w in u[u[:, 4] == 0][:, [0, 1, 5]].tolist():
        by_word.setdefault(w, []).append(text[a:b])
    toks: list[str] = []
    at = 0
    for w, parts in by_word.items():  # (in order: units numbers words as they come)
        toks += filter(None, words[at:w])
        toks += parts
        at = w + 1
    toks += filter(None, words[at:])
    return toks


def _place(pid: np.ndarray, items: list[tuple], found: list[int | None]) -> list[tuple] | None:
    """``pid[k] = found[i]`` for each item ``(k, ...)`` found; the items still missing, or None when one is known
    to be foreign (the strip is Pango's)."""
    missing = []
    for item, got in zip(items, found):
        if got is None:
            missing.append(item)
        elif got == FOREIGN_WORD:
            return None
        else:
            pid[item[0]] = got
    return missing
