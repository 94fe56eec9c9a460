"""The Beam edge of reading: ``ReadCorpus`` matches files and reads each with the pure readers in ``readers/``.

    read = p | "ReadEnwiki" >> ReadCorpus(["gs://bucket/c4/*.jsonl.zst"], "auto", "c4")   # read.docs/.dead/.skipped
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import warnings
from typing import BinaryIO, Iterable, Iterator

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from .documents import DeadLetter, Document, Record, Skipped, no_surrogates
from .readers import choices, detect_format, iter_documents
from .readers.streams import error_detail, special_file

log = logging.getLogger(__name__)
METRICS_NAMESPACE = "pipeline.sources"


def open_beam(path: str) -> BinaryIO:
    """``FileSystems.open`` (local, gs://, s3:// ...) without Beam's own by-suffix decompression: the readers do it."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def as_glob(pattern: str) -> str:
    """``pattern``, or a local path that exists under that very name escaped (``data [1].txt``, ``*?`` in a folder's
    name): a glob would look for ``data 1.txt`` and miss it."""
    if "://" in pattern or not any(ch in pattern for ch in "*?[") or not os.path.lexists(pattern):
        return pattern
    return glob.escape(pattern)


def match_files(patterns: list[str]) -> list[str]:
    """Sorted, de-duplicated paths matching the patterns; ValueError for a pattern that matches nothing."""
    paths: set[str] = set()
    for pattern in patterns:
        with warnings.catch_warnings():  # Beam's translation of an escaped "[[]" warns "Possible nested set"
            warnings.simplefilter("ignore", FutureWarning)
            found = FileSystems.match([as_glob(pattern)])[0].metadata_list
        if not found:
            raise ValueError(f"no file matches {pattern!r}")
        paths.update(m.path for m in found)
    return sorted(paths)


def pattern_root(pattern: str) -> str:
    """The folder an ``--input`` pattern starts in: its part before the first wildcard component (a plain path:
    its folder)."""
    parts = pattern.split("/")
    magic = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), len(parts) - 1)
    return "/".join(parts[:magic])


def shown_names(patterns: list[str], files: list[str]) -> dict[str, str]:
    """Each file as its dead letters name it: its path below the folder its pattern starts in
    (``--input web=/home/me/c4/*/*.json.gz``: ``en/c4-0001.json.gz``), so the same files give the same
    ``dead_letters.jsonl`` from any folder, machine, symlink or relative path (no user's home folder in a
    published shard set); the source name and the pattern say where that folder is. Files of two patterns that
    would get one name (``d1/train.tsv``, ``d2/train.tsv``) are named below the folder they share instead."""
    roots = [pattern_root(p) for p in patterns]
    names = {}
    for f in files:
        root = next((r for r in roots if f.startswith(r + "/")), None)
        names[f] = f[len(root) + 1:] if root is not None else (f if not roots or "" in roots else os.path.basename(f))
    same: dict[str, list[str]] = {}
    for f, name in names.items():
        same.setdefault(name, []).append(f)
    for group in (g for g in same.values() if len(g) > 1):
        shared = os.path.commonprefix(group)
        for f in group:
            names[f] = f[shared.rfind("/") + 1:]
    return names


def unlisted_matches(pattern: str, listed: list[str]) -> list[str]:
    """Local paths a glob ``pattern`` matches that Beam's match leaves out without a word: directories, and entries
    it cannot stat (a dangling symlink, a symlink loop: an HF cache whose blobs are gone). Read with the rest, they
    become records (``skipped_not_a_regular_file``, ``dead_unreadable_file``) instead of vanishing."""
    if "://" in pattern or not any(ch in pattern for ch in "*?["):
        return []
    seen = set(listed)
    return sorted(p for p in glob.glob(as_glob(pattern)) if p not in seen and (os.path.isdir(p) or not os.path.exists(p)))


def file_records(path: str, source: str, records: Iterable[Record]) -> Iterator[Record]:
    """A file's ``records`` (a reader's lazy iterator), and what else it ends as, for ``run``'s and the task job's
    reader DoFns: a file that yields no record at all (a .jsonl of blank lines, a header-only TSV or CSV, a parquet
    of 0 rows) is a ``no_records`` skip; a read that fails midway, one ``unreadable_file`` dead letter after the
    records before it."""
    n = 0
    try:
        for n, rec in enumerate(records, 1):
            yield rec
        if not n:
            yield Skipped(source, no_surrogates(path), "no_records")
    except OSError as e:
        log.warning("cannot read %s after %d records: %s", path, n, e)
        yield DeadLetter(source, path, f"after {n} records", "unreadable_file", error_detail(e))


