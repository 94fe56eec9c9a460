"""What every head provides, and the word-level gathering the word heads share.

Word and QA heads read *unit positions*: a strip's patches (``word_starts``, ``offset_mapping``) or the token ids
(``word_tokens``, ``token_offsets``, schema 1.2), as ``units`` says; the modules themselves only see positions into
the encoder's states, so one head serves both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..spec import ConfigError

IGNORE = -100  # label ignored by the losses (padding, unlabelled rows)


@dataclass(frozen=True)
class Head:
    name: str
    families: tuple[str, ...]  # task families it serves
    kinds: tuple[str, ...]  # encoder kinds it sits on: "patches" and/or "tokens"
    options: dict[str, Any]  # defaults; run files set them under task.head_options
    build: Callable  # (hidden_size, num_labels, options, encoder) -> nn.Module: forward(Encoded, **labels)
    collate: Callable  # (samples, family, units="patches", width=None) -> dict of label tensors
    predict: Callable  # (output, batch, samples, family) -> list of per-sample prediction records
    new_keys: tuple[str, ...] = field(default=())  # documentation only: every head parameter is new

    def check(self, family: str, kind: str, options: dict[str, Any]) -> dict[str, Any]:
        if family not in self.families:
            raise ConfigError(f"head {self.name!r} serves {'/'.join(self.families)} tasks, not {family!r}")
        if kind not in self.kinds:
            raise ConfigError(f"head {self.name!r} needs an encoder over {'/'.join(self.kinds)}; this one reads "
                              f"{kind}")
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ConfigError(f"task.head_options {unknown} unknown for head {self.name!r}; known: {sorted(self.options)}")
        merged = {**self.options, **options}
        d = merged.get("dropout", 0.0)  # torch refused it only when the head was built, with a traceback
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= d <= 1:
            raise ConfigError(f"task.head_options.dropout must be a number in [0, 1] (e.g. 0.1), not {d!r}")
        return merged


def class_weights(options: dict, num_labels: int) -> torch.Tensor | None:
    """``head_options.class_weights``: one positive loss weight per label, in the task's label order (the
    cross-entropy's ``weight``); None: unweighted. E.g. scikit-learn's "balanced" weights, n / (k * count_c),
    from the train split's label counts, for a task whose majority label swamps the rest (NER's O). Only their
    ratios count (the weighted mean divides by their sum), so they are scaled to a largest weight of 1: weights
    of 1e38 overflowed that sum in float32 (inf / inf: a NaN loss at step 1)."""
    w = options.get("class_weights")
    if w is None:
        return None
    if num_labels < 2 or not isinstance(w, (list, tuple)) or len(w) != num_labels \
            or not all(_positive(x) for x in w):
        text = any(isinstance(x, str) for x in w) if isinstance(w, (list, tuple)) else False
        raise ConfigError(f"task.head_options.class_weights must be {num_labels} positive numbers (finite; one "
                          f"per label, in the task's label order), not {w!r}"
                          + ("; YAML reads 1e3 (no dot, no exponent sign) as text: write 1000 or 1.0e+3" * text))
    scaled = torch.tensor([float(x) for x in w], dtype=torch.float64) / max(float(x) for x in w)
    if not bool((scaled.float() > 0).all()):
        raise ConfigError(f"task.head_options.class_weights {w!r}: the smallest is 0 in float32 once divided by the "
                          "largest (a ratio beyond ~1e-45); give weights closer together")
    return scaled.float()


def check_label_ids(samples: list, batch: dict, task: dict) -> None:
    """ConfigError naming the sample when a label id does not index the task's ``label_names`` (a damaged split, or
    one rendered with another vocabulary: cross-entropy stopped the run with ``IndexError: Target 7 is out of
    bounds`` on CPU, a device-side assert on CUDA), a parse head is negative, or a regression score is infinite
    (an inf loss). Rows of ``batch`` are ``samples`` in order."""
    k, fam = len(task.get("label_names") or []), task.get("family")
    checks = {"classification": [("labels", "label", lambda t: (t < 0) | (t >= k))],
              "tagging": [("labels", "label", lambda t: (t < 0) | (t >= k))],
              "parsing": [("rels", "deprel", lambda t: (t < 0) | (t >= k)), ("heads", "head", lambda t: t < 0)],
              "regression": [("labels", "score", torch.isinf)]}.get(fam, [])
    for key, what, outside in checks:
        t = batch.get(key)
        if t is None:
            continue
        bad = outside(t) & (t != IGNORE)
        if bool(bad.any()):
            row = int(bad.reshape(len(t), -1).any(1).nonzero()[0])
            value = t[row][bad[row]].reshape(-1)[0].item()
            vocab = f"one of the task's {k} labels (ids 0..{k - 1}: label_names)" if what in ("label", "deprel") else \
                "a finite number" if what == "score" else "0 (root) or a word's position"
            raise ConfigError(f"sample {samples[row].key!r} ({task.get('name')}): {what} {value} is not {vocab}; the "
                              "split is damaged or was rendered with another label vocabulary: render it again with "
                              "pixel-render task (--label_names=<the train split's task.json>)")


def _positive(x) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(float(x)) and x > 0
    except OverflowError:  # an int beyond float's range
        return False


def unit_spans(s, units: str, width: int) -> list[tuple[int, int]]:
    """``[first, last]`` unit of each rendered word of ``s`` that the encoder reads: patches (from
    ``word_starts``) or tokens (``word_tokens``; shorter when ``--max_tokens`` cut words off)."""
    if s.word_starts is None or s.word_index is None:
        raise ConfigError(f"sample {s.key} has no word_starts/word_index: render the task with words input")
    if units == "patches":
        ends = list(s.word_starts[1:]) + [s.num_patches]
        return [(a, max(a, min(e, width) - 1)) for a, e in zip(s.word_starts, ends)]
    if s.word_tokens is None:
        raise ConfigError(f"sample {s.key} (schema {s.schema_version or '?'}) has no word_tokens: token input for "
                          "word-level tasks needs each word's token span (schema 1.2); re-render the task with "
                          "pixel-render task --tokenizer TOKENIZER --max_tokens N")
    too_long(s, width)
    return [(a, b - 1) for a, b in s.word_tokens]


def too_long(s, width: int) -> None:
    """Token input: a sample holding more token ids than the encoder reads would be cut here, silently; refused."""
    if len(s.token_ids or ()) > width:
        raise ConfigError(f"sample {s.key} holds {len(s.token_ids)} token ids, over the model's max_text_tokens "
                          f"{width}: re-render the task with pixel-render task --max_tokens {width} (cut samples "
                          "are flagged and counted there)")


def word_tables(samples: list, width: int, units: str = "patches") -> dict[str, torch.Tensor]:
    """Per syntactic word (padded to the batch's longest): the first and last unit (patch or token, see
    ``unit_spans``) of the rendered word it belongs to, its rank inside that word (0, 1, ... for the parts of a
    UD multi-word token) and a mask (0: padding, or a word whose tokens ``--max_tokens`` cut off)."""
    w = max(1, max(len(s.word_index or []) for s in samples))
    first = np.zeros((len(samples), w), np.int64)
    last = np.zeros((len(samples), w), np.int64)
    part = np.zeros((len(samples), w), np.int64)
    mask = np.zeros((len(samples), w), np.int64)
    for i, s in enumerate(samples):
        spans = unit_spans(s, units, width)
        prev = -1
        for j, r in enumerate(s.word_index):
            if r >= len(spans):
                break
            first[i, j], last[i, j] = spans[r]
            part[i, j] = part[i, j - 1] + 1 if r == prev else 0
            prev = r
            mask[i, j] = 1
    return {"word_first": torch.from_numpy(first), "word_last": torch.from_numpy(last),
            "word_part": torch.from_numpy(np.minimum(part, 3)), "word_mask": torch.from_numpy(mask)}


def gather(hidden: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """hidden (B, L, H), index (B, W) -> (B, W, H)."""
    return torch.gather(hidden, 1, index[..., None].expand(-1, -1, hidden.shape[-1]))


def surface_words(s) -> list[str]:
    """The rendered word each syntactic word belongs to (``text`` is the drawn words joined by spaces)."""
    drawn = s.text.split(" ")
    return [drawn[r] if r < len(drawn) else "_" for r in (s.word_index or [])]
