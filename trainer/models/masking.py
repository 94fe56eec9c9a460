"""PIXEL's span masking, as xplip/pixel draws it, for a whole batch at once; and its controlled top-up.

The reference (``SpanMaskingGenerator`` in xplip/pixel ``src/pixel/models/masking.py``, set up by
``scripts/training/run_pretraining.py``; PIXAR's LatentPixel code builds the same one) works on the WHOLE strip of
N patches, text or padding:

* it aims at ``ceil(mask_ratio * N)`` masked patches (133 of 529), adding spans greedily until it gets there;
* a span's length is drawn from ``1..max_span`` with ``cumulative_weights`` (PIXEL: 0.2/0.4/0.6/0.8/0.9/1);
* only the very first attempt is placed inside the first ``first_within`` patches (the training script passes the
  text patches + EOS), every later one anywhere in ``[0, N - span]``;
* ``spacing="span"`` rejects a span with any masked patch within ``span`` patches to its left or right (an integer
  spacing uses that fixed distance; 0 checks nothing);
* a span is taken only if it adds between 1 and ``min(target - masked, max_span)`` new patches (overlap counted);
* a span gets up to 100 attempts; when all fail, the mask stays short of the target.

Here each strip runs exactly that procedure (the same law; the random stream is numpy's, not Python's), but the
strips of a batch advance together: each round draws one attempt for every strip still drawing, checks it against
its mask window with array operations, and retires strips that reached the target or ran out of attempts (a
per-strip Python loop costs ~3 ms a strip). ``controlled_drop`` is PIXEL's ``controlled_masking``: the span mask
plus U[0, 0.01) noise, the ``N - int(N * (1 - ratio))`` highest dropped — the spans first, then random patches
anywhere until the fixed count is reached. ``tests/test_masking.py`` holds both to figures measured from the
reference (``tests/benchmarks/ref_masking.py`` -> ``tests/assets/masking_reference.json``).
"""

from __future__ import annotations

import math

import numpy as np

# P(span length <= k) for k = 1..6, as PIXEL's pretraining used
PIXEL_CUMULATIVE_SPAN_WEIGHTS = (0.2, 0.4, 0.6, 0.8, 0.9, 1.0)
ATTEMPTS = 100  # per span, as the reference


