"""Does a pretrained DualGPT read its pixels? On strips it never saw, the token cross-entropy of each strip's text
alone (a TEXT row) against the same tokens after the strip's image (a PAIRED row: image first, then text, as
DualGPT pretrains): if the model reads the image, the paired loss is lower. Beside it, the next-patch MSE of the
image rows against predicting 0 (the per-patch normalised target's mean), and the same numbers for a random init
of the same config.

    .venv/bin/python tests/benchmarks/suite_select/reads.py MODEL SHARDS [N]
    (MODEL: a pretrain output's model/ dir; SHARDS: a task or pretraining shard set with token ids, e.g. a suite's
     out/suite-select/xl10/data/glue-cola-*/validation; N: strips, default 512)
"""
import sys

import numpy as np
import torch

from pixelkit.trainer.data import read_samples
from pixelkit.trainer.models import get_variant
from pixelkit.trainer.models import gpt_common as g
from pixelkit.trainer.models.base import normalize_patches
from pixelkit.trainer.shardsets import resolve

torch.set_num_threads(1)
path, shards = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 512
variant = get_variant("dualgpt")
samples = [s for s in read_samples(resolve(shards).urls, limit=n) if len(s.token_ids) > 1]


def losses(model) -> dict[str, float]:
    cfg = model.config
    out: dict[str, list[float]] = {"patch": [], "zero": [], "text": [], "paired": []}
    with torch.no_grad():
        for i in range(0, len(samples), 16):
            rows = samples[i:i + 16]
            kinds = {k: type(cfg)(**{**cfg.to_dict(), "kinds": [k]}) for k in (g.IMAGE, g.TEXT, g.PAIRED)}
            img = variant.collate(rows, kinds[g.IMAGE], np.random.default_rng(0))
            o = model(**img)
            out["patch"].append(float(o.patch_loss))
            px = g.unit_pixels(img["pixel_values"], torch.float32)
            w = g.next_patch_weights(img["patch_attention"]).float()
            target = normalize_patches(px[:, 1:], cfg.patch_eps)
            out["zero"].append(float((target.pow(2).mean(-1) * w).sum() / w.sum()))
            out["text"].append(float(model(**variant.collate(rows, kinds[g.TEXT], np.random.default_rng(0))).token_loss))
            out["paired"].append(float(model(**variant.collate(rows, kinds[g.PAIRED],
                                                               np.random.default_rng(0))).token_loss))
    return {k: float(np.mean(v)) for k, v in out.items()}


trained = variant.model_class.from_pretrained(path).eval()
torch.manual_seed(0)
scratch = variant.model_class(trained.config).eval()
print(f"{len(samples)} strips of {shards}")
print("| model | next-patch MSE | predicting 0 | token CE, text alone | token CE after its image | image gain |")
print("|---|---:|---:|---:|---:|---:|")
for name, m in ((path, trained), ("random init (seed 0)", scratch)):
    r = losses(m)
    print(f"| {name} | {r['patch']:.3f} | {r['zero']:.3f} | {r['text']:.3f} | {r['paired']:.3f} | "
          f"{r['text'] - r['paired']:+.3f} |")
