"""MonoGPT (Chai et al., EMNLP 2024): one decoder with both heads, trained on pixel-only and text-only samples
(no pairs): each sample of a batch is drawn, with the run's rng, to be its strip or its token ids; the loss is
the mean of the next-patch MSE over the image rows and the token cross-entropy over the text rows (the released
recipe alternates single-modality batches; averaging is its expectation in one mixed batch). Shared pieces:
``gpt_common``.

Paper flavor ``base``: 22 x 1024, 16 heads, SwiGLU 2816, the LLaMA-2 32k vocabulary pinned (349.7M on RGB strips).
"""

from __future__ import annotations

from . import gpt_common as g


class MonoGPTConfig(g.GPTConfig):
    model_type = "pixelkit-monogpt"

    def __init__(self, **kwargs):  # transformers gives config subclasses a generated __init__ otherwise
        super().__init__(**{"use_patches": True, "use_tokens": True, "kinds": [g.IMAGE, g.TEXT], **kwargs})


class MonoGPT(g.GPTModel):
    config_class = MonoGPTConfig
    average_losses = True


VARIANT = g.family_variant("monogpt", MonoGPTConfig, MonoGPT, g.TEXT_FLAVORS, needs_tokens=True)
