"""PIXEL's span masking as its own generator: spans of 1-6 patches, only inside the text patches."""

from __future__ import annotations

import numpy as np

# P(span length <= k) for k = 1..6, as PIXEL's pretraining used
PIXEL_CUMULATIVE_SPAN_WEIGHTS = (0.2, 0.4, 0.6, 0.8, 0.9, 1.0)


class SpanMaskingGenerator:
    """``gen(num_text_patches, num_patches_total) -> bool mask`` with ``round(ratio * num_text_patches)`` masked.

    Spans never leave the text patches (EOS and padding stay visible) and are kept at least one patch apart,
    so neighbouring spans do not merge into one longer than ``max_span``.
    """

    def __init__(self, mask_ratio: float = 0.25, max_span: int = 6,
                 cumulative_weights: tuple[float, ...] = PIXEL_CUMULATIVE_SPAN_WEIGHTS, max_attempts: int = 200):
        if len(cumulative_weights) != max_span or abs(cumulative_weights[-1] - 1.0) > 1e-9:
            raise ValueError("cumulative_weights needs max_span entries ending in 1.0")
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError("mask_ratio must be in (0, 1)")
        self.mask_ratio, self.max_span, self.max_attempts = mask_ratio, max_span, max_attempts
        self._cum = np.asarray(cumulative_weights, dtype=np.float64)

    def __call__(self, num_text_patches: int, num_patches: int, rng: np.random.Generator) -> np.ndarray:
        n = min(num_text_patches, num_patches)
        target = int(round(self.mask_ratio * n))
        # all random draws at once (a Python loop over rng calls cost ~0.5 ms per strip; this ~0.05 ms)
        lengths = (np.searchsorted(self._cum, rng.random(self.max_attempts), side="right") + 1).tolist()
        starts = rng.random(self.max_attempts).tolist()
        mask = bytearray(num_patches)
        masked = 0
        for want, u in zip(lengths, starts):
            if masked >= target:
                break
            length = min(want, target - masked, n)
            start = int(u * (n - length + 1))
            if any(mask[max(0, start - 1):start + length + 1]):  # would touch an existing span
                continue
            mask[start:start + length] = b"\x01" * length
            masked += length
        return np.frombuffer(bytes(mask), dtype=np.uint8).astype(bool)
