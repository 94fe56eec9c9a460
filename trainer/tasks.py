"""Task families -> how predictions are scored and written. Records come from a head's ``predict`` (one per
sample), gathered over ranks; a family's ``score`` turns them into the metrics the task spec names, its
``write`` into the usual prediction file (CoNLL-U for parsing, CoNLL columns for tagging, SQuAD-style JSON for
QA, TSV for sequence tasks).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pixelkit.schemas import TaskSpec
from pixelkit.schemas.files import write_atomic

from . import scores, udfile
from .spec import ConfigError


def score(spec: TaskSpec, records: list[dict]) -> dict[str, float]:
    fam = spec.family
    if fam in ("classification", "regression"):
        rows = [r for r in records if r["gold"] is not None]
        gold, pred = [r["gold"] for r in rows], [r["pred"] for r in rows]
        if not rows:
            return {"n": 0}
        fn = {"accuracy": scores.accuracy, "f1": scores.accuracy_f1, "accuracy_f1": scores.accuracy_f1,
              "mcc": scores.mcc, "pearson_spearman": scores.pearson_spearman}[spec.metric]
        return {**fn(gold, pred), "n": len(rows)}
    if fam == "tagging":
        gold = [r["gold"] for r in records if r["gold"]]
        pred = [r["pred"][:len(r["gold"])] for r in records if r["gold"]]
        if spec.metric == "seqeval":
            names = spec.label_names
            return {**scores.entity_f1([[names[t] for t in g] for g in gold], [[names[t] for t in p] for p in pred]),
                    "n": len(gold)}
        flat_g = [t for g in gold for t in g]
        flat_p = [t for p in pred for t in p]
        return {**scores.accuracy(flat_g, flat_p), "n": len(flat_g)}
    if fam == "parsing":
        rows = [r for r in records if r["gold"]]
        out = scores.uas_las([[tuple(x) for x in r["gold"]] for r in rows], [r["heads"] for r in rows],
                             [r["rels"] for r in rows])
        if rows and all(r.get("conllu") for r in rows):  # the written file's trees, as the CoNLL 2018 scorer scores them
            out.update(udfile.conll18_uas_las(rows, spec.label_names))
        return out
    if fam == "qa":
        best = best_spans(records)
        gold = {question(r): r["answers"]["text"] for r in records if r.get("answers") and r["answers"]["text"]}
        keys = sorted(gold)
        answers, preds = [gold[k] for k in keys], [best.get(k, "") for k in keys]
        return {**scores.squad(answers, preds), **scores.korquad(answers, preds), "n": len(keys)}
    raise ValueError(f"unknown task family {fam!r}")


def question(r: dict) -> tuple:
    """A question: its id, its text and its gold answers. XQuAD's languages share ids, MLQA's share ids and English
    questions across context languages, and a suite entry picks its checkpoint on the union of its languages' dev
    splits; the same key twice is the same question."""
    a = r.get("answers") or {}
    return r["id"], r.get("question", ""), tuple(a.get("text", ())), tuple(a.get("answer_start", ()))


def best_spans(records: list[dict]) -> dict[tuple, str]:
    """The best-scoring span across each question's windows. ConfigError when a window of one question comes twice
    (the same questions read twice): pooled, they would score as one with no error."""
    keys = [question(r) for r in records]
    if dup := _repeated((*k, r["window"]) for k, r in zip(keys, records)):
        (qid, *_, window), n = dup
        raise ConfigError(f"question {qid!r}: window {window} appears {n} times -- the same questions are in the "
                          "scored split more than once (one input given twice?); render each file once")
    best: dict[tuple, tuple[float, str]] = {}
    for k, r in zip(keys, records):
        for c in r["candidates"][:1]:
            if k not in best or c["score"] > best[k][0]:
                best[k] = (c["score"], c["text"])
        best.setdefault(k, (float("-inf"), ""))
    return {k: v[1] for k, v in best.items()}


def _repeated(items) -> tuple | None:
    """(the most frequent item, its count) when some item comes more than once, else None."""
    counts = Counter(items)
    top = counts.most_common(1)
    return top[0] if top and top[0][1] > 1 else None


def qa_answers(records: list[dict]) -> dict[str, str]:
    """{question id: best span}, the SQuAD prediction file's layout; ConfigError when one id names two questions,
    which that layout cannot hold."""
    best = best_spans(records)
    if dup := _repeated(k[0] for k in best):
        raise ConfigError(f"question id {dup[0]!r} names {dup[1]} questions: SQuAD-style predictions are keyed by id "
                          "-- XQuAD's and MLQA's languages share ids: render each language as its own split (a suite "
                          "entry's languages)")
    return {k[0]: text for k, text in best.items()}


def write(spec: TaskSpec, records: list[dict], path: Path) -> Path:
    """Predictions in the family's usual format; returns the file written (through a temp name + rename)."""
    names = spec.label_names
    fam = spec.family
    if fam == "qa":
        out, text = path.with_suffix(".json"), json.dumps(qa_answers(records), indent=1, ensure_ascii=False)
    elif fam == "parsing":
        out, text = path.with_suffix(".conllu"), udfile.write_predictions(records, names)
    elif fam == "tagging":
        out, lines = path.with_suffix(".conll"), []
        for r in records:
            for j, (w, p) in enumerate(zip(r["words"], r["pred"])):
                gold = names[r["gold"][j]] if j < len(r["gold"]) else "_"
                lines.append(f"{w}\t{gold}\t{names[p]}")
            lines.append("")
        text = "\n".join(lines) + "\n"
    else:
        out = path.with_suffix(".tsv")
        rows = ["id\tprediction"] + [f"{r['id']}\t{names[r['pred']] if fam == 'classification' else r['pred']}"
                                     for r in records]
        text = "\n".join(rows) + "\n"
    return write_atomic(out, text.encode("utf-8"))
