"""Trainer side, first pieces: the streaming shard reader (no Beam) and batch layout (masking: test_masking.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.shards import write_shard
from pixelkit.schemas import DEFAULT_ENCODING, RenderedSample, encode_pixels, make_key, shard_name
from pixelkit.trainer.data import SkipCounter, read_samples
from pixelkit.trainer.models.base import ConfigError, batch_patches, unit_pixels


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
    out = list(read_samples([str(tmp_path / good.name), str(bad_path)], skips=skips))
    keys = [s.key for s in out]
    assert keys[:6] == sorted(keys[:6]) and len(out) >= 6
    assert all(s.pixels.shape == (16, 8464) and s.pixels.dtype == np.uint8 for s in out)
    assert sum(skips.counts.values()) >= 1, "the truncated shard is counted, not fatal"


def test_resampled_stream_is_infinite_and_seeded(tmp_path, wikitext):
    info = _shard(tmp_path / shard_name("train", 0, 1), wikitext[:3])
    url = str(tmp_path / info.name)
    from pixelkit.trainer.stream import BatchStream, StreamSpec

    def keys(seed: int) -> list[str]:
        spec = StreamSpec(sets=[[url]], weights=[1.0], batch_size=1, collate=lambda s, c, r: s[0].key,
                          model_config=None, seed=seed, shuffle_buffer=4)
        return [k for (k, _), _ in zip(BatchStream(spec), range(10))]
    a, b = keys(1), keys(1)
    assert len(a) == 10 and a == b and set(a) == {s.key for s in read_samples(url)}


def test_trainer_never_imports_beam():
    code = ("import sys, pixelkit.trainer.data, pixelkit.trainer.models.masking; bad = [m for m in sys.modules "
            "if m.split('.')[0] == 'apache_beam' or m.startswith('pixelkit.pipeline')]; print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_batch_patches_layout_for_every_mode():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (16, 64), dtype=np.uint8)
    for strip in (gray, np.ascontiguousarray(gray.T).T):  # row order, and the column order pxz decodes into
        x = batch_patches([strip, strip], 16)
        assert x.dtype == torch.uint8 and x.shape == (2, 4, 16, 16, 1)
        assert torch.equal(x[1, 2, :, :, 0], torch.from_numpy(gray[:, 32:48]))
        flat = unit_pixels(x)
        assert flat.shape == (2, 4, 256) and flat.is_contiguous()
        assert torch.allclose(flat[0, 3], torch.from_numpy(gray[:, 48:].reshape(-1) / 255).float())
    rgb = rng.integers(0, 256, (16, 64, 3), dtype=np.uint8)
    x = batch_patches([np.ascontiguousarray(rgb.transpose(2, 1, 0)).transpose(2, 1, 0)], 16)  # pxz rgb planes
    assert x.shape == (1, 4, 16, 16, 3) and torch.equal(x[0, 3], torch.from_numpy(rgb[:, 48:]))
    assert torch.equal(unit_pixels(x)[0, 1], torch.from_numpy(rgb[:, 16:32].reshape(-1) / 255).float())
    bits = rng.integers(0, 2, (8, 32), dtype=np.uint8)
    x = batch_patches([bits], 8, binary=True)
    assert set(x.unique().tolist()) == {0, 255} and torch.equal(unit_pixels(x)[0, 2],
                                                                torch.from_numpy(bits[:, 16:24].reshape(-1)).float())
    with pytest.raises(ConfigError, match="differ in shape"):
        batch_patches([gray, gray[:, :32]], 16)


def test_stream_batches_own_their_pixels_and_match_a_copied_batch(tmp_path, wikitext):
    """BatchStream decodes a batch's strips into rows of one fresh array that ``batch_patches`` hands on without a
    copy: every batch equals the copied batch of the same samples, and stays so after later batches are read."""
    from pixelkit.trainer.models.base import rows_of_one_array
    from pixelkit.trainer.stream import BatchStream, StreamSpec

    url = str(tmp_path / _shard(tmp_path / shard_name("train", 0, 1), wikitext[:5]).name)
    spec = StreamSpec(sets=[[url]], weights=[1.0], batch_size=2, model_config=None, infinite=False,
                      collate=lambda s, c, r: ([x.key for x in s], rows_of_one_array([x.pixels for x in s]),
                                               batch_patches([x.pixels for x in s], 16)))
    batches = [b for b, _ in BatchStream(spec)]  # all read before any is checked
    ref = {s.key: s.pixels for s in read_samples(url)}  # decoded into fresh arrays of their own
    assert [len(k) for k, _, _ in batches] == [2, 2, 1]
    for keys, rows, x in batches:
        assert rows is not None, "the stream's strips are rows of one array"
        assert np.shares_memory(x.numpy(), rows), "... which is the batch, not a copy of it"
        assert rows_of_one_array([ref[k] for k in keys]) is None  # strips of their own: copied
        assert torch.equal(x, batch_patches([ref[k] for k in keys], 16))
    a, b = np.zeros((3, 16 * 32), np.uint8), np.arange(16 * 32, dtype=np.uint8)
    strips = [row.reshape(32, 16).T for row in a]
    assert rows_of_one_array(strips) is not None and rows_of_one_array(strips[::-1]) is None
    assert rows_of_one_array([strips[0], strips[2]]) is None  # rows not in order 0, 1, ...
    a[1] = b
    x = batch_patches(strips[:2], 16)
    assert torch.equal(x[1, 1, :, :, 0], torch.from_numpy(b.reshape(32, 16).T[:, 16:]))
