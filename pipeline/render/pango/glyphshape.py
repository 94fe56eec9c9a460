"""The shaping cache's glyph path: the glyph string of a batch of new Latin, Cyrillic or Greek words in a class of
that script, written from tables learned from Pango's own glyph strings, without calling Pango (on an English first
pass, itemizing and HarfBuzz were ~60% of a new word's cost).

``glyphcheck.py`` proves, per font and script, which characters (the script's precomposed letters and the Common
characters of its items) only their cmap glyph (after context-free single substitutions), one ligature lookup and
pair advances touch, and which pairs of them a pair adjustment can touch at all (``kerned``). A word of those
characters is cut into *units* -- a character, or a ligature's sequence where the lookup's first matching ligature
starts, as HarfBuzz applies it -- each one glyph of its own cluster with no offsets, whose advance (HarfBuzz's
advance plus the pair adjustments with the glyph after it, rounded by Pango) is a function of that unit and the next
one; for a pair the kerning cannot touch, the unit's *lone* advance (before a space: ``spacecheck``, no lookup
reaches the space).

The tables are learned from every item Pango shapes in a class of those scripts (``learn``: only the words whose
every glyph is one unit's whole cluster with no offsets, which the proof covers; a kerned pair's advance, else the
lone advance), and, once a class has
met as many new words that went to Pango for want of a unit or pair as the seed costs (``SEED_AFTER``), from
one *seed* string Pango shapes: every unit before a space and every kerned pair of the everyday letters
(walks through the pairs, ~6,000 in GoNoto's Cyrillic). ``write`` then makes a batch's glyph string (glyph,
advance, clusters = byte offsets); a word holding a unit or kerned pair not learned yet goes to Pango (and is
learned from there). A unit seen with two glyphs, a pair with two advances or an unkerned pair off its lone advance
(a proof that would be wrong) turns the path off for the class. ``tests/test_render_glyphpath.py`` and
``tests/test_render_asciishape.py`` compare written glyph strings with Pango's and composed strips with Pango's
pixels; ``PIXELKIT_ASCII_PATH=0`` turns the path off.
"""

from __future__ import annotations

import re

import numba
import numpy as np

from . import pango_abi as pa

LATIN = 25  # GUnicodeScript / PangoScript
# A seed of 12,000 characters costs ~5 ms of thread CPU to shape and learn, a written word saves ~3.5 us of itemizing
# and HarfBuzz: a class is seeded once this many of its new words per 12,000 seed characters went to Pango for a
# unit or pair not learned yet (GoNoto: Latin ~1,260 words, Cyrillic and Greek ~340)
SEED_AFTER = 1500
_SPACE = 0x20
NCP = 0x2200  # code points below this can be units (the checked candidates all are)


def _core(u: str) -> bool:
    """A unit the seed shows: a ligature, a Common character or a letter of the everyday alphabets."""
    return len(u) > 1 or ord(u) < 0x180 or 0x370 <= ord(u) < 0x460 or ord(u) in (0x490, 0x491) or ord(u) >= 0x2000


