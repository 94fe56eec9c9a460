"""What every renderer returns: the strip plus the facts a model needs about it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RenderResult:
    """One rendered strip.

    ``num_patches`` counts the patches before the EOS patch (PIXEL's ``num_text_patches``: a pair's SEP patch
    counts, the EOS patch does not), so the attention mask covers ``num_patches + 1`` patches, EOS included; for
    every strip ``num_patches == sep_patches[-1]``, the EOS patch's index. ``sep_patches`` holds the patch indices of every black patch:
    ``[eos]`` for a single text or words, ``[sep, eos]`` for a pair. ``reason`` is None for a good render and
    a short snake_case word otherwise (``empty``), in which case ``pixels`` is None. ``pixels`` is (H, W) or
    (H, W, 3) uint8 in any memory order: the Pango renderer's gray and binary strips are Fortran-ordered (pxz's
    column order, see render/pango/columns.py); ``np.ascontiguousarray`` gives a row-major copy when one is needed.
    """

    pixels: np.ndarray | None
    num_patches: int
    text: str  # what was actually drawn, after sanitising and truncation (pairs: text_a + "\n" + text_b)
    sep_patches: list[int] = field(default_factory=list)
    unknown_glyphs: int = 0  # characters the loaded fonts could not draw (tofu)
    truncated: bool = False  # the input did not fit; it was cut at a character boundary before a patch edge
    replaced_chars: int = 0  # control characters, lone surrogates, invalid bytes replaced or dropped
    unshaped_chars: int = 0  # drawn by a backend without a shaper where a shaper would not have (text.needs_shaping)
    word_starts: list[int] | None = None  # words input: patch index where word i starts
    offset_mapping: list[tuple[int, int]] | None = None  # QA: per patch, (start, end) chars of the context
    context_span: tuple[int, int] | None = None  # QA window: which characters of the context it holds
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def eos_patch(self) -> int:
        return self.sep_patches[-1] if self.sep_patches else -1

    @classmethod
    def failed(cls, reason: str, text: str = "", replaced_chars: int = 0) -> "RenderResult":
        return cls(pixels=None, num_patches=0, text=text, reason=reason, replaced_chars=replaced_chars)
