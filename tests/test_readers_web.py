"""Web-corpus readers (readers/jsonl.py, readers/parquet.py) on files built from real WikiText-2 lines."""

from __future__ import annotations

import codecs
import gzip
import json
import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pixelkit.pipeline.documents import DeadLetter, Document, Skipped
from pixelkit.pipeline.readers import iter_documents
from pixelkit.pipeline.readers.jsonl import iter_jsonl
from pixelkit.pipeline.readers.parquet import iter_parquet

from readerdata import SAMPLE_DIR, jsonl_bytes, run_job, sentences, write_data  # noqa: F401  (sentences: a fixture)


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
        write_data(tmp_path / name, jsonl_bytes(recs))
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
    path = write_data(tmp_path / "mixed.jsonl", b"\n".join(lines) + b"\n")
    out = list(iter_jsonl(str(path), "web"))
    dead = [(r.position, r.reason) for r in out if isinstance(r, DeadLetter)]
    assert dead == [("line 3", "invalid_json"), ("line 5", "decode_error"), ("line 7", "missing_text"),
                    ("line 8", "missing_text"), ("line 9", "missing_text")]
    assert [r for r in out if isinstance(r, Skipped)] == [Skipped("web", "blank", "empty_text")]
    assert [d.doc_id for d in out if isinstance(d, Document)] == ["g0", "g1", "g2", "g3", "g4", "g5"]


def test_truncated_gz_keeps_what_was_read(tmp_path, sentences):
    data = gzip.compress(jsonl_bytes([{"id": f"s{i}", "text": s} for i, s in enumerate(sentences)]))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    *docs, last = iter_jsonl(str(path), "web")
    assert (last.reason, last.position) == ("truncated_file", f"line {len(docs) + 1}")
    assert 0 < len(docs) < len(sentences)
    assert [(d.doc_id, d.text) for d in docs] == [(f"s{i}", s) for i, s in enumerate(sentences[: len(docs)])]


def test_truncated_zst_is_not_silent(tmp_path, sentences):
    data = zstandard.ZstdCompressor().compress(jsonl_bytes([{"text": s} for s in sentences]))
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
    # two columns named text: pyarrow gave the last and the first was lost silently; the file is dead-lettered
    pq.write_table(pa.Table.from_arrays([pa.array(sentences[:1]), pa.array(sentences[1:2])], names=["text", "text"]),
                   tmp_path / "dup.parquet")
    [dead] = iter_parquet(str(tmp_path / "dup.parquet"), "web")
    assert (dead.position, dead.reason) == ("schema", "duplicate_column") and "('text', 2)" in dead.detail


