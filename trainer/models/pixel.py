"""PIXEL (Rust et al., ICLR 2023, "Language Modelling with Pixels"): a ViT-MAE over a rendered text strip.

What reproduces the paper (and the reference code, xplip/pixel ``modeling_pixel.py``):

* patches: the strip's N patches (529 = 23 x 23 of 16x16 px) laid on a sqrt(N) x sqrt(N) grid, patch i at row
  i // sqrt(N), column i % sqrt(N); fixed 2D sin-cos positions over that grid (MAE layout, zero row for [CLS]),
  recomputed on every forward so nothing fixed is saved or has to be restored;
* masking: the reference's span masking (``masking.py``: ceil(mask_ratio * N) = 133 of 529 patches over the whole
  strip in spans of 1-6 spaced by their own length, the first span inside text + EOS), topped up with uniformly
  random patches to a fixed drop count N - int(N * (1 - mask_ratio)) as its ``controlled_masking`` does (noise =
  span mask + U[0, 0.01), drop the highest); statistics checked against the reference's in ``test_masking.py``.
  The drawing happens in ``collate`` with the run's rng, so a batch is reproducible; the model only keeps the
  patches ``patch_mask`` leaves;
* encoder: ViT-B (768 / 12 layers / 12 heads / 3072 MLP, pre-norm ``ViTMAELayer``) over [CLS] + kept patches only,
  attending only to kept patches that are text, EOS or [CLS] (attention mask gathered like the patches);
* decoder: 512 / 8 layers / 16 heads / 2048 MLP over [CLS] + all N positions (mask token at dropped ones), with the
  attention mask over all patches, so padding is never attended;
* loss: MAE's normalized-pixel MSE (per-patch mean / unbiased variance of the target, eps 1e-6) averaged over
  dropped patches that are attended (text + EOS).

The "debug" flavor (tiny, CPU) trains on plain pixel MSE (norm_pix_loss=False) so a 30-step smoke run visibly
learns; the paper flavor keeps norm_pix_loss=True. The patch embedding is a linear map of the flattened patch (the
same map as MAE's stride-p convolution), initialised with xavier-uniform as MAE does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import initialization as init
from transformers.models.vit_mae.modeling_vit_mae import (
    ViTMAEConfig,
    ViTMAELayer,
    build_2d_sinusoidal_position_embedding,
)
from transformers.utils import ModelOutput

from .base import (ConfigError, DataInfo, Variant, apply_overrides, attention_mask, check_heads, checked_patches,
                   denormalize_patches, masked_rows, normalize_patches, picture, refuse_data_overrides, unit_pixels)
from .base import PixelkitModel
from .hfconfig import PixelkitConfig
from .masking import SpanMaskingGenerator, controlled_drop


class PixelConfig(PixelkitConfig):
    model_type = "pixelkit-pixel"

    def __init__(self, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 decoder_hidden_size=512, decoder_num_hidden_layers=8, decoder_num_attention_heads=16,
                 decoder_intermediate_size=2048, patch_size=16, num_channels=1, num_patches=529, mask_ratio=0.25,
                 norm_pix_loss=True, hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                 layer_norm_eps=1e-12, qkv_bias=True, initializer_range=0.02, decoder_norm_eps=None, **kwargs):
        self.hidden_size, self.num_hidden_layers = hidden_size, num_hidden_layers
        self.num_attention_heads, self.intermediate_size = num_attention_heads, intermediate_size
        self.decoder_hidden_size, self.decoder_num_hidden_layers = decoder_hidden_size, decoder_num_hidden_layers
        self.decoder_num_attention_heads = decoder_num_attention_heads
        self.decoder_intermediate_size = decoder_intermediate_size
        self.patch_size, self.num_channels, self.num_patches = patch_size, num_channels, num_patches
        self.mask_ratio, self.norm_pix_loss = mask_ratio, norm_pix_loss
        self.hidden_act, self.hidden_dropout_prob = hidden_act, hidden_dropout_prob
        self.attention_probs_dropout_prob, self.layer_norm_eps = attention_probs_dropout_prob, layer_norm_eps
        self.qkv_bias, self.initializer_range = qkv_bias, initializer_range
        # PIXEL's decoder_norm is nn.LayerNorm(d): torch's default 1e-5 (make_config sets it); None = layer_norm_eps,
        # what checkpoints saved before this setting existed were trained with
        self.decoder_norm_eps = decoder_norm_eps
        super().__init__(**kwargs)


@dataclass
class PixelOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # (B, N, p*p*C) predictions (normalized pixels when norm_pix_loss)
    patch_mask: torch.Tensor | None = None  # (B, N) True = dropped (reconstructed)


def _layer_config(cfg: PixelConfig, hidden: int, heads: int, mlp: int) -> ViTMAEConfig:
    c = ViTMAEConfig(hidden_size=hidden, num_attention_heads=heads, intermediate_size=mlp, hidden_act=cfg.hidden_act,
                     hidden_dropout_prob=cfg.hidden_dropout_prob, layer_norm_eps=cfg.layer_norm_eps,
                     attention_probs_dropout_prob=cfg.attention_probs_dropout_prob, qkv_bias=cfg.qkv_bias)
    c._attn_implementation = cfg._attn_implementation or "sdpa"
    return c


def _additive_mask(keys: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, K) 1 = attend -> (B, 1, 1, K) additive mask for every query."""
    mask = torch.zeros(keys.shape, dtype=dtype, device=keys.device)
    return mask.masked_fill(keys == 0, torch.finfo(dtype).min)[:, None, None]


