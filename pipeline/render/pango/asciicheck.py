"""Which printable ASCII characters a font shapes as its cmap and pair kerning only (the shaping cache's glyph path).

In a Latin item, HarfBuzz turns a word of printable ASCII into glyphs through the lookups of the features it turns
on by default (``_DEFAULT``: hb-ot-shape's common and horizontal features; 'frac', 'numr' and 'dnom' only around
U+2044, which is not ASCII). If no such lookup of the 'latn' or 'DFLT' script (any language system) can change or
move a glyph of the word but a pair adjustment of the first glyph's advance (GPOS type 2, value formats XAdvance
only), then the word's glyph string is each character's cmap glyph, and each glyph's advance -- HarfBuzz's advance
plus the pair adjustments with the glyph after it, rounded by Pango -- depends on that glyph and the next one only.
So ``glyphshape.py`` can write the glyph string Pango would make from a table of such pair advances, which it
learns from glyph strings Pango itself shaped.

This module reads the font's GSUB, GPOS and GDEF with fontTools (as ``spacecheck.py`` does) and returns what is
left out: *risky* glyphs, which some other lookup may change or move (a contextual rule whose every position can be
matched by printable ASCII, a single or multiple substitution, a mark or cursive attachment, a single adjustment,
a pair adjustment of another value format), and *ligatures* (character sequences a ligature lookup turns into one
glyph, e.g. GoNoto's f_i). A word holding a risky glyph or a ligature's sequence is shaped by Pango.

The pinned fonts' verdicts are in ``fonts/MANIFEST.json`` (``ascii``; ``tests/test_render_asciishape.py``
re-derives GoNoto's), so renderers need no fontTools.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .cjkcheck import DEFAULT_FEATURES
from .spacecheck import _subtables, pinned_or_checked

# the features HarfBuzz turns on by default (cjkcheck's list, from hb-ot-shape.cc) less 'frac' / 'numr' / 'dnom' (only
# around U+2044, not ASCII) and the Hangul jamo features, plus 'trak', which HarfBuzz also enables horizontally
_DEFAULT = (DEFAULT_FEATURES - {"frac", "numr", "dnom", "ljmo", "vjmo", "tjmo"}) | {"trak"}
_SCRIPTS = ("latn", "DFLT")
_XADVANCE = 4
ASCII = range(0x20, 0x7F)


@dataclass
class AsciiCheck:
    chars: frozenset[int]  # printable ASCII characters whose glyph only cmap and pair advances touch
    ligatures: tuple[str, ...]  # character sequences one ligature lookup joins, in the order it tries them
    forbidden: tuple[str, ...] = ()  # other sequences a ligature may join: their words go to Pango


def _lookups(table, scripts=_SCRIPTS) -> set[int]:
    out: set[int] = set()
    for sr in table.ScriptList.ScriptRecord:
        if sr.ScriptTag not in scripts:
            continue
        for ls in [sr.Script.DefaultLangSys, *(r.LangSys for r in sr.Script.LangSysRecord)]:
            for fi in (ls.FeatureIndex if ls is not None else []):
                fr = table.FeatureList.FeatureRecord[fi]
                if fr.FeatureTag in _DEFAULT:
                    out.update(fr.Feature.LookupListIndex)
    return out


def _cls(cd, cls: int, pool: set[str]) -> set[str]:
    m = cd.classDefs if cd is not None else {}
    return {g for g in pool if m.get(g, 0) == cls}


def _rules(st, chaining: bool, pool: set[str]):
    """Each rule of a contextual subtable as (context positions, input positions): lists of the glyphs of ``pool``
    that can stand there."""
    first = set(st.Coverage.glyphs) & pool if st.Format in (1, 2) else None
    if st.Format == 1:
        sets = (getattr(st, "ChainSubRuleSet", None) or getattr(st, "ChainPosRuleSet", None)
                or getattr(st, "SubRuleSet", None) or getattr(st, "PosRuleSet", None) or [])
        for g, rs in zip(st.Coverage.glyphs, sets):
            for r in (getattr(rs, "ChainSubRule", None) or getattr(rs, "ChainPosRule", None)
                      or getattr(rs, "SubRule", None) or getattr(rs, "PosRule", None) or []) if rs else []:
                ins = [{g} & pool, *({x} & pool for x in r.Input)]
                ctx = [{x} & pool for x in (list(r.Backtrack) + list(r.LookAhead) if chaining else [])]
                yield ctx, ins
    elif st.Format == 2:
        cds = (st.InputClassDef, st.BacktrackClassDef, st.LookAheadClassDef) if chaining else (st.ClassDef, None, None)
        sets = (getattr(st, "ChainSubClassSet", None) or getattr(st, "ChainPosClassSet", None)
                or getattr(st, "SubClassSet", None) or getattr(st, "PosClassSet", None) or [])
        for k, cs in enumerate(sets):
            for r in (getattr(cs, "ChainSubClassRule", None) or getattr(cs, "ChainPosClassRule", None)
                      or getattr(cs, "SubClassRule", None) or getattr(cs, "PosClassRule", None) or []) if cs else []:
                ins = [first & _cls(cds[0], k, pool), *(_cls(cds[0], c, pool) for c in (r.Input if chaining else r.Class))]
                ctx = [*(_cls(cds[1], c, pool) for c in r.Backtrack), *(_cls(cds[2], c, pool) for c in r.LookAhead)] \
                    if chaining else []
                yield ctx, ins
    else:
        covs = list(st.InputCoverage) if chaining else list(st.Coverage)
        ins = [set(c.glyphs) & pool for c in covs]
        ctx = [set(c.glyphs) & pool for c in [*st.BacktrackCoverage, *st.LookAheadCoverage]] if chaining else []
        yield ctx, ins


def _starts(st) -> set[str]:
    """The glyphs a subtable may start matching at (every glyph when it has no coverage to say)."""
    if getattr(st, "ligatures", None) is not None:
        return set(st.ligatures)
    if getattr(st, "mapping", None) is not None:
        return set(st.mapping)
    cov = getattr(st, "Coverage", None) or getattr(st, "MarkCoverage", None) or getattr(st, "Mark1Coverage", None)
    if cov is None and getattr(st, "InputCoverage", None):
        cov = st.InputCoverage[0]
    return set(cov.glyphs) if cov is not None else {"*"}


def _scan(font, pool: set[str], scripts=_SCRIPTS) -> tuple[set[str], list[tuple[int, str, list[str], str]]]:
    """(risky glyphs of ``pool``, ligatures of glyphs of ``pool``: (lookup, first, components, ligature glyph))."""
    risky: set[str] = set()
    ligs: list[tuple[int, str, list[str], str]] = []
    classes = font["GDEF"].table.GlyphClassDef.classDefs \
        if "GDEF" in font and font["GDEF"].table.GlyphClassDef is not None else {}
    risky |= {g for g in pool if classes.get(g) == 3}  # a mark: HarfBuzz may zero its advance
    for tag in ("GSUB", "GPOS"):
        if tag not in font or font[tag].table.LookupList is None:
            continue
        table = font[tag].table
        for li in sorted(_lookups(table, scripts)):
            flag = table.LookupList.Lookup[li].LookupFlag
            # a lookup that starts at a glyph of the pool and skips base glyphs or ligatures of it may join or kern
            # glyphs that are not neighbours
            skipped = {g for g in pool if (flag & 2 and classes.get(g) == 1) or (flag & 4 and classes.get(g) == 2)}
            if skipped:
                starts = set().union(*(_starts(st) for st, _t in _subtables(table.LookupList.Lookup[li]))) & pool
                risky |= (starts | skipped) if starts - skipped else set()
            for st, lookup_type in _subtables(table.LookupList.Lookup[li]):
                kind = (tag, lookup_type)
                if kind in (("GSUB", 5), ("GSUB", 6), ("GPOS", 7), ("GPOS", 8)):
                    for ctx, ins in _rules(st, kind[1] in (6, 8), pool):
                        if all(ctx) and all(ins):  # every position can be printable ASCII: it may fire
                            risky.update(*ins)
                elif kind == ("GSUB", 4):
                    for first, seqs in st.ligatures.items():
                        for lig in seqs:  # (in the font's order: HarfBuzz takes the first that matches)
                            if first in pool and all(c in pool for c in lig.Component):
                                ligs.append((li, first, list(lig.Component), lig.LigGlyph))
                elif kind == ("GPOS", 2):
                    if st.ValueFormat2 == 0 and st.ValueFormat1 in (0, _XADVANCE):
                        continue  # the pair advances the glyph path learns
                    risky |= set(st.Coverage.glyphs) & pool
                    risky |= pool if st.ValueFormat2 else set()  # (the second glyph moves: leave all to Pango)
                elif kind in (("GPOS", 4), ("GPOS", 5)):
                    risky |= set(st.MarkCoverage.glyphs) & pool
                elif kind == ("GPOS", 6):
                    risky |= set(st.Mark1Coverage.glyphs) & pool
                elif kind == ("GSUB", 1):
                    continue  # (folded into ``origin``)
                elif kind == ("GSUB", 2):
                    risky |= set(st.mapping) & pool
                elif kind == ("GSUB", 3):
                    risky |= set(st.alternates) & pool
                else:  # GPOS 1 and 3, GSUB 8 and anything else: whatever it covers
                    cov = getattr(st, "Coverage", None)
                    risky |= (set(cov.glyphs) & pool) if cov is not None else pool
    return risky, ligs


def check_font(path) -> AsciiCheck:
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), lazy=False)
    return prove(font, ASCII, _SCRIPTS)[0]


def prove(font, chars, scripts) -> tuple[AsciiCheck, dict[str, set[str]]]:
    """The verdict for the characters ``chars`` in an item whose lookups are those of the script tags ``scripts``
    (any language system), and ``origin``: each glyph a proven character or ligature may become -> its sequences."""
    best = font.getBestCmap()
    names = {c: best[c] for c in chars if c in best}
    # the glyphs a character may become: its cmap glyph and what single substitutions make of it (context-free:
    # still one glyph per character, which the glyph path learns from Pango), the space's too (a rule can reach a
    # word's edge through it); then ligatures of those, and what single substitutions make of them, till no more
    origin: dict[str, set[str]] = {}
    for c, g in names.items():
        origin.setdefault(g, set()).add(chr(c))
    singles = [st for li in sorted(_lookups(font["GSUB"].table, scripts)) if "GSUB" in font
               for st, lookup_type in _subtables(font["GSUB"].table.LookupList.Lookup[li]) if lookup_type == 1]
    for _ in range(8):
        grown = True
        while grown:
            grown = False
            for st in singles:
                for g, h in st.mapping.items():
                    if g in origin and not origin[g] <= origin.get(h, set()):
                        origin.setdefault(h, set()).update(origin[g])
                        grown = True
        risky, ligs = _scan(font, set(origin), scripts)
        before = {g: set(v) for g, v in origin.items()}
        for _li, first, comps, out in ligs:
            seqs = {""}
            for g in [first, *comps]:
                seqs = {q + t for q in seqs for t in origin[g]}
            origin.setdefault(out, set()).update(seqs)
        if origin == before:
            break
    else:
        return AsciiCheck(frozenset(), (), ()), {}
    bad = set().union(*(origin[g] for g in risky))  # character sequences that may become a risky glyph
    ok = frozenset(c for c in names if chr(c) not in bad)
    if 0x20 not in ok:
        return AsciiCheck(frozenset(), (), ()), {}
    good = lambda q: all(ord(ch) in ok for ch in q)  # noqa: E731
    lookups = {li for li, *_ in ligs}
    written, forbidden = [], set()
    for li, first, comps, out in ligs:
        seqs = {""}
        for g in [first, *comps]:
            seqs = {q + t for q in seqs for t in origin[g]}
        seqs = {q for q in seqs if good(q)}
        # written only from one ligature lookup whose glyph nothing else touches and where each glyph is one
        # character's (then which sequences join is the lookup's first match, as HarfBuzz applies it)
        if len(lookups) == 1 and out not in risky and all(len(origin[g]) == 1 and len(next(iter(origin[g]))) == 1
                                                          for g in [first, *comps]):
            written += sorted(seqs)
        else:
            forbidden |= seqs
    return AsciiCheck(ok, tuple(written), tuple(sorted(forbidden))), origin


def manifest_entry(res: AsciiCheck) -> dict:
    return {"chars": "".join(map(chr, sorted(res.chars))), "ligatures": list(res.ligatures),
            "forbidden": list(res.forbidden)}


def from_entry(e: dict) -> AsciiCheck:
    return AsciiCheck(frozenset(map(ord, e["chars"])), tuple(e["ligatures"]), tuple(e["forbidden"]))


@functools.lru_cache(maxsize=16)
def _checked(sha256: str, path: str) -> AsciiCheck | None:
    return pinned_or_checked("ascii", sha256, path, from_entry, check_font)


def verdict(path) -> AsciiCheck | None:
    """The font's verdict: from fonts/MANIFEST.json for a pinned font (matched by sha256), else checked now."""
    from ..config import _font_sha256

    return _checked(_font_sha256(str(path)), str(path))
