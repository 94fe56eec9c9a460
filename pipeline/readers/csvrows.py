"""CSV with a header row (``.csv``, compressed or not): one document per row; ``--text_field``/``--id_field`` name
the columns. A row without an id gets ``f"{file_stem}-{row}"`` (rows counted from 1 after the header). A row with
more fields than the header (an unquoted comma cut its text) is a ``wrong_column_count`` dead letter. A row that
breaks the CSV syntax (strictly: a stray quote, a quoted field left open) or UTF-8 ends the file with one dead
letter (the rows after it cannot be found reliably)."""

from __future__ import annotations

import csv
import io
from typing import Iterator

from ..documents import DeadLetter, Record
from .streams import STREAM_ERRORS, Opener, error_detail, file_stem, open_binary, open_stream, stream_reason
from .web import web_record


def iter_csv(path: str, source: str, opener: Opener = open_binary, text_field: str = "text",
             id_field: str = "id") -> Iterator[Record]:
    csv.field_size_limit(1 << 30)  # a document may be longer than the csv module's default 128 KiB field limit
    stem, row = file_stem(path), 0
    with open_stream(path, opener) as fh:
        rows = csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8-sig", newline=""), strict=True)
        try:
            for row, rec in enumerate(rows, 1):
                if None in rec:  # DictReader keeps the fields past the header's under None
                    n = len(rows.fieldnames)
                    yield DeadLetter(source, path, f"row {row}", "wrong_column_count",
                                     f"{n + len(rec[None])} fields, the header has {n}")
                    continue
                yield web_record(rec, source, path, f"row {row}", f"{stem}-{row}", text_field, id_field)
        except (csv.Error, UnicodeDecodeError) as e:  # the rest of the file cannot be split into rows reliably
            yield DeadLetter(source, path, f"row {row + 1}", "malformed_csv", error_detail(e))
        except STREAM_ERRORS as e:
            yield DeadLetter(source, path, f"row {row + 1}", stream_reason(e), error_detail(e))
