"""Trainer side, first pieces: PIXEL span masking statistics and the streaming shard reader (no Beam)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pipeline.render import RenderConfig, TextRenderer
from pipeline.shards import write_shard
from schemas import DEFAULT_ENCODING, RenderedSample, encode_pixels, make_key, shard_name
from trainer.data import SkipCounter, sample_pipeline
from trainer.masking import SpanMaskingGenerator


def test_span_masking_statistics():
    gen = SpanMaskingGenerator()
    rng = np.random.default_rng(0)
    ratios, longest = [], 0
    for i in range(2000):
        n_text = int(rng.integers(40, 529))
        mask = gen(n_text, 529, rng)
        assert not mask[n_text:].any(), "never outside the text patches"
        ratios.append(mask[:n_text].mean())
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
        spans = edges[1::2] - edges[::2]
        longest = max(longest, spans.max())
    assert abs(np.mean(ratios) - 0.25) <= 0.01
    assert longest <= 6
    lengths = []
    for _ in range(300):  # the span length distribution follows the cumulative weights (most mass on 1-4)
        m = gen(528, 529, rng)
        e = np.flatnonzero(np.diff(np.concatenate([[0], m.astype(int), [0]])))
        lengths += list(e[1::2] - e[::2])
    share_5_6 = np.mean(np.asarray(lengths) >= 5)
    assert 0.1 < share_5_6 < 0.3


def test_span_masking_rejects_bad_settings():
    with pytest.raises(ValueError):
        SpanMaskingGenerator(cumulative_weights=(0.5, 1.0))
    with pytest.raises(ValueError):
        SpanMaskingGenerator(mask_ratio=1.5)


def _shard(path, texts):
    cfg = RenderConfig()
    r = TextRenderer(cfg)
    samples = []
    for i, t in enumerate(texts):
        res = r(t)
        samples.append(RenderedSample(
            key=make_key("w", f"d{i}", 0), pixels=encode_pixels(res.pixels, "gray", DEFAULT_ENCODING),
            encoding=DEFAULT_ENCODING, mode="gray", height=16, width=8464, patch_size=16, num_patches=res.num_patches,
            text=res.text, source="w", doc_id=f"d{i}"))
    return write_shard(path, samples)


def test_stream_decodes_and_skips_corrupt_data(tmp_path, wikitext):
    good = _shard(tmp_path / shard_name("train", 0, 2), wikitext[:6])
    bad_path = tmp_path / shard_name("train", 1, 2)
    _shard(bad_path, wikitext[6:10])
    data = bad_path.read_bytes()
    bad_path.write_bytes(data[: len(data) * 2 // 3])  # truncated shard
    skips = SkipCounter()
    out = list(sample_pipeline([str(tmp_path / good.name), str(bad_path)], skips=skips))
    keys = [s.key for s in out]
    assert keys[:6] == sorted(keys[:6]) and len(out) >= 6
    assert all(s.pixels.shape == (16, 8464) and s.pixels.dtype == np.uint8 for s in out)
    assert sum(skips.counts.values()) >= 1, "the truncated shard is counted, not fatal"


def test_resampled_stream_is_infinite_and_seeded(tmp_path, wikitext):
    info = _shard(tmp_path / shard_name("train", 0, 1), wikitext[:3])
    url = str(tmp_path / info.name)
    a = [s.key for s, _ in zip(sample_pipeline(url, resampled=True, shuffle=4, seed=1), range(10))]
    b = [s.key for s, _ in zip(sample_pipeline(url, resampled=True, shuffle=4, seed=1), range(10))]
    assert len(a) == 10 and a == b


def test_trainer_never_imports_beam():
    code = ("import sys, trainer.data, trainer.masking; bad = [m for m in ('apache_beam', 'pipeline') "
            "if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
