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
lone advance), and, once a class has met as many new words that went to Pango for want of a unit or pair as the
seed costs (``SEED_AFTER``), from one *seed* string Pango shapes: every unit before a space and every kerned pair of the everyday letters
(walks through the pairs, ~6,000 in GoNoto's Cyrillic). ``write`` then makes a batch's glyph string (glyph,
advance, clusters = byte offsets); a word holding a unit or kerned pair not learned yet goes to Pango (and is
learned from there). A unit seen with two glyphs, a pair with two advances or an unkerned pair off its lone advance
(a proof that would be wrong) turns the path off for the class. A strip of several scripts still shapes its new
words in one Pango batch (``mixed_batch``), whose items teach the tables: writing them instead (all or none) was
pixel-identical but measured 0.84-0.87x Pango only against 0.96-0.98x without it on the mixed rows of
``bench_render_multi.py`` (``render_multi.md``, session 17). The kernels are in ``glyphkernels.py``.
``tests/test_render_glyphpath.py`` and ``tests/test_render_asciishape.py`` compare written glyph strings with
Pango's and composed strips with Pango's pixels; ``PIXELKIT_ASCII_PATH=0`` turns the path off.
"""

from __future__ import annotations

import re

import numpy as np

from . import pango_abi as pa
from .glyphkernels import NCP, _learn, _warm, _write

LATIN = 25  # GUnicodeScript / PangoScript
# A seed of 12,000 characters costs ~5 ms of thread CPU to shape and learn, a written word saves ~3.5 us of itemizing
# and HarfBuzz: a class is seeded once this many of its new words per 12,000 seed characters went to Pango for a
# unit or pair not learned yet (GoNoto: Latin ~1,260 words, Cyrillic and Greek ~340)
SEED_AFTER = 1500
_BATCH = 40  # what a Pango batch costs beyond its words (~150 us), in words' shaping
_SPACE = 0x20


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
        # a character that is not proven (the space is: words are joined by it)
        self.other = re.compile("[^" + re.escape("".join(map(chr, sorted(check.chars | {_SPACE})))) + "]").search
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
        text, bad, other = " ".join(words), sc.bad, sc.other
        if not other(text) and (bad is None or not bad(text)):
            return words
        return [w for w in words if not other(w) and (bad is None or not bad(w))]

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
        key = self._cls_key[cls]
        if key[1] not in self._glyph.scripts:
            return missing
        done = self._write_in(self._glyph.eligible(missing, key[1]), cls, key)
        return [w for w in missing if w not in done] if done else missing

    def _write_in(self, easy: list[str], cls: int, key: tuple[int, int, int]) -> set[str]:
        """Write what can be of the eligible words ``easy`` in class ``cls`` (seeding it when due): cached, and the
        words written returned."""
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
            lost = (len(easy) if item is None else len(item)) + _BATCH
            if cls not in shaper.seeded and shaper.due(cls, key[1], lost):
                shaper.seed(cls, key, self._shape, self._cls_anchor[cls])
                continue  # (all of them again)
            if item is None:
                return set()
            easy = [w for k, w in enumerate(easy) if k not in item]  # (the rest, without the unlearned ones)
        return set()
