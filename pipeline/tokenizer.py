"""Offline tokenizers for the paired token ids: train a byte-level BPE with HF ``tokenizers``; load either a HF
``tokenizer.json`` or a LLaMA-style SentencePiece ``tokenizer.model`` (the PixelGPT family's LLaMA-2 32k one);
identify either for the manifest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Ids:
    ids: list[int]


class SentencePieceTokenizer:
    """A SentencePiece model behind the part of the ``tokenizers.Tokenizer`` interface the pipeline uses
    (``encode(text).ids``, ``decode``, ``get_vocab_size``). Like LLaMA's tokenizer (``add_bos_token=True``,
    ``add_eos_token=False``, as the PixelGPT release's ``tokenization_llama.py``) it puts BOS first."""

    def __init__(self, path: str | Path):
        import sentencepiece as spm

        self._sp = spm.SentencePieceProcessor(model_file=str(path))
        self.bos = self._sp.bos_id()

    def encode(self, text: str) -> _Ids:
        ids = self._sp.encode(text)
        return _Ids([self.bos, *ids] if self.bos >= 0 else ids)

    def decode(self, ids: list[int]) -> str:
        return self._sp.decode(list(ids))

    def get_vocab_size(self) -> int:
        return self._sp.vocab_size()


def _is_json(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(64).lstrip().startswith(b"{")


def load(path: str | Path):
    """The tokenizer in ``path``: a HF ``tokenizers`` JSON file, else a SentencePiece model; anything else is
    refused with the path named."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--tokenizer {path}: no such file")
    if _is_json(path):
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(path))
    try:
        return SentencePieceTokenizer(path)
    except (RuntimeError, OSError) as e:
        raise ValueError(f"--tokenizer {path} is neither a tokenizers JSON file nor a SentencePiece model ({e})") \
            from None


def identity(path: str | Path) -> dict:
    """What a manifest records about a tokenizer: file name, sha256, vocabulary size, model type."""
    path = Path(path)
    data = path.read_bytes()
    tok = load(path)
    if isinstance(tok, SentencePieceTokenizer):
        model = "SentencePiece"
    else:
        model = type(tok.model).__name__
    return {"name": path.name, "sha256": hashlib.sha256(data).hexdigest(), "vocab_size": tok.get_vocab_size(),
            "model": model}