class _Script:
    """One script's proven units (its characters, then its ligatures): which are proven (``ok``), which start a
    ligature, its ligatures (code points, in the order the lookup tries them) and the kerned pairs."""

    def __init__(self, script: int, check):
        chars = sorted(check.chars)
        self.umap = umap = np.full(NCP, -1, np.int64)  # code point -> unit (the script's own numbering)
        umap[chars] = np.arange(len(chars))
        self.space = int(umap[_SPACE])
        self.nu = nu = len(chars) + len(check.ligatures)
        lig_unit = {q: len(chars) + j for j, q in enumerate(check.ligatures)}
        self.ok = np.zeros(nu, np.bool_)
        self.ok[[umap[c] for c in check.chars]] = True
        self.drop = {c: None for c in check.chars | {_SPACE}}  # str.translate deletes the proven characters
        self.bad = re.compile("|".join(map(re.escape, check.forbidden))).search if check.forbidden else None
        ligs = list(check.ligatures)
        self.ligs = np.zeros((len(ligs), max(map(len, ligs), default=1)), np.int32)
        self.lens = np.array([len(q) for q in ligs], np.int64)
        self.lig_units = np.array([lig_unit[q] for q in ligs], np.int64)
        for j, q in enumerate(ligs):
            self.ligs[j, :len(q)] = [ord(ch) for ch in q]
            self.ok[lig_unit[q]] = True
        self.first = np.zeros(nu, np.bool_)
        self.first[[umap[ord(q[0])] for q in ligs]] = True
        unit = lambda q: lig_unit[q] if len(q) > 1 else umap[ord(q)]  # noqa: E731
        self.kern = np.zeros(nu * nu, np.bool_)
        self.pairs: dict[str, list[str]] = {}
        for u, after in check.kerned.items():
            nxt = [*after, *(check.kerned_ligs or {}).get(u, ())]
            self.pairs[u] = nxt
            self.kern[[unit(u) * nu + unit(v) for v in nxt]] = True
        self.units = [chr(c) for c in sorted(check.chars) if c != _SPACE] + ligs
        self._seed: str | None = None
        # the seed's length, about (each unit and a space, each core pair): what seeding costs
        self.seed_chars = 2 * len(self.units) + 2 * sum(_core(v) for u, nxt in self.pairs.items() if _core(u) for v in nxt)
        # the script's own letters (a word of the proven characters holding one has no other script of its own)
        letters = [chr(c) for c in check.chars if chr(c).isalpha() and c != 0x374 and (
            c >= 0x370 if script != LATIN else (c < 0x80 or 0xC0 <= c < 0x250))]
        self.has_letter = re.compile("[" + re.escape("".join(letters)) + "]").search if letters else lambda w: None

    @property
    def seed(self) -> str:
        if self._seed is None:
            self._seed = self.seed_text()
        return self._seed

    def seed_text(self) -> str:
        """Every unit before a space, then trails through the kerned pairs of the *core* units (letters of the
        everyday alphabets -- Latin to Extended-A, basic Cyrillic with Ґ, Greek -- ligatures and Common
        characters; the rest are learned from Pango's items as they come), each pair once as neighbours."""
        adj = {u: [v for v in nxt if _core(v)] for u, nxt in self.pairs.items() if _core(u)}
        left_in: dict[str, int] = {}
        for nxt in adj.values():
            for v in nxt:
                left_in[v] = left_in.get(v, 0) + 1
        walks = []  # walks until stuck, from the nodes with the most edges out over in first (few walks)
        for start in sorted(adj, key=lambda u: left_in.get(u, 0) - len(adj[u])):
            while adj[start]:
                walk, u = [start], start
                while adj.get(u):
                    u = adj[u].pop()
                    walk.append(u)
                walks.append("".join(walk))
        return " ".join(self.units + walks)


