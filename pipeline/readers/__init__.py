"""Corpus readers: pure generators of ``Document | DeadLetter | Skipped``, one module per input format, no Beam.

Every reader is ``read(path, source, opener=open_binary, **options) -> Iterator[Record]``. It streams the file
(decompressed by suffix: .bz2, .gz, .xz, .zst) and does not raise on bad data: a broken record becomes a ``DeadLetter``
(file + position), a record left out on purpose becomes ``Skipped``, and a stream that breaks (truncated or
corrupt) ends the file with one ``DeadLetter`` after the records read so far. Errors from ``opener`` itself
(missing file, permission) propagate; ``sources.ReadFileFn`` (the Beam edge) makes them ``unreadable_file``.

``FORMATS`` is the one registry: ``--format``'s choices and help (``pixel-render run``, ``pixel-render tokenizer``),
``--format auto``'s suffix map, ``iter_documents`` and the dataset card (what each source was read as, and the
license a format implies) all read it. A new format is one module here and one line
below (pipeline/README.md shows one).

    for rec in iter_documents("dumps/enwiki-pages-articles-multistream.xml.bz2", "auto", "enwiki"): ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import import_module
from typing import Callable, Iterator

from ..documents import Record
from .streams import Opener, open_binary, split_name

OPTIONS = ("text_field", "id_field")  # the reader options a run can set (--text_field, --id_field)
# --max_doc_chars, which a reader takes when it can refuse a record before the costly part of reading it (a
# MediaWiki page before its wikitext is parsed, a text file before it is read whole, a JSON line before it is
# parsed); ReadFileFn checks every Document against it anyway
SIZE_OPTION = "max_doc_chars"


@dataclass(frozen=True)
class Format:
    reader: str  # "module:function", imported on first use (a parquet-less install never loads pyarrow)
    suffixes: tuple[str, ...] = ()  # file suffixes (before .gz/.bz2/.xz/.zst) that --format auto reads with it
    options: tuple[str, ...] = ()  # which of OPTIONS (and SIZE_OPTION) the reader takes
    help: str = ""  # --format's help, and what the dataset card says the source was read as
    license: str = ""  # the license text in this format comes under, when the format implies one (the card says it)


FORMATS: dict[str, Format] = {
    "wikipedia": Format("pixelkit.pipeline.readers.wikidump:iter_wikipedia", (".xml",), (SIZE_OPTION,),
                        help="MediaWiki XML export (pages-articles, multistream .bz2 too)",
                        license="Wikipedia: CC BY-SA 3.0 and GFDL (dumps before June 2023), CC BY-SA 4.0 since; "
                                "another wiki: its own terms"),
    "books": Format("pixelkit.pipeline.readers.books:iter_books", (), ("text_field", SIZE_OPTION),
                    help="a directory of .txt books, or bookcorpusopen jsonl/parquet"),
    "jsonl": Format("pixelkit.pipeline.readers.jsonl:iter_jsonl", (".jsonl", ".ndjson"), (*OPTIONS, SIZE_OPTION),
                    help="JSON lines, one document per line"),
    "parquet": Format("pixelkit.pipeline.readers.parquet:iter_parquet", (".parquet",), OPTIONS,
                      help="parquet, one document per row"),
    "text": Format("pixelkit.pipeline.readers.text:iter_text", (".txt",), (SIZE_OPTION,),
                   help="plain UTF-8 text, one document per file"),
    "csv": Format("pixelkit.pipeline.readers.csvrows:iter_csv", (".csv",), OPTIONS, help="CSV with a header row"),
}


def choices() -> tuple[str, ...]:
    """``--format``'s choices: ``auto`` (by suffix) and every registered format."""
    return ("auto", *FORMATS)


def format_help() -> str:
    return "auto: by file suffix; " + "; ".join(f"{name}: {f.help}" for name, f in FORMATS.items())


def reader(fmt: str) -> Callable[..., Iterator[Record]]:
    """The read function of a registered format (imported now)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {choices()}")
    module, func = FORMATS[fmt].reader.split(":")
    return getattr(import_module(module), func)


def format_of(pattern: str, fmt: str = "auto") -> str | None:
    """The format a run reads ``pattern``'s files in: ``fmt``, or by the pattern's suffix; None when the suffix
    does not tell (the files are then detected one by one)."""
    if fmt != "auto":
        return fmt
    try:
        return detect_format(pattern)
    except ValueError:
        return None


def detect_format(path: str) -> str:
    """The format for ``path`` by suffix (a local directory is ``books``); ValueError if the suffix is unknown."""
    if os.path.isdir(path):
        return "books"
    suffix = os.path.splitext(split_name(path)[0])[1].lower()
    for name, f in FORMATS.items():
        if suffix in f.suffixes:
            return name
    known = sorted(s for f in FORMATS.values() for s in f.suffixes)
    raise ValueError(f"cannot tell the format of {path!r} from its suffix ({known}); pass one of {tuple(FORMATS)}")


def iter_documents(path: str, fmt: str = "auto", source: str = "corpus", opener: Opener = open_binary,
                   text_field: str = "text", id_field: str = "id", max_doc_chars: int = 0) -> Iterator[Record]:
    """The records of one file (or book directory) in format ``fmt`` (one of ``choices()``). Raises ValueError early
    for an unknown format; everything else is reported as records. ``max_doc_chars`` (0: none) goes to the readers
    that can refuse a record over it before parsing it."""
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {choices()}")
    name = detect_format(path) if fmt == "auto" else fmt
    opts = {"text_field": text_field, "id_field": id_field, SIZE_OPTION: max_doc_chars}
    return reader(name)(path, source, opener, **{k: opts[k] for k in FORMATS[name].options})


__all__ = ["FORMATS", "OPTIONS", "SIZE_OPTION", "Format", "choices", "detect_format", "format_help", "format_of",
           "iter_documents", "reader"]
