"""The renderer contract, checked for every backend in ``pipeline.render.BACKENDS`` and every mode it draws (as
the model tests run over every variant): a new backend is picked up here by its registry line alone.

Text: the bundled WikiText-2 excerpt (CC BY-SA 3.0) and Pride and Prejudice excerpt (public domain)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from pixelkit.pipeline.chunking import chunk_document
from pixelkit.pipeline.documents import Document
from pixelkit.pipeline.render import BACKENDS, RenderConfig, Renderer, TextRenderer
from pixelkit.schemas import BACKENDS as BACKEND_NAMES
from pixelkit.schemas import MODES, channels

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
PARAS = [p.replace("\n", " ").strip() for p in (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text(
    encoding="utf-8").split("\n\n") if len(p) > 300][:3]
LINES = [s.strip() for s in (SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text(encoding="utf-8").splitlines()
         if len(s.strip()) > 80 and not s.strip().startswith("=")][:6]
SHORT = " ".join(LINES[0].split()[:12])  # fits the test strips
WHITE = {"gray": 255, "rgb": 255, "binary": 1}


def _cases() -> list:
    out = []
    for backend in BACKEND_NAMES:
        for mode in MODES:
            try:
                RenderConfig(backend=backend, mode=mode)
            except ValueError:  # a mode this backend does not draw (pygame: rgb) is refused by the config
                continue
            out.append(pytest.param((backend, mode), id=f"{backend}-{mode}"))
    return out


@pytest.fixture(scope="module", params=_cases())
def renderer(request) -> Renderer:
    backend, mode = request.param
    return TextRenderer(RenderConfig(backend=backend, mode=mode, max_patches=96))


def test_the_registry_maps_every_backend_name():
    assert tuple(BACKENDS) == BACKEND_NAMES


def _patch(res, cfg, i) -> np.ndarray:
    return res.pixels[:, i * cfg.pixels_per_patch:(i + 1) * cfg.pixels_per_patch]


def test_text_strip_geometry_and_black_eos(renderer):
    cfg = renderer.cfg
    res = renderer(SHORT)
    assert res.ok and res.reason is None and not res.truncated and res.text == SHORT
    want = (cfg.height, cfg.width, 3) if channels(cfg.mode) == 3 else (cfg.height, cfg.width)
    assert res.pixels.shape == want and res.pixels.dtype == np.uint8
    if cfg.mode == "binary":
        assert set(np.unique(res.pixels)) <= {0, 1}
    assert res.sep_patches == [res.num_patches] and 0 < res.num_patches < cfg.max_patches - 1
    assert (_patch(res, cfg, res.eos_patch) == 0).all()  # the EOS patch is black
    assert (res.pixels[:, (res.eos_patch + 1) * cfg.pixels_per_patch:] == WHITE[cfg.mode]).all()  # blank after it
    assert (_patch(res, cfg, 0) != WHITE[cfg.mode]).any()  # ink in the first patch
    assert res.unknown_glyphs == 0 and res.replaced_chars == 0


def test_same_input_same_bytes_across_instances_and_pickling(renderer):
    twin = pickle.loads(pickle.dumps(renderer))
    fresh = TextRenderer(renderer.cfg)
    for text in LINES[:3]:
        a = renderer(text).pixels
        assert np.array_equal(a, renderer(text).pixels) and np.array_equal(a, twin(text).pixels)
        assert np.array_equal(a, fresh(text).pixels)


def test_prefetch_never_changes_a_render(renderer):
    before = [renderer(t).pixels for t in PARAS]
    fresh = TextRenderer(renderer.cfg)
    fresh.prefetch(PARAS)
    assert all(np.array_equal(b, fresh(t).pixels) for b, t in zip(before, PARAS))


def test_overflow_is_cut_and_flagged(renderer):
    cfg = renderer.cfg
    res = renderer(" ".join(PARAS))
    assert res.ok and res.truncated and res.eos_patch <= cfg.max_patches - 1
    assert len(res.text) < len(" ".join(PARAS)) and " ".join(PARAS).startswith(res.text)
    assert renderer.measure(res.text) <= renderer.text_budget


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_a_reason_not_an_error(renderer, text):
    res = renderer(text)
    assert not res.ok and res.reason == "empty" and res.pixels is None


def test_chunks_measured_by_the_renderer_render_untruncated(renderer):
    """What chunking packs with ``measure`` within ``text_budget`` fits the strip: no chunk is cut."""
    doc = Document("austen", "p", "\n".join(PARAS))
    chunks = chunk_document(doc, renderer.measure, renderer.text_budget)
    assert len(chunks) > 1 and " ".join(c.text for c in chunks) == " ".join(" ".join(PARAS).split())
    for c in chunks:
        res = renderer(c.text)
        assert res.ok and not res.truncated and res.text == c.text


def test_pair_sep_then_eos(renderer):
    cfg = renderer.cfg
    res = renderer((LINES[1][:60], LINES[2][:60]))
    sep, eos = res.sep_patches
    assert res.ok and 0 < sep < eos <= cfg.max_patches - 1 and res.num_patches == eos
    assert (_patch(res, cfg, sep) == 0).all() and (_patch(res, cfg, eos) == 0).all()
    assert (_patch(res, cfg, sep + 1) != WHITE[cfg.mode]).any()  # text_b starts right after SEP


def test_words_start_on_patch_boundaries_in_order(renderer):
    cfg = renderer.cfg
    words = LINES[3].split()[:12]
    res = renderer(words)
    starts = res.word_starts
    assert res.ok and len(starts) == len(words) and starts == sorted(set(starts)) and starts[-1] < res.eos_patch
    for s in starts:
        assert (_patch(res, cfg, s) != WHITE[cfg.mode]).any()


def test_qa_windows_map_every_patch(renderer):
    cfg = renderer.cfg
    windows = renderer.render_qa("Who is Elizabeth?", PARAS[0], stride=4)
    assert len(windows) > 1 and all(w.ok for w in windows)
    for w in windows:
        assert len(w.offset_mapping) == cfg.max_patches and w.context_span[0] < w.context_span[1]
    assert windows[0].context_span[0] == 0 and windows[-1].context_span[1] == len(PARAS[0].rstrip())
