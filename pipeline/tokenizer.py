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
class _Encoding:
    """The part of a ``tokenizers.Encoding`` the pipeline reads: ids, per-token character offsets into the text
    of its own sequence, the sequence of each token (None: a special token)."""
    ids: list[int]
    offsets: list[tuple[int, int]]
    sequence_ids: list[int | None]

    def char_to_token(self, char: int) -> int | None:
        """The first token of sequence 0 whose characters include ``char`` (as ``tokenizers``)."""
        return next((i for i, ((s, e), q) in enumerate(zip(self.offsets, self.sequence_ids))
                     if q == 0 and s <= char < e), None)


class SentencePieceTokenizer:
    """A SentencePiece model behind the part of the ``tokenizers.Tokenizer`` interface the pipeline uses
    (``encode(text[, pair])`` with ids, offsets and sequence ids, ``decode``, ``get_vocab_size``). As LLaMA's
    tokenizer (``add_bos_token=True``, ``add_eos_token=False``, the PixelGPT release's ``tokenization_llama.py``)
    it puts BOS first, and a pair is ``<s> A <s> B`` (its ``build_inputs_with_special_tokens``)."""

    post_processor = "<s> $A <s> $B"  # not None: tasks encode pairs with encode(a, b), as with a template

    def __init__(self, path: str | Path):
        import sentencepiece as spm

        self._sp = spm.SentencePieceProcessor(model_file=str(path))
        self.bos = self._sp.bos_id()

    def encode(self, text: str, pair: str | None = None) -> _Encoding:
        ids: list[int] = []
        offsets: list[tuple[int, int]] = []
        seqs: list[int | None] = []
        for q, part in enumerate((text,) if pair is None else (text, pair)):
            if self.bos >= 0:
                ids.append(self.bos), offsets.append((0, 0)), seqs.append(None)
            char_of = _char_of_byte(part)  # the proto's begin / end are UTF-8 byte offsets
            for piece in self._sp.encode(part, return_type="proto").pieces:
                ids.append(piece.id), seqs.append(q)
                offsets.append((char_of[piece.begin][0], char_of[piece.end][1]))
        return _Encoding(ids, offsets, seqs)

    def decode(self, ids: list[int]) -> str:
        return self._sp.decode(list(ids))

    def get_vocab_size(self) -> int:
        return self._sp.vocab_size()


def _char_of_byte(text: str) -> list[tuple[int, int]]:
    """Per UTF-8 byte offset of ``text`` (and its end): the character it falls in, as a start (floor) and as an
    end (ceil: a byte inside a character ends after it). Byte-fallback pieces of one character start inside it."""
    out: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        n = len(ch.encode("utf-8", "surrogatepass"))
        out += [(i, i)] + [(i, i + 1)] * (n - 1)
    return out + [(len(text), len(text))]


def _is_json(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(64).lstrip().startswith(b"{")


def load(path: str | Path):
    """The tokenizer in ``path``: a HF ``tokenizers`` JSON file, else a SentencePiece model; anything else (or a
    JSON one with an empty vocabulary) is refused with the path named."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--tokenizer {path}: no such file")
    if _is_json(path):
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path))
        if id_span(tok) == 0:  # it encodes every text to no ids; the manifest's vocab_size 0 read as "no tokens"
            raise ValueError(f"--tokenizer {path} has an empty vocabulary: every text would get no token ids; "
                             "train one with pixel-render tokenizer train")
        return tok
    try:
        return SentencePieceTokenizer(path)
    except (RuntimeError, OSError) as e:
        raise ValueError(f"--tokenizer {path} is neither a tokenizers JSON file nor a SentencePiece model ({e})") \
            from None


def id_span(tok) -> int:
    """Largest token id + 1: what an embedding must hold. A tokenizers JSON's ids need not be 0..n-1 (a vocabulary
    ``{"[UNK]": 0, "the": 40000}`` has 2 entries and id 40000), so its entry count (``get_vocab_size``) is not it."""
    if isinstance(tok, SentencePieceTokenizer):
        return tok.get_vocab_size()  # SentencePiece ids are 0..n-1
    return max(tok.get_vocab(with_added_tokens=True).values(), default=-1) + 1


def identity(path: str | Path) -> dict:
    """What a manifest records about a tokenizer: file name, sha256, vocabulary size (the id span, ``id_span``: a
    model sized by it embeds every id), model type."""
    path = Path(path)
    data = path.read_bytes()
    tok = load(path)
    if isinstance(tok, SentencePieceTokenizer):
        model = "SentencePiece"
    else:
        model = type(tok.model).__name__
    return {"name": path.name, "sha256": hashlib.sha256(data).hexdigest(), "vocab_size": id_span(tok),
            "model": model}
