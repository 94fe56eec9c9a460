"""The records that flow through the pipeline before rendering. Plain frozen dataclasses; no Beam."""

from __future__ import annotations

import re
from dataclasses import dataclass


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


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not become a Document: where it was and why. Nothing is dropped silently."""

    source: str
    file: str
    position: str  # "line 12", "page 5 (byte 40960)", "row 7" ...
    reason: str  # snake_case: invalid_json, missing_text, decode_error, truncated_file, ...
    detail: str = ""  # the error message, at most ~300 chars


@dataclass(frozen=True)
class Skipped:
    """A well-formed record left out on purpose (not an error); counted by reason so every record is accounted for."""

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