def sincos_positions(dim: int, num_patches: int, device, dtype) -> torch.Tensor:
    """(1 + N, dim) MAE 2D sin-cos positions over the sqrt(N) grid, zero row first for [CLS]."""
    side = math.isqrt(num_patches)
    pos = build_2d_sinusoidal_position_embedding(side, side, dim, cls_token=True, device=device, dtype=dtype)
    half = dim // 2  # MAE's layout: the column (w) half first, then the row (h) half
    return torch.cat([pos[:, half:], pos[:, :half]], dim=1)


class PixelForPreTraining(PixelkitModel):
    config_class = PixelConfig
    base_model_prefix = "pixel"
    main_input_name = "pixel_values"
    _supports_sdpa = True

    def __init__(self, config: PixelConfig):
        super().__init__(config)
        c = config
        dim = c.patch_size * c.patch_size * c.num_channels
        enc = _layer_config(c, c.hidden_size, c.num_attention_heads, c.intermediate_size)
        dec = _layer_config(c, c.decoder_hidden_size, c.decoder_num_attention_heads, c.decoder_intermediate_size)
        self.patch_embed = nn.Linear(dim, c.hidden_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.hidden_size))
        self.encoder = nn.ModuleList([ViTMAELayer(enc) for _ in range(c.num_hidden_layers)])
        self.encoder_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.decoder_embed = nn.Linear(c.hidden_size, c.decoder_hidden_size)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, c.decoder_hidden_size))
        self.decoder = nn.ModuleList([ViTMAELayer(dec) for _ in range(c.decoder_num_hidden_layers)])
        self.decoder_norm = nn.LayerNorm(c.decoder_hidden_size, eps=c.decoder_norm_eps or c.layer_norm_eps)
        self.decoder_pred = nn.Linear(c.decoder_hidden_size, dim)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if module is self:
            init.normal_(self.cls_token, std=self.config.initializer_range)
            init.normal_(self.mask_token, std=self.config.initializer_range)
            init.xavier_uniform_(self.patch_embed.weight)

    def encode(self, pixel_values, attention_mask, patch_mask):
        """[CLS] + kept patches -> (B, 1 + keep, hidden), kept indices (B, keep) in strip order."""
        pixel_values = unit_pixels(pixel_values, self.dtype)
        b, n, _ = pixel_values.shape
        dropped = patch_mask.sum(1)
        if bool((dropped != dropped[0]).any()):
            raise ValueError("patch_mask must drop the same number of patches in every sample (see collate)")
        keep = n - int(dropped[0])
        ids_keep = torch.argsort(patch_mask.to(torch.int8), dim=1, stable=True)[:, :keep]
        pos = sincos_positions(self.config.hidden_size, n, pixel_values.device, pixel_values.dtype)
        x = self.patch_embed(pixel_values) + pos[1:]
        x = torch.gather(x, 1, ids_keep[..., None].expand(-1, -1, x.shape[-1]))
        x = torch.cat([(self.cls_token + pos[:1]).expand(b, -1, -1), x], dim=1)
        keys = torch.cat([attention_mask.new_ones(b, 1), torch.gather(attention_mask, 1, ids_keep)], dim=1)
        mask = _additive_mask(keys, x.dtype)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.encoder_norm(x), ids_keep

    def decode(self, latent, ids_keep, attention_mask):
        """[CLS] + kept latents, mask tokens at the dropped positions -> (B, N, p*p*C)."""
        b, n = attention_mask.shape
        y = self.decoder_embed(latent)
        d = y.shape[-1]
        full = self.mask_token.expand(b, n, d).scatter(1, ids_keep[..., None].expand(-1, -1, d), y[:, 1:])
        y = torch.cat([y[:, :1], full], dim=1) + sincos_positions(d, n, y.device, y.dtype)
        mask = _additive_mask(torch.cat([attention_mask.new_ones(b, 1), attention_mask], dim=1), y.dtype)
        for layer in self.decoder:
            y = layer(y, mask)
        return self.decoder_pred(self.decoder_norm(y))[:, 1:]

    def forward(self, pixel_values, attention_mask, patch_mask, **kwargs) -> PixelOutput:
        pixel_values = unit_pixels(pixel_values, self.dtype)
        latent, ids_keep = self.encode(pixel_values, attention_mask, patch_mask)
        logits = self.decode(latent, ids_keep, attention_mask)
        target = normalize_patches(pixel_values) if self.config.norm_pix_loss else pixel_values
        per_patch = ((logits - target) ** 2).mean(-1)
        weight = (patch_mask & attention_mask.bool()).to(per_patch.dtype)
        loss = (per_patch * weight).sum() / weight.sum().clamp(min=1)
        return PixelOutput(loss=loss, logits=logits, patch_mask=patch_mask)


