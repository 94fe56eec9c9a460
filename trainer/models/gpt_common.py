"""The PixelGPT family's shared decoder (Chai et al., EMNLP 2024, "Autoregressive Pre-Training on Pixels and Texts",
first circulated as "Dual Modalities of Text: Visual and Textual Generative Pre-training"): a LLaMA-style decoder
(transformers' ``LlamaModel``: RMSNorm, SwiGLU, RoPE, no absolute positions) fed through ``inputs_embeds`` by a
patch embedding (a p x p conv with stride p + LayerNorm, as the paper's 16x16 "conv patch embedding") and/or the
token embedding, with a patch head and a token head.

One sequence layout for every variant, ``[image slots (N patches) | text slots (T tokens)]``, with an attention
mask that switches slots off: PixelGPT uses only image slots, TextGPT only text slots, MonoGPT a per-sample choice
of one of them, DualGPT also rows with both (image first, then the paired text). Positions are the released
layout's whatever the batch: image slot i at position i, text token j at position N + j (N = the strips' patch
count, as the reference puts text after a fixed-length padded image), passed as ``position_ids``. So ``collate``
may cut the image slots past the batch's longest image and the text slots past its longest text without moving
anything: a row's outputs do not depend on its batch-mates (``test_model_gpt.py`` checks a paired row against
its batch-mates and against the uncut layout). RoPE is relative, so a text-only row behind switched-off image
slots is modelled as if it started the sequence. Rows with one modality still spend compute on the other's
switched-off slots (fine for these sizes; a packing collator would avoid it).

Losses: next-patch MSE on per-patch normalized pixels (mean / std of each target patch), predicting patch t+1
from patches <= t, over patches whose target is attended (text patches + EOS); token cross-entropy, predicting
token t+1 from tokens <= t inside the text segment (``labels``, -100 on padding). When a batch has both, DualGPT
sums them (as the released code does on a paired sequence) and MonoGPT averages them (the expectation of the
released recipe, which alternates single-modality batches).

Paper flavor ``base``: RoPE (theta 1e4), RMSNorm eps 1e-6, untied LLaMA-2 32k vocabulary, 2048 positions, no bias
on the heads (``ErniePixelConfig`` defaults and ``ErniePixelForCausalLM`` in ernie-research/pixelgpt,
src/ernie_pixel/); width and depth ``PAPER_SHAPE`` = 22 x 1024, 16 heads, SwiGLU 2816 (LLaMA's 8/3 rule rounded to
256). The depth is inferred, not copied: the released checkpoints' config.json could not be read from here, but the
hub lists baidu/PixelGPT as "350M params, F32" safetensors, and the released ``ErniePixelForCausalLM`` always holds
both 32k matrices, the RGB conv patch embedding + LayerNorm and the 768-wide pixel head: 22 layers give
349,749,248 parameters, 24 layers 375,443,456 (``tests/test_paper_fidelity.py`` counts both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import LlamaConfig, LlamaModel
from transformers.utils import ModelOutput

from .base import (ConfigError, DataInfo, Variant, apply_overrides, attention_mask, batch_patches, binary_batch,
                   check_heads, check_token_ids, denormalize_patches, normalize_patches, patches_to_strip, picture,
                   unit_pixels)
from .base import PixelkitModel
from .hfconfig import PixelkitConfig

LLAMA_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "max_position_embeddings", "rms_norm_eps", "initializer_range", "vocab_size", "attention_dropout")
IMAGE, TEXT, PAIRED = 0, 1, 2  # what a row holds
KIND_NAMES = {IMAGE: "image", TEXT: "text", PAIRED: "paired"}
# on RGB 16 px strips: 349.7M with the 32k token head (MonoGPT, DualGPT: the released class); PixelGPT keeps the
# token embedding but has no token head (317.0M, + 32.8M unused in the released checkpoint)
PAPER_SHAPE = dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=22, num_attention_heads=16)
PAPER_PARAMS = (300e6, 355e6)
DEBUG_SHAPE = dict(hidden_size=128, intermediate_size=344, num_hidden_layers=2, num_attention_heads=4)
TEXT_FLAVORS = {  # the variants with a token head; paper flavors pin the LLaMA-2 32k vocabulary
    "debug": dict(**DEBUG_SHAPE, max_text_tokens=128, max_position_embeddings=1024),
    "base": dict(**PAPER_SHAPE, vocab_size=32000, max_text_tokens=1024, max_position_embeddings=2048),
}


class GPTConfig(PixelkitConfig):
    model_type = "pixelkit-gpt"

    def __init__(self, hidden_size=1024, intermediate_size=2816, num_hidden_layers=22, num_attention_heads=16,
                 num_key_value_heads=None, max_position_embeddings=2048, rms_norm_eps=1e-6, initializer_range=0.02,
                 vocab_size=32000, attention_dropout=0.0, patch_size=16, num_channels=1, num_patches=529,
                 max_text_tokens=0, use_patches=True, use_tokens=False, kinds=(IMAGE,), patch_eps=1e-6, **kwargs):
        self.hidden_size, self.intermediate_size = hidden_size, intermediate_size
        self.num_hidden_layers, self.num_attention_heads = num_hidden_layers, num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.max_position_embeddings, self.rms_norm_eps = max_position_embeddings, rms_norm_eps
        self.initializer_range, self.vocab_size, self.attention_dropout = initializer_range, vocab_size, attention_dropout
        self.patch_size, self.num_channels, self.num_patches = patch_size, num_channels, num_patches
        self.max_text_tokens, self.use_patches, self.use_tokens = max_text_tokens, use_patches, use_tokens
        self.kinds, self.patch_eps = list(kinds), patch_eps
        super().__init__(**kwargs)

    def llama(self) -> LlamaConfig:
        return LlamaConfig(**{k: getattr(self, k) for k in LLAMA_KEYS}, tie_word_embeddings=False)


@dataclass
class GPTOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # the variant's main head: patch predictions, or token logits for TextGPT
    patch_logits: torch.Tensor | None = None  # (B, N, p*p*C): prediction for patch t+1 at position t
    token_logits: torch.Tensor | None = None  # (B, T, V): prediction for token t+1 at position t
    patch_loss: torch.Tensor | None = None
    token_loss: torch.Tensor | None = None


def next_patch_weights(patch_attention: torch.Tensor) -> torch.Tensor:
    """(B, N-1): 1 where both patch t and its target t+1 are attended (the pairs the patch loss counts)."""
    return patch_attention[:, 1:] * patch_attention[:, :-1]


class GPTModel(PixelkitModel):
    config_class = GPTConfig
    base_model_prefix = "gpt"
    main_output = "patch_logits"
    average_losses = False  # True: mean of the patch and token losses (MonoGPT), else their sum

    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self.decoder = LlamaModel(config.llama())
        h, p, c = config.hidden_size, config.patch_size, config.num_channels
        if config.use_patches:
            self.patch_embed = nn.Conv2d(c, h, kernel_size=p, stride=p)
            self.patch_norm = nn.LayerNorm(h)
            self.patch_head = nn.Linear(h, p * p * c, bias=False)
        if config.use_tokens:
            self.lm_head = nn.Linear(h, config.vocab_size, bias=False)
        self.post_init()

    def _embed_patches(self, pixel_values: torch.Tensor) -> torch.Tensor:
        b, n, _ = pixel_values.shape
        p, c = self.config.patch_size, self.config.num_channels
        img = pixel_values.reshape(b * n, p, p, c).permute(0, 3, 1, 2)  # row, column, channel -> NCHW
        return self.patch_norm(self.patch_embed(img).reshape(b, n, -1))

    def position_ids(self, image_slots: int, input_ids: torch.Tensor | None, device) -> torch.Tensor:
        """(1, L): image slot i at i, text token j at N + j (N = config.num_patches when the model reads pixels),
        however many image slots ``collate`` kept."""
        pos = [torch.arange(image_slots, device=device)]
        if input_ids is not None:
            start = self.config.num_patches if self.config.use_patches else 0
            pos.append(start + torch.arange(input_ids.shape[1], device=device))
        return torch.cat(pos)[None]

    def forward(self, pixel_values: torch.Tensor | None = None, patch_attention: torch.Tensor | None = None,
                input_ids: torch.Tensor | None = None, text_attention: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> GPTOutput:
        embeds, masks = [], []
        if pixel_values is not None:
            pixel_values = unit_pixels(pixel_values, self.dtype)
            embeds.append(self._embed_patches(pixel_values))
            masks.append(patch_attention)
        if input_ids is not None:
            embeds.append(self.decoder.embed_tokens(input_ids))
            masks.append(text_attention)
        mask = torch.cat(masks, dim=1).long()
        slots = pixel_values.shape[1] if pixel_values is not None else 0
        hidden = self.decoder(inputs_embeds=torch.cat(embeds, dim=1), attention_mask=mask,
                              position_ids=self.position_ids(slots, input_ids, mask.device)).last_hidden_state
        out = GPTOutput()
        losses = []
        n = 0
        if pixel_values is not None:
            n = pixel_values.shape[1]
            out.patch_logits = self.patch_head(hidden[:, :n])
            w = next_patch_weights(patch_attention).float()
            if w.sum() > 0:  # in float32 whatever the engine's precision, as the token cross-entropy
                target = normalize_patches(pixel_values[:, 1:].float(), self.config.patch_eps)
                err = (out.patch_logits[:, :-1].float() - target).pow(2).mean(-1)
                out.patch_loss = (err * w).sum() / w.sum()
                losses.append(out.patch_loss)
        if input_ids is not None:
            out.token_logits = self.lm_head(hidden[:, n:])
            if labels is not None and (labels[:, 1:] != -100).any():
                out.token_loss = nn.functional.cross_entropy(
                    out.token_logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten())
                losses.append(out.token_loss)
        if not losses:  # nothing to predict (e.g. one-token texts only): a zero that still has a graph
            losses.append(hidden.sum() * 0)
        out.loss = torch.stack(losses).mean() if self.average_losses else torch.stack(losses).sum()
        out.logits = getattr(out, self.main_output)
        return out


def check_row_kinds(overrides: dict, own: list[int]) -> None:
    """What a family member reads is fixed by the variant; ``kinds`` may only narrow the rows it draws (e.g. DualGPT
    on paired rows alone). A bad list was accepted (``[7]``, or the string ``paired`` taken letter by letter) or
    failed inside the first batch, after the engine had started."""
    fixed = sorted(k for k in ("use_patches", "use_tokens") if k in overrides)
    if fixed:
        raise ConfigError(f"model_overrides: {fixed} are fixed by the variant; choose the variant that reads what "
                          f"you want (pixelgpt: images, textgpt: text, monogpt: both, dualgpt: both and paired rows)")
    kinds = overrides.get("kinds", own)
    if not (isinstance(kinds, list) and kinds and len(set(map(repr, kinds))) == len(kinds)
            and all(type(k) is int and k in own for k in kinds)):
        names = ", ".join(f"{k} {KIND_NAMES[k]}" for k in own)
        raise ConfigError(f"model_overrides.kinds {kinds!r}: expected a non-empty list of distinct row kinds among "
                          f"this variant's ({names}), e.g. [{own[-1]}]")


def make_gpt_config(config_class: type, flavors: dict, needs_tokens: bool):
    """A ``make_config`` for a family member: flavor + overrides, sizes and vocabulary from the shards."""
    def make(flavor: str, overrides: dict, data: DataInfo):
        check_row_kinds(overrides, config_class().kinds)
        kwargs = apply_overrides(dict(flavors[flavor]), overrides, config_class)
        kwargs.update(patch_size=data.patch_size, num_channels=data.channels, num_patches=data.max_patches)
        # paper flavors pin the released vocabulary; model_overrides.vocab_size is kept (it was silently replaced)
        if needs_tokens and "vocab_size" not in flavors[flavor] and "vocab_size" not in overrides:
            kwargs["vocab_size"] = data.vocab_size
        cfg = config_class(**kwargs)
        if needs_tokens and data.vocab_size > cfg.vocab_size:  # a pinned vocabulary: a larger id was an IndexError
            what = "model_overrides.vocab_size" if "vocab_size" in overrides else f"flavor {flavor!r}"
            raise ConfigError(f"{what} embeds {cfg.vocab_size} token ids, but the shards' tokenizer "
                              f"({data.tokenizer_name}) has {data.vocab_size}: render them with a tokenizer of at "
                              f"most {cfg.vocab_size} ids (the LLaMA-2 32k tokenizer.model) or use the debug flavor")
        check_heads(config_class.__name__, (cfg.hidden_size, cfg.num_attention_heads, "decoder"))
        length = (data.max_patches if cfg.use_patches else 0) + (cfg.max_text_tokens if cfg.use_tokens else 0)
        if length > cfg.max_position_embeddings:
            raise ConfigError(f"{length} positions (patches + max_text_tokens) exceed max_position_embeddings "
                              f"{cfg.max_position_embeddings}")
        if cfg.use_tokens and cfg.max_text_tokens < 2:
            raise ConfigError("max_text_tokens must be >= 2 for a token loss")
        return cfg
    return make


def collate(samples: list, config: GPTConfig, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Rows of one kind each (drawn uniformly from ``config.kinds`` with ``rng``) in the shared layout. Trailing
    slots no row of the batch attends to are cut off; positions stay those of the full layout (``position_ids``),
    so no row's outputs depend on the cut (up to float rounding of the shorter matrices)."""
    kinds = rng.choice(config.kinds, size=len(samples)) if len(config.kinds) > 1 else [config.kinds[0]] * len(samples)
    batch: dict[str, torch.Tensor] = {}
    if config.use_patches:
        att = attention_mask(samples, config.num_patches) * (np.asarray(kinds) != TEXT)[:, None]
        n, p = max(1, int(att.sum(1).max())), config.patch_size
        batch["pixel_values"] = batch_patches([s.pixels[:, :n * p] for s in samples], p, binary_batch(samples))
        batch["patch_attention"] = torch.from_numpy(att[:, :n])
    if config.use_tokens:
        t = config.max_text_tokens
        ids = np.zeros((len(samples), t), dtype=np.int64)
        labels = np.full((len(samples), t), -100, dtype=np.int64)
        for i, (s, k) in enumerate(zip(samples, kinds)):
            if s.token_ids is None:
                raise ConfigError(f"sample {s.key} has no token ids; this model needs shards rendered with a tokenizer")
            if k != IMAGE:
                tok = s.token_ids[:t]
                check_token_ids(s.key, tok, config.vocab_size)
                ids[i, :len(tok)], labels[i, :len(tok)] = tok, tok
        att = (labels != -100).astype(np.int64)
        t = max(1, int(att.sum(1).max()))
        batch.update(input_ids=torch.from_numpy(ids[:, :t]), text_attention=torch.from_numpy(att[:, :t]),
                     labels=torch.from_numpy(labels[:, :t]))
    return batch


