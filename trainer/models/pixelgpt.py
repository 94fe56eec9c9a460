"""PixelGPT (Chai et al., EMNLP 2024): the LLaMA-style decoder on rendered strips alone, next-patch regression
(MSE on per-patch normalized pixels, patch t+1 from patches <= t). Shared pieces: ``gpt_common``.

Paper flavor ``base``: the released PixelGPT size, 24 layers x 1024 hidden, 16 heads, SwiGLU 2816, with a
32k LLaMA-2-sized token embedding kept in the decoder (unused by PixelGPT; it makes the checkpoint the same
shape as its MonoGPT / DualGPT siblings): about 340M parameters.
"""

from __future__ import annotations

from . import gpt_common as g
from .base import Variant


class PixelGPTConfig(g.GPTConfig):
    model_type = "pixelkit-pixelgpt"

    def __init__(self, **kwargs):  # transformers gives config subclasses a generated __init__ otherwise
        super().__init__(**{"use_patches": True, "use_tokens": False, "kinds": [g.IMAGE], **kwargs})


class PixelGPT(g.GPTModel):
    config_class = PixelGPTConfig


FLAVORS = {
    "debug": dict(hidden_size=64, intermediate_size=172, num_hidden_layers=2, num_attention_heads=4, vocab_size=8,
                  max_position_embeddings=1024),
    "base": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=24, num_attention_heads=16,
                 vocab_size=32000, max_position_embeddings=1024),
}

VARIANT = Variant(
    name="pixelgpt", config_class=PixelGPTConfig, model_class=PixelGPT, flavors=FLAVORS,
    make_config=g.make_gpt_config(PixelGPTConfig, FLAVORS, needs_tokens=False), collate=g.collate, stats=g.stats,
    visualize=g.visualize, modes=("gray", "rgb"), needs_tokens=False, paper_params={"base": (300e6, 400e6)},
)