class GlyphShaper:
    """Learned glyph and pair-advance tables for the Latin, Cyrillic and Greek classes of one ``ShapeCache``
    (``checks``: the font's ``glyphcheck`` verdicts by script, None: off)."""

    def __init__(self, checks):
        checks = {s: c for s, c in (checks or {}).items() if c.chars}
        self.on = bool(checks)
        self.scripts = {s: _Script(s, c) for s, c in checks.items()}
        if self.on:
            _warm()
        self._tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # class -> glyph, attr, width
        self.off: set[int] = set()  # classes whose strings broke the proof (never seen)
        self.seeded: set[int] = set()
        self._met: dict[int, int] = {}  # class -> new words met before its seed
        self.stats = {"written": 0, "words": 0, "unlearned": 0, "learned": 0}

    def eligible(self, words: list[str], script: int) -> list[str]:
        """The words of the script's proven characters only, holding no forbidden sequence (all at once when they
        all are)."""
        sc = self.scripts[script]
        text, bad = " ".join(words), sc.bad
        if not text.translate(sc.drop) and (bad is None or not bad(text)):
            return words
        return [w for w in words if not w.translate(sc.drop) and (bad is None or not bad(w))]

    def due(self, cls: int, script: int, words: int) -> bool:
        """Whether to seed the class now that ``words`` more of its new words that could be written were not (a
        unit or pair not learned yet): once they would have paid for the seed (~SEED_AFTER words per 12,000
        characters of seed text: a seed costs about what shaping as many words costs, so a run never pays more
        than twice the best)."""
        met = self._met[cls] = self._met.get(cls, 0) + words
        return met >= SEED_AFTER * self.scripts[script].seed_chars // 12_000

    def seed(self, cls: int, key: tuple[int, int, int], shape, anchor: str) -> None:
        """Learn a class's tables from one Pango string: its anchor, each unit before a space, each kerned pair.
        (A pair that string does not show stays unlearned: its words go to Pango.)"""
        self.seeded.add(cls)
        sc = self.scripts[key[1]]
        data = (anchor + " " + sc.seed + " ").encode("utf-8")
        raw = np.frombuffer(data, np.uint8)
        for item in shape(data):
            if item.level == 0 and (item.font, item.script, item.language) == key:
                self.learn(cls, item, raw)

    def learn(self, cls: int, item: pa.Shaped, raw: np.ndarray) -> None:
        """Note the units' glyphs and advances of an item Pango shaped in class ``cls`` (of the item's script) of
        the UTF-8 text ``raw``: only glyphs that are one unit's whole cluster, with no offsets."""
        if cls in self.off:
            return
        sc = self.scripts[item.script]
        t = self._tables.get(cls)
        if t is None:
            nu = sc.nu
            t = self._tables[cls] = (np.full(nu, -1, np.int64), np.zeros(nu, np.int32), np.full(nu * nu, -1, np.int32))
        self.stats["learned"] += 1
        if _learn(item.glyphs, item.clusters, item.offset + item.length, raw, sc.umap, sc.ok, sc.ligs, sc.lens,
                  sc.lig_units, sc.kern, sc.space, *t):
            self.off.add(cls)  # a unit with two glyphs or a pair with two advances: never written again

    def write(self, cls: int, script: int, raw: np.ndarray, font: int, language: int) -> pa.Shaped | set[int] | None:
        """The glyph string Pango would make of ``raw`` (eligible words, each followed by one space) in class
        ``cls``; the indices of the words holding a unit or pair not learned yet; None: nothing learned."""
        t = self._tables.get(cls)
        if t is None or cls in self.off:
            return None
        sc = self.scripts[script]
        out = np.empty((len(raw), 5), np.int32)
        clusters = np.empty(len(raw), np.int32)
        m, bad = _write(raw, sc.umap, sc.ok, sc.ligs, sc.lens, sc.lig_units, sc.first, sc.kern, sc.space, *t,
                        out, clusters)
        if bad:
            self.stats["unlearned"] += 1
            return set(out[:bad, 0].tolist())
        self.stats["written"] += 1
        return pa.Shaped(out[:m], clusters[:m], 0, len(raw), font, script, 0, language)


