"""End to end on the DirectRunner (multi_processing, 2 workers) over the bundled real corpus plus bad files."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pixelkit.pipeline.main import run
from pixelkit.pipeline.shards import read_shard
from pixelkit.pipeline.cli_shards import verify
from pixelkit.schemas import RenderedSample, SchemaError

SAMPLE = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Good files from the bundled corpus and bad ones built from the same real text."""
    d = tmp_path_factory.mktemp("corpus")
    lines = [line for line in (SAMPLE / "wikitext-2-test-excerpt.txt").read_text().splitlines() if len(line) > 80]
    good = [json.dumps({"id": f"w{i}", "text": t}) for i, t in enumerate(lines[:12])]
    other = [json.dumps({"id": f"b{i}", "text": t}) for i, t in enumerate(lines[12:20])]
    broken = other[:3] + ['{"id": "broken", "text": "unterminated'] + other[3:6]
    (d / "web-good.jsonl").write_text("\n".join(good) + "\n")
    (d / "web-broken.jsonl").write_text("\n".join(broken) + "\n")
    raw = "\n".join(other[6:8]).encode() + b'\n{"id": "bad-utf8", "text": "caf\xe9 \xff"}\n'
    (d / "web-badbytes.jsonl").write_bytes(raw)
    (d / "web-cut.jsonl.gz").write_bytes(gzip.compress(("\n".join(good) + "\n").encode())[:300])
    big = " ".join(lines) * (1_000_000 // len(" ".join(lines)) + 1)  # one 1 MB line of real text
    (d / "web-huge.jsonl").write_text(json.dumps({"id": "huge", "text": big[:1_000_000]}) + "\n")
    wiki = (SAMPLE / "enwiki-excerpt.xml.bz2").read_bytes()
    (d / "wiki-cut.xml.bz2").write_bytes(wiki[: len(wiki) // 2])
    return d


def _argv(corpus: Path, out: Path, *extra: str) -> list[str]:
    return [
        f"--input=wikitext={SAMPLE / 'wikitext-2-test-excerpt.txt'}",
        f"--input=gutenberg={SAMPLE / 'pride-and-prejudice-excerpt.txt'}",
        f"--input=enwiki={SAMPLE / 'enwiki-excerpt.xml.bz2'}",
        f"--input=web={corpus}/web-*.jsonl*",
        f"--input=wikicut={corpus}/wiki-cut.xml.bz2",
        f"--output={out}", "--samples_per_shard=16", "--min_patches=4", "--max_doc_chars=500000", *extra,
    ]


@pytest.fixture(scope="module")
def first_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run1")
    return run(_argv(corpus, out, "--workers=2")), out


def test_counts_add_up_and_bad_records_are_dead_lettered(first_run):
    m, out = first_run
    c = m.counts
    written_or_skipped = c["documents_written"] + sum(v for k, v in c.items() if k.startswith("skipped_"))
    dead = sum(v for k, v in c.items() if k.startswith("dead_"))
    assert c["records_read"] == written_or_skipped + dead
    assert c["dead_invalid_json"] == 1 and c["dead_decode_error"] == 1
    assert c["dead_truncated_file"] == 2  # the cut .gz and the cut .bz2
    assert c["dead_document_too_large"] == 1  # a single-line document over --max_doc_chars
    assert c["documents_written"] > 20
    letters = [json.loads(x) for x in (out / "dead_letters.jsonl").read_text().splitlines()]
    assert {d["reason"] for d in letters} >= {"invalid_json", "decode_error", "truncated_file"}
    assert any(d["file"].endswith("web-broken.jsonl") and "4" in d["position"] for d in letters)


def test_shards_verify_and_hold_every_written_document(first_run):
    m, out = first_run
    assert verify(out) == []
    samples = [s for info in m.shards for s in read_shard(out / info.name)]
    assert all(isinstance(s, RenderedSample) for s in samples)
    assert len(samples) == m.num_samples
    assert len({(s.source, s.doc_id) for s in samples}) == m.counts["documents_written"]
    assert (out / "README.md").read_text().count(str(m.num_samples)) >= 1


def test_rerun_is_byte_identical_and_the_shaping_cache_changes_no_byte(first_run, corpus, tmp_path, monkeypatch):
    """A second run -- this one drawing every strip through Pango alone, in its worker process -- writes the
    same shards as the first (which composed its strips from the shaping cache)."""
    m, out = first_run
    monkeypatch.setenv("PIXELKIT_SHAPE_CACHE", "0")
    m2 = run(_argv(corpus, tmp_path, "--workers=1"))
    assert [s.sha256 for s in m2.shards] == [s.sha256 for s in m.shards]
    assert m2.counts == m.counts


def test_killed_run_leaves_no_partial_shard_and_resume_completes(first_run, corpus, tmp_path):
    m, _ = first_run
    cmd = [sys.executable, "-m", "pixelkit.pipeline.cli", "run", *_argv(corpus, tmp_path, "--workers=2")]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(p.suffix in (".tar", ".tmp") for p in tmp_path.iterdir()):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "manifest.json").exists()
    for tar in tmp_path.glob("*.tar"):  # anything under a final name is a complete shard
        assert not any(isinstance(x, SchemaError) for x in read_shard(tar)), tar
    m3 = run(_argv(corpus, tmp_path, "--workers=2", "--resume"))
    assert verify(tmp_path) == []
    assert [s.sha256 for s in m3.shards] == [s.sha256 for s in m.shards]


def test_resume_refuses_a_directory_written_with_other_settings(first_run, corpus):
    _, out = first_run
    with pytest.raises(ValueError, match="other settings"):
        run(_argv(corpus, out, "--resume", "--encoding=png"))
