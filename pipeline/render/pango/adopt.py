"""The shaping cache's first pass: compose a strip, or let Pango draw it and keep the words its layout shaped.

A strip whose words are mostly new costs more to compose than to hand to Pango: each new word is shaped (Pango's
own itemize + shape, in a batch), cut into a mask and its new glyphs drawn, while Pango lays the whole strip out and
draws it in one go. ``composing_pays`` decides before anything is shaped, from the strip's word counts (dict look-ups
the cache makes anyway). A strip it declines is drawn by Pango, and ``adopt`` then reads that layout's glyph runs
(``pango_abi.layout_items``: the glyphs, clusters and analysis Pango just made) and notes each new word as
*pending* in them: nothing is cut and no glyph is drawn then. When a later strip the cache composes holds a pending
word, ``_from_pending`` cuts it from the runs it was noted in, with the kernel that cuts shaped batches
(``kernels.harvest_item``), drawing its new glyphs then. So no word is shaped twice, and a word met once costs a
Pango-drawn strip a dict entry only.

The runs are the strip's own, so a word is cut as it stands in the strip: with the class of the run it fell in
(digits and punctuation take their run's script, as in a mixed strip's batch, ``mixbatch.py``), and only
when it and the space after it lie in one left-to-right run of a script the cache composes; its space must be the
class's one space glyph (as for any batch). The strip's last word, with no space after it in the layout, is never
noted. Pending words are dropped when the cache starts over, or when ``_MAX_RECORDS`` strips have been noted.
"""

from __future__ import annotations

from itertools import compress, repeat
from operator import is_

import numpy as np

from . import pango_abi as pa
from .kernels import FOREIGN_WORD
from .words import word_code

_MAX_RECORDS = 512  # strips whose runs are kept for their pending words (each ~10 KB)

# The cost model, in thread CPU microseconds measured on the benchmark machine (the first pass over the strips of
# tests/benchmarks/bench_render_multi.py in the 7 scripts and mixtures the cache composes; see
# results/render_multi.md): Pango lays out and draws a strip in PANGO_STRIP + PANGO_WORD per word (~1.3 ms a full
# strip), and the cache's Pango path adds ADOPT (the look-up and copying the layout's runs; ADOPT_MIXED for a strip
# of several scripts, which has dozens of runs). Composing costs COMPOSE_STRIP + COMPOSE_WORD per word (a full strip
# whose words are all known: the second pass, ~0.25 ms) + NEW_WORD per new word (shaped in a batch, cut into a mask, its new glyphs drawn;
# MIXED_NEW_WORD in a strip of several scripts, whose batch is built word by word and shaped in more items) +
# PENDING_WORD per pending word (cut from a noted run, its new glyphs drawn: the same work but the shaping, which is
# the small part). So a full strip of one script is composed unless ~9/10 of its words are new, a strip of several
# scripts unless ~7/10: a word shaped and cut now costs about what it costs to cut it later from Pango's layout,
# and the Pango path pays ADOPT on top, so declining pays only for words that rarely come again.
PANGO_STRIP, PANGO_WORD, ADOPT, ADOPT_MIXED = 100.0, 6.0, 150.0, 450.0
COMPOSE_STRIP, COMPOSE_WORD, NEW_WORD, MIXED_NEW_WORD, PENDING_WORD = 50.0, 1.0, 6.5, 11.0, 6.5


def composing_pays(words: int, new: int, pending: int, mixed: bool = False) -> bool:
    """Whether composing a strip of ``words`` words, ``new`` of them never seen and ``pending`` noted from an
    earlier Pango strip, costs less than Pango drawing it (and noting its new words)."""
    compose = COMPOSE_STRIP + COMPOSE_WORD * words + (MIXED_NEW_WORD if mixed else NEW_WORD) * new \
        + PENDING_WORD * pending
    return compose <= PANGO_STRIP + PANGO_WORD * words + (ADOPT_MIXED if mixed else ADOPT)


def _prepared(text: str, items: list[pa.Shaped]) -> tuple:
    """A noted strip made ready for cutting (on its first cut): its words, its bytes with a space after them, the
    words' codes (read here when the text leaves the BMP, else by the kernel), each word's first byte and first
    position, and its runs merged by class -- the runs of one class as one run (glyphs in logical order, whose
    byte span covers the other classes' runs between them: a word is cut only when it and its space lie among
    consecutive glyphs of that class), each with the byte spans of its runs. One kernel call per class, not per
    run: a mixed strip holds dozens of runs."""
    words = text.split(" ")
    raw = np.frombuffer((text + " ").encode("utf-8"), np.uint8)
    codes = np.zeros(0, np.int8) if raw.max() < 0xF0 else np.array([word_code(w) if w else 0 for w in words], np.int8)
    starts = np.r_[0, np.flatnonzero(raw == 32)[:-1] + 1]
    first = dict(zip(reversed(words), range(len(words) - 1, -1, -1)))
    by_class: dict[tuple[int, int, int], list[pa.Shaped]] = {}
    for it in items:
        by_class.setdefault((it.font, it.script, it.language), []).append(it)
    runs = []
    for its in by_class.values():
        run = its[0] if len(its) == 1 else its[0]._replace(
            glyphs=np.concatenate([i.glyphs for i in its]), clusters=np.concatenate([i.clusters for i in its]),
            length=its[-1].offset + its[-1].length - its[0].offset)
        runs.append((run, np.array([(i.offset, i.offset + i.length) for i in its], np.int64)))
    return words, raw, codes, starts, first, runs


