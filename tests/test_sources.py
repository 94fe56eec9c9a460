"""Source readers on real data: the bundled Wikipedia excerpt, the /work/shared excerpts (skipped when absent), and
small files built in tmp_path from real WikiText-2 / Pride and Prejudice text (attribution in sample_data/README.md)."""

from __future__ import annotations

import bz2
import gzip
import json
import re
import shutil
import tracemalloc
import zlib
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pixelkit.pipeline.documents import DeadLetter, Document, Skipped
from pixelkit.pipeline.sources import (ReadCorpus, ReadFileFn, detect_format, iter_book_dir, iter_documents, iter_jsonl,
                              iter_parquet, iter_text)
from pixelkit.pipeline.wikidump import iter_wikipedia
from pixelkit.pipeline.wikitext import wikitext_to_text

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WIKI = SAMPLE_DIR / "enwiki-excerpt.xml.bz2"
ENWIKI_FULL = SHARED_DATA / "wikipedia" / "enwiki-articles-excerpt.xml.bz2"
BGWIKI = SHARED_DATA / "wikipedia" / "bgwiki-articles-excerpt.xml.bz2"
GUTENBERG = SHARED_DATA / "prose" / "gutenberg"
LEFTOVERS = ("{{", "}}", "[[", "]]", "<ref", "{|", "|}", "thumb|", "Category:", "File:", "''")


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (real data from ../shared/data; a user's clone has none)")
    return path


def _kinds(recs) -> Counter:
    return Counter(type(r).__name__ + (f":{r.reason}" if not isinstance(r, Document) else "") for r in recs)


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    """Real WikiText-2 lines (CC BY-SA 3.0), headings excluded."""
    lines = (SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text(encoding="utf-8").splitlines()
    return [s.strip() for s in lines if len(s.strip()) > 40 and not s.strip().startswith("=")][:30]


@pytest.fixture(scope="module")
def enwiki_full() -> list:
    return list(iter_wikipedia(str(_need(ENWIKI_FULL)), "enwiki"))


# ---------------------------------------------------------------- Wikipedia


def test_bundled_wiki_excerpt_is_multistream_and_parses():
    data = WIKI.read_bytes()
    assert len(re.findall(rb"BZh91AY&SY", data)) == 10  # header, 8 pages, footer: each its own bz2 stream
    recs = list(iter_documents(str(WIKI), "auto", "enwiki"))
    docs = [r for r in recs if isinstance(r, Document)]
    assert [(d.doc_id, d.title) for d in docs] == [("12", "Anarchism")]
    skipped = [r for r in recs if isinstance(r, Skipped)]
    assert [s.reason for s in skipped] == ["redirect"] * 7
    assert all(s.doc_id.isdigit() for s in skipped) and skipped[-1].doc_id == "20"  # read across all streams
    text = docs[0].text
    assert text.startswith("Anarchism is a political philosophy")
    assert not [bad for bad in LEFTOVERS if bad in text]
    lines = text.splitlines()
    assert "Etymology and terminology" in lines and "Anarcho-syndicalism" in lines  # headings on their own lines
    assert "\n\n\n" not in text and "References" not in lines  # emptied sections (only {{reflist}}) are gone


def test_full_enwiki_counts(enwiki_full):
    kinds = _kinds(enwiki_full)
    assert kinds == Counter({"Document": 106, "Skipped:redirect": 99, "Skipped:not_article_namespace": 1})
    docs = [r for r in enwiki_full if isinstance(r, Document)]
    assert all(d.doc_id.isdigit() and d.title for d in docs)
    assert len({d.doc_id for d in docs}) == 106
    assert [r.doc_id for r in enwiki_full if getattr(r, "reason", "") == "not_article_namespace"] == ["724"]
    dirty = {d.title: bad for d in docs for bad in LEFTOVERS if bad in d.text}
    assert dirty == {}
    assert sum(len(d.text) for d in docs) > 2_000_000


def test_bgwiki_is_cyrillic():
    recs = list(iter_wikipedia(str(_need(BGWIKI)), "bgwiki"))  # this export is UTF-16 (with BOM)
    docs = [r for r in recs if isinstance(r, Document)]
    assert [(d.doc_id, d.title) for d in docs] == [("558", "Григориански календар")]
    assert [(r.doc_id, r.reason) for r in recs if isinstance(r, Skipped)] == \
        [("559", "not_article_namespace"), ("560", "not_article_namespace")]
    letters = [c for c in docs[0].text if c.isalpha()]
    assert sum("\u0400" <= c <= "\u04ff" for c in letters) / len(letters) > 0.9
    assert "Категория" not in docs[0].text and "[[" not in docs[0].text


def test_truncated_bundled_bz2(tmp_path):
    data = WIKI.read_bytes()
    cut = tmp_path / "cut.xml.bz2"
    cut.write_bytes(data[: len(data) // 2])  # the middle falls inside page 2's stream
    recs = list(iter_wikipedia(str(cut), "enwiki"))
    assert recs[:-1] == [Skipped("enwiki", "10", "redirect")]
    assert recs[-1].reason == "truncated_file" and recs[-1].position.startswith("page 2 ")
    assert recs[-1].file == str(cut) and "EOFError" in recs[-1].detail


def test_truncated_full_bz2_keeps_the_pages_before(tmp_path, enwiki_full):
    data = ENWIKI_FULL.read_bytes()
    cut = tmp_path / "enwiki-cut.xml.bz2"
    cut.write_bytes(data[: len(data) // 2])
    recs = list(iter_wikipedia(str(cut), "enwiki"))
    *before, last = recs
    assert isinstance(last, DeadLetter) and last.reason == "truncated_file"
    assert 20 < len(before) < len(enwiki_full) and before == enwiki_full[: len(before)]
    assert last.position.startswith(f"page {len(before) + 1} ")


def test_a_broken_page_costs_that_page_not_the_rest_of_the_dump(tmp_path):
    xml = bz2.decompress(WIKI.read_bytes())
    clean = list(iter_wikipedia(str(WIKI), "enwiki"))
    ends = [m.start() for m in re.finditer(b"</page>", xml)]
    assert len(clean) == len(ends) > 4
    bad = tmp_path / "bad.xml"
    bad.write_bytes(xml[:ends[2]] + b"</pgae>" + xml[ends[2] + 7:])  # the 3rd page does not close
    recs = list(iter_documents(str(bad), "auto", "enwiki"))
    assert (recs[2].position, recs[2].reason) == ("page 3", "malformed_xml")
    assert recs[:2] + recs[3:] == clean[:2] + clean[3:]  # every other page, before and after
    # one invalid UTF-8 byte inside the 4th page's text: that page is a decode_error, the rest are read
    text_at = xml.index(b"</text>", ends[2]) - 5
    (tmp_path / "bytes.xml").write_bytes(xml[:text_at] + b"\xff" + xml[text_at:])
    recs = list(iter_wikipedia(str(tmp_path / "bytes.xml"), "enwiki"))
    assert (recs[3].position, recs[3].reason) == ("page 4", "decode_error") and "0xff" in recs[3].detail
    assert recs[:3] + recs[4:] == clean[:3] + clean[4:]
    # a page left open at the very end of an uncompressed file
    cut = xml[: ends[-1] - 50]
    (tmp_path / "cut.xml").write_bytes(cut)
    recs = list(iter_wikipedia(str(tmp_path / "cut.xml"), "enwiki"))
    assert recs[:-1] == clean[:-1] and (recs[-1].position, recs[-1].reason) == (f"page {len(clean)}", "malformed_xml")


def test_wikitext_to_text_markup():
    text = wikitext_to_text("'''Bold''' {{Infobox|x=1}} word<ref>cite</ref> ([[Kategorie|k]]).\n\n"
                            "== Life ==\n[[Файл:X.png|thumb|cap [[a]]]]Born [[Sofia|in Sofia]].\n"
                            "{|\n| cell\n|}\n== References ==\n{{reflist}}\n[[Категория:Y]]",
                            frozenset({"файл", "категория"}))
    assert text == "Bold word (k).\n\nLife\nBorn in Sofia."


# ---------------------------------------------------------------- jsonl / parquet


def _jsonl_bytes(records) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in records)


def _write(path: Path, data: bytes) -> Path:
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):  # two frames, as concatenated .zst files are
        half = len(data) // 2
        data = zstandard.ZstdCompressor().compress(data[:half]) + zstandard.ZstdCompressor().compress(data[half:])
    path.write_bytes(data)
    return path


def _records(sentences):
    """Every third record has no id, to exercise the deterministic fallback."""
    return [{"text": s, **({} if i % 3 == 2 else {"id": f"wt{i}"})} for i, s in enumerate(sentences)]


@pytest.mark.parametrize("name", ["web.jsonl", "web.jsonl.gz", "web.jsonl.zst", "web.parquet"])
def test_web_formats_all_docs_with_ids(tmp_path, sentences, name):
    recs = _records(sentences)
    if name.endswith(".parquet"):
        pq.write_table(pa.table({"id": [r.get("id") for r in recs], "text": sentences, "url": ["x"] * len(recs)}),
                       tmp_path / name, row_group_size=7)
        expected_ids = [r.get("id", f"web-{i}") for i, r in enumerate(recs)]  # row numbers from 0
    else:
        _write(tmp_path / name, _jsonl_bytes(recs))
        expected_ids = [r.get("id", f"web-{i + 1}") for i, r in enumerate(recs)]  # line numbers from 1
    out = list(iter_documents(str(tmp_path / name), "auto", "web"))
    assert all(isinstance(d, Document) for d in out)
    assert [(d.doc_id, d.text) for d in out] == list(zip(expected_ids, sentences))


def test_jsonl_bad_records_are_dead_letters(tmp_path, sentences):
    good = [json.dumps({"id": f"g{i}", "text": s}).encode() for i, s in enumerate(sentences[:8])]
    lines = [good[0], good[1], b'{"id": "broken", "text": "no end', good[2],
             json.dumps({"id": "bad-bytes", "text": sentences[9]}).encode().replace(b"the", b"th\xff\xfe", 1),
             good[3], json.dumps({"id": "no-text", "body": sentences[10]}).encode(), b'["a", "list"]',
             b'{"id": "num", "text": 5}', b'{"id": "blank", "text": "  \\n "}', b"", good[4], good[5]]
    path = _write(tmp_path / "mixed.jsonl", b"\n".join(lines) + b"\n")
    out = list(iter_jsonl(str(path), "web"))
    dead = [(r.position, r.reason) for r in out if isinstance(r, DeadLetter)]
    assert dead == [("line 3", "invalid_json"), ("line 5", "decode_error"), ("line 7", "missing_text"),
                    ("line 8", "missing_text"), ("line 9", "missing_text")]
    assert [r for r in out if isinstance(r, Skipped)] == [Skipped("web", "blank", "empty_text")]
    assert [d.doc_id for d in out if isinstance(d, Document)] == ["g0", "g1", "g2", "g3", "g4", "g5"]


def test_truncated_gz_keeps_what_was_read(tmp_path, sentences):
    data = gzip.compress(_jsonl_bytes([{"id": f"s{i}", "text": s} for i, s in enumerate(sentences)]))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    *docs, last = iter_jsonl(str(path), "web")
    assert (last.reason, last.position) == ("truncated_file", f"line {len(docs) + 1}")
    assert 0 < len(docs) < len(sentences)
    assert [(d.doc_id, d.text) for d in docs] == [(f"s{i}", s) for i, s in enumerate(sentences[: len(docs)])]


def test_truncated_zst_is_not_silent(tmp_path, sentences):
    data = zstandard.ZstdCompressor().compress(_jsonl_bytes([{"text": s} for s in sentences]))
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[:-40])
    out = list(iter_jsonl(str(path), "web"))
    assert out[-1].reason == "truncated_file"
    assert [d.text for d in out[:-1]] == sentences[: len(out) - 1]


def test_parquet_missing_column_and_null_text(tmp_path, sentences):
    pq.write_table(pa.table({"title": ["a", "b"], "body": sentences[:2]}), tmp_path / "nocol.parquet")
    [dead] = iter_parquet(str(tmp_path / "nocol.parquet"), "web")
    assert (dead.position, dead.reason) == ("schema", "missing_text")
    pq.write_table(pa.table({"text": [sentences[0], None, sentences[1]]}), tmp_path / "null.parquet")
    out = list(iter_parquet(str(tmp_path / "null.parquet"), "web"))
    assert [type(r) for r in out] == [Document, DeadLetter, Document] and out[1].position == "row 1"
    (tmp_path / "junk.parquet").write_bytes(sentences[0].encode())
    assert [r.reason for r in iter_parquet(str(tmp_path / "junk.parquet"), "web")] == ["corrupt_file"]


def test_50mb_single_line_document(tmp_path):
    base = (SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text(encoding="utf-8")
    text = base * (50_000_000 // len(base) + 1)
    path = tmp_path / "big.jsonl"
    path.write_bytes(_jsonl_bytes([{"id": "big", "text": text}]))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        out = list(iter_jsonl(str(path), "web"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(out) == 1 and out[0].doc_id == "big" and out[0].text == text
    assert peak < 8 * size  # line bytes + decoded str + parsed str (2 bytes/char: the text has CJK), not more


# ---------------------------------------------------------------- books and plain text


def test_gutenberg_dir():
    out = list(iter_book_dir(str(_need(GUTENBERG)), "gutenberg"))
    expected = sorted(p.name[:-4] for p in GUTENBERG.glob("*.txt"))
    assert [d.doc_id for d in out] == expected and all(isinstance(d, Document) for d in out)
    books = {d.doc_id: d for d in out}
    pride = books["pg1342_pride_and_prejudice"]
    assert pride.title == "pg1342_pride_and_prejudice"
    assert "It is a truth universally acknowledged" in pride.text
    jungle = books["jnglb10_jungle_book"].text
    assert "Mowgli" in jungle and "\r" not in jungle  # CRLF file, newlines normalised


def test_book_dir_with_undecodable_lines_loses_those_lines_only(tmp_path):
    pride = (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text(encoding="utf-8")
    wikitext = (SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text(encoding="utf-8")
    (tmp_path / "austen.txt").write_text(pride, encoding="utf-8")
    (tmp_path / "boulter.txt").write_bytes(b"\xef\xbb\xbf" + wikitext.encode("utf-8"))  # with a BOM
    (tmp_path / "cp1252.txt").write_bytes(pride.encode("cp1252"))  # curly quotes -> invalid UTF-8
    (tmp_path / "notes.md").write_text("not a book")
    out = list(iter_documents(str(tmp_path), "books", "books"))
    docs = [r for r in out if isinstance(r, Document)]
    dead = [r for r in out if isinstance(r, DeadLetter)]
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
    lines = pride.split("\n")
    mac = "\r".join(lines).encode()
    at = mac.index(b"truth universally")
    (tmp_path / "mac.txt").write_bytes(mac[:at] + b"\xff" + mac[at:])  # \r-only newlines and one bad byte
    dead, doc = iter_text(str(tmp_path / "mac.txt"), "books")
    n = mac[:at].count(b"\r") + 1
    assert dead.position == f"line {n}" and doc.text == "\n".join(lines[: n - 1] + lines[n:])


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
    return zlib.decompressobj(31).decompress(compressed)


def _compress(data: bytes, suffix: str) -> bytes:
    if suffix == ".zst":  # frames of 64 kB, as a streaming writer that flushes per frame makes
        return b"".join(zstandard.ZstdCompressor().compress(data[i:i + 65536]) for i in range(0, len(data), 65536))
    if suffix == ".bz2":
        return bz2.compress(data, 1)  # 100 kB blocks
    return gzip.compress(data)


@pytest.mark.parametrize("suffix", [".zst", ".bz2", ".gz"])
def test_truncated_stream_keeps_every_complete_frame_or_block(tmp_path, suffix):
    data = _real_text(400_000)
    lines = data.decode().split("\n")[:-1]
    texts = [t for t in lines if t.strip()]
    recs = _jsonl_bytes([{"id": f"r{i}", "text": t} for i, t in enumerate(texts)])
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


def test_bookcorpusopen_layout(tmp_path, sentences):
    path = _write(tmp_path / "books.jsonl.zst", _jsonl_bytes(
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


def test_detect_format():
    assert [detect_format(p) for p in ("a.xml.bz2", "b.xml", "gs://x/c.jsonl.zst", "d.jsonl.gz", "e.parquet",
                                       "f.txt")] == ["wikipedia", "wikipedia", "jsonl", "jsonl", "parquet", "text"]
    with pytest.raises(ValueError, match="cannot tell the format"):
        iter_documents("notes.md")
    with pytest.raises(ValueError, match="unknown format"):
        iter_documents("a.txt", "csv")


# ---------------------------------------------------------------- Beam


def _doc_id(d):
    return d.doc_id


def _dead_key(d):
    return Path(d.file).name, d.position, d.reason


def _reason(r):
    return r.reason


def test_read_corpus_pipeline(tmp_path, sentences):
    _write(tmp_path / "good.jsonl", _jsonl_bytes([{"id": f"good{i}", "text": s} for i, s in enumerate(sentences)]))
    broken = [json.dumps({"id": f"b{i}", "text": s}).encode() for i, s in enumerate(sentences[:4])]
    broken[2] = broken[2][:-5]
    _write(tmp_path / "broken.jsonl", b"\n".join(broken) + b"\n")
    shutil.copy(WIKI, tmp_path / WIKI.name)

    p = BeamTestPipeline()
    read = p | "ReadCorpus" >> ReadCorpus([str(tmp_path / "*")], "auto", "mix")
    expected_ids = sorted([f"good{i}" for i in range(len(sentences))] + ["b0", "b1", "b3", "12"])
    assert_that(read.docs | "Ids" >> beam.Map(_doc_id), equal_to(expected_ids), label="DocIds")
    assert_that(read.dead | "Dead" >> beam.Map(_dead_key), equal_to([("broken.jsonl", "line 3", "invalid_json")]),
                label="DeadLetters")
    assert_that(read.skipped | "Skips" >> beam.Map(_reason), equal_to(["redirect"] * 7), label="SkipReasons")
    result = p.run()
    result.wait_until_finish()

    def counter(name):
        found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
        return sum(c.committed for c in found)

    assert counter("documents_read") == len(expected_ids)
    assert (counter("dead_invalid_json"), counter("skipped_redirect")) == (1, 7)


def test_read_corpus_errors_early(tmp_path):
    with pytest.raises(ValueError, match="no file matches"):
        BeamTestPipeline() | ReadCorpus([str(tmp_path / "*.jsonl")], "auto", "x")
    (tmp_path / "a.csv").write_text("x")
    with pytest.raises(ValueError, match="cannot tell the format"):
        BeamTestPipeline() | ReadCorpus([str(tmp_path / "*")], "auto", "x")


def test_unreadable_file_is_a_dead_letter(tmp_path):
    [out] = ReadFileFn("jsonl", "web").process(str(tmp_path / "missing.jsonl"))
    assert out.tag == "dead" and out.value.reason == "unreadable_file" and out.value.position == "after 0 records"
