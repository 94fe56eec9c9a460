"""Model registry: one module per variant, one line here each."""

from __future__ import annotations

import importlib

from .base import ConfigError, DataInfo, Variant

REGISTRY: dict[str, str] = {
    "pixel": "pixelkit.trainer.models.pixel",  # Rust et al. 2023: ViT-MAE over 529 span-masked patches
    "pixar": "pixelkit.trainer.models.pixar",  # Tai et al. thesis: ViT encoder + GPT decoder, binary patches, focal loss
    "pixar2024": "pixelkit.trainer.models.pixar2024",  # Tai et al. 2024: decoder-only LLaMA on binary patch pairs, BCE
    "pixelgpt": "pixelkit.trainer.models.pixelgpt",  # Chai et al. 2024: LLaMA decoder, next-patch MSE
    "textgpt": "pixelkit.trainer.models.textgpt",  # the same decoder as a causal LM on the paired token ids
    "monogpt": "pixelkit.trainer.models.monogpt",  # both heads, pixel-only and text-only samples
    "dualgpt": "pixelkit.trainer.models.dualgpt",  # MonoGPT + paired image-then-text sequences
}


def get_variant(name: str) -> Variant:
    if name not in REGISTRY:
        raise ConfigError(f"unknown model {name!r}; registered: {', '.join(REGISTRY)}")
    return importlib.import_module(REGISTRY[name]).VARIANT


__all__ = ["REGISTRY", "ConfigError", "DataInfo", "Variant", "get_variant"]

# Every model_type known to transformers' Auto classes as soon as the models are (trainer/__init__.py says when).
from ..hf import register as _register_with_transformers  # noqa: E402

_register_with_transformers()