class PangoWords:
    """``adopt`` and ``_from_pending``; the tables are ``ShapeCache``'s (``_pending``: word -> record; ``_records``:
    record -> (the strip, its level-0 runs of the scripts the cache composes; from the first cut on also its words,
    bytes, word codes, word starts and each word's first position))."""

    def _reset_pending(self) -> None:
        self._pending: dict[str, int] = {}
        self._records: dict[int, tuple] = {}
        self._declined_new: set[str] | None = None
        self._record_n = 0

    def _first_pass(self, text: str, words: list[str], ids: list[int | None], mixed: bool,
                    joined: np.ndarray) -> int:
        """A strip with words the cache lacks: 0 when composing would cost more than Pango (``adopt`` notes its
        words once Pango has drawn it), else 2 when it cut pending words (the rest are shaped by the caller: their
        ids changed), 1 when there were none.
        ``joined``: the strip's words are pieces of words cut where a run starts (``brackets.pieces``); the pieces
        beside a cut are no words of the layout (no space after or before them there): never noted."""
        missing = set(compress(words, map(is_, ids, repeat(None))))
        pending = len(missing & self._pending.keys()) if self._pending else 0
        if not composing_pays(len(words), len(missing) - pending, pending, mixed):
            if len(joined):
                glued = np.flatnonzero(joined | np.r_[np.uint8(0), joined[:-1]]).tolist()
                missing = missing - {words[k] for k in glued}
            self.declined, self._declined_new = text, missing
            self.stats["declined"] += 1
            return 0
        if pending:
            self._from_pending(missing)
            return 2
        return 1

    def adopt(self, text: str, layout: int) -> None:
        """Pango has just drawn ``text`` (a strip ``lookup`` declined) with the PangoLayout at address ``layout``:
        note its new words as pending in the layout's runs (the runs are copied; the text is split and encoded
        only if a later strip needs one of its words)."""
        if text != self.declined:
            return
        self.declined = None
        new, self._declined_new = self._declined_new, None
        keep = pa.layout_items(layout, self._composed_scripts)
        if not keep:
            return
        last = text[text.rfind(" ") + 1:]
        if last in new and text.count(" " + last + " ") == 0 and not text.startswith(last + " "):
            new.discard(last)  # the last word has no space after it in the layout
        if len(self._records) >= _MAX_RECORDS:
            self._reset_pending()
        r = self._record_n
        self._record_n += 1
        self._records[r] = (text, keep)
        self._pending.update(dict.fromkeys(new, r))
        self.stats["noted"] += len(new)

    def _from_pending(self, missing: set[str]) -> None:
        """Cut the pending words among ``missing`` from the runs they were noted in, as a mixed strip's batch is cut
        (each word in the class of its run); a word that cannot be cached there is marked foreign when it has a
        script of its own (a digit or punctuation word stays uncached: in another strip it may take another run)."""
        by_record: dict[int, list[str]] = {}
        pending = self._pending
        for w in missing:
            r = pending.pop(w, None)
            if r is not None:
                by_record.setdefault(r, []).append(w)
        for r, wanted in by_record.items():
            rec = self._records[r]
            if len(rec) == 2:
                rec = self._records[r] = _prepared(*rec)
            words, raw, codes, starts, first, runs = rec
            ks = [first[w] for w in wanted]
            want = np.zeros(len(words), np.uint8)
            want[ks] = 1
            at = starts[ks]
            got = np.full(len(ks), FOREIGN_WORD, np.int32)
            self._want = want
            try:
                for run, spans in runs:  # (only the classes holding a wanted word)
                    if ((at[:, None] >= spans[:, 0]) & (at[:, None] < spans[:, 1])).any():
                        status = np.full(len(words), FOREIGN_WORD, np.int32)
                        self._harvest_words(run, raw, codes, status, 0, words, None)
                        np.maximum(got, status[ks], out=got)  # (a word is cut in one class at most)
            finally:
                self._want = np.zeros(0, np.uint8)
            rows = self._words.a[np.maximum(got, 0)]
            for w, st, row in zip(wanted, got.tolist(), rows.tolist()):
                if st > FOREIGN_WORD:
                    self._ids[w] = st
                    if row[3] == 0:  # no script of its own: cached in its run's class (see _measure_mixed)
                        self._weak[(w, row[2])] = st
                    self.stats["from_layout"] += 1
                elif st == FOREIGN_WORD and self._gate.strong(w) is not None:
                    self._ids[w] = FOREIGN_WORD
                    self.stats["foreign"] += 1
