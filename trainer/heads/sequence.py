"""Sequence classification and regression over pooled encoder states (PIXEL's ``--pooling_mode``).

Pooling: ``mean`` / ``max`` over the attended patches (text + EOS) or tokens, ``cls`` (PIXEL's [CLS] state
through a dense + tanh pooler, as ViT's pooler), ``pma`` (pooling by multi-head attention, Set Transformer:
one learned seed attends over the attended states), ``last`` (the last attended position: the PixelGPT
family's causal pooling, state t has seen everything <= t). Defaults: ``mean`` (PIXEL's default) on
bidirectional encoders, ``last`` on causal ones. ``pooler_layer_norm: true`` (mean / max only) is PIXEL's
``--pooler_add_layer_norm=True`` pooler, as xplip/pixel src/pixel/models/pooling.py
``PoolingForSequenceClassificationHead`` (commit 1b0da29): each attended state goes through a dense layer, GELU,
LayerNorm (eps 1e-12) and the head's dropout, then is pooled; the pooled vector goes to the output layer without
a second dropout. (Without the option our mean / max pool the encoder's states directly: PIXEL's pooler with
``--pooler_add_layer_norm=False``, a dense + GELU without the norm, is not mirrored.) Loss: cross-entropy
(classification, ignoring unlabelled rows; ``class_weights`` weights it per label) or MSE (regression, one output).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..spec import ConfigError
from .base import IGNORE, Head, class_weights

MODES = ("auto", "mean", "max", "cls", "pma", "last")


class SequenceHead(nn.Module):
    def __init__(self, hidden: int, num_labels: int, options: dict, encoder) -> None:
        super().__init__()
        mode = options["pooling"]
        if mode not in MODES:
            raise ConfigError(f"task.head_options.pooling must be one of {MODES}, not {mode!r}")
        mode = ("last" if encoder.causal else "mean") if mode == "auto" else mode
        if mode == "cls" and not encoder.has_cls:
            raise ConfigError(f"pooling 'cls' needs an encoder with a [CLS] state (pixel); use mean, max, pma or last")
        if mode == "last" and not encoder.causal:
            raise ConfigError("pooling 'last' is for causal encoders (the PixelGPT family); use mean, max, cls or pma")
        self.mode, self.regression = mode, num_labels == 0
        self.pixel_pooler = options.get("pooler_layer_norm", False)
        if not isinstance(self.pixel_pooler, bool):
            raise ConfigError(f"task.head_options.pooler_layer_norm must be true or false, not {self.pixel_pooler!r}")
        if self.pixel_pooler and mode not in ("mean", "max"):
            raise ConfigError(
                f"task.head_options.pooler_layer_norm (PIXEL's --pooler_add_layer_norm) is for pooling mean or max, "
                f"not {mode!r}" + {"cls": ": PIXEL ignores it with cls pooling; drop the option",
                                   "last": " (a causal encoder's default): PixelGPT's heads have no such pooler; "
                                           "drop the option",
                                   "pma": ": our pma (torch's MultiheadAttention) is not PIXEL's, so its pooler is "
                                          "not mirrored there; use mean or max, or drop the option"}[mode])
        if self.pixel_pooler:  # xplip/pixel PoolingForSequenceClassificationHead: linear -> GELU -> ln -> dropout
            self.pool_dense, self.pool_norm = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=1e-12)
        if mode == "cls":
            self.pooler = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh())
        if mode == "pma":
            self.seed = nn.Parameter(torch.zeros(1, 1, hidden))
            self.attn = nn.MultiheadAttention(hidden, options["pma_heads"], batch_first=True)
        self.dropout = nn.Dropout(options["dropout"])
        self.out = nn.Linear(hidden, max(num_labels, 1))
        if self.regression and options["class_weights"] is not None:
            raise ConfigError("task.head_options.class_weights is for classification; a regression task has no classes")
        self.register_buffer("class_weight", class_weights(options, num_labels), persistent=False)

    def init_new(self) -> None:
        if self.mode == "pma":
            nn.init.xavier_uniform_(self.seed)

    def pool(self, enc) -> torch.Tensor:
        h, m = enc.hidden, enc.mask.bool()
        if self.pixel_pooler:
            h = self.dropout(self.pool_norm(nn.functional.gelu(self.pool_dense(h))))
        if self.mode == "mean":
            w = m.to(h.dtype)[..., None]
            return (h * w).sum(1) / w.sum(1).clamp(min=1)
        if self.mode == "max":
            return h.masked_fill(~m[..., None], torch.finfo(h.dtype).min).amax(1)
        if self.mode == "cls":
            return self.pooler(enc.cls)
        if self.mode == "pma":
            return self.attn(self.seed.expand(h.shape[0], -1, -1), h, h, key_padding_mask=~m)[0][:, 0]
        # the last attended position (a pair row has switched-off image padding before its text)
        last = (torch.arange(m.shape[1], device=m.device) * m.long()).argmax(1)
        return h[torch.arange(h.shape[0], device=h.device), last]

    def forward(self, enc, labels=None):
        pooled = self.pool(enc)
        logits = self.out(pooled if self.pixel_pooler else self.dropout(pooled))  # PIXEL's: dropout before pooling
        loss = None
        if labels is not None:
            if self.regression:
                keep = ~torch.isnan(labels)
                loss = nn.functional.mse_loss(logits[:, 0][keep].float(), labels[keep].float()) if keep.any() \
                    else logits.sum() * 0
            else:
                loss = nn.functional.cross_entropy(logits.float(), labels, ignore_index=IGNORE,
                                                   weight=self.class_weight) \
                    if (labels != IGNORE).any() else logits.sum() * 0
        return loss, {"logits": logits}


def collate(samples: list, family: str, units: str = "patches", width: int | None = None) -> dict[str, torch.Tensor]:
    if family == "regression":
        return {"labels": torch.tensor([np.nan if s.label is None else float(s.label) for s in samples],
                                       dtype=torch.float32)}
    for s in samples:
        if s.label is not None and not isinstance(s.label, int):
            raise ConfigError(f"sample {s.key}: classification label {s.label!r} is not a class index")
    return {"labels": torch.tensor([IGNORE if s.label is None else s.label for s in samples], dtype=torch.long)}


def predict(out: dict, batch: dict, samples: list, family: str) -> list[dict]:
    logits = out["logits"].detach().float().cpu()
    preds = logits[:, 0].tolist() if family == "regression" else logits.argmax(-1).tolist()
    return [{"id": s.doc_id, "pred": p, "gold": s.label} for s, p in zip(samples, preds)]


HEAD = Head(name="sequence", families=("classification", "regression"), kinds=("patches", "tokens", "pair"),
            options={"pooling": "auto", "dropout": 0.1, "pma_heads": 4, "class_weights": None,
                     "pooler_layer_norm": False},
            build=SequenceHead, collate=collate, predict=predict)
