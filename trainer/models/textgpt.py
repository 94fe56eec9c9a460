"""TextGPT (Chai et al., EMNLP 2024): the PixelGPT decoder as a causal language model on the shards' paired
token ids (the pipeline tokenizes every chunk it renders). Shared pieces: ``gpt_common``.

Paper flavor ``base``: 24 x 1024, 16 heads, SwiGLU 2816, the LLaMA-2 32k vocabulary pinned (about 370M
parameters with the untied output layer). Other flavors take the vocabulary size from the shards' manifest.
"""

from __future__ import annotations

from . import gpt_common as g
from .base import Variant


class TextGPTConfig(g.GPTConfig):
    model_type = "pixelkit-textgpt"

    def __init__(self, **kwargs):  # transformers gives config subclasses a generated __init__ otherwise
        super().__init__(**{"use_patches": False, "use_tokens": True, "kinds": [g.TEXT], **kwargs})


class TextGPT(g.GPTModel):
    config_class = TextGPTConfig
    main_output = "token_logits"


FLAVORS = {
    "debug": dict(hidden_size=128, intermediate_size=344, num_hidden_layers=2, num_attention_heads=4,
                  max_text_tokens=256, max_position_embeddings=1024),
    "base": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=24, num_attention_heads=16,
                 vocab_size=32000, max_text_tokens=1024, max_position_embeddings=2048),
}

VARIANT = Variant(
    name="textgpt", config_class=TextGPTConfig, model_class=TextGPT, flavors=FLAVORS,
    make_config=g.make_gpt_config(TextGPTConfig, FLAVORS, needs_tokens=True), collate=g.collate, stats=g.stats,
    visualize=None, modes=("gray", "rgb", "binary"), needs_tokens=True, paper_params={"base": (300e6, 400e6)},
)
