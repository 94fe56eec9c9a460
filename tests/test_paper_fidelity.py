"""Paper scale, checked against the numbers the papers and their releases state: parameter counts (meta device)
and every ``trainer/runs/*-paper.yaml`` (global batch, accumulation, schedule, precision, render geometry)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from pixelkit.pipeline.render import preset
from pixelkit.trainer.config import deepspeed_config, load_config
from pixelkit.trainer.models import DataInfo, get_variant
from pixelkit.trainer.models.base import count_parameters

RUNS = Path(__file__).resolve().parents[1] / "trainer" / "runs"
M = 1e6


def _count(name: str, info: DataInfo, prefixes: tuple[str, ...] | None = None, flavor: str = "base") -> int:
    v = get_variant(name)
    with torch.device("meta"):
        model = v.model_class(v.config(flavor, {}, info))
    return sum(p.numel() for n, p in model.named_parameters() if prefixes is None or n.startswith(prefixes))


def test_pixel_encoder_is_86m():
    """Rust et al. 2023: "an 86M parameter ViT-MAE encoder" (PIXEL rendered 3-channel strips; gray ones differ
    only by the patch embedding's input width)."""
    for mode in ("rgb", "gray"):
        enc = _count("pixel", DataInfo(mode, 16, 529), ("patch_embed", "cls_token", "encoder"))
        assert abs(enc - 86 * M) < 1 * M, (mode, enc)


def test_pixar_thesis_is_86m_encoder_plus_113m_decoder():
    info = DataInfo("binary", 8, 529)
    enc = _count("pixar", info, ("patch_embed", "enc_pos", "mask_embed", "encoder"))
    dec = _count("pixar", info) - enc
    assert abs(enc - 86 * M) < 1.5 * M and abs(dec - 113 * M) < 1.5 * M, (enc, dec)


def test_pixelgpt_family_matches_the_released_350m():
    """baidu/PixelGPT, MonoGPT and DualGPT are listed at "350M params" (F32 safetensors; 349.5-350.5M at the hub's
    three digits). The released ErniePixelForCausalLM always holds the token embedding AND the token head: our
    MonoGPT / DualGPT have the same parameters; PixelGPT lacks only the unused 32k x 1024 head. 24 layers would
    be 375.4M and fail here; 22 give 349.7M."""
    info = DataInfo("rgb", 16, 1024, vocab_size=32000)
    released = {"monogpt": 0, "dualgpt": 0, "pixelgpt": 32000 * 1024}
    for name, missing in released.items():
        n = _count(name, info) + missing
        assert abs(n - 350 * M) <= 0.5 * M, (name, n)
    patch_parts = _count("dualgpt", info, ("patch_embed", "patch_norm", "patch_head"))
    assert _count("textgpt", info) == _count("dualgpt", info) - patch_parts


def test_pixar2024_sizes():
    info = DataInfo("binary", 8, 720)
    assert abs(_count("pixar2024", info) - 113 * M) < 1 * M  # "pixar113"
    assert abs(_count("pixar2024", info, flavor="small") - 85 * M) < 1 * M  # the "85M" notebooks' model


# variant -> (preset, world size, micro batch, global batch, lr, min_lr, betas, weight decay, warmup, steps,
#             precision), from the sources each run file cites; None = unpublished (the run config's defaults)
PIXEL = ("pixel", 8, 32, 256, 1.5e-4, 1e-5, (0.9, 0.999), 0.05, 50_000, 1_000_000, "fp16")
CITED = {
    "pixel": PIXEL,
    "pixar": ("pixar",) + PIXEL[1:],  # no public thesis recipe: PIXEL's, PIXAR's rendering
    "pixar2024": ("pixar2024", 4, 96, 384, 3e-4, 3e-5, (0.9, 0.95), 0.1, 2000, 1_000_000, "fp16"),
    **{name: ("pixelgpt",) + PIXEL[1:] for name in ("pixelgpt", "textgpt", "monogpt", "dualgpt")},
}


def test_every_variant_has_a_paper_run_file():
    from pixelkit.trainer.models import REGISTRY
    assert sorted(p.name for p in RUNS.glob("*-paper.yaml")) == sorted(f"{n}-paper.yaml" for n in REGISTRY)
    assert sorted(CITED) == sorted(REGISTRY)


@pytest.mark.parametrize("name", sorted(CITED))
def test_paper_run_file_derives_the_cited_recipe(name):
    render, world, micro, batch, lr, min_lr, betas, wd, warmup, steps, precision = CITED[name]
    path = RUNS / f"{name}-paper.yaml"
    text = path.read_text()
    assert text.startswith("#") and ("github" in text or "/" in text.splitlines()[1]), "cites its source"
    cfg = load_config(path)
    assert (cfg.model, cfg.flavor) == (name, "base")
    ds = deepspeed_config(cfg, world)
    assert ds["train_batch_size"] == batch and ds["train_micro_batch_size_per_gpu"] == micro
    assert ds["gradient_accumulation_steps"] * micro * world == batch
    assert (ds.get("fp16", {}).get("enabled"), ds.get("bf16", {}).get("enabled")) == (
        (True, None) if precision == "fp16" else (None, True))
    o = cfg.optim
    assert (o.lr, o.min_lr, tuple(o.betas), o.weight_decay, cfg.warmup(), cfg.max_steps) == (
        lr, min_lr, betas, wd, warmup, steps)
    r = preset(render)
    assert cfg.data.expect == {"mode": r.mode, "patch_size": r.pixels_per_patch, "max_patches": r.max_patches}

    from pixelkit.trainer.engine import _scheduler  # the schedule the engine builds: warmup to lr, cosine to min_lr
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=o.lr)
    factor = _scheduler(opt, cfg).lr_lambdas[0]  # transformers' LambdaLR: lr(step) = lr * factor(step)
    lrs = {step: o.lr * factor(step) for step in (0, warmup // 2, warmup, (warmup + steps) // 2, steps)}
    assert lrs[0] == 0 and math.isclose(lrs[warmup // 2], lr / 2, rel_tol=1e-3)
    assert math.isclose(lrs[warmup], lr, rel_tol=1e-6)
    assert math.isclose(lrs[(warmup + steps) // 2], (lr + min_lr) / 2, rel_tol=1e-3)
    assert math.isclose(lrs[steps], min_lr, rel_tol=1e-6)


def test_run_config_defaults_follow_pixel_and_bad_floors_fail():
    from pixelkit.trainer.models.base import ConfigError
    cfg = load_config(None, {"data": {"train": ["x"]}, "max_steps": 1_000_000})
    o = cfg.optim
    assert (o.lr, o.min_lr, tuple(o.betas), o.weight_decay, o.eps, cfg.warmup()) == (
        1.5e-4, 1e-5, (0.9, 0.999), 0.05, 1e-8, 50_000)
    with pytest.raises(ConfigError, match="optim.min_lr"):
        load_config(None, {"data": {"train": ["x"]}, "optim": {"lr": 1e-6}})
    with pytest.raises(ConfigError, match="data.expect"):
        load_config(None, {"data": {"train": ["x"], "expect": {"channels": 3}}})


def test_expected_geometry_refuses_other_shards():
    from pixelkit.trainer.models.base import ConfigError
    cfg = load_config(RUNS / "pixelgpt-paper.yaml")
    cfg.check_data(DataInfo("rgb", 16, 1024))
    with pytest.raises(ConfigError, match=r"data.expect.mode is 'rgb' but the shards .* have 'gray'"):
        cfg.check_data(DataInfo("gray", 16, 529))  # the gray 529-patch strips the debug runs use
