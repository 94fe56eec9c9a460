"""``pixelgpt-hf``: the PixelGPT family as ernie-research/pixelgpt's ``ErniePixelForCausalLM.save_pretrained``
writes it (the layout of baidu/PixelGPT, MonoGPT, DualGPT): ``model.embed_patches.patch_embeddings.{projection,
norm}`` (Conv2d(C, H, p, stride p) + LayerNorm), ``model.embed_tokens``, ``model.layers.N.*`` and ``model.norm``
(LLaMA names), ``lm_pixel_head`` (H -> p*p*C, rows in (row, column, channel) order), ``lm_token_head``.

Mapping (exact, checked against the reference's losses and outputs in tests/test_importers.py): the projection is
our ``patch_embed`` Conv2d as is (we feed it the same NCHW patch), the LLaMA stack is our ``decoder``, the heads
are ``patch_head`` / ``lm_head``. ``image_size (h, w)`` sets ``num_patches = w // p`` (one strip). PixelGPT keeps
no token head: importing into ``pixelgpt`` drops ``lm_token_head`` (named in the result). Settings our decoder does
not implement (rope scaling, attention bias, grouped KV heads, a rope_theta other than 1e4, plain-pixel loss) are
refused. Inputs are pixels in [0, 1] (the released scripts' ``do_normalize`` is off).
"""

from __future__ import annotations

import torch

from ..models.dualgpt import DualGPTConfig
from ..models.monogpt import MonoGPTConfig
from ..models.pixelgpt import PixelGPTConfig
from .common import CheckpointError, Converted, KeyLedger, architectures, check_shape, fold_channels, refuse

FORMAT = "pixelgpt-hf"
CONFIGS = {"pixelgpt": PixelGPTConfig, "monogpt": MonoGPTConfig, "dualgpt": DualGPTConfig}
VARIANTS = tuple(CONFIGS)
REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")  # no defaults
LLAMA = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
         "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm")


def matches(cfg: dict) -> bool:
    return cfg.get("model_type") == "ernie-pixel" or "ErniePixelForCausalLM" in architectures(cfg)


def convert(weights: dict[str, torch.Tensor], cfg: dict, variant: str = "pixelgpt", channels: int | None = None
            ) -> Converted:
    if variant not in CONFIGS:
        raise CheckpointError(f"a {FORMAT} checkpoint imports as {'/'.join(CONFIGS)}, not {variant!r}")
    refuse(cfg, FORMAT, hidden_act="silu", rope_scaling=None, rope_theta=(10000, 10000.0), attention_bias=False,
           norm_pix_loss=True, num_key_value_heads=(None, cfg.get("num_attention_heads")))
    p = int(cfg.get("patch_size", 16))
    size = cfg.get("image_size", (16, 16384))  # an int or (h, w), checked by check_sizes
    h_img, w_img = (size, size) if isinstance(size, int) else size
    if h_img != p or w_img % p:
        raise CheckpointError(f"{FORMAT} image_size {(h_img, w_img)} is not one strip of {p}px patches")
    c_in = int(cfg.get("num_channels", 3))
    c_out = c_in if channels is None else channels
    note = fold_channels(c_in, c_out, FORMAT)
    n, max_pos = w_img // p, int(cfg.get("max_position_embeddings", 2048))
    config = CONFIGS[variant](
        hidden_size=cfg["hidden_size"], intermediate_size=cfg["intermediate_size"],
        num_hidden_layers=cfg["num_hidden_layers"], num_attention_heads=cfg["num_attention_heads"],
        max_position_embeddings=max_pos, rms_norm_eps=cfg.get("rms_norm_eps", 1e-6),
        initializer_range=cfg.get("initializer_range", 0.02), vocab_size=cfg.get("vocab_size", 32000),
        attention_dropout=cfg.get("attention_dropout", 0.0), patch_size=p, num_channels=c_out, num_patches=n,
        max_text_tokens=max(0, max_pos - n) if variant != "pixelgpt" else 0)
    led = KeyLedger(weights, FORMAT)
    proj = led.take("model.embed_patches.patch_embeddings.projection.weight")
    out = {"patch_embed.weight": proj.sum(1, keepdim=True) if note else proj,
           "patch_embed.bias": led.take("model.embed_patches.patch_embeddings.projection.bias"),
           "patch_norm.weight": led.take("model.embed_patches.patch_embeddings.norm.weight"),
           "patch_norm.bias": led.take("model.embed_patches.patch_embeddings.norm.bias"),
           "decoder.embed_tokens.weight": led.take("model.embed_tokens.weight"),
           "decoder.norm.weight": led.take("model.norm.weight")}
    for i in range(config.num_hidden_layers):
        for name in LLAMA:
            out[f"decoder.layers.{i}.{name}.weight"] = led.take(f"model.layers.{i}.{name}.weight")
    head = check_shape(FORMAT, "lm_pixel_head.weight", led.take("lm_pixel_head.weight"),
                       (p * p * c_in, config.hidden_size))  # (p*p*C, H)
    out["patch_head.weight"] = head.reshape(p * p, c_in, -1).mean(1) if note else head
    if config.use_tokens:
        out["lm_head.weight"] = led.take("lm_token_head.weight")
    else:
        led.drop("lm_token_head.weight", "PixelGPT predicts patches only; the token head is not part of it")
    led.drop("model.layers.*.self_attn.rotary_emb.inv_freq", "RoPE frequencies, recomputed from rope_theta 10000")
    return Converted(variant, config, {k: v.contiguous() for k, v in out.items()}, led.finish(),
                     [note] if note else [])
