"""Where the pipeline's outputs go: a local directory or object storage (``s3://``, ``gs://``), one set of calls.

Local paths use the OS (``os.replace`` of a hidden temp file, fsync'd). Everything else goes through Beam's
``FileSystems`` (``apache_beam.io.aws`` for s3://, ``apache_beam.io.gcp`` for gs://), configured by Beam's own
flags (``--s3_endpoint_url``, ``--s3_access_key_id`` ...; ``FileSystems.set_options``) or the SDKs' environment
(``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID`` ...). Object stores have no rename: ``write`` uploads to a hidden
``.{name}.uploading`` object beside the target and then copies it to its name (Beam's rename is copy + delete),
so a reader never finds a half-uploaded object under a shard's or the manifest's name, also when an upload fails
part-way (Beam's uploader completes the multipart upload of whatever it was given when its ``with`` block exits
on an exception: ``tests/test_s3.py`` shows it). A killed process leaves an incomplete multipart upload, which S3
never shows as an object (S3's semantics; not tested by killing a writer here): a bucket lifecycle rule
``AbortIncompleteMultipartUpload`` reclaims its space.

Beam's S3 uploader cannot write an empty object (``S3Uploader.finish`` completes a multipart upload with no
parts, which S3 refuses as ``MalformedXML``; Beam 2.77). ``dead_letters.jsonl`` of a run without dead letters is
empty, so an empty object goes out as one ``put_object`` through the boto3 client Beam built from the same
options (same endpoint and credentials). s3:// calls go to Beam's ``S3IO`` (what its S3 filesystem calls) with
one client per thread (``_S3FS``); other schemes to ``FileSystems``.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
import shutil
import tempfile
import threading
from contextlib import contextmanager
from typing import BinaryIO, Iterator

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

log = logging.getLogger(__name__)
_BLOCK = 1 << 20


def is_local(path: str) -> bool:
    return "://" not in str(path) or str(path).startswith("file://")


def _local(path: str) -> str:
    return str(path).removeprefix("file://")


def join(directory: str, name: str) -> str:
    directory = str(directory)
    return os.path.join(_local(directory), name) if is_local(directory) else f"{directory.rstrip('/')}/{name}"


def basename(path: str) -> str:
    return posixpath.basename(str(path).rstrip("/"))


def staging_name(name: str) -> str:
    """The hidden name an object is uploaded under before it takes ``name`` (never a shard's or manifest's name)."""
    return f".{name}.uploading"


class _BeamFS:
    """Any scheme Beam's ``FileSystems`` knows (gs://, hdfs:// ...)."""

    def exists(self, path: str) -> bool:
        return FileSystems.exists(path)

    def list(self, prefix: str) -> list[str]:
        return [m.path for m in FileSystems.match([prefix + "*"])[0].metadata_list]

    def size(self, path: str) -> int:
        return FileSystems.match([path])[0].metadata_list[0].size_in_bytes

    def open_read(self, path: str) -> BinaryIO:
        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)

    def create(self, path: str) -> BinaryIO:
        return FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)

    def put_empty(self, path: str) -> None:
        with self.create(path):
            pass

    def delete(self, path: str) -> None:
        FileSystems.delete([path])

    def rename(self, src: str, dst: str) -> None:
        FileSystems.rename([src], [dst])


class _S3FS(_BeamFS):
    """s3://: Beam's ``S3IO`` (what its S3 filesystem calls) over one boto3 client per thread. Beam's filesystem
    builds a new boto3 client for every call, which loads botocore's S3 model each time (over a second on a busy
    core): a small run's few dozen calls took longer than its rendering."""

    def __init__(self, options) -> None:
        from apache_beam.io.aws import s3io

        self.io = s3io.S3IO(options=options)
        self._parse = s3io.parse_s3_path

    def exists(self, path: str) -> bool:
        return self.io.exists(path)

    def list(self, prefix: str) -> list[str]:
        return [p for p, _ in self.io.list_files(prefix)]

    def size(self, path: str) -> int:
        return self.io.size(path)

    def open_read(self, path: str) -> BinaryIO:
        return self.io.open(path, "rb")

    def create(self, path: str) -> BinaryIO:
        return self.io.open(path, "wb")

    def put_empty(self, path: str) -> None:
        """Beam's S3 uploader cannot write an empty object (see the module doc): one ``put_object`` instead."""
        bucket, key = self._parse(path)
        self.io.client.client.put_object(Bucket=bucket, Key=key, Body=b"")

    def delete(self, path: str) -> None:
        self.io.delete(path)

    def rename(self, src: str, dst: str) -> None:
        self.io.rename(src, dst)


