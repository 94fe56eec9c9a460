"""The shaping cache's glyph path: the glyph string of a batch of new printable-ASCII words in a Latin class, written
from tables learned from Pango's own glyph strings, without calling Pango (on an English first pass, itemizing and
HarfBuzz were ~60% of a new word's cost).

``asciicheck.py`` proves, per font, which printable ASCII characters only their cmap glyph (after context-free
single substitutions), one ligature lookup and pair advances touch in a Latin item. Then a word of those
characters is cut into *units* -- a character, or a ligature's sequence where the lookup's first matching ligature
starts, as HarfBuzz applies it -- each one glyph of its own cluster with no offsets, whose advance (HarfBuzz's
advance plus the pair adjustments with the glyph after it, rounded by Pango) is a function of that unit and the next
one. A space's advance is the same before any unit (``spacecheck``: no lookup reaches the space).

So once a Latin class has met ``SEED_AFTER`` new words, ``seed`` has Pango shape one string holding every ordered pair of proven
characters (a de Bruijn sequence), every character before and after each ligature and every unit before a space,
and ``learn`` notes each unit's glyph and each neighbouring pair's advance (only glyphs that are one unit's whole
cluster). ``write`` then makes a batch's glyph string (glyph, advance, clusters = byte offsets) and the cache cuts
it with the same kernel as Pango's. A word holding a pair the seed did not show goes to Pango. A unit seen with two
glyphs or a pair with two advances (a proof that would be wrong) turns the path off for the class.
``tests/test_render_asciishape.py`` compares written glyph strings with Pango's and composed strips with Pango's
pixels; ``PIXELKIT_ASCII_PATH=0`` turns the path off.
"""

from __future__ import annotations

import re

import numba
import numpy as np

from . import pango_abi as pa

LATIN = 25  # GUnicodeScript / PangoScript
# A seed costs ~5 ms of thread CPU (shaping ~11 KB and learning it; measured on the benchmark machine), a written
# word saves ~3.5 us of itemizing and HarfBuzz: so a class is seeded once ~1,500 of its new words that could be
# written have been shaped
SEED_AFTER = 1500
_SPACE = 0x20


