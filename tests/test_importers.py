"""Published checkpoints import exactly: each asset in tests/assets/parity/<format>/ is a tiny random checkpoint
in the reference's own layout plus the reference model's outputs on fixed inputs (written by
tests/assets/parity/make.py running xplip/pixel, ernie-research/pixelgpt and april-tools/pixar from fetched
copies). Here it goes through our importer and our model, and must match within 1e-5. Damaged and foreign checkpoint
files: test_loading_hostile.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pixelkit.trainer.importers import FORMATS, CheckpointError, build, convert, detect
from pixelkit.trainer.models.base import LoadingError
from pixelkit.trainer.models.dualgpt import DualGPT
from pixelkit.trainer.models.monogpt import MonoGPT
from pixelkit.trainer.models.pixar2024 import Pixar2024
from pixelkit.trainer.models.pixel import PixelForPreTraining
from pixelkit.trainer.models.pixelgpt import PixelGPT

ASSETS = Path(__file__).parent / "assets" / "parity"
TOL = 1e-5


def _expected(fmt: str) -> dict[str, torch.Tensor]:
    return load_file(str(ASSETS / fmt / "expected.safetensors"))


def _close(ours: torch.Tensor, ref: torch.Tensor, what: str) -> float:
    diff = (ours.float() - ref.float()).abs().max().item()
    assert ours.shape == ref.shape, (what, ours.shape, ref.shape)
    assert diff <= TOL, f"{what}: max abs diff {diff:.3g} > {TOL}"
    return diff


def _strip_patches(img: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, p, N*p) reference image -> our (B, N, p*p*C) float patches, (row, column, channel) order."""
    b, c, _, w = img.shape
    return img.reshape(b, c, p, w // p, p).permute(0, 3, 2, 4, 1).reshape(b, w // p, p * p * c)


def test_every_format_has_an_asset():
    for fmt in FORMATS:
        assert (ASSETS / fmt / "model.safetensors").is_file(), fmt
        assert detect(ASSETS / fmt) == fmt


# ---------------------------------------------------------------------------------------------- PIXEL


@pytest.mark.parametrize("case", ["gray3", "rgb"])
def test_pixel_hf_matches_reference(case):
    e = _expected("pixel-hf")
    model = PixelForPreTraining.from_pretrained(ASSETS / "pixel-hf")  # detected, converted, strict
    model.config._attn_implementation = "eager"
    p = model.config.patch_size
    with torch.no_grad():
        x = _strip_patches(e[f"{case}.pixel_values"], p)
        mask = e["patch_mask"].bool()
        out = model(pixel_values=x, attention_mask=e["attention_mask"], patch_mask=mask)
        latent, _ = model.encode(x, e["attention_mask"], mask)
    _close(out.loss.reshape(1), e[f"{case}.loss"], "loss")
    _close(out.logits, e[f"{case}.logits"], "logits")
    _close(latent, e[f"{case}.encoder_last_hidden"], "encoder hidden states")


def test_pixel_hf_gray_import_folds_channels_exactly():
    """channels=1: on gray input the hidden states equal the reference's on the same gray replicated to RGB, and
    the pixel head predicts the mean of the reference's three channel predictions."""
    e = _expected("pixel-hf")
    model = PixelForPreTraining.from_pretrained(ASSETS / "pixel-hf", channels=1)
    assert model.config.num_channels == 1
    p = model.config.patch_size
    with torch.no_grad():
        gray = _strip_patches(e["gray"][:, None], p)
        mask = e["patch_mask"].bool()
        out = model(pixel_values=gray, attention_mask=e["attention_mask"], patch_mask=mask)
        latent, _ = model.encode(gray, e["attention_mask"], mask)
    _close(latent, e["gray3.encoder_last_hidden"], "gray encoder hidden states")
    ref = e["gray3.logits"].reshape(*e["gray3.logits"].shape[:2], p * p, 3).mean(-1)
    _close(out.logits, ref, "gray logits = channel mean")


# ---------------------------------------------------------------------------------------------- loading


def _copy_asset(fmt: str, tmp_path: Path) -> Path:
    dst = tmp_path / fmt
    shutil.copytree(ASSETS / fmt, dst)
    return dst


def test_unknown_key_in_a_published_checkpoint_is_refused(tmp_path):
    src = _copy_asset("pixel-hf", tmp_path)
    state = load_file(str(src / "model.safetensors"))
    state["vit.pooler.dense.weight"] = torch.zeros(2, 2)
    save_file(state, str(src / "model.safetensors"))
    with pytest.raises(CheckpointError, match="vit.pooler.dense.weight"):
        PixelForPreTraining.from_pretrained(src)


def test_missing_key_in_a_published_checkpoint_is_refused(tmp_path):
    src = _copy_asset("pixel-hf", tmp_path)
    state = load_file(str(src / "model.safetensors"))
    del state["decoder.decoder_pred.bias"]
    save_file(state, str(src / "model.safetensors"))
    with pytest.raises(CheckpointError, match="decoder.decoder_pred.bias"):
        PixelForPreTraining.from_pretrained(src)


def test_our_checkpoints_load_strictly(tmp_path):
    model = build(convert(ASSETS / "pixel-hf"))
    model.save_pretrained(tmp_path / "ours")
    again = PixelForPreTraining.from_pretrained(tmp_path / "ours")
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k
    state = load_file(str(tmp_path / "ours" / "model.safetensors"))
    state["extra_head.weight"] = torch.zeros(3)
    del state["decoder_pred.bias"]
    save_file(state, str(tmp_path / "ours" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(LoadingError, match=r"missing.*decoder_pred\.bias.*unexpected.*extra_head\.weight"):
        PixelForPreTraining.from_pretrained(tmp_path / "ours")
    loaded = PixelForPreTraining.from_pretrained(tmp_path / "ours", allow_missing=["decoder_pred.*"],
                                                 allow_unexpected=["extra_head.*"])
    assert torch.equal(loaded.decoder.state_dict()["0.mlp.fc1.weight"], model.decoder.state_dict()["0.mlp.fc1.weight"])


def test_a_pixel_checkpoint_does_not_import_as_another_model():
    with pytest.raises(CheckpointError, match="imports as pixel"):
        Pixar2024.from_pretrained(ASSETS / "pixel-hf")


def test_import_records_what_it_dropped():
    conv = convert(ASSETS / "pixel-hf")
    assert set(conv.dropped) == {"vit.embeddings.position_embeddings", "decoder.decoder_pos_embed"}
    meta = json.loads((ASSETS / "pixel-hf" / "meta.json").read_text())
    assert meta["peer"] == "xplip/pixel" and meta["commit"] != "unknown"


# ---------------------------------------------------------------------------------------------- PixelGPT family


def _gpt_hidden(model, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return model.decoder(inputs_embeds=embeds, attention_mask=mask.long()).last_hidden_state


def test_pixelgpt_hf_pixel_rows_match_reference():
    e = _expected("pixelgpt-hf")
    model = PixelGPT.from_pretrained(ASSETS / "pixelgpt-hf")
    p = model.config.patch_size
    x = _strip_patches(e["pixel_values"], p)
    with torch.no_grad():
        out = model(pixel_values=x, patch_attention=e["patch_attention"])
        hidden = _gpt_hidden(model, model._embed_patches(x), e["patch_attention"])
    _close(out.loss.reshape(1), e["pixel.loss"], "loss")
    _close(out.patch_logits, e["pixel.logits_pixel"], "patch logits")
    _close(hidden, e["pixel.last_hidden"], "hidden states")


@pytest.mark.parametrize("model_class", [MonoGPT, DualGPT])
def test_pixelgpt_hf_text_rows_match_reference(model_class):
    e = _expected("pixelgpt-hf")
    model = model_class.from_pretrained(ASSETS / "pixelgpt-hf")
    with torch.no_grad():
        out = model(input_ids=e["input_ids"], text_attention=e["text_attention"], labels=e["labels"])
        hidden = _gpt_hidden(model, model.decoder.embed_tokens(e["input_ids"]), e["text_attention"])
    _close(out.loss.reshape(1), e["text.loss"], "loss")
    _close(out.token_logits, e["text.logits_token"], "token logits")
    _close(hidden, e["text.last_hidden"], "hidden states")


def test_dualgpt_pairs_match_reference():
    e = _expected("pixelgpt-hf")
    model = DualGPT.from_pretrained(ASSETS / "pixelgpt-hf")
    x = _strip_patches(e["pixel_values"], model.config.patch_size)
    with torch.no_grad():
        out = model(pixel_values=x, patch_attention=e["patch_attention"], input_ids=e["input_ids"],
                    text_attention=e["text_attention"], labels=e["labels"])
        embeds = torch.cat([model._embed_patches(x), model.decoder.embed_tokens(e["input_ids"])], dim=1)
        hidden = _gpt_hidden(model, embeds, torch.cat([e["patch_attention"], e["text_attention"]], dim=1))
    _close(out.loss.reshape(1), e["pair.loss"], "loss (patch MSE + token CE)")
    _close(out.patch_logits, e["pair.logits_pixel"], "patch logits")
    _close(out.token_logits, e["pair.logits_token"], "token logits")
    _close(hidden, e["pair.last_hidden"], "hidden states")


def test_pixelgpt_drops_only_the_token_head():
    assert set(convert(ASSETS / "pixelgpt-hf", variant="pixelgpt").dropped) == {"lm_token_head.weight"}
    assert convert(ASSETS / "pixelgpt-hf", variant="dualgpt").dropped == {}


def test_pixelgpt_hf_gray_import_folds_channels_exactly():
    e = _expected("pixelgpt-hf")
    rgb = PixelGPT.from_pretrained(ASSETS / "pixelgpt-hf")
    gray = PixelGPT.from_pretrained(ASSETS / "pixelgpt-hf", channels=1)
    p = rgb.config.patch_size
    g = e["pixel_values"][:, :1]
    with torch.no_grad():
        ref = rgb(pixel_values=_strip_patches(g.expand(-1, 3, -1, -1), p), patch_attention=e["patch_attention"])
        ours = gray(pixel_values=_strip_patches(g, p), patch_attention=e["patch_attention"])
    want = ref.patch_logits.reshape(*ref.patch_logits.shape[:2], p * p, 3).mean(-1)
    _close(ours.patch_logits, want, "gray patch logits = channel mean")


# ---------------------------------------------------------------------------------------------- PIXAR


def test_pixar_matches_reference():
    e = _expected("pixar")
    model = Pixar2024.from_pretrained(ASSETS / "pixar")
    img = e["pixel_values"]  # (B, 1, p, positions * 2p), {0, 1}
    b, _, p, w = img.shape
    n = w // (2 * p)

    def blocks(t):  # (B, 1, p, n*2p) -> our (B, n, p*2p), each position's block row-major
        return t.reshape(b, p, n, 2 * p).permute(0, 2, 1, 3).reshape(b, n, -1)

    with torch.no_grad():
        out = model(pixel_values=blocks(img), attention_mask=e["attention_mask"])
        hidden = model.decoder(inputs_embeds=model.embed(blocks(img) * 2 - 1),
                               attention_mask=e["attention_mask"]).last_hidden_state
    _close(out.loss.reshape(1), e["loss"], "loss")
    _close(out.logits, blocks(e["logits_image"]), "logits")
    _close(hidden, e["last_hidden"], "hidden states")


# ---------------------------------------------------------------------------------------------- our layout


def test_every_variant_saves_the_documented_layout():
    """trainer/models/layout.py is our checkpoint contract; a transformers upgrade renaming a block fails here."""
    from pixelkit.trainer.models import REGISTRY, DataInfo, get_variant
    from pixelkit.trainer.models.layout import LAYOUTS, templates
    assert set(LAYOUTS) == set(REGISTRY)
    for name in REGISTRY:
        v = get_variant(name)
        mode = v.modes[0]
        cfg = v.config("debug", {}, DataInfo(mode, 8 if mode == "binary" else 16, 16, 100))
        with torch.device("meta"):
            model = v.model_class(cfg)
        assert templates(model.state_dict()) == sorted(LAYOUTS[name]), name


def test_init_from_reads_a_published_layout(tmp_path, gray_shards):
    """prepare() takes the architecture of a published checkpoint through its importer: 3-channel PIXEL weights
    on gray shards become a gray model, and a patch size the shards do not have is refused before any work."""
    from pixelkit.trainer.config import load_config
    from pixelkit.trainer.engine import prepare
    from pixelkit.trainer.importers import pretrained_config
    from pixelkit.trainer.models.base import ConfigError
    from pixelkit.trainer.models.pixel import PixelConfig
    cfg = pretrained_config("pixel", PixelConfig, ASSETS / "pixel-hf", channels=1)
    assert (cfg.num_channels, cfg.num_patches, cfg.patch_size, cfg.decoder_norm_eps) == (1, 16, 4, 1e-5)
    run = load_config(None, {"model": "pixel", "flavor": "debug", "data": {"train": [str(gray_shards)]},
                             "init_from": str(ASSETS / "pixel-hf"), "output_dir": str(tmp_path / "o")})
    with pytest.raises(ConfigError, match="patch_size is 4 but the shards .* have 16"):
        prepare(run)


def test_pixel_decoder_norm_eps_is_pixels_and_old_configs_keep_theirs():
    from pixelkit.trainer.models import DataInfo, get_variant
    from pixelkit.trainer.models.pixel import PixelConfig
    cfg = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 16))
    assert PixelForPreTraining(cfg).decoder_norm.eps == 1e-5
    old = PixelConfig(hidden_size=64, num_attention_heads=4, decoder_hidden_size=64, decoder_num_attention_heads=4,
                      num_hidden_layers=1, decoder_num_hidden_layers=1, num_patches=16)  # a config.json without it
    assert PixelForPreTraining(old).decoder_norm.eps == old.layer_norm_eps == 1e-12
