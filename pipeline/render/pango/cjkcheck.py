"""Which CJK characters does a font shape the same whatever stands beside them? (The CJK composition's premise.)

Han, kana and Bopomofo text has no spaces to cut words at, so the shaping cache composes it character by character
(``cjk.py``). That gives Pango's pixels when no OpenType lookup can make a character's glyph or position depend on
a neighbour -- nor a neighbour's on it. This module reads the font's GSUB, GPOS and GDEF with fontTools and proves
it per character, for every lookup of the features HarfBuzz applies by default in horizontal text
(``DEFAULT_FEATURES``: Pango asks for no others) under any script and language of the font -- a superset of what
applies to one item -- and every lookup their contextual rules call. Not among them: 'halt', 'palt', 'chws',
'vhal' (CJK punctuation and proportional spacing, GoNoto has 'halt' and 'palt': off unless asked for), 'vert'
(vertical text only), 'dlig' (GoNoto's era-name ligatures):

* the character's glyphs are its cmap glyph and every glyph a context-free substitution (GSUB single, multiple or
  alternate: the same whatever the neighbours) can turn them into -- 'locl' and the like;
* none of those glyphs can be matched by any other lookup in any position: no ligature through them, no pair
  adjustment with them first or second (a class-based pair table whose class 0, "every other glyph", holds a nonzero
  value reaches every glyph: that makes the font ineligible), no contextual or chaining rule holding them in its
  input, backtrack or lookahead (class 0 again: every glyph), no reverse chaining rule, cursive or mark attachment
  with them;
* no lookup can skip over them: their GDEF class is not one a lookup's flag ignores (a rule that skipped a CJK
  glyph could join the glyphs on both sides of it).

A single adjustment (GPOS 1) moves a glyph the same wherever it stands, so it is allowed. The old ``kern`` table and
Apple's ``morx``/``kerx`` make the font ineligible. ``check_font(path).chars`` is the set of proven code points;
``tests/test_render_cjk.py`` re-derives GoNoto's verdict and shows a font with a kerning pair between two Han
characters is refused for exactly those two (and that Pango then shapes the pair otherwise than the characters
alone). Pango's side of it (items, rounding, paired punctuation) is ``cjk.py``'s.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .spacecheck import _glyphs as _cov  # a coverage's glyph names (empty if none)
from .spacecheck import _subtables, pinned_or_checked

# The blocks whose characters may be composed one by one: CJK radicals and symbols, punctuation, kana, Bopomofo,
# Hangul compatibility jamo excluded (they are Hangul), CJK unified ideographs (and extension A), compatibility
# ideographs, vertical forms, CJK compatibility forms, half- and full-width forms. Marks, format characters and
# variation selectors never (they belong to the character before them).
BLOCKS = ((0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x312F), (0x31A0, 0x31FF),
          (0x3200, 0x32FF), (0x3300, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
          (0xFE30, 0xFE4F), (0xFF01, 0xFF60), (0xFF61, 0xFF9F), (0xFFE0, 0xFFEE))
_IGNORE = {1: 0x2, 2: 0x4, 3: 0x8}  # GDEF class -> the lookup flag that skips it (base, ligature, mark)
# Features HarfBuzz turns on by default in horizontal text (hb-ot-shape.cc: common, horizontal -- 'trak' among them,
# enabled with a fallback -- the always-on ones and HarfBuzz's own 'Harf'/'HARF'/'Buzz'/'BUZZ'; 'frac'/'numr'/'dnom'
# around a fraction slash), under any script and language of the font: Pango adds none.
DEFAULT_FEATURES = frozenset({"abvm", "blwm", "ccmp", "locl", "mark", "mkmk", "rlig", "calt", "clig", "curs", "dist",
                              "kern", "liga", "rclt", "rand", "rvrn", "ltra", "ltrm", "frac", "numr", "dnom",
                              "ljmo", "vjmo", "tjmo", "trak", "Harf", "HARF", "Buzz", "BUZZ"})


@dataclass
class CjkCheck:
    eligible: bool
    chars: frozenset[int] = frozenset()
    findings: list[str] = field(default_factory=list)


def in_blocks(cp: int) -> bool:
    return any(a <= cp <= b for a, b in BLOCKS)


def _classes(cd, used: set[int]) -> set[str] | None:
    """Glyphs of the classes ``used`` in ``cd``; None (every glyph) when class 0 is among them."""
    if 0 in used:
        return None
    return {g for g, c in (cd.classDefs if cd is not None else {}).items() if c in used}


def _union(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    return None if a is None or b is None else a | b


def _rules(st, names):
    for n in names:
        sets = getattr(st, n + "Set", None)
        if sets:
            for s in sets:
                for r in (getattr(s, n, None) or []) if s else []:
                    yield r


def _contextual(st, chaining: bool) -> set[str] | None:
    """Every glyph a contextual or chaining rule can match, in any position (None: any glyph)."""
    fmt = st.Format
    if fmt == 3:
        covs = [*st.InputCoverage, *st.BacktrackCoverage, *st.LookAheadCoverage] if chaining else list(st.Coverage)
        return set().union(*map(_cov, covs))
    out: set[str] | None = _cov(st.Coverage)
    if fmt == 1:
        for r in _rules(st, ("ChainSubRule", "ChainPosRule", "SubRule", "PosRule")):
            out |= set(r.Input) | set(getattr(r, "Backtrack", ())) | set(getattr(r, "LookAhead", ()))
        return out
    if chaining:
        cds = (st.InputClassDef, st.BacktrackClassDef, st.LookAheadClassDef)
        rules = list(_rules(st, ("ChainSubClassRule", "ChainPosClassRule")))
        parts = [(cds[0], {c for r in rules for c in r.Input}), (cds[1], {c for r in rules for c in r.Backtrack}),
                 (cds[2], {c for r in rules for c in r.LookAhead})]
    else:
        rules = list(_rules(st, ("SubClassRule", "PosClassRule")))
        parts = [(st.ClassDef, {c for r in rules for c in r.Class})]
    for cd, used in parts:
        out = _union(out, _classes(cd, used))
    return out


def _nonzero(v) -> bool:
    return v is not None and any(getattr(v, a, 0) for a in ("XPlacement", "YPlacement", "XAdvance", "YAdvance",
                                                              "XPlaDevice", "YPlaDevice", "XAdvDevice", "YAdvDevice"))


def _pair(st) -> set[str] | None:
    out = _cov(st.Coverage)
    if st.Format == 1:
        return out | {r.SecondGlyph for ps in st.PairSet for r in ps.PairValueRecord}
    used = {c2 for rec in st.Class1Record for c2, r in enumerate(rec.Class2Record)
            if _nonzero(r.Value1) or _nonzero(r.Value2)}
    return _union(out, _classes(st.ClassDef2, used))


def _touched(tag: str, kind: int, st) -> set[str] | None:
    """Glyphs the subtable can match beside another glyph (None: any glyph); empty for context-free ones."""
    if (tag, kind) in (("GSUB", 1), ("GSUB", 2), ("GSUB", 3), ("GPOS", 1)):
        return set()
    if tag == "GSUB" and kind == 4:
        return set(st.ligatures) | {c for ligs in st.ligatures.values() for lig in ligs for c in lig.Component}
    if tag == "GSUB" and kind == 8:
        return set().union(_cov(st.Coverage), *map(_cov, st.BacktrackCoverage), *map(_cov, st.LookAheadCoverage))
    if (tag, kind) in (("GSUB", 5), ("GPOS", 7)):
        return _contextual(st, chaining=False)
    if (tag, kind) in (("GSUB", 6), ("GPOS", 8)):
        return _contextual(st, chaining=True)
    if tag == "GPOS" and kind == 2:
        return _pair(st)
    if tag == "GPOS" and kind == 3:
        return _cov(st.Coverage)
    if tag == "GPOS" and kind in (4, 5, 6):
        first = st.MarkCoverage if kind in (4, 5) else st.Mark1Coverage
        second = {4: "BaseCoverage", 5: "LigatureCoverage", 6: "Mark2Coverage"}[kind]
        return _cov(first) | _cov(getattr(st, second))
    return None  # an unknown kind: assume the worst


def _outputs(kind: int, st) -> dict[str, set[str]]:
    """A context-free substitution's glyph -> the glyphs it can become."""
    if kind == 1:
        return {a: {b} for a, b in st.mapping.items()}
    if kind in (2, 3):
        return {a: set(b) for a, b in (st.mapping if kind == 2 else st.alternates).items()}
    return {}


