"""Text -> pixel strips. Pure Python + font engines; knows nothing of Beam or torch.

    from pixelkit.pipeline.render import RenderConfig, TextRenderer
    r = TextRenderer(RenderConfig())          # PIXEL: GoNoto 8pt @ 120 dpi, 16 px patches, 529 patches
    res = r("Some text")                      # or r(("text a", "text b")) or r(["a", "list", "of", "words"])
    res.pixels, res.num_patches, res.unknown_glyphs
"""

from __future__ import annotations

from importlib import import_module

from .base import Renderer
from .config import PRESET_NAMES, RenderConfig, preset
from .result import RenderResult

# backend name -> "module:Class"; modules are imported on first use so a pangocairo user never loads SDL.
BACKENDS = {
    "pangocairo": "pixelkit.pipeline.render.pangocairo:PangoCairoRenderer",
    "pygame": "pixelkit.pipeline.render.pygame:PygameRenderer",
}


def TextRenderer(cfg: RenderConfig, **options) -> Renderer:  # noqa: N802 - a factory that reads like a class
    """The backend's renderer; ``options`` are the backend's own (pangocairo: ``shape_cache=False``)."""
    module, cls = BACKENDS[cfg.backend].split(":")
    return getattr(import_module(module), cls)(cfg, **options)


__all__ = ["BACKENDS", "PRESET_NAMES", "RenderConfig", "RenderResult", "Renderer", "TextRenderer", "preset"]