class ReadFileFn(beam.DoFn):
    """path -> Documents (main output), DeadLetters ("dead") and Skipped ("skipped"), with a counter per outcome."""

    def __init__(self, fmt: str, source: str, text_field: str = "text", id_field: str = "id",
                 max_doc_chars: int = 0, unlisted: frozenset[str] = frozenset(), names: dict | None = None):
        self._names = names or {}  # path -> the name its dead letters give (shown_names)
        self._fmt, self._source, self._text_field, self._id_field = fmt, source, text_field, id_field
        self._max, self._unlisted = max_doc_chars, unlisted  # unlisted: what unlisted_matches found
        self._read = Metrics.counter(METRICS_NAMESPACE, "documents_read")

    def process(self, path: str | bytes):
        path = os.fsdecode(path)  # ReadCorpus sends bytes (Beam's str coder refuses non-UTF-8 names)
        if special_file(path) or (path in self._unlisted and os.path.isdir(path)):  # a FIFO a glob matched: opening
            # it would wait for a writer (a named one is refused); a directory a glob matched (a named one: books)
            yield self._route(Skipped(self._source, no_surrogates(path), "not_a_regular_file"))
            return
        if path in self._unlisted:  # a dangling symlink or a loop: no format to read it with, nothing to read
            try:
                os.stat(path)
                why: str = "OSError: it could not be listed"
            except OSError as e:
                why = error_detail(e)
            yield self._route(DeadLetter(self._source, path, "file", "unreadable_file", why))
            return
        docs = iter_documents(path, self._fmt, self._source, open_beam, self._text_field, self._id_field, self._max)
        for rec in file_records(path, self._source, docs):  # (a dump without pages: no_records)
            if self._max and isinstance(rec, Document) and len(rec.text) > self._max:
                rec = DeadLetter(self._source, path, f"document {rec.doc_id}", "document_too_large",
                                 f"{len(rec.text):,} characters > --max_doc_chars {self._max:,}")
            yield self._route(rec)

    def _route(self, rec: Record):
        if isinstance(rec, Document):
            self._read.inc()
            return rec
        Metrics.counter(METRICS_NAMESPACE, rec.count_name).inc()  # dead_<reason> / skipped_<reason>
        if isinstance(rec, DeadLetter):
            rec = dataclasses.replace(rec, file=no_surrogates(self._names.get(rec.file, rec.file)))
        return beam.pvalue.TaggedOutput(rec.kind, rec)  # the "dead" and "skipped" outputs


class ReadCorpus(beam.PTransform):
    """Files matching ``patterns`` -> ``DoFnOutputsTuple`` with ``.docs``, ``.dead`` and ``.skipped``.

    Files are matched when the pipeline is built (a pattern matching nothing, or an unknown suffix with
    ``fmt="auto"``, is a ValueError then), spread over workers with a Reshuffle, and each read by ``ReadFileFn``.
    """

    def __init__(self, patterns: list[str] | str, fmt: str = "auto", source: str = "corpus", text_field: str = "text",
                 id_field: str = "id", max_doc_chars: int = 0):
        super().__init__()
        self._max_doc_chars = max_doc_chars
        if fmt not in choices():
            raise ValueError(f"unknown format {fmt!r}; expected one of {choices()}")
        self._patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self._fmt, self._source, self._text_field, self._id_field = fmt, source, text_field, id_field

    def expand(self, pbegin):
        files = match_files(self._patterns)
        if self._fmt == "auto":
            for f in files:
                detect_format(f)
        unlisted = sorted({p for pattern in self._patterns for p in unlisted_matches(pattern, files)})
        files = sorted(files + unlisted)
        log.info("ReadCorpus %s: %d files (%s)", self._source, len(files), self._fmt)
        return (pbegin
                | "Files" >> beam.Create([os.fsencode(f) for f in files])  # bytes: a non-UTF-8 name survives
                | "Reshuffle" >> beam.Reshuffle()
                | "ReadFiles" >> beam.ParDo(ReadFileFn(self._fmt, self._source, self._text_field, self._id_field,
                                                 self._max_doc_chars, frozenset(unlisted),
                                                 shown_names(self._patterns, files)))
                .with_outputs("dead", "skipped", main="docs"))
