"""Task metrics from their reference libraries; each takes plain gold / predicted values and returns floats.

* accuracy, F1 (binary, positive class 1, as GLUE's MRPC/QQP), Matthews correlation (CoLA): scikit-learn;
* Pearson / Spearman (STS-B): scipy;
* entity-level precision / recall / F1 over BIO tags: seqeval (default mode = the conlleval script's CoNLL
  definition: an entity counts only when its type and both boundaries match);
* SQuAD exact match / F1: the official v1.1 evaluation script's definitions (lower-case, strip punctuation,
  the articles a/an/the and extra whitespace; F1 over the bag of normalized tokens; the max over the gold
  answers; averaged over questions, x 100). Only these few lines of definition are written here; QA also scores
  KorQuAD 1.0's exact match and character-level F1 (its official script's definitions; PIXEL's README scores
  KorQuAD with that script), as ``korquad_exact_match`` / ``korquad_f1``;
* UAS / LAS: as PIXEL's run_ud.py: the share of words whose predicted head (LAS: and label) is right, over
  every word *including punctuation* (x 100). Words whose gold head was cut off by truncation cannot be
  predicted and are left out (and counted: ``unscorable``).
"""

from __future__ import annotations

import re
import string
from collections import Counter


def accuracy(gold: list, pred: list) -> dict[str, float]:
    from sklearn.metrics import accuracy_score
    return {"accuracy": float(accuracy_score(gold, pred))}


def accuracy_f1(gold: list, pred: list) -> dict[str, float]:
    from sklearn.metrics import f1_score
    return {**accuracy(gold, pred), "f1": float(f1_score(gold, pred, pos_label=1, average="binary", zero_division=0))}


def mcc(gold: list, pred: list) -> dict[str, float]:
    from sklearn.metrics import matthews_corrcoef
    return {"mcc": float(matthews_corrcoef(gold, pred)), **accuracy(gold, pred)}


def pearson_spearman(gold: list[float], pred: list[float]) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr
    return {"pearson": float(pearsonr(gold, pred)[0]), "spearman": float(spearmanr(gold, pred)[0])}


def entity_f1(gold: list[list[str]], pred: list[list[str]]) -> dict[str, float]:
    from seqeval.metrics import f1_score, precision_score, recall_score
    return {"precision": float(precision_score(gold, pred, zero_division=0)),
            "recall": float(recall_score(gold, pred, zero_division=0)),
            "f1": float(f1_score(gold, pred, zero_division=0))}


def normalize_answer(s: str) -> str:
    """SQuAD v1.1: lower case, remove punctuation, articles and extra whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def squad(gold: list[list[str]], pred: list[str]) -> dict[str, float]:
    """gold: the answer texts per question; pred: one predicted text per question."""
    em = [max(float(normalize_answer(p) == normalize_answer(g)) for g in gs) for gs, p in zip(gold, pred)]
    f1 = [max(_f1(p, g) for g in gs) for gs, p in zip(gold, pred)]
    n = max(len(pred), 1)
    return {"exact_match": 100.0 * sum(em) / n, "f1": 100.0 * sum(f1) / n}


# KorQuAD 1.0's official evaluation script (korquad.github.io, evaluate-v1.0.py), which PIXEL's README names for
# its KorQuAD number: quotes, angle and corner brackets and parentheses become spaces, then lower case, ASCII
# punctuation out, whitespace collapsed (no article removal); F1 over the characters of the answer's words
_KORQUAD_SPACED = str.maketrans({c: " " for c in "'\"《》<>〈〉()‘’"})


def _korquad_norm(s: str) -> str:
    s = s.translate(_KORQUAD_SPACED).lower()
    return " ".join("".join(ch for ch in s if ch not in string.punctuation).split())


def _korquad_f1(pred: str, gold: str) -> float:
    p, g = list(_korquad_norm(pred).replace(" ", "")), list(_korquad_norm(gold).replace(" ", ""))
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def korquad(gold: list[list[str]], pred: list[str]) -> dict[str, float]:
    """KorQuAD 1.0's exact match and character-level F1 (x 100, the max over the gold answers), as
    ``korquad_exact_match`` / ``korquad_f1``."""
    em = [max(float(_korquad_norm(p) == _korquad_norm(g)) for g in gs) for gs, p in zip(gold, pred)]
    f1 = [max(_korquad_f1(p, g) for g in gs) for gs, p in zip(gold, pred)]
    n = max(len(pred), 1)
    return {"korquad_exact_match": 100.0 * sum(em) / n, "korquad_f1": 100.0 * sum(f1) / n}


def uas_las(gold: list[list[tuple[int, int]]], pred_heads: list[list[int]], pred_rels: list[list[int]]
            ) -> dict[str, float]:
    """gold: per sentence [(head, deprel)] over its visible words; heads 1-based, 0 = root."""
    words = arcs = both = unscorable = 0
    for g, ph, pr in zip(gold, pred_heads, pred_rels):
        n = len(g)
        for (head, rel), h, r in zip(g, ph, pr):
            if head > n:
                unscorable += 1
                continue
            words += 1
            arcs += h == head
            both += h == head and r == rel
    return {"uas": 100.0 * arcs / max(words, 1), "las": 100.0 * both / max(words, 1), "words": words,
            "unscorable": unscorable}
