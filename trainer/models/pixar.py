"""PIXAR, thesis / seed-document version (Tai et al.): ViT encoder + GPT-2 decoder over binary 8x8 patches.

What reproduces the seed setting:

* input: binary strips (1 = white), 529 patches of 8x8 px, one channel; PIXEL's span masking exactly as
  april-tools/pixar sets up xplip/pixel's generator (``masking.py``: ceil(0.25 * N) patches over the whole strip,
  spans of 1-6 spaced by their own length, the first one inside text + EOS; no top-up), drawn in ``collate`` with
  the run's rng;
* encoder: a ViT (pre-norm ``ViTMAELayer``; "base" = ViT-B 768 / 12 layers / 12 heads / 3072 MLP) over the whole
  strip, span-masked patches replaced by a learned mask embedding, learned 1D positions, padding never attended;
* decoder: a GPT-2 stack ("base" = GPT-2 small: 768 / 12 layers / 12 heads, ``GPT2Block`` with cross-attention)
  with teacher forcing over the whole sequence: position t reads the true patches < t (a learned start embedding
  at t = 0) causally and the encoder states through cross-attention, and predicts patch t's 64 pixel logits;
* loss: focal loss (alpha = 0.3, gamma = 2; alpha weights the positive class, pixel value 1 = white, as
  ``torchvision.ops.sigmoid_focal_loss`` does) averaged over the pixels of all non-padding patches (text + EOS).

Source for the sizes: april-tools/pixar trains its GPT-2 backbone from a GPT-2 small checkpoint on binary 8 px
patches; its public code has no encoder-decoder config, so the encoder is the thesis-like ViT-B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import GPT2Config
from transformers import initialization as init
from transformers.models.gpt2.modeling_gpt2 import GPT2Block
from transformers.models.vit_mae.modeling_vit_mae import ViTMAEConfig, ViTMAELayer
from transformers.pytorch_utils import Conv1D
from transformers.utils import ModelOutput

from .base import (ConfigError, DataInfo, Variant, apply_overrides, attention_mask, check_heads, checked_patches,
                   masked_rows, picture, refuse_data_overrides, unit_pixels)
from .base import PixelkitModel
from .hfconfig import PixelkitConfig
from .masking import SpanMaskingGenerator


class PixarConfig(PixelkitConfig):
    model_type = "pixelkit-pixar"

    def __init__(self, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 decoder_hidden_size=768, decoder_num_hidden_layers=12, decoder_num_attention_heads=12,
                 decoder_intermediate_size=3072, patch_size=8, num_channels=1, num_patches=529, mask_ratio=0.25,
                 focal_alpha=0.3, focal_gamma=2.0, dropout=0.1, layer_norm_eps=1e-12, decoder_layer_norm_eps=1e-5,
                 initializer_range=0.02, **kwargs):
        self.hidden_size, self.num_hidden_layers = hidden_size, num_hidden_layers
        self.num_attention_heads, self.intermediate_size = num_attention_heads, intermediate_size
        self.decoder_hidden_size, self.decoder_num_hidden_layers = decoder_hidden_size, decoder_num_hidden_layers
        self.decoder_num_attention_heads = decoder_num_attention_heads
        self.decoder_intermediate_size = decoder_intermediate_size
        self.patch_size, self.num_channels, self.num_patches = patch_size, num_channels, num_patches
        self.mask_ratio, self.focal_alpha, self.focal_gamma = mask_ratio, focal_alpha, focal_gamma
        self.dropout, self.layer_norm_eps, self.decoder_layer_norm_eps = dropout, layer_norm_eps, decoder_layer_norm_eps
        self.initializer_range = initializer_range
        super().__init__(**kwargs)


@dataclass
class PixarOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # (B, N, p*p) pixel logits; sigmoid > 0.5 = white


def _additive(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """bool (B, Q, K) True = attend -> (B, 1, Q, K) additive mask."""
    mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """Elementwise sigmoid focal loss (Lin et al. 2017); alpha weights target 1."""
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return alpha_t * (1 - p_t) ** gamma * ce


class PixarForPreTraining(PixelkitModel):
    config_class = PixarConfig
    base_model_prefix = "pixar"
    main_input_name = "pixel_values"
    _supports_sdpa = True

    def __init__(self, config: PixarConfig):
        super().__init__(config)
        c = config
        dim = c.patch_size * c.patch_size * c.num_channels
        attn = config._attn_implementation or "sdpa"
        enc = ViTMAEConfig(hidden_size=c.hidden_size, num_attention_heads=c.num_attention_heads,
                           intermediate_size=c.intermediate_size, hidden_dropout_prob=c.dropout,
                           attention_probs_dropout_prob=c.dropout, layer_norm_eps=c.layer_norm_eps)
        dec = GPT2Config(n_embd=c.decoder_hidden_size, n_layer=c.decoder_num_hidden_layers,
                         n_head=c.decoder_num_attention_heads, n_inner=c.decoder_intermediate_size,
                         n_positions=c.num_patches, add_cross_attention=True, resid_pdrop=c.dropout,
                         attn_pdrop=c.dropout, embd_pdrop=c.dropout, layer_norm_epsilon=c.decoder_layer_norm_eps)
        enc._attn_implementation = dec._attn_implementation = attn
        self.patch_embed = nn.Linear(dim, c.hidden_size)
        self.enc_pos = nn.Embedding(c.num_patches, c.hidden_size)
        self.mask_embed = nn.Parameter(torch.zeros(c.hidden_size))
        self.encoder = nn.ModuleList([ViTMAELayer(enc) for _ in range(c.num_hidden_layers)])
        self.encoder_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.bridge = (nn.Identity() if c.hidden_size == c.decoder_hidden_size
                       else nn.Linear(c.hidden_size, c.decoder_hidden_size))
        self.dec_in = nn.Linear(dim, c.decoder_hidden_size)
        self.dec_pos = nn.Embedding(c.num_patches, c.decoder_hidden_size)
        self.start_embed = nn.Parameter(torch.zeros(c.decoder_hidden_size))
        self.drop = nn.Dropout(c.dropout)
        self.decoder = nn.ModuleList([GPT2Block(dec, layer_idx=i) for i in range(c.decoder_num_hidden_layers)])
        self.decoder_norm = nn.LayerNorm(c.decoder_hidden_size, eps=c.decoder_layer_norm_eps)
        self.head = nn.Linear(c.decoder_hidden_size, dim)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, Conv1D):
            init.normal_(module.weight, std=std)
            init.zeros_(module.bias)
        if module is self:
            init.normal_(self.mask_embed, std=std)
            init.normal_(self.start_embed, std=std)
            # GPT-2: residual projections scaled by 1/sqrt(2 * n_layer)
            for block in self.decoder:
                for proj in (block.attn.c_proj, block.crossattention.c_proj, block.mlp.c_proj):
                    init.normal_(proj.weight, std=std / (2 * self.config.decoder_num_hidden_layers) ** 0.5)

    def forward(self, pixel_values, attention_mask, patch_mask, **kwargs) -> PixarOutput:
        pixel_values = unit_pixels(pixel_values, self.dtype)
        b, n, _ = pixel_values.shape
        keys = attention_mask.bool()
        pos = torch.arange(n, device=pixel_values.device)
        x = torch.where(patch_mask[..., None], self.mask_embed, self.patch_embed(pixel_values)) + self.enc_pos(pos)
        enc_mask = _additive(keys[:, None, :].expand(b, n, n), x.dtype)
        for layer in self.encoder:
            x = layer(x, enc_mask)
        memory = self.bridge(self.encoder_norm(x))

        y = torch.cat([self.start_embed.expand(b, 1, -1), self.dec_in(pixel_values[:, :-1])], dim=1)
        y = self.drop(y + self.dec_pos(pos))
        causal = torch.ones(n, n, dtype=torch.bool, device=y.device).tril()
        self_mask = _additive(causal[None] & keys[:, None, :], y.dtype)
        cross_mask = _additive(keys[:, None, :].expand(b, n, n), y.dtype)
        for block in self.decoder:
            y = block(y, attention_mask=self_mask, encoder_hidden_states=memory, encoder_attention_mask=cross_mask)
        logits = self.head(self.decoder_norm(y))

        per_patch = focal_loss(logits, pixel_values, self.config.focal_alpha, self.config.focal_gamma).mean(-1)
        weight = keys.to(per_patch.dtype)
        loss = (per_patch * weight).sum() / weight.sum().clamp(min=1)
        return PixarOutput(loss=loss, logits=logits)


FLAVORS = {
    "debug": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                  decoder_hidden_size=64, decoder_num_hidden_layers=2, decoder_num_attention_heads=4,
                  decoder_intermediate_size=128, dropout=0.0, initializer_range=0.1),  # ~1/sqrt(width) for width 64
    "base": dict(),  # thesis-like: ViT-B encoder + GPT-2 small decoder with cross-attention
}

def make_config(flavor: str, overrides: dict, data: DataInfo) -> PixarConfig:
    refuse_data_overrides("PIXAR", overrides, ("patch_size", "num_channels", "num_patches"))
    if data.mode != "binary":
        raise ConfigError(f"PIXAR (thesis) trains on binary shards, these are {data.mode!r}")
    kw = apply_overrides(dict(FLAVORS[flavor]), overrides, PixarConfig)
    cfg = PixarConfig(**kw, patch_size=data.patch_size, num_channels=1, num_patches=data.max_patches)
    check_heads("PIXAR", (cfg.hidden_size, cfg.num_attention_heads, "encoder"),
                (cfg.decoder_hidden_size, cfg.decoder_num_attention_heads, "decoder"))
    if not 0 < cfg.mask_ratio < 1:
        raise ConfigError(f"mask_ratio must be in (0, 1), got {cfg.mask_ratio}")
    return cfg


def collate(samples: list, config: PixarConfig, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Binary patches, attention mask (text + EOS), the span mask over the strip (LatentPixel's ``get_span_mask``
    passes ``num_text_patches + 1``)."""
    n = config.num_patches
    pixels = checked_patches(samples, config.patch_size, n)
    masks = SpanMaskingGenerator(n, mask_ratio=config.mask_ratio).batch([s.num_patches + 1 for s in samples], rng)
    return {"pixel_values": pixels, "attention_mask": torch.from_numpy(attention_mask(samples, n)),
            "patch_mask": torch.from_numpy(masks)}


def stats(batch: dict[str, torch.Tensor]) -> dict[str, int]:
    return {"patches": int(batch["attention_mask"].sum()), "tokens": 0}


@torch.no_grad()
def visualize(model: PixarForPreTraining, batch: dict[str, torch.Tensor], output: PixarOutput) -> np.ndarray:
    """Per sample (up to 4): input, input with span-masked patches grayed, prediction with unmasked patches pasted."""
    p = model.config.patch_size
    x, masked = unit_pixels(batch["pixel_values"]).cpu(), batch["patch_mask"].cpu()
    pred = (output.logits.detach().float().cpu() > 0).float()
    return picture(masked_rows(x, masked, pred, batch["attention_mask"], p), p)


VARIANT = Variant(
    name="pixar",
    config_class=PixarConfig,
    model_class=PixarForPreTraining,
    flavors=FLAVORS,
    make_config=make_config,
    collate=collate,
    stats=stats,
    visualize=visualize,
    modes=("binary",),
    needs_tokens=False,
    paper_params={"base": (190e6, 210e6)},
)
