"""Streaming shards into training samples: webdataset pipelines over raw tar members, decoded by schemas only.

Tar members are read by ``trainer.tars`` (libarchive) and stay bytes until ``RenderedSample.from_wds`` validates
them: never webdataset's pickle/.pyd decoders.
A corrupt sample or a truncated shard is skipped with a counted warning instead of stopping training.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np
import webdataset as wds

from schemas import RenderedSample, SchemaError

from . import tars

log = logging.getLogger(__name__)


@dataclass
class DecodedSample:
    key: str
    pixels: np.ndarray  # uint8 (H, W) or (H, W, 3), possibly a (transposed) view into a reused buffer
    num_patches: int
    patch_size: int
    mode: str
    token_ids: list[int] | None
    text: str


class SkipCounter:
    """Counts what was skipped and why (per process), by reason: the exception's ``reason`` or class name
    (``SchemaError``: an unacceptable member, ``ArchiveError``: an unreadable tar, ``short_shard`` ...), and
    ``corrupt_sample`` for samples that fail validation. Also the readers' exception handler (True = go on).

    Warnings are rate-limited: one line each for the first ``LOG_FIRST`` skips, then one line per ``LOG_EVERY``
    with the totals. ``silent`` records a problem without counting it (a shard re-read in a later epoch)."""

    LOG_FIRST, LOG_EVERY = 10, 1000

    def __init__(self, counts: dict[str, int] | None = None) -> None:
        self.counts: Counter[str] = Counter(counts or {})
        self.noted = 0  # skips noted by this process (what the log rate follows)
        self.last = ""  # the newest problem, counted or not (for a stop message)

    def __call__(self, exn: Exception) -> bool:  # handler protocol: True = keep going
        self.note(getattr(exn, "reason", type(exn).__name__), str(exn))
        return True

    def silent(self, exn: Exception) -> bool:
        self.last = f"{getattr(exn, 'reason', type(exn).__name__)}: {exn}"
        return True

    def note(self, reason: str, message: str) -> None:
        self.last = f"{reason}: {message}"
        self.counts[reason] += 1
        self.noted += 1
        if self.noted <= self.LOG_FIRST or self.noted % self.LOG_EVERY == 0:
            more = "" if self.noted < self.LOG_FIRST else f" (then one line per {self.LOG_EVERY} skips)"
            log.warning("skipped %s [%d so far: %s]%s", self.last, self.noted, dict(self.counts), more)


def decode(raw: dict, skips: SkipCounter, scratch: Callable[[int], np.ndarray] | None = None,
           strip: tuple[str, int, int] | None = None) -> DecodedSample | None:
    """Validate and decode one raw sample (None if corrupt: counted, unless ``raw["__recount__"]`` says an earlier
    pass counted it). ``strip``: the (mode, patch size, patches) every sample of the set must have; another one is
    counted as ``wrong_shape`` (a batch could not hold it). ``scratch(nbytes)`` may lend a reused buffer to decode
    into; the pixels are then a view of it (see ``schemas.codec.decode_pixels``). The schema and ``strip`` bound
    the size before any buffer is asked for."""
    try:
        s = RenderedSample.from_wds({k: v for k, v in raw.items() if not k.startswith("__") or k == "__key__"})
        if strip is not None and (s.mode, s.patch_size, s.max_patches) != strip:
            raise tars.Mismatch("wrong_shape", f"sample {s.key!r} is a {s.mode} strip of {s.max_patches} "
                                f"{s.patch_size}px patches; the set holds {strip[0]} {strip[2]} x {strip[1]}px")
        out = scratch(s.height * s.width * s.channels) if scratch is not None else None
        return DecodedSample(s.key, s.decode(out), s.num_patches, s.patch_size, s.mode, s.token_ids, s.text)
    except (SchemaError, ValueError) as e:
        reason = getattr(e, "reason", "corrupt_sample")
        if raw.get("__recount__"):
            skips.last = f"{reason}: {e}"
        else:
            skips.note(reason, f"{raw.get('__key__')!r} in {raw.get('__url__')}: {e}")
        return None


def _decode_stage(skips: SkipCounter):
    def stage(src):
        for raw in src:
            out = decode(raw, skips)
            if out is not None:
                yield out
    return stage


def sample_pipeline(urls: str | list[str], *, resampled: bool = False, shuffle: int = 0, seed: int = 0,
                    skips: SkipCounter | None = None) -> wds.DataPipeline:
    """Shards (paths, brace patterns, fsspec or ``pipe:`` URLs) -> DecodedSample stream, split across nodes
    and DataLoader workers; ``resampled`` gives the infinite pretraining stream, otherwise one pass."""
    skips = skips if skips is not None else SkipCounter()
    shards = wds.ResampledShards(urls, seed=seed, deterministic=True) if resampled else wds.SimpleShardList(urls)
    stages = [shards]
    if not resampled:
        stages += [wds.split_by_node, wds.split_by_worker]
    stages.append(lambda src: (raw for item in src for raw in tars.shard_samples(item["url"], skips)))
    if shuffle:
        stages.append(wds.shuffle(shuffle, rng=random.Random(seed)))
    stages.append(_decode_stage(skips))
    return wds.DataPipeline(*stages)
