"""The glyph path's compiled kernels (``glyphshape.py``): UTF-8 text cut into units (characters, ligatures as
HarfBuzz applies a ligature lookup), tables learned from Pango's glyph strings, glyph strings written from them."""

from __future__ import annotations

import numba
import numpy as np

NCP = 0x2200  # code points below this can be units (the checked candidates all are)

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
