"""``pixar``: PIXAR stage-1 backbones as april-tools/pixar saves them (``LatentLlama.save_backbone`` ->
``LlamaForPatchCausalInference.save_pretrained``): a LLaMA ``config.json`` plus ``num_channel``, ``patch_size``,
``patch_len``, ``binary``; keys ``in_proj.weight`` (Conv2d(C, H, (p, p*len), stride p*len), no bias),
``layers.N.*`` and ``norm.weight`` (transformers' LLaMA names), ``out_proj.weight`` (ConvTranspose2d(H, C, same
kernel), no bias); no token embedding (``load_backbone`` deletes it).

Mapping into ``pixar2024`` (exact, checked against the reference's loss and outputs in tests/test_importers.py):
the (p x 2p) block is our position's 128 bits in row-major order, so ``in_proj`` (H, 1, p, 2p) is our ``embed``
(H, 128) and ``out_proj`` (H, 1, p, 2p) is our ``head`` transposed; the backbone's layers are our decoder's.
Only the released binary, pixel-space setting imports (one channel, pairs of patches, no compressor).
"""

from __future__ import annotations

import torch

from ..models.pixar2024 import GROUP, Pixar2024Config
from .common import CheckpointError, Converted, KeyLedger, refuse

FORMAT = "pixar"
VARIANTS = ("pixar2024",)
LLAMA = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
         "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm")
REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")  # no defaults
DEFAULT_PATCHES = 529  # not in the checkpoint: the strip length our shards use (PIXEL's 529); override by argument


def matches(cfg: dict) -> bool:
    return cfg.get("model_type") == "llama" and all(k in cfg for k in ("num_channel", "patch_len", "patch_size"))


def convert(weights: dict[str, torch.Tensor], cfg: dict, variant: str = "pixar2024", channels: int | None = None,
            num_patches: int = DEFAULT_PATCHES) -> Converted:
    if variant not in VARIANTS:
        raise CheckpointError(f"a {FORMAT} checkpoint imports as model 'pixar2024', not {variant!r}")
    refuse(cfg, FORMAT, num_channel=1, patch_len=GROUP, binary=True, hidden_act="silu", rope_scaling=None,
           rope_theta=(10000, 10000.0), attention_bias=False, num_key_value_heads=cfg.get("num_attention_heads"))
    if channels not in (None, 1):
        raise CheckpointError(f"{FORMAT} checkpoints are binary, one channel; channels={channels} is not possible")
    config = Pixar2024Config(hidden_size=cfg["hidden_size"], intermediate_size=cfg["intermediate_size"],
                             num_hidden_layers=cfg["num_hidden_layers"], num_attention_heads=cfg["num_attention_heads"],
                             rms_norm_eps=cfg.get("rms_norm_eps", 1e-6),
                             initializer_range=cfg.get("initializer_range", 0.02), patch_size=cfg["patch_size"],
                             num_patches=num_patches)
    led = KeyLedger(weights, FORMAT)
    h = config.hidden_size
    inp, outp = led.take("in_proj.weight"), led.take("out_proj.weight")
    want = (h, 1, config.patch_size, GROUP * config.patch_size)
    if tuple(inp.shape) != want or tuple(outp.shape) != want:
        raise CheckpointError(f"{FORMAT} in_proj/out_proj are {tuple(inp.shape)}/{tuple(outp.shape)}, expected {want}")
    out = {"embed.weight": inp.reshape(h, -1), "head.weight": outp.reshape(h, -1).t(),
           "decoder.norm.weight": led.take("norm.weight")}
    for i in range(config.num_hidden_layers):
        for name in LLAMA:
            out[f"decoder.layers.{i}.{name}.weight"] = led.take(f"layers.{i}.{name}.weight")
    led.drop("layers.*.self_attn.rotary_emb.inv_freq", "RoPE frequencies, recomputed from rope_theta 10000")
    led.drop("embed_tokens.weight", "token embedding, unused: positions arrive as pixels (load_backbone drops it)")
    return Converted("pixar2024", config, {k: v.contiguous() for k, v in out.items()}, led.finish(),
                     [f"num_patches {num_patches}: not stored in {FORMAT} checkpoints"])