class AsciiShaper:
    """Learned glyph and pair-advance tables for the Latin classes of one ``ShapeCache`` (``check``: the font's
    ``asciicheck`` verdict, None: off). A *unit* is a proven character (its code) or a ligature's character
    sequence (128 + its index in ``check.ligatures``)."""

    def __init__(self, check):
        self.on = check is not None and bool(check.chars)
        chars = check.chars if self.on else frozenset()
        self._ok = np.zeros(128, np.bool_)
        self._ok[list(chars)] = True
        self._drop = {c: None for c in chars | {_SPACE}}  # str.translate deletes the proven characters
        self._bad = re.compile("|".join(map(re.escape, check.forbidden))).search \
            if self.on and check.forbidden else None
        ligs = list(check.ligatures) if self.on else []
        self.ligatures = ligs
        self._ligs = np.zeros((len(ligs), max(map(len, ligs), default=1)), np.uint8)
        self._lens = np.array([len(q) for q in ligs], np.int64)
        for j, q in enumerate(ligs):
            self._ligs[j, :len(q)] = np.frombuffer(q.encode("ascii"), np.uint8)
        self._first = np.zeros(128, np.bool_)
        self._first[[ord(q[0]) for q in ligs]] = True
        self._units = 128 + len(ligs)
        self._tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # class -> glyph, attr, width
        self.off: set[int] = set()  # classes whose strings broke the proof (never seen)
        self.seeded: set[int] = set()
        self._met: dict[int, int] = {}  # class -> new words met before its seed
        self.stats = {"written": 0, "words": 0, "unlearned": 0}

    def eligible(self, words: list[str]) -> list[str]:
        """The words of proven characters only, holding no forbidden sequence (all at once when they all are)."""
        text = " ".join(words)
        bad = self._bad
        if text.isascii() and not text.translate(self._drop) and (bad is None or not bad(text)):
            return words
        return [w for w in words if w.isascii() and not w.translate(self._drop) and (bad is None or not bad(w))]

    def due(self, cls: int, words: int) -> bool:
        """Whether to seed the class now that ``words`` more of its new words it could write came: once SEED_AFTER
        have (seeding costs about what shaping that many words costs, so a short run never pays more than twice
        the best)."""
        met = self._met[cls] = self._met.get(cls, 0) + words
        return met >= SEED_AFTER

    def seed(self, cls: int, key: tuple[int, int, int], shape, anchor: str) -> None:
        """Learn a new class's tables at once from one Pango string: its anchor, every pair of proven characters
        (a de Bruijn sequence: each ordered pair once, ~9 KB), every character before and after each ligature,
        and each unit before a space. (A pair that string does not show stays unlearned: its words go to Pango.)"""
        self.seeded.add(cls)
        chars = [chr(c) for c in np.flatnonzero(self._ok) if c != _SPACE]
        text = " ".join([anchor, _de_bruijn(chars), *("".join(c + q for c in chars) + q for q in self.ligatures),
                         *chars, *self.ligatures]) + " "
        raw = np.frombuffer(text.encode("ascii"), np.uint8)
        for item in shape(text.encode("ascii")):
            if item.level == 0 and (item.font, item.script, item.language) == key:
                self.learn(cls, item, raw)

    def learn(self, cls: int, item: pa.Shaped, raw: np.ndarray) -> None:
        """Note the units' glyphs and pair advances of a Latin item Pango shaped in class ``cls`` of the ASCII text
        ``raw``: only glyphs that are one unit's whole cluster, with no offsets, each pair of such neighbours."""
        if cls in self.off:
            return
        t = self._tables.get(cls)
        if t is None:
            u = self._units
            t = self._tables[cls] = (np.full(u, -1, np.int64), np.zeros(u, np.int32), np.full(u * u, -1, np.int32))
        if _learn(item.glyphs, item.clusters, item.offset + item.length, raw, self._ok, self._ligs, self._lens, *t):
            self.off.add(cls)  # a unit with two glyphs or a pair with two advances: never written again

    def write(self, cls: int, raw: np.ndarray, font: int, language: int) -> pa.Shaped | set[int] | None:
        """The glyph string Pango would make of ``raw`` (eligible words, each followed by one space) in class
        ``cls``; the indices of the words holding a unit or pair not learned yet; None: nothing learned."""
        t = self._tables.get(cls)
        if t is None or cls in self.off:
            return None
        out = np.empty((len(raw), 5), np.int32)
        clusters = np.empty(len(raw), np.int32)
        m, bad = _write(raw, self._ligs, self._lens, self._first, *t, out, clusters)
        if bad:
            self.stats["unlearned"] += 1
            return set(out[:bad, 0].tolist())
        self.stats["written"] += 1
        return pa.Shaped(out[:m], clusters[:m], 0, len(raw), font, LATIN, 0, language)


class AsciiWords:
    """``_write``, a mixin of ``ShapeCache`` (its ``_fill`` calls it for a batch of a known class)."""

    def _write(self, missing: list[str], cls: int) -> list[str]:
        """Cache the words of ``missing`` whose glyph string ``asciishape`` can write in the Latin class ``cls``;
        the rest, to be shaped by Pango."""
        key = next(k for k, c in self._class_of.items() if c == cls)
        if key[1] != LATIN:
            return missing
        easy = self._ascii.eligible(missing)
        if cls not in self._ascii.seeded:
            if not self._ascii.due(cls, len(easy)):  # (counting the words it could write)
                return missing
            self._ascii.seed(cls, key, self._shape, self._cls_anchor[cls])
        for _ in range(2):  # (a second time without the words holding a pair not learned yet)
            if not easy:
                return missing
            data = (" ".join(easy) + " ").encode("ascii")
            raw = np.frombuffer(data, np.uint8)
            item = self._ascii.write(cls, raw, key[0], key[2])
            if item is None:
                return missing
            if isinstance(item, set):
                easy = [w for k, w in enumerate(easy) if k not in item]
                continue
            self._harvest(easy, np.zeros(0, np.int8), 0, cls, data=(data, [item]))
            self._ascii.stats["words"] += len(easy)
            done = set(easy)
            return [w for w in missing if w not in done]
        return missing


