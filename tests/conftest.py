"""Shared fixtures: real text from the bundled sample corpus (pipeline/sample_data, attribution in its README)."""

from __future__ import annotations

import json
import os
import re
import signal
from contextlib import contextmanager
from html import unescape
import shutil
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


def udhr_page_text(raw: str) -> str:
    """The text of a UDHR declaration page (``SHARED_DATA / "udhr" / "declaration" / *.html``): its paragraphs, each
    with its whitespace collapsed, joined by spaces."""
    paras = [" ".join(unescape(re.sub("<[^>]+>", "", p)).split()) for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
    return " ".join(p for p in paras if p)


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


# -- trainer fixtures: small real shard sets rendered from the bundled corpus ---------------------------------

def make_shard_set(out: Path, preset_name: str, texts: list[str], tokenizer: Path | None, n_shards: int = 2,
                   split: str = "train", encoding: str | None = None, **render_overrides) -> Path:
    """Render ``texts`` with a renderer preset into ``n_shards`` shards + manifest.json (as the pipeline does)."""
    from tokenizers import Tokenizer

    from pixelkit.pipeline.render import TextRenderer, preset
    from pixelkit.pipeline.shards import write_shard
    from pixelkit.pipeline.tokenizer import identity
    from pixelkit.schemas import DEFAULT_ENCODING, RenderedSample, ShardManifest, encode_pixels, make_key, shard_name

    encoding = encoding or DEFAULT_ENCODING
    cfg = preset(preset_name, **render_overrides)
    renderer = TextRenderer(cfg)
    tok = Tokenizer.from_file(str(tokenizer)) if tokenizer else None
    samples = []
    for i, text in enumerate(texts):
        res = renderer(text)
        if res.num_patches == 0:
            continue
        samples.append(RenderedSample(
            key=make_key("wikitext", f"d{i:05d}", 0), pixels=encode_pixels(res.pixels, cfg.mode, encoding),
            encoding=encoding, mode=cfg.mode, height=res.pixels.shape[0], width=res.pixels.shape[1],
            patch_size=cfg.pixels_per_patch, num_patches=res.num_patches, text=res.text, source="wikitext",
            doc_id=f"d{i:05d}", token_ids=tok.encode(res.text).ids if tok else None))
    out.mkdir(parents=True, exist_ok=True)
    infos = [write_shard(out / shard_name(split, s, n_shards), samples[s::n_shards]) for s in range(n_shards)]
    ShardManifest(split=split, encoding=encoding, render_config=cfg.to_dict(), shards=infos,
                  tokenizer=identity(tokenizer) if tokenizer else None, sources=["wikitext"]).write(out)
    return out


@pytest.fixture(scope="session")
def sentencepiece_file(tmp_path_factory) -> Path:
    """A real LLaMA-style 32k SentencePiece ``tokenizer.model``: the one the ``mistral-common`` wheel ships stands in
    for LLaMA-2's (the PixelGPT family's), which no PyPI package carries."""
    mistral = pytest.importorskip("mistral_common")
    src = Path(mistral.__file__).parent / "data" / "tokenizer.model.v1"
    if not src.is_file():
        pytest.skip(f"no SentencePiece model at {src}")
    return Path(shutil.copy(src, tmp_path_factory.mktemp("sp") / "tokenizer.model"))


@pytest.fixture(scope="session")
def tokenizer_file(tmp_path_factory, wikitext) -> Path:
    """A 1k byte-level BPE trained offline on the bundled WikiText excerpt."""
    from pixelkit.pipeline.tokenizer import train_bpe
    return train_bpe(wikitext, 1024, tmp_path_factory.mktemp("tok") / "tokenizer.json")


@pytest.fixture(scope="session")
def gray_shards(tmp_path_factory, wikitext, tokenizer_file) -> Path:
    """PIXEL settings: gray 16x8464 strips (529 patches), pxz, with token ids; 2 shards."""
    return make_shard_set(tmp_path_factory.mktemp("gray"), "pixel", wikitext[:48], tokenizer_file)


@pytest.fixture(scope="session")
def binary_shards(tmp_path_factory, wikitext, tokenizer_file) -> Path:
    """PIXAR settings: binary 8x4232 strips (529 patches of 8x8), pxz, with token ids; 2 shards."""
    return make_shard_set(tmp_path_factory.mktemp("binary"), "pixar", wikitext[:48], tokenizer_file)
