"""PIXAR (thesis) specifics: sizes, binary-only data, focal loss, padding never read."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pixelkit.schemas import ShardManifest
from pixelkit.trainer.data import read_samples
from pixelkit.trainer.models import ConfigError, DataInfo, get_variant
from pixelkit.trainer.models.pixar import focal_loss

V = get_variant("pixar")


def test_base_is_vit_b_encoder_plus_gpt2_small_decoder():
    cfg = V.config("base", {}, DataInfo(mode="binary", patch_size=8, max_patches=529))
    with torch.device("meta"):
        model = V.model_class(cfg)
    enc = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("patch_embed", "enc_pos", "mask_embed",
                                                                               "encoder")))
    dec = sum(p.numel() for n, p in model.named_parameters()) - enc
    assert 85e6 <= enc <= 87e6, enc
    assert 112e6 <= dec <= 116e6, dec  # 12 GPT-2 blocks with cross-attention
    assert (cfg.focal_alpha, cfg.focal_gamma, cfg.mask_ratio) == (0.3, 2.0, 0.25)


def test_gray_shards_are_refused():
    with pytest.raises(ConfigError, match="binary"):
        V.make_config("debug", {}, DataInfo(mode="gray", patch_size=16, max_patches=529))


def test_focal_loss_values():
    logits = torch.tensor([0.0, 2.0, -1.0])
    target = torch.tensor([1.0, 0.0, 0.0])
    p = torch.sigmoid(logits)
    expected = torch.stack([0.3 * (1 - p[0]) ** 2 * -torch.log(p[0]),
                            0.7 * p[1] ** 2 * -torch.log(1 - p[1]),
                            0.7 * p[2] ** 2 * -torch.log(1 - p[2])])
    assert torch.allclose(focal_loss(logits, target, 0.3, 2.0), expected, atol=1e-6)
    assert math.isclose(float(focal_loss(torch.zeros(1), torch.ones(1), 0.3, 0.0)), 0.3 * math.log(2), rel_tol=1e-6)


def test_padding_is_never_read(binary_shards):
    m = ShardManifest.read(binary_shards / "manifest.json")
    info = DataInfo(mode="binary", patch_size=m.patch_size, max_patches=m.max_patches)
    samples = list(read_samples(sorted(str(p) for p in binary_shards.glob("*.tar"))))[:4]
    cfg = V.config("debug", {}, info)
    torch.manual_seed(0)
    model = V.model_class(cfg).eval()
    batch = V.collate(samples, cfg, np.random.default_rng(0))
    assert set(batch["pixel_values"].unique().tolist()) <= {0, 255}  # binary strips travel as 0/255 bytes
    att = batch["attention_mask"].bool()
    # the reference's masking runs over the whole strip (padding included); what padding holds is never read
    assert (batch["patch_mask"].sum(1) == math.ceil(0.25 * cfg.num_patches)).all() and batch["patch_mask"][~att].any()
    changed = dict(batch, pixel_values=batch["pixel_values"].clone())
    changed["pixel_values"][~att] = 255 - changed["pixel_values"][~att]
    with torch.no_grad():
        a, b = model(**batch), model(**changed)
    assert torch.allclose(a.logits[att], b.logits[att], atol=1e-5)
    assert torch.equal(a.loss, b.loss)
