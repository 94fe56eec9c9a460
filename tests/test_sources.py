"""The format registry (readers/__init__.py) and the Beam edge of reading (sources.py: ReadCorpus, ReadFileFn)."""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pixelkit.pipeline.readers import FORMATS, detect_format, iter_documents, reader
from pixelkit.pipeline.sources import ReadCorpus, ReadFileFn

from readerdata import WIKI, jsonl_bytes, sentences, write_data  # noqa: F401  (sentences: a fixture)


def test_detect_format():
    assert [detect_format(p) for p in ("a.xml.bz2", "b.xml", "gs://x/c.jsonl.zst", "d.jsonl.gz", "e.parquet",
                                       "f.txt")] == ["wikipedia", "wikipedia", "jsonl", "jsonl", "parquet", "text"]
    with pytest.raises(ValueError, match="cannot tell the format"):
        iter_documents("notes.md")
    with pytest.raises(ValueError, match="unknown format"):
        iter_documents("a.txt", "docx")


def _doc_id(d):
    return d.doc_id


def _dead_key(d):
    return Path(d.file).name, d.position, d.reason


def _reason(r):
    return r.reason


def test_read_corpus_pipeline(tmp_path, sentences):
    write_data(tmp_path / "good.jsonl", jsonl_bytes([{"id": f"good{i}", "text": s} for i, s in enumerate(sentences)]))
    broken = [json.dumps({"id": f"b{i}", "text": s}).encode() for i, s in enumerate(sentences[:4])]
    broken[2] = broken[2][:-5]
    write_data(tmp_path / "broken.jsonl", b"\n".join(broken) + b"\n")
    shutil.copy(WIKI, tmp_path / WIKI.name)
    with open(tmp_path / "rows.csv", "w", encoding="utf-8", newline="") as fh:  # the newest format, by suffix
        csv.writer(fh).writerows([["id", "text"], ["row-a", sentences[0]], ["", sentences[1]]])

    p = BeamTestPipeline()
    read = p | "ReadCorpus" >> ReadCorpus([str(tmp_path / "*")], "auto", "mix")
    expected_ids = sorted([f"good{i}" for i in range(len(sentences))] + ["b0", "b1", "b3", "12", "row-a", "rows-2"])
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
    (tmp_path / "a.docx").write_text("x")
    with pytest.raises(ValueError, match="cannot tell the format"):
        BeamTestPipeline() | ReadCorpus([str(tmp_path / "*")], "auto", "x")


def test_unreadable_file_is_a_dead_letter(tmp_path):
    [out] = ReadFileFn("jsonl", "web").process(str(tmp_path / "missing.jsonl"))
    assert out.tag == "dead" and out.value.reason == "unreadable_file" and out.value.position == "after 0 records"


# ---------------------------------------------------------------- the format registry


README = Path(__file__).resolve().parents[1] / "pipeline" / "README.md"
READERS = README.parent / "readers"


def test_readme_shows_the_csv_format_exactly_as_it_is():
    """pipeline/README.md's "Adding an input format" example is the real module and the real registry line."""
    section = README.read_text().split("## Adding an input format", 1)[1].split("\n## ", 1)[0]
    module, line = re.findall(r"```python\n(.*?)```", section, re.S)
    assert module == (READERS / "csvrows.py").read_text()
    assert line in (READERS / "__init__.py").read_text()


def test_every_registered_format_loads_and_every_flag_offers_it():
    from pixelkit.pipeline.cli import build_parser
    from pixelkit.pipeline.options import RenderOptions

    assert set(FORMATS) >= {"wikipedia", "books", "jsonl", "parquet", "text", "csv"}
    for name, f in FORMATS.items():
        assert callable(reader(name)), name
        assert set(f.options) <= {"text_field", "id_field", "max_doc_chars"}, name
        for suffix in f.suffixes:
            assert detect_format(f"gs://bucket/dir/part-0{suffix}.zst") == name
    tok = build_parser()._subparsers._group_actions[0].choices["tokenizer"]
    choices = {a.dest: a.choices for a in tok._actions}
    parser = argparse.ArgumentParser()
    RenderOptions._add_argparse_args(parser)
    run_choices = {a.dest: a.choices for a in parser._actions}
    assert tuple(choices["format"]) == tuple(run_choices["format"]) == ("auto", *FORMATS)


def test_the_dataset_card_reads_what_it_says_of_a_source_from_the_registry(monkeypatch, tmp_path):
    """What the card says a source was read as, and the license a format implies, come from the format's registry
    entry: a format added by one line shows in the card with nothing else changed. A bundled sample file's license
    comes from sample_data/README.md; anything else is said to be not recorded."""
    from pixelkit.pipeline import card
    from pixelkit.pipeline.readers import Format
    from pixelkit.pipeline.render import RenderConfig
    from pixelkit.schemas import ShardManifest
    from pixelkit.schemas.manifest import ShardInfo

    monkeypatch.setitem(FORMATS, "tsv", Format("pixelkit.pipeline.readers.csvrows:iter_csv", (".tsv",),
                                               help="tab-separated rows", license="CC0 1.0 (a test's)"))
    book = card.SAMPLE_DATA / "pride-and-prejudice-excerpt.txt"
    rows = card.source_rows([("mine", str(tmp_path / "a.tsv.gz")), ("wiki", "s3://b/enwiki.xml.bz2"),
                             ("austen", str(book)), ("mixed", str(tmp_path / "*"))], "auto")
    assert rows == [("mine", "a.tsv.gz", "tsv: tab-separated rows", "CC0 1.0 (a test's)"),
                    ("wiki", "enwiki.xml.bz2", f"wikipedia: {FORMATS['wikipedia'].help}", FORMATS["wikipedia"].license),
                    ("austen", book.name, f"text: {FORMATS['text'].help}", "public domain (US)"),
                    ("mixed", "*", "by each file's suffix", card.NOT_RECORDED)]
    assert card.source_rows([("mine", "x.dat")], "tsv")[0][2:] == ("tsv: tab-separated rows", "CC0 1.0 (a test's)")
    m = ShardManifest(split="train", encoding="pxz", render_config=RenderConfig().to_dict(), sources=["mine"],
                      shards=[ShardInfo("train-00000-of-00001.tar", 1, 1, "0" * 64)])
    assert "| mine | a.tsv.gz | tsv: tab-separated rows | CC0 1.0 (a test's) |" in card.dataset_card(m, None, rows)


BEAM_FREE = ("documents", "chunking", "samples", "renderers", "args", "report", "card", "cli", "validate", "shards",
             "tokenizer", "tasks", "tasks.render", "render", "runconfig")


def test_beam_only_at_the_edge():
    """Readers (every registered format), the pure core and the CLI's one-off commands import no Beam: only
    sources.py (ReadCorpus), transforms.py, sink.py, main.py/options.py and the runner modules do."""
    code = ("import importlib, sys, pixelkit.pipeline.readers as r\n"
            "[r.reader(f) for f in r.FORMATS]\n"
            f"[importlib.import_module('pixelkit.pipeline.' + m) for m in {BEAM_FREE!r}]\n"
            "assert 'apache_beam' not in sys.modules, sorted(m for m in sys.modules if 'beam' in m)[:5]\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=README.parents[1])
