"""A compiled copy of the shaping cache's word ids, so that a strip whose words are all known is looked up in one
kernel over its UTF-8 bytes (numba, cached on disk).

Splitting a full strip at its spaces (~200 words) and looking each word up in a Python dict was a fifth of a
composed strip's time (``str.split`` makes ~200 new strings whose hashes are then computed). ``WordTable`` keeps the
words of strips the cache has already looked up word by word -- their bytes in one pool, an open-addressing table
of FNV-1a hashes -- and ``ids`` splits the strip's bytes at 0x20 (in UTF-8 the only byte of U+0020, so the words
are those of ``text.split(" ")``) and finds each one there. It is a copy, never the truth: ``ShapeCache`` adds a
strip's words only with the ids its own dict gave them (a word's id, once given, changes only when the cache
starts over, which clears this table too), and a strip holding a word the table lacks goes the dict's way. A full
table clears itself and fills again.
"""

from __future__ import annotations

import numba
import numpy as np

from .tables import touched

_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
_SPACE = 0x20
_NONE_KNOWN = np.zeros(0, np.int32)


@numba.njit(cache=True, nogil=True, inline="always")
def _hash(data, a, b):
    h = _FNV_OFFSET
    for i in range(a, b):
        h = (h ^ np.uint64(data[i])) * _FNV_PRIME
    return h


@numba.njit(cache=True, nogil=True, inline="always")
def _find(data, a, b, h, recs, pool):
    """The slot of word data[a:b] (hash ``h``), or the empty slot where it would go (recs[slot, 1] < 0). A slot
    is one record of two int64 -- the hash, and offset | length << 24 | id << 40 -- so a probe reads one place."""
    mask = recs.shape[0] - 1
    s = np.int64(h & np.uint64(mask))
    n = b - a
    hi = np.int64(h)
    while True:
        packed = recs[s, 1]
        if packed < 0:
            return s
        if recs[s, 0] == hi and (packed >> 24) & 0xFFFF == n:
            o = packed & 0xFFFFFF
            same = True
            for i in range(n):
                if pool[o + i] != data[a + i]:
                    same = False
                    break
            if same:
                return s
        s = (s + 1) & mask


@numba.njit(cache=True, nogil=True)
def lookup_ids(data, recs, pool):
    """(ids, missing): the ids of the words of ``data`` (split at every 0x20), -1 for a word not in the table,
    and how many those are."""
    n = 1
    for i in range(data.shape[0]):
        if data[i] == _SPACE:
            n += 1
    out = np.empty(n, np.int32)
    a, k, missing = 0, 0, 0
    for i in range(data.shape[0] + 1):
        if i == data.shape[0] or data[i] == _SPACE:
            packed = recs[_find(data, a, i, _hash(data, a, i), recs, pool), 1]
            if packed < 0:
                out[k] = -1
                missing += 1
            else:
                out[k] = packed >> 40
            k += 1
            a = i + 1
    return out, missing


@numba.njit(cache=True, nogil=True)
def add_ids(data, ids, known, recs, pool, used):
    """Add the words of ``data`` with ``ids`` (one per word) but those ``known`` (the table's ids a moment ago, -1
    where it missed; empty: none known); ``used`` = [pool bytes, entries]. 1: done; 0: the
    table (kept at most half full) has no room, nothing more added; -1: the pool has none (a word over 64 KB or
    an id over 2**23 is not added)."""
    a, k = 0, 0
    for i in range(data.shape[0] + 1):
        if (i == data.shape[0] or data[i] == _SPACE) and known.shape[0] and known[k] >= 0:
            k += 1
            a = i + 1
        elif i == data.shape[0] or data[i] == _SPACE:
            h = _hash(data, a, i)
            s = _find(data, a, i, h, recs, pool)
            n = i - a
            if recs[s, 1] < 0 and n < 0x10000 and 0 <= ids[k] < 0x800000:
                if used[0] + n > pool.shape[0]:
                    return -1
                if 2 * (used[1] + 1) > recs.shape[0]:
                    return 0
                o = used[0]
                for j in range(n):
                    pool[o + j] = data[a + j]
                recs[s, 0], recs[s, 1] = np.int64(h), o | (n << 24) | (np.int64(ids[k]) << 40)
                used[0] += n
                used[1] += 1
            k += 1
            a = i + 1
    return 1


@numba.njit(cache=True, nogil=True)
def _rehash(old, new, pool):
    """Move every record of ``old`` into the empty, larger ``new``."""
    for s in range(old.shape[0]):
        if old[s, 1] >= 0:
            o, n = old[s, 1] & 0xFFFFFF, (old[s, 1] >> 24) & 0xFFFF
            t = _find(pool, o, o + n, np.uint64(old[s, 0]), new, pool)
            new[t, 0], new[t, 1] = old[s, 0], old[s, 1]


class WordTable:
    """Word -> id for the words of strips already looked up (see the module's docstring). It starts small (the
    records of a small vocabulary lie close together) and doubles up to ``max_slots``."""

    def __init__(self, slots: int = 1 << 16, max_slots: int = 1 << 18, pool_bytes: int = 1 << 22):
        self._slots, self._max_slots = slots, max_slots
        self._recs = np.full((slots, 2), -1, np.int64)
        self._pool = touched(pool_bytes, np.uint8)  # (offsets are 24-bit: at most 16 MB; touched: tables.py)
        self._used = np.zeros(2, np.int64)

    def clear(self) -> None:
        if self._used[1]:
            self._recs = np.full((self._slots, 2), -1, np.int64)
            self._used[:] = 0

    def ids(self, data: np.ndarray) -> tuple[np.ndarray, int]:
        """The word ids of a strip's UTF-8 bytes (uint8), -1 where a word is not in the table; how many those are."""
        return lookup_ids(data, self._recs, self._pool)

    def add(self, data: np.ndarray, ids: np.ndarray, known: np.ndarray = _NONE_KNOWN) -> None:
        """Add a strip's words with their ids (int32, one per word of ``text.split(" ")``); ``known``: what ``ids``
        gave for the strip (the words it found are skipped) -- only if the table was not cleared since."""
        while True:
            done = add_ids(data, ids, known, self._recs, self._pool, self._used)
            if done == 1:
                return
            known = _NONE_KNOWN  # (growing keeps every word; clearing drops them all)
            if done == 0 and len(self._recs) < self._max_slots:  # half full: double it
                recs = np.full((2 * len(self._recs), 2), -1, np.int64)
                _rehash(self._recs, recs, self._pool)
                self._recs = recs
                continue
            self.clear()  # full: start over (only a copy)
            return
