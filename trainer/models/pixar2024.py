"""PIXAR (Tai, Liao, Suglia, Vergari 2024, "PIXAR: Auto-Regressive Language Modeling in Pixel Space"), stage 1:
a decoder-only LLaMA-style model (transformers' ``LlamaModel``: RMSNorm, SwiGLU, RoPE) over binary strips, where
each position is two adjacent 8x8 patches (an 8x16 block, 128 bits), embedded linearly; a linear head predicts the
next position's 128 bits, trained with binary cross-entropy (with logits) over positions whose target holds
text or EOS. An odd patch count (529) gets one white patch to make the last pair.

Not here: the paper's second, adversarial pretraining stage (a patch-wise context-aware discriminator).

Paper flavor ``base``: the paper reports a model "on par" in size with the encoder-decoder PIXEL (~112M); the
exact released configuration was not available here, so ``base`` is a 12-layer, 768-wide LLaMA with 12 heads and
SwiGLU 3072 (~113M), the GPT-2-small / ViT-B shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import LlamaConfig, LlamaModel, PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

from .base import ConfigError, DataInfo, Variant, apply_overrides, picture

GROUP = 2  # patches per position


class Pixar2024Config(PretrainedConfig):
    model_type = "pixelkit-pixar2024"

    def __init__(self, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                 max_position_embeddings=1024, rms_norm_eps=1e-6, initializer_range=0.02, patch_size=8,
                 num_patches=529, **kwargs):
        self.hidden_size, self.intermediate_size = hidden_size, intermediate_size
        self.num_hidden_layers, self.num_attention_heads = num_hidden_layers, num_attention_heads
        self.max_position_embeddings, self.rms_norm_eps = max_position_embeddings, rms_norm_eps
        self.initializer_range, self.patch_size, self.num_patches = initializer_range, patch_size, num_patches
        super().__init__(**kwargs)

    @property
    def positions(self) -> int:
        return (self.num_patches + GROUP - 1) // GROUP

    @property
    def bits(self) -> int:
        return GROUP * self.patch_size * self.patch_size


@dataclass
class Pixar2024Output(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # (B, positions, bits): logits of position t+1's bits at position t


class Pixar2024(PreTrainedModel):
    config_class = Pixar2024Config
    base_model_prefix = "pixar2024"

    def __init__(self, config: Pixar2024Config):
        super().__init__(config)
        self.embed = nn.Linear(config.bits, config.hidden_size)
        self.decoder = LlamaModel(LlamaConfig(
            hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_hidden_layers, num_attention_heads=config.num_attention_heads,
            max_position_embeddings=config.max_position_embeddings, rms_norm_eps=config.rms_norm_eps,
            initializer_range=config.initializer_range, vocab_size=1,  # no token embedding is used
            bos_token_id=None, eos_token_id=None, pad_token_id=None))
        self.head = nn.Linear(config.hidden_size, config.bits)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor) -> Pixar2024Output:
        hidden = self.decoder(inputs_embeds=self.embed(pixel_values), attention_mask=attention_mask).last_hidden_state
        logits = self.head(hidden)
        w = (attention_mask[:, 1:] * attention_mask[:, :-1]).to(logits.dtype)
        bce = nn.functional.binary_cross_entropy_with_logits(logits[:, :-1].float(), pixel_values[:, 1:].float(),
                                                             reduction="none").mean(-1)
        return Pixar2024Output(loss=(bce * w).sum() / w.sum().clamp(min=1), logits=logits)


FLAVORS = {
    "debug": dict(hidden_size=64, intermediate_size=172, num_hidden_layers=2, num_attention_heads=4),
    "base": dict(),
}


def make_config(flavor: str, overrides: dict, data: DataInfo) -> Pixar2024Config:
    if data.mode != "binary":
        raise ConfigError(f"pixar2024 trains on binary shards, these are {data.mode!r}")
    kwargs = apply_overrides(dict(FLAVORS[flavor]), overrides, Pixar2024Config)
    cfg = Pixar2024Config(**{**kwargs, "patch_size": data.patch_size, "num_patches": data.max_patches})
    if cfg.positions > cfg.max_position_embeddings:
        raise ConfigError(f"{cfg.positions} positions exceed max_position_embeddings {cfg.max_position_embeddings}")
    return cfg


def collate(samples: list, config: Pixar2024Config, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """(B, positions, 128) bits in {0, 1} (1 = white), row-major within each 8x16 block; attention over positions
    holding a text or EOS patch."""
    p, n = config.patch_size, config.positions
    strips = np.stack([s.pixels for s in samples])
    pad = n * GROUP * p - strips.shape[2]
    if pad:
        strips = np.pad(strips, ((0, 0), (0, 0), (0, pad)), constant_values=1)
    u = torch.from_numpy(strips)
    x = u.view(len(samples), p, n, GROUP * p).permute(0, 2, 1, 3).reshape(len(samples), n, config.bits).float()
    att = np.zeros((len(samples), n), dtype=np.int64)
    for i, s in enumerate(samples):
        att[i, : (s.num_patches + 1 + GROUP - 1) // GROUP] = 1  # text patches + EOS, in pairs
    return {"pixel_values": x, "attention_mask": torch.from_numpy(att)}


def stats(batch: dict[str, torch.Tensor]) -> dict[str, int]:
    return {"patches": GROUP * int(batch["attention_mask"].sum()), "tokens": 0}  # 8x8 patches


def visualize(model: Pixar2024, batch: dict[str, torch.Tensor], output: Pixar2024Output) -> np.ndarray:
    """Up to 4 samples: the input strip and the next-position prediction (sigmoid > 0.5) drawn where it belongs."""
    cfg, x = model.config, batch["pixel_values"]
    pred = torch.ones_like(x)
    pred[:, 1:] = (output.logits[:, :-1].float().detach() > 0).float()
    pred = torch.where(batch["attention_mask"].bool().unsqueeze(-1), pred, torch.ones_like(pred))
    p, n = cfg.patch_size, cfg.positions

    def strip(t: torch.Tensor) -> np.ndarray:
        return t.reshape(n, p, GROUP * p).permute(1, 0, 2).reshape(p, -1).numpy().astype(np.uint8)
    return picture([[strip(x[i]), strip(pred[i])] for i in range(min(4, x.shape[0]))], p)


VARIANT = Variant(
    name="pixar2024", config_class=Pixar2024Config, model_class=Pixar2024, flavors=FLAVORS,
    make_config=make_config, collate=collate, stats=stats, visualize=visualize, modes=("binary",),
    paper_params={"base": (100e6, 125e6)},
)
