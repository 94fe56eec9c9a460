"""Batch by size: elements -> lists of about a given size, cut within a bundle (a pure ``SizeBatcher`` under the
thin ``BatchBySizeFn``). Used for documents before the render step (measured in characters) and for packed samples
before sharding (measured in bytes): fewer, larger elements through Beam's per-element machinery. Which elements
share a list must change nothing written; both users key what they write by the element, not by its list."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

T = TypeVar("T")


class SizeBatcher(Generic[T]):
    """Pure: ``add`` items one by one; a list comes back as soon as its summed ``measure`` reaches ``max_size``
    (so a list is under ``max_size`` without its last item; an item larger than that is a list alone). ``flush``
    returns what is left, or None."""

    def __init__(self, max_size: int, measure: Callable[[T], int]):
        self._max, self._measure = max_size, measure
        self._batch: list[T] = []
        self._size = 0

    def add(self, item: T) -> list[T] | None:
        self._batch.append(item)
        self._size += self._measure(item)
        return self.flush() if self._size >= self._max else None

    def flush(self) -> list[T] | None:
        batch, self._batch, self._size = self._batch, [], 0
        return batch or None


class BatchBySizeFn(beam.DoFn):
    """Elements -> lists of about ``max_size`` by ``measure`` (a module-level function: it is pickled), cut
    within a bundle; the last list of a bundle is emitted when the bundle ends."""

    def __init__(self, max_size: int, measure: Callable[[object], int]):
        self._max, self._measure = max_size, measure

    def start_bundle(self):
        self._batcher = SizeBatcher(self._max, self._measure)

    def process(self, element):
        batch = self._batcher.add(element)
        if batch is not None:
            yield batch

    def finish_bundle(self):
        batch = self._batcher.flush()
        if batch is not None:
            yield GlobalWindows.windowed_value(batch)
