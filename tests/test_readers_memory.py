"""Readers stay bounded on big inputs: a record over ``--max_doc_chars`` is refused (``document_too_large``) after at
most a bounded number of bytes, never held whole, and the records around it are read. Real prose (the bundled
WikiText-2 / Pride and Prejudice excerpts) repeated to a few MB; bytes read are counted at the file itself."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zstandard

from pixelkit.pipeline.documents import DeadLetter, Document
from pixelkit.pipeline.readers import iter_documents

from readerdata import SAMPLE_DIR, jsonl_bytes, kinds, write_data


class CountingFile(io.FileIO):
    """A real local file that counts the bytes read from it."""

    read_bytes = 0

    def readinto(self, b):
        n = super().readinto(b)
        CountingFile.read_bytes += n or 0
        return n


def counting_open(path: str):
    CountingFile.read_bytes = 0
    return io.BufferedReader(CountingFile(path), buffer_size=1 << 16)


def prose(n_bytes: int) -> str:
    base = ((SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text(encoding="utf-8")
            + (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text(encoding="utf-8"))
    return (base * (n_bytes // len(base) + 1))[:n_bytes]


def test_a_text_file_over_max_doc_chars_is_refused_without_being_read_whole(tmp_path: Path):
    big = tmp_path / "big.txt"
    big.write_text(prose(8 << 20).replace("\n", " "), encoding="utf-8")  # 8 MB, one line (a dump with no newline)
    small = tmp_path / "small.txt"
    small.write_text(prose(50_000), encoding="utf-8")
    limit = 200_000
    recs = list(iter_documents(str(big), "auto", "books", counting_open, max_doc_chars=limit))
    assert kinds(recs) == {"DeadLetter:document_too_large": 1}
    assert "not read further" in recs[0].detail and recs[0].position == "file"
    cap = 4 * limit + (1 << 20)  # 4 bytes per character (+1 MiB)
    assert CountingFile.read_bytes <= cap + (2 << 20) < big.stat().st_size // 2  # all 8 MB were read
    ok = list(iter_documents(str(small), "auto", "books", counting_open, max_doc_chars=limit))
    assert [type(r) for r in ok] == [Document] and len(ok[0].text) == 50_000


def test_a_book_directory_refuses_its_oversized_book_alone(tmp_path: Path):
    books = tmp_path / "books"
    books.mkdir()
    (books / "a.txt").write_text(prose(30_000), encoding="utf-8")
    (books / "b.txt").write_text(prose(6 << 20), encoding="utf-8")
    (books / "c.txt").write_text(prose(40_000), encoding="utf-8")
    recs = list(iter_documents(str(books), "books", "books", counting_open, max_doc_chars=100_000))
    assert [(type(r).__name__, r.file.rsplit("/", 1)[-1] if isinstance(r, DeadLetter) else r.doc_id) for r in recs] == [
        ("Document", "a"), ("DeadLetter", "b.txt"), ("Document", "c")]
    assert isinstance(recs[1], DeadLetter) and recs[1].reason == "document_too_large"


def _peak_bytes(fn) -> tuple[list, int]:
    import tracemalloc

    tracemalloc.start()
    try:
        out = list(fn())
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["web.jsonl", "web.jsonl.gz"])
def test_a_json_line_over_max_doc_chars_is_refused_without_being_held_or_parsed(tmp_path: Path, name: str):
    lines = [{"id": "before", "text": prose(20_000)}, {"id": "huge", "text": prose(16 << 20)},
             {"id": "after", "text": prose(30_000)}]
    path = write_data(tmp_path / name, jsonl_bytes(lines))
    limit = 100_000  # a line over 12 bytes per character (+1 MiB): 2.2 MB; the huge one is 16 MB
    recs, peak = _peak_bytes(lambda: iter_documents(str(path), "auto", "web", max_doc_chars=limit))
    assert [getattr(r, "doc_id", None) or r.reason for r in recs] == ["before", "document_too_large", "after"]
    assert recs[1].position == "line 2" and "not parsed" in recs[1].detail
    assert peak < 8 << 20  # the 16 MB line was held, decoded and parsed: > 48 MB


def test_a_well_compressed_zst_is_decompressed_in_bounded_pieces(tmp_path: Path):
    """python-zstandard's decompressobj has no output limit: 64 KB of input fed at once came out as one piece of
    all it makes (here the whole 48 MB file, 20 KB compressed); fed in 1 KB steps, a piece is at most 32 MB (a
    zstd block of a few bytes makes at most 128 KB) and on text far less."""
    text = prose(4_000)
    lines = [{"id": f"d{i}", "text": text} for i in range(12_000)]  # 48 MB of JSON lines
    path = tmp_path / "web.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(jsonl_bytes(lines)))
    assert path.stat().st_size < 64 << 10
    recs, peak = _peak_bytes(lambda: (r.doc_id for r in iter_documents(str(path), "auto", "web")))
    assert len(recs) == 12_000 and recs[-1] == "d11999"
    assert peak < 16 << 20  # was > 48 MB


def test_parquet_with_one_huge_row_group_is_read_a_page_at_a_time(tmp_path: Path):
    """pyarrow's ParquetFile pre-buffers (pre_buffer=True by default) every column chunk of a row group before its
    first row: a file written as one row group was read whole (a 324 MB file: 404 MB RSS for its first 1,000 rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = prose(9_000)
    n = 4_000  # 16 MB of text in one row group, uncompressed, each row its own text
    table = pa.table({"id": [f"d{i}" for i in range(n)], "text": [f"{i} {text[i:i + 4_000]}" for i in range(n)]})
    path = tmp_path / "one-group.parquet"
    pq.write_table(table, path, row_group_size=n, compression="none", use_dictionary=False)
    assert path.stat().st_size > 15 << 20
    first = []
    for rec in iter_documents(str(path), "auto", "web", counting_open):
        first.append(rec.doc_id)
        if len(first) == 10:
            break
    assert first == [f"d{i}" for i in range(10)]
    assert CountingFile.read_bytes < 6 << 20  # all 16 MB were read before the first row
    every = [r.doc_id for r in iter_documents(str(path), "auto", "web", counting_open)]
    assert every == [f"d{i}" for i in range(n)]
