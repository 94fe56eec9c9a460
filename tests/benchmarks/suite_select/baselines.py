"""What the tiny suite's GLUE train rows allow without any pretraining: majority class and bag-of-words baselines.

    .venv/bin/python tests/benchmarks/suite_select/baselines.py     # a few seconds; prints a Markdown table

The same train rows as trainer/suites/tiny.yaml (the first 2,000 of CoLA and MRPC; all 2,490 of RTE since the
seventh run, the first 1,000 before) and every dev row, scored with the suite's metrics; "majority" is the dev
split's most frequent class, as in the suite's report. Word 1-2-gram tf-idf into scikit-learn's logistic regression
at its defaults (C=1), nothing tuned: one sentence (CoLA, with the suite's balanced class weights) reads its
vector; a pair (MRPC, RTE) reads |a - b| and a * b of its two sentences' vectors. A reference for "above the majority where the data allows", not a
model of this project.
"""

import csv
from pathlib import Path

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

GLUE = Path("../shared/data/glue")
# name, rows used (None: all), header, label column, text columns, positive label, metrics
TASKS = (("CoLA", 2000, False, 1, (3,), "1", ("mcc",)),
         ("MRPC", 2000, True, 0, (3, 4), "1", ("f1", "accuracy")),
         ("RTE", 1000, True, 3, (1, 2), "not_entailment", ("accuracy",)),
         ("RTE", None, True, 3, (1, 2), "not_entailment", ("accuracy",)))
METRICS = {"mcc": matthews_corrcoef, "f1": f1_score, "accuracy": accuracy_score}


def read(path: Path, header: bool, limit: int | None = None) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[1:][:limit] if header else rows[:limit]


def features(vec: TfidfVectorizer, rows: list[list[str]], cols: tuple[int, ...]):
    if len(cols) == 1:
        return vec.transform([r[cols[0]] for r in rows])
    a, b = (vec.transform([r[c] for r in rows]) for c in cols)
    return hstack([abs(a - b), a.multiply(b)]).tocsr()


def main() -> None:
    print("| task | train rows | metric | majority | bag of words (LR) |\n|---|---:|---|---:|---:|")
    for name, used, header, label, cols, pos, metrics in TASKS:
        train, dev = read(GLUE / name / "train.tsv", header, used), read(GLUE / name / "dev.tsv", header)
        y, gold = (np.array([r[label] == pos for r in rows], dtype=int) for rows in (train, dev))
        vec = TfidfVectorizer(ngram_range=(1, 2)).fit([r[c] for r in train for c in cols])
        weights = "balanced" if name == "CoLA" else None
        clf = LogisticRegression(max_iter=5000, class_weight=weights).fit(features(vec, train, cols), y)
        pred = clf.predict(features(vec, dev, cols))
        majority = np.full_like(gold, np.bincount(gold).argmax())  # as the suite's report: the scored split's
        for m in metrics:
            print(f"| {name} | {len(train)} | {m} | {100 * METRICS[m](gold, majority):.1f} | "
                  f"{100 * METRICS[m](gold, pred):.1f} |")


if __name__ == "__main__":
    main()
