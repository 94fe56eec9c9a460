"""CSV with a header row (``.csv``, compressed or not): one document per row; ``--text_field``/``--id_field`` name
the columns. A row without an id gets ``f"{file_stem}-{row}"`` (rows counted from 1 after the header). A row with
more fields than the header (an unquoted comma cut its text) is a ``wrong_column_count`` dead letter, one with bytes
that are not UTF-8 a ``decode_error``; a header naming a column twice is one ``duplicate_column`` for the file. A row
that breaks the CSV syntax (strictly: a stray quote, a quoted field left open) ends the file with one dead letter
(the rows after it cannot be found reliably)."""

from __future__ import annotations

import csv
import io
from typing import Iterator

from ..documents import DeadLetter, Record
from .streams import STREAM_ERRORS, Opener, error_detail, file_stem, open_binary, open_stream, stream_reason
from .streams import wide_bom_codec
from .web import duplicate_columns, undecodable_byte, web_record


def iter_csv(path: str, source: str, opener: Opener = open_binary, text_field: str = "text",
             id_field: str = "id") -> Iterator[Record]:
    csv.field_size_limit(1 << 30)  # a document may be longer than the csv module's default 128 KiB field limit
    stem, row = file_stem(path), 0
    with open_stream(path, opener) as fh:
        codec = wide_bom_codec(fh)  # UTF-16/32 with a byte-order mark; else UTF-8, a bad byte costing its row
        rows = csv.DictReader(io.TextIOWrapper(fh, encoding=codec or "utf-8-sig", newline="",
                                               errors="strict" if codec else "surrogateescape"), strict=True)
        try:
            if twice := duplicate_columns(source, path, "header", rows.fieldnames or [], text_field, id_field):
                yield twice
                return
            for row, rec in enumerate(rows, 1):
                if (byte := undecodable_byte(rec.values())) is not None:
                    yield DeadLetter(source, path, f"row {row}", "decode_error", f"byte {byte} is not UTF-8")
                elif None in rec:  # DictReader keeps the fields past the header's under None
                    n = len(rows.fieldnames)
                    yield DeadLetter(source, path, f"row {row}", "wrong_column_count",
                                     f"{n + len(rec[None])} fields, the header has {n}")
                else:
                    yield web_record(rec, source, path, f"row {row}", f"{stem}-{row}", text_field, id_field)
        except (csv.Error, UnicodeDecodeError) as e:  # the rest of the file cannot be split into rows reliably
            yield DeadLetter(source, path, f"row {row + 1}", "malformed_csv", error_detail(e))
        except STREAM_ERRORS as e:
            yield DeadLetter(source, path, f"row {row + 1}", stream_reason(e), error_detail(e))
