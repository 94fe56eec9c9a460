"""Our checkpoint layout, written down: the tensor names each variant saves (``N`` = a layer index).

This is our contract for ``model.safetensors`` (what ``save_pretrained`` writes and ``from_pretrained`` reads),
not an accident of transformers' internals: the blocks we borrow (``ViTMAELayer``, ``GPT2Block``, ``LlamaModel``)
name their parameters as transformers 5.23 does, and tests/test_importers.py fails if any variant's saved names
drift from this table (a transformers upgrade that renames a block). Such a change must keep checkpoints written
before it loading: map the old names to the new ones in ``PixelkitModel.from_pretrained`` (transformers'
``key_mapping``), test it, then update this table. Published layouts (PIXEL, PixelGPT, PIXAR) are not ours:
``trainer.importers`` converts them.
"""

from __future__ import annotations

import re


def _expand(prefix: str, names: tuple[str, ...], bias: bool = True) -> list[str]:
    return [f"{prefix}.{n}.{t}" for n in names for t in (("weight", "bias") if bias else ("weight",))]


# pre-norm ViT layer (ViTMAELayer): self-attention, two LayerNorms, GELU MLP
VIT = ("attention.q_proj", "attention.k_proj", "attention.v_proj", "attention.o_proj", "layernorm_before",
       "layernorm_after", "mlp.fc1", "mlp.fc2")
# GPT-2 block with cross-attention (GPT2Block, Conv1D weights stored (in, out))
GPT2 = ("attn.c_attn", "attn.c_proj", "crossattention.c_attn", "crossattention.c_proj", "crossattention.q_attn",
        "ln_1", "ln_2", "ln_cross_attn", "mlp.c_fc", "mlp.c_proj")
# LLaMA decoder layer (LlamaDecoderLayer): no biases, RMSNorm weights only
LLAMA = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
         "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm")

_GPT = [*_expand("decoder.layers.N", LLAMA, bias=False), "decoder.norm.weight", "decoder.embed_tokens.weight"]
_PATCHES = ["patch_embed.weight", "patch_embed.bias", "patch_norm.weight", "patch_norm.bias", "patch_head.weight"]

LAYOUTS: dict[str, list[str]] = {
    "pixel": ["cls_token", "mask_token", "patch_embed.weight", "patch_embed.bias", *_expand("encoder.N", VIT),
              "encoder_norm.weight", "encoder_norm.bias", "decoder_embed.weight", "decoder_embed.bias",
              *_expand("decoder.N", VIT), "decoder_norm.weight", "decoder_norm.bias", "decoder_pred.weight",
              "decoder_pred.bias"],
    "pixar": ["patch_embed.weight", "patch_embed.bias", "enc_pos.weight", "mask_embed", *_expand("encoder.N", VIT),
              "encoder_norm.weight", "encoder_norm.bias", "dec_in.weight", "dec_in.bias", "dec_pos.weight",
              "start_embed", *_expand("decoder.N", GPT2), "decoder_norm.weight", "decoder_norm.bias", "head.weight",
              "head.bias"],
    "pixar2024": ["embed.weight", *_expand("decoder.layers.N", LLAMA, bias=False), "decoder.norm.weight",
                  "head.weight"],
    "pixelgpt": [*_GPT, *_PATCHES],
    "textgpt": [*_GPT, "lm_head.weight"],
    "monogpt": [*_GPT, *_PATCHES, "lm_head.weight"],
    "dualgpt": [*_GPT, *_PATCHES, "lm_head.weight"],
}


def templates(keys) -> list[str]:
    """Saved tensor names with layer indices replaced by N, sorted and unique: what LAYOUTS lists."""
    return sorted({re.sub(r"\.\d+(?=\.)", ".N", k) for k in keys})
