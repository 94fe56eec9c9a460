"""Extractive QA in SQuAD v1.1 JSON: SQuAD, XQuAD, TyDiQA-GoldP (``{"data": [{"paragraphs": [{"context",
"qas": [{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}``).

Every gold answer must be the context's text at its offset (``context[start:start + len(text)] == text``);
otherwise, or with an empty answer, question or context, the question is a dead letter naming the file, where
in the JSON it is, and the reason. A question without answers (a test file) is kept, unlabelled. A question id
that an earlier question of the file has is a ``duplicate_id`` dead letter (predictions are keyed by id).

A file whose every answer is blank (``{"text": "", "answer_start": 0}`` throughout, as in the shared
TyDiQA-GoldP English dev copy: its 440 questions all carry that one placeholder) is a file with its answers
removed, not 440 bad rows: its questions are kept unlabelled too (logged once per file). In a file where some
question has a real answer, a blank answer stays an ``empty_answer`` dead letter.
"""

from __future__ import annotations

import json
import logging
from typing import Iterator

from ..readers.streams import STREAM_ERRORS, Opener, error_detail, open_binary, open_stream, stream_reason
from ..documents import no_surrogates
from .records import DeadLetter, LabelledRecord, Record, TaskDef

log = logging.getLogger(__name__)


def describe(name: str) -> TaskDef:
    """``squad`` (English), ``xquad-<lang>``, ``tydiqa-<lang>``, ``korquad-ko``, ``jaquad-ja`` or any
    ``<corpus>-<lang>`` read as SQuAD JSON."""
    lang = name.split("-", 1)[1] if "-" in name else ("en" if name == "squad" else None)
    return TaskDef(name, "squad", "qa", "qa", "squad", lang)


def read(path: str, task: TaskDef, opener: Opener = open_binary) -> Iterator[Record]:
    with open_stream(path, opener) as fh:
        try:
            data = json.loads(fh.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            yield DeadLetter(task.name, path, "file", "invalid_json", str(e)[:300])
            return
        except STREAM_ERRORS as e:  # one JSON document: a cut file has no complete question to keep
            yield DeadLetter(task.name, path, "file", stream_reason(e), error_detail(e))
            return
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        yield DeadLetter(task.name, path, "file", "invalid_json", 'no "data" list (not SQuAD v1.1 JSON)')
        return
    questions, broken = _questions(articles)
    for where, what in broken:  # an article / paragraph / qas list of the wrong shape: its questions are unknown
        yield DeadLetter(task.name, path, where, "invalid_json", what)
    blank = answers_removed([qa for _, _, qa in questions])
    if blank:
        log.warning("%s: every answer is blank ({'text': '', ...}): the answers were removed; its %d questions are "
                    "kept unlabelled", path, len(questions))
    first: dict[str, str] = {}  # id -> where its first question is
    for where, ctx, qa in questions:
        rec = _record(task, path, where, ctx, qa, blank)
        if isinstance(rec, LabelledRecord):
            if rec.doc_id in first:  # SQuAD-style predictions are keyed by id: evaluate could not write both
                rec = DeadLetter(task.name, path, f"{where} (id {rec.doc_id})", "duplicate_id",
                                 f"id {rec.doc_id!r} is already the question at {first[rec.doc_id]}"[:300])
            else:
                first[rec.doc_id] = where
        yield rec


def _questions(articles: list) -> tuple[list[tuple[str, object, object]], list[tuple[str, str]]]:
    """(where, context, qa) of every question, and (where, what) of every article, paragraph or ``qas`` that is
    not the JSON type SQuAD v1.1 has there (a missing ``paragraphs`` / ``qas`` is an empty one)."""
    questions, broken = [], []

    def members(obj, key: str, kind: str, where: str) -> list | None:  # obj[key] as a list, else noted as broken
        got = obj.get(key, []) if isinstance(obj, dict) else None
        if not isinstance(got, list):
            broken.append((where, f"{kind} needs a '{key}' list, not {type(got).__name__}" if isinstance(obj, dict)
                           else f"{kind} is an object, not {type(obj).__name__}"))
            return None
        return got

    for i, art in enumerate(articles):
        for j, para in enumerate(members(art, "paragraphs", "an article", f"data[{i}]") or []):
            qas = members(para, "qas", "a paragraph", f"data[{i}].paragraphs[{j}]") or []
            questions += [(f"data[{i}].paragraphs[{j}].qas[{k}]", para.get("context"), qa) for k, qa in enumerate(qas)]
    return questions, broken


def answers_removed(qas: list) -> bool:
    """True when the file has answers and every one of them has blank text (a copy with its answers removed)."""
    answers = [a for qa in qas if isinstance(qa, dict) and isinstance(qa.get("answers"), list) for a in qa["answers"]]
    return bool(answers) and all(isinstance(a, dict) and isinstance(a.get("text"), str) and not a["text"].strip()
                                 for a in answers)


def _record(task: TaskDef, path: str, where: str, ctx, qa, blank: bool = False) -> Record:
    def dead(reason: str, detail: str) -> DeadLetter:
        qid = qa.get("id") if isinstance(qa, dict) else None
        return DeadLetter(task.name, path, f"{where} (id {qid})", reason, detail[:300])

    if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
        return dead("invalid_json", "a question needs a string 'question'")
    if not isinstance(ctx, str) or not ctx.strip():
        return dead("empty_text", "empty context")
    if not qa["question"].strip():
        return dead("empty_text", "empty question")
    qid = qa.get("id")
    if not isinstance(qid, (str, int)) or not str(qid).strip():
        return dead("missing_id", "a question needs an id")
    answers = []
    answers_in = qa.get("answers") or []
    if not isinstance(answers_in, list):
        return dead("invalid_json", f"'answers' must be a list, not {type(answers_in).__name__}")
    for a in () if blank else answers_in:
        text, start = (a.get("text"), a.get("answer_start")) if isinstance(a, dict) else (None, None)
        if not isinstance(text, str) or type(start) is not int:
            return dead("invalid_json", f"answer {a!r} needs text and an int answer_start")
        if not text.strip():
            return dead("empty_answer", f"empty answer text at {start}")
        if start < 0 or ctx[start:start + len(text)] != text:
            return dead("answer_not_at_offset", f"{text!r} is not the context at {start}: "
                                                f"{ctx[max(0, start):start + len(text)]!r}{_utf16_hint(ctx, start, text)}")
        answers.append((text, start))
    # a JSON "\ud800" escape is a lone surrogate, which no UTF-8 writer takes: U+FFFD (one code point for one,
    # so every answer_start still points at its answer)
    return LabelledRecord(task.name, no_surrogates(str(qid)), path, 0, text=no_surrogates(qa["question"]),
                          text_b=no_surrogates(ctx), answers=tuple((no_surrogates(t), s) for t, s in answers))


def _utf16_hint(ctx: str, start: int, text: str) -> str:
    """A note when ``start`` counts UTF-16 code units (as JavaScript tools write offsets), not code points: the
    two differ after a character outside the BMP (an emoji, a CJK extension ideograph)."""
    units, n = ctx.encode("utf-16-le", "surrogatepass"), len(text.encode("utf-16-le", "surrogatepass"))
    if start >= 0 and units[2 * start:2 * start + n] == text.encode("utf-16-le", "surrogatepass"):
        return "; it is there counting UTF-16 code units: answer_start must count code points (Python str indices)"
    return ""
