"""Which Latin, Cyrillic and Greek characters a font shapes as its cmap and pair kerning only, and which pairs of
them its kerning can touch (the glyph path beyond printable ASCII, ``glyphshape.py``).

``asciicheck.prove`` is run per script on the item's candidate characters: the script's letters from Unicode's
Script property (Latin: Latin-1 Supplement and Latin Extended-A/B letters, precomposed; Cyrillic U+0400-04FF;
Greek U+0370-03FF -- no marks, no format or space characters) plus the Common characters Pango puts into the
same item (printable ASCII, a few Latin-1 signs and General Punctuation dashes/quotes, the numero sign), with the
lookups of the script's tag, 'DFLT', 'dflt' and (where the font lacks the script's own tag, as HarfBuzz falls back
to it) 'latn', under every language system: so a 'locl' of Bulgarian or Serbian is among them (single
substitutions are learned per class from Pango, whose item language picks them; anything else a 'locl' does makes
its characters risky). Precomposed letters with a cmap glyph stay one glyph: HarfBuzz's normalizer decomposes
and recomposes them, and the seed shows each one's glyph (a letter Pango gives two glyphs is never learned).

``kerned``: the pairs of units (proven characters and written ligatures) whose first glyph a pair adjustment of
the proven lookups can move when the second follows -- from every PairPos subtable (format 1 pair sets, format 2
class pairs with a nonzero XAdvance, class 0 meaning every other glyph), over every glyph a unit may become. Any
other pair's first advance is the unit's lone advance (its advance before a space, which ``spacecheck`` proves
nothing reaches), so the seed need show the kerned pairs only. Verdicts are in fonts/MANIFEST.json (``glyphs``;
``tests/test_render_glyphpath.py`` re-derives GoNoto's), so renderers need no fontTools.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from .asciicheck import ASCII, _XADVANCE, _lookups, prove
from .spacecheck import _subtables, pinned_or_checked

# GUnicodeScript (PangoScript) number -> (OpenType tag, Unicode script code, candidate ranges)
SCRIPTS = {25: ("latn", "Latn", range(0xC0, 0x250)), 8: ("cyrl", "Cyrl", range(0x400, 0x500)),
           14: ("grek", "Grek", range(0x370, 0x400))}
# Common characters beyond ASCII that real prose of these scripts puts inside its items
_COMMON = [*range(0xA1, 0xC0), 0xD7, 0xF7, *range(0x2010, 0x2028), *range(0x2030, 0x203B), 0x2116, 0x20AC]
_EMOJI = {0xA9, 0xAE, 0x203C}  # text-default emoji: Pango's emoji iterator may cut items at them
# Catalan's middle dot: GoNoto's 'locl' of Catalan rewrites l·l in context, so with it in the pool 'l' and 'L' are
# risky; left out, the rule cannot match (its words go to Pango)
_LEFT_OUT = {25: {0xB7}}


@dataclass
class GlyphCheck:
    chars: frozenset[int]
    ligatures: tuple[str, ...]
    forbidden: tuple[str, ...]
    kerned: dict[str, str]  # unit (a character or a ligature's sequence) -> the characters / ligature first
    # characters after which its advance may differ from its lone advance ("" for the ligatures' own sequences)
    kerned_ligs: dict[str, tuple[str, ...]] = None  # unit -> ligatures after which its advance may differ


def candidates(script: int) -> list[int]:
    from fontTools import unicodedata as fu

    _tag, code, letters = SCRIPTS[script]
    return [0x20] + [c for c in sorted({*ASCII, *letters, *_COMMON}) if c not in _EMOJI | _LEFT_OUT.get(script, set())
                     and fu.script(c) in (code, "Zyyy") and unicodedata.category(chr(c))[0] in "LNPS"]


def _pair_glyphs(font, lookups: set[int], pool: set[str]) -> dict[str, set[str]]:
    """first glyph -> the glyphs of ``pool`` after which a pair adjustment may move it (XAdvance nonzero)."""
    out: dict[str, set[str]] = {}
    if "GPOS" not in font or font["GPOS"].table.LookupList is None:
        return out
    table = font["GPOS"].table
    for li in sorted(lookups):
        for st, lookup_type in _subtables(table.LookupList.Lookup[li]):
            if lookup_type != 2:
                continue
            firsts = [g for g in st.Coverage.glyphs if g in pool]
            if st.Format == 1:
                for g, ps in zip(st.Coverage.glyphs, st.PairSet):
                    if g in pool:
                        seconds = {r.SecondGlyph for r in ps.PairValueRecord
                                   if r.SecondGlyph in pool and getattr(r.Value1, "XAdvance", 0)}
                        out.setdefault(g, set()).update(seconds)
            else:
                c1 = st.ClassDef1.classDefs if st.ClassDef1 is not None else {}
                c2 = st.ClassDef2.classDefs if st.ClassDef2 is not None else {}
                by2: dict[int, set[str]] = {}
                for g in pool:
                    by2.setdefault(c2.get(g, 0), set()).add(g)
                for g in firsts:
                    row = st.Class1Record[c1.get(g, 0)].Class2Record
                    for k, rec in enumerate(row):
                        if getattr(rec.Value1, "XAdvance", 0) and k in by2:
                            out.setdefault(g, set()).update(by2[k])
    return out


def check_font_script(font, script: int) -> GlyphCheck:
    tag = SCRIPTS[script][0]
    tags = {tag, "DFLT", "dflt"}
    have = {sr.ScriptTag for t in ("GSUB", "GPOS") if t in font for sr in font[t].table.ScriptList.ScriptRecord}
    if tag not in have:
        tags.add("latn")
    res, origin = prove(font, candidates(script), tuple(tags))
    units = [chr(c) for c in sorted(res.chars) if c != 0x20] + list(res.ligatures)
    glyphs = {u: {g for g, seqs in origin.items() if u in seqs} for u in units}
    pool = set().union(*glyphs.values()) if glyphs else set()
    pairs = _pair_glyphs(font, _lookups(font["GPOS"].table, tuple(tags)) if "GPOS" in font else set(), pool)
    kerned: dict[str, str] = {}
    kerned_ligs: dict[str, tuple[str, ...]] = {}
    for u in units:
        after = set().union(*(pairs.get(g, set()) for g in glyphs[u]))
        if not after:
            continue
        nxt = [v for v in units if glyphs[v] & after]
        kerned[u] = "".join(v for v in nxt if len(v) == 1)
        if any(len(v) > 1 for v in nxt):
            kerned_ligs[u] = tuple(v for v in nxt if len(v) > 1)
    return GlyphCheck(res.chars, res.ligatures, res.forbidden, kerned, kerned_ligs)


def check_font(path) -> dict[int, GlyphCheck]:
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), lazy=False)
    return {s: check_font_script(font, s) for s in SCRIPTS}


def manifest_entry(res: dict[int, GlyphCheck]) -> dict:
    """Per script tag: the proven characters, ligatures, forbidden sequences and the kerned pairs (each unit's
    kerned followers as an index into ``after``, the distinct follower strings)."""
    out = {}
    for s, r in res.items():
        after = sorted(set(r.kerned.values()))
        out[SCRIPTS[s][0]] = {"chars": "".join(map(chr, sorted(r.chars))), "ligatures": list(r.ligatures),
                              "forbidden": list(r.forbidden), "after": after,
                              "kerned": {u: after.index(v) for u, v in r.kerned.items()},
                              "kerned_ligatures": {u: list(v) for u, v in (r.kerned_ligs or {}).items()}}
    return out


def from_entry(e: dict) -> dict[int, GlyphCheck]:
    tags = {t[0]: s for s, t in SCRIPTS.items()}
    return {tags[t]: GlyphCheck(frozenset(map(ord, r["chars"])), tuple(r["ligatures"]), tuple(r["forbidden"]),
                                {u: r["after"][k] for u, k in r["kerned"].items()},
                                {u: tuple(v) for u, v in r["kerned_ligatures"].items()})
            for t, r in e.items()}


@functools.lru_cache(maxsize=16)
def _checked(sha256: str, path: str) -> dict[int, GlyphCheck] | None:
    return pinned_or_checked("glyphs", sha256, path, from_entry, check_font)


def verdict(path) -> dict[int, GlyphCheck] | None:
    """The font's verdicts by script: from fonts/MANIFEST.json for a pinned font (matched by sha256), else checked
    now."""
    from ..config import _font_sha256

    return _checked(_font_sha256(str(path)), str(path))
