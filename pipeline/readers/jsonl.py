"""JSON lines (``.jsonl``, ``.ndjson``, compressed or not): one document per line, e.g. C4, FineWeb, CulturaX."""

from __future__ import annotations

import codecs
import io
import json
from typing import BinaryIO, Iterator

from ..documents import DeadLetter, Record
from .streams import (STREAM_ERRORS, Opener, byte_cap, error_detail, file_stem, open_binary, open_stream,
                      stream_reason, wide_bom_codec)
from .web import web_record


def _json_line(raw: bytes, source: str, path: str, where: str, default_id: str, text_field: str,
               id_field: str) -> Record:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return DeadLetter(source, path, f"line {where}", "decode_error", error_detail(e))
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError) as e:
        return DeadLetter(source, path, f"line {where}", "invalid_json", error_detail(e))
    return web_record(rec, source, path, f"line {where}", default_id, text_field, id_field)


def _records(raw: bytes, source: str, path: str, line_no: int, stem: str, text_field: str,
             id_field: str) -> Iterator[Record]:
    """One line's record. A line that is no JSON text but holds lone carriage returns (a file saved with classic Mac
    line ends, CR only, is one line to a reader that splits at LF) is one record per CR-separated piece, at
    ``line N.k`` with id ``stem-N.k``; a JSON text with a CR between its tokens stays one record, and so does a line
    none of whose pieces is one (one dead letter, as before)."""
    rec = _json_line(raw, source, path, str(line_no), f"{stem}-{line_no}", text_field, id_field)
    if not (isinstance(rec, DeadLetter) and rec.reason == "invalid_json" and b"\r" in raw.rstrip(b"\r\n")):
        yield rec
        return
    pieces = [p for p in raw.replace(b"\r\n", b"\r").split(b"\r") if p and not p.isspace()]
    recs = [_json_line(piece, source, path, f"{line_no}.{k}", f"{stem}-{line_no}.{k}", text_field, id_field)
            for k, piece in enumerate(pieces, 1)]
    if all(isinstance(r, DeadLetter) and r.reason == "invalid_json" for r in recs):
        yield rec  # no CR-separated record either (a raw CR inside a string): the line stays one dead letter
    else:
        yield from recs


def _lines(fh: BinaryIO, cap: int = 0) -> Iterator[bytes | int]:
    """The stream's lines as UTF-8 bytes; a line of more than ``cap`` bytes (0: no cap) comes as its length instead,
    read in pieces and dropped (a 211 MB line was held whole, and parsed: 822 MB at the peak). A file that starts
    with a UTF-16 or UTF-32 byte-order mark (Windows PowerShell's ``>`` writes UTF-16) is decoded as that (read as
    UTF-8 lines, every record failed and the NUL byte after the last newline was one more; ``cap`` counts its
    characters there). A character that does not decode in it ends the file (the lines after it cannot be found
    reliably)."""
    codec = wide_bom_codec(fh)
    src = fh if codec is None else io.TextIOWrapper(fh, encoding=codec, newline="\n")
    newline = b"\n" if codec is None else "\n"
    while line := src.readline(cap + 1 if cap else -1):
        if cap and len(line) > cap and not line.endswith(newline):
            size = len(line)
            while (more := src.readline(1 << 20)) and not more.endswith(newline):
                size += len(more)
            yield size + len(more)
        else:
            yield line if codec is None else line.encode("utf-8")


def iter_jsonl(path: str, source: str, opener: Opener = open_binary, text_field: str = "text",
               id_field: str = "id", max_doc_chars: int = 0) -> Iterator[Record]:
    """JSON lines (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``); each line decoded on its own, strictly as UTF-8
    (UTF-16 or UTF-32 when the file starts with that byte-order mark).

    A record without ``id_field`` gets ``f"{file_stem}-{line_no}"`` (1-based). Blank lines are not records.
    ``max_doc_chars`` (0: none): a line longer than 12 bytes per character of it (+1 MiB; JSON's most for a text of
    that length, ``\\ud83d\\ude00`` escapes) is a ``document_too_large`` dead letter, not held whole nor parsed.
    """
    stem, line_no, cap = file_stem(path), 0, byte_cap(max_doc_chars, 12)
    with open_stream(path, opener) as fh:
        try:
            for line_no, raw in enumerate(_lines(fh, cap), 1):
                if isinstance(raw, int):
                    yield DeadLetter(source, path, f"line {line_no}", "document_too_large", f"a line of {raw:,} "
                                     f"bytes > {cap:,} (12 per character of --max_doc_chars {max_doc_chars:,}, "
                                     "+1 MiB): not parsed")
                    continue
                raw = raw.removeprefix(codecs.BOM_UTF8)  # on any line: files saved with a BOM, concatenated
                if raw and not raw.isspace():
                    yield from _records(raw, source, path, line_no, stem, text_field, id_field)
        except UnicodeDecodeError as e:  # in a UTF-16/32 file
            yield DeadLetter(source, path, f"line {line_no + 1}", "decode_error", error_detail(e))
        except STREAM_ERRORS as e:
            yield DeadLetter(source, path, f"line {line_no + 1}", stream_reason(e), error_detail(e))
