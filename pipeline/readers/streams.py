"""Open a corpus file and decompress it by suffix (.bz2, .gz, .xz, .zst), as a stream; error naming for readers."""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import os
import stat
import zlib
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator

import zstandard

from ..documents import no_surrogates

Opener = Callable[[str], BinaryIO]
STREAM_ERRORS = (EOFError, OSError, zlib.error, zstandard.ZstdError, lzma.LZMAError)
CHUNK = 1 << 20
# --max_doc_chars as a byte cap a reader stops at before holding a record whole: a record of that many characters
# takes at most this many bytes per character (UTF-8: 4; JSON's \ud83d\ude00 escapes: 12), plus this slack (a
# Project Gutenberg license header and footer, a JSON line's other fields)
CAP_SLACK = 1 << 20


def byte_cap(max_doc_chars: int, per_char: int) -> int:
    """The bytes past which a record cannot be within ``max_doc_chars`` characters (0: no cap)."""
    return max_doc_chars * per_char + CAP_SLACK if max_doc_chars else 0


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"))


def special_file(path: str) -> str | None:
    """What ``path`` is when it is a local file that is neither a regular file nor a directory (opening a FIFO waits
    for a writer, a device may never end), e.g. "a named pipe (FIFO)"; None otherwise (remote URLs included).
    Symlinks are followed; ``os.stat`` does not open the file, so it never blocks."""
    if "://" in path and not path.startswith("file://"):
        return None
    try:
        mode = os.stat(path.removeprefix("file://")).st_mode
    except (OSError, ValueError):  # missing, unreadable directory, NUL in the name: the readers report those
        return None
    return next((what for test, what in _SPECIAL if test(mode)), None)


def open_binary(path: str) -> BinaryIO:
    """The default opener: a local file in binary mode."""
    return open(path, "rb")


class _ZstdReader(io.RawIOBase):
    """Concatenated zstd frames. Unlike ``ZstdDecompressor.stream_reader``, raises EOFError when data ends mid-frame.
    Input is fed in ``FEED``-byte steps: python-zstandard's ``decompressobj`` has no output limit, so one call
    returns all its input makes (64 KB of a well-compressed corpus came back as one 16 MB piece; a zstd block of a
    few bytes can make 128 KB, so a step of 1 KB makes at most 32 MB)."""

    FEED = 1 << 10

    def __init__(self, raw: BinaryIO):
        self._raw, self._dctx = raw, zstandard.ZstdDecompressor()
        self._obj, self._out, self._mid_frame = self._dctx.decompressobj(), memoryview(b""), False
        self._in = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        while not len(self._out):
            if not len(self._in):
                self._in = memoryview(self._raw.read(1 << 16))
                if not len(self._in):
                    if self._mid_frame:
                        raise EOFError("zstd data ended before the end of the frame")
                    return 0
            step, self._in = self._in[:self.FEED], self._in[self.FEED:]
            self._out = memoryview(self._feed(bytes(step)))
        n = min(len(buf), len(self._out))
        buf[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _feed(self, data: bytes) -> bytes:
        parts = []
        while data:
            self._mid_frame = True
            parts.append(self._obj.decompress(data))
            if not self._obj.eof:
                break
            self._mid_frame, data = False, self._obj.unused_data
            self._obj = self._dctx.decompressobj()
        return b"".join(parts)


class _NotEmpty(io.RawIOBase):
    """A compressed file of 0 bytes was cut before its header (an interrupted download or copy): gzip and zstd
    would read it as no data at all, a silently empty file; bzip2, and the ``gzip``/``zstd``/``bzip2`` tools, call
    it truncated. EOFError on a first read that gets no bytes, so every codec reports it as ``truncated_file``."""

    def __init__(self, raw: BinaryIO):
        self._raw, self._started = raw, False

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        data = self._raw.read(len(buf))
        if not self._started:
            if not data:
                raise EOFError("the file is empty (0 bytes): not even a compressed stream's header")
            self._started = True
        buf[:len(data)] = data
        return len(data)


def _gzip(raw: BinaryIO) -> BinaryIO:
    return gzip.GzipFile(fileobj=raw, mode="rb")


def _zstd(raw: BinaryIO) -> BinaryIO:
    return io.BufferedReader(_ZstdReader(raw), buffer_size=1 << 16)


def _xz(raw: BinaryIO) -> BinaryIO:  # .xz (CC-100's *.txt.xz, OpenWebText): concatenated streams read as one
    return lzma.LZMAFile(raw, mode="rb", format=lzma.FORMAT_XZ)


_CODECS: dict[str, Callable[[BinaryIO], BinaryIO]] = {".bz2": bz2.BZ2File, ".gz": _gzip, ".xz": _xz, ".zst": _zstd}


def split_name(path: str) -> tuple[str, str]:
    """(file name without its compression suffix, that suffix or "")."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    for suffix in _CODECS:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def file_stem(path: str) -> str:
    """``dir/c4-00001.jsonl.zst`` -> ``c4-00001`` (works for gs:// and s3:// paths too)."""
    name = split_name(path)[0]
    # a file name that is not UTF-8 (Python keeps its bytes as lone surrogates) could not travel through Beam
    return no_surrogates(os.path.splitext(name)[0] or name)


def _sniff(raw: BinaryIO) -> Callable[[BinaryIO], BinaryIO] | None:
    """The codec whose magic bytes start a file named without a compression suffix (a download saved compressed
    under its plain name): gzip, zstd, xz, bzip2 (its header and first block's magic). No text starts so: 0x1F 0x8B,
    0x28 0xB5 and 0xFD are not UTF-8, "BZh91AY&SY" is not prose. None when the stream cannot be peeked at."""
    head = raw.peek(10)[:10] if hasattr(raw, "peek") else b""
    if head.startswith(b"\x1f\x8b"):
        return _gzip
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return _zstd
    if head.startswith(b"\xfd7zXZ\x00"):
        return _xz
    if head[:3] == b"BZh" and head[4:10] == b"1AY&SY":
        return bz2.BZ2File
    return None


@contextmanager
def open_stream(path: str, opener: Opener = open_binary) -> Iterator[BinaryIO]:
    """``opener(path)``, wrapped in a streaming decompressor chosen by the path's suffix, or for a file named
    without one, by its magic bytes."""
    with opener(path) as raw:
        suffix = split_name(path)[1]
        codec = _CODECS[suffix] if suffix else _sniff(raw)
        if codec is None:
            yield raw
        else:
            with codec(io.BufferedReader(_NotEmpty(raw), buffer_size=CHUNK)) as fh:
                yield fh


_WIDE_BOMS = (((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), "utf-32"),  # first: FF FE 00 00 starts with FF FE
              ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-16"))


def wide_bom_codec(fh: BinaryIO) -> str | None:
    """"utf-16" / "utf-32" when the stream starts with that byte-order mark (Windows tools write them), else None."""
    head = fh.peek(4)[:4] if hasattr(fh, "peek") else b""
    return next((c for boms, c in _WIDE_BOMS if head.startswith(boms)), None)


def error_detail(exc: BaseException) -> str:
    """A dead letter's ``detail``: the error's type and message, at most 300 characters."""
    return f"{type(exc).__name__}: {exc}"[:300]


def stream_reason(exc: BaseException) -> str:
    """The dead-letter reason for a stream that broke: ``truncated_file`` (ended early) or ``corrupt_file``."""
    return "truncated_file" if isinstance(exc, EOFError) else "corrupt_file"
