"""Damaged and foreign checkpoint files, published or ours: each is refused naming the file, the key and the fix
(never a traceback, a silent cast, an allocation of an absurd size, or weights left random). Imports that must
match the references: test_importers.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pixelkit.trainer.importers import CheckpointError, build, convert
from pixelkit.trainer.models.base import LoadingError
from pixelkit.trainer.models.pixel import PixelForPreTraining
from test_importers import ASSETS, _copy_asset

def test_broken_checkpoint_files_are_refused_with_the_file_named(tmp_path):
    """Untrusted files: a cut safetensors file, an index that is not JSON or maps names to a list, a shard named
    '..', a .bin that is not a pickle -- each a CheckpointError naming the file (pixel-train: one line, exit 2),
    where they were tracebacks (SafetensorError, JSONDecodeError, AttributeError)."""
    def broken(name: str, edit) -> Path:
        src = _copy_asset("pixel-hf", tmp_path / name)
        edit(src)
        return src

    def sharded(index: str):
        def edit(src: Path) -> None:
            (src / "model.safetensors").rename(src / "shard-1.safetensors")
            (src / "model.safetensors.index.json").write_text(index)
        return edit

    cases = {
        "cut": (lambda s: (s / "model.safetensors").write_bytes((s / "model.safetensors").read_bytes()[:100]),
                "model.safetensors is not a readable safetensors file"),
        "index-not-json": (sharded("{not json"), "model.safetensors.index.json is not valid JSON"),
        "index-list": (sharded('{"weight_map": ["shard-1.safetensors"]}'), "'weight_map' must map tensor names"),
        "index-dotdot": (sharded('{"weight_map": {"a": ".."}}'), "names a shard outside its directory: '..'"),
        "bin-not-pickle": (lambda s: ((s / "model.safetensors").unlink(), (s / "pytorch_model.bin").write_bytes(b"x")),
                           "pytorch_model.bin is not a readable PyTorch weights file"),
        "config-not-json": (lambda s: (s / "config.json").write_text("{"), "config.json is not valid JSON"),
    }
    for name, (edit, message) in cases.items():
        with pytest.raises(CheckpointError, match=message):
            convert(broken(name, edit))



def test_a_broken_init_from_is_a_config_error(tmp_path):
    """``finetune --init DIR`` (trainer/loading.read_pretrained): a cut safetensors file or a config.json that is
    not JSON is a ConfigError naming the file (pixel-train: one line, exit 2), not a traceback."""
    from pixelkit.trainer.loading import read_pretrained
    from pixelkit.trainer.spec import ConfigError

    model = build(convert(ASSETS / "pixel-hf"))
    model.save_pretrained(tmp_path / "ours")
    files = sorted((tmp_path / "ours").glob("model*.safetensors"))
    files[0].write_bytes(files[0].read_bytes()[:100])
    with pytest.raises(ConfigError, match=f"init_from {files[0]}: not a readable safetensors file"):
        read_pretrained(tmp_path / "ours")
    model.save_pretrained(tmp_path / "ours")
    (tmp_path / "ours" / "config.json").write_text("{")
    with pytest.raises(ConfigError, match="init_from .*config.json is not valid JSON"):
        read_pretrained(tmp_path / "ours")


def test_a_size_mismatch_in_our_checkpoint_is_a_loading_error_naming_the_key(tmp_path):
    """A config.json whose sizes disagree with its weights (here intermediate_size edited): transformers raised a
    bare RuntimeError pointing at its log (pixel-train: a traceback); now LoadingError with the key and both
    shapes, as the README documents for size-mismatched keys."""
    model = build(convert(ASSETS / "pixel-hf"))
    model.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    want = cfg["intermediate_size"]
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "intermediate_size": want + 8}))
    hidden = cfg["hidden_size"]
    with pytest.raises(LoadingError, match=rf"of another shape.*encoder\.0\.mlp\.fc1\.bias \(checkpoint "
                                           rf"\({want},\), model \({want + 8},\)\).*fc1\.weight \(checkpoint "
                                           rf"\({want}, {hidden}\)"):
        PixelForPreTraining.from_pretrained(tmp_path)
    # an absurd size is reported the same way, from the headers and a model on the meta device: before, building
    # the model allocated it first (here ~2 TB: a RuntimeError from the allocator, or the machine out of memory)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 2 ** 30}))
    with pytest.raises(LoadingError, match=rf"of another shape.*fc1\.bias \(checkpoint \({want},\), model "
                                           rf"\({2 ** 30},\)\)"):
        PixelForPreTraining.from_pretrained(tmp_path)


def test_our_dir_without_config_or_with_a_cut_file_is_named(tmp_path):
    """Our layout through ``from_pretrained``: without config.json transformers built the config class's defaults
    (a base-size model) and reported all 300-odd keys missing or mis-shaped; a cut model.safetensors was a bare
    SafetensorError naming no file. Each is now a LoadingError naming the file and the fix."""
    model = build(convert(ASSETS / "pixel-hf"))
    model.save_pretrained(tmp_path / "nocfg")
    (tmp_path / "nocfg" / "config.json").unlink()
    with pytest.raises(LoadingError, match="nocfg: no config.json there"):
        PixelForPreTraining.from_pretrained(tmp_path / "nocfg")
    model.save_pretrained(tmp_path / "cut")
    f = tmp_path / "cut" / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(LoadingError, match=f"{f} is not a readable safetensors file"):
        PixelForPreTraining.from_pretrained(tmp_path / "cut")


def test_absurd_sizes_in_a_config_json_are_refused_naming_it(tmp_path):
    """config.json is untrusted: a negative width, zero heads or a text patch size was a torch RuntimeError /
    ZeroDivisionError / ValueError traceback inside a constructor, on each way in (from_pretrained on our layout,
    finetune --init, a published layout's import). Now a ConfigError naming the file and the value."""
    from types import SimpleNamespace

    from pixelkit.trainer.finetune import encoder_config
    from pixelkit.trainer.models.base import ConfigError
    from pixelkit.trainer.spec import DataInfo

    def edited(name: str, src: Path, **sizes) -> Path:
        dst = tmp_path / name
        shutil.copytree(src, dst)
        cfg = json.loads((dst / "config.json").read_text())
        (dst / "config.json").write_text(json.dumps({**cfg, **sizes}))
        return dst

    build(convert(ASSETS / "pixel-hf")).save_pretrained(tmp_path / "ours")
    with pytest.raises(ConfigError, match=r"neg/config.json: hidden_size=-64: sizes must be whole numbers"):
        PixelForPreTraining.from_pretrained(edited("neg", tmp_path / "ours", hidden_size=-64))
    with pytest.raises(ConfigError, match=r"zero/config.json: num_attention_heads=0"):
        encoder_config(SimpleNamespace(init_from=str(edited("zero", tmp_path / "ours", num_attention_heads=0)),
                                       model="pixel", model_overrides={}), DataInfo("gray", 4, 16))
    with pytest.raises(ConfigError, match=r"odd/config.json: hidden_size=17 does not split into num_attention_heads"):
        PixelForPreTraining.from_pretrained(edited("odd", tmp_path / "ours", hidden_size=17))
    with pytest.raises(ConfigError, match=r"text/config.json: patch_size='x'"):
        convert(edited("text", ASSETS / "pixel-hf", patch_size="x"))
    with pytest.raises(ConfigError, match=r"nul/config.json: patch_size=0"):
        convert(edited("nul", ASSETS / "pixelgpt-hf", patch_size=0))


def test_a_published_config_without_a_size_or_with_a_bad_image_size_is_named(tmp_path):
    """A published config.json lacking hidden_size was a bare KeyError; an image_size that is no (h, w) pair a
    ValueError / TypeError from tuple unpacking. Now errors naming the file and the field."""
    from pixelkit.trainer.models.base import ConfigError

    def edited(name: str, fmt: str, drop: str = "", **fields) -> Path:
        dst = _copy_asset(fmt, tmp_path / name)
        cfg = {k: v for k, v in json.loads((dst / "config.json").read_text()).items() if k != drop}
        (dst / "config.json").write_text(json.dumps({**cfg, **fields}))
        return dst

    for fmt in ("pixelgpt-hf", "pixar"):
        with pytest.raises(CheckpointError, match=f"{fmt}/config.json lacks hidden_size: not a complete {fmt}"):
            convert(edited(f"no-{fmt}", fmt, drop="hidden_size"))
    with pytest.raises(ConfigError, match=r"config.json: image_size=\[16\]"):
        convert(edited("one", "pixel-hf", image_size=[16]))
    with pytest.raises(ConfigError, match=r"config.json: image_size=\[16, 'w'\]"):
        convert(edited("text", "pixelgpt-hf", image_size=[16, "w"]))
    with pytest.raises(CheckpointError, match=r"image_size \(16, 16\) is not one strip of 4px patches"):
        convert(edited("square", "pixelgpt-hf", image_size=16))


def _refused_on_every_path(tmp_path, ours, published, ours_msg, encoder_msg, published_msg):
    """A damaged weight, edited by ``ours(state)`` into a saved model and by ``published(state)`` into the
    pixel-hf asset, is refused by from_pretrained, finetune --init (``load_encoder``) and an import."""
    from pixelkit.trainer.loading import load_encoder
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel

    model = build(convert(ASSETS / "pixel-hf"))
    model.save_pretrained(tmp_path / "ours")
    f = tmp_path / "ours" / "model.safetensors"
    save_file(ours(load_file(str(f))), str(f), metadata={"format": "pt"})
    with pytest.raises(LoadingError, match=ours_msg):
        PixelForPreTraining.from_pretrained(tmp_path / "ours")
    task = {"name": "pos", "family": "tagging", "input": "words", "label_names": ["NOUN", "VERB"]}
    head = TaskModel(TaskConfig(encoder="pixel", encoder_config=model.config.to_dict(), head="tagging", task=task))
    with pytest.raises(LoadingError, match=encoder_msg):
        load_encoder(head, tmp_path / "ours")
    src = _copy_asset("pixel-hf", tmp_path)
    save_file(published(load_file(str(src / "model.safetensors"))), str(src / "model.safetensors"))
    with pytest.raises(LoadingError, match=published_msg):
        PixelForPreTraining.from_pretrained(src)


def _edited(key: str, edit):
    return lambda state: {**state, key: edit(state[key].clone())}


def test_a_float_weight_stored_as_integers_is_refused(tmp_path):
    """torch's copy casts silently: an int64 encoder_norm.weight (a damaged or foreign file) loaded as floats under
    from_pretrained, finetune --init and an import. Each now names the key and its stored dtype; a bf16 file (a
    bf16 run's weights) still loads into fp32, cast."""
    build(convert(ASSETS / "pixel-hf")).save_pretrained(tmp_path / "half")
    f = tmp_path / "half" / "model.safetensors"
    state = load_file(str(f))
    save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, str(f), metadata={"format": "pt"})
    half = PixelForPreTraining.from_pretrained(tmp_path / "half")
    assert torch.equal(half.encoder_norm.weight, state["encoder_norm.weight"].to(torch.bfloat16).float())
    _refused_on_every_path(tmp_path, _edited("encoder_norm.weight", lambda w: w.long()),
                           _edited("vit.layernorm.weight", lambda w: w.to(torch.int32)),
                           r"stored as integers or booleans: \['encoder_norm.weight \(I64\)'\]",
                           r"encoder_norm.weight \(torch.int64\)", r"encoder_norm.weight \(torch.int32\)")


