"""Corpus readers: pure generators of ``Document | DeadLetter | Skipped``, and the ``ReadCorpus`` PTransform.

Every reader is ``iter_<format>(path, source, opener=open_binary, **opts)``. It streams the file (decompressed by
suffix: .bz2, .gz, .zst) and does not raise on bad data: a broken record becomes a ``DeadLetter`` (file + position),
a record left out on purpose becomes ``Skipped``, and a stream that breaks (truncated or corrupt) ends the file
with one ``DeadLetter`` after the records read so far. Errors from ``opener`` itself (missing file, permission)
propagate; ``ReadFileFn`` turns them into an ``unreadable_file`` dead letter.

    for rec in iter_documents("dumps/enwiki-pages-articles-multistream.xml.bz2", "auto", "enwiki"): ...
    read = p | "ReadEnwiki" >> ReadCorpus(["gs://bucket/c4/*.jsonl.zst"], "auto", "c4")   # read.docs/.dead/.skipped
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import re
from typing import BinaryIO, Callable, Iterator

from .documents import DeadLetter, Document, Skipped, no_surrogates
from .streams import STREAM_ERRORS as _STREAM_ERRORS
from .streams import _CHUNK, Opener, _detail, _split_name, _stream_reason, file_stem, open_binary, open_stream
from .wikidump import iter_wikipedia

log = logging.getLogger(__name__)

Record = Document | DeadLetter | Skipped
FORMATS = ("auto", "wikipedia", "books", "jsonl", "parquet", "text")


# ---------------------------------------------------------------- web corpora: jsonl, parquet


def _doc_id(value, fallback: str) -> str:
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return no_surrogates(str(value))
    return fallback


def web_record(rec, source: str, path: str, position: str, fallback_id: str, text_field: str, id_field: str) -> Record:
    """One parsed record -> Document (``title`` from a ``title`` field if any), Skipped (empty) or DeadLetter."""
    text = rec.get(text_field) if isinstance(rec, dict) else None
    if not isinstance(text, str):
        what = (f"no string field {text_field!r}" if isinstance(rec, dict)
                else f"not a JSON object: {type(rec).__name__}")
        return DeadLetter(source, path, position, "missing_text", what)
    doc_id = _doc_id(rec.get(id_field), fallback_id)
    if not text or text.isspace():
        return Skipped(source, doc_id, "empty_text")
    title = rec.get("title")
    return Document(source, doc_id, text, title if isinstance(title, str) else "")


def _json_line(raw: bytes, source: str, path: str, line_no: int, stem: str, text_field: str, id_field: str) -> Record:
    position = f"line {line_no}"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return DeadLetter(source, path, position, "decode_error", _detail(e))
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError) as e:
        return DeadLetter(source, path, position, "invalid_json", _detail(e))
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
        except _STREAM_ERRORS as e:
            yield DeadLetter(source, path, f"line {line_no + 1}", _stream_reason(e), _detail(e))


def iter_parquet(path: str, source: str, opener: Opener = open_binary, text_field: str = "text",
                 id_field: str = "id", batch_size: int = 256) -> Iterator[Record]:
    """Parquet, read in record batches of only the text, id and title columns.

    A row without an id gets ``f"{file_stem}-{row}"`` (rows counted from 0 over the whole file).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    stem, row = file_stem(path), 0
    with opener(path) as fh:
        try:
            pf = pq.ParquetFile(fh)
            names = pf.schema_arrow.names
            if text_field not in names:
                yield DeadLetter(source, path, "schema", "missing_text", f"no column {text_field!r} in {names}"[:300])
                return
            columns = [c for c in dict.fromkeys((text_field, id_field, "title")) if c in names]
            for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
                for rec in batch.to_pylist():
                    yield web_record(rec, source, path, f"row {row}", f"{stem}-{row}", text_field, id_field)
                    row += 1
        except (pa.ArrowException, OSError) as e:
            yield DeadLetter(source, path, f"row {row}", "corrupt_file", _detail(e))


# ---------------------------------------------------------------- plain text and books


def _read_all(fh: BinaryIO) -> tuple[bytes, BaseException | None]:
    """Every byte the stream gives before it ends or breaks, and the error that broke it (None at a clean end).
    ``read1``: a decompressor failing mid-file keeps what it had already decompressed (``read(n)`` drops it)."""
    parts, read = [], getattr(fh, "read1", fh.read)
    try:
        while chunk := read(_CHUNK):
            parts.append(chunk)
    except _STREAM_ERRORS as e:
        return b"".join(parts), e
    return b"".join(parts), None


_NEWLINE = re.compile(rb"\r\n|\r|\n")