FLAVORS = {
    "debug": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                  decoder_hidden_size=64, decoder_num_hidden_layers=1, decoder_num_attention_heads=4,
                  decoder_intermediate_size=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                  norm_pix_loss=False),  # plain pixel MSE: 30 CPU steps are too few to beat the norm-pix plateau
    "base": dict(),  # PIXEL-base: ViT-B encoder (~86M) + 512/8/16/2048 decoder, mask ratio 0.25, norm_pix_loss
}

def make_config(flavor: str, overrides: dict, data: DataInfo) -> PixelConfig:
    refuse_data_overrides("PIXEL", overrides, ("patch_size", "num_channels", "num_patches"))
    kw = apply_overrides(dict(FLAVORS[flavor]), overrides, PixelConfig)
    kw.setdefault("decoder_norm_eps", 1e-5)  # xplip/pixel's decoder LayerNorm
    n = data.max_patches
    if math.isqrt(n) ** 2 != n:
        raise ConfigError(f"PIXEL lays its patches on a square sqrt(N) x sqrt(N) grid for its 2D sin-cos positions; "
                          f"{n} patches is not a perfect square (render e.g. 529 = 23 x 23 patches per strip)")
    cfg = PixelConfig(**kw, patch_size=data.patch_size, num_channels=data.channels, num_patches=n)
    check_heads("PIXEL", (cfg.hidden_size, cfg.num_attention_heads, "encoder"),
                (cfg.decoder_hidden_size, cfg.decoder_num_attention_heads, "decoder"), multiple=4)  # 2D sin-cos
    if not 0 < cfg.mask_ratio < 1:
        raise ConfigError(f"mask_ratio must be in (0, 1), got {cfg.mask_ratio}")
    return cfg


def collate(samples: list, config: PixelConfig, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Patches, attention mask (text + EOS) and the dropped set: the reference's span mask (its first span inside
    text + EOS, as run_pretraining.py passes ``num_patches + 1``) topped up at random to a fixed count."""
    n = config.num_patches
    pixels = checked_patches(samples, config.patch_size, n)
    spans = SpanMaskingGenerator(n, mask_ratio=config.mask_ratio).batch([s.num_patches + 1 for s in samples], rng)
    drops = controlled_drop(spans, config.mask_ratio, rng)
    return {"pixel_values": pixels, "attention_mask": torch.from_numpy(attention_mask(samples, n)),
            "patch_mask": torch.from_numpy(drops)}


def stats(batch: dict[str, torch.Tensor]) -> dict[str, int]:
    return {"patches": int((batch["patch_mask"] & batch["attention_mask"].bool()).sum()), "tokens": 0}


@torch.no_grad()
def visualize(model: PixelForPreTraining, batch: dict[str, torch.Tensor], output: PixelOutput) -> np.ndarray:
    """Per sample (up to 4): input, input with dropped patches grayed, reconstruction with kept patches pasted."""
    cfg = model.config
    x, drop = unit_pixels(batch["pixel_values"]).cpu(), batch["patch_mask"].cpu()
    pred = output.logits.detach().float().cpu()
    if cfg.norm_pix_loss:
        pred = denormalize_patches(pred, x)
    return picture(masked_rows(x, drop, pred, batch["attention_mask"], cfg.patch_size, cfg.num_channels),
                   cfg.patch_size)


VARIANT = Variant(
    name="pixel",
    config_class=PixelConfig,
    model_class=PixelForPreTraining,
    flavors=FLAVORS,
    make_config=make_config,
    collate=collate,
    stats=stats,
    visualize=visualize,
    modes=("gray", "rgb", "binary"),
    needs_tokens=False,
    paper_params={"base": (105e6, 120e6)},
)
