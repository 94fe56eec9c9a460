"""Tar shards -> raw samples (``{"__key__": key, ext: bytes, ...}``), read with libarchive (bsdtar's library).

webdataset's reader parses every tar header in Python (``tarfile``): about 90 us per three-member sample here,
half of the loader's budget. libarchive parses in C (about 18 us per sample from a local file), checks header
checksums and knows every tar dialect (ustar, pax, GNU) and compression filter. Member names are untrusted:
each goes through ``schemas.split_member_name``; anything else (directories, links, paths, unknown fields,
oversized members) is skipped and counted, never followed. Consecutive members sharing a key form one sample,
as webdataset groups them. A shard that breaks off (truncated, corrupt, unreadable) ends with a counted error;
its unfinished last sample is dropped, every complete sample before it is kept (the last one too: a sample with
its json, txt and pixel members is complete even when the next header is cut). When the manifest says what a
shard holds, a shard of another size is counted (``shard_size``) and so is one that yields fewer or more samples
than listed (``short_shard`` / ``long_shard``): a cut exactly between two samples looks like a shorter, valid tar
to any reader, and only the manifest can tell.
"""

from __future__ import annotations

import ctypes
import os
from typing import Callable, Iterable, Iterator
from urllib.parse import urlparse

import libarchive
from libarchive import ffi
from libarchive.exception import ArchiveError

from pixelkit.schemas import ENCODINGS, SchemaError, ShardInfo
from pixelkit.schemas.sample import split_member_name
from pixelkit.schemas.vocab import MAX_MEMBER_BYTES, MAX_META_BYTES

Handler = Callable[[Exception], bool]  # True = count it and go on (SkipCounter), False = re-raise