def decode_lines(data: bytes, source: str, path: str) -> tuple[str, list[DeadLetter]]:
    """``data`` as UTF-8 text (a leading BOM dropped; a UTF-16 BOM makes it UTF-16, as Windows editors save it).
    A line (``\n``, ``\r\n`` or ``\r``) that does not decode is left out and becomes a ``decode_error`` dead
    letter with its line number (1-based) -- the rest of the file is kept."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as e:
            return "", [DeadLetter(source, path, f"byte {e.start}", "decode_error", "UTF-16: " + _detail(e))]
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
            dead.append(DeadLetter(source, path, f"line {line_no}", "decode_error", _detail(e)))
    return "\n".join(kept), dead


def _whole_text(fh: BinaryIO, source: str, path: str, stem: str) -> Iterator[Record]:
    data, err = _read_all(fh)
    lines_before = data.count(b"\n")
    if err is not None:  # the partial last line is part of the cut
        data = data[: data.rfind(b"\n") + 1]
    text, dead = decode_lines(data, source, path)
    yield from dead
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if err is not None:
        yield DeadLetter(source, path, f"line {lines_before + 1}", _stream_reason(err), _detail(err))
        if not text.strip():
            return  # nothing before the cut: the dead letter is the file's only record
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
                yield DeadLetter(source, path, f"line {line_no}", "decode_error", _detail(e))
                started = True
                continue
            if line and not line.isspace():
                lines.append(line)
                started = True
            elif started:
                if lines:
                    yield Document(source, f"{stem}-{k}", "\n".join(lines), stem)
                lines, started, k = [], False, k + 1
    except _STREAM_ERRORS as e:
        yield DeadLetter(source, path, f"line {line_no + 1}", _stream_reason(e), _detail(e))
    if lines:  # the last paragraph, or the complete lines read before a cut
        yield Document(source, f"{stem}-{k}", "\n".join(lines), stem)


def iter_text(path: str, source: str, opener: Opener = open_binary, mode: str = "file") -> Iterator[Record]:
    """UTF-8 text. ``mode="file"``: one document (``doc_id`` = title = file stem). ``mode="paragraphs"``:
    blank-line separated documents ``f"{stem}-{k}"`` (k from 0; a paragraph of only undecodable lines still
    counts, so later ids do not shift). Either way a line that is not valid UTF-8 costs that line only: it is
    left out and dead-lettered (``decode_error``, ``line N``); a stream cut short (truncated .gz/.bz2/.zst)
    keeps every complete line before the cut and adds one ``truncated_file`` dead letter."""
    if mode not in ("file", "paragraphs"):
        raise ValueError(f"mode must be 'file' or 'paragraphs', not {mode!r}")
    with open_stream(path, opener) as fh:
        if mode == "file":
            yield from _whole_text(fh, source, path, file_stem(path))
        else:
            yield from _paragraphs(fh, source, path, file_stem(path))


_BOOK_SUFFIXES = (".txt", ".txt.gz", ".txt.bz2", ".txt.zst")


def iter_book_dir(path: str, source: str, opener: Opener = open_binary) -> Iterator[Record]:
    """A local directory of plain-text books (``*.txt[.gz|.bz2|.zst]``, sorted by name), one Document per file."""
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if name.lower().endswith(_BOOK_SUFFIXES) and os.path.isfile(full):
            yield from iter_text(full, source, opener, mode="file")


def iter_books(path: str, source: str, opener: Opener = open_binary, text_field: str = "text") -> Iterator[Record]:
    """Books: a directory or a file per book, or the bookcorpusopen layout (jsonl/parquet with ``title``, ``text``)."""
    if os.path.isdir(path):
        return iter_book_dir(path, source, opener)
    fmt = detect_format(path)
    if fmt in ("jsonl", "parquet"):
        return _READERS[fmt][0](path, source, opener, text_field=text_field, id_field="title")
    return iter_text(path, source, opener, mode="file")


# ---------------------------------------------------------------- dispatch

_FORMAT_BY_SUFFIX = {".xml": "wikipedia", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".txt": "text"}
_READERS: dict[str, tuple[Callable[..., Iterator[Record]], tuple[str, ...]]] = {
    "wikipedia": (iter_wikipedia, ()),
    "books": (iter_books, ("text_field",)),
    "jsonl": (iter_jsonl, ("text_field", "id_field")),
    "parquet": (iter_parquet, ("text_field", "id_field")),
    "text": (iter_text, ()),
}


def detect_format(path: str) -> str:
    """The reader for ``path`` by suffix (a local directory is ``books``); ValueError if the suffix is unknown."""
    if os.path.isdir(path):
        return "books"
    suffix = os.path.splitext(_split_name(path)[0])[1].lower()
    if suffix not in _FORMAT_BY_SUFFIX:
        raise ValueError(f"cannot tell the format of {path!r} from its suffix ({sorted(_FORMAT_BY_SUFFIX)}); "
                         f"pass one of {FORMATS[1:]}")
    return _FORMAT_BY_SUFFIX[suffix]


def iter_documents(path: str, fmt: str = "auto", source: str = "corpus", opener: Opener = open_binary,
                   text_field: str = "text", id_field: str = "id") -> Iterator[Record]:
    """The records of one file (or book directory) in format ``fmt`` (one of FORMATS). Raises ValueError early for an
    unknown format; everything else is reported as records."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    reader, keys = _READERS[detect_format(path) if fmt == "auto" else fmt]
    opts = {"text_field": text_field, "id_field": id_field}
    return reader(path, source, opener, **{k: opts[k] for k in keys})


