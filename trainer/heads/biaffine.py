"""Biaffine dependency parsing (Dozat & Manning 2017), as PIXEL's ``PIXELForBiaffineParsing``: a word is the
mean of its rendered word's patches (+ a learned part embedding for UD multi-word tokens, see tagging.py),
the root is the [CLS] state (pixel) or a learned vector (encoders without [CLS]); arc scores
``biaffine(dep, head)`` (bias on the dependent side), label scores ``biaffine_rels(dep, head)`` (both biases),
zero-initialised as PIXEL's. Loss: cross-entropy over each word's head + over its label at the gold head.
Prediction: each word's highest-scoring head (no tree decoding, as PIXEL) and the best label there; and, for
the CoNLL-U predictions file, the best single-root tree over the same scores (log-softmax over each word's heads,
``trees.py``) with the best label at each tree head (``tree_heads`` / ``tree_rels``, see trainer/udfile.py).

Gold heads that point at a word cut by truncation are not trained on (the scorer counts them separately).
On token input (TextGPT, the ``text`` modality) a word is the mean of its tokens (``word_tokens``), the root the
learned vector; words whose tokens ``--max_tokens`` cut off are treated as cut by truncation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import IGNORE, Head, surface_words, word_tables
from .trees import one_root_tree


class Biaffine(nn.Module):
    def __init__(self, n_in: int, n_out: int, bias_x: bool, bias_y: bool) -> None:
        super().__init__()
        self.bias_x, self.bias_y = bias_x, bias_y
        self.weight = nn.Parameter(torch.zeros(n_out, n_in + bias_x, n_in + bias_y))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.bias_x:
            x = torch.cat([x, torch.ones_like(x[..., :1])], -1)
        if self.bias_y:
            y = torch.cat([y, torch.ones_like(y[..., :1])], -1)
        return torch.einsum("bxi,oij,byj->boxy", x, self.weight, y)  # (B, out, deps, heads)


class BiaffineHead(nn.Module):
    def __init__(self, hidden: int, num_labels: int, options: dict, encoder) -> None:
        super().__init__()
        self.part = nn.Embedding(4, hidden)
        self.root = nn.Parameter(torch.zeros(hidden))
        self.use_cls = encoder.has_cls
        self.dropout = nn.Dropout(options["dropout"])
        self.arcs = Biaffine(hidden, 1, True, False)
        self.rels = Biaffine(hidden, num_labels, True, True)

    def init_new(self) -> None:
        for p in (self.part.weight, self.arcs.weight, self.rels.weight):
            nn.init.zeros_(p)
        nn.init.normal_(self.root, std=0.02)

    def forward(self, enc, word_first, word_last, word_part, word_mask, heads=None, rels=None):
        h = self.dropout(enc.hidden)
        n = h.shape[1]
        pos = torch.arange(n, device=h.device)
        span = (pos >= word_first[..., None]) & (pos <= word_last[..., None])  # (B, W, N)
        span = span.to(h.dtype)
        words = span @ h / span.sum(-1, keepdim=True).clamp(min=1) + self.part(word_part)
        root = enc.cls if self.use_cls else self.root.expand(h.shape[0], -1)
        cands = torch.cat([root[:, None], words], 1)  # (B, 1 + W, H): index 0 = root, k = word k (1-based)
        arc = self.arcs(words, cands)[:, 0]  # (B, W, 1 + W)
        valid = torch.cat([word_mask.new_ones(word_mask.shape[0], 1), word_mask], 1).bool()
        arc = arc.masked_fill(~valid[:, None, :], torch.finfo(arc.dtype).min)
        rel = self.rels(words, cands).permute(0, 2, 3, 1)  # (B, W, 1 + W, labels)
        loss = None
        if heads is not None:
            keep = heads != IGNORE
            if keep.any():
                loss = nn.functional.cross_entropy(arc[keep].float(), heads[keep])
                gold_rel = rel[keep][torch.arange(int(keep.sum()), device=h.device), heads[keep]]
                loss = loss + nn.functional.cross_entropy(gold_rel.float(), rels[keep])
            else:
                loss = arc.sum() * 0
        return loss, {"arc": arc, "rel": rel}


def collate(samples: list, family: str, units: str = "patches", width: int | None = None) -> dict[str, torch.Tensor]:
    tables = word_tables(samples, width or samples[0].pixels.shape[1] // samples[0].patch_size, units)
    heads = np.full(tables["word_mask"].shape, IGNORE, np.int64)
    rels = np.full(tables["word_mask"].shape, IGNORE, np.int64)
    for i, s in enumerate(samples):
        n = int(tables["word_mask"][i].sum())  # the words the encoder reads (all, unless tokens were cut)
        for j, (head, rel) in enumerate((s.labels or [])[:n]):
            if head <= n:  # a head cut off by truncation is not a target
                heads[i, j], rels[i, j] = head, rel
    return {**tables, "heads": torch.from_numpy(heads), "rels": torch.from_numpy(rels)}


def predict(out: dict, batch: dict, samples: list, family: str) -> list[dict]:
    heads = out["arc"].detach().argmax(-1)  # (B, W)
    rel = out["rel"].detach().gather(2, heads[..., None, None].expand(-1, -1, 1, out["rel"].shape[-1]))[:, :, 0]
    heads, rels = heads.cpu().numpy(), rel.argmax(-1).cpu().numpy()
    arc_logp = torch.log_softmax(out["arc"].detach().double(), -1).cpu().numpy()
    rel_best = out["rel"].detach().argmax(-1).cpu().numpy()  # (B, W, 1 + W): best label at every head
    recs = []
    for i, (s, n) in enumerate(zip(samples, batch["word_mask"].sum(1).tolist())):  # n: the words the encoder read
        tree = one_root_tree(arc_logp[i, :n, :n + 1]) if n else []
        recs.append({"id": s.doc_id, "key": s.key, "words": surface_words(s)[:n],
                     "word_index": list(s.word_index or [])[:n], "heads": heads[i, :n].tolist(),
                     "rels": rels[i, :n].tolist(), "tree_heads": tree,
                     "tree_rels": [int(rel_best[i, d, h]) for d, h in enumerate(tree)],
                     "gold": [list(x) for x in (s.labels or [])][:n], "conllu": s.conllu,
                     "conllu_origin": s.conllu_origin})
    return recs


HEAD = Head(name="biaffine", families=("parsing",), kinds=("patches", "tokens"), options={"dropout": 0.1},
            build=BiaffineHead, collate=collate, predict=predict)
