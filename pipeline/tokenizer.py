"""Offline tokenizers for the paired token ids: train a byte-level BPE with HF ``tokenizers``, load, identify."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable


def train_bpe(texts: Iterable[str], vocab_size: int, out: str | Path) -> Path:
    """Train a GPT-2-style byte-level BPE on ``texts`` and save ``tokenizer.json`` (no network)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(out))
    return out


def identity(path: str | Path) -> dict:
    """What a manifest records about a tokenizer: file name, sha256, vocabulary size, model type."""
    from tokenizers import Tokenizer

    data = Path(path).read_bytes()
    tok = Tokenizer.from_str(data.decode("utf-8"))
    return {"name": Path(path).name, "sha256": hashlib.sha256(data).hexdigest(),
            "vocab_size": tok.get_vocab_size(), "model": type(tok.model).__name__}