def stats(batch: dict[str, torch.Tensor]) -> dict[str, int]:
    """Targets the losses count: next patches with an attended target, next tokens with a label."""
    return {"patches": int(next_patch_weights(batch["patch_attention"]).sum()) if "patch_attention" in batch else 0,
            "tokens": int((batch["labels"][:, 1:] != -100).sum()) if "labels" in batch else 0}


def visualize(model: GPTModel, batch: dict[str, torch.Tensor], output: GPTOutput) -> np.ndarray | None:
    """For up to 4 image rows: the input strip, and the next-patch prediction drawn where the patch belongs
    (de-normalized with the true patch's mean / std; patch 0 and unattended patches left white). None for a batch
    of text rows only (MonoGPT draws one in 2^batch; ``kinds=[1]`` always does)."""
    cfg = model.config
    x, att = unit_pixels(batch["pixel_values"]), batch["patch_attention"]
    rows = [i for i in range(x.shape[0]) if att[i].any()][:4]
    if not rows:
        return None
    pred = torch.ones_like(x)
    pred[:, 1:] = denormalize_patches(output.patch_logits[:, :-1].float().detach(), x[:, 1:], cfg.patch_eps)
    pred = torch.where(att.bool().unsqueeze(-1), pred, torch.ones_like(pred))
    p, c = cfg.patch_size, cfg.num_channels
    return picture([[patches_to_strip(x[i].numpy(), p, c), patches_to_strip(pred[i].numpy(), p, c)] for i in rows], p)


def family_variant(name: str, config_class: type, model_class: type, flavors: dict, *, needs_tokens: bool,
                   modes: tuple[str, ...] = ("gray", "rgb"), pictures: bool = True) -> Variant:
    """The registry entry of a family member: everything but its config / model class and flavors is shared."""
    return Variant(name=name, config_class=config_class, model_class=model_class, flavors=flavors,
                   make_config=make_gpt_config(config_class, flavors, needs_tokens), collate=collate, stats=stats,
                   visualize=visualize if pictures else None, modes=modes, needs_tokens=needs_tokens,
                   paper_params={"base": PAPER_PARAMS})
