"""Does a font shape each space-separated word the same wherever it stands? (The shaping cache's premise.)

HarfBuzz can make a word's glyphs depend on its neighbours only through a lookup that matches a glyph sequence
holding the space between them: a pair adjustment with the space on either side, a contextual or chaining rule
whose input, backtrack or lookahead can hold the space, a ligature through it, or the old ``kern`` table and
Apple's ``morx``/``kerx``. This module reads a font's GSUB and GPOS with fontTools and finds every such lookup.
A glyph class 0 ("every other glyph") in a rule counts as able to hold the space unless the space has a class of
its own there.

Not interactions: a lookup that replaces or moves the space by itself (the same between any two words; the cache
checks that every separating space shaped to its class's one space glyph and advance), and marks positioned on a
space (the cache never takes a word that starts with a combining mark).

A positioning rule (GPOS 7/8) that reaches the space only from its backtrack or lookahead moves just the glyphs
of its input, so the font stays usable and those input glyphs are *risky*: the cache leaves any word holding one
to Pango. Everything else makes the font ineligible. GoNoto has such rules (Devanagari 'dist': the
candrabindu, anusvara and reph marks look back up to four glyphs; 19 risky glyphs, as fonts/MANIFEST.json records
and tests/test_render_fastpath.py re-derives), PixeloidSans none.

    pixel-render fontcheck fonts/GoNotoCurrent.ttf      # report on any font file
    pixel-render fontcheck --write-manifest             # record the pinned fonts' verdicts in fonts/MANIFEST.json

The pinned fonts' verdicts live in ``fonts/MANIFEST.json`` (``shape_cache``; ``tests/test_fonts.py`` re-derives
them), so renderers need no fontTools; another font is checked once per process when fontTools is installed.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path



@dataclass
class SpaceCheck:
    eligible: bool
    risky_glyphs: frozenset[int] = frozenset()
    findings: list[str] = field(default_factory=list)


def _subtables(lookup):
    for st in lookup.SubTable:
        st = getattr(st, "ExtSubTable", st)
        yield st, st.LookupType


def _glyphs(cov) -> set[str]:
    return set(cov.glyphs) if cov is not None else set()


def _class_glyphs(cd, classes) -> set[str] | None:
    """Glyph names of ``classes`` in ``cd``; None when class 0 (every unlisted glyph) is among them."""
    if 0 in classes:
        return None
    mapping = cd.classDefs if cd is not None else {}
    return {g for g, c in mapping.items() if c in set(classes)}


def _context(st, space: str, chaining: bool) -> tuple[bool, bool, set[str] | None]:
    """(space in the input, space in backtrack/lookahead, glyphs the rule's input can hold (None: any glyph))."""
    in_input = in_context = False
    inputs: set[str] | None = set()
    fmt = st.Format
    if fmt == 1:
        first = _glyphs(st.Coverage)
        in_input = space in first
        inputs |= first
        sets = getattr(st, "ChainSubRuleSet", None) or getattr(st, "ChainPosRuleSet", None) or \
            getattr(st, "SubRuleSet", None) or getattr(st, "PosRuleSet", None) or []
        for rs in sets:
            for r in (getattr(rs, "ChainSubRule", None) or getattr(rs, "ChainPosRule", None)
                      or getattr(rs, "SubRule", None) or getattr(rs, "PosRule", None) or []) if rs else []:
                in_input |= space in r.Input
                inputs |= set(r.Input)
                if chaining:
                    in_context |= space in r.Backtrack or space in r.LookAhead
    elif fmt == 2:
        first = _glyphs(st.Coverage)
        in_input = space in first
        inputs |= first
        if chaining:
            cds = (st.InputClassDef, st.BacktrackClassDef, st.LookAheadClassDef)
            sets = getattr(st, "ChainSubClassSet", None) or getattr(st, "ChainPosClassSet", None) or []
        else:
            cds = (st.ClassDef, None, None)
            sets = getattr(st, "SubClassSet", None) or getattr(st, "PosClassSet", None) or []
        space_class = [(cd.classDefs.get(space, 0) if cd is not None else 0) for cd in cds]
        for cs in sets:
            rules = (getattr(cs, "ChainSubClassRule", None) or getattr(cs, "ChainPosClassRule", None)
                     or getattr(cs, "SubClassRule", None) or getattr(cs, "PosClassRule", None) or []) if cs else []
            for r in rules:
                seq = r.Input if chaining else r.Class
                in_input |= space_class[0] in seq
                held = _class_glyphs(cds[0], seq)
                inputs = None if inputs is None or held is None else inputs | held
                if chaining:
                    in_context |= space_class[1] in r.Backtrack or space_class[2] in r.LookAhead
    elif fmt == 3:
        covs = list(st.InputCoverage) if chaining else list(st.Coverage)
        for c in covs:
            inputs |= _glyphs(c)
        in_input = space in inputs
        if chaining:
            in_context = any(space in _glyphs(c) for c in [*st.BacktrackCoverage, *st.LookAheadCoverage])
    return in_input, in_context, inputs


def _nonzero(v) -> bool:
    return v is not None and any(getattr(v, a, 0) for a in ("XPlacement", "YPlacement", "XAdvance", "YAdvance",
                                                              "XPlaDevice", "YPlaDevice", "XAdvDevice", "YAdvDevice"))


def _pair_reaches_space(st, space: str) -> bool:
    if space in _glyphs(st.Coverage):
        return True
    if st.Format == 1:
        return any(r.SecondGlyph == space for ps in st.PairSet for r in ps.PairValueRecord)
    c2 = st.ClassDef2.classDefs.get(space, 0)
    return any(_nonzero(rec.Class2Record[c2].Value1) or _nonzero(rec.Class2Record[c2].Value2)
               for rec in st.Class1Record)


def check_font(path: str | Path) -> SpaceCheck:
    """Every way the font's shaping can reach across the space glyph, and what that leaves usable."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), lazy=False)
    fatal = [f"has a '{t}' table" for t in ("kern", "morx", "kerx", "mort") if t in font]
    space = font.getBestCmap().get(0x20)
    if space is None:
        return SpaceCheck(False, findings=["no space glyph"])
    risky: set[str] = set()
    notes: list[str] = []
    for tag in ("GSUB", "GPOS"):
        if tag not in font or font[tag].table.LookupList is None:
            continue
        for li, lookup in enumerate(font[tag].table.LookupList.Lookup):
            for st, kind in _subtables(lookup):
                where = f"{tag} lookup {li} type {kind}"
                if tag == "GSUB" and kind in (2, 3) and space in (st.alternates if kind == 3 else st.mapping):
                    fatal.append(f"{where}: replaces the space by several glyphs or alternates")
                elif tag == "GSUB" and kind == 4 and any(
                        first == space or any(space in lig.Component for lig in ligs)
                        for first, ligs in st.ligatures.items()):
                    fatal.append(f"{where}: a ligature through the space")
                elif tag == "GSUB" and kind == 8 and space in set().union(
                        _glyphs(st.Coverage), *map(_glyphs, st.BacktrackCoverage), *map(_glyphs, st.LookAheadCoverage)):
                    fatal.append(f"{where}: a reverse chaining rule over the space")
                elif (tag, kind) in (("GSUB", 5), ("GSUB", 6), ("GPOS", 7), ("GPOS", 8)):
                    in_input, in_context, inputs = _context(st, space, chaining=kind in (6, 8))
                    if in_input or (in_context and tag == "GSUB") or (in_context and inputs is None):
                        fatal.append(f"{where}: a contextual rule over the space")
                    elif in_context:
                        risky |= inputs
                        notes.append(f"{where}: looks across the space at {len(inputs)} input glyphs (risky)")
                elif tag == "GPOS" and kind == 2 and _pair_reaches_space(st, space):
                    fatal.append(f"{where}: kerns against the space")
    ids = frozenset(font.getGlyphID(g) for g in risky)
    return SpaceCheck(not fatal, ids if not fatal else frozenset(), fatal + notes)


def manifest_entry(res: SpaceCheck) -> dict:
    return {"eligible": res.eligible, "risky_glyphs": sorted(res.risky_glyphs)}


def pinned_or_checked(key: str, sha256: str, path: str, from_entry, check):
    """``from_entry`` of the font's ``key`` verdict in fonts/MANIFEST.json for a pinned font (matched by sha256),
    else ``check(path)``; None when fontTools is not installed (nothing can vouch for an unpinned font)."""
    from ..config import fonts_dir

    entry = next((f.get(key) for f in _pinned(fonts_dir()).values() if f["sha256"] == sha256), None)
    if entry is not None:
        return from_entry(entry)
    try:
        return check(path)
    except ImportError:
        return None


@functools.lru_cache(maxsize=16)
def _checked(sha256: str, path: str) -> SpaceCheck | None:
    return pinned_or_checked("shape_cache", sha256, path,
                             lambda e: SpaceCheck(e["eligible"], frozenset(e["risky_glyphs"])), check_font)


def _pinned(directory: Path) -> dict:
    path = directory / "MANIFEST.json"
    return json.loads(path.read_text())["fonts"] if path.is_file() else {}


def verdict(path: str | Path) -> SpaceCheck | None:
    """The font's verdict: from fonts/MANIFEST.json for a pinned font (matched by sha256), else checked now."""
    from ..config import _font_sha256  # hashed once per process

    return _checked(_font_sha256(str(path)), str(path))


def write_manifest() -> None:
    """Record the pinned fonts' verdicts in fonts/MANIFEST.json: ``shape_cache`` (this check), ``cjk``
    (``cjkcheck``: which CJK characters may be composed one by one) and ``ascii`` (``asciicheck``: which printable
    ASCII words may have their glyph strings written; ``glyphs``: ``glyphcheck``, the same for Latin, Cyrillic
    and Greek, with the pairs the kerning can touch)."""
    from ..config import fonts_dir
    from . import asciicheck, cjkcheck, glyphcheck

    path = fonts_dir() / "MANIFEST.json"
    data = json.loads(path.read_text())
    for name, entry in data["fonts"].items():
        entry["shape_cache"] = manifest_entry(check_font(fonts_dir() / name))
        entry["cjk"] = cjkcheck.manifest_entry(cjkcheck.check_font(fonts_dir() / name))
        entry["ascii"] = asciicheck.manifest_entry(asciicheck.check_font(fonts_dir() / name))
        entry["glyphs"] = glyphcheck.manifest_entry(glyphcheck.check_font(fonts_dir() / name))
    path.write_text(json.dumps(data, indent=2) + "\n")
