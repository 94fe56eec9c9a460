"""PixelGPT (Chai et al., EMNLP 2024): the LLaMA-style decoder on rendered strips alone, next-patch regression
(MSE on per-patch normalized pixels, patch t+1 from patches <= t). Shared pieces: ``gpt_common``.

Paper flavor ``base``: the released PixelGPT size, 22 layers x 1024 hidden, 16 heads, SwiGLU 2816, with a
32k LLaMA-2-sized token embedding kept in the decoder (unused by PixelGPT; it makes the checkpoint the same
shape as its MonoGPT / DualGPT siblings): 317.0M parameters on RGB strips (the released class also carries an
unused 32.8M token head: 349.7M, the hub's "350M").
"""

from __future__ import annotations

from . import gpt_common as g


class PixelGPTConfig(g.GPTConfig):
    model_type = "pixelkit-pixelgpt"

    def __init__(self, **kwargs):  # transformers gives config subclasses a generated __init__ otherwise
        super().__init__(**{"use_patches": True, "use_tokens": False, "kinds": [g.IMAGE], **kwargs})


class PixelGPT(g.GPTModel):
    config_class = PixelGPTConfig


FLAVORS = {
    "debug": dict(g.DEBUG_SHAPE, hidden_size=64, intermediate_size=172, vocab_size=8, max_position_embeddings=1024),
    "base": dict(g.PAPER_SHAPE, vocab_size=32000, max_position_embeddings=1024),
}

VARIANT = g.family_variant("pixelgpt", PixelGPTConfig, PixelGPT, FLAVORS, needs_tokens=False)
