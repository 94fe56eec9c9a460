"""Where do the GPT family's pooled states stop depending on the input? Per layer (patch / token embedding output,
after each decoder block, after the final norm) of a pretrained model and of a randomly initialised one of the
same config, over task rows on pixel and text input: the across-row std of the pooled state over its mean
magnitude (``std/|x|``, the number ``probe.py`` prints), and the mean cosine between rows' pooled states (1 = one
vector for every input), for the `last` (EOS / last token) and `mean` pooling the sequence head offers.

Also, for the patch embedding (the conv ``W`` of the ``p x p`` patch): ``||W.1||``, its response to an all-white
patch (the common mode of every patch: 70% of the pixels of MRPC's text patches are exactly white), beside what one
pixel's column adds; and on one pretraining batch (16 strips of PRETRAIN_SHARDS), the share of each channel's 256
pixel gradients with the channel's majority sign (near 1: Adam's per-weight step moves the channel's weights
together, along W.1). Finetuned task models (FINETUNED...) get their ||W.1|| printed.

    .venv/bin/python tests/benchmarks/suite_select/layers.py MODEL_DIR DATA_DIR [PRETRAIN_SHARDS [FINETUNED...]]
    (MODEL_DIR: a pretrain output, e.g. out/train/dualgpt/model; DATA_DIR: task shards with token ids, e.g. from
     pixel-render task --task glue-mrpc ... --max_patches 128 --tokenizer out/tokenizer.json; its first 400 train
     rows are read; PRETRAIN_SHARDS: default out/pixel-gray)
"""
import copy
import sys

import torch
from pixelkit.trainer.data import read_samples
from pixelkit.trainer.shardsets import resolve
from pixelkit.trainer.finetune import read_split
from pixelkit.trainer.heads.encoders import encoder_inputs
import pixelkit  # noqa: F401  (registers the variants with the Auto classes)
from transformers import AutoModel


def pooled_per_layer(model, samples, kind):
    cfg = model.config
    strips = copy.deepcopy(cfg)
    strips.num_patches = samples[0].pixels.shape[1] // cfg.patch_size  # the task strips' length (RoPE: any)
    out = {}
    names = ["embed"] + [f"block{i + 1}" for i in range(cfg.num_hidden_layers)] + ["norm"]
    grabs = {}
    hooks = [model.decoder.layers[i].register_forward_hook(
        lambda m, a, o, i=i: grabs.__setitem__(f"block{i + 1}", o[0] if isinstance(o, tuple) else o))
        for i in range(cfg.num_hidden_layers)]
    hooks.append(model.decoder.norm.register_forward_hook(lambda m, a, o: grabs.__setitem__("norm", o)))
    with torch.no_grad():
        for i in range(0, len(samples), 64):
            b = encoder_inputs(samples[i:i + 64], strips, kind)
            msk = b["attention_mask"]
            if kind == "tokens":
                emb = model.decoder.embed_tokens(b["input_ids"])
            else:
                from pixelkit.trainer.models.base import unit_pixels
                emb = model._embed_patches(unit_pixels(b["pixel_values"]))
            grabs["embed"] = emb
            model.decoder(inputs_embeds=emb, attention_mask=msk.long())
            last = (torch.arange(msk.shape[1]) * msk).argmax(1)
            w = msk.float()[..., None]
            for n in names:
                h = grabs[n]
                out.setdefault((n, "last"), []).append(h[torch.arange(h.shape[0]), last])
                out.setdefault((n, "mean"), []).append((h * w).sum(1) / w.sum(1))
    for h in hooks:
        h.remove()
    return names, {k: torch.cat(v) for k, v in out.items()}


