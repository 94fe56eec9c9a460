"""The encoder half of every pretrained variant, for finetuning: batch inputs -> one hidden state per patch
(or token), its mask, and a [CLS] state where the variant has one.

Each encoder keeps the *same parameter names* as its pretraining model, so a ``pixel-train pretrain`` output
loads into it key for key (``trainer.loading``); ``DROPPED`` lists the pretraining-only parts a load leaves out.

* ``pixel``: PIXEL's ViT encoder over [CLS] + all N patches, no masking (as PIXEL's finetuning models run it);
  2-D sin-cos positions are recomputed for the shards' patch count on every forward, so a new square length
  (529 -> 256 for POS, as PIXEL does) needs no resize. A non-square count is refused (the grid needs sqrt(N)).
* ``pixar``: PIXAR's ViT encoder with its learned 1-D positions over all patches (no mask embedding). A shorter
  finetuning strip keeps the first N position rows; a longer one is refused (nothing was learned there).
* ``pixar2024``: PIXAR 2024's LLaMA decoder over its blocks of two 8x8 binary patches (an odd count completed
  with a white patch, as in pretraining); each block's last hidden state serves both its patches. RoPE: any
  length.
* ``pixelgpt`` / ``monogpt`` / ``dualgpt``: the LLaMA decoder's last hidden states over the image slots
  (causal: state t has seen patches <= t). RoPE is relative: any length up to ``max_position_embeddings``.
* ``textgpt``: the same decoder over the shards' token ids; the word and QA heads read token positions there
  (schema 1.2's ``word_tokens`` / ``token_offsets``, ``heads/base.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..models.base import ConfigError, attention_mask, check_token_ids, checked_patches, unit_pixels


class Encoded(NamedTuple):  # a named tuple, so DeepSpeed's ZeRO-3 hooks see its tensors (a dataclass hid them:
    # the encoder's own parameters, e.g. PIXEL's cls_token, were not gathered for backward and the step crashed)
    hidden: torch.Tensor  # (B, L, H): one state per patch (patch i at index i) or per token
    mask: torch.Tensor  # (B, L) 1 = real (text + EOS patches, or tokens)
    cls: torch.Tensor | None  # (B, H) [CLS] state, where the encoder has one
    causal: bool


class PixelEncoder(nn.Module):
    DROPPED = ("mask_token", "decoder_embed.", "decoder.", "decoder_norm.", "decoder_pred.")
    kind, causal, has_cls = "patches", False, True

    def __init__(self, config):
        super().__init__()
        from ..models.pixel import _layer_config
        from transformers.models.vit_mae.modeling_vit_mae import ViTMAELayer
        c = config
        self.config = c
        self.patch_embed = nn.Linear(c.patch_size * c.patch_size * c.num_channels, c.hidden_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.hidden_size))
        enc = _layer_config(c, c.hidden_size, c.num_attention_heads, c.intermediate_size)
        self.encoder = nn.ModuleList([ViTMAELayer(enc) for _ in range(c.num_hidden_layers)])
        self.encoder_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def init_new(self) -> None:  # from scratch: PIXEL's own init of the parts nn.Module does not cover
        nn.init.normal_(self.cls_token, std=self.config.initializer_range)
        nn.init.xavier_uniform_(self.patch_embed.weight)

    def forward(self, pixel_values, attention_mask) -> Encoded:
        from ..models.pixel import _additive_mask, sincos_positions
        x = unit_pixels(pixel_values, self.patch_embed.weight.dtype)
        b, n, _ = x.shape
        pos = sincos_positions(self.config.hidden_size, n, x.device, x.dtype)
        x = torch.cat([(self.cls_token + pos[:1]).expand(b, -1, -1), self.patch_embed(x) + pos[1:]], dim=1)
        mask = _additive_mask(torch.cat([attention_mask.new_ones(b, 1), attention_mask], dim=1), x.dtype)
        for layer in self.encoder:
            x = layer(x, mask)
        x = self.encoder_norm(x)
        return Encoded(x[:, 1:], attention_mask, x[:, 0], False)


class PixarEncoder(nn.Module):
    DROPPED = ("mask_embed", "bridge.", "dec_in.", "dec_pos.", "start_embed", "decoder.", "decoder_norm.", "head.")
    kind, causal, has_cls = "patches", False, False

    def __init__(self, config):
        super().__init__()
        from transformers.models.vit_mae.modeling_vit_mae import ViTMAEConfig, ViTMAELayer
        c = config
        self.config = c
        enc = ViTMAEConfig(hidden_size=c.hidden_size, num_attention_heads=c.num_attention_heads,
                           intermediate_size=c.intermediate_size, hidden_dropout_prob=c.dropout,
                           attention_probs_dropout_prob=c.dropout, layer_norm_eps=c.layer_norm_eps)
        enc._attn_implementation = "sdpa"
        self.patch_embed = nn.Linear(c.patch_size * c.patch_size * c.num_channels, c.hidden_size)
        self.enc_pos = nn.Embedding(c.num_patches, c.hidden_size)
        self.encoder = nn.ModuleList([ViTMAELayer(enc) for _ in range(c.num_hidden_layers)])
        self.encoder_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def init_new(self) -> None:
        pass

    def forward(self, pixel_values, attention_mask) -> Encoded:
        from ..models.pixar import _additive
        x = unit_pixels(pixel_values, self.patch_embed.weight.dtype)
        b, n, _ = x.shape
        x = self.patch_embed(x) + self.enc_pos(torch.arange(n, device=x.device))
        mask = _additive(attention_mask.bool()[:, None, :].expand(b, n, n), x.dtype)
        for layer in self.encoder:
            x = layer(x, mask)
        return Encoded(self.encoder_norm(x), attention_mask, None, False)


class GPTEncoder(nn.Module):
    DROPPED = ("patch_head.", "lm_head.")
    kind, causal, has_cls = "patches", True, False

    def __init__(self, config):
        super().__init__()
        from transformers import LlamaModel
        c = config
        self.config = c
        self.decoder = LlamaModel(c.llama())
        if self.kind == "patches":
            if not c.use_patches:
                raise ConfigError(f"{type(c).__name__} has no patch embedding; finetune it on tokens (textgpt)")
            self.patch_embed = nn.Conv2d(c.num_channels, c.hidden_size, kernel_size=c.patch_size, stride=c.patch_size)
            self.patch_norm = nn.LayerNorm(c.hidden_size)

    def init_new(self) -> None:
        pass

    def forward(self, pixel_values=None, attention_mask=None, input_ids=None) -> Encoded:
        if self.kind == "tokens":
            embeds = self.decoder.embed_tokens(input_ids)
        else:
            x = unit_pixels(pixel_values, self.patch_embed.weight.dtype)
            b, n, _ = x.shape
            p, c = self.config.patch_size, self.config.num_channels
            img = x.reshape(b * n, p, p, c).permute(0, 3, 1, 2)
            embeds = self.patch_norm(self.patch_embed(img).reshape(b, n, -1))
        hidden = self.decoder(inputs_embeds=embeds, attention_mask=attention_mask.long()).last_hidden_state
        return Encoded(hidden, attention_mask, None, True)


class Pixar2024Encoder(nn.Module):
    """PIXAR 2024's LLaMA decoder as an encoder: the pretraining model's blocks of two 8x8 patches (128 bits,
    mapped to {-1, 1}) in, its last hidden states out, each position's state given to both of its patches (so
    patch i reads position i // 2; causal: that state has seen patches <= its pair's second)."""

    DROPPED = ("head.",)
    kind, causal, has_cls = "patches", True, False

    def __init__(self, config):
        super().__init__()
        from transformers import LlamaModel
        self.config = config
        self.embed = nn.Linear(config.bits, config.hidden_size, bias=False)
        self.decoder = LlamaModel(config.llama())
        self.decoder.embed_tokens = None  # positions arrive as inputs_embeds, as in pretraining

    def init_new(self) -> None:
        pass

    def forward(self, pixel_values, attention_mask) -> Encoded:
        from ..models.pixar2024 import GROUP
        b, n = pixel_values.shape[:2]
        p = self.config.patch_size
        pad = -n % GROUP
        x = pixel_values.reshape(b, n, p, p)
        if pad:  # a white patch completes the last pair, as the pretraining collate does
            x = torch.cat([x, x.new_full((b, pad, p, p), 255 if x.dtype == torch.uint8 else 1)], dim=1)
        # (B, pairs, 2, row, col) -> (B, pairs, row, 2, col): each row of the 8x16 block runs across both patches
        x = x.reshape(b, -1, GROUP, p, p).transpose(2, 3).reshape(b, -1, GROUP * p * p)
        x = unit_pixels(x, self.embed.weight.dtype)
        pos_mask = nn.functional.pad(attention_mask, (0, pad)).reshape(b, -1, GROUP).amax(-1)
        hidden = self.decoder(inputs_embeds=self.embed(x * 2 - 1), attention_mask=pos_mask.long()).last_hidden_state
        return Encoded(hidden.repeat_interleave(GROUP, dim=1)[:, :n], attention_mask, None, True)


