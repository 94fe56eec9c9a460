"""PixelGPT family and PIXAR 2024 specifics: causality, the [image | text] layout, patch pairing."""

from __future__ import annotations

import numpy as np
import torch

from trainer.data import DecodedSample
from trainer.models import DataInfo, get_variant
from trainer.models.gpt_common import IMAGE, PAIRED, TEXT


def _samples(mode: str, p: int, n: int = 4) -> list[DecodedSample]:
    rng = np.random.default_rng(0)
    hi = 2 if mode == "binary" else 256
    return [DecodedSample(f"k{i}", rng.integers(0, hi, (p, 529 * p), dtype=np.uint8), 300 + i, p, mode,
                          list(rng.integers(0, 1000, 90 + i)), "x") for i in range(n)]


def test_next_patch_prediction_is_causal():
    v = get_variant("pixelgpt")
    cfg = v.config("debug", {}, DataInfo("gray", 16, 529))
    model = v.model_class(cfg).eval()
    batch = v.collate(_samples("gray", 16), cfg, np.random.default_rng(0))
    changed = {k: t.clone() for k, t in batch.items()}
    changed["pixel_values"][:, 101:] = 0.5
    with torch.no_grad():
        a, b = model(**batch).patch_logits, model(**changed).patch_logits
    assert torch.allclose(a[:, :101], b[:, :101], atol=1e-5) and not torch.allclose(a[:, 101:], b[:, 101:])


def test_dualgpt_rows_and_paired_text_reads_the_image():
    v = get_variant("dualgpt")
    cfg = v.config("debug", {}, DataInfo("gray", 16, 529, vocab_size=1000))
    model = v.model_class(cfg).eval()
    samples = _samples("gray", 16, n=12)
    rng = np.random.default_rng(1)
    batch = v.collate(samples, cfg, rng)
    kinds = np.random.default_rng(1).choice(cfg.kinds, size=12)  # the same draw collate made
    has_img, has_txt = batch["patch_attention"].any(1), batch["text_attention"].any(1)
    assert torch.equal(has_img, torch.from_numpy(kinds != TEXT)) and torch.equal(has_txt, torch.from_numpy(kinds != IMAGE))
    assert {IMAGE, TEXT, PAIRED} <= set(kinds.tolist())
    changed = {k: t.clone() for k, t in batch.items()}
    changed["pixel_values"][:] = 1.0
    with torch.no_grad():
        a, b = model(**batch).token_logits, model(**changed).token_logits
    paired, text_only = kinds == PAIRED, kinds == TEXT
    assert not torch.allclose(a[paired], b[paired]), "paired text attends to its image"
    assert torch.allclose(a[text_only], b[text_only], atol=1e-5), "text-only rows never see pixels"


def test_monogpt_never_pairs():
    v = get_variant("monogpt")
    cfg = v.config("debug", {}, DataInfo("gray", 16, 529, vocab_size=1000))
    batch = v.collate(_samples("gray", 16, n=16), cfg, np.random.default_rng(2))
    both = batch["patch_attention"].any(1) & batch["text_attention"].any(1)
    assert not both.any() and batch["patch_attention"].any() and batch["text_attention"].any()


def test_pixar2024_positions_are_patch_pairs():
    v = get_variant("pixar2024")
    cfg = v.config("debug", {}, DataInfo("binary", 8, 529))
    s = _samples("binary", 8, n=1)
    batch = v.collate(s, cfg, np.random.default_rng(0))
    x = batch["pixel_values"][0]
    assert x.shape == (265, 128) and set(x.unique().tolist()) <= {0.0, 1.0}
    block = s[0].pixels[:, 16 * 7:16 * 8]  # position 7 = patches 14 and 15
    assert torch.equal(x[7], torch.from_numpy(block.reshape(-1).astype(np.float32)))
    assert bool((x[264].reshape(8, 16)[:, 8:] == 1).all()), "the 530th patch is white padding"
    assert int(batch["attention_mask"][0].sum()) == (300 + 1 + 1) // 2