def test_50mb_single_line_document(tmp_path):
    base = (SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text(encoding="utf-8")
    text = base * (50_000_000 // len(base) + 1)
    path = tmp_path / "big.jsonl"
    path.write_bytes(jsonl_bytes([{"id": "big", "text": text}]))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        out = list(iter_jsonl(str(path), "web"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(out) == 1 and out[0].doc_id == "big" and out[0].text == text
    assert peak < 8 * size  # line bytes + decoded str + parsed str (2 bytes/char: the text has CJK), not more


def test_csv_rows_ids_and_bad_rows(tmp_path, sentences):
    import csv
    import io

    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["id", "title", "text"])
    w.writerows([["", "t0", sentences[0]], ["c1", "t1", sentences[1] + "\n" + sentences[2]], ["c2", "t2", "  "],
                 ["c3", "t3"]])  # a multi-line field; an empty text; a row with no text column
    path = write_data(tmp_path / "rows.csv.gz", ("\ufeff" + buf.getvalue()).encode("utf-8"))  # Excel's BOM
    out = list(iter_documents(str(path), "auto", "web"))
    assert out[:3] == [Document("web", "rows-1", sentences[0], "t0"),
                       Document("web", "c1", sentences[1] + "\n" + sentences[2], "t1"), Skipped("web", "c2", "empty_text")]
    assert (out[3].position, out[3].reason) == ("row 4", "missing_text") and len(out) == 4
    long_doc = sentences[0] * (200_000 // len(sentences[0]))  # longer than the csv module's default field limit
    with open(tmp_path / "long.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["text"], [long_doc]])
    [doc] = iter_documents(str(tmp_path / "long.csv"), "csv", "web")
    assert doc.text == long_doc and doc.doc_id == "long-1"
    (tmp_path / "bad.csv").write_bytes(b"text\nok\n\xff\xfe broken\n")
    out = list(iter_documents(str(tmp_path / "bad.csv"), "csv", "web"))
    assert (out[-1].position, out[-1].reason) == ("row 2", "decode_error") and len(out) == 2


def test_csv_a_bad_byte_costs_its_row_and_a_column_named_twice_is_refused(tmp_path, sentences):
    """Three CSV losses found by probing: a byte that is not UTF-8 (a Latin-1 "é" in one row) ended the whole file
    as ``malformed_csv`` -- every later row lost; a header naming ``text`` twice read the last column silently
    (parquet refuses that: ``duplicate_column``); a UTF-16 CSV with its byte-order mark (Excel's "Unicode text")
    was one ``malformed_csv``. Now the row is a ``decode_error``, the header one ``duplicate_column`` dead letter,
    and UTF-16 reads. Through the whole job too: the counts add up."""
    import csv
    import io

    a, b, c = sentences[:3]
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows([["id", "text"], ["1", a], ["2", "cafe " + b], ["3", c]])
    latin = tmp_path / "latin.csv"
    latin.write_bytes(buf.getvalue().encode("utf-8").replace(b"cafe ", b"caf\xe9 "))  # one Latin-1 byte
    out = list(iter_documents(str(latin), "auto", "web"))
    assert [r.position if isinstance(r, DeadLetter) else r.doc_id for r in out] == ["1", "row 2", "3"]
    assert out[1].reason == "decode_error" and [out[0].text, out[2].text] == [a, c]
    assert "0xe9" in out[1].detail and [out[0].text, out[2].text] == [a, c]
    twice = tmp_path / "twice.csv"
    twice.write_text(f"id,text,text\n1,{a},{b}\n")
    [dead] = iter_documents(str(twice), "auto", "web")
    assert (dead.position, dead.reason) == ("header", "duplicate_column") and "('text', 2)" in dead.detail
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows([["id", "text"], ["1", a], ["2", b]])
    (tmp_path / "utf16.csv").write_bytes(buf.getvalue().encode("utf-16"))
    assert [d.text for d in iter_documents(str(tmp_path / "utf16.csv"), "auto", "web")] == [a, b]
    counts = run_job([f"web={tmp_path}/*.csv"], tmp_path / "out")
    assert counts["documents_written"] == 4 and counts["dead_decode_error"] == 1, counts
    assert counts["dead_duplicate_column"] == 1, counts


def test_csv_rows_cut_by_a_comma_or_a_quote_are_dead_letters_not_silently_shortened(tmp_path, sentences):
    """Hand-written CSV: an unquoted comma in the text used to drop everything after it (DictReader keeps extra
    fields under None), and a stray or unclosed quote used to merge rows into one document."""
    a, b, c = (s.replace('"', "") for s in sentences[:3])
    (tmp_path / "comma.csv").write_text(f"id,text\n1,{a.replace(',', '')}\n2,{b}, and more\n3,\"{c}\"\n")
    out = list(iter_documents(str(tmp_path / "comma.csv"), "csv", "web"))
    assert [type(r).__name__ for r in out] == ["Document", "DeadLetter", "Document"]
    assert (out[1].position, out[1].reason, out[1].detail) == ("row 2", "wrong_column_count",
                                                               f"{3 + b.count(',')} fields, the header has 2")
    (tmp_path / "quote.csv").write_text(f'id,text\n1,"{a}"\n2,"{b}" said\n3,{c}\n')
    out = list(iter_documents(str(tmp_path / "quote.csv"), "csv", "web"))
    assert out[0].text == a and (out[1].position, out[1].reason) == ("row 2", "malformed_csv") and len(out) == 2
    (tmp_path / "open.csv").write_text(f'id,text\n1,"{a}\n2,{b}\n3,{c}\n')  # the quote never closes
    out = list(iter_documents(str(tmp_path / "open.csv"), "csv", "web"))
    assert [(r.position, r.reason) for r in out] == [("row 1", "malformed_csv")]


def test_missing_text_says_whether_the_field_is_absent_or_of_another_type(tmp_path, sentences):
    """A wrong --text_field and a text that is a number or null are different mistakes; the dead letter used to say
    "no string field 'text'" for both."""
    lines = [{"id": "a", "body": sentences[0]}, {"id": "b", "text": 42}, {"id": "c", "text": None}]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = list(iter_documents(str(tmp_path / "t.jsonl"), "auto", "web"))
    assert [(r.reason, r.detail) for r in out] == [
        ("missing_text", "no field 'text' (fields: ['body', 'id']; --text_field names it)"),
        ("missing_text", "field 'text' is int, not a string"), ("missing_text", "field 'text' is NoneType, not a string")]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_jsonl_with_a_utf16_or_utf32_byte_order_mark_is_decoded(tmp_path, sentences, codec):
    """Windows PowerShell's ``>`` writes UTF-16 with a BOM. Read as UTF-8 lines (split at b"\\n"), such a file gave a
    decode_error and then an invalid_json dead letter per line, plus one more for the NUL byte after the last
    newline: 6 dead letters for 5 records. A character cut at the end is one decode_error that ends the file."""
    recs = [{"id": f"w{i}", "text": s} for i, s in enumerate(sentences[:5])]
    text = jsonl_bytes(recs).decode("utf-8").replace("\n", "\r\n")
    bom = codecs.BOM_UTF16_BE if codec == "utf-16-be" else b""  # "utf-16" and "utf-32" write their own
    (tmp_path / "ps.jsonl").write_bytes(bom + text.encode(codec))
    out = list(iter_jsonl(str(tmp_path / "ps.jsonl"), "web"))
    assert [(d.doc_id, d.text) for d in out] == [(r["id"], r["text"]) for r in recs]
    (tmp_path / "cut.jsonl").write_bytes((bom + text.encode(codec))[:-3])
    *docs, dead = iter_jsonl(str(tmp_path / "cut.jsonl"), "web")
    assert [d.doc_id for d in docs] == ["w0", "w1", "w2", "w3"]
    assert (dead.reason, dead.position) == ("decode_error", "line 5")


def test_concatenated_jsonl_files_saved_with_a_bom_lose_no_record(tmp_path, sentences):
    """``cat a.jsonl b.jsonl``, each saved with a UTF-8 BOM (as Windows tools save): the BOM was stripped from the
    file's first line only, so each later file's first record was an invalid_json dead letter ("Unexpected UTF-8
    BOM"). JSON allows a parser to ignore a BOM before a JSON text, and each line is one."""
    parts = [jsonl_bytes([{"id": f"{k}{i}", "text": s} for i, s in enumerate(sentences[j:j + 3])])
             for k, j in (("a", 0), ("b", 3), ("c", 6))]
    (tmp_path / "all.jsonl").write_bytes(b"".join(codecs.BOM_UTF8 + part for part in parts))
    out = list(iter_jsonl(str(tmp_path / "all.jsonl"), "web"))
    assert [(d.doc_id, d.text) for d in out] == [(f"{k}{i}", s) for k, j in (("a", 0), ("b", 3), ("c", 6))
                                                 for i, s in enumerate(sentences[j:j + 3])]


def test_jsonl_with_classic_mac_line_ends_loses_no_record(tmp_path, sentences):
    """A JSONL file saved with CR-only line ends is one LF-line: it was one invalid_json dead letter for every record.
    Each CR-separated piece is now its own record (``line 1.k``, id ``stem-1.k`` where the record has none); a raw CR
    between a JSON text's tokens keeps the record whole, and a line none of whose pieces parses stays one dead letter."""
    recs = [{"id": f"m{i}", "text": s} for i, s in enumerate(sentences[:4])] + [{"text": sentences[4]}]
    (tmp_path / "mac.jsonl").write_bytes(jsonl_bytes(recs).replace(b"\n", b"\r") + b'{"text": \r"cut\n')
    out = list(iter_jsonl(str(tmp_path / "mac.jsonl"), "web"))
    assert [(d.doc_id, d.text) for d in out[:5]] == [(r.get("id", "mac-1.5"), r["text"]) for r in recs]
    assert [(d.reason, d.position) for d in out[5:]] == [("invalid_json", "line 1.6"), ("invalid_json", "line 1.7")]
    (tmp_path / "lf.jsonl").write_bytes(b'{"id": "a",\r "text": "one"}\n{"text": "raw \r inside"}\n')
    one, raw_cr = iter_jsonl(str(tmp_path / "lf.jsonl"), "web")
    assert (one.doc_id, one.text) == ("a", "one")
    assert (raw_cr.reason, raw_cr.position) == ("invalid_json", "line 2")
