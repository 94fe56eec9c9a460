"""Books: a directory of plain-text books (Project Gutenberg style), one book file, or the bookcorpusopen layout."""

from __future__ import annotations

import os
from typing import Iterator

from ..documents import Record, Skipped, no_surrogates
from .streams import Opener, open_binary, special_file
from .text import iter_text

_BOOK_SUFFIXES = (".txt", ".txt.gz", ".txt.bz2", ".txt.xz", ".txt.zst")


def book_files(path: str) -> list[str]:
    """The files ``iter_book_dir`` reads in the local directory ``path``, in its order."""
    names = (os.path.join(path, n) for n in sorted(os.listdir(path)) if n.lower().endswith(_BOOK_SUFFIXES))
    return [f for f in names if os.path.isfile(f)]  # (a regular file: never a FIFO, socket or device)


def iter_book_dir(path: str, source: str, opener: Opener = open_binary, max_doc_chars: int = 0) -> Iterator[Record]:
    """A local directory of plain-text books (``*.txt[.gz|.bz2|.xz|.zst]``, sorted by name), one Document per file.
    Anything else in it (a .jsonl, a subdirectory) is not read: a ``not_a_book_file`` skip, counted, not silence;
    a named pipe, socket or device (whatever its name) is a ``not_a_regular_file`` skip, never opened."""
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if special_file(full):
            yield Skipped(source, no_surrogates(name), "not_a_regular_file")
        elif name.lower().endswith(_BOOK_SUFFIXES) and os.path.isfile(full):
            yield from iter_text(full, source, opener, mode="file", max_doc_chars=max_doc_chars)
        else:
            yield Skipped(source, no_surrogates(name), "not_a_book_file")


def iter_books(path: str, source: str, opener: Opener = open_binary, text_field: str = "text",
               max_doc_chars: int = 0) -> Iterator[Record]:
    """Books: a directory or a file per book, or the bookcorpusopen layout (jsonl/parquet with ``title``, ``text``).
    ``max_doc_chars`` (0: none): a book file over 4 bytes per character of it (+1 MiB) is not read whole
    (``iter_text``)."""
    from . import detect_format, reader  # the registry imports this module

    if os.path.isdir(path):
        return iter_book_dir(path, source, opener, max_doc_chars)
    fmt = detect_format(path)
    if fmt in ("jsonl", "parquet"):
        size = {"max_doc_chars": max_doc_chars} if fmt == "jsonl" else {}  # parquet: ReadFileFn's check
        return reader(fmt)(path, source, opener, text_field=text_field, id_field="title", **size)
    return iter_text(path, source, opener, mode="file", max_doc_chars=max_doc_chars)
