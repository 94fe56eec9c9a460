"""The shaping cache's CJK glyph path: a new proven Han/kana character's (or Hangul word's) glyph record written,
not shaped.

``cjkcheck.py`` proves per font which CJK characters no lookup ties to a neighbour; their glyphs may still be
changed by a context-free substitution ('locl': GoNoto gives 7,357 Han characters other glyphs under some of its
JAN, KOR, ZHH, ZHS and ZHT language systems) or moved by a single adjustment. This module narrows the proof to the language
system HarfBuzz will use for a class (font, script, language) and writes what HarfBuzz would make of such a
character alone -- so a first pass no longer needs a Pango batch for its new Han characters.

Which language system. The renderer sets no language: Pango's item language is the context's (the process locale,
``pango_language_get_default``) when it includes the script, else ``pango_script_get_sample_language`` (Han has
none: ``PANGO_LANGUAGE``/``LANGUAGE`` may name one, else "xx"; kana gives "ja"; pango-language.c, itemize.c
``compute_derived_language``) -- so it depends on the environment, and is read per class from the item Pango made
(``Shaped.language``). Pango hands HarfBuzz ``hb_language_from_string(pango_language_to_string(language))`` and
the ISO 15924 tag of the item's script (shape.c); HarfBuzz's map builder (hb-ot-map.cc) turns them into OpenType
tags (``hb_ot_tags_from_script_and_language``) and picks, per table, a script (``hb_ot_layout_table_select_script``)
and a language system (``hb_ot_layout_script_select_language``). ``_LangSys`` makes the same calls on the font's
own ``hb_face_t`` and collects every glyph any lookup of that language system's default features
(``cjkcheck.DEFAULT_FEATURES``, 'trak' included, and its required feature) can read (``hb_ot_layout_lookup_
collect_glyphs``: input, backtrack and lookahead) -- a superset of what the shaper applies. Those sets leave out
class 0 of class-based rules ("any other glyph"); a font where a default-feature lookup matches class 0 is refused by
``cjkcheck`` (no proven characters), and the path exists only for a font it passes.

Then, for a proven character whose cmap glyph (HarfBuzz's ``hb_font_get_nominal_glyph`` on Pango's own
``hb_font_t``) no such lookup reads and whose GDEF class is not mark: HarfBuzz keeps the glyph (normalization keeps
a character the font has, hb-ot-shape-normalize.cc ``decompose_current_character``), positions it at the font's
advance (``hb_font_get_glyph_h_advance``: for a font without variations the hmtx advance scaled) with no offsets,
and Pango rounds that advance to whole pixels (shape.c: ``PANGO_UNITS_ROUND``, or ``HINT_X`` with the font's
scale factors when hinted -- either way a function of the advance for one font). So a class learns Pango's width
per distinct HarfBuzz advance from glyph strings Pango shaped (``learn``), and ``write`` makes the glyph string of
new characters whose advance it has seen: glyph, width, no offsets, a cluster start; ``is_color`` is 0 because a
font with colour glyphs (COLR, CBDT/sbix) is refused, as are fonts with variations or AAT tables. A glyph Pango
gave otherwise than the table, or two widths for one advance, turns the path off for the class.

Hangul words (``HangulWords``, on the word path: a strip of Hangul words split at spaces). HarfBuzz's Hangul shaper
(hb-ot-shaper-hangul.cc, 6.0.0 ``preprocess_text_hangul``) leaves a precomposed syllable (U+AC00-D7A3) alone when
the font has its glyph and no trailing jamo (``isT``) follows it -- it composes <LV,T> or decomposes only then, and
moves a tone mark (U+302E/F) only after a valid syllable -- and sets the ljmo/vjmo/tjmo masks only on jamo it
composed or decomposed (``setup_masks_hangul``: the feature of an untouched glyph is none), with normalization,
mark zeroing and fallback positioning off. So a word of syllables, ASCII digits and punctuation (no script of their
own: in a strip of Hangul words they are in the Hangul run, as in Pango's batch behind the class's anchor) is, when
no lookup of the class's language system reads any of its glyphs (``touched_glyphs``; GoNoto: none of its 11,172
syllables under 'hang'), each character's cmap glyph at its advance: written as the Han characters are, at the
widths the class learned from Pango's Hangul batches. Words holding anything else (jamo, tone marks, Latin letters)
are shaped by Pango as before; ``scriptgate`` sends strips with conjoining jamo or tone marks to Pango anyway.

``tests/test_render_cjkglyph.py`` compares written glyph strings with Pango's on the UDHR's Chinese, Japanese and
Korean and composed strips with Pango's pixels, and shows broken tables fail. The write itself is one compiled pass
(``cjkwrite.py``: 0.13-0.20 ms a Hangul batch, look-ups included). Opt-in (``PIXELKIT_CJK_GLYPHS=1``): a first pass
with it measured no faster than with the Pango batch it replaces (what is left is the glyphs' cutting and drawing,
which both pay, and a class's first strip; render_multi.md, section cjkglyph).
"""