@numba.njit(cache=True, nogil=True)
def _unit(raw, a, b, ok, ligs, lens):
    """The unit of bytes raw[a:b] (one glyph's cluster), or -1."""
    if b - a == 1:
        return np.int64(raw[a]) if raw[a] < 128 and ok[raw[a]] else -1
    for j in range(ligs.shape[0]):
        if lens[j] == b - a:
            same = True
            for t in range(b - a):
                if raw[a + t] != ligs[j, t]:
                    same = False
                    break
            if same:
                return 128 + j
    return -1


@numba.njit(cache=True, nogil=True)
def _learn(glyphs, clusters, end, raw, ok, ligs, lens, gly, attr, width):
    """Fill the tables from one shaped item (logical order, level 0); 1 on a contradiction, else 0."""
    n, nu = glyphs.shape[0], gly.shape[0]
    units = np.full(n, -1, np.int64)
    for k in range(n):
        b = clusters[k + 1] if k + 1 < n else end
        if glyphs[k, 0] >= 0 and glyphs[k, 2] == 0 and glyphs[k, 3] == 0 and b > clusters[k]:
            units[k] = _unit(raw, clusters[k], b, ok, ligs, lens)
    for k in range(n):
        u = units[k]
        if u < 0:
            continue
        flags = glyphs[k, 4] & 3  # is_cluster_start, is_color (the attr word's other bits are not set by Pango)
        if gly[u] >= 0 and (gly[u] != glyphs[k, 0] or attr[u] != flags):
            return 1
        gly[u], attr[u] = glyphs[k, 0], flags
        if u == _SPACE:  # (nothing reaches across the space: one advance before any unit, and at the end)
            for v in range(nu):
                if width[u * nu + v] >= 0 and width[u * nu + v] != glyphs[k, 1]:
                    return 1
                width[u * nu + v] = glyphs[k, 1]
        elif k + 1 < n and units[k + 1] >= 0:
            p = u * nu + units[k + 1]
            if width[p] >= 0 and width[p] != glyphs[k, 1]:
                return 1
            width[p] = glyphs[k, 1]
    return 0


@numba.njit(cache=True, nogil=True)
def _write(raw, ligs, lens, first, gly, attr, width, out, clusters):
    """Cut ``raw`` into units (a ligature where its sequence starts, the first that matches, as HarfBuzz applies a
    ligature lookup) and fill ``out`` / ``clusters`` with their glyph records. Returns (glyphs, 0), or (0, how
    many words hold a unit or pair not learned yet; their indices in ``out[:n, 0]``)."""
    n, nu = raw.shape[0], gly.shape[0]
    units = np.empty(n, np.int64)
    starts = np.empty(n, np.int64)
    m, i = 0, 0
    while i < n:
        u, step = np.int64(raw[i]), 1
        if u < 128 and first[u]:
            for j in range(ligs.shape[0]):
                if i + lens[j] <= n:
                    same = True
                    for t in range(lens[j]):
                        if raw[i + t] != ligs[j, t]:
                            same = False
                            break
                    if same:
                        u, step = 128 + j, lens[j]
                        break
        units[m], starts[m] = u, i
        m += 1
        i += step
    word, bad, last = 0, 0, -1
    for k in range(m):
        u = units[k]
        nxt = units[k + 1] if k + 1 < m else _SPACE  # (after the last space: as before any unit)
        g = gly[u] if u < nu else -1
        w = width[u * nu + nxt] if g >= 0 else -1
        if g < 0 or w < 0:
            if last != word:
                out[bad, 0] = word
                bad += 1
                last = word
        elif bad == 0:
            out[k, 0], out[k, 1], out[k, 2], out[k, 3], out[k, 4] = g, w, 0, 0, attr[u]
            clusters[k] = starts[k]
        if u == _SPACE:
            word += 1
    return (0, bad) if bad else (m, 0)


def _de_bruijn(chars: list[str]) -> str:
    """A string holding every ordered pair of ``chars`` once as neighbours (de Bruijn sequence of order 2)."""
    k, a, seq = len(chars), [0] * 3, []

    def db(t: int, p: int) -> None:
        if t > 2:
            if 2 % p == 0:
                seq.extend(a[1:p + 1])
            return
        a[t] = a[t - p]
        db(t + 1, p)
        for j in range(a[t - p] + 1, k):
            a[t] = j
            db(t + 1, t)

    db(1, 1)
    return "".join(chars[i] for i in seq + seq[:1])
