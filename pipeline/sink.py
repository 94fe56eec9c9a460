"""Deterministic sharding: shard = hash(key) % n, samples sorted by key inside a shard, one atomic tar each.

Beam's own file sharding depends on bundling, so it is not used: the shard a sample lands in and its place
inside the shard are functions of its key alone, which makes reruns byte-identical and lets ``--resume``
recognise finished shards.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import tarfile
import tempfile

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsSingleton

from pixelkit.schemas import ShardInfo, shard_name
from pixelkit.schemas.sample import split_member_name

from . import storage
from .shards import file_sha256, write_shard
from .storage import is_local  # noqa: F401  (callers import it from here)

log = logging.getLogger(__name__)
NS = "pipeline.sink"


def num_shards(count: int, per_shard: int) -> int:
    return max(1, math.ceil(count / per_shard))


def shard_of(key: str, n: int) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) % n


def _assign(sample, n: int):
    return shard_of(sample.key, n), sample


def _all_indices(n: int):
    return [(i, None) for i in range(n)]


def existing_shard(path: str, keys: list[str]) -> ShardInfo | None:
    """The ShardInfo of a finished shard at ``path`` (a local file or an object) if it holds exactly ``keys``;
    None otherwise. An object is read once, into a temporary file."""
    if not storage.exists(path):
        return None
    try:
        with storage.local_copy(path) as local:
            with tarfile.open(local, mode="r|") as tf:
                found = sorted({split_member_name(m.name)[0] for m in tf})
            if found != sorted(keys):
                return None
            return ShardInfo(storage.basename(path), len(keys), os.path.getsize(local), file_sha256(local))
    except (tarfile.TarError, OSError, ValueError):
        return None


def unique_keys(samples) -> list:
    """Sorted by key; samples that share a key (a corpus repeating an id) get ``-dupN`` suffixes in content order.

    All samples with one key hash to the same shard, so this is decided inside one shard, deterministically."""
    ordered = sorted(samples, key=lambda s: (s.key, s.text, s.pixels))
    out, seen = [], {}
    for s in ordered:
        n = seen.get(s.key, 0)
        seen[s.key] = n + 1
        if n:
            s = dataclasses.replace(s, key=f"{s.key}-dup{n}")
        out.append(s)
    return sorted(out, key=lambda s: s.key)


class WriteShardFn(beam.DoFn):
    def __init__(self, out_dir: str, split: str, resume: bool):
        self._out, self._split, self._resume = out_dir, split, resume
        self._written = Metrics.counter(NS, "shards_written")
        self._kept = Metrics.counter(NS, "shards_kept_from_previous_run")
        self._samples = Metrics.counter(NS, "samples_written")
        self._renamed = Metrics.counter(NS, "duplicate_keys_renamed")

    def process(self, item, n: int):
        index, samples = item
        samples = unique_keys(s for s in samples if s is not None)
        self._renamed.inc(sum(1 for s in samples if "-dup" in s.key))
        name = shard_name(self._split, index, n)
        final = storage.join(self._out, name)
        if self._resume:
            info = existing_shard(final, [s.key for s in samples])
            if info is not None:
                self._kept.inc()
                yield info
                return
        if storage.is_local(final):
            info = write_shard(final, samples)
        else:  # s3://, gs://: the same bytes built locally, uploaded to a hidden name, then renamed (storage.write)
            with tempfile.TemporaryDirectory(prefix="pixelkit-") as tmp:
                info = write_shard(os.path.join(tmp, name), samples)
                storage.write_file(final, os.path.join(tmp, name))
        self._written.inc()
        self._samples.inc(info.num_samples)
        yield info


class WriteWebDataset(beam.PTransform):
    """Samples -> ``{split}-NNNNN-of-NNNNN.tar`` shards in ``out_dir``; returns a PCollection of ShardInfo."""

    def __init__(self, out_dir: str, split: str = "train", samples_per_shard: int = 1000, resume: bool = False):
        self._out, self._split, self._per, self._resume = out_dir, split, samples_per_shard, resume

    def expand(self, samples):
        n = (samples | "CountSamples" >> beam.combiners.Count.Globally()
             | "NumShards" >> beam.Map(num_shards, self._per))
        keyed = samples | "AssignShard" >> beam.Map(_assign, n=AsSingleton(n))
        every = n | "EveryShard" >> beam.FlatMap(_all_indices)  # shards no key hashed to are written empty
        return ((keyed, every) | "WithEmpty" >> beam.Flatten() | "GroupByShard" >> beam.GroupByKey()
                | "WriteShards" >> beam.ParDo(WriteShardFn(self._out, self._split, self._resume), n=AsSingleton(n)))