from __future__ import annotations

import ctypes.util
import re
import threading

import numba
import numpy as np
from cffi import FFI

from . import cjkwrite
from . import pango_abi as pa
from .cjkcheck import DEFAULT_FEATURES

ffi = FFI()
ffi.cdef(
    """
    void *pango_font_get_hb_font(void *font);
    const char *pango_language_to_string(void *language);
    uint32_t g_unicode_script_to_iso15924(int script);
    void *hb_font_get_face(void *font);
    void *hb_language_from_string(const char *str, int len);
    unsigned int hb_font_get_nominal_glyphs(void *font, unsigned int count, const uint32_t *first_unicode,
        unsigned int unicode_stride, uint32_t *first_glyph, unsigned int glyph_stride);
    void hb_font_get_glyph_h_advances(void *font, unsigned int count, const uint32_t *first_glyph,
        unsigned int glyph_stride, int32_t *first_advance, unsigned int advance_stride);
    void hb_ot_tags_from_script_and_language(uint32_t script, void *language, unsigned int *script_count,
        uint32_t *script_tags, unsigned int *language_count, uint32_t *language_tags);
    int hb_ot_layout_table_select_script(void *face, uint32_t table_tag, unsigned int script_count,
        const uint32_t *script_tags, unsigned int *script_index, uint32_t *chosen_script);
    int hb_ot_layout_script_select_language(void *face, uint32_t table_tag, unsigned int script_index,
        unsigned int language_count, const uint32_t *language_tags, unsigned int *language_index);
    int hb_ot_layout_language_get_required_feature(void *face, uint32_t table_tag, unsigned int script_index,
        unsigned int language_index, unsigned int *feature_index, uint32_t *feature_tag);
    unsigned int hb_ot_layout_language_get_feature_indexes(void *face, uint32_t table_tag, unsigned int script_index,
        unsigned int language_index, unsigned int start_offset, unsigned int *feature_count,
        unsigned int *feature_indexes);
    unsigned int hb_ot_layout_table_get_feature_tags(void *face, uint32_t table_tag, unsigned int start_offset,
        unsigned int *feature_count, uint32_t *feature_tags);
    unsigned int hb_ot_layout_feature_get_lookups(void *face, uint32_t table_tag, unsigned int feature_index,
        unsigned int start_offset, unsigned int *lookup_count, unsigned int *lookup_indexes);
    void hb_ot_layout_lookup_collect_glyphs(void *face, uint32_t table_tag, unsigned int lookup_index,
        void *glyphs_before, void *glyphs_input, void *glyphs_after, void *glyphs_output);
    unsigned int hb_ot_layout_get_glyphs_in_class(void *face, int klass, void *glyphs);
    int hb_ot_color_has_layers(void *face);
    int hb_ot_color_has_png(void *face);
    int hb_ot_var_has_data(void *face);
    int hb_aat_layout_has_substitution(void *face);
    int hb_aat_layout_has_positioning(void *face);
    int hb_aat_layout_has_tracking(void *face);
    void *hb_set_create(void);
    void hb_set_destroy(void *set);
    unsigned int hb_set_next_many(const void *set, uint32_t codepoint, uint32_t *out, unsigned int size);
    """
)


