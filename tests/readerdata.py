"""Shared by the reader tests: real text (bundled WikiText-2 / Pride and Prejudice excerpts, attribution in
sample_data/README.md), the /work/shared excerpts (skipped when absent), and small file builders."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import zstandard

from pixelkit.pipeline.documents import Document

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WIKI = SAMPLE_DIR / "enwiki-excerpt.xml.bz2"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (real data from ../shared/data; a user's clone has none)")
    return path


def kinds(recs) -> Counter:
    return Counter(type(r).__name__ + (f":{r.reason}" if not isinstance(r, Document) else "") for r in recs)


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    """Real WikiText-2 lines (CC BY-SA 3.0), headings excluded."""
    lines = (SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text(encoding="utf-8").splitlines()
    return [s.strip() for s in lines if len(s.strip()) > 40 and not s.strip().startswith("=")][:30]


def jsonl_bytes(records) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in records)


def write_data(path: Path, data: bytes) -> Path:
    """``data`` to ``path``, compressed as its suffix says (.gz; .zst as two frames, as concatenated files are)."""
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        half = len(data) // 2
        data = zstandard.ZstdCompressor().compress(data[:half]) + zstandard.ZstdCompressor().compress(data[half:])
    path.write_bytes(data)
    return path


def run_job(inputs: list[str], out: Path) -> dict:
    """``pixel-render run`` on Beam's local runner; its manifest's counts, checked to add up."""
    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "run", *(f"--input={i}" for i in inputs),
                        f"--output={out}", "--max_patches=64"], cwd=root, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(root)})
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["records_read"] == sum(v for k, v in counts.items() if k.startswith(("skipped_", "dead_"))) + \
        counts["documents_written"], counts
    return counts
