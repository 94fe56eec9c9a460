"""MonoGPT (Chai et al., EMNLP 2024): one decoder with both heads, trained on pixel-only and text-only samples
(no pairs): each sample of a batch is drawn, with the run's rng, to be its strip or its token ids; the loss is
next-patch MSE over the image rows plus token cross-entropy over the text rows. Shared pieces: ``gpt_common``.

Paper flavor ``base``: 24 x 1024, 16 heads, SwiGLU 2816, the LLaMA-2 32k vocabulary pinned (about 370M).
"""

from __future__ import annotations

from . import gpt_common as g
from .base import Variant


class MonoGPTConfig(g.GPTConfig):
    model_type = "pixelkit-monogpt"

    def __init__(self, **kwargs):  # transformers gives config subclasses a generated __init__ otherwise
        super().__init__(**{"use_patches": True, "use_tokens": True, "kinds": [g.IMAGE, g.TEXT], **kwargs})


class MonoGPT(g.GPTModel):
    config_class = MonoGPTConfig


FLAVORS = {
    "debug": dict(hidden_size=128, intermediate_size=344, num_hidden_layers=2, num_attention_heads=4,
                  max_text_tokens=128, max_position_embeddings=1024),
    "base": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=24, num_attention_heads=16,
                 vocab_size=32000, max_text_tokens=1024, max_position_embeddings=2048),
}

VARIANT = Variant(
    name="monogpt", config_class=MonoGPTConfig, model_class=MonoGPT, flavors=FLAVORS,
    make_config=g.make_gpt_config(MonoGPTConfig, FLAVORS, needs_tokens=True), collate=g.collate, stats=g.stats,
    visualize=g.visualize, modes=("gray", "rgb"), needs_tokens=True, paper_params={"base": (300e6, 400e6)},
)
