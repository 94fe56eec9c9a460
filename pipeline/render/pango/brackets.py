"""Mixed left-to-right strips with paired punctuation: when Pango's script runs are those ``measure_mixed`` reads.

``kernels.measure_mixed`` lays a strip of several scripts out in the runs of Pango's script iterator *without*
paired punctuation: a digit or punctuation mark takes the script of the run it stands in. Pango's iterator
(pango-script.c; ``scriptruns.runs`` does what it does) also keeps a stack of the opening marks of its paired list
(``scriptruns.PAIRED``), each with the script of the run it was pushed in, and a closing mark takes the script of its
opening one. That is the only thing the pairs change: an opening mark, or a closing mark without its opening one
on the stack, is read as any other mark; a closing mark whose opening one was pushed in the run's own script (or
in no script yet: the stack's entries are set to the run's script when it gets one) continues the run as any
other mark would. So where every character falls in a run of the same script both ways, Pango itemizes the strip
as if its marks were not paired, and ``measure_mixed`` lays it out as Pango does.

``agree(text)`` runs the iterator both ways (``scriptruns.runs`` with Pango's pair table and with none) and says whether
they cut the same runs. ``scriptgate`` asks ``word_cuts`` for every mixed strip: it sends the strip to
Pango when they do not agree (a closing bracket after a word of another script than its opening one's: "Текст
(Latin) текст") or when the strip holds a character past the BMP (the tables are per BMP code point); else it
gives the positions where a run starts inside a word ("18.I.1919" in Cyrillic prose), where the cache cuts the
word. The batches that shape a mixed strip's new words are not concerned: a word is cached in the class of the
item Pango put it in, whole (``ShapeCache._harvest``), and ``measure_mixed`` takes it only where the strip's run
has that class.

Words cut by a run. Where a run starts inside a word ("18.I.1919" in Cyrillic prose: "18." ends the Cyrillic run,
"I.1919" opens a Latin one; "текстLatin"), Pango makes two items of it and shapes each alone: HarfBuzz sees the rest
of the paragraph only as context, which the default shaper reads for no lookup (only the Arabic-type joiners do; a
dotted circle is added only to a buffer that starts with a mark and has no context before it: a run starts on a
character of a script of its own, and a piece that starts with a mark is foreign). So no kerning or ligature crosses
the cut, and each piece shapes as it does alone followed by a space in an item of its class, which is how the cache
cuts it (``pieces``: the pieces are words of the strip, ``kernels.measure_mixed`` puts no space between the two).
Positions: ``pango_shape_with_flags`` rounds each glyph's width to whole pixels within its item (shape.c,
PANGO_SHAPE_ROUND_POSITIONS), the line and the renderer add the widths of all items in Pango units, and the cache's
words have whole-pixel advances (``kernels.harvest_item``): the second piece starts exactly at the first's advance;
no rounding applies between items that does not apply within one. Pixels: cairo paints each item on its own, OVER
what the items before it painted, where the cache adds a strip's masks and paints once: the same wherever two items'
ink shares no pixel, which ``measure_mixed`` requires (by columns: a word's ink may not reach left of the right end
of any earlier run's ink; "дj", whose ink touches across the cut, goes to Pango).
``tests/test_render_runsplit.py`` checks real Bulgarian text, random glued UDHR words and every glued pair of
Cyrillic or Greek and Latin letters against Pango, and that an offset one pixel off at the cut, or no ink check,
changes pixels.

``tests/test_render_brackets.py`` checks ``scriptruns.runs`` against Pango's own items and the composed strips against
Pango's pixels, first and second pass (real Bulgarian Wikipedia and UDHR text, randomized brackets), and that
composing a strip the gate turns away would differ (a closing bracket GoNoto kerns with a Latin letter).
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from . import kernels
from .kernels import FOREIGN_WORD
from .scriptruns import pair_table, runs


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(script per BMP code point, Pango's pair table, a pair table with no pairs)."""
    from .scriptgate import gate  # (scriptgate imports this module)

    pair = pair_table()
    return gate().script_u8, pair, np.full_like(pair, -1)


def _runs(text: str, pairs: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """(code points, run script per character) of BMP ``text``, Pango's pairs followed or not; None past the BMP."""
    cps = np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.int32)
    if cps.max(initial=0) >= 1 << 16:
        return None
    script, pair, none = _tables()
    out = np.empty(len(cps), np.int32)
    runs(cps, script, pair if pairs else none, out)
    return cps, out


