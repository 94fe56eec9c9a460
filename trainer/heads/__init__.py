"""Task heads: one module per head, one line here each (as variants). Torch-free until a head is loaded.

A head module exposes ``HEAD = Head(...)`` (``trainer/heads/base.py``): the task families it serves, the
encoder kinds it sits on, its options, ``build`` (the nn.Module over an encoder's states), ``collate`` (the
label tensors of a batch) and ``predict`` (one record per sample, which ``trainer.tasks`` scores and writes).
"""

from __future__ import annotations

import importlib

from ..spec import ConfigError

HEADS: dict[str, str] = {
    "sequence": "pixelkit.trainer.heads.sequence",  # classification / regression: pooled states (mean, max, cls, pma, last)
    "tagging": "pixelkit.trainer.heads.tagging",  # a label per word from its first (or, causal encoders, last) patch
    "biaffine": "pixelkit.trainer.heads.biaffine",  # dependency arcs + labels (Dozat & Manning, as PIXEL's parser)
    "qa": "pixelkit.trainer.heads.qa",  # extractive QA: start / end logits over the context patches
}


def get_head(name: str):
    if name not in HEADS:
        raise ConfigError(f"unknown head {name!r}; registered: {', '.join(HEADS)}")
    return importlib.import_module(HEADS[name]).HEAD
