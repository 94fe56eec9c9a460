"""PIXEL specifics: ViT-B encoder size, fixed-count span masking, the encoder seeing only kept text patches."""

from __future__ import annotations

import numpy as np
import torch

from pixelkit.schemas import ShardManifest
from pixelkit.trainer.data import read_samples
from pixelkit.trainer.models import DataInfo, get_variant
from pixelkit.trainer.models.base import denormalize_patches, normalize_patches, unit_pixels

V = get_variant("pixel")


def _setup(gray_shards, **overrides):
    m = ShardManifest.read(gray_shards / "manifest.json")
    info = DataInfo(mode=m.render_config["mode"], patch_size=m.patch_size, max_patches=m.max_patches)
    samples = list(read_samples(sorted(str(p) for p in gray_shards.glob("*.tar"))))[:4]
    cfg = V.config("debug", overrides, info)
    torch.manual_seed(0)
    return cfg, samples, V.model_class(cfg).eval()


def test_base_is_vit_b_encoder_plus_light_decoder():
    cfg = V.config("base", {}, DataInfo(mode="gray", patch_size=16, max_patches=529))
    with torch.device("meta"):
        model = V.model_class(cfg)
    enc = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("patch_embed", "cls_token", "encoder")))
    dec = sum(p.numel() for n, p in model.named_parameters()) - enc
    assert 85e6 <= enc <= 87e6, enc
    assert 25e6 <= dec <= 27e6, dec
    assert (cfg.mask_ratio, cfg.norm_pix_loss, cfg.num_patches) == (0.25, True, 529)


def test_collate_drops_a_fixed_count_including_every_span(gray_shards):
    cfg, samples, _ = _setup(gray_shards)
    a = V.collate(samples, cfg, np.random.default_rng(7))
    b = V.collate(samples, cfg, np.random.default_rng(7))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (a["patch_mask"].sum(1) == 529 - int(529 * 0.75)).all()
    for i, s in enumerate(samples):
        assert a["attention_mask"][i].sum() == s.num_patches + 1
        assert a["patch_mask"][i, : s.num_patches + 1].any(), "the first span lies in text + EOS"


def test_encoder_sees_only_kept_patches_and_never_padding(gray_shards):
    cfg, samples, model = _setup(gray_shards)
    batch = V.collate(samples, cfg, np.random.default_rng(0))
    with torch.no_grad():
        ref = model(**batch).logits
        changed = dict(batch, pixel_values=batch["pixel_values"].clone())
        changed["pixel_values"][batch["patch_mask"]] = 77  # dropped patches: the model must not read them
        changed["pixel_values"][batch["attention_mask"] == 0] = 178  # padding: never attended
        out = model(**changed).logits
    att = batch["attention_mask"].bool()
    assert torch.allclose(ref[att], out[att], atol=1e-5)


def test_norm_pix_loss_round_trips_and_trains(gray_shards):
    cfg, samples, model = _setup(gray_shards, norm_pix_loss=True)
    batch = V.collate(samples, cfg, np.random.default_rng(1))
    x = unit_pixels(batch["pixel_values"])
    assert torch.allclose(denormalize_patches(normalize_patches(x), x), x, atol=1e-3)
    out = model(**batch)
    assert torch.isfinite(out.loss)
    assert V.visualize(model, batch, out).dtype == np.uint8