def _load(name: str):
    path = ctypes.util.find_library(name)
    if not path:
        raise OSError(f"could not load {name}")
    return ffi.dlopen(path)


hb = _load("harfbuzz")
_pango = _load("pango-1.0")
_glib = _load("glib-2.0")


def _tag(s: str) -> int:
    return int.from_bytes(s.encode("ascii"), "big")


_TABLES = (_tag("GSUB"), _tag("GPOS"))
_FEATURES = frozenset(map(_tag, DEFAULT_FEATURES))
_NONE = 0xFFFF  # HB_OT_LAYOUT_NO_FEATURE_INDEX / HB_OT_LAYOUT_DEFAULT_LANGUAGE_INDEX
_MARK = 3  # HB_OT_LAYOUT_GLYPH_CLASS_MARK


def _set_items(s) -> np.ndarray:
    out, buf, start = [], _bufs()["set"], 0xFFFFFFFF  # (HB_SET_VALUE_INVALID: from the first)
    while True:
        n = hb.hb_set_next_many(s, start, buf, 4096)
        if not n:
            break
        got = np.frombuffer(ffi.buffer(buf, 4 * n), np.uint32).copy()
        out.append(got)
        start = int(got[-1])
    return np.concatenate(out) if out else np.zeros(0, np.uint32)


def _bufs() -> dict:
    """The calls' out-parameters, made once a thread (~40 ``ffi.new`` a class were a third of its queries' cost;
    cffi lets go of the GIL in a call, so threads do not share them)."""
    b = getattr(_LOCAL, "b", None)
    if b is None:
        new = ffi.new
        b = _LOCAL.b = {"set": new("uint32_t[4096]"), "sc": new("unsigned int *"), "lc": new("unsigned int *"),
                        "st": new("uint32_t[3]"), "lt": new("uint32_t[3]"), "si": new("unsigned int *"),
                        "chosen": new("uint32_t *"), "li": new("unsigned int *"), "count": new("unsigned int *"),
                        "idx": new("unsigned int[4096]"), "req": new("unsigned int *"), "req_tag": new("uint32_t *"),
                        "tcount": new("unsigned int *"), "tags": new("uint32_t[8192]")}
    return b


_LOCAL = threading.local()


def touched_glyphs(hb_font, script: int, language: int) -> np.ndarray | None:
    """Every glyph a lookup of the default features of the language system HarfBuzz picks for (PangoScript
    ``script``, PangoLanguage address ``language``) can read, in GSUB or GPOS, and every mark glyph (sorted glyph
    ids); None when the face is one this path refuses (variations, AAT tables, colour glyphs)."""
    face = hb.hb_font_get_face(hb_font)
    if (hb.hb_ot_var_has_data(face) or hb.hb_aat_layout_has_substitution(face) or hb.hb_aat_layout_has_positioning(face)
            or hb.hb_aat_layout_has_tracking(face) or hb.hb_ot_color_has_layers(face) or hb.hb_ot_color_has_png(face)):
        return None
    lang_s = _pango.pango_language_to_string(ffi.cast("void *", language))
    hb_lang = hb.hb_language_from_string(lang_s, -1)
    hb_script = _glib.g_unicode_script_to_iso15924(script)
    B = _bufs()
    sc, lc, st, lt = B["sc"], B["lc"], B["st"], B["lt"]
    sc[0] = lc[0] = 3  # (HB_OT_MAX_TAGS_PER_SCRIPT/LANGUAGE)
    hb.hb_ot_tags_from_script_and_language(hb_script, hb_lang, sc, st, lc, lt)
    si, li, count, idx, req, tcount, tags = B["si"], B["li"], B["count"], B["idx"], B["req"], B["tcount"], B["tags"]
    glyphs = hb.hb_set_create()
    try:
        for table in _TABLES:
            hb.hb_ot_layout_table_select_script(face, table, sc[0], st, si, B["chosen"])
            hb.hb_ot_layout_script_select_language(face, table, si[0], lc[0], lt, li)
            count[0] = 4096
            hb.hb_ot_layout_language_get_feature_indexes(face, table, si[0], li[0], 0, count, idx)
            features = list(idx[0:count[0]])
            req[0] = _NONE
            if hb.hb_ot_layout_language_get_required_feature(face, table, si[0], li[0], req, B["req_tag"]):
                features.append(req[0])
            tcount[0] = 8192
            hb.hb_ot_layout_table_get_feature_tags(face, table, 0, tcount, tags)
            lookups: set[int] = set()
            for fi in features:
                if fi != _NONE and (tags[fi] in _FEATURES or req[0] == fi):
                    count[0] = 4096
                    hb.hb_ot_layout_feature_get_lookups(face, table, fi, 0, count, idx)
                    lookups.update(idx[0:count[0]])
            for lk in sorted(lookups):  # (collect_glyphs follows the lookups a contextual rule calls)
                hb.hb_ot_layout_lookup_collect_glyphs(face, table, lk, glyphs, glyphs, glyphs, ffi.NULL)
        hb.hb_ot_layout_get_glyphs_in_class(face, _MARK, glyphs)  # (adds the marks to the set)
        return _set_items(glyphs)
    finally:
        hb.hb_set_destroy(glyphs)


