"""XNLI per language: the TSVs and JSON lines it is distributed in.

- ``xnli.dev.tsv`` / ``xnli.test.tsv`` (XNLI-1.0): header with ``language``, ``gold_label``, ``sentence1``,
  ``sentence2``, ``pairID``; rows of other languages than the task's are skipped (counted, ``other_language``);
- XNLI-MT train (``multinli.train.<lang>.tsv``): header ``premise hypo label`` (``contradictory`` is read as
  ``contradiction``);
- three columns without a header (premise, hypothesis, label), as ``dev-<lang>.tsv`` exports are, or with the
  header ``premise hypothesis label`` (the Hugging Face ``xnli`` dataset's columns);
- a label is a class name or, in any layout, its index in the order of the Hugging Face ``xnli`` dataset card's
  ``class_label`` names (0 entailment, 1 neutral, 2 contradiction; ``LABELS`` here): that dataset written out as a
  TSV has index labels, and each of its rows was a ``label_not_in_vocabulary`` dead letter;
- ``.jsonl``: ``{"premise", "hypothesis", "label"}``; an optional ``id`` (a string or number; without one -- or
  null, blank -- the line number).
"""

from __future__ import annotations

import json
from typing import Iterator

from ..readers.streams import Opener, open_binary
from ..documents import no_surrogates
from .glue import _rows
from .records import DeadLetter, LabelledRecord, Record, Skipped, TaskDef

LABELS = ("entailment", "neutral", "contradiction")
_SYNONYMS = {"contradictory": "contradiction"}
_INDICES = {str(i) for i in range(len(LABELS))}  # a TSV's index labels ("0", "1", "2")


def describe(name: str) -> TaskDef:
    """``xnli-<lang>`` (xnli-en, xnli-de, ...)."""
    lang = name.removeprefix("xnli-")
    if not lang or lang == name:
        raise ValueError(f"--task {name}: XNLI tasks are named xnli-<language>, e.g. xnli-en")
    return TaskDef(name, "xnli", "classification", "pair", "accuracy", lang, LABELS)


def read(path: str, task: TaskDef, opener: Opener = open_binary) -> Iterator[Record]:
    if path.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst")):
        yield from _read_jsonl(path, task, opener)
        return
    header: list[str] | None = None
    for line_no, row in _rows(path, task.name, opener):
        if isinstance(row, DeadLetter):
            yield row
            continue
        if header is None:
            if {"sentence1", "sentence2"} <= set(row) or {"premise", "hypo"} <= set(row) \
                    or {"premise", "hypothesis"} <= set(row):
                header = row
                continue
            header = ["premise", "hypo", "label"]
        if len(row) != len(header):
            yield DeadLetter(task.name, path, f"line {line_no}", "wrong_column_count",
                             f"{len(row)} columns, expected {len(header)}: {header}")
            continue
        cols = dict(zip(header, row))
        if "language" in cols and cols["language"] != task.language:
            yield Skipped(task.name, cols.get("pairID") or str(line_no), "other_language")
            continue
        a = cols.get("sentence1", cols.get("premise", ""))
        b = cols.get("sentence2", cols.get("hypo", cols.get("hypothesis", "")))
        label = cols.get("gold_label", cols.get("label"))
        yield _record(task, path, line_no, cols.get("pairID") or str(line_no), a, b, label)


def _record(task: TaskDef, path: str, line_no: int, doc_id: str, a, b, label) -> Record:
    pos = f"line {line_no}"
    if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
        return DeadLetter(task.name, path, pos, "empty_text", "premise or hypothesis is empty")
    if isinstance(label, int) and not isinstance(label, bool):
        if not 0 <= label < len(LABELS):
            return DeadLetter(task.name, path, pos, "label_not_in_vocabulary", f"label index {label}")
        label = LABELS[label]
    elif isinstance(label, str):
        label = label.strip()
        label = LABELS[int(label)] if label in _INDICES else _SYNONYMS.get(label, label) or None
    elif label is not None:
        return DeadLetter(task.name, path, pos, "bad_label", f"label {label!r}")
    if label is None:
        return DeadLetter(task.name, path, pos, "missing_label", "no label")
    return LabelledRecord(task.name, no_surrogates(str(doc_id)), path, line_no, text=no_surrogates(a),
                          text_b=no_surrogates(b), label=no_surrogates(label))  # JSON "\ud800": U+FFFD


def _read_jsonl(path: str, task: TaskDef, opener: Opener) -> Iterator[Record]:
    from ..readers.streams import STREAM_ERRORS, error_detail, open_stream, stream_reason

    line_no = 0
    with open_stream(path, opener) as fh:
        try:
            for line_no, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError, RecursionError) as e:
                    yield DeadLetter(task.name, path, f"line {line_no}", "invalid_json", str(e)[:300])
                    continue
                if not isinstance(rec, dict):
                    yield DeadLetter(task.name, path, f"line {line_no}", "invalid_json", "not a JSON object")
                    continue
                doc_id = rec.get("id")
                if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or not str(doc_id).strip():
                    doc_id = line_no  # no usable id (null, "", an object): the line, as for rows without one
                yield _record(task, path, line_no, doc_id, rec.get("premise"), rec.get("hypothesis"),
                              rec.get("label"))
        except STREAM_ERRORS as e:  # a truncated/corrupt .gz/.zst: the records before the cut are kept
            yield DeadLetter(task.name, path, f"line {line_no + 1}", stream_reason(e), error_detail(e))
