"""The records a task reader yields: plain frozen dataclasses, no Beam.

A reader turns one file into ``LabelledRecord`` (a row, a sentence, a question), ``DeadLetter`` (a bad row: file,
line, reason) or ``Skipped`` (a row left out on purpose, e.g. another language in XNLI's multilingual file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from pixelkit.schemas import TaskSpec

from ..documents import DeadLetter, Skipped
from ..readers.streams import STREAM_ERRORS, Opener, error_detail, open_stream, stream_reason


@dataclass(frozen=True)
class TaskDef:
    """A task as the pipeline knows it: its reader, how it renders, its metric and (if documented) its classes."""

    name: str
    format: str  # reader key in FORMATS
    family: str  # classification | regression | tagging | parsing | qa
    input: str  # text | pair | words | qa
    metric: str
    language: str | None = None
    label_names: tuple[str, ...] | None = None  # fixed documented class order; None: sorted from the train split
    layout: str = ""  # reader-specific: GLUE task layout, CoNLL-U column (upos | deprel)

    def spec(self, label_names: list[str]) -> TaskSpec:
        return TaskSpec(self.name, self.family, self.input, list(label_names), self.metric, self.language).validate()


@dataclass(frozen=True)
class LabelledRecord:
    source: str  # the task name (goes into sample keys)
    doc_id: str  # the row's id, the sentence id or the question id
    file: str
    line: int  # 1-based line of the row / the sentence's first line (0 when the format has no lines: JSON)
    text: str = ""  # the text, sentence A, or the question
    text_b: str | None = None  # sentence B, or the QA context
    words: tuple[str, ...] = ()  # surface words to render (tagging / parsing)
    word_index: tuple[int, ...] = ()  # per syntactic word: index into ``words``
    tags: tuple[str, ...] = ()  # per syntactic word: UPOS / BIO tag / deprel
    heads: tuple[int, ...] = ()  # parsing: per syntactic word, 1-based head, 0 = root
    label: str | float | None = None  # class name or regression score; None = unlabelled
    answers: tuple[tuple[str, int], ...] = ()  # QA: (text, answer_start) of every gold answer
    conllu: str = ""  # UD parsing: the sentence's CoNLL-U block as read (comments and token lines)

    @property
    def position(self) -> str:
        return f"line {self.line}" if self.line else f"question {self.doc_id}"


Record = LabelledRecord | DeadLetter | Skipped
__all__ = ["DeadLetter", "LabelledRecord", "Record", "Skipped", "TaskDef"]


def text_lines(path: str, opener: Opener, source: str) -> Iterator[tuple[int, str | DeadLetter]]:
    """A UTF-8 file's numbered lines (BOM dropped, line ends stripped), as every line-based reader takes them; an
    undecodable line comes back as a ``decode_error`` dead letter of ``source`` (the task's name). A stream that
    breaks (a truncated or corrupt .gz/.bz2/.zst) ends the file with one ``truncated_file`` / ``corrupt_file`` dead
    letter at the line after the last complete one, as the corpus readers do."""
    line_no = 0
    with open_stream(path, opener) as fh:
        try:
            for line_no, raw in enumerate(fh, 1):
                try:
                    yield line_no, raw.decode("utf-8-sig" if line_no == 1 else "utf-8").rstrip("\r\n")
                except UnicodeDecodeError as e:
                    yield line_no, DeadLetter(source, path, f"line {line_no}", "decode_error", str(e)[:300])
        except STREAM_ERRORS as e:
            yield line_no + 1, DeadLetter(source, path, f"line {line_no + 1}", stream_reason(e), error_detail(e))