_UNSEEN, _ADVANCES = -2, 64
_WARM: list[bool] = []  # (a code point not looked up yet; distinct advances a class learns widths for)


class _Tables:
    """One class's tables: per code point its glyph (-1: not writable, ``_UNSEEN``: not looked up yet) and advance
    index, per advance index Pango's width (-1: not seen yet); the glyphs its language system's lookups read."""

    def __init__(self, hb_font, touched: np.ndarray):
        self.hb_font = hb_font
        self.touched = np.zeros(1 << 16, np.bool_)
        self.touched[touched[touched < 1 << 16]] = True
        self.glyph = np.full(1 << 16, _UNSEEN, np.int32)  # (small types: a class's first strip fills these)
        self.aidx = np.full(1 << 16, -1, np.int8)
        self.widths = np.full(_ADVANCES, -1, np.int64)
        self.advs: dict[int, int] = {}


class CjkGlyphs:
    """Per class: the glyph and HarfBuzz advance of each writable character (looked up the first time it is met),
    and Pango's width per advance learned. ``proven``: the renderer's per-BMP-code-point array
    (``cjk.CjkWords._cjk_proven``); besides those, the characters of ``_HANGUL_WORD`` may be written."""

    def __init__(self, proven: np.ndarray):
        self.allowed = proven.astype(np.bool_)
        self.allowed[_HANGUL_WORD] = True
        cjkwrite.warm()  # (the kernels loaded now, not on a first strip: ~3 ms each)
        if not _WARM:
            for raw in (np.zeros(1, np.uint8), np.frombuffer(b" ", np.uint8)):  # (batch bytes: ours, Pango's)
                _learn(np.zeros((1, 5), np.int32), np.zeros(1, np.int32), 1, raw, np.full(1 << 16, -1, np.int32),
                       np.zeros(1 << 16, np.int8), np.full(1, -1, np.int64), np.zeros(1, np.int64))
            _WARM.append(True)
        self._cls: dict[int, _Tables | None] = {}
        self.off: set[int] = set()
        self.stats = {"written": 0, "chars": 0, "learned": 0}

    def tables(self, cls: int, key: tuple[int, int, int]) -> _Tables | None:
        """The class's tables (made on first use), None when the font is refused."""
        if cls in self._cls:
            return self._cls[cls]
        font, script, language = key
        hb_font = _pango.pango_font_get_hb_font(ffi.cast("void *", font))
        touched = touched_glyphs(hb_font, script, language) if hb_font != ffi.NULL else None
        self._cls[cls] = _Tables(hb_font, touched) if touched is not None else None
        return self._cls[cls]

    def _look_up(self, t: _Tables, codes: np.ndarray) -> None:
        """Enter the code points ``codes`` (not looked up yet, distinct) in the tables: HarfBuzz's cmap glyph and
        advance on Pango's own ``hb_font_t``; writable when allowed, in the font and read by no lookup."""
        cps = codes.astype(np.uint32)
        g, i = np.zeros(len(cps), np.uint32), 0
        while i < len(cps):  # (the array call stops at the first character the font lacks: on after it, glyph 0)
            i += 1 + hb.hb_font_get_nominal_glyphs(t.hb_font, len(cps) - i, ffi.from_buffer("uint32_t[]", cps[i:]),
                                                   4, ffi.from_buffer("uint32_t[]", g[i:]), 4)
        adv = np.zeros(len(cps), np.int32)
        hb.hb_font_get_glyph_h_advances(t.hb_font, len(cps), ffi.from_buffer("uint32_t[]", g), 4,
                                        ffi.from_buffer("int32_t[]", adv), 4)
        ok = (g > 0) & self.allowed[codes] & ~t.touched[np.minimum(g, (1 << 16) - 1)] & (g < 1 << 16)
        for a in set(adv.tolist()):  # (a few distinct advances)
            j = t.advs.get(a)
            if j is None and len(t.advs) < _ADVANCES:
                j = t.advs[a] = len(t.advs)
            at = adv == a
            if j is None:
                ok &= ~at
            else:
                t.aidx[codes[at]] = j
        t.glyph[codes] = np.where(ok, g.astype(np.int64), -1)

    def glyphs(self, cls: int, key, codes: np.ndarray) -> np.ndarray | None:
        """The glyph the tables give each code point of ``codes`` (-1: not writable); None: the font is refused."""
        t = self.tables(cls, key)
        if t is None:
            return None
        new = codes[t.glyph[codes] == _UNSEEN]  # (repeats are harmless: no np.unique, ~0.7 ms a call on numpy 2.3)
        if len(new):
            self._look_up(t, new)
        return t.glyph[codes]

    def learn(self, cls: int, key, item: pa.Shaped, raw: np.ndarray) -> None:
        """Note Pango's width per advance from a left-to-right item Pango shaped in class ``cls`` (batch bytes
        ``raw``): each glyph that is one writable character's whole cluster. A glyph other than the table's, an
        offset, or a second width for an advance turns the class off."""
        if cls in self.off:
            return
        t = self.tables(cls, key)
        if t is None:
            return
        unseen, end = np.empty(len(item.glyphs), np.int64), item.offset + item.length
        bad, n = _learn(item.glyphs, item.clusters, end, raw, t.glyph, t.aidx, t.widths, unseen)
        if n < 0:  # characters not looked up yet: look them up, then learn
            self._look_up(t, unseen[:-n])
            bad, n = _learn(item.glyphs, item.clusters, end, raw, t.glyph, t.aidx, t.widths, unseen)
        self.stats["learned"] += max(n, 0)
        if bad:
            self.off.add(cls)

    def write_words(self, cls: int, key, cps: np.ndarray, ok: np.ndarray, space_glyph: int, space_px: int
                    ) -> tuple[np.ndarray, bytes, pa.Shaped] | None:
        """The words of ``cps`` (code points: words, each followed by a space) that can be written now in class
        ``cls`` (each character allowed by ``ok`` and writable), in one compiled pass (``cjkwrite.write``): per word
        whether it is written, and the written words' UTF-8 bytes and the glyph string Pango would make of them;
        None when no word can be written."""
        if cls in self.off or (t := self.tables(cls, key)) is None:
            return None
        n = len(cps)
        keep, out, clusters = np.zeros(n, np.bool_), np.empty((n, 5), np.int32), np.empty(n, np.int32)
        raw, unseen = np.empty(3 * n, np.uint8), np.empty(n, np.int64)
        args = (cps, ok, t.glyph, t.aidx, t.widths, space_glyph, space_px * pa.SCALE, keep, out, clusters, raw, unseen)
        k, b, kept = cjkwrite.write(*args)
        if kept < 0:  # characters not looked up yet: look them up, then write
            self._look_up(t, unseen[:-kept])
            k, b, kept = cjkwrite.write(*args)
        if not kept:
            return None
        self.stats["written"] += 1
        self.stats["chars"] += k - kept
        return keep, raw[:b].tobytes(), pa.Shaped(out[:k], clusters[:k], 0, b, key[0], key[1], 0, key[2])


