"""Universal Dependencies CoNLL-U: UPOS for tagging (``ud-<treebank>-pos``), HEAD + DEPREL for parsing
(``ud-<treebank>-parse``).

As UD's own tools read it: a multi-word token line (``3-4  don't``) gives the surface word that is rendered, and
its syntactic words (``3 do``, ``4 n't``) are labelled, both pointing at that surface word (``word_index``);
empty nodes (``5.1``) are neither rendered nor labelled. Deprels keep their universal part (``nmod:poss`` ->
``nmod``), as PIXEL's run_ud.py and the CoNLL 2018 LAS score do. ``doc_id`` is the ``# sent_id`` (or the line of
the sentence's first token).

A parsing record also keeps the sentence's CoNLL-U block as read (its comments and token lines, empty nodes
included): ``pixel-train evaluate`` writes its predictions into that block, so the file has the gold tokenization,
forms and comments the official CoNLL 2018 scorer aligns on (trainer/udfile.py).

A sentence with a broken line (not 10 tab-separated columns, ids out of order, a head outside the sentence, a
missing label) is one dead letter naming the file, the line and the reason.
"""

from __future__ import annotations

import re
from typing import Iterator

from ..readers.streams import Opener, open_binary
from .records import DeadLetter, LabelledRecord, Record, TaskDef, text_lines

_ID = re.compile(r"^(\d+)(?:-(\d+)|\.(\d+))?$")


def describe(name: str) -> TaskDef:
    """``ud-<treebank>-pos`` or ``ud-<treebank>-parse`` (e.g. ud-en_ewt-pos); the language is the treebank's prefix."""
    m = re.match(r"^ud-([a-z0-9_]+?)-(pos|parse)$", name)
    if not m:
        raise ValueError(f"--task {name}: UD tasks are named ud-<treebank>-pos or ud-<treebank>-parse, e.g. ud-en_ewt-pos")
    lang = m.group(1).split("_")[0]
    if m.group(2) == "pos":
        return TaskDef(name, "conllu", "tagging", "words", "accuracy", lang, None, "upos")
    return TaskDef(name, "conllu", "parsing", "words", "uas_las", lang, None, "deprel")


class _Broken(Exception):
    def __init__(self, line: int, reason: str, detail: str):
        super().__init__(detail)
        self.line, self.reason, self.detail = line, reason, detail


def sentence_record(lines: list[tuple[int, str]], task: TaskDef, path: str, sent_id: str | None,
                    block: str = "") -> LabelledRecord:
    """One sentence's token lines -> a record (parsing: ``block``, the sentence's lines as read, goes along);
    raises _Broken for a bad line."""
    words: list[str] = []
    word_index: list[int] = []
    tags: list[str] = []
    heads: list[int] = []
    mwt_end = 0  # last syntactic id covered by the current multi-word token
    for line_no, line in lines:
        cols = line.split("\t")
        if len(cols) != 10:
            raise _Broken(line_no, "bad_conllu_line", f"{len(cols)} columns, CoNLL-U has 10")
        m = _ID.match(cols[0])
        if not m:
            raise _Broken(line_no, "bad_conllu_line", f"bad ID {cols[0]!r}")
        if m.group(3) is not None:  # empty node: not rendered, not labelled
            continue
        first = int(m.group(1))
        if m.group(2) is not None:  # multi-word token: render its surface form
            last = int(m.group(2))
            if first != len(tags) + 1 or last < first:
                raise _Broken(line_no, "bad_conllu_line", f"range {cols[0]} out of order")
            words.append(cols[1])
            mwt_end = last
            continue
        if first != len(tags) + 1:
            raise _Broken(line_no, "bad_conllu_line", f"word id {first}, expected {len(tags) + 1}")
        if first > mwt_end:
            words.append(cols[1])
        word_index.append(len(words) - 1)
        tag = cols[3] if task.layout == "upos" else cols[7].split(":")[0]
        if tag in ("", "_"):
            raise _Broken(line_no, "missing_label", f"no {task.layout.upper()} for word {first}")
        tags.append(tag)
        if task.layout == "deprel":
            if not (cols[6].isascii() and cols[6].isdigit()):  # str.isdigit takes "²", which int() refuses
                raise _Broken(line_no, "bad_head", f"HEAD {cols[6]!r}")
            heads.append(int(cols[6]))
    if not tags:
        raise _Broken(lines[0][0] if lines else 0, "empty_text", "no words")
    if mwt_end > len(tags):
        raise _Broken(lines[-1][0], "bad_conllu_line", f"multi-word token up to {mwt_end}, sentence has {len(tags)}")
    if any(not w.strip() for w in words):
        raise _Broken(lines[0][0], "empty_text", "a word form is empty")
    if heads and max(heads) > len(tags):
        raise _Broken(lines[0][0], "bad_head", f"head {max(heads)} outside a {len(tags)}-word sentence")
    if heads and (problem := tree_problem(heads)):
        raise _Broken(lines[0][0], "bad_tree", problem)
    return LabelledRecord(task.name, sent_id or str(lines[0][0]), path, lines[0][0], words=tuple(words),
                          word_index=tuple(word_index), tags=tuple(tags), heads=tuple(heads),
                          conllu=block if task.layout == "deprel" else "")


def tree_problem(heads: list[int]) -> str | None:
    """Why HEAD (1-based, 0 = root) is not a UD basic tree -- one root word, every word reaching it -- or None.
    The CoNLL 2018 scorer refuses such a gold sentence, and a parser cannot be trained towards it."""
    roots = [i for i, h in enumerate(heads, 1) if h == 0]
    if len(roots) != 1:
        return f"{len(roots)} root words{f' ({roots[:5]})' if roots else ''}, UD has one"
    reaches = [True] + [False] * len(heads)  # word -> known to reach the root (0 does); linear in the words
    for start in range(1, len(heads) + 1):
        path, w = set(), start
        while not reaches[w]:
            if w in path:
                return f"a cycle through word {w}"
            path.add(w)
            w = heads[w - 1]
        for v in path:
            reaches[v] = True
    return None


def read(path: str, task: TaskDef, opener: Opener = open_binary) -> Iterator[Record]:
    lines: list[tuple[int, str]] = []
    block: list[str] = []  # the sentence's comment and token lines, in order
    sent_id: str | None = None
    bad: DeadLetter | None = None

    def flush() -> Record | None:
        if bad is not None:
            return bad
        if not lines:
            return None
        try:
            return sentence_record(lines, task, path, sent_id, "\n".join(block))
        except _Broken as e:
            return DeadLetter(task.name, path, f"line {e.line}", e.reason, e.detail[:300])

    for line_no, line in text_lines(path, opener, task.name):
        if isinstance(line, DeadLetter):
            bad = bad or line
            continue
        if not line.strip():
            rec = flush()
            if rec is not None:
                yield rec
            lines, block, sent_id, bad = [], [], None, None
        elif line.startswith("#"):
            block.append(line)
            if line.startswith("# sent_id") and "=" in line:
                sent_id = line.split("=", 1)[1].strip()
        else:
            block.append(line)
            lines.append((line_no, line))
    rec = flush()
    if rec is not None:
        yield rec
