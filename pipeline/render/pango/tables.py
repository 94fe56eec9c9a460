"""The shaping cache's growable tables (numpy arrays the compiled kernels read and write in place)."""

from __future__ import annotations

import numpy as np


def touched(shape, dtype) -> np.ndarray:
    """``np.zeros(shape, dtype)`` with every page written now. numpy asks the kernel for huge pages for arrays of
    4 MB and more (madvise), and np.zeros leaves pages to be faulted in at first write: a 2 MB page zeroed (and
    memory compacted when fragmented) in the middle of a strip the cache composes -- 0.25-7 ms on one strip of a
    first pass (a word table's pool, the word masks' atlas) on the benchmark machine. Written here, that happens
    when the renderer is built."""
    a = np.empty(shape, dtype)
    a.fill(0)
    return a


def _grown(a: np.ndarray, used: int, more: int) -> np.ndarray:
    """``a`` with room for ``more`` rows past its first ``used`` (doubling; the used rows kept)."""
    if used + more <= len(a):
        return a
    grown = touched((max(used + more, 2 * len(a)), *a.shape[1:]), a.dtype)
    grown[:used] = a[:used]
    return grown


class Rows:
    """A growable int32 table (rows appended, never removed until reset)."""

    def __init__(self, cols: int, cap: int = 4096):
        self.a = touched((cap, cols), np.int32)
        self.n = 0

    def reserve(self, rows: int) -> None:
        self.a = _grown(self.a, self.n, rows)

    def extend(self, rows: np.ndarray) -> int:
        self.reserve(len(rows))
        start = self.n
        self.a[start:start + len(rows)] = rows
        self.n += len(rows)
        return start


class Atlas:
    """Masks: a rows table [offset, height, width, left, top] over one growing byte buffer."""

    def __init__(self, cap: int):
        self.rows = Rows(5)
        self.data = touched(cap, np.uint8)
        self.n = 0

    def reserve(self, nbytes: int) -> None:
        self.data = _grown(self.data, self.n, nbytes)

    def add(self, crop: np.ndarray, left: int, top: int) -> int:
        flat = np.ascontiguousarray(crop).reshape(-1)
        self.reserve(len(flat))
        self.data[self.n:self.n + len(flat)] = flat
        idx = self.rows.extend(np.array([[self.n, crop.shape[0], crop.shape[1], left, top]], np.int32))
        self.n += len(flat)
        return idx