HANGUL = 18  # GUnicodeScript
# what a written Hangul word may hold: precomposed syllables, ASCII digits and punctuation (no script of their own: in
# a strip of Hangul words they take the Hangul run's script, as behind the class's anchor in Pango's batch)
_HANGUL_WORD = np.array([*range(0x21, 0x41), *range(0x5B, 0x61), *range(0x7B, 0x7F), *range(0xAC00, 0xD7A4)])
_SYLLABLES = re.compile("[!-@\\[-`{-~\uac00-\ud7a3]+")
HANGUL_OK = np.zeros(1 << 16, np.bool_)
HANGUL_OK[_HANGUL_WORD] = True


class HangulWords:
    """``_write_hangul``, a mixin of ``ShapeCache`` (its ``_fill`` calls it for a batch of a known class): new words of
    precomposed Hangul syllables only, written as the Hangul shaper leaves them (see the module doc)."""

    def _write_hangul(self, missing: list[str], cls: int) -> list[str]:
        """Cache the words of ``missing`` whose glyph string can be written in the Hangul class ``cls``; the rest,
        to be shaped by Pango."""
        g = self._cjk_glyphs
        key = self._cls_key[cls]
        if key[1] != HANGUL or g is None:
            return missing
        cps = np.frombuffer((" ".join(missing) + " ").encode("utf-32-le"), np.uint32).astype(np.int64)
        got = g.write_words(cls, key, cps, HANGUL_OK, self._cls_space_glyph[cls], self._cls_space[cls])
        if got is None:
            return missing
        keep, data, item = got
        keep = keep[:len(missing)].tolist()
        self._harvest([w for w, k in zip(missing, keep) if k], np.zeros(0, np.int8), 0, cls, data=(data, [item]))
        return [w for w, k in zip(missing, keep) if not k]

    def _learn_hangul(self, item: pa.Shaped, raw: np.ndarray) -> None:
        """Teach the glyph path Pango's widths from a Hangul item Pango shaped."""
        key = (item.font, item.script, item.language)
        c = self._class_of.get(key)
        if c is not None and self._cjk_glyphs is not None:
            self._cjk_glyphs.learn(c, key, item, raw)


