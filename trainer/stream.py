"""Training batches from shard sets, streamed, with a position that a checkpoint can resume from exactly.

Each rank x DataLoader worker is one *slot*. A slot reads its share of the shards (shard ``i`` goes to slot
``i % slots`` after a seeded per-epoch shuffle of the shard list; when there are fewer shards than slots, every
slot reads all shards and keeps every ``slots``-th sample), shuffles through a seeded buffer, mixes several sets
by weight with a seeded draw, then decodes (schemas only) and collates. Everything before decoding is a
deterministic function of (seed, slot, world size, workers), so the position of a slot is one number: how many
raw samples it has passed. Resuming replays the raw stream up to there without decoding it.

DataLoader takes batches from its workers round robin; after ``B`` batches the next one comes from worker
``B % workers``, so a resumed loader renames its workers by that offset and the order continues unchanged.
With another world size or worker count the slots differ: the stream starts afresh from a new seed (the
samples seen are then not exactly those an uninterrupted run would have seen; the trainer warns).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pixelkit.schemas import ShardInfo

from . import tars
from .data import SkipCounter, decode
from .models.base import ConfigError

log = logging.getLogger(__name__)
MAX_SHUFFLE_BYTES = 512 << 20  # raw bytes a shuffle buffer holds (1,000 PIXEL samples are ~20 MB)


@dataclass
class StreamSpec:
    sets: list[list[str]]  # shard URLs per shard set
    weights: list[float]  # mixing weights, one per set
    batch_size: int
    collate: Callable  # variant.collate(samples, model_config, rng) -> dict of tensors
    model_config: Any
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    infinite: bool = True  # pretraining: epochs forever; evaluation: one pass
    shuffle_buffer: int = 1000
    expected: dict[str, ShardInfo] = field(default_factory=dict)  # URL -> its manifest entry (ShardSet.expected)
    max_unusable: int = 10_000  # this many samples of one set in a row that fail to decode stop the run
    strip: tuple[str, int, int] | None = None  # (mode, patch size, patches) of every sample: DataInfo's


class NoUsableData(ConfigError):
    """A shard set that yields no usable sample: the run stops instead of reading it forever."""


@dataclass
class Position:
    """Where a rank's loader stands: batches consumed, raw samples passed per (logical) worker."""

    world_size: int = 1
    num_workers: int = 0
    batches: int = 0
    raw: dict[int, int] = field(default_factory=dict)
    skipped: dict[int, dict[str, int]] = field(default_factory=dict)  # per worker: reason -> count

    def advance(self, meta: dict[str, Any]) -> None:
        self.batches += 1
        self.raw[int(meta["worker"])] = int(meta["raw"])
        self.skipped[int(meta["worker"])] = dict(meta["skipped"])

    def skip_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for per in self.skipped.values():
            for k, v in per.items():
                out[k] = out.get(k, 0) + v
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"world_size": self.world_size, "num_workers": self.num_workers, "batches": self.batches,
                "raw": {str(k): v for k, v in self.raw.items()},
                "skipped": {str(k): v for k, v in self.skipped.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Position":
        return cls(d["world_size"], d["num_workers"], d["batches"], {int(k): v for k, v in d["raw"].items()},
                   {int(k): v for k, v in d.get("skipped", {}).items()})


class BatchStream(IterableDataset):
    def __init__(self, spec: StreamSpec, start: Position | None = None, num_workers: int = 0):
        super().__init__()
        self.spec, self.num_workers = spec, num_workers
        same = start is not None and (start.world_size, start.num_workers) == (spec.world_size, num_workers)
        if start is not None and not same:
            log.warning("resuming with %d rank(s) x %d worker(s) instead of %d x %d: the data stream restarts "
                        "from a new seed, not exactly where it stopped", spec.world_size, num_workers,
                        start.world_size, start.num_workers)
        self.start = start if same else Position(spec.world_size, num_workers)
        self.seed = spec.seed if same or start is None else spec.seed + 1_000_003 * start.batches
        self.offset = self.start.batches % max(num_workers, 1)

    def __iter__(self) -> Iterator[tuple[dict[str, torch.Tensor], dict[str, Any]]]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        worker = (wid + self.offset) % nw
        slots, slot = self.spec.world_size * nw, self.spec.rank * nw + worker
        # counts go on from the checkpoint's; what the replay below re-reads was counted before it was saved
        skips = SkipCounter(self.start.skipped.get(worker))
        start = self.start.raw.get(worker, 0)
        live = [start == 0]  # False while replaying: the reader's problems were counted in the earlier run
        streams = [self._shuffled(self._raw(urls, i, slot, slots, skips, live), i, slot)
                   for i, urls in enumerate(self.spec.sets)]
        stream = streams[0] if len(streams) == 1 else self._mixed(streams, slot)
        passed, buf, order = 0, [], []
        unusable = [0] * len(self.spec.sets)  # samples in a row that failed to decode, per set
        rows = _BatchRows(self.spec.batch_size)
        for raw in stream:
            passed += 1
            if passed <= start:
                live[0] = passed == start
                continue
            sample = decode(raw, skips, lambda nbytes: rows.row(len(buf), nbytes), self.spec.strip)
            k = raw["__set__"]
            if sample is None:
                unusable[k] += 1
                if unusable[k] >= self.spec.max_unusable:
                    raise NoUsableData(self._unusable(k, unusable[k], skips))
                continue
            unusable[k] = 0
            buf.append(sample)
            order.append(raw.get("__order__"))
            if len(buf) == self.spec.batch_size:
                yield self._collate(buf, slot, passed), self._meta(worker, passed, skips, order)
                buf, order = [], []
        if buf:  # a finite stream's last partial batch
            yield self._collate(buf, slot, passed), self._meta(worker, passed, skips, order)

    def _meta(self, worker: int, passed: int, skips: SkipCounter, order: list) -> dict[str, Any]:
        """A batch's meta; a finite stream's also gives each sample's place in the one-rank order ((shard, index in
        the shard) in the set's shard order): evaluation gathers every rank's predictions back into that order."""
        meta = {"worker": worker, "raw": passed, "skipped": dict(skips.counts)}
        if not self.spec.infinite:
            meta["order"] = list(order)
        return meta

    def _unusable(self, k: int, n: int, skips: SkipCounter) -> str:
        urls = self.spec.sets[k]
        return (f"shard set {k + 1} of {len(self.spec.sets)} ({len(urls)} shard(s), e.g. {urls[0]}) gave no usable "
                f"sample in {n} reads; last problem: {skips.last}; skipped so far: {dict(skips.counts)}. "
                "Check it with `pixel-shards verify DIR`, or leave it out.")

    def _collate(self, samples: list, slot: int, passed: int) -> dict[str, torch.Tensor]:
        return self.spec.collate(samples, self.spec.model_config, np.random.default_rng([self.seed, slot, passed]))

    def _raw(self, urls: list[str], set_index: int, slot: int, slots: int, skips: SkipCounter,
             live: list[bool]) -> Iterator[dict]:
        """This slot's raw samples of one set, epoch after epoch. A shard's problems are counted on its first
        read only (by one slot when every slot reads every shard), so a bad member counts once, not per epoch."""
        epoch, counted = 0, set()
        while True:
            order = (np.random.default_rng([self.seed, set_index, epoch]).permutation(len(urls))
                     if self.spec.infinite else np.arange(len(urls)))
            strided = len(urls) < slots
            mine = [int(i) for i in (order if strided else order[slot::slots])]
            seen = 0
            for u in mine:
                url, first = urls[u], u not in counted
                count = first and (not strided or u % slots == slot)
                handler = (lambda e, c=count: skips(e) if c and live[0] else skips.silent(e))
                for i, raw in enumerate(tars.shard_samples(url, handler, self.spec.expected.get(url))):
                    if not strided or i % slots == slot:
                        seen += 1
                        raw["__set__"] = set_index
                        if not self.spec.infinite:
                            raw["__order__"] = (set_index, u, i)
                        if not first:
                            raw["__recount__"] = True
                        yield raw
                counted.add(u)
            if not self.spec.infinite:
                return
            if seen == 0:
                raise NoUsableData(f"shard set {set_index + 1}: slot {slot} read no sample from {len(mine)} "
                                   f"shard(s), e.g. {urls[mine[0]] if mine else urls[0]}; last problem: "
                                   f"{skips.last or 'none (too few samples for the ranks x workers?)'}")
            epoch += 1

    def _shuffled(self, stream: Iterator[dict], set_index: int, slot: int) -> Iterator[dict]:
        """A seeded shuffle buffer of ``shuffle_buffer`` raw samples and at most ``MAX_SHUFFLE_BYTES`` (members
        may be up to 64 MiB each: a buffer of such samples gives some back early, at random, instead of growing)."""
        size = self.spec.shuffle_buffer if self.spec.infinite else 0
        if size <= 1:
            yield from stream
            return
        rng = np.random.default_rng([self.seed, set_index, slot, 7])
        buf: list[dict] = []
        sizes: list[int] = []  # each held sample's bytes, counted once on the way in
        held = 0
        for item in stream:
            n = _nbytes(item)
            held += n
            if len(buf) < size:
                buf.append(item)
                sizes.append(n)
            else:
                j = int(rng.integers(size))
                buf[j], item = item, buf[j]
                held -= sizes[j]
                sizes[j] = n
                yield item
            while held > MAX_SHUFFLE_BYTES and len(buf) > 1:
                j = int(rng.integers(len(buf)))
                buf[j], buf[-1] = buf[-1], buf[j]
                sizes[j], sizes[-1] = sizes[-1], sizes[j]
                held -= sizes.pop()
                yield buf.pop()
        rng.shuffle(buf)
        yield from buf

    def _mixed(self, streams: list[Iterator[dict]], slot: int) -> Iterator[dict]:
        rng = np.random.default_rng([self.seed, slot, 11])
        live = list(range(len(streams)))
        weights = np.asarray(self.spec.weights, dtype=np.float64)
        while live:
            p = weights[live] / weights[live].sum()
            k = live[int(rng.choice(len(live), p=p))]
            item = next(streams[k], None)
            if item is None:
                live.remove(k)
                continue
            yield item


def _nbytes(raw: dict) -> int:
    return sum([len(v) for v in raw.values() if type(v) is bytes])


class _BatchRows:
    """One fresh array per batch, a row per sample: each strip is decoded straight into its row, so the strips of
    a full batch are the rows of one array in order, and ``batch_patches`` hands that array on as the batch
    instead of copying every strip out of a reused buffer (the copy was ~10% of a classification sample's
    loading time). Each batch owns its array; the allocator reuses the memory of batches already freed."""

    def __init__(self, rows: int) -> None:
        self.rows, self.batch = rows, np.empty((0, 0), dtype=np.uint8)

    def row(self, i: int, nbytes: int) -> np.ndarray:
        if i == 0 or self.batch.shape[1] != nbytes:  # a new batch (or a strip of another size: its own array)
            self.batch = np.empty((self.rows, nbytes), dtype=np.uint8)
        return self.batch[i]


def make_loader(spec: StreamSpec, start: Position | None = None, num_workers: int = 0) -> DataLoader:
    """A DataLoader of (batch, meta) pairs; feed each meta to ``Position.advance`` once its batch is used."""
    ds = BatchStream(spec, start, num_workers)
    return DataLoader(ds, batch_size=None, num_workers=num_workers,
                      prefetch_factor=4 if num_workers else None, persistent_workers=False)
