"""Turn strips into images a person can look at (PNG files for the CLI, contact sheets)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_image(pixels: np.ndarray, mode: str, patch: int, *, patches: int | None = None, grid: bool = False,
             scale: int = 1, wrap: int = 0) -> Image.Image:
    """Crop to ``patches`` patches, optionally draw the patch grid, scale, and wrap long strips into rows."""
    arr = pixels * np.uint8(255) if mode == "binary" else pixels
    if patches is not None:
        arr = arr[:, : patches * patch]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    arr = np.ascontiguousarray(arr)
    if wrap and arr.shape[1] > wrap * patch:  # fold a long strip into rows of `wrap` patches
        width = wrap * patch
        rows = -(-arr.shape[1] // width)
        pad = np.full((arr.shape[0], rows * width - arr.shape[1], 3), 255, np.uint8)
        full = np.concatenate([arr, pad], axis=1)
        sep = np.full((2, width, 3), 200, np.uint8)
        arr = np.concatenate([x for r in range(rows) for x in (full[:, r * width:(r + 1) * width], sep)][:-1], axis=0)
    img = Image.fromarray(arr, "RGB")
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    if grid:
        a = np.array(img)
        step = patch * scale
        a[:, ::step] = (230, 60, 60)
        img = Image.fromarray(a)
    return img