_THREAD = threading.local()


def _remote(path: str) -> _BeamFS:
    if not str(path).startswith("s3://"):
        return _BeamFS()
    options = getattr(FileSystems.get_filesystem(path), "_options", None) or {}  # what Beam's filesystem would use
    cache = _THREAD.__dict__.setdefault("s3", {})
    if id(options) not in cache:  # the options object is kept with it, so its id is not reused
        cache.clear()
        cache[id(options)] = (options, _S3FS(options))
    return cache[id(options)][1]


def exists(path: str) -> bool:
    return os.path.exists(_local(path)) if is_local(path) else _remote(path).exists(path)


def listdir(directory: str) -> list[str]:
    """Names of the files directly in ``directory`` (hidden ones too), sorted; [] when there is none."""
    if is_local(directory):
        d = _local(directory)
        return sorted(n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n))) if os.path.isdir(d) else []
    prefix = f"{str(directory).rstrip('/')}/"
    found = _remote(prefix).list(prefix)
    return sorted({p[len(prefix):] for p in found if p.startswith(prefix) and "/" not in p[len(prefix):]})


def size(path: str) -> int:
    return os.path.getsize(_local(path)) if is_local(path) else _remote(path).size(path)


def open_read(path: str) -> BinaryIO:
    """A binary stream of the file's bytes as stored (no decompression by suffix)."""
    return open(_local(path), "rb") if is_local(path) else _remote(path).open_read(path)


def read_bytes(path: str, limit: int | None = None) -> bytes:
    """The file's bytes; ValueError naming the file when it holds more than ``limit``."""
    with open_read(path) as fh:
        data = fh.read() if limit is None else fh.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise ValueError(f"{path}: more than {limit} bytes")
    return data


def delete(paths: list[str]) -> None:
    """Delete files (missing ones are fine)."""
    for p in paths:
        if is_local(p):
            try:
                os.unlink(_local(p))
            except FileNotFoundError:
                pass
        elif _remote(p).exists(p):
            _remote(p).delete(p)


def makedirs(directory: str) -> None:
    if is_local(directory):  # object stores have no directories
        os.makedirs(_local(directory), exist_ok=True)


def write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: readers see the old file, or none, or all of the new bytes."""
    write_stream(path, io.BytesIO(data), len(data))


def write_file(path: str, local_file: str) -> None:
    """Copy the finished local file ``local_file`` to ``path`` atomically (``write``'s rules)."""
    with open(local_file, "rb") as src:
        write_stream(path, src, os.path.getsize(local_file))


def write_stream(path: str, src: BinaryIO, nbytes: int) -> None:
    """Copy ``src`` (``nbytes`` long) to ``path`` atomically (``write``'s rules); a failure part-way leaves at most a
    hidden temp / staging file."""
    name = basename(path)
    if is_local(path):
        final = _local(path)
        tmp = os.path.join(os.path.dirname(final) or ".", f".{name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, _BLOCK)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return
    fs = _remote(path)
    staging = f"{path[: len(path) - len(name)]}{staging_name(name)}"
    if nbytes == 0:
        fs.put_empty(staging)
    else:
        with fs.create(staging) as dst:
            shutil.copyfileobj(src, dst, _BLOCK)
    fs.rename(staging, path)


@contextmanager
def local_copy(path: str) -> Iterator[str]:
    """A local path holding the file's bytes (the file itself when it is local; else a temporary download)."""
    if is_local(path):
        yield _local(path)
        return
    with tempfile.TemporaryDirectory(prefix="pixelkit-") as tmp:
        dst_path = os.path.join(tmp, basename(path))
        with open_read(path) as src, open(dst_path, "wb") as dst:
            shutil.copyfileobj(src, dst, _BLOCK)
        yield dst_path

