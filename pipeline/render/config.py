"""The one frozen configuration every renderer takes. Pickles cheaply; holds no font objects."""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from pixelkit.schemas.manifest import file_sha256
from pixelkit.schemas.vocab import BACKENDS, MODES, channels

FONTS_DIR_ENV = "PIXELKIT_FONTS_DIR"


def fonts_dir() -> Path:
    """The pinned fonts shipped with the project (``fonts/`` at the repo root), or $PIXELKIT_FONTS_DIR."""
    env = os.environ.get(FONTS_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "fonts"


_font_sha256 = functools.lru_cache(maxsize=64)(file_sha256)  # fonts are hashed once per process


def _font_path(name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() or p.exists() else fonts_dir() / p


@dataclass(frozen=True)
class RenderConfig:
    """How text becomes a strip of ``max_patches`` square patches, ``pixels_per_patch`` high.

    Pixel conventions (all modes): background is white, ink is black, the EOS/SEP patches are black.
    gray: uint8 (H, W), 255 = white.  rgb: uint8 (H, W, 3).  binary: uint8 (H, W) in {0, 1}, 1 = white,
    so ``binary * 255`` looks like the gray render.
    """

    backend: str = "pangocairo"
    mode: str = "gray"
    font_file: str = "GoNotoCurrent.ttf"  # a name in fonts/ or a path
    fallback_fonts: tuple[str, ...] = ()  # more font files (names in fonts/ or paths), tried after font_file
    fallback_fonts_dir: str | None = None  # a user directory of extra font files, tried last
    font_size: float = 8.0  # points
    dpi: int = 120
    pixels_per_patch: int = 16
    max_patches: int = 529
    pad_left: int = 2  # blank pixels before the first glyph, as PIXEL
    binary_threshold: int = 128  # gray >= threshold -> 1 (white)
    antialias: bool = True  # pygame only; binary renders always draw without antialiasing
    max_chars: int = 0  # hard cap on characters laid out (0: 4 per pixel of strip width)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.backend == "pygame" and self.mode == "rgb":
            raise ValueError("the pygame backend renders gray or binary only; for rgb give --backend pangocairo (backend='pangocairo')")
        if self.pixels_per_patch < 4 or self.max_patches < 2:
            raise ValueError("need pixels_per_patch >= 4 and max_patches >= 2")
        if not 0 < self.binary_threshold < 256:
            raise ValueError("binary_threshold must be in 1..255")
        if self.font_size <= 0 or self.dpi <= 0:
            raise ValueError("font_size and dpi must be positive")
        for path in [self.font_path, *map(_font_path, self.fallback_fonts)]:
            if path.is_dir():  # "font file not found" of a folder that is there misled
                raise FileNotFoundError(f"{path} is a directory, not a font file")
            if not path.is_file():
                raise FileNotFoundError(f"font file not found: {path} (looked in {fonts_dir()})")
        if self.fallback_fonts_dir and not Path(self.fallback_fonts_dir).is_dir():
            raise FileNotFoundError(f"fallback_fonts_dir is not a directory: {self.fallback_fonts_dir}")

    # -- geometry -------------------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.pixels_per_patch

    @property
    def width(self) -> int:
        return self.pixels_per_patch * self.max_patches

    @property
    def channels(self) -> int:
        return channels(self.mode)

    @property
    def font_px(self) -> float:
        """Font size in pixels: points scaled by dpi / 72 (8 pt @ 120 dpi = 13.33 px)."""
        return self.font_size * self.dpi / 72.0

    @property
    def char_cap(self) -> int:
        return self.max_chars or 4 * self.width

    # -- fonts ----------------------------------------------------------------------------------------
    @property
    def font_path(self) -> Path:
        return _font_path(self.font_file)

    def font_files(self) -> list[Path]:
        """Every font file the renderer loads: primary, named fallbacks, then the fallback dir sorted by name."""
        files = [self.font_path, *map(_font_path, self.fallback_fonts)]
        if self.fallback_fonts_dir:
            files += sorted(
                p for p in Path(self.fallback_fonts_dir).iterdir() if p.suffix.lower() in (".ttf", ".otf", ".ttc")
            )
        return files

    def font_hashes(self) -> dict[str, str]:
        return {p.name: _font_sha256(str(p)) for p in self.font_files()}

    # -- serialisation --------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Everything needed to reproduce a render, font hashes included (goes into manifests)."""
        d = dataclasses.asdict(self)
        d["font_file"] = self.font_path.name
        d["fallback_fonts"] = [_font_path(f).name for f in self.fallback_fonts]
        # by name, as the font files (their bytes: font_sha256): the path as typed differed between machines, cwds
        if self.fallback_fonts_dir:  # and symlinks, and put a user's home folder into a published manifest
            d["fallback_fonts_dir"] = Path(self.fallback_fonts_dir).name
        d["font_sha256"] = self.font_hashes()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RenderConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in fields}
        d["fallback_fonts"] = tuple(d.get("fallback_fonts", ()))
        return cls(**d)

    def replace(self, **changes) -> "RenderConfig":
        return dataclasses.replace(self, **changes)


# Named settings from the papers. PIXEL: GoNoto 8pt@120dpi, 16px patches, 529 patches (23x23).
# pixel-rgb adds Noto Color Emoji. PixelGPT: PIXEL's renderer on RGB 16x16384 strips (1024 patches; ernie-research/
# pixelgpt renderers/noto_renderer and ErniePixelConfig image_size). PIXAR: PixeloidSans 8pt@80dpi (~8.9px), 8px
# binary patches; pixar2024: the same through PangoCairo with 720 patches (april-tools/pixar
# scripts/1M_pretrain/dllama_l2_b0.sh: --max_seq_length 720, LatentPixel renders with PangoCairoTextRenderer).


def preset(name: str, **overrides) -> RenderConfig:
    base = {
        "pixel": dict(),
        "pixel-rgb": dict(mode="rgb", fallback_fonts=("NotoColorEmoji.ttf",)),
        "pixelgpt": dict(mode="rgb", max_patches=1024),
        "pixar": dict(
            backend="pygame", mode="binary", font_file="PixeloidSans.ttf", font_size=8, dpi=80,
            pixels_per_patch=8, max_patches=529, antialias=False,
        ),
        "pixar-pango": dict(mode="binary", font_file="PixeloidSans.ttf", font_size=8, dpi=80, pixels_per_patch=8),
        "pixar2024": dict(mode="binary", font_file="PixeloidSans.ttf", font_size=8, dpi=80, pixels_per_patch=8,
                          max_patches=720),
    }
    if name not in base:
        raise KeyError(f"unknown preset {name!r}; choose from {sorted(base)}")
    return RenderConfig(**{**base[name], **overrides})


PRESET_NAMES = ("pixel", "pixel-rgb", "pixelgpt", "pixar", "pixar-pango", "pixar2024")
