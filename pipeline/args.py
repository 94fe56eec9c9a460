"""The rendering flags, defined once for every ``pixel-render`` command: ``run`` and ``task`` (through
``RenderOptions``, Beam's option parser) and the one-off ``text``/``pair``/``words``/``qa``. Beam-free.

Each flag takes both spellings, ``--font_size`` (Beam's style, as every ``run`` flag) and ``--font-size``.

    add_render_args(parser); cfg = render_config(vars(parser.parse_args(argv)))
"""

from __future__ import annotations

import argparse

from pixelkit.schemas.vocab import BACKENDS, MODES

from .render import PRESET_NAMES, RenderConfig, preset

# option dest -> RenderConfig field (the same name); the preset gives every field no flag sets
RENDER_KEYS = ("backend", "mode", "font_file", "fallback_fonts_dir", "font_size", "dpi", "pixels_per_patch",
               "max_patches")


def _flag(group, name: str, **kw) -> None:
    spellings = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
    group.add_argument(*spellings, **kw)


def add_render_args(parser: argparse.ArgumentParser, title: str = "rendering") -> None:
    g = parser.add_argument_group(title)
    _flag(g, "preset", default="pixel", choices=PRESET_NAMES, help="paper settings to start from")
    _flag(g, "backend", choices=BACKENDS)
    _flag(g, "mode", choices=MODES)
    _flag(g, "font", dest="font_file", help="font file name in fonts/ or a path")
    _flag(g, "fallback_fonts_dir", help="a directory of more font files, tried after --font")
    _flag(g, "font_size", type=float, help="points (PIXEL: 8)")
    _flag(g, "dpi", type=int, help="PIXEL: 120")
    _flag(g, "patch", dest="pixels_per_patch", type=int, help="pixels per patch side (PIXEL: 16, PIXAR: 8)")
    _flag(g, "max_patches", type=int, help="patches per strip (PIXEL: 529)")


def render_settings(o: dict) -> dict:
    """The render flags ``o`` sets (None: left to the preset)."""
    return {k: o[k] for k in RENDER_KEYS if o.get(k) is not None}


def render_config(o: dict) -> RenderConfig:
    """The RenderConfig parsed flags ask for: ``--preset``, then each flag given."""
    return preset(o["preset"], **render_settings(o))