class SpanMaskingGenerator:
    """``gen.batch(first_within, rng) -> (B, num_patches) bool``; ``gen(first_within, rng)`` for one strip.
    ``first_within``: patches the first span is placed in (text + EOS, as PIXEL's training script passes)."""

    def __init__(self, num_patches: int, mask_ratio: float = 0.25, max_span: int = 6,
                 cumulative_weights: tuple[float, ...] = PIXEL_CUMULATIVE_SPAN_WEIGHTS, spacing: int | str = "span",
                 draws: int = 4):
        if len(cumulative_weights) != max_span or any(b < a for a, b in zip(cumulative_weights, cumulative_weights[1:])):
            raise ValueError("cumulative_weights needs max_span non-decreasing entries")
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError("mask_ratio must be in (0, 1)")
        if spacing != "span" and not (isinstance(spacing, int) and spacing >= 0):
            raise ValueError('spacing is "span" or a number of patches >= 0')
        if num_patches <= max_span:
            raise ValueError(f"num_patches ({num_patches}) must exceed max_span ({max_span})")
        self.draws = draws  # attempts drawn per strip and round (speed only: the law is the same for any value)
        self.num_patches, self.mask_ratio, self.max_span, self.spacing = num_patches, mask_ratio, max_span, spacing
        self.target = math.ceil(mask_ratio * num_patches)
        self._cum = np.asarray(cumulative_weights, dtype=np.float64)

    def __call__(self, first_within: int, rng: np.random.Generator) -> np.ndarray:
        return self.batch([first_within], rng)[0]

    def batch(self, first_within, rng: np.random.Generator) -> np.ndarray:
        n, top, m = self.num_patches, self.max_span, self.draws
        room = top if self.spacing == "span" else self.spacing  # widest spacing window on either side
        first_within = np.asarray(first_within, dtype=np.int64)
        b = len(first_within)
        # each strip's mask is a bit row (uint64 words) with `room` zero bits before it: an attempt's window (left
        # gap, span, right gap; width <= 64 bits) is read from two adjacent words with shifts
        per_row = (room + n + room + top) // 64 + 2
        words = np.zeros(b * per_row, dtype=np.uint64)
        one = np.uint64(1)
        bit = np.left_shift(one, np.arange(64, dtype=np.uint64))
        offsets = np.arange(-room, top + room)  # window bit t <-> patch left + offsets[t]
        lengths = np.arange(top + 1)[:, None]
        space = lengths if self.spacing == "span" else np.full_like(lengths, self.spacing)
        in_span = (offsets >= 0) & (offsets < lengths)  # (length, window) patterns as bit masks, looked up by length
        gaps = ((offsets < 0) & (offsets >= -space)) | ((offsets >= lengths) & (offsets < lengths + space))
        span_bits = (in_span * bit[:len(offsets)]).sum(1, dtype=np.uint64)
        gap_bits = (gaps * bit[:len(offsets)]).sum(1, dtype=np.uint64)
        count = np.zeros(b, dtype=np.int64)
        attempts = np.zeros(b, dtype=np.int64)
        live, first = np.arange(b), True
        while len(live):
            k = len(live)
            span = np.searchsorted(self._cum, rng.random((k, m)) * self._cum[-1], side="right") + 1
            hi = np.broadcast_to(n - span, (k, m)).copy()
            if first:  # only a strip's very first attempt is placed inside first_within
                hi[:, 0] = np.minimum(np.maximum(0, first_within - span[:, 0]), n - span[:, 0])
                first = False
            left = (rng.random((k, m)) * (hi + 1)).astype(np.int64)  # uniform on [0, hi]
            at = (live * (per_row * 64))[:, None] + left  # global bit of the window's first cell
            word, shift = at >> 6, (at & 63).astype(np.uint64)
            window = (words[word] >> shift) | ((words[word + 1] << one) << (np.uint64(63) - shift))
            new = span - np.bitwise_count(window & span_bits[span])
            ok = ((window & gap_bits[span]) == 0) & (new > 0)
            ok &= new <= np.minimum(self.target - count[live], top)[:, None]
            # the draws of one round are attempts in order: the first that fits is taken, the later ones never
            # happen (they would have met the updated mask); the failed ones count towards the 100
            j = np.argmax(ok, axis=1)
            taken = ok[np.arange(k), j] & (attempts[live] + j < ATTEMPTS)
            rows, jt = live[taken], j[taken]
            w, sh, pattern = word[taken, jt], shift[taken, jt], span_bits[span[taken, jt]]
            words[w] |= pattern << sh
            words[w + 1] |= (pattern >> one) >> (np.uint64(63) - sh)
            count[rows] += new[taken, jt]
            attempts[rows] = 0
            attempts[live[~taken]] += m
            live = live[(count[live] < self.target) & (attempts[live] < ATTEMPTS)]
        bits = np.unpackbits(words.astype("<u8").view(np.uint8), bitorder="little").reshape(b, per_row * 64)
        return bits[:, room:room + n].astype(bool)


def controlled_drop(spans: np.ndarray, mask_ratio: float, rng: np.random.Generator) -> np.ndarray:
    """PIXEL's ``controlled_masking``: (B, N) span masks -> (B, N) drop masks of exactly ``N - int(N * (1 -
    ratio))`` patches each, every span patch first (when they fit), then uniformly random others."""
    b, n = spans.shape
    n_drop = n - int(n * (1 - mask_ratio))
    noise = spans + rng.random((b, n)) / 100
    drops = np.zeros((b, n), dtype=bool)
    np.put_along_axis(drops, np.argpartition(-noise, n_drop - 1, axis=1)[:, :n_drop], True, axis=1)
    return drops