class TokenEncoder(GPTEncoder):
    kind = "tokens"


ENCODERS: dict[str, type] = {"pixel": PixelEncoder, "pixar": PixarEncoder, "pixar2024": Pixar2024Encoder,
                             "pixelgpt": GPTEncoder, "monogpt": GPTEncoder, "dualgpt": GPTEncoder,
                             "textgpt": TokenEncoder}


def encoder_class(variant: str) -> type:
    if variant not in ENCODERS:
        raise ConfigError(f"no finetuning encoder for {variant!r}; finetune one of {', '.join(ENCODERS)}")
    return ENCODERS[variant]


def encoder_inputs(samples: list, config, kind: str) -> dict[str, torch.Tensor]:
    """The encoder's part of a batch: patches + attention mask (all N patches), or token ids + mask."""
    if kind == "tokens":
        t = config.max_text_tokens
        ids = np.zeros((len(samples), t), dtype=np.int64)
        att = np.zeros((len(samples), t), dtype=np.int64)
        for i, s in enumerate(samples):
            if s.token_ids is None:
                raise ConfigError(f"sample {s.key} has no token ids; render the task with a tokenizer")
            tok = s.token_ids[:t]
            check_token_ids(s.key, tok, config.vocab_size)
            ids[i, :len(tok)], att[i, :len(tok)] = tok, 1
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(att)}
    n = config.num_patches
    return {"pixel_values": checked_patches(samples, config.patch_size, n),
            "attention_mask": torch.from_numpy(attention_mask(samples, n))}
