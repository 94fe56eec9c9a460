"""Plain UTF-8 text (``.txt``, compressed or not): a file is one document, or one per blank-line separated paragraph.
A file read whole (also each book of the ``books`` format) loses Project Gutenberg's license header and footer
(``gutenberg.py``)."""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO, Iterator

from ..documents import DeadLetter, Document, Record, Skipped
from .gutenberg import strip_boilerplate
from .streams import (CHUNK, STREAM_ERRORS, Opener, byte_cap, error_detail, file_stem, open_binary, open_stream,
                      stream_reason)


def _read_all(fh: BinaryIO, cap: int = 0) -> tuple[bytes, BaseException | None, bool]:
    """Every byte the stream gives before it ends or breaks, the error that broke it (None at a clean end), and
    whether it holds more than ``cap`` bytes (0: no cap; then reading stopped there, the rest never read).
    ``read1``: a decompressor failing mid-file keeps what it had already decompressed (``read(n)`` drops it)."""
    parts, read, size = [], getattr(fh, "read1", fh.read), 0
    try:
        while chunk := read(CHUNK):
            parts.append(chunk)
            size += len(chunk)
            if cap and size > cap:
                return b"", None, True
    except STREAM_ERRORS as e:
        return b"".join(parts), e, False
    return b"".join(parts), None, False


_NEWLINE = re.compile(rb"\r\n|\r|\n")


def decode_lines(data: bytes, source: str, path: str) -> tuple[str, list[DeadLetter]]:
    """``data`` as UTF-8 text (a leading BOM dropped; a UTF-16 BOM makes it UTF-16, as Windows editors save it, and
    a UTF-32 BOM UTF-32: there, what follows a unit that does not decode is one ``decode_error`` dead letter).
    A line (``\n``, ``\r\n`` or ``\r``) that does not decode is left out and becomes a ``decode_error`` dead
    letter with its line number (1-based) -- the rest of the file is kept."""
    # UTF-32 first: its little-endian BOM (FF FE 00 00) starts with UTF-16's (FF FE), and read as UTF-16 it gave a
    # NUL after every character (replaced and rendered, not refused)
    for boms, codec in (((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), "utf-32"),
                        ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-16")):
        if data.startswith(boms):
            try:
                return data.decode(codec), []
            except UnicodeDecodeError as e:  # a file cut mid-character, a lone surrogate: the text before it is kept
                return data[:e.start].decode(codec), [DeadLetter(source, path, f"byte {e.start}", "decode_error",
                                                                 f"{codec.upper()}: " + error_detail(e))]
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    kept, dead = [], []
    for line_no, raw in enumerate(_NEWLINE.split(data), 1):  # lines keep no newline; joined back below
        try:
            kept.append(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            dead.append(DeadLetter(source, path, f"line {line_no}", "decode_error", error_detail(e)))
    return "\n".join(kept), dead


def _whole_text(fh: BinaryIO, source: str, path: str, stem: str, max_doc_chars: int = 0) -> Iterator[Record]:
    cap = byte_cap(max_doc_chars, 4)  # a text of max_doc_chars characters is at most 4 bytes each (UTF-8/16/32)
    data, err, over = _read_all(fh, cap)
    if over:  # a 1 GB file was read whole (3 GB at the peak) before --max_doc_chars refused it
        yield DeadLetter(source, path, "file", "document_too_large", f"more than {cap:,} bytes (4 per character "
                         f"of --max_doc_chars {max_doc_chars:,}, +1 MiB): not read further")
        return
    lines_before = data.count(b"\n")
    if err is not None:  # the partial last line is part of the cut
        data = data[: data.rfind(b"\n") + 1]
    text, dead = decode_lines(data, source, path)
    yield from dead
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if (nuls := text.count("\x00")) * 4 > len(text) > 0:  # a NUL for every 1-3 characters is no text: UTF-16 (or
        # UTF-32) saved without a byte-order mark, whose ASCII reads as valid UTF-8 with a NUL after every letter,
        # was rendered letter-spaced (each NUL a space) -- one dead letter for the file instead
        yield DeadLetter(source, path, "file", "decode_error", f"{nuls:,} NUL characters in {len(text):,}: UTF-16 "
                         "or UTF-32 without a byte-order mark? save it as UTF-8 (or with its BOM)")
        return
    if err is not None:
        yield DeadLetter(source, path, f"line {lines_before + 1}", stream_reason(err), error_detail(err))
        if not text.strip():
            return  # nothing before the cut: the dead letter is the file's only record
    text = strip_boilerplate(text)  # a Project Gutenberg book's license header and footer (gutenberg.py)
    if not text or text.isspace():
        yield Skipped(source, stem, "empty_text")
    else:
        yield Document(source, stem, text, stem)


def _paragraphs(fh: BinaryIO, source: str, path: str, stem: str) -> Iterator[Record]:
    lines: list[str] = []
    started, k, line_no = False, 0, 0  # started: the paragraph has lines, good or undecodable
    try:
        for line_no, raw in enumerate(fh, 1):
            try:
                line = (raw.removeprefix(codecs.BOM_UTF8) if line_no == 1 else raw).decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                yield DeadLetter(source, path, f"line {line_no}", "decode_error", error_detail(e))
                started = True
                continue
            if line and not line.isspace():
                lines.append(line)
                started = True
            elif started:
                if lines:
                    yield Document(source, f"{stem}-{k}", "\n".join(lines), stem)
                lines, started, k = [], False, k + 1
    except STREAM_ERRORS as e:
        yield DeadLetter(source, path, f"line {line_no + 1}", stream_reason(e), error_detail(e))
    if lines:  # the last paragraph, or the complete lines read before a cut
        yield Document(source, f"{stem}-{k}", "\n".join(lines), stem)


def iter_text(path: str, source: str, opener: Opener = open_binary, mode: str = "file",
              max_doc_chars: int = 0) -> Iterator[Record]:
    """UTF-8 text. ``mode="file"``: one document (``doc_id`` = title = file stem). ``mode="paragraphs"``:
    blank-line separated documents ``f"{stem}-{k}"`` (k from 0; a paragraph of only undecodable lines still
    counts, so later ids do not shift). Either way a line that is not valid UTF-8 costs that line only: it is
    left out and dead-lettered (``decode_error``, ``line N``); a stream cut short (truncated .gz/.bz2/.zst)
    keeps every complete line before the cut and adds one ``truncated_file`` dead letter. ``max_doc_chars`` (0: none;
    ``mode="file"``): a file of more than 4 bytes per character of it (+1 MiB) is one ``document_too_large`` dead
    letter, read no further than that."""
    if mode not in ("file", "paragraphs"):
        raise ValueError(f"mode must be 'file' or 'paragraphs', not {mode!r}")
    with open_stream(path, opener) as fh:
        if mode == "file":
            yield from _whole_text(fh, source, path, file_stem(path), max_doc_chars)
        else:
            yield from _paragraphs(fh, source, path, file_stem(path))