class Mismatch(SchemaError):
    """Data that differs from what the manifest says (a shard's size or count, a strip's shape); ``reason``
    names the count it goes to."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def local_path(url: str) -> str | None:
    """The filesystem path of a plain or ``file:`` URL, None for anything fsspec/``pipe:`` must open."""
    u = urlparse(url)
    if u.scheme in ("", "file") or (len(u.scheme) == 1 and os.name == "nt"):
        return u.path if u.scheme == "file" else url
    return None


class _ReadInto:
    """``readinto`` over a stream that only has ``read`` (webdataset's ``pipe:`` wrapper), for libarchive."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def readinto(self, buf) -> int:
        data = self.stream.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def seekable(self) -> bool:
        return False


def _open(url: str):
    path = local_path(url)
    if path is not None:
        return libarchive.file_reader(path, format_name="tar"), None
    if url.startswith("pipe:"):
        from webdataset.gopen import gopen  # a shell command's stdout, checked for its exit status
        stream = gopen(url, "rb")
    else:  # gs://, s3://, https://, memory:// ...: fsspec (gs:// needs gcsfs installed, s3:// s3fs)
        import fsspec
        stream = fsspec.open(url, "rb").open()
    wrapped = stream if hasattr(stream, "readinto") else _ReadInto(stream)
    return libarchive.stream_reader(wrapped, format_name="tar"), stream


class _MemberBuffer:
    """One reused read buffer per shard: libarchive-c's ``get_blocks`` allocates (and zero-fills) a new buffer
    for every member, a third of the reading time for three small members per sample."""

    def __init__(self) -> None:
        self.buf = ctypes.create_string_buffer(1 << 16)

    def read(self, archive, size: int) -> bytes:
        if size > len(self.buf):
            self.buf = ctypes.create_string_buffer(size)
        base, done = ctypes.addressof(self.buf), 0
        while done < size:
            got = ffi.read_data(archive._pointer, base + done, size - done)  # raises ArchiveError on a bad read
            if got <= 0:
                raise ArchiveError(f"member data ends after {done} of {size} bytes")
            done += got
        return ctypes.string_at(base, size)


def _headers(archive) -> Iterator[tuple[str, int | None, bool]]:
    """(name, size or None, is a regular file) of each member header, in tar order, through one reused
    ``archive_entry`` (``read_next_header2`` clears it): libarchive-c's iterator allocates and frees an entry and
    goes through a Python property per field, about a third of the reading time of a three-member sample. A
    name that is not valid UTF-8 comes back with surrogate escapes (and is refused by ``split_member_name``)."""
    ptr, entry, free = archive._pointer, ffi.entry_new(), ffi.entry_free  # bound here: a generator closed at
    # interpreter exit runs its finally after module globals are gone
    next_header, pathname_w, pathname = ffi.read_next_header2, ffi.entry_pathname_w, ffi.entry_pathname
    size_is_set, entry_size, filetype = ffi.entry_size_is_set, ffi.entry_size, ffi.entry_filetype
    try:
        while next_header(ptr, entry) != ffi.ARCHIVE_EOF:  # raises ArchiveError on a bad header
            name = pathname_w(entry)
            if not name:
                raw = pathname(entry)
                name = raw.decode("utf-8", "surrogateescape") if raw is not None else ""
            yield name, entry_size(entry) if size_is_set(entry) else None, filetype(entry) & 0o170000 == 0o100000
    finally:
        free(entry)


def shard_members(url: str, handler: Handler) -> Iterator[tuple[str, str, bytes | None]]:
    """(key, extension, bytes) of each acceptable member of one shard, in tar order; bytes are None for a member
    with a good name that was refused (counted through ``handler``): its sample goes with it."""
    reader, stream = _open(url)
    buf = _MemberBuffer()
    try:
        with reader as archive:
            for name, size, regular in _headers(archive):
                key = None
                try:
                    if not regular:
                        raise SchemaError(f"{url}: member {name!r} is not a regular file")
                    key, ext = split_member_name(name)
                    limit = MAX_META_BYTES if ext == "json" else MAX_MEMBER_BYTES  # schemas refuses more
                    if size is None or size > limit:
                        raise SchemaError(f"{url}: member {name!r} is {size} bytes (limit {limit})")
                except SchemaError as e:
                    if not handler(e):
                        raise
                    if key is not None:
                        yield key, ext, None
                    continue
                yield key, ext, buf.read(archive, size)
    finally:
        if stream is not None:
            stream.close()


def shard_samples(url: str, handler: Handler, expect: ShardInfo | None = None) -> Iterator[dict]:
    """Raw samples of one shard; a broken shard ends early through ``handler`` (an unfinished last sample
    dropped, a complete one kept). A sample with a refused or repeated member is dropped whole (one count).
    ``expect``: the manifest's entry, checked against size and the samples met (kept or dropped)."""
    if expect is not None:
        _check_size(url, expect, handler)
    current: dict | None = None
    dropped = None  # a sample found broken: its remaining members are skipped too
    n, last = 0, None  # samples met, for the manifest's count
    try:
        for key, ext, data in shard_members(url, handler):
            if key != last:
                n, last = n + 1, key
            if key == dropped:
                continue
            if current is not None and key != current["__key__"]:
                yield current
                current = None
            if data is None:  # refused and counted by shard_members
                current, dropped = None, key
                continue
            if current is None:
                current = {"__key__": key, "__url__": url}
            if ext in current:
                e = SchemaError(f"{url}: sample {key!r} holds two .{ext} members")
                if not handler(e):
                    raise e
                current, dropped = None, key
                continue
            current[ext] = data
    except GeneratorExit:  # closed early (also at interpreter exit, when module globals are already gone)
        raise
    except (ArchiveError, OSError) as e:
        if not handler(e):
            raise
        if current is not None and not _complete(current):
            current, n = None, n - 1  # the cut sample: not one the shard holds in full
    if current is not None:
        yield current
    if expect is not None and n != expect.num_samples:
        e = Mismatch("short_shard" if n < expect.num_samples else "long_shard",
                     f"{url}: read {n} samples, the manifest lists {expect.num_samples}")
        if not handler(e):
            raise e


def _complete(sample: dict) -> bool:
    return "json" in sample and "txt" in sample and any(enc in sample for enc in ENCODINGS)


def _size(url: str) -> int | None:
    """A shard's size in bytes: a stat for local files, one metadata request through fsspec (None for ``pipe:``
    commands and when it cannot be had: opening the shard then reports the problem)."""
    if url.startswith("pipe:"):
        return None
    path = local_path(url)
    try:
        if path is not None:
            return os.stat(path).st_size
        import fsspec
        fs, p = fsspec.core.url_to_fs(url)
        return fs.size(p)
    except (OSError, ValueError, ImportError):
        return None


def _check_size(url: str, expect: ShardInfo, handler: Handler) -> None:
    size = _size(url)
    if size is not None and size != expect.num_bytes:
        e = Mismatch("shard_size", f"{url}: {size} bytes, the manifest lists {expect.num_bytes}")
        if not handler(e):
            raise e


def samples(urls: Iterable[str], handler: Handler) -> Iterator[dict]:
    """Raw samples of several shards in order."""
    for url in urls:
        yield from shard_samples(url, handler)
