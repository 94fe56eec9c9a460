"""Span masking held to xplip/pixel's own generator: statistics measured from the reference
(``tests/benchmarks/ref_masking.py`` -> ``tests/assets/masking_reference.json``) at several text lengths, and the
rules of its procedure checked strip by strip."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from pixelkit.trainer.models.masking import PIXEL_CUMULATIVE_SPAN_WEIGHTS, SpanMaskingGenerator, controlled_drop

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
from ref_masking import figures, runs  # noqa: E402  (the same statistics the reference was measured with)

REFERENCE = json.loads((Path(__file__).parent / "assets" / "masking_reference.json").read_text())
LENGTHS = sorted(REFERENCE["figures"], key=int)


def test_reference_was_measured_with_pixels_pretraining_settings():
    s = REFERENCE["settings"]
    gen = SpanMaskingGenerator(529)
    assert (s["num_patches"], s["mask_ratio"], s["num_masking_patches"]) == (529, 0.25, gen.target) == (529, 0.25, 133)
    assert s["spacing"] == gen.spacing == "span" and s["max_span_length"] == gen.max_span
    assert tuple(s["cumulative_span_weights"]) == PIXEL_CUMULATIVE_SPAN_WEIGHTS
    assert REFERENCE["samples_per_length"] >= 10000


@pytest.mark.parametrize("length", LENGTHS)
def test_statistics_match_the_reference(length):
    """What the loss sees (share of text + EOS dropped), where the spans go, how many and how long: within a few
    standard errors of the reference. The previous generator (25 % of the text only, gaps >= 1, random top-up)
    dropped 40.8 % of text + EOS at 100 text patches against the reference's ~25.7 %, and put no span on padding."""
    t, ref = int(length), REFERENCE["figures"][length]
    rng = np.random.default_rng(int(length))
    gen = SpanMaskingGenerator(529)
    spans = gen.batch(np.full(1536, t + 1), rng)
    ours = figures(spans, controlled_drop(spans, 0.25, rng), t)
    assert ours["drop_count"] == ref["drop_count"] == 133
    assert abs(ours["drop_share_text"] - ref["drop_share_text"]) < 0.01, (ours, ref)
    assert abs(ours["span_share_text"] - ref["span_share_text"]) < 0.01
    assert abs(ours["span_outside_share"] - ref["span_outside_share"]) < 0.01
    assert abs(ours["span_masked_mean"] - ref["span_masked_mean"]) < 0.5
    assert abs(ours["span_short_of_target"] - ref["span_short_of_target"]) < 0.01
    assert abs(ours["spans_mean"] / ref["spans_mean"] - 1) < 0.02
    assert np.abs(np.subtract(ours["span_length_hist"], ref["span_length_hist"])).max() < 0.015


def test_first_span_inside_text_and_spans_spaced_by_their_length():
    gen, rng = SpanMaskingGenerator(529), np.random.default_rng(1)
    within = rng.integers(1, 40, 512)
    masks = gen.batch(within, rng)
    assert all(m[:w].any() for m, w in zip(masks, within)), "the first span starts inside first_within"
    assert masks.sum(1).min() >= 120 and masks.sum(1).max() <= gen.target
    for m in masks[:64]:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], m.astype(np.int8), [0]])))
        starts, ends = edges[::2], edges[1::2]
        lengths, gaps = ends - starts, starts[1:] - ends[:-1]
        assert lengths.max() <= 6
        # a span needs its own length free on both sides when placed, so neighbours keep the shorter one's length
        assert (gaps >= np.minimum(lengths[1:], lengths[:-1])).all()


def test_fixed_spacing_and_short_strips():
    rng = np.random.default_rng(2)
    touching = SpanMaskingGenerator(64, mask_ratio=0.5, spacing=0).batch(np.full(200, 64), rng)
    assert (touching.sum(1) == 32).all() and max(runs(m).max() for m in touching) > 6, "spacing 0 lets spans touch"
    apart = SpanMaskingGenerator(64, mask_ratio=0.3, spacing=2).batch(np.full(200, 64), rng)
    for m in apart:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], m.astype(np.int8), [0]])))
        assert (edges[2::2] - edges[1:-1:2] >= 2).all()
    short = SpanMaskingGenerator(16, mask_ratio=0.25).batch(np.full(100, 17), rng)
    assert (short.sum(1) <= math.ceil(0.25 * 16)).all() and short.any(1).all()


def test_controlled_drop_keeps_spans_and_a_fixed_count():
    gen, rng = SpanMaskingGenerator(529), np.random.default_rng(3)
    spans = gen.batch(rng.integers(22, 529, 64), rng)
    drops = controlled_drop(spans, 0.25, rng)
    assert (drops.sum(1) == 529 - int(529 * 0.75)).all()
    assert not (spans & ~drops).any(), "every span patch is dropped"


def test_reproducible_and_one_strip_is_a_batch_of_one():
    gen = SpanMaskingGenerator(529)
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(gen(300, a), gen.batch([300], b)[0])
    assert np.array_equal(gen.batch([5, 50, 500], np.random.default_rng(4)), gen.batch([5, 50, 500], np.random.default_rng(4)))


def test_bad_settings_are_refused():
    for kwargs in (dict(cumulative_weights=(0.5, 1.0)), dict(mask_ratio=1.5), dict(spacing="wide"),
                   dict(spacing=-1)):
        with pytest.raises(ValueError):
            SpanMaskingGenerator(529, **kwargs)
    with pytest.raises(ValueError, match="must exceed max_span"):
        SpanMaskingGenerator(6)
