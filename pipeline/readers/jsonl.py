"""JSON lines (``.jsonl``, ``.ndjson``, compressed or not): one document per line, e.g. C4, FineWeb, CulturaX."""

from __future__ import annotations

import codecs
import io
import json
from typing import BinaryIO, Iterator

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


_WIDE_BOMS = (((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), "utf-32"),  # first: FF FE 00 00 starts with FF FE
              ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-16"))


def _lines(fh: BinaryIO) -> Iterator[bytes]:
    """The stream's lines as UTF-8 bytes. A file that starts with a UTF-16 or UTF-32 byte-order mark (Windows
    PowerShell's ``>`` writes UTF-16) is decoded as that (read as UTF-8 lines, every record failed and the NUL byte
    after the last newline was one more). A character that does not decode in it ends the file (the lines after it
    cannot be found reliably)."""
    head = fh.peek(4)[:4] if hasattr(fh, "peek") else b""
    codec = next((c for boms, c in _WIDE_BOMS if head.startswith(boms)), None)
    if codec is None:
        return iter(fh)
    return (line.encode("utf-8") for line in io.TextIOWrapper(fh, encoding=codec, newline="\n"))


def iter_jsonl(path: str, source: str, opener: Opener = open_binary, text_field: str = "text",
               id_field: str = "id") -> Iterator[Record]:
    """JSON lines (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``); each line decoded on its own, strictly as UTF-8
    (UTF-16 or UTF-32 when the file starts with that byte-order mark).

    A record without ``id_field`` gets ``f"{file_stem}-{line_no}"`` (1-based). Blank lines are not records.
    """
    stem, line_no = file_stem(path), 0
    with open_stream(path, opener) as fh:
        try:
            for line_no, raw in enumerate(_lines(fh), 1):
                raw = raw.removeprefix(codecs.BOM_UTF8)  # on any line: files saved with a BOM, concatenated
                if raw and not raw.isspace():
                    yield _json_line(raw, source, path, line_no, stem, text_field, id_field)
        except UnicodeDecodeError as e:  # in a UTF-16/32 file
            yield DeadLetter(source, path, f"line {line_no + 1}", "decode_error", error_detail(e))
        except STREAM_ERRORS as e:
            yield DeadLetter(source, path, f"line {line_no + 1}", stream_reason(e), error_detail(e))
