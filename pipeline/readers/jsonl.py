"""JSON lines (``.jsonl``, ``.ndjson``, compressed or not): one document per line, e.g. C4, FineWeb, CulturaX."""

from __future__ import annotations

import codecs
import json
from typing import Iterator

from ..documents import DeadLetter, Record
from .streams import STREAM_ERRORS, Opener, error_detail, file_stem, open_binary, open_stream, stream_reason
from .web import web_record


def _json_line(raw: bytes, source: str, path: str, line_no: int, stem: str, text_field: str, id_field: str) -> Record:
    position = f"line {line_no}"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return DeadLetter(source, path, position, "decode_error", error_detail(e))
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError) as e:
        return DeadLetter(source, path, position, "invalid_json", error_detail(e))
    return web_record(rec, source, path, position, f"{stem}-{line_no}", text_field, id_field)


def iter_jsonl(path: str, source: str, opener: Opener = open_binary, text_field: str = "text",
               id_field: str = "id") -> Iterator[Record]:
    """JSON lines (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``); each line decoded on its own, strictly as UTF-8.

    A record without ``id_field`` gets ``f"{file_stem}-{line_no}"`` (1-based). Blank lines are not records.
    """
    stem, line_no = file_stem(path), 0
    with open_stream(path, opener) as fh:
        try:
            for line_no, raw in enumerate(fh, 1):
                if line_no == 1:
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                if raw and not raw.isspace():
                    yield _json_line(raw, source, path, line_no, stem, text_field, id_field)
        except STREAM_ERRORS as e:
            yield DeadLetter(source, path, f"line {line_no + 1}", stream_reason(e), error_detail(e))
