"""Token classification (UD POS, NER BIO tags): one label per syntactic word, read from its rendered word's
first patch (PIXEL's ``PIXELForTokenClassification`` labels each word's first patch and ignores the rest) --
or, on a causal encoder whose first patch has not seen the word yet, from its last patch. On token input
(TextGPT, the ``text`` modality) the same with the word's first / last token (``word_tokens``; ``word_patch``
names the unit either way); words whose tokens ``--max_tokens`` cut off are neither trained on nor scored.

UD multi-word tokens: their syntactic words share one rendered word; a learned embedding of the part's rank
(0, 1, 2, 3+), zero at start, is added so "do" and "n't" of "don't" can get different tags.
``class_weights`` (one per label) weights the cross-entropy, e.g. against NER's majority O.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..spec import ConfigError
from .base import IGNORE, Head, class_weights, gather, surface_words, word_tables


class TaggingHead(nn.Module):
    def __init__(self, hidden: int, num_labels: int, options: dict, encoder) -> None:
        super().__init__()
        pos = options["word_patch"]
        if pos not in ("auto", "first", "last"):
            raise ConfigError(f"task.head_options.word_patch must be auto, first or last, not {pos!r}")
        self.use_last = pos == "last" or (pos == "auto" and encoder.causal)
        self.part = nn.Embedding(4, hidden)
        self.dropout = nn.Dropout(options["dropout"])
        self.out = nn.Linear(hidden, num_labels)
        self.register_buffer("class_weight", class_weights(options, num_labels), persistent=False)

    def init_new(self) -> None:
        nn.init.zeros_(self.part.weight)

    def forward(self, enc, word_first, word_last, word_part, word_mask, labels=None):
        x = gather(enc.hidden, word_last if self.use_last else word_first) + self.part(word_part)
        logits = self.out(self.dropout(x))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE,
                                           weight=self.class_weight) if (labels != IGNORE).any() else logits.sum() * 0
        return loss, {"logits": logits}


def collate(samples: list, family: str, units: str = "patches", width: int | None = None) -> dict[str, torch.Tensor]:
    tables = word_tables(samples, width or samples[0].pixels.shape[1] // samples[0].patch_size, units)
    labels = np.full(tables["word_mask"].shape, IGNORE, np.int64)
    for i, s in enumerate(samples):
        n = int(tables["word_mask"][i].sum())  # the words the encoder reads (all, unless tokens were cut)
        if s.labels:
            labels[i, :n] = s.labels[:n]
    return {**tables, "labels": torch.from_numpy(labels)}


def predict(out: dict, batch: dict, samples: list, family: str) -> list[dict]:
    pred = out["logits"].detach().argmax(-1).cpu().numpy()
    reached = batch["word_mask"].sum(1).tolist()
    return [{"id": s.doc_id, "key": s.key, "words": surface_words(s)[:n], "pred": pred[i, :n].tolist(),
             "gold": list(s.labels or [])[:n]} for i, (s, n) in enumerate(zip(samples, reached))]


HEAD = Head(name="tagging", families=("tagging",), kinds=("patches", "tokens"),
            options={"dropout": 0.1, "word_patch": "auto", "class_weights": None}, build=TaggingHead, collate=collate, predict=predict)
