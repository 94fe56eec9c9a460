"""TextGPT (Chai et al., EMNLP 2024): the PixelGPT decoder as a causal language model on the shards' paired
token ids (the pipeline tokenizes every chunk it renders). Shared pieces: ``gpt_common``.

Paper flavor ``base``: 22 x 1024, 16 heads, SwiGLU 2816, the LLaMA-2 32k vocabulary pinned (about 348M
parameters with the untied output layer). Other flavors take the vocabulary size from the shards' manifest.
"""

from __future__ import annotations

from . import gpt_common as g


class TextGPTConfig(g.GPTConfig):
    model_type = "pixelkit-textgpt"

    def __init__(self, **kwargs):  # transformers gives config subclasses a generated __init__ otherwise
        super().__init__(**{"use_patches": False, "use_tokens": True, "kinds": [g.TEXT], **kwargs})


class TextGPT(g.GPTModel):
    config_class = TextGPTConfig
    main_output = "token_logits"


VARIANT = g.family_variant("textgpt", TextGPTConfig, TextGPT, g.TEXT_FLAVORS, needs_tokens=True,
                           modes=("gray", "rgb", "binary"), pictures=False)
