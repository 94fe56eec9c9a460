"""Write the parity assets: tiny random checkpoints in the PUBLISHED layouts + the reference models' outputs.

Runs the reference model classes themselves, from fetched copies of their repositories in a scratch directory
(never copied into this project), each in a venv with the transformers version that repository pins:

    xplip/pixel             transformers 4.17.0   -> pixel-hf/      PIXELForPreTraining
    ernie-research/pixelgpt transformers 4.36.2   -> pixelgpt-hf/   ErniePixelForCausalLM
    april-tools/pixar       transformers 4.34.1   -> pixar/         LlamaForPatchCausalInference + LatentLlama's loss

    S=/work/scratch/importers   # venv-<version>/ and src/<owner>+<name>/ (git archive of each fetched repository)
    $S/venv-4.17.0/bin/python tests/assets/parity/make.py pixel-hf --peer $S/src/xplip+pixel
    $S/venv-4.36.2/bin/python tests/assets/parity/make.py pixelgpt-hf --peer $S/src/ernie-research+pixelgpt
    $S/venv-4.34.1/bin/python tests/assets/parity/make.py pixar --peer $S/src/april-tools+pixar

Self-contained (torch, numpy, safetensors and the peer; nothing from this project). Each asset directory holds
``config.json`` + ``model.safetensors`` exactly as the reference's ``save_pretrained`` lays them out (a few KB:
tiny random configs), ``expected.safetensors`` (fixed inputs, and the reference's loss, hidden states and logits
on them) and ``meta.json`` (peer commit, versions, the case list). Randomness inside the references' forward
(PIXEL's masking noise) is replaced by fixed values on both sides: see each maker. Only module-level imports that
the pretraining forward never uses are stubbed (wandb, the repos' renderers, diffusers, ...), named below.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import platform
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent


def _stub(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


def _package(name: str, path: Path) -> None:
    """A namespace stub for a package whose __init__ would import half the repository."""
    mod = _stub(name)
    mod.__path__ = [str(path)]


def _load(name: str, file: Path):
    spec = importlib.util.spec_from_file_location(name, file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


class _Dummy:  # stands in for classes the pretraining forward never touches
    def __init__(self, *a, **k):
        raise RuntimeError("stub: not used by the parity run")


def _save(out: Path, model, config_dict: dict, expected: dict, meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if meta.pop("drop_embed_tokens", False):
        state.pop("embed_tokens.weight", None)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config_dict, indent=1, sort_keys=True) + "\n")
    save_file({k: v.detach().contiguous() for k, v in expected.items()}, str(out / "expected.safetensors"))
    import transformers
    meta.update(torch=torch.__version__, transformers=transformers.__version__, python=platform.python_version(),
                command=" ".join([Path(sys.executable).name, *sys.argv]))
    (out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    print(json.dumps({"out": str(out), "keys": len(state), "bytes": (out / "model.safetensors").stat().st_size}))


def _commit(peer: Path) -> str:
    f = peer / "COMMIT"
    return f.read_text().strip() if f.exists() else "unknown"


# ---------------------------------------------------------------------------------------------- PIXEL


def make_pixel(peer: Path, out: Path) -> None:
    """PIXELForPreTraining (xplip/pixel src/pixel/models/pixel), random tiny config, 3 channels, a 4 x 4 grid of
    4 px patches laid as one 4 x 64 strip (PIXEL-base's image_size is (16, 8464): one strip of 529 patches).

    Fixed masking: ``controlled_masking`` draws ``torch.rand`` noise on top of ``patch_mask``; it is replaced for
    the forward by ``arange / (100 N)``, so with a patch mask dropping exactly N - int(N (1 - ratio)) patches the
    kept patches are exactly the unmasked ones, in strip order (as our model keeps them)."""
    src = peer / "src" / "pixel"
    _stub("wandb")
    _package("pixel", src)
    _package("pixel.models", src / "models")
    _package("pixel.models.pixel", src / "models" / "pixel")
    _stub("pixel.utils", DependencyParsingModelOutput=object, format_mask=None)
    _stub("pixel.models.biaffine", Biaffine=_Dummy)
    _stub("pixel.models.pooling", PoolingForSequenceClassificationHead=_Dummy,
          PoolingMode=types.SimpleNamespace(MEAN="mean"))
    _stub("pixel.models.vit", ViTModel=_Dummy)
    cfg_mod = _load("pixel.models.pixel.configuration_pixel", src / "models" / "pixel" / "configuration_pixel.py")
    mp = _load("pixel.models.pixel.modeling_pixel", src / "models" / "pixel" / "modeling_pixel.py")

    p, side = 4, 4
    n = side * side
    cfg = cfg_mod.PIXELConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                              decoder_hidden_size=16, decoder_num_hidden_layers=2, decoder_num_attention_heads=2,
                              decoder_intermediate_size=32, image_size=(p, p * n), patch_size=p, num_channels=3,
                              mask_ratio=0.25, norm_pix_loss=True, hidden_dropout_prob=0.0,
                              attention_probs_dropout_prob=0.0, architectures=["PIXELForPreTraining"])
    torch.manual_seed(0)
    model = mp.PIXELForPreTraining(cfg).eval()
    with torch.no_grad():  # post_init leaves LayerNorms at 1/0 and biases at 0: randomize so they are tested
        for name, prm in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                prm.add_(torch.randn_like(prm) * 0.1)
    b = 2
    gray = torch.rand(b, p, p * n)  # a gray strip, 0-1
    gray[1, :, p * 10:] = 1.0  # sample 1: 10 text patches + white padding
    attention = torch.ones(b, n, dtype=torch.long)
    attention[1, 11:] = 0  # text + EOS
    n_drop = n - int(n * (1 - cfg.mask_ratio))
    patch_mask = torch.zeros(b, n)
    patch_mask[0, [1, 2, 3, 7]] = 1
    patch_mask[1, [0, 4, 5, 9]] = 1
    assert int(patch_mask.sum(1)[0]) == n_drop
    cases = {}
    for case, img in (("gray3", gray[:, None].expand(b, 3, p, p * n)),  # gray replicated to RGB, as PIXEL-base
                      ("rgb", torch.rand(b, 3, p, p * n))):
        real_rand = torch.rand
        torch.rand = lambda bs, length, device=None: (  # noqa: E731
            torch.arange(length, dtype=torch.float32) / length)[None].expand(bs, length).to(device)
        try:
            with torch.no_grad():
                o = model(pixel_values=img.contiguous(), attention_mask=attention, patch_mask=patch_mask,
                          output_hidden_states=True)
        finally:
            torch.rand = real_rand
        cases[case] = {f"{case}.pixel_values": img.contiguous(), f"{case}.loss": o.loss.reshape(1),
                       f"{case}.logits": o.logits, f"{case}.mask": o.mask,
                       f"{case}.encoder_last_hidden": model.vit.layernorm(o.hidden_states[-1])}
    expected = {"attention_mask": attention, "patch_mask": patch_mask, "gray": gray}
    for d in cases.values():
        expected.update(d)
    _save(out, model, cfg.to_dict(), expected,
          {"peer": "xplip/pixel", "commit": _commit(peer), "model_class": "PIXELForPreTraining",
           "cases": sorted(cases), "patch_size": p, "num_patches": n,
           "fixed_noise": "controlled_masking's torch.rand replaced by arange(N) / N (then / 100 by the peer)"})


# ---------------------------------------------------------------------------------------------- PixelGPT


def make_pixelgpt(peer: Path, out: Path) -> None:
    """ErniePixelForCausalLM (ernie-research/pixelgpt src/ernie_pixel), random tiny config, 3 channels, 4 px
    patches, 12 patches per strip + 8 tokens; three cases: pixels only, text only, a pixel-text pair. No
    randomness in its forward. ``scripts.generation.run_text_generation`` (imported at module level for a
    generation constant, absent from the repository) is stubbed."""
    src = peer / "src" / "ernie_pixel"
    _stub("scripts")
    _stub("scripts.generation")
    _stub("scripts.generation.run_text_generation", MAX_LENGTH=2048)
    _package("ernie_pixel", src)
    cfg_mod = _load("ernie_pixel.configuration_ernie_pixel", src / "configuration_ernie_pixel.py")
    _load("ernie_pixel.patch_embed", src / "patch_embed.py")
    mm = _load("ernie_pixel.modeling_ernie_pixel", src / "modeling_ernie_pixel.py")
    p, n, t, vocab = 4, 12, 8, 50
    cfg = cfg_mod.ErniePixelConfig(vocab_size=vocab, hidden_size=16, intermediate_size=40, num_hidden_layers=2,
                                   num_attention_heads=2, max_position_embeddings=64, image_size=(p, p * n),
                                   patch_size=p, num_channels=3, architectures=["ErniePixelForCausalLM"])
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    model = mm.ErniePixelForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                prm.add_(torch.randn_like(prm) * 0.1)
    b = 2
    img = torch.rand(b, 3, p, p * n)
    img[1, :, :, p * 7:] = 1.0
    patch_att = torch.ones(b, n, dtype=torch.long)
    patch_att[1, 8:] = 0
    ids = torch.randint(3, vocab, (b, t))
    text_att = torch.ones(b, t, dtype=torch.long)
    text_att[1, 5:] = 0
    labels = ids.masked_fill(text_att == 0, -100)
    expected = {"pixel_values": img, "patch_attention": patch_att, "input_ids": ids, "text_attention": text_att,
                "labels": labels}
    with torch.no_grad():
        o = model(pixel_values=img, attention_mask=patch_att, output_hidden_states=True)
        expected.update({"pixel.loss": o.loss.reshape(1), "pixel.logits_pixel": o.logits_pixel,
                         "pixel.last_hidden": o.hidden_states[-1]})
        o = model(input_ids=ids, attention_mask=text_att, labels=labels, output_hidden_states=True)
        expected.update({"text.loss": o.loss.reshape(1), "text.logits_token": o.logits_token,
                         "text.last_hidden": o.hidden_states[-1]})
        # ErniePixelForCausalLM.forward does not pass ``patch_attention_mask`` on to ErniePixelModel, whose pair
        # branch concatenates it with the text mask (a None there raises): the one call is completed here
        inner = model.model.forward
        model.model.forward = lambda *a, **k: inner(*a, patch_attention_mask=patch_att, **k)
        o = model(pixel_values=img, input_ids=ids, attention_mask=text_att, pixel_attention_mask=patch_att,
                  labels=labels, output_hidden_states=True)
        model.model.forward = inner
        expected.update({"pair.loss": o.loss.reshape(1), "pair.logits_pixel": o.logits_pixel,
                         "pair.logits_token": o.logits_token, "pair.last_hidden": o.hidden_states[-1]})
    _save(out, model, cfg.to_dict(), expected,
          {"peer": "ernie-research/pixelgpt", "commit": _commit(peer), "model_class": "ErniePixelForCausalLM",
           "cases": ["pixel", "text", "pair"], "patch_size": p, "num_patches": n, "attn_implementation": "eager"})


# ---------------------------------------------------------------------------------------------- PIXAR


def make_pixar(peer: Path, out: Path) -> None:
    """april-tools/pixar's stage-1 model: ``LlamaForPatchCausalInference`` (LatentPixel/modeling/llama.py) as
    ``LatentLlama.load_backbone`` sets it up (num_channel 1, patch_size 8, patch_len 2, binary, no token
    embedding), run as ``LatentLlama.latent_forward`` runs it (pixels in [0, 1] mapped to [-1, 1]) with its
    ``forward_loss`` (binary: per-sample BCE over attended target pixels, mean over the batch). The module-level
    imports that pretraining never reaches are stubbed: diffusers, the renderer-bound LatentPixel package,
    TGraph and LatentModel."""
    lp = peer / "LatentPixel"
    _stub("diffusers", AutoencoderKL=_Dummy)
    _stub("pixel", PangoCairoTextRenderer=_Dummy, Encoding=_Dummy, SpanMaskingGenerator=_Dummy,
          PIXELForPreTraining=_Dummy, PIXELForPreTrainingOutput=_Dummy)
    _package("LatentPixel", lp)
    _package("LatentPixel.modeling", lp / "modeling")
    _stub("LatentPixel.config", RenderConfig=_Dummy)
    _stub("LatentPixel.text_graph", TGraph=_Dummy)
    _stub("LatentPixel.modeling.latent_model", LatentModel=torch.nn.Module)
    utils = _load("LatentPixel.utils", lp / "utils.py")
    ll = _load("LatentPixel.modeling.llama", lp / "modeling" / "llama.py")
    from transformers import LlamaConfig
    p, patch_len, positions = 8, 2, 10
    cfg = LlamaConfig(vocab_size=8, hidden_size=16, intermediate_size=40, num_hidden_layers=2, num_attention_heads=2,
                      max_position_embeddings=64, architectures=["LlamaForPatchCausalInference"])
    for k, v in (("num_channel", 1), ("patch_size", p), ("patch_len", patch_len), ("binary", True)):
        setattr(cfg, k, v)
    torch.manual_seed(0)
    model = ll.LlamaForPatchCausalInference(cfg).eval()
    del model.embed_tokens  # as LatentLlama.load_backbone does: positions arrive as pixels
    model.embed_tokens = None
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if "norm" in name:
                prm.add_(torch.randn_like(prm) * 0.1)
    b = 2
    img = (torch.rand(b, 1, p, p * patch_len * positions) > 0.5).float()
    img[1, :, :, p * patch_len * 6:] = 1.0
    att = torch.ones(b, positions, dtype=torch.long)
    att[1, 7:] = 0
    ns = types.SimpleNamespace(latent_patch_size=p, patch_len=patch_len, binary=True, compressor=None,
                               num_latent_channel=1)
    with torch.no_grad():
        o = model.forward(attention_mask=att, inputs_embeds=img * 2 - 1, output_hidden_states=True)
        loss = ll.LatentLlama.forward_loss(ns, o.last_hidden_state, img, att)
    assert utils.mask2img is not None
    expected = {"pixel_values": img, "attention_mask": att, "loss": loss.reshape(1),
                "logits_image": o.last_hidden_state, "last_hidden": o.hidden_states[-1]}
    _save(out, model, cfg.to_dict(), expected,
          {"peer": "april-tools/pixar", "commit": _commit(peer), "model_class": "LlamaForPatchCausalInference",
           "loss": "LatentLlama.forward_loss (binary, no compressor)", "patch_size": p, "patch_len": patch_len,
           "positions": positions, "cases": ["binary"]})


MAKERS = {"pixel-hf": make_pixel, "pixelgpt-hf": make_pixelgpt, "pixar": make_pixar}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("format", choices=sorted(MAKERS))
    ap.add_argument("--peer", type=Path, required=True, help="the peer repository's files (git archive)")
    ap.add_argument("--out", type=Path, help="asset directory (default: next to this script, <format>/)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    MAKERS[a.format](a.peer.resolve(), a.out or HERE / a.format)
    return 0


if __name__ == "__main__":
    sys.exit(main())
