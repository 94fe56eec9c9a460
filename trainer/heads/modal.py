"""PixelGPT's input modes for finetuning (Chai et al., EMNLP 2024): ``text``, ``pixel`` and ``pair``, all from one
task shard set that carries the rendered strip and the token ids of the same text.

* ``pixel``: the decoder over the strip's patches (``encoders.GPTEncoder``, unchanged);
* ``text``: the decoder over the token ids, text token j at position j (the released classifier's text-only
  input); the pretrained patch embedding is not used and is dropped from the load like a pretraining-only part;
* ``pair``: the released ``ErniePixelModel`` layout -- the whole strip's N patches first (padding slots switched
  off by the mask, not cut, so text keeps its place), then the tokens at positions N + j, one causal sequence.
  The sequence head's ``last`` pooling then reads the last attended text token, as
  ``ErniePixelForSequenceClassification`` pools at ``patch_len + last text index``.

Every head reads ``text`` (word and QA heads through the shards' token alignment, schema 1.2); ``pair`` serves the
sequence head only. Which variant may read which mode is ``spec.MODALITIES`` (TextGPT: text; PixelGPT: pixel; MonoGPT / DualGPT: all
three), checked with ``spec.check_modality`` before any work starts.
"""

from __future__ import annotations

import torch

from .encoders import Encoded, GPTEncoder, encoder_class, encoder_inputs

KINDS = {"text": "tokens", "pixel": "patches", "pair": "pair"}  # modality -> encoder kind the heads check


class ModalGPTEncoder(GPTEncoder):
    """The GPT family's decoder reading token ids (``text``) or the image-then-text pair (``pair``)."""

    def __init__(self, config, modality: str):
        self.kind = KINDS[modality]
        super().__init__(config)  # builds the patch embedding only for kind "patches"
        if self.kind == "pair":
            from torch import nn
            c = config
            self.patch_embed = nn.Conv2d(c.num_channels, c.hidden_size, kernel_size=c.patch_size, stride=c.patch_size)
            self.patch_norm = nn.LayerNorm(c.hidden_size)
        else:  # text: the pretrained patch embedding has no use here
            self.DROPPED = GPTEncoder.DROPPED + ("patch_embed.", "patch_norm.")

    def forward(self, pixel_values=None, attention_mask=None, input_ids=None, text_attention=None) -> Encoded:
        if self.kind == "tokens":
            return super().forward(input_ids=input_ids, attention_mask=attention_mask)
        x = self._patch_embeds(pixel_values)
        n = x.shape[1]
        embeds = torch.cat([x, self.decoder.embed_tokens(input_ids)], dim=1)
        mask = torch.cat([attention_mask, text_attention], dim=1)
        pos = torch.cat([torch.arange(n, device=x.device), n + torch.arange(input_ids.shape[1], device=x.device)])
        hidden = self.decoder(inputs_embeds=embeds, attention_mask=mask.long(), position_ids=pos[None]).last_hidden_state
        return Encoded(hidden, mask, None, True)

    def _patch_embeds(self, pixel_values) -> torch.Tensor:
        from ..models.base import unit_pixels
        x = unit_pixels(pixel_values, self.patch_embed.weight.dtype)
        b, n, _ = x.shape
        p, c = self.config.patch_size, self.config.num_channels
        return self.patch_norm(self.patch_embed(x.reshape(b * n, p, p, c).permute(0, 3, 1, 2)).reshape(b, n, -1))


def build_encoder(variant: str, config, modality: str | None):
    """The encoder module of a task model for ``variant`` reading ``modality`` (None: the variant's own)."""
    cls = encoder_class(variant)
    if modality in (None, "pixel") or cls.kind == "tokens":
        return cls(config)
    return ModalGPTEncoder(config, modality)


def modal_inputs(samples: list, config, kind: str) -> dict[str, torch.Tensor]:
    """The encoder's part of a batch for any kind: ``pair`` = the patches (all N, with their mask) + the token ids
    (``input_ids``, ``text_attention``)."""
    if kind != "pair":
        return encoder_inputs(samples, config, kind)
    batch = encoder_inputs(samples, config, "patches")
    tokens = encoder_inputs(samples, config, "tokens")
    t = max(1, int(tokens["attention_mask"].sum(1).max()))  # trailing text slots no row uses: cut (positions N + j)
    batch.update(input_ids=tokens["input_ids"][:, :t], text_attention=tokens["attention_mask"][:, :t])
    return batch


def modal_stats(batch: dict[str, torch.Tensor]) -> dict[str, int]:
    patches = int(batch["attention_mask"].sum()) if "pixel_values" in batch else 0
    tokens = int(batch["text_attention"].sum()) if "text_attention" in batch else (
        0 if "pixel_values" in batch else int(batch["attention_mask"].sum()))
    return {"patches": patches, "tokens": tokens}