@numba.njit(cache=True, nogil=True)
def _cp_at(glyphs, clusters, end, raw, k):
    """The code point glyph k is the whole cluster of (one glyph, one BMP character of 1 or 3 UTF-8 bytes), or -1."""
    n, a = glyphs.shape[0], clusters[k]
    b = clusters[k + 1] if k + 1 < n else end
    if k > 0 and clusters[k - 1] == a:
        return -1
    if b - a == 1 and raw[a] < 0x80:
        return np.int64(raw[a])
    if b - a == 3 and 0xE0 <= raw[a] < 0xF0:
        return ((np.int64(raw[a]) & 0x0F) << 12) | ((raw[a + 1] & 0x3F) << 6) | (raw[a + 2] & 0x3F)
    return -1


@numba.njit(cache=True, nogil=True)
def _learn(glyphs, clusters, end, raw, glyph, aidx, widths, unseen):
    """(1 on a contradiction, glyphs learned); (0, -m) when m characters are not looked up yet (in ``unseen[:m]``):
    nothing is learned then."""
    m, got = 0, 0
    for k in range(glyphs.shape[0]):
        cp = _cp_at(glyphs, clusters, end, raw, k)
        if cp >= 0 and glyph[cp] == -2:
            unseen[m] = cp
            m += 1
    if m:
        return 0, -m
    for k in range(glyphs.shape[0]):
        cp = _cp_at(glyphs, clusters, end, raw, k)
        if cp < 0 or glyph[cp] < 0:
            continue
        if glyphs[k, 0] != glyph[cp] or glyphs[k, 2] != 0 or glyphs[k, 3] != 0 or (glyphs[k, 4] & 3) != 1:
            return 1, got
        j = aidx[cp]
        if widths[j] >= 0 and widths[j] != glyphs[k, 1]:
            return 1, got
        widths[j] = glyphs[k, 1]
        got += 1
    return 0, got
