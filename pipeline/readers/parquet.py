"""Parquet (e.g. Hugging Face dataset exports): one document per row, read in record batches."""

from __future__ import annotations

from typing import Iterator

from ..documents import DeadLetter, Record
from .streams import Opener, error_detail, file_stem, open_binary
from .web import duplicate_columns, web_record


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
            # read in 1 MB steps, page by page: pyarrow's default pre-buffers every column chunk of a row group
            # before its first row (a 324 MB file written as one row group: 404 MB RSS for its first 1,000 rows)
            pf = pq.ParquetFile(fh, buffer_size=1 << 20, pre_buffer=False)
            names = pf.schema_arrow.names
            if text_field not in names:
                yield DeadLetter(source, path, "schema", "missing_text", f"no column {text_field!r} in {names}"[:300])
                return
            if twice := duplicate_columns(source, path, "schema", names, text_field, id_field):
                yield twice
                return
            columns = [c for c in dict.fromkeys((text_field, id_field, "title")) if c in names]
            for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
                for rec in batch.to_pylist():
                    yield web_record(rec, source, path, f"row {row}", f"{stem}-{row}", text_field, id_field)
                    row += 1
        except (pa.ArrowException, OSError) as e:
            yield DeadLetter(source, path, f"row {row}", "corrupt_file", error_detail(e))
