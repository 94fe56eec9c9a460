"""Write and read one WebDataset shard: deterministic bytes, atomic rename, untrusted member names checked."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import webdataset as wds

from pixelkit.schemas import RenderedSample, SchemaError, ShardInfo
from pixelkit.schemas.manifest import file_sha256
from pixelkit.schemas.sample import split_member_name
from pixelkit.schemas.vocab import MAX_MEMBER_BYTES  # a larger member is rejected, not read into memory


def write_shard(path: str | Path, samples: Iterable[RenderedSample]) -> ShardInfo:
    """Write ``samples`` in the given order to ``path`` via a hidden temp file and an atomic rename.

    Fixed mtime, owner and mode make the bytes a function of the samples alone; a killed writer leaves only
    the hidden temp file, never a partial file under the final name.
    """
    return write_members(path, (s.to_wds() for s in samples))


def write_members(path: str | Path, samples: Iterable[dict]) -> ShardInfo:
    """``write_shard`` for samples already turned into ``RenderedSample.to_wds`` dicts (the sink packs them where
    they were rendered)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            count = _write_tar(fh, samples)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return ShardInfo(name=path.name, num_samples=count, num_bytes=path.stat().st_size, sha256=file_sha256(path))


def _write_tar(fh, samples: Iterable[dict]) -> int:
    """The shard's bytes into ``fh`` (fixed mtime, owner and mode); returns the sample count."""
    count = 0
    with wds.TarWriter(fh, encoder=False, mtime=0, user="pixelkit", group="pixelkit", mode=0o644) as tw:
        for s in samples:
            tw.write(s)
            count += 1
    return count


class _Differs(Exception):
    pass


class _Compare:
    """A write-only stream that checks what is written to it against the next bytes of ``fh`` (stopping at the first
    difference, ``_Differs``) and hashes them."""

    def __init__(self, fh: BinaryIO):
        self.fh, self.sha, self.nbytes = fh, hashlib.sha256(), 0

    def write(self, data) -> int:
        want = bytes(data)
        got = b""
        while len(got) < len(want):  # an object store's stream may return less than asked
            part = self.fh.read(len(want) - len(got))
            if not part:
                break
            got += part
        if got != want:
            raise _Differs
        self.sha.update(got)
        self.nbytes += len(got)
        return len(got)


def same_shard(fh: BinaryIO, samples: Iterable[dict]) -> tuple[int, int, str] | None:
    """(samples, bytes, sha256) of the shard in ``fh`` if its bytes are exactly those ``write_members`` writes for
    ``samples`` (it is deterministic), else None. One streaming pass: the shard is built in memory a block at a
    time and compared with the file as it is read, stopping at the first difference."""
    cmp = _Compare(fh)
    try:
        count = _write_tar(cmp, samples)
    except _Differs:
        return None
    return None if fh.read(1) else (count, cmp.nbytes, cmp.sha.hexdigest())


def read_shard(path: str | Path | BinaryIO) -> Iterator[RenderedSample | SchemaError]:
    """Stream the samples of one shard (a local path or an open binary stream, e.g. fsspec's for s3://); a bad
    sample is yielded as a ``SchemaError`` (the stream goes on).

    Members are grouped by key in order; names are validated before use and nothing is extracted to disk.
    A truncated tar ends the stream with one ``SchemaError``.
    """
    group: dict[str, bytes] = {}
    key = None
    stream = hasattr(path, "read")
    name = getattr(path, "name", "shard") if stream else path
    try:
        with tarfile.open(fileobj=path, mode="r|") if stream else tarfile.open(path, mode="r|") as tf:
            for member in tf:
                try:
                    if not member.isreg():
                        raise SchemaError(f"tar member {member.name!r}: not a regular file")
                    if member.size > MAX_MEMBER_BYTES:
                        raise SchemaError(f"tar member {member.name!r}: {member.size} bytes is too large")
                    k, ext = split_member_name(member.name)
                except SchemaError as e:
                    yield e
                    continue
                if k != key and group:
                    yield _assemble(key, group)
                    group = {}
                key = k
                if ext in group:
                    yield SchemaError(f"sample {k!r}: duplicate member .{ext}")
                    continue
                group[ext] = tf.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as e:
        yield SchemaError(f"{name}: unreadable or truncated tar: {e}")
    if group:
        yield _assemble(key, group)


def _assemble(key: str, group: dict[str, bytes]) -> RenderedSample | SchemaError:
    try:
        sample = RenderedSample.from_wds({"__key__": key, **group})
        sample.decode()  # the payload must decode to the declared shape
        return sample
    except ValueError as e:  # SchemaError is a ValueError; so are the codec's payload errors
        return e if isinstance(e, SchemaError) else SchemaError(f"sample {key!r}: {e}")


class HashingReader(io.RawIOBase):
    """Reads through ``raw`` counting and hashing (sha256) the bytes: one pass both checks and parses a shard."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.sha, self.nbytes = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        data = self.raw.read(len(buf))
        buf[: len(data)] = data
        self.sha.update(data)
        self.nbytes += len(data)
        return len(data)

    def drain(self) -> None:
        """Read to the end: what a parser left unread (tar padding, a part after an error) counts too."""
        while self.read(1 << 20):
            pass
