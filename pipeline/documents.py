"""The records that flow through the pipeline before rendering. Plain frozen dataclasses; no Beam."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import ClassVar


def no_surrogates(s: str) -> str:
    """``s`` with each lone surrogate (a JSON ``"\\ud800"`` id, a byte of a file name that is not UTF-8) as U+FFFD:
    ids, names and report lines travel through Beam's UTF-8 string coder, which cannot encode them."""
    return _SURROGATE.sub("\ufffd", s)


_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Document:
    """One input document, as a source reader yields it."""

    source: str  # short source name, e.g. "enwiki", "gutenberg", "c4" (goes into sample keys)
    doc_id: str  # unique within the source: page id, file stem, the record's id field, or file:line
    text: str
    title: str = ""


class Outcome:
    """What became of a record that is not written -- the one shape for every skip and dead letter, from reading
    to rendering: ``Skipped`` (well-formed, left out on purpose) or ``DeadLetter`` (broken: file and position).
    Each is counted under its ``count_name`` (``skipped_<reason>``, ``dead_<reason>``) in the manifest's counts and
    goes to the Beam output named by its ``kind``."""

    kind: ClassVar[str]
    reason: str  # snake_case

    @property
    def count_name(self) -> str:
        return f"{self.kind}_{self.reason}"


@dataclass(frozen=True)
class DeadLetter(Outcome):
    """A record that could not become a Document: where it was and why. Nothing is dropped silently."""

    kind: ClassVar[str] = "dead"

    source: str
    file: str
    position: str  # "line 12", "page 5 (byte 40960)", "row 7" ...
    reason: str  # snake_case: invalid_json, missing_text, decode_error, truncated_file, ...
    detail: str = ""  # the error message, at most ~300 chars

    def to_json(self) -> str:
        """One line of ``dead_letters.jsonl``."""
        return no_surrogates(json.dumps({"source": self.source, "file": self.file, "position": self.position,
                                         "reason": self.reason, "detail": self.detail}, ensure_ascii=False,
                                        sort_keys=True))


@dataclass(frozen=True)
class Skipped(Outcome):
    """A well-formed record left out on purpose (not an error); counted by reason so every record is accounted for."""

    kind: ClassVar[str] = "skipped"

    source: str
    doc_id: str  # page id, the record's id field, or file:line, as a Document would have had
    reason: str  # snake_case: not_article_namespace, redirect, empty_text


@dataclass(frozen=True)
class TextChunk:
    """A piece of one document that fills (at most) one strip."""

    source: str
    doc_id: str
    index: int  # chunk number within the document, from 0
    text: str


Record = Document | DeadLetter | Skipped  # what a reader yields
