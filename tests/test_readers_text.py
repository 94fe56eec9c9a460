"""Plain text and books (readers/text.py, readers/books.py): Project Gutenberg books from /work/shared (skipped when
absent) and files built from the bundled real prose; undecodable lines, odd newlines, truncated streams."""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import zlib
from pathlib import Path

import pytest
import zstandard

from pixelkit.pipeline.documents import DeadLetter, Document, Skipped
from pixelkit.pipeline.readers import iter_documents
from pixelkit.pipeline.readers.books import iter_book_dir
from pixelkit.pipeline.readers.jsonl import iter_jsonl
from pixelkit.pipeline.readers.text import iter_text

from readerdata import SAMPLE_DIR, SHARED_DATA, jsonl_bytes, need, run_job, sentences, write_data  # noqa: F401

GUTENBERG = SHARED_DATA / "prose" / "gutenberg"


def test_gutenberg_dir():
    out = list(iter_book_dir(str(need(GUTENBERG)), "gutenberg"))
    expected = sorted(p.name[:-4] for p in GUTENBERG.glob("*.txt"))
    assert [d.doc_id for d in out] == expected and all(isinstance(d, Document) for d in out)
    books = {d.doc_id: d for d in out}
    pride = books["pg1342_pride_and_prejudice"]
    assert pride.title == "pg1342_pride_and_prejudice"
    assert "It is a truth universally acknowledged" in pride.text
    jungle = books["jnglb10_jungle_book"].text
    assert "Mowgli" in jungle and "\r" not in jungle  # CRLF file, newlines normalised
    # the 1995 etext's 243-line license header and its footer were rendered into the book's strips
    assert jungle.startswith("THE JUNGLE BOOK\n") and jungle.endswith("Pack and harness, pad and load!")
    assert "SMALL PRINT" not in jungle and "project gutenberg" not in jungle.lower()
    whole = next(iter_text(str(GUTENBERG / "pg1342_pride_and_prejudice.txt"), "gutenberg")).text
    assert pride.text == whole  # a book without the markers (this file's were cut already) is kept as read


