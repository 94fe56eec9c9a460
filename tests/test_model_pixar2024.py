"""PIXAR 2024 specifics: patch pairing, causality, padding never read, paper sizes, refused settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelkit.schemas import ShardManifest
from pixelkit.trainer.data import DecodedSample, read_samples
from pixelkit.trainer.models import ConfigError, DataInfo, get_variant
from pixelkit.trainer.models.base import count_parameters, unit_pixels

V = get_variant("pixar2024")
INFO = DataInfo(mode="binary", patch_size=8, max_patches=529)


def _sample(pixels: np.ndarray, num_patches: int) -> DecodedSample:
    return DecodedSample("k", pixels, num_patches, 8, "binary", None, "")


def _model(info: DataInfo = INFO):
    cfg = V.config("debug", {}, info)
    torch.manual_seed(0)
    return cfg, V.model_class(cfg).eval()


def test_two_patches_per_position_and_white_pair_padding():
    info = DataInfo(mode="binary", patch_size=8, max_patches=3)
    cfg = V.config("debug", {}, info)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 2, (8, 24), dtype=np.uint8)
    batch = V.collate([_sample(pixels, 1), _sample(pixels, 2)], cfg, rng)
    x = unit_pixels(batch["pixel_values"])
    assert x.shape == (2, 2, 128) and cfg.positions == 2
    assert torch.equal(x[0, 0], torch.from_numpy(pixels[:, :16].reshape(-1)).float())  # 8x16 block, row-major
    assert torch.equal(x[0, 1].view(8, 16)[:, :8], torch.from_numpy(pixels[:, 16:]).float())
    assert bool((x[0, 1].view(8, 16)[:, 8:] == 1).all())  # the added patch is white
    # 1 text patch + EOS = one pair; 2 text patches + EOS spill into the second pair
    assert batch["attention_mask"].tolist() == [[1, 0], [1, 1]]
    assert V.stats(batch) == {"patches": 2, "tokens": 0}


def test_causal_and_padding_never_read():
    cfg, model = _model()
    torch.manual_seed(1)
    x = torch.randint(0, 2, (2, cfg.positions, cfg.bits)).float()
    att = torch.ones(2, cfg.positions, dtype=torch.long)
    att[1, 100:] = 0
    t = 40
    changed = x.clone()
    changed[:, t + 1:] = 1 - changed[:, t + 1:]
    with torch.no_grad():
        a, b = model(pixel_values=x, attention_mask=att), model(pixel_values=changed, attention_mask=att)
    assert torch.allclose(a.logits[:, : t + 1], b.logits[:, : t + 1], atol=1e-5)
    assert not torch.allclose(a.logits[:, t + 1], b.logits[:, t + 1], atol=1e-3)
    padded = x.clone()
    padded[1, 100:] = 1 - padded[1, 100:]
    with torch.no_grad():
        c = model(pixel_values=padded, attention_mask=att)
    assert torch.allclose(a.loss, c.loss, atol=1e-6)
    assert torch.allclose(a.logits[1, :100], c.logits[1, :100], atol=1e-5)


def test_loss_is_bce_of_the_next_position():
    cfg, model = _model(DataInfo(mode="binary", patch_size=8, max_patches=4))
    x = torch.randint(0, 2, (1, 2, 128)).float()
    with torch.no_grad():
        out = model(pixel_values=x, attention_mask=torch.ones(1, 2, dtype=torch.long))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out.logits[0, 0], x[0, 1])
    assert torch.allclose(out.loss, expected, atol=1e-6)


def test_real_shards_and_picture(binary_shards):
    m = ShardManifest.read(binary_shards / "manifest.json")
    info = DataInfo(mode="binary", patch_size=m.patch_size, max_patches=m.max_patches)
    samples = list(read_samples(sorted(str(p) for p in binary_shards.glob("*.tar"))))[:4]
    cfg, model = _model(info)
    batch = V.collate(samples, cfg, np.random.default_rng(0))
    assert batch["pixel_values"].shape == (4, -(-m.max_patches // 2), 128)
    assert set(batch["pixel_values"].unique().tolist()) <= {0, 255}  # binary strips travel as 0/255 bytes
    with torch.no_grad():
        img = V.visualize(model, batch, model(**batch))
    assert img.dtype == np.uint8 and img.ndim == 2 and img.std() > 0


def test_paper_sizes():
    assert 113e6 < count_parameters(V, "base", INFO) < 114e6  # "pixar113": 12 x 768, SwiGLU 3072
    assert 85e6 < count_parameters(V, "small", INFO) < 85.5e6  # "85M": 12 x 768, SwiGLU 2048
    cfg = V.config("base", {}, INFO)
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.bits) == (12, 768, 12, 128)


def test_bad_settings_fail_with_a_named_problem():
    with pytest.raises(ConfigError, match="binary"):
        V.config("debug", {}, DataInfo(mode="gray", patch_size=16, max_patches=529))
    with pytest.raises(ConfigError, match="patch_size"):
        V.config("debug", {"patch_size": 16}, INFO)
    with pytest.raises(ConfigError, match="heads"):
        V.config("debug", {"num_attention_heads": 5}, INFO)
    cfg = V.config("debug", {}, INFO)
    with pytest.raises(ConfigError, match="strip"):
        V.collate([_sample(np.ones((8, 800), np.uint8), 10)], cfg, np.random.default_rng(0))
