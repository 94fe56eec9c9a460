"""GLUE's TSVs, as GLUE distributes them: CoLA (no header), SST-2, MRPC, QQP, STS-B, MNLI, QNLI, RTE, WNLI.

Columns are found by the header's names (test files lack the label column: their rows are unlabelled); CoLA's
train/dev have no header and four columns (source, label, original label, sentence). Fields are split on tabs only
-- GLUE's rows hold unbalanced quotes, so no CSV quoting. A row with another column count than the header, an
empty text or a missing/unparseable label is a dead letter (file, line, reason).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

from ..readers.streams import Opener, open_binary
from .records import DeadLetter, LabelledRecord, Record, TaskDef, text_lines


@dataclass(frozen=True)
class Layout:
    texts: tuple[str, ...]  # one (text) or two (pair) column names
    label: str
    labels: tuple[str, ...] | None  # documented class order (index = label id); None: regression
    metric: str


LAYOUTS = {
    "cola": Layout(("sentence",), "label", ("0", "1"), "mcc"),
    "sst2": Layout(("sentence",), "label", ("0", "1"), "accuracy"),
    "mrpc": Layout(("#1 String", "#2 String"), "Quality", ("0", "1"), "accuracy_f1"),
    "qqp": Layout(("question1", "question2"), "is_duplicate", ("0", "1"), "accuracy_f1"),
    "stsb": Layout(("sentence1", "sentence2"), "score", None, "pearson_spearman"),
    "mnli": Layout(("sentence1", "sentence2"), "gold_label", ("entailment", "neutral", "contradiction"), "accuracy"),
    "qnli": Layout(("question", "sentence"), "label", ("entailment", "not_entailment"), "accuracy"),
    "rte": Layout(("sentence1", "sentence2"), "label", ("entailment", "not_entailment"), "accuracy"),
    "wnli": Layout(("sentence1", "sentence2"), "label", ("0", "1"), "accuracy"),
}
_ALIASES = {"sst-2": "sst2", "sts-b": "stsb"}
COLA_COLUMNS = ("source", "label", "original_label", "sentence")


def describe(name: str) -> TaskDef:
    """``glue-<task>`` (glue-cola, glue-sst2, glue-mrpc, glue-qqp, glue-stsb, glue-mnli, glue-qnli, glue-rte, glue-wnli)."""
    key = name.removeprefix("glue-")
    key = _ALIASES.get(key, key)
    if key not in LAYOUTS:
        raise ValueError(f"--task {name}: unknown GLUE task; one of {', '.join('glue-' + k for k in LAYOUTS)}")
    lay = LAYOUTS[key]
    return TaskDef(name, "glue", "classification" if lay.labels else "regression",
                   "pair" if len(lay.texts) == 2 else "text", lay.metric, "en", lay.labels, key)


def _rows(path: str, source: str, opener: Opener) -> Iterator[tuple[int, list[str] | DeadLetter]]:
    """A TSV's non-blank rows split on tabs; an undecodable line as ``source``'s dead letter."""
    for line_no, line in text_lines(path, opener, source):
        if isinstance(line, DeadLetter):
            yield line_no, line
        elif line.strip():
            yield line_no, line.split("\t")


def read(path: str, task: TaskDef, opener: Opener = open_binary) -> Iterator[Record]:
    lay = LAYOUTS[task.layout]
    header: list[str] | None = None
    for line_no, row in _rows(path, task.name, opener):
        if isinstance(row, DeadLetter):
            yield row
            continue
        if header is None:
            if task.layout == "cola" and row[0] != "index":  # CoLA train/dev: no header line
                header = list(COLA_COLUMNS)
            else:
                header = row
                missing = [c for c in lay.texts if c not in header]
                if missing:
                    yield DeadLetter(task.name, path, f"line {line_no}", "bad_header",
                                     f"no column {missing} in header {header}"[:300])
                    return
                continue
        yield _record(row, header, lay, task, path, line_no)


def file_problem(path: str, task: TaskDef, opener: Opener = open_binary) -> str | None:
    """Why ``task`` cannot read this file at all (its header lacks the task's text columns: another task's file), for
    the settings check to refuse before work; it was one ``bad_header`` dead letter standing for all its rows."""
    first = next(read(path, task, opener), None)
    if isinstance(first, DeadLetter) and first.reason == "bad_header":
        return first.detail
    return None


def _record(row: list[str], header: list[str], lay: Layout, task: TaskDef, path: str, line_no: int) -> Record:
    def dead(reason: str, detail: str) -> DeadLetter:
        return DeadLetter(task.name, path, f"line {line_no}", reason, detail[:300])

    if len(row) != len(header):
        return dead("wrong_column_count", f"{len(row)} columns, expected {len(header)}: {header}")
    cols = dict(zip(header, row))
    texts = [cols[c] for c in lay.texts]
    if any(not t.strip() for t in texts):
        return dead("empty_text", f"empty {[c for c in lay.texts if not cols[c].strip()]}")
    label: str | float | None = None
    if lay.label in cols:  # test files have no label column: unlabelled rows
        raw = cols[lay.label].strip()
        if not raw:
            return dead("missing_label", f"empty {lay.label!r}")
        if lay.labels is None:
            try:
                label = float(raw)
            except ValueError:
                return dead("bad_label", f"{lay.label}={raw!r} is not a number")
            if not math.isfinite(label):  # float() takes "nan", "inf" and "1e400": a NaN loss, not a target
                return dead("bad_label", f"{lay.label}={raw!r} is not a finite number")
        else:
            label = raw
    doc_id = next((cols[c] for c in ("index", "id") if c in cols and cols[c].strip()), str(line_no))
    return LabelledRecord(task.name, doc_id.strip(), path, line_no, text=texts[0],
                          text_b=texts[1] if len(texts) == 2 else None, label=label)
