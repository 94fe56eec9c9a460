"""DualGPT (Chai et al., EMNLP 2024): MonoGPT plus paired sequences — the rendered strip's patches first, then
the same text's token ids — so each batch mixes image-only, text-only and paired rows (uniformly, by the run's
rng); the next-patch MSE and the token cross-entropy are summed. Shared pieces: ``gpt_common``.

Paper flavor ``base``: 22 x 1024, 16 heads, SwiGLU 2816, the LLaMA-2 32k vocabulary pinned (349.7M on RGB strips).
"""

from __future__ import annotations

from . import gpt_common as g


class DualGPTConfig(g.GPTConfig):
    model_type = "pixelkit-dualgpt"

    def __init__(self, **kwargs):  # transformers gives config subclasses a generated __init__ otherwise
        super().__init__(**{"use_patches": True, "use_tokens": True, "kinds": [g.IMAGE, g.TEXT, g.PAIRED],
                            **kwargs})


class DualGPT(g.GPTModel):
    config_class = DualGPTConfig


VARIANT = g.family_variant("dualgpt", DualGPTConfig, DualGPT, g.TEXT_FLAVORS, needs_tokens=True)
