"""PixelGPT family and PIXAR 2024 specifics: causality, the [image | text] layout, patch pairing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelkit.trainer.data import DecodedSample
from pixelkit.trainer.models import ConfigError, DataInfo, get_variant
from pixelkit.trainer.models.base import count_parameters, unit_pixels
from pixelkit.trainer.models.gpt_common import IMAGE, PAIRED, TEXT


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
    changed["pixel_values"][:, 101:] = 128
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
    changed["pixel_values"][:] = 255
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


def test_paired_rows_image_first_then_truncated_text():
    v = get_variant("dualgpt")
    cfg = v.config("debug", {"max_text_tokens": 40}, DataInfo("gray", 16, 529, vocab_size=1000))
    samples = _samples("gray", 16, n=12)
    batch = v.collate(samples, cfg, np.random.default_rng(1))
    kinds = np.random.default_rng(1).choice(cfg.kinds, size=12)
    i = int(np.flatnonzero(kinds == PAIRED)[0])
    assert int(batch["patch_attention"][i].sum()) == samples[i].num_patches + 1  # text patches + EOS, then padding
    assert batch["input_ids"].shape == (12, 40) and int(batch["text_attention"][i].sum()) == 40
    assert batch["input_ids"][i].tolist() == batch["labels"][i].tolist() == samples[i].token_ids[:40]
    j = int(np.flatnonzero(kinds == IMAGE)[0])
    assert bool((batch["labels"][j] == -100).all()) and not batch["text_attention"][j].any()
    assert v.stats(batch) == {"patches": sum(s.num_patches for s, k in zip(samples, kinds) if k != TEXT),
                              "tokens": 39 * int((kinds != IMAGE).sum())}


def test_monogpt_averages_and_dualgpt_sums_the_two_losses():
    info = DataInfo("gray", 16, 529, vocab_size=1000)
    for name, combine in (("monogpt", lambda a, b: (a + b) / 2), ("dualgpt", lambda a, b: a + b)):
        v = get_variant(name)
        cfg = v.config("debug", {}, info)
        torch.manual_seed(0)
        with torch.no_grad():
            out = v.model_class(cfg)(**v.collate(_samples("gray", 16, n=12), cfg, np.random.default_rng(1)))
        assert torch.allclose(out.loss, combine(out.patch_loss, out.token_loss)), name


def test_paper_flavors_pin_the_released_vocabulary_and_size():
    info, wide = DataInfo("gray", 16, 529, vocab_size=32000), DataInfo("gray", 16, 529, vocab_size=50257)
    for name in ("pixelgpt", "textgpt", "monogpt", "dualgpt"):
        v = get_variant(name)
        assert v.config("base", {}, info).vocab_size == 32000, "LLaMA-2 tokenizer as released"
        assert 300e6 <= count_parameters(v, "base", info) <= 400e6
        if v.needs_tokens:  # a 50k tokenizer's ids do not fit the pinned 32k embedding (IndexError mid-run)
            with pytest.raises(ConfigError, match="embeds 32000 token ids"):
                v.config("base", {}, wide)
    assert get_variant("pixelgpt").config("base", {}, wide).vocab_size == 32000, "reads no token ids"
    assert get_variant("textgpt").config("debug", {}, wide).vocab_size == 50257, "debug: the shards' tokenizer"


def test_impossible_shapes_fail_with_a_named_problem():
    v = get_variant("dualgpt")
    info = DataInfo("gray", 16, 529, vocab_size=1000)
    with pytest.raises(ConfigError, match="heads"):
        v.config("debug", {"num_attention_heads": 5}, info)
    with pytest.raises(ConfigError, match="max_position_embeddings"):
        v.config("debug", {"max_text_tokens": 600}, info)
    with pytest.raises(ConfigError, match="token ids"):
        v.collate([DecodedSample("k", np.zeros((16, 16 * 529), np.uint8), 3, 16, "gray", None, "x")], v.config(
            "debug", {}, info), np.random.default_rng(0))


def test_pixar2024_positions_are_patch_pairs():
    v = get_variant("pixar2024")
    cfg = v.config("debug", {}, DataInfo("binary", 8, 529))
    s = _samples("binary", 8, n=1)
    batch = v.collate(s, cfg, np.random.default_rng(0))
    x = unit_pixels(batch["pixel_values"])[0]
    assert batch["pixel_values"].dtype == torch.uint8 and x.shape == (265, 128) and set(x.unique().tolist()) <= {0.0, 1.0}
    block = s[0].pixels[:, 16 * 7:16 * 8]  # position 7 = patches 14 and 15
    assert torch.equal(x[7], torch.from_numpy(block.reshape(-1).astype(np.float32)))
    assert bool((x[264].reshape(8, 16)[:, 8:] == 1).all()), "the 530th patch is white padding"
    assert int(batch["attention_mask"][0].sum()) == (300 + 1 + 1) // 2


def test_paired_rows_do_not_depend_on_their_batch_mates():
    """Text sits at positions N + j whatever the longest image of the batch (the reference pads every image to N
    slots): a paired row's outputs equal those of the uncut layout and do not move when only its batch-mate
    changes (with positions following the cut they moved by up to ~1e-2)."""
    v = get_variant("dualgpt")
    cfg = v.config("debug", {"kinds": [PAIRED]}, DataInfo("gray", 16, 529, vocab_size=1000))
    torch.manual_seed(0)
    model = v.model_class(cfg).eval()
    row, short, long = _samples("gray", 16, n=3)
    row.num_patches, short.num_patches, long.num_patches = 120, 40, 400
    rng = np.random.default_rng
    with torch.no_grad():
        a, b = (model(**v.collate([row, mate], cfg, rng(0))) for mate in (short, long))
        full = v.collate([row, short], cfg, rng(0))
        pad = 529 - full["pixel_values"].shape[1]
        full["pixel_values"] = torch.nn.functional.pad(full["pixel_values"], (0, 0, 0, 0, 0, 0, 0, pad))
        full["patch_attention"] = torch.nn.functional.pad(full["patch_attention"], (0, pad))
        c = model(**full)
    assert a.patch_logits.shape[1] == 121 and b.patch_logits.shape[1] == 401, "image slots cut to the batch"
    t = len(row.token_ids)
    assert torch.allclose(a.token_logits[0, :t], b.token_logits[0, :t], atol=1e-5)
    assert torch.allclose(a.token_logits[0, :t], c.token_logits[0, :t], atol=1e-5)
    assert torch.allclose(a.patch_logits[0, :121], b.patch_logits[0, :121], atol=1e-5)
    shifted = model.position_ids(121, full["input_ids"], "cpu")
    assert shifted[0, 121].item() == 529, "the first token sits right after a full-length image"