def agree(text: str) -> bool:
    """True when Pango's script iterator cuts ``text`` (BMP text) into the same runs, each of the same script, with
    its paired punctuation as without it; False too for text past the BMP."""
    got = _runs(text, True)
    return got is not None and bool(np.array_equal(got[1], _runs(text, False)[1]))


@numba.njit(cache=True, nogil=True)
def _cuts(cps, script, pair, none, out):
    """``word_cuts`` over the code points ``cps`` in one compiled call (~2x faster than numpy around two ``runs``
    calls, and than a regex looking for paired marks first: it is asked for every mixed strip): the cuts into
    ``out``, their count returned; -1 when the strip is Pango's."""
    n = cps.shape[0]
    paired = False
    for i in range(n):
        if cps[i] >= 0x10000:
            return -1
        if pair[cps[i]] >= 0:
            paired = True
    rs = np.empty(n, np.int32)
    runs(cps, script, pair, rs)
    if paired:
        plain = np.empty(n, np.int32)
        runs(cps, script, none, plain)
        for i in range(n):
            if rs[i] != plain[i]:
                return -1
    m = 0
    for i in range(1, n):
        if rs[i] != rs[i - 1] and cps[i - 1] != 32:
            out[m] = i
            m += 1
    return m


def word_cuts(text: str) -> np.ndarray | None:
    """For a strip of several composable scripts: None when ``agree`` fails (without a mark of Pango's pair list it
    holds) or the strip holds a character past the BMP -- Pango's strip; else the character positions inside words
    where Pango's script iterator starts a run (empty when every run starts at a word's start: after a space, or
    at the strip's start). A word split between two runs ("18.I.1919" or "„AD“," in Cyrillic prose: its digits or
    quote take the Cyrillic run, its letters start a Latin one) lies in two items of Pango's layout, each shaped
    alone: the cache cuts it there (``pieces``; why that is exact: the module doc)."""
    script, pair, none = _tables()
    cps = np.frombuffer(text.encode("utf-32-le"), np.int32)
    out = np.empty(len(cps), np.int64)
    m = _cuts(cps, script, pair, none, out)
    return out[:m] if m >= 0 else None


def pieces(text: str, cuts: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(words, joined): ``text`` split at its spaces and at the positions ``cuts`` (``word_cuts``), and per piece 1
    when the next one follows it with no space between (a word cut where Pango starts a run), else 0."""
    words: list[str] = []
    joined = []
    at = 0
    for c in cuts.tolist() + [len(text)]:
        part = text[at:c].split(" ")
        words += part
        joined += [0] * (len(part) - 1) + [1]
        at = c
    joined[-1] = 0
    return words, np.array(joined, np.uint8)


class MixedWords:
    """``ShapeCache``'s measure of a mixed left-to-right strip (it holds the words, classes and ``_harvest``)."""

    def _measure_mixed(self, words: list[str], arr: np.ndarray, joined: np.ndarray):
        """``kernels.measure_mixed``; a word of no script of its own that the strip puts in a run of another class
        than the one it was cached in is looked up in that class, and the strip measured again. The first such
        word missing there has the strip shaped once as it stands, its digit and punctuation words cut into the
        classes of their runs (a word still missing is remembered as not composable in that class)."""
        gaps = np.empty(max(len(arr) - 1, 1), np.int32)
        reshaped = False
        for _ in range(len(arr) + 1):
            width, cls, bad, run = kernels.measure_mixed(arr, self._words.a, self._space_px, self._group, gaps,
                                                              joined, self._word_masks.rows.a)
            if bad < 0:
                return (arr, width, cls, gaps) if cls >= 0 else None
            alt = self._weak.get((words[bad], run))
            if alt is None and not reshaped and self._words.n < 2 * self.max_words:  # (rows stay bounded)
                reshaped = True  # shape the strip as it stands, once, cutting its digit and punctuation words
                # only: each lands in the class of its run
                rows = self._words.a
                self._want = np.array([i > FOREIGN_WORD and rows[i, 3] == 0 for i in arr.tolist()], np.uint8)
                try:
                    self.stats["batches"] += 1
                    self._harvest(words, np.zeros(0, np.int8), 0, None, weak_only=True)
                finally:
                    self._want = np.zeros(0, np.uint8)
                alt = self._weak.get((words[bad], run))
            if alt is None:
                alt = self._weak[(words[bad], run)] = FOREIGN_WORD
            if alt == FOREIGN_WORD:
                return None
            arr = arr.copy() if not arr.flags.writeable else arr
            arr[bad] = alt
        return None
