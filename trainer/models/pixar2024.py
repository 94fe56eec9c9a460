"""PIXAR (Tai, Liao, Suglia, Vergari 2024, "PIXAR: Auto-Regressive Language Modeling in Pixel Space"), stage 1.

What reproduces the paper's first (maximum-likelihood) pretraining stage:

* input: binary strips (1 = white) of 8x8 patches grouped two wide, so each sequence position is an 8x16 block of
  128 bits (row-major within the block); an odd patch count (529) gets one white patch to complete the last pair;
* model: a decoder-only LLaMA (transformers' ``LlamaModel`` through ``inputs_embeds``: pre-RMSNorm, SwiGLU, RoPE,
  causal attention, final RMSNorm, no token embedding); a bias-free linear patch embedding of the block mapped to
  {-1, 1} and a bias-free linear head giving 128 bit logits (the released code's 8x16 conv / transposed conv);
* loss: binary cross-entropy with logits of position t+1's bits predicted at position t, averaged over the bits
  of every target position holding a text or EOS patch, per sample, then over the batch (as the released code).

Not here: the paper's second, adversarial pretraining stage (a patch-wise context-aware discriminator). The
released code initialises from a checkpoint; here weights start from the LLaMA initialisation.

Paper flavors. The released repository (april-tools/pixar) builds the backbone from ``LlamaConfig`` files that are
not in the repository (``storage/llama_*/config.json``); its notebooks name two sizes, "pixar113" (the 1M-step
model evaluated with and without the adversarial stage) and "85M". Both are 12 x 768 LLaMA stacks with 12 heads:
``base`` with SwiGLU 3072 (113.5M) and ``small`` with LLaMA's 8/3 rule, SwiGLU 2048 (85.2M). The layer shapes are
inferred from those counts, not read from a released config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import LlamaConfig, LlamaModel
from transformers.utils import ModelOutput

from .base import (ConfigError, DataInfo, Variant, apply_overrides, binary_batch, check_heads, picture,
                   refuse_data_overrides, unit_pixels)
from .base import PixelkitModel
from .hfconfig import PixelkitConfig

GROUP = 2  # 8x8 patches per sequence position


class Pixar2024Config(PixelkitConfig):
    model_type = "pixelkit-pixar2024"

    def __init__(self, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                 rms_norm_eps=1e-6, initializer_range=0.02, patch_size=8, num_patches=529, **kwargs):
        self.hidden_size, self.intermediate_size = hidden_size, intermediate_size
        self.num_hidden_layers, self.num_attention_heads = num_hidden_layers, num_attention_heads
        self.rms_norm_eps, self.initializer_range = rms_norm_eps, initializer_range
        self.patch_size, self.num_patches = patch_size, num_patches
        super().__init__(**kwargs)

    @property
    def positions(self) -> int:
        return -(-self.num_patches // GROUP)

    @property
    def bits(self) -> int:
        return GROUP * self.patch_size * self.patch_size

    def llama(self) -> LlamaConfig:
        return LlamaConfig(hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
                           num_hidden_layers=self.num_hidden_layers, num_attention_heads=self.num_attention_heads,
                           max_position_embeddings=self.positions, rms_norm_eps=self.rms_norm_eps,
                           initializer_range=self.initializer_range, vocab_size=1, bos_token_id=None,
                           eos_token_id=None, pad_token_id=None)


@dataclass
class Pixar2024Output(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # (B, positions, bits): position t's logits are for position t+1's bits


class Pixar2024(PixelkitModel):
    config_class = Pixar2024Config
    base_model_prefix = "pixar2024"
    main_input_name = "pixel_values"
    _supports_sdpa = True

    def __init__(self, config: Pixar2024Config):
        super().__init__(config)
        self.embed = nn.Linear(config.bits, config.hidden_size, bias=False)
        self.decoder = LlamaModel(config.llama())
        self.decoder.embed_tokens = None  # positions arrive as inputs_embeds; no vocabulary
        self.head = nn.Linear(config.hidden_size, config.bits, bias=False)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor) -> Pixar2024Output:
        """pixel_values: (B, positions, bits), uint8 {0, 255} from collate or float {0, 1}; attention_mask:
        (B, positions), 1 = text or EOS inside."""
        pixel_values = unit_pixels(pixel_values, self.dtype)
        hidden = self.decoder(inputs_embeds=self.embed(pixel_values * 2 - 1),
                              attention_mask=attention_mask).last_hidden_state
        logits = self.head(hidden)
        bce = nn.functional.binary_cross_entropy_with_logits(
            logits[:, :-1].float(), pixel_values[:, 1:].float(), reduction="none").mean(-1)
        covered = attention_mask[:, 1:].to(bce.dtype)
        per_sample = (bce * covered).sum(1) / covered.sum(1).clamp(min=1)
        return Pixar2024Output(loss=per_sample.mean(), logits=logits)


FLAVORS = {
    "debug": dict(hidden_size=64, intermediate_size=172, num_hidden_layers=2, num_attention_heads=4),
    "base": dict(),  # "pixar113": 12 x 768, 12 heads, SwiGLU 3072
    "small": dict(intermediate_size=2048),  # "85M": 12 x 768, 12 heads, SwiGLU 2048
}


def make_config(flavor: str, overrides: dict, data: DataInfo) -> Pixar2024Config:
    refuse_data_overrides("pixar2024", overrides, ("patch_size", "num_patches"))
    if data.mode != "binary" or data.channels != 1:
        raise ConfigError(f"pixar2024 trains on binary (one-channel) shards, these are {data.mode!r}")
    if data.max_patches < GROUP:
        raise ConfigError(f"pixar2024 needs strips of at least {GROUP} patches, the shards hold {data.max_patches}")
    cfg = Pixar2024Config(**apply_overrides(dict(FLAVORS[flavor]), overrides, Pixar2024Config),
                          patch_size=data.patch_size, num_patches=data.max_patches)
    check_heads("pixar2024", (cfg.hidden_size, cfg.num_attention_heads, "decoder"))
    if (cfg.hidden_size // cfg.num_attention_heads) % 2:
        raise ConfigError(f"pixar2024 head width {cfg.hidden_size // cfg.num_attention_heads} must be even for RoPE")
    return cfg


def collate(samples: list, config: Pixar2024Config, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Strips -> (B, positions, 128) bits in {0, 1}, white-padded to whole pairs, and the attention mask over
    positions holding a text or EOS patch. ``rng`` is unused: nothing is random."""
    p, n, width = config.patch_size, config.positions, config.num_patches * config.patch_size
    for s in samples:
        if s.pixels.shape != (p, width):
            raise ConfigError(f"strip {s.pixels.shape} does not match the model's {p}x{width} (from the manifest)")
    if not binary_batch(samples):
        raise ConfigError("pixar2024 needs binary strips holding {0, 1}; these hold gray values")
    strips = np.ones((len(samples), p, n * GROUP * p), dtype=np.uint8)  # white padding to whole pairs
    for i, s in enumerate(samples):
        strips[i, :, :width] = s.pixels
    x = torch.from_numpy(strips).view(len(samples), p, n, GROUP * p).transpose(1, 2)
    x = x.reshape(len(samples), n, config.bits).mul_(255)  # batches carry 0-255 (see base.batch_patches)
    attended = torch.tensor([-(-(s.num_patches + 1) // GROUP) for s in samples])  # text + EOS, whole pairs
    return {"pixel_values": x, "attention_mask": (torch.arange(n) < attended[:, None]).long()}


def stats(batch: dict[str, torch.Tensor]) -> dict[str, int]:
    """8x8 patches in the target positions the loss covers (two per position)."""
    return {"patches": GROUP * int(batch["attention_mask"][:, 1:].sum()), "tokens": 0}


@torch.no_grad()
def visualize(model: Pixar2024, batch: dict[str, torch.Tensor], output: Pixar2024Output) -> np.ndarray:
    """Up to 4 samples: the input strip, then the next-position prediction (sigmoid > 0.5) drawn at the position
    it predicts (the first position, which nothing predicts, and padding stay white)."""
    cfg = model.config
    x = unit_pixels(batch["pixel_values"]).cpu()
    att = batch["attention_mask"].cpu().bool()
    pred = torch.ones_like(x)
    pred[:, 1:] = (output.logits[:, :-1].detach().float().cpu() > 0).float()
    pred = torch.where(att[..., None], pred, 1.0)
    p = cfg.patch_size

    def strip(t: torch.Tensor) -> np.ndarray:
        return t.reshape(-1, p, GROUP * p).transpose(0, 1).reshape(p, -1).numpy().astype(np.uint8)

    return picture([[strip(x[i]), strip(pred[i])] for i in range(min(4, x.shape[0]))], p)


VARIANT = Variant(
    name="pixar2024",
    config_class=Pixar2024Config,
    model_class=Pixar2024,
    flavors=FLAVORS,
    make_config=make_config,
    collate=collate,
    stats=stats,
    visualize=visualize,
    modes=("binary",),
    needs_tokens=False,
    paper_params={"base": (110e6, 117e6), "small": (83e6, 88e6)},
)