class GlyphWords:
    """``_write`` and ``_learn_item``, a mixin of ``ShapeCache`` (its ``_fill`` and ``_harvest`` call them)."""

    def _learn_item(self, item: pa.Shaped, raw: np.ndarray) -> None:
        """Learn from an item Pango shaped (a class of a glyph-path script)."""
        if item.script in self._glyph.scripts and item.level == 0:
            cls = self._class_of.get((item.font, item.script, item.language))
            if cls is not None:
                self._glyph.learn(cls, item, raw)

    def _write(self, missing: list[str], cls: int) -> list[str]:
        """Cache the words of ``missing`` whose glyph string ``glyphshape`` can write in the class ``cls``; the
        rest, to be shaped by Pango."""
        key = next(k for k, c in self._class_of.items() if c == cls)
        if key[1] not in self._glyph.scripts:
            return missing
        done = self._write_in(self._glyph.eligible(missing, key[1]), cls, key)
        return [w for w in missing if w not in done] if done else missing

    def _write_mixed(self, missing: list[str]) -> list[str]:
        """The same for a strip of several scripts: the words that hold a letter of a glyph-path script and only
        its proven characters (a word of that script alone: cached in its class as a Pango batch would cache it; a
        strip whose runs cut it or put it in another run is settled by ``_measure_mixed``, as for any cached word),
        each written in its script's class (when the font has exactly one); the rest, to be shaped by Pango."""
        shaper, done = self._glyph, set()
        for script, sc in shaper.scripts.items():
            keys = [k for k in self._class_of if k[1] == script]
            if len(keys) != 1:
                continue
            own = list(filter(sc.has_letter, missing))
            if own:
                done |= self._write_in(shaper.eligible(own, script), self._class_of[keys[0]], keys[0])
        return [w for w in missing if w not in done] if done else missing

    def _write_in(self, easy: list[str], cls: int, key: tuple[int, int, int]) -> set[str]:
        """Write and cache what can be of the eligible words ``easy`` in class ``cls`` (seeding it when due); the
        words written."""
        shaper = self._glyph
        for _ in range(3):
            if not easy:
                return set()
            data = (" ".join(easy) + " ").encode("utf-8")
            item = shaper.write(cls, key[1], np.frombuffer(data, np.uint8), key[0], key[2])
            if isinstance(item, pa.Shaped):
                self._harvest(easy, np.zeros(0, np.int8), 0, cls, data=(data, [item]))
                shaper.stats["words"] += len(easy)
                return set(easy)
            if cls not in shaper.seeded and shaper.due(cls, key[1], len(easy) if item is None else len(item)):
                shaper.seed(cls, key, self._shape, self._cls_anchor[cls])
                continue  # (all of them again)
            if item is None:
                return set()
            easy = [w for k, w in enumerate(easy) if k not in item]  # (the rest, without the unlearned ones)
        return set()


_WARM: list[bool] = []


def _warm() -> None:
    """Load (or compile) the kernels once a process (~6-10 ms each, which a first strip would pay)."""
    if _WARM:
        return
    raw, z = np.frombuffer(b"a ", np.uint8), np.zeros(1, np.int32)
    umap, ok, ligs, lens = np.full(NCP, -1, np.int64), np.zeros(1, np.bool_), np.zeros((0, 1), np.int32), np.zeros(0, np.int64)
    t = (np.full(1, -1, np.int64), np.zeros(1, np.int32), np.full(1, -1, np.int32))
    _learn(np.zeros((1, 5), np.int32), z, 1, raw, umap, ok, ligs, lens, lens, ok, 0, *t)
    _write(raw, umap, ok, ligs, lens, lens, ok, ok, 0, *t, np.empty((2, 5), np.int32), np.empty(2, np.int32))
    _WARM.append(True)


@numba.njit(cache=True, nogil=True)
def _char(raw, i):
    """(code point, bytes) of the UTF-8 character at raw[i] (4-byte characters: -1, they are never units)."""
    b = raw[i]
    if b < 0x80:
        return np.int64(b), 1
    if b < 0xE0:
        return np.int64(((b & 0x1F) << 6) | (raw[i + 1] & 0x3F)), 2
    if b < 0xF0:
        return np.int64(((b & 0x0F) << 12) | ((raw[i + 1] & 0x3F) << 6) | (raw[i + 2] & 0x3F)), 3
    return np.int64(-1), 4


@numba.njit(cache=True, nogil=True)
def _lig_at(raw, i, n, ligs, lens):
    """(ligature index, bytes) of the first ligature whose sequence starts at raw[i], or (-1, 0)."""
    for j in range(ligs.shape[0]):
        p, same = i, True
        for t in range(lens[j]):
            if p >= n:
                same = False
                break
            cp, nb = _char(raw, p)
            if cp != ligs[j, t]:
                same = False
                break
            p += nb
        if same:
            return j, p - i
    return -1, 0


@numba.njit(cache=True, nogil=True)
def _unit(raw, a, b, umap, ok, ligs, lens, lig_units):
    """The unit of bytes raw[a:b] (one glyph's cluster), or -1."""
    cp, nb = _char(raw, a)
    if a + nb == b:
        u = umap[cp] if 0 <= cp < umap.shape[0] else -1
        return u if u >= 0 and ok[u] else -1
    j, nb = _lig_at(raw, a, b, ligs, lens)
    return lig_units[j] if j >= 0 and a + nb == b else -1


