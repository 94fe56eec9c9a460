"""Extractive QA (PIXEL's ``PIXELForQuestionAnswering``, SQuAD-style): start and end logits per patch; only
context patches (offset mapping != [-1, -1]) can be chosen. A window whose gold answer is not wholly inside it
(labels [-1, -1]) adds no loss. Prediction: per window the best spans (start <= end, at most
``max_answer_patches`` long, by start + end logit), mapped back to characters through the offset mapping;
``trainer.tasks`` then keeps the best span across a question's windows.

On token input (TextGPT, the ``text`` modality) the units are the window's tokens: ``token_offsets`` (per token,
its context characters) and ``token_answer`` (schema 1.2) take the place of the offset mapping and the labels;
the rest is the same code.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..spec import ConfigError
from .base import IGNORE, Head, too_long


class QAHead(nn.Module):
    def __init__(self, hidden: int, num_labels: int, options: dict, encoder) -> None:
        super().__init__()
        self.dropout = nn.Dropout(options["dropout"])
        self.out = nn.Linear(hidden, 2)

    def init_new(self) -> None:
        pass

    def forward(self, enc, context_mask, start_positions=None, end_positions=None):
        logits = self.out(self.dropout(enc.hidden)).float()
        logits = logits.masked_fill(~context_mask.bool()[..., None], -1e4)
        start, end = logits[..., 0], logits[..., 1]
        loss = None
        if start_positions is not None:
            if (start_positions != IGNORE).any():
                loss = (nn.functional.cross_entropy(start, start_positions, ignore_index=IGNORE)
                        + nn.functional.cross_entropy(end, end_positions, ignore_index=IGNORE)) / 2
            else:
                loss = logits.sum() * 0
        return loss, {"start": start, "end": end}


def units_of(s, units: str) -> tuple[list, list | None]:
    """(per-unit context offsets, [start, end] answer units or None) of a window, in patches or tokens."""
    if s.offset_mapping is None:
        raise ConfigError(f"sample {s.key} has no offset_mapping: render the task with qa input")
    if units == "patches":
        return s.offset_mapping, s.labels
    if s.token_offsets is None:
        raise ConfigError(f"sample {s.key} (schema {s.schema_version or '?'}) has no token_offsets: token input for "
                          "QA needs each token's context offsets (schema 1.2); re-render the task with "
                          "pixel-render task --tokenizer TOKENIZER --max_tokens N")
    return s.token_offsets, s.token_answer


def collate(samples: list, family: str, units: str = "patches", width: int | None = None) -> dict[str, torch.Tensor]:
    n = width or samples[0].pixels.shape[1] // samples[0].patch_size
    ctx = np.zeros((len(samples), n), np.int64)
    start = np.full(len(samples), IGNORE, np.int64)
    end = np.full(len(samples), IGNORE, np.int64)
    for i, s in enumerate(samples):
        offsets, labels = units_of(s, units)
        if units == "tokens":
            too_long(s, n)
        ctx[i, :min(n, len(offsets))] = [a >= 0 for a, _ in offsets[:n]]
        if labels and labels[0] >= 0:
            start[i], end[i] = labels
    return {"context_mask": torch.from_numpy(ctx), "start_positions": torch.from_numpy(start),
            "end_positions": torch.from_numpy(end)}


def window_context(s) -> str:
    """The context characters the window holds: the tail of ``text`` (question + "\\n" + context piece)."""
    a, b = s.context_span
    return s.text[len(s.text) - (b - a):] if b > a else ""


def predict(out: dict, batch: dict, samples: list, family: str, max_answer_patches: int = 30,
            top: int = 5) -> list[dict]:
    start, end = out["start"].detach().float().cpu().numpy(), out["end"].detach().float().cpu().numpy()
    ctx = batch["context_mask"].cpu().numpy().astype(bool)
    units = "tokens" if "input_ids" in batch and "pixel_values" not in batch else "patches"
    recs = []
    for i, s in enumerate(samples):
        offsets = units_of(s, units)[0]
        idx = np.flatnonzero(ctx[i])
        context, lo = window_context(s), s.context_span[0]
        cands = []
        if idx.size:
            # scores of every (start, end) pair over context patches, end - start in [0, max_answer_patches)
            sc = start[i, idx][:, None] + end[i, idx][None, :]
            ok = (idx[None, :] >= idx[:, None]) & (idx[None, :] - idx[:, None] < max_answer_patches)
            sc = np.where(ok, sc, -np.inf)
            for flat in np.argsort(sc, axis=None)[::-1][:top]:
                a, b = np.unravel_index(flat, sc.shape)
                if not np.isfinite(sc[a, b]):
                    break
                c0, c1 = offsets[idx[a]][0], offsets[idx[b]][1]
                cands.append({"score": float(sc[a, b]), "text": context[c0 - lo:c1 - lo], "start": int(c0)})
        question = s.text[:len(s.text) - len(context)].rstrip("\n")
        recs.append({"id": s.doc_id, "question": question, "window": s.chunk_index, "candidates": cands,
                     "answers": s.answers})
    return recs


HEAD = Head(name="qa", families=("qa",), kinds=("patches", "tokens"), options={"dropout": 0.1},
            build=QAHead, collate=collate, predict=predict)