def test_another_variants_checkpoint_is_named_as_such(tmp_path):
    """A PIXAR model dir given to PIXEL (``pretrain --model pixel --set init_from=...``): the LoadingError listed
    38 missing keys and suggested allow_missing=; it now says which variant the dir holds and how to load it."""
    from pixelkit.trainer.models import DataInfo, get_variant
    v = get_variant("pixar")
    v.model_class(v.config("debug", {}, DataInfo("binary", 8, 16))).save_pretrained(tmp_path)
    with pytest.raises(LoadingError, match=r"holds a 'pixelkit-pixar' model, not 'pixelkit-pixel': load it as that "
                                           r"variant \(AutoModel picks it; pretrain: --model pixar\)\. .* missing"):
        PixelForPreTraining.from_pretrained(tmp_path)


def test_import_into_its_own_directory_is_refused(tmp_path):
    """``pixel-train import --from X --out X`` wrote our config.json and model.safetensors over the published
    checkpoint's; now refused, the source untouched."""
    from pixelkit.trainer.importers import write
    src = _copy_asset("pixel-hf", tmp_path)
    before = {f.name: f.read_bytes() for f in src.iterdir()}
    with pytest.raises(CheckpointError, match="is the checkpoint being imported"):
        write(convert(src), "pixel-hf", src, tmp_path / "pixel-hf" / ".." / "pixel-hf")
    assert {f.name: f.read_bytes() for f in src.iterdir()} == before


def test_weights_holding_nan_or_inf_are_refused(tmp_path):
    """A diverged run's weights (one NaN, one inf) loaded silently: every forward gave NaN and finetuning trained
    on it. from_pretrained, finetune --init (load_encoder) and an import now name the key."""
    def nan(w):
        w[3] = float("nan")
        return w

    def inf(w):
        w[0] = float("-inf")
        return w
    _refused_on_every_path(tmp_path, _edited("encoder_norm.weight", nan), _edited("vit.layernorm.bias", inf),
                           r"1 weight\(s\) hold NaN or inf: \['encoder_norm.weight'\]",
                           r"hold NaN or inf: \['encoder_norm.weight'\]", r"hold NaN or inf: \['encoder_norm.bias'\]")