def test_a_current_gutenberg_header_and_footer_are_cut_and_a_quoted_marker_is_text(tmp_path):
    pride = (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text(encoding="utf-8").strip("\n")
    header = ("The Project Gutenberg eBook of Pride and Prejudice\n\nThis ebook is for the use of anyone anywhere.\n\n"
              "*** START OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***\n")
    footer = "\n*** END OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***\n\nSection 1. General Terms of Use\n"
    (tmp_path / "pg1342.txt").write_text(header + pride + footer, encoding="utf-8")
    quoted = "\n".join(["A line of the book."] * 1000) + "\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nMore."
    (tmp_path / "quoted.txt").write_text(quoted, encoding="utf-8")
    books = {d.doc_id: d.text for d in iter_book_dir(str(tmp_path), "books")}
    assert books["pg1342"] == pride
    assert books["quoted"] == quoted  # past the first 1,000 lines a marker is the book's own text
    [doc] = iter_text(str(tmp_path / "pg1342.txt"), "pg")  # --format text (a .txt under auto) the same
    assert doc.text == pride


def test_book_dir_with_undecodable_lines_loses_those_lines_only(tmp_path):
    pride = (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text(encoding="utf-8")
    wikitext = (SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text(encoding="utf-8")
    (tmp_path / "austen.txt").write_text(pride, encoding="utf-8")
    (tmp_path / "boulter.txt").write_bytes(b"\xef\xbb\xbf" + wikitext.encode("utf-8"))  # with a BOM
    (tmp_path / "cp1252.txt").write_bytes(pride.encode("cp1252"))  # curly quotes -> invalid UTF-8
    (tmp_path / "notes.md").write_text("not a book")
    (tmp_path / "more").mkdir()  # a subdirectory: not read either
    out = list(iter_documents(str(tmp_path), "books", "books"))
    docs = [r for r in out if isinstance(r, Document)]
    dead = [r for r in out if isinstance(r, DeadLetter)]
    assert [r for r in out if isinstance(r, Skipped)] == [Skipped("books", "more", "not_a_book_file"),
                                                          Skipped("books", "notes.md", "not_a_book_file")]
    assert [d.doc_id for d in docs] == ["austen", "boulter", "cp1252"]
    assert docs[0].text == pride and docs[1].text == wikitext
    lines = pride.split("\n")
    bad = [i for i, line in enumerate(lines, 1) if not line.isascii()]
    assert [(Path(d.file).name, d.position, d.reason) for d in dead] == [
        ("cp1252.txt", f"line {i}", "decode_error") for i in bad]
    assert docs[2].text == "\n".join(line for line in lines if line.isascii())  # every other line kept


def test_one_bad_byte_costs_one_line_not_the_book(tmp_path):
    pride = (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_bytes()
    at = pride.index(b"truth universally acknowledged")
    (tmp_path / "book.txt").write_bytes(pride[:at] + b"\xff" + pride[at:])
    line_no = pride[:at].count(b"\n") + 1
    dead, doc = iter_text(str(tmp_path / "book.txt"), "books")
    assert (dead.position, dead.reason) == (f"line {line_no}", "decode_error") and "0xff" in dead.detail
    lines = pride.decode().split("\n")
    assert doc.text == "\n".join(lines[: line_no - 1] + lines[line_no:])
    # paragraphs: the paragraph keeps its other lines; ids do not shift
    paras = list(iter_text(str(tmp_path / "book.txt"), "books", mode="paragraphs"))
    clean = list(iter_text(str(SAMPLE_DIR / "pride-and-prejudice-excerpt.txt"), "books", mode="paragraphs"))
    assert [type(r) for r in paras].count(DeadLetter) == 1
    docs = [r for r in paras if isinstance(r, Document)]
    assert [d.doc_id.replace("book-", "") for d in docs] == [d.doc_id.rsplit("-", 1)[1] for d in clean]
    changed = [(a.text, b.text) for a, b in zip(docs, clean) if a.text != b.text]
    assert len(changed) == 1 and lines[line_no - 1] not in changed[0][0] and lines[line_no - 1] in changed[0][1]


def test_utf16_and_old_mac_newlines(tmp_path):
    pride = (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text(encoding="utf-8")
    (tmp_path / "notepad.txt").write_bytes(pride.encode("utf-16"))  # with its BOM, as Windows editors save it
    [doc] = iter_text(str(tmp_path / "notepad.txt"), "books")
    assert doc.text == pride  # not UTF-8 with a NUL after every letter
    (tmp_path / "utf32.txt").write_bytes(pride.encode("utf-32"))  # FF FE 00 00: UTF-16's BOM and a NUL
    [doc] = iter_text(str(tmp_path / "utf32.txt"), "books")
    assert doc.text == pride  # not UTF-16 with a NUL after every letter
    lines = pride.split("\n")
    mac = "\r".join(lines).encode()
    at = mac.index(b"truth universally")
    (tmp_path / "mac.txt").write_bytes(mac[:at] + b"\xff" + mac[at:])  # \r-only newlines and one bad byte
    dead, doc = iter_text(str(tmp_path / "mac.txt"), "books")
    n = mac[:at].count(b"\r") + 1
    assert dead.position == f"line {n}" and doc.text == "\n".join(lines[: n - 1] + lines[n:])



def test_a_utf16_book_with_one_bad_unit_keeps_the_text_before_it(tmp_path):
    """A UTF-16 book cut mid-character (a copy one byte short) or holding a lone surrogate was lost whole: a
    decode_error dead letter and an empty_text skip. The text before the bad unit is now the document."""
    pride = (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text(encoding="utf-8")
    data = pride.encode("utf-16")
    (tmp_path / "cut.txt").write_bytes(data[:-1])
    dead, doc = iter_text(str(tmp_path / "cut.txt"), "books")
    assert (dead.reason, dead.position) == ("decode_error", f"byte {len(data) - 2}") and doc.text == pride[:-1]
    at = len(data) // 2 & ~1
    (tmp_path / "lone.txt").write_bytes(data[:at] + "\ud800".encode("utf-16-le", "surrogatepass") + data[at:])
    dead, doc = iter_text(str(tmp_path / "lone.txt"), "books")
    assert (dead.reason, dead.position) == ("decode_error", f"byte {at}") and doc.text == pride[:(at - 2) // 2]


def _real_text(n_bytes: int) -> bytes:
    """Real prose (WikiText-2 + Pride and Prejudice), repeated to ``n_bytes``, ending at a newline."""
    base = ((SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_bytes()
            + (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_bytes())
    data = base * (n_bytes // len(base) + 1)
    return data[: data.rindex(b"\n", 0, n_bytes) + 1]


def _recoverable(compressed: bytes, suffix: str) -> bytes:
    """What the codec alone gives back from a cut file: every complete zstd frame / bz2 block / gzip byte."""
    if suffix == ".zst":
        out, rest = [], compressed
        while rest:
            obj = zstandard.ZstdDecompressor().decompressobj()
            data = obj.decompress(rest)
            if not obj.eof:
                break  # the cut frame: the decompressor holds back what it cannot finish
            out.append(data)
            rest = obj.unused_data
        return b"".join(out)
    if suffix == ".bz2":
        return bz2.BZ2Decompressor().decompress(compressed)
    if suffix == ".xz":  # every complete stream, and what the decoder gives of the cut one
        out, rest = [], compressed
        while rest:
            dec = lzma.LZMADecompressor()
            out.append(dec.decompress(rest))
            if not dec.eof:
                break
            rest = dec.unused_data
        return b"".join(out)
    return zlib.decompressobj(31).decompress(compressed)


def _compress(data: bytes, suffix: str) -> bytes:
    if suffix == ".zst":  # frames of 64 kB, as a streaming writer that flushes per frame makes
        return b"".join(zstandard.ZstdCompressor().compress(data[i:i + 65536]) for i in range(0, len(data), 65536))
    if suffix == ".bz2":
        return bz2.compress(data, 1)  # 100 kB blocks
    if suffix == ".xz":  # streams of 64 kB, concatenated (as xz's parallel mode makes blocks)
        return b"".join(lzma.compress(data[i:i + 65536]) for i in range(0, len(data), 65536))
    return gzip.compress(data)


@pytest.mark.parametrize("suffix", [".zst", ".bz2", ".gz", ".xz"])
def test_truncated_stream_keeps_every_complete_frame_or_block(tmp_path, suffix):
    data = _real_text(400_000)
    lines = data.decode().split("\n")[:-1]
    texts = [t for t in lines if t.strip()]
    recs = jsonl_bytes([{"id": f"r{i}", "text": t} for i, t in enumerate(texts)])
    packed = _compress(recs, suffix)
    path = tmp_path / f"cut.jsonl{suffix}"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    *docs, last = iter_jsonl(str(path), "web")
    n = _recoverable(path.read_bytes(), suffix).count(b"\n")  # complete lines in the recoverable part
    assert len(texts) // 3 < n < len(texts) and [d.text for d in docs] == texts[:n]
    assert (last.reason, last.position) == ("truncated_file", f"line {n + 1}")
    # the same cut in a plain-text book: the text before the cut is the document, the cut a dead letter
    book = tmp_path / f"book.txt{suffix}"
    packed = _compress(data, suffix)
    book.write_bytes(packed[: len(packed) * 2 // 3])
    n = _recoverable(book.read_bytes(), suffix).count(b"\n")
    cut, doc = iter_text(str(book), "books")
    assert doc.text == "\n".join(lines[:n]) + "\n" and (cut.reason, cut.position) == ("truncated_file", f"line {n + 1}")



@pytest.mark.parametrize("suffix", [".zst", ".bz2", ".gz", ".xz"])
def test_a_zero_byte_compressed_file_is_truncated_not_empty(tmp_path, suffix):
    """A compressed file cut to 0 bytes (an interrupted download) has lost even its header: gzip and zstd read it
    as no data, so it ended with no record and no dead letter -- silently; bzip2 and the command-line tools call it
    truncated. Now all three do. A compressed stream of no data still reads as nothing, and real text as before."""
    for name in (f"cut.jsonl{suffix}", f"book.txt{suffix}"):
        (tmp_path / name).write_bytes(b"")
        [dead] = iter_documents(str(tmp_path / name), "auto", "web")
        assert (dead.reason, dead.position) == ("truncated_file", "line 1") and "0 bytes" in dead.detail, dead
    compress = {".zst": zstandard.ZstdCompressor().compress, ".bz2": bz2.compress, ".gz": gzip.compress,
                ".xz": lzma.compress}[suffix]
    (tmp_path / f"empty.jsonl{suffix}").write_bytes(compress(b""))  # a header, no data
    assert list(iter_jsonl(str(tmp_path / f"empty.jsonl{suffix}"), "web")) == []
    data = _real_text(2000)
    (tmp_path / f"ok.txt{suffix}").write_bytes(_compress(data, suffix))
    [doc] = iter_text(str(tmp_path / f"ok.txt{suffix}"), "books")
    assert doc.text == data.decode()



@pytest.mark.parametrize("suffix", [".zst", ".bz2", ".gz", ".xz"])
def test_a_compressed_file_named_without_its_suffix_is_decompressed(tmp_path, suffix):
    """A download saved compressed under its plain name: a gzip'd book.txt was read as UTF-8 text, 83 lines of
    compressed bytes as decode_error dead letters and the few that decoded as a 2-character document of junk,
    rendered and written. A file named without a compression suffix is now decompressed by its magic bytes."""
    data = _real_text(20_000)
    (tmp_path / "book.txt").write_bytes(_compress(data, suffix))
    [doc] = iter_documents(str(tmp_path / "book.txt"), "auto", "books")
    assert doc.text == data.decode()
    texts = [t for t in data.decode().split("\n") if t.strip()]
    (tmp_path / "web.jsonl").write_bytes(_compress(jsonl_bytes([{"text": t} for t in texts]), suffix))
    assert [d.text for d in iter_jsonl(str(tmp_path / "web.jsonl"), "web")] == texts


def test_xz_corpora_run_whole_and_cut(tmp_path):
    """.xz (CC-100 ships as ``*.txt.xz``) was no known suffix: ``--input`` refused it ("cannot tell the format"),
    and under a plain name its bytes were read as text. Now it is a codec like the others, through the whole job:
    two concatenated streams read as one, a cut file keeps its text before the cut plus one ``truncated_file``."""
    data = _real_text(60_000)
    (tmp_path / "cc100-a.txt.xz").write_bytes(lzma.compress(data[:30_000]) + lzma.compress(data[30_000:]))
    packed = lzma.compress(data)
    (tmp_path / "cc100-b.txt.xz").write_bytes(packed[: len(packed) // 2])
    texts = [t for t in data.decode().split("\n") if t.strip()][:50]
    (tmp_path / "web.jsonl.xz").write_bytes(lzma.compress(jsonl_bytes([{"text": t} for t in texts])))
    counts = run_job([f"cc={tmp_path}/*.txt.xz", f"web={tmp_path}/web.jsonl.xz"], tmp_path / "out")
    assert counts["documents_written"] == 2 + len(texts) and counts["dead_truncated_file"] == 1, counts


def test_bookcorpusopen_layout(tmp_path, sentences):
    path = write_data(tmp_path / "books.jsonl.zst", jsonl_bytes(
        [{"title": f"book-{i}.epub.txt", "text": "\n".join(sentences[i::3])} for i in range(3)]))
    out = list(iter_documents(str(path), "books", "bookcorpus"))
    assert [(d.doc_id, d.title) for d in out] == [(f"book-{i}.epub.txt",) * 2 for i in range(3)]
    assert out[1].text == "\n".join(sentences[1::3])


def test_text_paragraphs_and_file(tmp_path):
    src = SAMPLE_DIR / "pride-and-prejudice-excerpt.txt"
    text = src.read_text(encoding="utf-8")
    expected = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    out = list(iter_text(str(src), "austen", mode="paragraphs"))
    assert [d.doc_id for d in out] == [f"pride-and-prejudice-excerpt-{k}" for k in range(len(expected))]
    assert [d.text for d in out] == expected and len(expected) > 50
    [whole] = iter_documents(str(src), "auto", "austen")
    assert whole.text == text and whole.doc_id == "pride-and-prejudice-excerpt"
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\n")
    assert list(iter_text(str(empty), "x")) == [Skipped("x", "empty", "empty_text")]


def test_utf16_without_a_byte_order_mark_is_one_dead_letter_not_letter_spaced_text(tmp_path):
    """UTF-16 saved without its BOM (some exporters do): its ASCII is valid UTF-8 with a NUL after every letter, and
    each NUL was rendered as a space -- a letter-spaced book written to the shards. Now one ``decode_error`` dead
    letter says what it likely is; with its BOM it reads as before, and a few NULs in real text still pass."""
    pride = (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text(encoding="utf-8")[:5000]
    for codec in ("utf-16-le", "utf-16-be", "utf-32-le"):
        (tmp_path / "nobom.txt").write_bytes(pride.encode(codec))
        [dead] = iter_documents(str(tmp_path / "nobom.txt"), "auto", "books")
        assert (dead.reason, dead.position) == ("decode_error", "file") and "without a byte-order mark" in dead.detail
    (tmp_path / "bom.txt").write_bytes(pride.encode("utf-16"))
    [doc] = iter_documents(str(tmp_path / "bom.txt"), "auto", "books")
    assert doc.text == pride
    (tmp_path / "nuls.txt").write_bytes(pride.replace(".", ".\x00").encode())
    [doc] = iter_documents(str(tmp_path / "nuls.txt"), "auto", "books")
    assert doc.text == pride.replace(".", ".\x00")
    books = tmp_path / "books"
    books.mkdir()
    (books / "nobom.txt").write_bytes(pride.encode("utf-16-le"))
    (books / "ok.txt").write_text(pride, encoding="utf-8")
    counts = run_job([f"books={books}"], tmp_path / "out")
    assert (counts["documents_written"], counts["dead_decode_error"], counts["records_read"]) == (1, 1, 2), counts
