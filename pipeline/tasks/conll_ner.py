"""CoNLL column NER: CoNLL-2003 (``word POS chunk tag``, ``-DOCSTART-`` lines) and MasakhaNER (``word tag``).

Columns are space-separated; the word is the first, the tag the last. ``-DOCSTART-`` lines and blank lines end a
sentence. Tags are written as BIO (IOB2): CoNLL-2003's original IOB1 (``I-`` opening an entity) becomes
``B-``, which leaves BIO input such as MasakhaNER unchanged -- what seqeval's default scheme and the Hugging Face
``conll2003`` dataset use. ``doc_id`` is the line of the sentence's first word. A line with another column count
than the file's first line of two or more columns, or a tag that is not ``O``/``B-X``/``I-X``, makes its sentence
a dead letter.
"""

from __future__ import annotations

import re
from typing import Iterator

from ..readers.streams import Opener, open_binary
from .records import DeadLetter, LabelledRecord, Record, TaskDef, text_lines

_TAG = re.compile(r"^(O|[BI]-\S+)$")


def describe(name: str) -> TaskDef:
    """``conll2003-ner`` or ``masakhaner-<lang>-ner`` (any ``<corpus>[-<lang>]-ner`` name reads this format)."""
    m = re.match(r"^([a-z0-9_]+?)(?:-([a-z0-9_]+))?-ner$", name)
    if not m:
        raise ValueError(f"--task {name}: NER tasks are named <corpus>[-<lang>]-ner, e.g. conll2003-ner")
    lang = m.group(2) or ("en" if m.group(1) == "conll2003" else None)
    return TaskDef(name, "conll_ner", "tagging", "words", "seqeval", lang)


def to_bio(tags: list[str]) -> list[str]:
    """IOB1 -> IOB2: an ``I-X`` that does not continue an ``X`` entity opens one (``B-X``)."""
    out, prev = [], "O"
    for t in tags:
        if t.startswith("I-") and prev[2:] != t[2:]:
            t = "B-" + t[2:]
        out.append(t)
        prev = t
    return out


def read(path: str, task: TaskDef, opener: Opener = open_binary) -> Iterator[Record]:
    words: list[str] = []
    tags: list[str] = []
    first_line, ncols, bad = 0, 0, None

    def flush() -> Record | None:
        if bad is not None:
            return bad
        if not words:
            return None
        return LabelledRecord(task.name, str(first_line), path, first_line, words=tuple(words),
                              word_index=tuple(range(len(words))), tags=tuple(to_bio(tags)))

    for line_no, line in text_lines(path, opener, task.name):
        if isinstance(line, DeadLetter):
            bad = bad or line
            continue
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            rec = flush()
            if rec is not None:
                yield rec
            words, tags, bad = [], [], None
            continue
        if not words and bad is None:
            first_line = line_no
        ncols = ncols or (len(cols) if len(cols) >= 2 else 0)  # a broken first line sets no column count
        if bad is None and (len(cols) != ncols or len(cols) < 2):
            bad = DeadLetter(task.name, path, f"line {line_no}", "wrong_column_count",
                             f"{len(cols)} columns, the file has {ncols} (at least 2: word ... tag)")
        elif bad is None and not _TAG.match(cols[-1]):
            bad = DeadLetter(task.name, path, f"line {line_no}", "bad_tag", f"tag {cols[-1]!r} is not O, B-X or I-X")
        words.append(cols[0])
        tags.append(cols[-1])
    rec = flush()
    if rec is not None:
        yield rec
