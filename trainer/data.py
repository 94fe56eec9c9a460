"""Decoding shard samples for the trainer: raw tar members (``trainer.tars``) -> ``DecodedSample``, by schemas only.

Tar members are read by ``trainer.tars`` (libarchive) and stay bytes until ``RenderedSample.from_wds`` validates
them: never webdataset's pickle/.pyd decoders.
A corrupt sample or a truncated shard is skipped with a counted warning instead of stopping training.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from pixelkit.schemas import RenderedSample, SchemaError

from . import tars

log = logging.getLogger(__name__)


@dataclass
class DecodedSample:
    """What a variant's or a head's ``collate`` receives: the loader -> collate contract.

    In a ``BatchStream``, ``pixels`` is a (transposed) view of one row of a fresh array per batch
    (``stream._BatchRows``): the strips of a batch are that array's rows in order, and ``batch_patches`` hands
    the array on as the batch's patches **without a copy** (it copies strips laid out any other way). The array
    belongs to that batch alone (the next batch decodes into a new one), so a batch stays valid as long as it is
    held; **a collate never writes into ``pixels``** (binary strips are scaled in a copy). Everything else is
    plain Python data owned by the sample. The task fields are ``None`` on pretraining shards (schemas/sample.py says what
    each holds on task shards).
    """

    key: str
    pixels: np.ndarray  # uint8 (H, W) or (H, W, 3), possibly a (transposed) view of a row of the batch's array
    num_patches: int
    patch_size: int
    mode: str
    token_ids: list[int] | None
    text: str
    doc_id: str = ""
    chunk_index: int = 0
    sep_patches: list[int] | None = None
    label: int | float | str | None = None  # classification: class index; regression: float; None: unlabelled
    labels: list | None = None  # tagging: tag index per syntactic word; parsing: [head, deprel]; qa: [start, end]
    word_starts: list[int] | None = None  # patch index of each rendered word
    word_index: list[int] | None = None  # rendered word of each syntactic word (one per label)
    offset_mapping: list[list[int]] | None = None  # QA: per patch [start, end) context chars, [-1, -1] outside
    context_span: list[int] | None = None  # QA: [start, end) of the context the window holds
    answers: dict | None = None  # QA: every gold answer {"text": [...], "answer_start": [...]}
    truncated: bool = False
    conllu: str | None = None  # UD parsing (schema 1.2): the sentence's CoNLL-U block, for scorer-ready predictions
    conllu_origin: list | None = None  # UD parsing (1.2): [file name, line] it was read at (the predictions' order)
    word_tokens: list[list[int]] | None = None  # 1.2, words + tokenizer: [first, end) tokens of each rendered word
    token_offsets: list[list[int]] | None = None  # 1.2, QA + tokenizer: per token [start, end) context chars
    token_answer: list[int] | None = None  # 1.2, QA + tokenizer: [start_token, end_token], [-1, -1] if none
    tokens_truncated: bool = False  # 1.2: token ids cut at --max_tokens
    schema_version: str = ""  # the sample's own (an older shard lacks the 1.2 fields: errors name it)


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
    counted as ``wrong_shape`` (a batch could not hold it). ``scratch(nbytes)`` may lend a buffer to decode
    into (the batch's row); the pixels are then a view of it (see ``schemas.codec.decode_pixels``). The schema and ``strip`` bound
    the size before any buffer is asked for."""
    try:
        s = RenderedSample.from_wds(raw)  # reads __key__ and the field members only (not __url__, __set__ ...)
        if strip is not None and (s.mode, s.patch_size, s.max_patches) != strip:
            raise tars.Mismatch("wrong_shape", f"sample {s.key!r} is a {s.mode} strip of {s.max_patches} "
                                f"{s.patch_size}px patches; the set holds {strip[0]} {strip[2]} x {strip[1]}px")
        out = scratch(s.height * s.width * s.channels) if scratch is not None else None
        return DecodedSample(s.key, s.decode(out), s.num_patches, s.patch_size, s.mode, s.token_ids, s.text,
                             s.doc_id, s.chunk_index, s.sep_patches, s.label, s.labels, s.word_starts,
                             s.word_index, s.offset_mapping, s.context_span, s.answers, s.truncated,
                             s.conllu, s.conllu_origin, s.word_tokens, s.token_offsets, s.token_answer,
                             s.tokens_truncated, s.schema_version)
    except (SchemaError, ValueError) as e:
        reason = getattr(e, "reason", "corrupt_sample")
        if raw.get("__recount__"):
            skips.last = f"{reason}: {e}"
        else:
            skips.note(reason, f"{raw.get('__key__')!r} in {raw.get('__url__')}: {e}")
        return None


def read_samples(urls: str | list[str], limit: int | None = None,
                 skips: SkipCounter | None = None) -> Iterator[DecodedSample]:
    """One pass over shards in the given order, decoded (no shuffling, no splitting): the same reader
    (``tars.samples`` + ``decode``) the training stream uses, for peeking at a set and for tests."""
    skips = skips if skips is not None else SkipCounter()
    n = 0
    for raw in tars.samples([urls] if isinstance(urls, str) else urls, skips):
        if limit is not None and n >= limit:
            return
        out = decode(raw, skips)
        if out is not None:
            n += 1
            yield out