@numba.njit(cache=True, nogil=True)
def _learn(glyphs, clusters, end, raw, umap, ok, ligs, lens, lig_units, kern, space, gly, attr, width):
    """Fill the tables from one shaped item (logical order, level 0); 1 on a contradiction, else 0."""
    n, nu = glyphs.shape[0], gly.shape[0]
    units = np.full(n, -1, np.int64)
    for k in range(n):
        b = clusters[k + 1] if k + 1 < n else end
        if glyphs[k, 0] >= 0 and glyphs[k, 2] == 0 and glyphs[k, 3] == 0 and b > clusters[k]:
            units[k] = _unit(raw, clusters[k], b, umap, ok, ligs, lens, lig_units)
    # only words made of units are learned: the proof covers them (a glyph beside an unproven one -- a combining
    # mark, say -- may be another: GoNoto's ccmp takes a dotless i-ogonek before a top mark)
    start, clean = 0, True
    for k in range(n + 1):
        if k == n or units[k] == space:
            if not clean:
                units[start:k] = -1
            start, clean = k + 1, True
        elif units[k] < 0:
            clean = False
    for k in range(n):
        u = units[k]
        if u < 0:
            continue
        flags = glyphs[k, 4] & 3  # is_cluster_start, is_color (the attr word's other bits are not set by Pango)
        if gly[u] >= 0 and (gly[u] != glyphs[k, 0] or attr[u] != flags):
            return 1
        gly[u], attr[u] = glyphs[k, 0], flags
        p = -1
        if u == space:  # (nothing reaches across the space: one advance before any unit, and at the end)
            p = u * nu + space
        elif k + 1 < n and units[k + 1] >= 0:
            p = u * nu + units[k + 1]
            if not kern[p]:
                p = u * nu + space  # a pair no kerning touches: the lone advance
        if p >= 0:
            if width[p] >= 0 and width[p] != glyphs[k, 1]:
                return 1
            width[p] = glyphs[k, 1]
    return 0


@numba.njit(cache=True, nogil=True)
def _write(raw, umap, ok, ligs, lens, lig_units, first, kern, space, gly, attr, width, out, clusters):
    """Cut ``raw`` into units (a ligature where its sequence starts, the first that matches, as HarfBuzz applies a
    ligature lookup) and fill ``out`` / ``clusters`` with their glyph records. Returns (glyphs, 0), or (0, how
    many words hold a unit or pair not learned yet; their indices in ``out[:n, 0]``)."""
    n, nu = raw.shape[0], gly.shape[0]
    units = np.empty(n, np.int64)
    starts = np.empty(n, np.int64)
    m, i = 0, 0
    while i < n:
        cp, step = _char(raw, i)
        u = umap[cp] if 0 <= cp < umap.shape[0] else -1
        if u >= 0 and not ok[u]:
            u = -1
        if u >= 0 and first[u]:
            j, nb = _lig_at(raw, i, n, ligs, lens)
            if j >= 0:
                u, step = lig_units[j], nb
        units[m], starts[m] = u, i
        m += 1
        i += step
    word, bad, last = 0, 0, -1
    for k in range(m):
        u = units[k]
        nxt = units[k + 1] if k + 1 < m else space  # (after the last space: as before any unit)
        g = gly[u] if u >= 0 else -1
        w = -1
        if g >= 0 and nxt >= 0:
            w = width[u * nu + nxt] if kern[u * nu + nxt] else width[u * nu + space]
        if g < 0 or w < 0:
            if last != word:
                out[bad, 0] = word
                bad += 1
                last = word
        elif bad == 0:
            out[k, 0], out[k, 1], out[k, 2], out[k, 3], out[k, 4] = g, w, 0, 0, attr[u]
            clusters[k] = starts[k]
        if u == space:
            word += 1
    return (0, bad) if bad else (m, 0)
