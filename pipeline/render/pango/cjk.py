"""The shaping cache's Han, kana and Bopomofo strips (``ShapeCache`` inherits this): text without spaces, composed
token by token.

Why a token shapes the same in a batch as in the strip (Pango 1.50 lays a strip out as one unwrapped line):

* Items. Pango's script iterator (pango-script.c, ``scriptruns.runs`` does what it does: a digit or punctuation mark
  takes the script of its run, a closing bracket of Pango's paired list the script its opening one was pushed
  with) cuts the strip into runs of one script; Pango makes an item of each (splitting further only where the font
  or the width class changes, which depends on the characters alone). Han, Hiragana and Katakana are scripts of
  their own, so a Japanese sentence is many items; each is shaped alone by HarfBuzz's default shaper.
* Tokens. Inside a run, a token ends at a space and on both sides of every *proven* character (``cjkcheck.py``:
  no lookup of the font can tie its glyph to a neighbour, nor skip over it); what lies between (a kana run, which
  GoNoto kerns pair by pair; a Latin word; digits) is one token, shaped as a word. No lookup reaches across a
  space (``spacecheck.py``) nor across a proven character, and none across an item's end, so each token's
  glyphs and advances are those it gets alone, followed by a space, in an item of the same class (font, script,
  language: the language is derived from the script and the context only). A token is cached per class (its
  run's), cut from a batch ``anchor tok1 tok2 ...`` shaped by Pango itself, the anchor being a token of the
  strip of the run's own script (so the batch is one run of that script), by ``kernels.harvest_item`` (a token
  must start a cluster, have whole-pixel advances, no unknown glyph, and its space must be the class's). A new
  proven character of a known class is not shaped, with ``PIXELKIT_CJK_GLYPHS=1`` (opt-in: measured no faster
  yet), when ``cjkglyph.py`` can write its glyph record (``_cjk_written``:
  no lookup of the class's language system reads its glyph, and Pango's width for its advance has been seen); the
  written string is cut by the same kernel.
* Pixels. Pango rounds each glyph's advance to whole pixels, so a token's x is the sum of the advances and
  spaces before it; glyph offsets off whole pixels are placed as cairo rounds them (``kernels._rows``); a strip's
  classes must share a font and baseline (``_group``), and ``kernels.compose`` adds the token masks with
  saturation, as cairo composes a run. A space takes the class of its run.

Anything else goes to Pango: a token that cannot be cut (``FOREIGN_WORD``), a run of no script of its own,
several fonts or baselines. ``scriptgate`` sends here strips of Han/kana/Bopomofo with left-to-right scripts and no
bidi control (``CJK``). ``tests/test_render_cjk.py`` checks every strip against Pango's, first and second pass.
"""

from __future__ import annotations

import os

import numba
import numpy as np

from .cjkglyph import CjkGlyphs
from .kernels import EMPTY_WORD, FOREIGN_WORD, NO_INK, OVERLAP, ink_end
from .scriptruns import pair_table, runs

@numba.njit(cache=True, nogil=True)
def tokens(cps, rs, proven, tok, spaces):
    """Cut the strip into tokens (see the module doc): ``tok[k]`` = (first char, end char, run script); a token
    ends at a space, at a change of run and on both sides of a proven character. ``spaces[k]`` = the spaces after
    token k (their run scripts are the caller's to read). A leading space gets an empty token before it. Returns
    the token count."""
    n = cps.shape[0]
    k = 0
    open_tok = False
    for i in range(n):
        ch = cps[i]
        if ch == 32:
            if k == 0:
                tok[0, 0], tok[0, 1], tok[0, 2] = 0, 0, -1
                spaces[0] = 0
                k = 1
            spaces[k - 1] += 1
            open_tok = False
            continue
        if proven[ch]:
            tok[k, 0], tok[k, 1], tok[k, 2] = i, i + 1, rs[i]
            spaces[k] = 0
            k += 1
            open_tok = False
            continue
        if open_tok and rs[i] == tok[k - 1, 2] and not (i > 0 and rs[i - 1] != rs[i]):
            tok[k - 1, 1] = i + 1
            continue
        tok[k, 0], tok[k, 1], tok[k, 2] = i, i + 1, rs[i]
        spaces[k] = 0
        k += 1
        open_tok = True
    return k