def patch_level(model, samples):
    """The patch embedding alone: ||W.1|| (its response to a white patch, the common mode of every patch) vs the
    mean norm of one pixel's column (what one ink pixel changes), and the mean cosine between the embeddings of
    two different text patches (EOS and padding left out)."""
    from pixelkit.trainer.models.base import unit_pixels
    w = model.patch_embed.weight.detach().reshape(model.config.hidden_size, -1)
    strips = copy.deepcopy(model.config)
    strips.num_patches = samples[0].pixels.shape[1] // strips.patch_size
    b = encoder_inputs(samples[:64], strips, "patches")
    with torch.no_grad():
        e = model._embed_patches(unit_pixels(b["pixel_values"]))
    text = b["attention_mask"].clone()
    text[torch.arange(len(text)), (torch.arange(text.shape[1]) * text).argmax(1)] = 0  # drop EOS
    u = torch.nn.functional.normalize(e[text.bool()], dim=1)
    g = torch.Generator().manual_seed(0)
    i, j = torch.randint(len(u), (2, 5000), generator=g)
    keep = i != j
    return w.sum(1).norm().item(), w.norm(dim=0).mean().item(), (u[i[keep]] * u[j[keep]]).sum(1).mean().item()


def gradient_sign_share(model, shards):
    import numpy as np
    from pixelkit.trainer.models import get_variant
    samples = list(read_samples(resolve(shards).urls))[:16]
    model.train()
    model.zero_grad()
    batch = get_variant(model.config.model_type.replace("pixelkit-", "")).collate(
        samples, model.config, np.random.default_rng(0))
    model(**batch).loss.backward()
    g = model.patch_embed.weight.grad.reshape(model.config.hidden_size, -1)
    model.zero_grad()
    model.eval()
    return (torch.sign(g) == torch.sign(g.sum(1, keepdim=True))).float().mean().item()


def spread(x):
    ratio = (x.std(0).mean() / x.abs().mean()).item()
    u = torch.nn.functional.normalize(x, dim=1)
    n = len(u)
    cos = ((u @ u.T).sum() - n) / (n * (n - 1))
    return ratio, cos.item()


if __name__ == "__main__":
    model_dir, data = sys.argv[1], sys.argv[2]
    shards = sys.argv[3] if len(sys.argv) > 3 else "out/pixel-gray"
    samples = list(read_samples(resolve(read_split(data, "train")).urls))[:400]
    from pixelkit.trainer.models.base import attention_mask, batch_patches, unit_pixels
    n = samples[0].pixels.shape[1] // 16
    att = torch.from_numpy(attention_mask(samples, n)).bool()
    px = unit_pixels(batch_patches([s.pixels for s in samples], 16))[att]
    print(f"attended patches (EOS included): {len(px)}, mean pixel {px.mean():.2f}, share of pixels exactly white "
          f"{(px == 1).float().mean():.3f}, share of all-white patches {(px.min(1).values == 1).float().mean():.4f}")
    trained = AutoModel.from_pretrained(model_dir).eval()
    torch.manual_seed(0)
    fresh = type(trained)(trained.config).eval()
    for label, m in (("random init", fresh), ("pretrained", trained)):
        white, pixel, cos = patch_level(m, samples)
        print(f"{label:11s} patch embedding: ||W.1|| {white:.2f}, one pixel's column {pixel:.3f}, "
              f"cos between two text patches' embeddings {cos:.3f}; pixel gradients with their channel's sign "
              f"{gradient_sign_share(m, shards):.3f}", flush=True)
        for kind in ("patches", "tokens"):
            names, res = pooled_per_layer(m, samples, kind)
            cells = []
            for n in names:
                (rl, cl), (rm, cm) = spread(res[(n, "last")]), spread(res[(n, "mean")])
                cells.append(f"{n}: last {rl:.3f}/{cl:.3f} mean {rm:.3f}/{cm:.3f}")
            print(f"{label:11s} {kind:7s} (std/|x| / cos)  " + " | ".join(cells), flush=True)
    from safetensors.torch import load_file
    for d in sys.argv[4:]:
        w = next(v for k, v in load_file(f"{d}/model.safetensors").items() if k.endswith("patch_embed.weight"))
        w = w.reshape(w.shape[0], -1)
        print(f"finetuned {d}: ||W.1|| {w.sum(1).norm():.2f}, one pixel's column {w.norm(dim=0).mean():.3f}")
