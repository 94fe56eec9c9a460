"""Shared fixtures: real text from the bundled sample corpus (pipeline/sample_data, attribution in its README)."""

from __future__ import annotations

import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@contextmanager
def hang_guard(seconds: int):
    """Fail instead of hanging CI if a pathological input never returns (not a speed assertion)."""
    def boom(*_):
        raise TimeoutError(f"render did not return within {seconds}s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _paragraphs(name: str) -> list[str]:
    text = (SAMPLE_DIR / name).read_text(encoding="utf-8")
    paras = [" ".join(p.split()) for p in text.split("\n\n")]
    return [p for p in paras if len(p) > 80 and not p.startswith("=")]


@pytest.fixture(scope="session")
def wikitext() -> list[str]:
    """WikiText-2 test split paragraphs (CC BY-SA 3.0)."""
    return [" ".join(line.split()) for line in (SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text().splitlines()
            if len(line.strip()) > 80 and not line.strip().startswith("=")]


@pytest.fixture(scope="session")
def austen() -> list[str]:
    """Pride and Prejudice paragraphs (Project Gutenberg, public domain)."""
    return _paragraphs("pride-and-prejudice-excerpt.txt")


@pytest.fixture(scope="session")
def udhr() -> dict[str, dict]:
    """UDHR opening paragraphs by language code: {"dir": "ltr"|"rtl", "paragraphs": [...]}."""
    out = {}
    for line in (SAMPLE_DIR / "udhr-excerpt.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        out[rec["lang"]] = rec
    return out


@pytest.fixture(scope="session")
def ewt_sentences() -> list[list[str]]:
    """Word lists of UD English-EWT sentences (CC BY-SA 4.0)."""
    sents, words = [], []
    for line in (SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sents.append(words)
            words = []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if cols[0].isdigit():
                words.append(cols[1])
    if words:
        sents.append(words)
    return sents