@numba.njit(cache=True, nogil=True)
def measure(ids, words, group, space_px, cps, rs, tok, space_cls, gaps, masks):
    """(width px, first class) of the tokens ``ids`` with the spaces of the strip ``cps`` (each of its run's class,
    ``space_cls[run script]``) added after the token they follow (into ``gaps``); class -1 when a token is foreign
    or missing, or the strip's classes do not share one font and baseline (``group``), or a token's ink (``masks``:
    the tokens' mask rows) reaches left of the right end of an earlier run's ink: cairo paints each run (item) over
    the ones before it, while ``compose`` adds (a Latin letter glued to a Han character: one pixel apart)."""
    n = ids.shape[0]
    cls = -1
    for k in range(n):
        w = ids[k]
        if w < 0 or w == FOREIGN_WORD:
            return 0, -1
        c = words[w, 2]
        if c >= 0:
            if cls < 0:
                cls = c
            elif group[c] != group[cls]:
                return 0, -1
    if cls < 0:
        return 0, -1
    width = 0
    k = 0
    for i in range(cps.shape[0]):
        while k + 1 < n and tok[k + 1, 0] <= i:
            k += 1
        if cps[i] == 32:
            c = space_cls[rs[i] & 255]
            if c < 0 or group[c] != group[cls]:
                return 0, -1
            gaps[k] += space_px[c]
    done_hi, run_hi, run = NO_INK, NO_INK, -2  # ink's right end: of the runs before this one, of this one
    for k in range(n):
        w = ids[k]
        if tok[k, 2] != run:
            done_hi = max(done_hi, run_hi)
            run_hi = NO_INK
            run = tok[k, 2]
        run_hi = ink_end(masks, words[w, 0], width, done_hi, run_hi)
        if run_hi == OVERLAP:
            return 0, -1
        width += words[w, 1]
        if k < n - 1:
            width += gaps[k]
    return width, cls


_NO_CHARS = np.full(1 << 16, -1, np.int32)  # (read only: a class with no character cut yet)


@numba.njit(cache=True, nogil=True)
def _char_ids(tok, cps, s, table, ids, words):
    """For the non-empty tokens of run script ``s``: a one-character token's id from ``table`` (per code point:
    a one-character token is its code point, proven or not) into ``ids``; the positions of the others into
    ``words`` (their ids are the caller's to look up by text). Returns how many went to ``words``."""
    n = 0
    for k in range(tok.shape[0]):
        a, b = tok[k, 0], tok[k, 1]
        if tok[k, 2] != s or a == b:
            continue
        if b - a == 1:
            ids[k] = table[cps[a]]
        else:
            words[n] = k
            n += 1
    return n


