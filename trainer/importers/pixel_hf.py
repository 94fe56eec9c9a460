"""``pixel-hf``: PIXEL checkpoints as xplip/pixel's ``PIXELForPreTraining.save_pretrained`` writes them (the
layout of Team-PIXEL/pixel-base): ``vit.embeddings.*`` with a Conv2d patch projection, ``vit.encoder.layer.N.*``
(transformers 4.17 ViT names), ``vit.layernorm``, ``decoder.decoder_layers.N.*``, ``decoder.decoder_pred``.

Mapping (exact, checked against the reference's outputs in tests/test_importers.py):

* the Conv2d(C, H, p, stride p) projection over a (C, p, p) patch is our linear map of the (row, column, channel)
  flattened patch: weight permuted (H, C, p, p) -> (H, p, p, C) -> (H, p*p*C);
* the fixed 2D sin-cos tables (``position_embeddings``, ``decoder_pos_embed``) are recomputed by our model; the
  stored ones are checked to equal ours (atol 1e-4) and dropped;
* PIXEL's decoder LayerNorm uses torch's default eps (1e-5), its encoder ones ``layer_norm_eps``: both are kept
  (``decoder_norm_eps``);
* PIXEL-base reads 3 channels (its gray renderings converted to RGB); ``channels=1`` makes a gray model (see
  ``common.fold_channels``).
"""

from __future__ import annotations

import torch

from ..models.pixel import PixelConfig, sincos_positions
from .common import (CheckpointError, Converted, KeyLedger, architectures, check_equal, check_shape, fold_channels,
                     refuse)

FORMAT = "pixel-hf"
VARIANTS = ("pixel",)
LAYER = {  # xplip/pixel (transformers 4.17 ViT) -> ours (transformers' ViTMAELayer as pinned)
    "attention.attention.query": "attention.q_proj", "attention.attention.key": "attention.k_proj",
    "attention.attention.value": "attention.v_proj", "attention.output.dense": "attention.o_proj",
    "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2",
    "layernorm_before": "layernorm_before", "layernorm_after": "layernorm_after",
}


def matches(cfg: dict) -> bool:
    return cfg.get("model_type") == "pixel" or "PIXELForPreTraining" in architectures(cfg)


def _layers(led: KeyLedger, src: str, dst: str, n: int, out: dict) -> None:
    for i in range(n):
        for a, b in LAYER.items():
            for t in ("weight", "bias"):
                out[f"{dst}.{i}.{b}.{t}"] = led.take(f"{src}.{i}.{a}.{t}")


def convert(weights: dict[str, torch.Tensor], cfg: dict, variant: str = "pixel", channels: int | None = None
            ) -> Converted:
    if variant not in VARIANTS:
        raise CheckpointError(f"a {FORMAT} checkpoint imports as model 'pixel', not {variant!r}")
    refuse(cfg, FORMAT, hidden_act="gelu", qkv_bias=True)
    if (head := sorted(k for k in weights if not k.startswith(("vit.", "decoder.")))) \
            and not any(k.startswith("decoder.") for k in weights):  # was: "lacks decoder.* (a shard cut?)"
        arch = ", ".join(architectures(cfg)) or "no architectures"
        raise CheckpointError(f"{FORMAT} checkpoint is a finetuned PIXEL ({arch}: head keys {head[:4]}, no "
                              f"decoder.*); the importer reads pretrained "
                              f"PIXELForPreTraining checkpoints (Team-PIXEL/pixel-base) and does not import a "
                              f"finetuned head (e.g. PIXELForSequenceClassification's pooler.linear / pooler.ln / "
                              f"classifier). Import the pretrained model and finetune it (pixel-train finetune or "
                              f"suite; task.head_options.pooler_layer_norm is PIXEL's pooler)")
    p = int(cfg.get("patch_size", 16))
    size = cfg.get("image_size", (16, 8464))
    h, w = (size, size) if isinstance(size, int) else size
    if h % p or w % p:
        raise CheckpointError(f"{FORMAT} image_size {size} does not split into {p}px patches")
    c_in = int(cfg.get("num_channels", 3))
    c_out = c_in if channels is None else channels
    note = fold_channels(c_in, c_out, FORMAT)
    keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "decoder_hidden_size",
            "decoder_num_hidden_layers", "decoder_num_attention_heads", "decoder_intermediate_size", "mask_ratio",
            "norm_pix_loss", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "layer_norm_eps",
            "qkv_bias", "initializer_range")
    config = PixelConfig(**{k: cfg[k] for k in keys if k in cfg}, patch_size=p, num_channels=c_out,
                         num_patches=(h // p) * (w // p), decoder_norm_eps=1e-5)
    n = config.num_patches
    led = KeyLedger(weights, FORMAT)
    out: dict[str, torch.Tensor] = {}
    proj = led.take("vit.embeddings.patch_embeddings.projection.weight")  # (H, C, p, p)
    if note:
        proj = proj.sum(1, keepdim=True)
    out["patch_embed.weight"] = proj.permute(0, 2, 3, 1).reshape(proj.shape[0], -1)
    out["patch_embed.bias"] = led.take("vit.embeddings.patch_embeddings.projection.bias")
    out["cls_token"] = led.take("vit.embeddings.cls_token")
    for stored, dim in (("vit.embeddings.position_embeddings", config.hidden_size),
                        ("decoder.decoder_pos_embed", config.decoder_hidden_size)):
        table = check_shape(FORMAT, stored, led.take(stored), (1, n + 1, dim))  # before a table of that size is made
        check_equal(stored, table, sincos_positions(dim, n, torch.device("cpu"), torch.float32)[None], atol=1e-4)
    _layers(led, "vit.encoder.layer", "encoder", config.num_hidden_layers, out)
    for t in ("weight", "bias"):
        out[f"encoder_norm.{t}"] = led.take(f"vit.layernorm.{t}")
    for t in ("weight", "bias"):
        out[f"decoder_embed.{t}"] = led.take(f"decoder.decoder_embed.{t}")
        out[f"decoder_norm.{t}"] = led.take(f"decoder.decoder_norm.{t}")
    out["mask_token"] = led.take("decoder.mask_token")
    _layers(led, "decoder.decoder_layers", "decoder", config.decoder_num_hidden_layers, out)
    rows = p * p * c_in  # (p, q, c) rows
    pred_w = check_shape(FORMAT, "decoder.decoder_pred.weight", led.take("decoder.decoder_pred.weight"),
                         (rows, config.decoder_hidden_size))
    pred_b = check_shape(FORMAT, "decoder.decoder_pred.bias", led.take("decoder.decoder_pred.bias"), (rows,))
    if note:
        pred_w = pred_w.reshape(p * p, c_in, -1).mean(1)
        pred_b = pred_b.reshape(p * p, c_in).mean(1)
    out["decoder_pred.weight"], out["decoder_pred.bias"] = pred_w, pred_b
    dropped = led.finish()
    dropped.update({"vit.embeddings.position_embeddings": "fixed 2D sin-cos table, recomputed (checked equal)",
                    "decoder.decoder_pos_embed": "fixed 2D sin-cos table, recomputed (checked equal)"})
    return Converted("pixel", config, {k: v.contiguous() for k, v in out.items()}, dropped, [note] if note else [])
