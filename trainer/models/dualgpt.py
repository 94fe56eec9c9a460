"""DualGPT (Chai et al., EMNLP 2024): MonoGPT plus paired sequences — the rendered strip's patches first, then
the same text's token ids — so each batch mixes image-only, text-only and paired rows (uniformly, by the run's
rng); the next-patch MSE and the token cross-entropy are summed. Shared pieces: ``gpt_common``.

Paper flavor ``base``: 24 x 1024, 16 heads, SwiGLU 2816, the LLaMA-2 32k vocabulary pinned (about 370M).
"""

from __future__ import annotations

from . import gpt_common as g
from .base import Variant


class DualGPTConfig(g.GPTConfig):
    model_type = "pixelkit-dualgpt"

    def __init__(self, **kwargs):  # transformers gives config subclasses a generated __init__ otherwise
        super().__init__(**{"use_patches": True, "use_tokens": True, "kinds": [g.IMAGE, g.TEXT, g.PAIRED],
                            **kwargs})


class DualGPT(g.GPTModel):
    config_class = DualGPTConfig


FLAVORS = {
    "debug": dict(hidden_size=128, intermediate_size=344, num_hidden_layers=2, num_attention_heads=4,
                  max_text_tokens=128, max_position_embeddings=1024),
    "base": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=24, num_attention_heads=16,
                 vocab_size=32000, max_text_tokens=1024, max_position_embeddings=2048),
}

VARIANT = Variant(
    name="dualgpt", config_class=DualGPTConfig, model_class=DualGPT, flavors=FLAVORS,
    make_config=g.make_gpt_config(DualGPTConfig, FLAVORS, needs_tokens=True), collate=g.collate, stats=g.stats,
    visualize=g.visualize, modes=("gray", "rgb"), needs_tokens=True, paper_params={"base": (300e6, 400e6)},
)