class CjkWords:
    """``_lookup_cjk`` and its batches; ``ShapeCache`` holds the words, masks and classes. ``_cjk_proven``: per BMP
    code point 1 when ``cjkcheck`` proved it for the font (set by the renderer; all 0: nothing is composed)."""

    def _cjk_init(self, proven: frozenset[int]) -> None:
        self._cjk_proven = np.zeros(1 << 16, np.uint8)
        self._cjk_proven[[c for c in proven if c < 1 << 16]] = 1
        self._cjk_any = bool(self._cjk_proven.any())
        self._cjk_pair = pair_table()
        self._cjk_script = self._gate.script_u8
        self._cjk_cls: dict[int, int] = {}  # run script -> its class
        self._cjk_space_cls = np.full(0, -1, np.int32)  # the same as an array (rebuilt when a script is added)
        self._cjk_scratch = np.full(1 << 16, -1, np.int32)  # (cjkfuse.plan's, all -1 between calls)
        # new proven characters' glyph records written, not shaped (cjkglyph.py): opt-in, PIXELKIT_CJK_GLYPHS=1 (measured
        # no faster than Pango's batch on all four CJK rows, on or off: tests/benchmarks/results/render_profile_cjk.md)
        on = self._cjk_any and os.environ.get("PIXELKIT_CJK_GLYPHS", "0") == "1"
        self._cjk_glyphs = CjkGlyphs(self._cjk_proven) if on else None
        self._cjk_reset()

    def _cjk_reset(self) -> None:
        self._cjk_chars: dict[int, np.ndarray] = {}  # class -> per code point its id (-1: not cut yet)
        self._cjk_words: dict[int, dict[str, int]] = {}  # class -> token -> id
        self._cjk_epoch = self.stats["resets"]

    def _lookup_cjk(self, text: str):
        """(ids, width, class, gaps) for a strip the gate sent here, or None (Pango's)."""
        if not self._cjk_any:
            return None
        if self._cjk_epoch != self.stats["resets"]:
            self._cjk_reset()
        cps = np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.int32)
        if cps.max(initial=0) >= 1 << 16:
            return None
        n = len(cps)
        rs, tok, spaces = np.empty(n, np.int32), np.empty((n + 2, 3), np.int32), np.empty(n + 2, np.int32)
        ids, present = np.empty(n + 2, np.int32), np.zeros(256, np.uint8)
        nt = cjkfuse.cut(cps, self._cjk_script, self._cjk_pair, self._cjk_proven, rs, tok, spaces, ids, present)
        if nt < 0:
            return None  # a run of no script of its own
        tok, ids = tok[:nt], ids[:nt]
        self._cjk_ids(text, cps, tok, ids, np.flatnonzero(present).tolist())
        if ids.min() < 0:
            self._cjk_fill(text, cps, rs, tok, ids)  # (the new tokens' ids written into ids)
        space_cls = self._cjk_space_cls
        if not len(space_cls):  # run script -> class (GUnicodeScript numbers are < 256)
            space_cls = self._cjk_space_cls = np.full(256, -1, np.int32)
            space_cls[list(self._cjk_cls)] = list(self._cjk_cls.values())
        gaps = np.zeros(len(ids), np.int32)
        width, cls = measure(ids, self._words.a, self._group, self._space_px, cps, rs, tok, space_cls, gaps,
                             self._word_masks.rows.a)
        return (ids, width, cls, gaps) if cls >= 0 else None

    def _cjk_ids(self, text: str, cps: np.ndarray, tok: np.ndarray, ids: np.ndarray, scripts: list[int]) -> None:
        """Each token's id in its run's class into ``ids`` (-1: not cut yet; -2, as ``cjkfuse.cut`` left it: its
        run's class is not known yet). ``scripts``: the run scripts of the non-empty tokens."""
        words = np.empty(len(tok), np.int64)
        for s in scripts:
            cls = self._cjk_cls.get(s)
            if cls is None:
                continue
            table = self._cjk_chars.get(cls, _NO_CHARS)
            n = _char_ids(tok, cps, s, table, ids, words)
            if n:
                get = self._cjk_words.setdefault(cls, {}).get
                ids[words[:n]] = [get(text[a:b], -1) for a, b in tok[words[:n], :2].tolist()]

    def _cjk_fill(self, text: str, cps: np.ndarray, rs: np.ndarray, tok: np.ndarray, ids: np.ndarray) -> None:
        """Shape the strip's missing tokens, one batch per run script, each behind a token of that script, and write
        their ids (as the tables now hold them) into ``ids``."""
        if self._words.n + int((ids < 0).sum()) >= 2 * self.max_words:
            self.stats["resets"] += 1
            self._reset_words()
            self._cjk_reset()
            ids[ids >= 0] = -1
            ids[tok[:, 1] == tok[:, 0]] = EMPTY_WORD
        nt = len(tok)
        at, codes, inv, slot_at = (np.empty(nt, np.int64) for _ in range(4))
        buf = np.empty(8 * len(cps) + 8, np.uint8)
        for s in set(tok[ids < 0, 2].tolist()):
            k, m, n, nbytes = cjkfuse.plan(s, rs, self._cjk_script, cps, tok, ids, at, self._cjk_scratch, codes, inv,
                                           slot_at, buf)
            if k < 0:
                continue
            multi = np.flatnonzero(codes[:n] < 0)  # (distinct tokens of several characters)
            got = None
            if not len(multi) and self._cjk_glyphs is not None:  # every one a character (a Han strip)
                got = self._cjk_written(s, codes[:n], k, text, tok)
            if got is None:
                texts = [text[a:b] for a, b in tok[at[slot_at[multi]], :2].tolist()]
                got = self._cjk_batch(s, None, codes[:n], buf[:nbytes].tobytes(), texts)
            if got is not None:
                ids[at[:m]] = got[inv[:m]]

    def _cjk_written(self, s: int, codes: np.ndarray, k: int, text: str, tok: np.ndarray) -> np.ndarray | None:
        """The ids of the distinct new characters ``codes`` of run script ``s`` (one-character tokens), their glyph
        records written by ``cjkglyph`` where it can and the rest shaped by Pango behind the anchor token ``k``;
        None when none can be written (the caller's batch then)."""
        cls = self._cjk_cls.get(s)
        if cls is None:
            return None
        key = self._cls_key[cls]
        g = self._cjk_glyphs
        cps = np.full(2 * len(codes), 32, np.int64)
        cps[0::2] = codes
        written = g.write_words(cls, key, cps, g.allowed, self._cls_space_glyph[cls], self._cls_space[cls])
        if written is None:
            return None
        ok, data, item = written
        ok = ok[:len(codes)]
        got = np.empty(len(codes), np.int32)
        rest = np.flatnonzero(~ok)
        if len(rest):
            anchor = text[tok[k, 0]:tok[k, 1]]
            part = self._cjk_batch(s, [anchor, *map(chr, codes[rest].tolist())], codes[rest])
            if part is None:
                return None
            got[rest] = part
        w = np.flatnonzero(ok)
        self.stats["batch_words"] += len(w)
        raw = np.frombuffer(data, np.uint8)
        status = np.full(len(w), FOREIGN_WORD, np.int32)
        self._predraw(item)
        self._harvest_words(item, raw, np.zeros(0, np.int8), status, 0, None, cls)
        table = self._cjk_chars.get(cls)
        if table is None:
            table = self._cjk_chars[cls] = np.full(1 << 16, -1, np.int32)
        part, one = np.empty(len(w), np.int32), np.empty(len(w), np.bool_)
        n_good = cjkfuse.settle(status, self._words.a, cls, codes[w], table, part, one)
        self.stats["words_shaped"] += n_good
        self.stats["foreign"] += len(w) - n_good
        got[w] = part
        return got

    def _cjk_batch(self, s: int, batch: list[str] | None, one_cp: np.ndarray, data: bytes | None = None,
                   texts: list[str] = ()) -> np.ndarray | None:
        """Shape ``batch`` (an anchor of script ``s``, then tokens) and cache its tokens in the class of ``s``;
        ``one_cp``: per token, its code point when it is one character, else -1. Returns the tokens' ids as cached
        (``FOREIGN_WORD``: not composable), or None when the batch gave the script no class (nothing cached).
        ``data``: the batch's bytes (``" ".join(batch) + " "`` in UTF-8) made by ``cjkfuse.plan``, ``batch`` then
        None (its text is read from them only for a new class's anchor). ``texts``: the batch's tokens of several
        characters, in order (none when every token is one character, as in ``_cjk_written``'s batches)."""
        n_batch = len(one_cp) + 1
        self.stats["batches"] += 1
        self.stats["batch_words"] += n_batch
        if data is None:
            data = (" ".join(batch) + " ").encode("utf-8")
        raw = np.frombuffer(data, np.uint8)
        status = np.full(n_batch, FOREIGN_WORD, np.int32)
        items = self._shape(data)
        cls = None
        for item in items:
            if item.level == 0 and item.script in self._composed_scripts:
                self._predraw(item)  # (classes.py: Han text brings new glyphs strip after strip)
                if batch is None and (item.font, item.script, item.language) not in self._class_of:
                    batch = data.decode("utf-8").split(" ")[:-1]  # (a new class looks for its anchor in it)
                self._harvest_words(item, raw, np.zeros(0, np.int8), status, 1, batch, None)
                c = self._class_of.get((item.font, item.script, item.language))
                if c is not None and self._cjk_glyphs is not None:
                    self._cjk_glyphs.learn(c, (item.font, item.script, item.language), item, raw)
                if item.script == s and item.offset == 0:
                    cls = c
        if cls is None:
            return None
        if self._cjk_cls.get(s) != cls:
            self._cjk_cls[s] = cls
            self._cjk_space_cls = np.full(0, -1, np.int32)  # (rebuilt on the next look-up)
        st, n = status[1:], n_batch - 1
        table = self._cjk_chars.get(cls)
        if table is None and (one_cp >= 0).any():
            table = self._cjk_chars[cls] = np.full(1 << 16, -1, np.int32)
        got, one = np.empty(n, np.int32), np.empty(n, np.bool_)
        n_good = cjkfuse.settle(st, self._words.a, cls, one_cp, _NO_CHARS if table is None else table, got, one)
        self.stats["words_shaped"] += n_good
        self.stats["foreign"] += n - n_good
        if not one.all():
            self._cjk_words.setdefault(cls, {}).update(zip(texts, got[~one].tolist(), strict=True))
        return got


from . import cjkfuse  # noqa: E402  (its kernels call runs and tokens above)