# ---------------------------------------------------------------- Beam

import apache_beam as beam  # noqa: E402  (the pure readers above must not need Beam)
from apache_beam.io.filesystem import CompressionTypes  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.metrics import Metrics  # noqa: E402

METRICS_NAMESPACE = "pipeline.sources"


def open_beam(path: str) -> BinaryIO:
    """``FileSystems.open`` (local, gs://, s3:// ...) without Beam's own by-suffix decompression: the readers do it."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def match_files(patterns: list[str]) -> list[str]:
    """Sorted, de-duplicated paths matching the patterns; ValueError for a pattern that matches nothing."""
    paths: set[str] = set()
    for pattern in patterns:
        found = FileSystems.match([pattern])[0].metadata_list
        if not found:
            raise ValueError(f"no file matches {pattern!r}")
        paths.update(m.path for m in found)
    return sorted(paths)


class ReadFileFn(beam.DoFn):
    """path -> Documents (main output), DeadLetters ("dead") and Skipped ("skipped"), with a counter per outcome."""

    def __init__(self, fmt: str, source: str, text_field: str = "text", id_field: str = "id",
                 max_doc_chars: int = 0):
        self._fmt, self._source, self._text_field, self._id_field = fmt, source, text_field, id_field
        self._max = max_doc_chars
        self._read = Metrics.counter(METRICS_NAMESPACE, "documents_read")

    def process(self, path: str | bytes):
        path, n = os.fsdecode(path), 0  # ReadCorpus sends bytes (Beam's str coder refuses non-UTF-8 names)
        try:
            for rec in iter_documents(path, self._fmt, self._source, open_beam, self._text_field, self._id_field):
                n += 1
                if self._max and isinstance(rec, Document) and len(rec.text) > self._max:
                    rec = DeadLetter(self._source, path, f"document {rec.doc_id}", "document_too_large",
                                     f"{len(rec.text):,} characters > --max_doc_chars {self._max:,}")
                yield self._route(rec)
        except OSError as e:
            log.warning("cannot read %s after %d records: %s", path, n, e)
            yield self._route(DeadLetter(self._source, path, f"after {n} records", "unreadable_file", _detail(e)))

    def _route(self, rec: Record):
        if isinstance(rec, Document):
            self._read.inc()
            return rec
        if isinstance(rec, DeadLetter):
            Metrics.counter(METRICS_NAMESPACE, f"dead_{rec.reason}").inc()
            return beam.pvalue.TaggedOutput("dead", rec)
        Metrics.counter(METRICS_NAMESPACE, f"skipped_{rec.reason}").inc()
        return beam.pvalue.TaggedOutput("skipped", rec)


class ReadCorpus(beam.PTransform):
    """Files matching ``patterns`` -> ``DoFnOutputsTuple`` with ``.docs``, ``.dead`` and ``.skipped``.

    Files are matched when the pipeline is built (a pattern matching nothing, or an unknown suffix with
    ``fmt="auto"``, is a ValueError then), spread over workers with a Reshuffle, and each read by ``ReadFileFn``.
    """

    def __init__(self, patterns: list[str] | str, fmt: str = "auto", source: str = "corpus", text_field: str = "text",
                 id_field: str = "id", max_doc_chars: int = 0):
        super().__init__()
        self._max_doc_chars = max_doc_chars
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
        self._patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self._fmt, self._source, self._text_field, self._id_field = fmt, source, text_field, id_field

    def expand(self, pbegin):
        files = match_files(self._patterns)
        if self._fmt == "auto":
            for f in files:
                detect_format(f)
        log.info("ReadCorpus %s: %d files (%s)", self._source, len(files), self._fmt)
        return (pbegin
                | "Files" >> beam.Create([os.fsencode(f) for f in files])  # bytes: a non-UTF-8 name survives
                | "Reshuffle" >> beam.Reshuffle()
                | "ReadFiles" >> beam.ParDo(ReadFileFn(self._fmt, self._source, self._text_field, self._id_field,
                                                 self._max_doc_chars))
                .with_outputs("dead", "skipped", main="docs"))
