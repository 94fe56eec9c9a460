"""Deterministic sharding: shard = hash(key) % n, samples sorted by key inside a shard, one atomic tar each.

Beam's own file sharding depends on bundling, so it is not used: the shard a sample lands in and its place
inside the shard are functions of its key alone, which makes reruns byte-identical and lets ``--resume``
recognise finished shards.

A sample is packed where it was rendered: its key and tar members (``Packed``: strings and bytes, which Beam's
fast primitive coder moves without pickling, in the runner too), in lists of up to ``PACK_BYTES`` per bundle,
so the count, the shard assignment and the group by shard each see one element per list, not per sample.
Which samples share a list changes nothing written (a shard's samples are sorted by key before writing).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsSingleton

from pixelkit.schemas import RenderedSample, ShardInfo, shard_name

from . import storage
from .batching import BatchBySizeFn
from .shards import same_shard, write_members
from .storage import is_local  # noqa: F401  (callers import it from here)

log = logging.getLogger(__name__)
NS = "pipeline.sink"


def num_shards(count: int, per_shard: int) -> int:
    return max(1, math.ceil(count / per_shard))


def shard_of(key: str, n: int) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) % n


Packed = tuple[str, bytes, bytes, str, bytes]  # key, json member, txt member, pixel extension, pixel member
PACK_BYTES = 4 << 20  # a list of packed samples is cut at about this many bytes (~360 pxz samples)


def pack(sample: RenderedSample) -> Packed:
    """The sample's key and tar members (validated: ``RenderedSample.to_wds``), as plain strings and bytes."""
    m = sample.to_wds()
    return sample.key, m["json"], m["txt"], sample.encoding, m[sample.encoding]


def members(p: Packed, key: str) -> dict:
    """What ``shards.write_members`` writes for ``p`` under ``key``: ``RenderedSample.to_wds``'s dict."""
    _, meta, txt, ext, pixels = p
    return {"__key__": key, "json": meta, "txt": txt, ext: pixels}


def packed_bytes(p: Packed) -> int:
    """A packed sample's size for ``BatchBySizeFn``: the bytes of its members."""
    return len(p[1]) + len(p[2]) + len(p[4])


class PackFn(BatchBySizeFn):
    """Samples -> lists of ``Packed`` of up to ``PACK_BYTES``, cut within a bundle (each sample packed, then
    batched by size)."""

    def __init__(self, max_bytes: int = PACK_BYTES):
        super().__init__(max_bytes, packed_bytes)

    def process(self, sample: RenderedSample):
        return super().process(pack(sample))


def _by_shard(batch: list[Packed], n: int):
    """A list of packed samples -> (shard, the list's samples in that shard) per shard it touches."""
    groups: dict[int, list[Packed]] = {}
    for p in batch:
        groups.setdefault(shard_of(p[0], n), []).append(p)
    return groups.items()


def _all_indices(n: int):
    return [(i, []) for i in range(n)]


def existing_shard(path: str, samples: list[dict]) -> ShardInfo | None:
    """The ShardInfo of the shard at ``path`` (a local file or an object) if it holds exactly the bytes
    ``write_members`` would write for ``samples``; None otherwise. Read once, as a stream, up to the first byte that
    differs. Matching keys were not enough: a shard damaged, or cut inside its last sample, by someone else was
    kept, and the manifest listed its hash."""
    if not storage.exists(path):
        return None
    try:
        with storage.open_read(path) as fh:
            same = same_shard(fh, samples)
    except OSError:
        return None
    return ShardInfo(storage.basename(path), *same) if same else None


def unique_keys(packed) -> list[tuple[str, Packed]]:
    """(key to write, packed sample) sorted by that key; samples that share a key (a corpus repeating an id) get
    ``-dupN`` suffixes in content order (text, then pixels: UTF-8 bytes sort as the text's code points do).

    All samples with one key hash to the same shard, so this is decided inside one shard, deterministically."""
    out, seen = [], {}
    for p in sorted(packed, key=lambda p: (p[0], p[2], p[4])):
        n = seen.get(p[0], 0)
        seen[p[0]] = n + 1
        out.append((f"{p[0]}-dup{n}" if n else p[0], p))
    return sorted(out, key=lambda kp: kp[0])


class WriteShardFn(beam.DoFn):
    def __init__(self, out_dir: str, split: str, resume: bool):
        self._out, self._split, self._resume = out_dir, split, resume
        self._written = Metrics.counter(NS, "shards_written")
        self._kept = Metrics.counter(NS, "shards_kept_from_previous_run")
        self._samples = Metrics.counter(NS, "samples_written")
        self._renamed = Metrics.counter(NS, "duplicate_keys_renamed")

    def process(self, item, n: int):
        index, lists = item
        keyed = unique_keys(p for batch in lists for p in batch)
        self._renamed.inc(sum(1 for k, p in keyed if k != p[0]))
        name = shard_name(self._split, index, n)
        final = storage.join(self._out, name)
        samples = [members(p, k) for k, p in keyed]  # dicts over the packed bytes (not copies)
        if self._resume:
            info = existing_shard(final, samples)
            if info is not None:
                self._kept.inc()
                yield info
                return
        if storage.is_local(final):
            info = write_members(final, samples)
        else:  # s3://, gs://: the same bytes built locally, uploaded to a hidden name, then renamed (storage.write)
            with tempfile.TemporaryDirectory(prefix="pixelkit-") as tmp:
                info = write_members(os.path.join(tmp, name), samples)
                storage.write_file(final, os.path.join(tmp, name))
        self._written.inc()
        self._samples.inc(info.num_samples)
        yield info


class WriteWebDataset(beam.PTransform):
    """Samples -> ``{split}-NNNNN-of-NNNNN.tar`` shards in ``out_dir``; returns a PCollection of ShardInfo."""

    def __init__(self, out_dir: str, split: str = "train", samples_per_shard: int = 1000, resume: bool = False):
        self._out, self._split, self._per, self._resume = out_dir, split, samples_per_shard, resume

    def expand(self, samples):
        packed = samples | "Pack" >> beam.ParDo(PackFn())
        n = (packed | "CountSamples" >> beam.Map(len) | "SumCounts" >> beam.CombineGlobally(sum)
             | "NumShards" >> beam.Map(num_shards, self._per))
        keyed = packed | "AssignShard" >> beam.FlatMap(_by_shard, n=AsSingleton(n))
        every = n | "EveryShard" >> beam.FlatMap(_all_indices)  # shards no key hashed to are written empty
        return ((keyed, every) | "WithEmpty" >> beam.Flatten() | "GroupByShard" >> beam.GroupByKey()
                | "WriteShards" >> beam.ParDo(WriteShardFn(self._out, self._split, self._resume), n=AsSingleton(n)))