def _applied(table, features: frozenset[str]) -> set[int]:
    """The lookups ``features`` run (any script, any language), with those their contextual rules call."""
    todo = [i for fr in table.FeatureList.FeatureRecord if fr.FeatureTag in features
            for i in fr.Feature.LookupListIndex]
    seen: set[int] = set()
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        for st, _ in _subtables(table.LookupList.Lookup[i]):
            for name in ("SubstLookupRecord", "PosLookupRecord"):
                todo += [r.LookupListIndex for r in getattr(st, name, None) or []]
            for r in _rules(st, ("ChainSubRule", "ChainPosRule", "SubRule", "PosRule", "ChainSubClassRule",
                                 "ChainPosClassRule", "SubClassRule", "PosClassRule")):
                for name in ("SubstLookupRecord", "PosLookupRecord"):
                    todo += [x.LookupListIndex for x in getattr(r, name, None) or []]
    return seen


def check_font(path: str | Path, features: frozenset[str] = DEFAULT_FEATURES) -> CjkCheck:
    """The font's CJK characters (in ``BLOCKS``) whose glyphs no lookup of ``features`` can tie to a neighbour."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), lazy=False)
    fatal = [f"has a '{t}' table" for t in ("kern", "morx", "kerx", "mort") if t in font]
    cmap = {cp: g for cp, g in font.getBestCmap().items() if in_blocks(cp)
            and unicodedata.category(chr(cp)) not in ("Mn", "Mc", "Me", "Cf")}  # (a mark joins the cluster before it)
    subst: dict[str, set[str]] = {}
    touched: set[str] = set()
    notes: list[str] = []
    skipped = set()  # GDEF classes some lookup skips
    for tag in ("GSUB", "GPOS"):
        if tag not in font or font[tag].table.LookupList is None:
            continue
        table = font[tag].table
        applied = _applied(table, features)
        for li, lookup in enumerate(table.LookupList.Lookup):
            if li not in applied:
                continue
            skipped |= {c for c, bit in _IGNORE.items() if lookup.LookupFlag & bit}
            for st, kind in _subtables(lookup):
                if tag == "GSUB":
                    for a, bs in _outputs(kind, st).items():
                        subst.setdefault(a, set()).update(bs)
                t = _touched(tag, kind, st)
                if t is None:
                    fatal.append(f"{tag} lookup {li} type {kind}: can match any glyph beside another")
                else:
                    touched |= t
    gdef = font["GDEF"].table.GlyphClassDef.classDefs if "GDEF" in font and font["GDEF"].table.GlyphClassDef else {}
    chars = set()
    for cp, g in cmap.items():
        seen, todo = {g}, [g]
        while todo:  # the glyphs a context-free substitution can make of it
            for h in subst.get(todo.pop(), ()):
                if h not in seen:
                    seen.add(h)
                    todo.append(h)
        if seen & touched or any(gdef.get(h, 0) in skipped for h in seen):
            continue
        chars.add(cp)
    refused = len(cmap) - len(chars)
    if refused:
        notes.append(f"{refused} of {len(cmap)} CJK characters have a glyph some lookup ties to a neighbour")
    return CjkCheck(not fatal, frozenset(chars) if not fatal else frozenset(), fatal + notes)


def to_ranges(chars) -> str:
    """Code points as "4e00-4e05 4e07 ..." (hex ranges): a short line in the manifest."""
    out: list[list[int]] = []
    for c in sorted(chars):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return " ".join(f"{a:x}" if a == b else f"{a:x}-{b:x}" for a, b in out)


def from_ranges(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split():
        a, _, b = part.partition("-")
        out.update(range(int(a, 16), int(b or a, 16) + 1))
    return frozenset(out)


def manifest_entry(res: CjkCheck) -> dict:
    return {"eligible": res.eligible, "chars": to_ranges(res.chars)}


@functools.lru_cache(maxsize=8)
def _checked(sha256: str, path: str) -> CjkCheck | None:

    return pinned_or_checked("cjk", sha256, path,
                             lambda e: CjkCheck(e["eligible"], from_ranges(e["chars"])), check_font)


def verdict(path: str | Path) -> CjkCheck | None:
    """The font's verdict: from fonts/MANIFEST.json for a pinned font (matched by sha256), else checked now."""
    from ..config import _font_sha256

    return _checked(_font_sha256(str(path)), str(path))
