"""``pixel-train import`` and the loaders (from_pretrained, init_from, finetune --init, evaluate --model) on hostile
checkpoints, published or ours: config fields of the wrong type, shapes that disagree with config.json, broken
shard indexes, pickles holding code, another variant's or a finetuned model's directory. Each is refused naming the
file or key and the fix -- never a traceback, an allocation of an absurd size or an unpickled object. An --out that
is not a fresh directory, a killed import: test_import_out.py; more damaged files: test_loading_hostile.py; exact
imports: test_importers.py."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pixelkit.trainer.importers import CheckpointError, convert, detect
from pixelkit.trainer.models.pixel import PixelForPreTraining
from test_importers import _copy_asset


def _edit_config(src: Path, drop: tuple[str, ...] = (), **fields) -> Path:
    cfg = {k: v for k, v in json.loads((src / "config.json").read_text()).items() if k not in drop}
    (src / "config.json").write_text(json.dumps({**cfg, **fields}))
    return src


def test_architectures_that_is_not_a_list_is_no_architecture(tmp_path):
    """``architectures`` read from an untrusted config.json: a number there was a TypeError traceback in format
    detection -- under import, from_pretrained and init_from of any directory. Now it names no architecture."""
    src = _edit_config(_copy_asset("pixelgpt-hf", tmp_path), drop=("model_type",), architectures=5)
    assert detect(src) is None
    with pytest.raises(CheckpointError, match="is not a pixelgpt-hf checkpoint"):
        convert(src, "pixelgpt-hf")
    assert detect(_edit_config(src, model_type="ernie-pixel")) == "pixelgpt-hf"


def _edit_weights(src: Path, key: str, edit) -> Path:
    state = load_file(str(src / "model.safetensors"))
    state[key] = edit(state[key])
    save_file(state, str(src / "model.safetensors"))
    return src


def test_shapes_that_disagree_with_config_json_are_named_before_anything_is_allocated(tmp_path):
    """A tensor of another shape than config.json implies was a bare RuntimeError from torch's load_state_dict (or
    from a reshape when folding channels); an absurd size in config.json (~1e12) was allocated first -- a
    RuntimeError from the allocator, or the machine out of memory. Each is now a CheckpointError naming the key and
    both shapes, checked on the meta device before the model is built."""
    q = "vit.encoder.layer.0.attention.attention.query.weight"
    src = _edit_weights(_copy_asset("pixel-hf", tmp_path / "q"), q, lambda t: torch.zeros(t.shape[0], 3))
    with pytest.raises(CheckpointError, match=r"q/pixel-hf: 1 tensor\(s\), imported as pixel, of another shape than its "
                                              r"config.json implies: \['encoder.0.attention.q_proj.weight \(16, 3\) "
                                              r"from the weights, \(16, 16\) by config.json'\]"):
        PixelForPreTraining.from_pretrained(src)
    huge = _edit_config(_copy_asset("pixelgpt-hf", tmp_path / "huge"), intermediate_size=2 ** 40)
    with pytest.raises(CheckpointError, match=rf"decoder.layers.0.mlp.down_proj.weight \(16, 40\) from the weights, "
                                              rf"\(16, {2 ** 40}\) by config.json.*\(\+2 more\)"):
        convert(huge)
    wide = _edit_config(_copy_asset("pixel-hf", tmp_path / "wide"), hidden_size=2 ** 40)
    with pytest.raises(CheckpointError, match=rf"position_embeddings has shape \(1, 17, 16\), but its config.json "
                                              rf"implies \(1, 17, {2 ** 40}\)"):
        convert(wide)
    head = _edit_weights(_copy_asset("pixelgpt-hf", tmp_path / "head"), "lm_pixel_head.weight",
                         lambda t: torch.zeros(5, t.shape[1]))
    with pytest.raises(CheckpointError, match=r"lm_pixel_head.weight has shape \(5, 16\), but its config.json "
                                              r"implies \(48, 16\)"):
        convert(head, channels=1)


def _sharded(src: Path) -> dict[str, str]:
    """Split the asset's model.safetensors into two shards + index (as save_pretrained shards); the weight map."""
    state = load_file(str(src / "model.safetensors"))
    (src / "model.safetensors").unlink()
    keys = sorted(state)
    names = {k: f"model-0000{1 + (i >= len(keys) // 2)}-of-00002.safetensors" for i, k in enumerate(keys)}
    for shard in sorted(set(names.values())):
        save_file({k: state[k] for k in keys if names[k] == shard}, str(src / shard))
    (src / "model.safetensors.index.json").write_text(json.dumps({"weight_map": names}))
    return names


def test_a_sharded_checkpoint_with_a_missing_or_doubled_shard_is_named(tmp_path):
    """An index naming a shard that is not there (an interrupted download) was a FileNotFoundError traceback, one
    that is a directory an OSError; a tensor in two shards was taken silently from whichever was read last. Each is
    now a CheckpointError naming the shard(s) and the fix; a whole sharded checkpoint imports as the single file."""
    whole = convert(_copy_asset("pixel-hf", tmp_path / "whole"))
    ok = _copy_asset("pixel-hf", tmp_path / "ok")
    _sharded(ok)
    assert all(torch.equal(v, whole.state_dict[k]) for k, v in convert(ok).state_dict.items())
    gone = _copy_asset("pixel-hf", tmp_path / "gone")
    _sharded(gone)
    (gone / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"names shard 'model-00002-of-00002.safetensors', which is not a file "
                                              r"in .*gone/pixel-hf: the checkpoint is incomplete"):
        convert(gone)
    (gone / "model-00002-of-00002.safetensors").mkdir()
    with pytest.raises(CheckpointError, match="which is not a file"):
        convert(gone)
    twice = _copy_asset("pixel-hf", tmp_path / "twice")
    names = _sharded(twice)
    first = sorted(names)[0]  # in shard 1; a zeroed copy is put in shard 2 too
    second = twice / "model-00002-of-00002.safetensors"
    zeros = torch.zeros_like(load_file(str(twice / "model-00001-of-00002.safetensors"))[first])
    save_file({**load_file(str(second)), first: zeros}, str(second))
    with pytest.raises(CheckpointError, match=rf"\['{first}'\] are in both model-00001-of-00002.safetensors and "
                                              rf"model-00002-of-00002.safetensors"):
        convert(twice)


def test_continued_pretraining_from_another_variant_or_a_finetuned_model_is_named(tmp_path, gray_shards):
    """``pretrain --model pixel --set init_from=DIR`` built the checkpoint's config as a PixelConfig (transformers
    only warned): a PixelGPT dir got through every check and failed inside the engine with an AttributeError
    traceback, a PIXAR dir was reported as a patch size the shards lack, a finetuned task model was read as a
    PIXEL config. Now prepare() names what the dir holds and the fix, before any engine starts."""
    from pixelkit.trainer.config import load_config
    from pixelkit.trainer.engine import prepare
    from pixelkit.trainer.models import DataInfo, get_variant
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel

    def saved(variant: str, mode: str, patch: int) -> Path:
        v = get_variant(variant)
        v.model_class(v.config("debug", {}, DataInfo(mode, patch, 16, 1024))).save_pretrained(tmp_path / variant)
        return tmp_path / variant

    def pretrain(init: Path):
        return prepare(load_config(None, {"model": "pixel", "flavor": "debug", "data": {"train": [str(gray_shards)]},
                                          "init_from": str(init), "output_dir": str(tmp_path / "run")}))

    for variant, mode, patch in (("pixelgpt", "gray", 16), ("pixar", "binary", 8)):
        with pytest.raises(CheckpointError, match=f"holds a 'pixelkit-{variant}' model, not 'pixelkit-pixel': "
                                                  f"pretrain it with --model {variant}"):
            pretrain(saved(variant, mode, patch))
    pixel = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 16))
    task = {"name": "pos", "family": "tagging", "input": "words", "label_names": ["NOUN", "VERB"]}
    TaskModel(TaskConfig(encoder="pixel", encoder_config=pixel.to_dict(), head="tagging", task=task)).save_pretrained(
        tmp_path / "task")
    with pytest.raises(CheckpointError, match="holds a finetuned task model; continued pretraining starts from a "
                                              "pretraining model"):
        pretrain(tmp_path / "task")
    assert pretrain(saved("pixel", "gray", 16))[3].model_type == "pixelkit-pixel"


def test_config_settings_of_the_wrong_type_or_impossible_values_are_named(tmp_path):
    """config.json is untrusted beyond its sizes too: a string epsilon or an integer for a flag was a
    StrictDataclassFieldValidationError traceback from the config class, a null init range a TypeError inside
    weight init, and a string mask ratio or dropout 2.0 was imported / loaded silently (failing in training, or
    training with nonsense). Now ConfigError naming the file and each setting -- under import, from_pretrained
    and finetune --init."""
    from types import SimpleNamespace

    from pixelkit.trainer.finetune import encoder_config
    from pixelkit.trainer.importers import build
    from pixelkit.trainer.spec import ConfigError, DataInfo

    src = _edit_config(_copy_asset("pixel-hf", tmp_path / "pub"), qkv_bias=1, mask_ratio="x", initializer_range=None)
    with pytest.raises(ConfigError, match=r"pub/pixel-hf/config.json: .*initializer_range=None, .*mask_ratio='x', "
                                          r".*qkv_bias=1: not what PixelConfig takes"):
        convert(src)
    build(convert(_copy_asset("pixel-hf", tmp_path / "ok"))).save_pretrained(tmp_path / "ours")
    ours = _edit_config(tmp_path / "ours", layer_norm_eps="x")
    with pytest.raises(ConfigError, match=r"ours/config.json: layer_norm_eps='x': not what PixelConfig takes"):
        PixelForPreTraining.from_pretrained(ours)
    _edit_config(ours, layer_norm_eps=1e-12, hidden_dropout_prob=2.0)
    with pytest.raises(ConfigError, match=r"ours/config.json: hidden_dropout_prob=2.0: .*dropouts and ratios in "):
        encoder_config(SimpleNamespace(init_from=str(ours), model=None, model_overrides={}), DataInfo("gray", 4, 16))
    _edit_config(ours, hidden_dropout_prob=0.0)
    assert PixelForPreTraining.from_pretrained(ours).config.hidden_dropout_prob == 0.0


def test_a_model_safetensors_that_is_not_a_file_is_named(tmp_path):
    """A saved model dir whose model.safetensors is a directory or a link to nothing (a half-copied tree) passed
    the run's init_from check (it globbed names) and failed inside the engine with transformers' OSError "no file
    named model.safetensors" traceback; from_pretrained raised the same. Now the check refuses it at start and the
    loaders name the file."""
    from pixelkit.trainer.checks import weights_problem
    from pixelkit.trainer.importers import build
    from pixelkit.trainer.loading import read_pretrained
    from pixelkit.trainer.models.base import LoadingError
    from pixelkit.trainer.spec import ConfigError

    build(convert(_copy_asset("pixel-hf", tmp_path / "src"))).save_pretrained(tmp_path / "m")
    f = tmp_path / "m" / "model.safetensors"
    f.unlink()
    os.symlink(tmp_path / "gone.safetensors", f)
    assert "holds no config.json + model weights" in weights_problem(str(tmp_path / "m"))
    with pytest.raises(LoadingError, match=f"{f} is not a file \\(a directory, or a link to nothing\\)"):
        PixelForPreTraining.from_pretrained(tmp_path / "m")
    f.unlink()
    f.mkdir()
    with pytest.raises(ConfigError, match=f"init_from {f} is not a file"):
        read_pretrained(tmp_path / "m")


def test_evaluate_names_a_damaged_finetuned_config(tmp_path):
    """``pixel-train evaluate --model DIR`` on a finetuned model whose config.json was damaged: an encoder_config
    that is not an object was a ValueError traceback, a null task a KeyError, a negative encoder width a torch
    RuntimeError. Now exit 2 naming the file and the field, before anything is built. A published (pretrained)
    checkpoint given as a finetuned model is named as such, with the fix."""
    from pixelkit.trainer.cli import main
    from pixelkit.trainer.models import DataInfo, get_variant
    from pixelkit.trainer.models.base import LoadingError
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel

    pixel = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 16))
    task = {"name": "pos", "family": "tagging", "input": "words", "label_names": ["NOUN", "VERB"]}
    TaskModel(TaskConfig(encoder="pixel", encoder_config=pixel.to_dict(), head="tagging", task=task)).save_pretrained(
        tmp_path / "best")
    good = json.loads((tmp_path / "best" / "config.json").read_text())
    for edit, message in (({"encoder_config": "x"}, "encoder_config must be an object"),
                          ({"task": None}, "task must be an object whose family is one of classification"),
                          ({"task": {**task, "label_names": "NOUN"}}, "task.label_names must be a list of names"),
                          ({"encoder_config": {**good["encoder_config"], "hidden_size": -3}},
                           "config.json encoder_config: hidden_size=-3: sizes must be whole numbers")):
        (tmp_path / "best" / "config.json").write_text(json.dumps({**good, **edit}))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(["evaluate", "--model", str(tmp_path / "best"), "--data", str(tmp_path / "no-data")])
        assert rc == 2 and "best/config.json" in err.getvalue() and message in err.getvalue(), err.getvalue()
    (tmp_path / "best" / "config.json").write_text(json.dumps(good))
    assert TaskModel.from_pretrained(tmp_path / "best").config.task == task
    # a published (pretrained) checkpoint: was "a pixel-hf checkpoint imports as pixel, not 'task'"
    with pytest.raises(LoadingError, match=r"pixel-hf holds a published pixel-hf checkpoint \(pretrained, no task "
                                           r"head\), not a finetuned model: finetune it first"):
        TaskModel.from_pretrained(Path(__file__).parent / "assets" / "parity" / "pixel-hf")


def test_config_fields_transformers_acts_on_while_loading_are_named(tmp_path):
    """A config.json asking for quantization (bitsandbytes: ImportError), flash attention (ValueError), an integer
    dtype (ValueError) or holding a text id2label (AttributeError) failed inside transformers' from_pretrained with
    a traceback. Now ConfigError naming the file, the field and what our models take."""
    from pixelkit.trainer.importers import build
    from pixelkit.trainer.spec import ConfigError

    build(convert(_copy_asset("pixel-hf", tmp_path / "src"))).save_pretrained(tmp_path / "m")
    good = json.loads((tmp_path / "m" / "config.json").read_text())
    for edit, message in (({"quantization_config": {"quant_method": "bitsandbytes", "load_in_8bit": True}},
                           "pixelkit loads full-precision weights only"),
                          ({"_attn_implementation": "flash_attention_2"}, "our models run attention 'eager' or 'sdpa'"),
                          ({"dtype": "int8"}, "dtype='int8': one of float32"),
                          ({"id2label": "x"}, r"id2label='x': an object")):
        (tmp_path / "m" / "config.json").write_text(json.dumps({**good, **edit}))
        with pytest.raises(ConfigError, match=f"m/config.json: .*{message}"):
            PixelForPreTraining.from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps({**good, "dtype": "bfloat16"}))
    PixelForPreTraining.from_pretrained(tmp_path / "m")


class _RunsCode:
    """Unpickling this calls os.system (what a hostile pytorch_model.bin does)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_holding_code_is_never_unpickled_and_the_message_gives_the_safe_fix(tmp_path):
    """A pytorch_model.bin holding an object whose unpickling runs a command: it is read with weights_only=True
    (the command never runs) -- but the import's error quoted torch's text, cut at 120 characters, which goes on to
    suggest weights_only=False, and from_pretrained on our layout raised torch's UnpicklingError. Now both name the
    object and the safe fix (a safetensors copy)."""
    src = _copy_asset("pixel-hf", tmp_path)
    state = load_file(str(src / "model.safetensors"))
    (src / "model.safetensors").unlink()
    torch.save({**state, "extra": _RunsCode(tmp_path / "ran")}, src / "pytorch_model.bin")
    with pytest.raises(CheckpointError) as e:
        convert(src)
    assert not (tmp_path / "ran").exists()
    assert re.search(r"pytorch_model.bin is not a readable PyTorch weights file: it holds Python objects besides "
                     r"tensors \(posix.system\), which unpickling would run; it is read with weights_only=True only "
                     r"-- get a safetensors copy", str(e.value))
    assert "False" not in str(e.value)
    # our layout saved as a pickle (save_pretrained(safe_serialization=False)), through from_pretrained -- which
    # pretraining's init_from uses: an UnpicklingError traceback quoting torch's advice, now the same refusal
    from pixelkit.trainer.importers import build
    from pixelkit.trainer.models.base import LoadingError
    build(convert(_copy_asset("pixel-hf", tmp_path / "src"))).save_pretrained(tmp_path / "ours")
    ours = load_file(str(tmp_path / "ours" / "model.safetensors"))
    (tmp_path / "ours" / "model.safetensors").unlink()
    torch.save({**ours, "extra": _RunsCode(tmp_path / "ran")}, tmp_path / "ours" / "pytorch_model.bin")
    with pytest.raises(LoadingError, match=r"ours/pytorch_model.bin is not a readable PyTorch weights file: it holds "
                                           r"Python objects besides tensors \(posix.system\)"):
        PixelForPreTraining.from_pretrained(tmp_path / "ours")
    assert not (tmp_path / "ran").exists()


def _without(src: Path, *keys: str) -> Path:
    state = load_file(str(src / "model.safetensors"))
    save_file({k: v for k, v in state.items() if k not in keys}, str(src / "model.safetensors"))
    return src


def test_a_checkpoint_missing_several_keys_names_them_all(tmp_path):
    """A checkpoint missing several tensors (a shard or file cut) named only the first one taken: fixing it was one
    run per key. Every missing key is named at once; one a converter computes from (a fixed table checked against
    ours, a head folded) stops it there, still a CheckpointError naming the keys missing so far."""
    gone = ("vit.encoder.layer.0.attention.attention.query.weight", "vit.layernorm.bias", "decoder.mask_token")
    with pytest.raises(CheckpointError, match=re.escape(f"pixel-hf checkpoint lacks 3 key(s) the importer needs: "
                                                        f"{sorted(gone)}; it is not a complete pixel-hf checkpoint")):
        convert(_without(_copy_asset("pixel-hf", tmp_path / "pixel"), *gone))
    gone = ("model.layers.0.mlp.up_proj.weight", "model.layers.1.self_attn.o_proj.weight", "model.norm.weight")
    with pytest.raises(CheckpointError, match=re.escape(f"lacks 3 key(s) the importer needs: {sorted(gone)}")):
        convert(_without(_copy_asset("pixelgpt-hf", tmp_path / "gpt"), *gone))
    computed = ("vit.layernorm.bias", "vit.embeddings.position_embeddings", "decoder.mask_token")
    with pytest.raises(CheckpointError, match=re.escape("lacks 1 key(s) the importer needs: "
                                                        "['vit.embeddings.position_embeddings']")):
        convert(_without(_copy_asset("pixel-hf", tmp_path / "table"), *computed))


def test_a_finetuned_pixel_checkpoint_is_named_not_called_incomplete(tmp_path, capsys):
    """A released finetuned PIXEL (PIXELForSequenceClassification: vit.*, pooler.linear / pooler.ln, classifier; no
    decoder) was refused as 'lacks decoder.decoder_pos_embed ... a shard or file of it missing or cut?'. Its head
    is not imported (never silently dropped): the refusal now says what it is and the fix."""
    from pixelkit.trainer.cli import main as train_main
    src = _copy_asset("pixel-hf", tmp_path)
    state = {k: v for k, v in load_file(str(src / "model.safetensors")).items() if not k.startswith("decoder.")}
    h = state["vit.layernorm.weight"].shape[0]
    state.update({"pooler.linear.weight": torch.zeros(h, h), "pooler.linear.bias": torch.zeros(h),
                  "pooler.ln.weight": torch.ones(h), "pooler.ln.bias": torch.zeros(h),
                  "classifier.weight": torch.zeros(3, h), "classifier.bias": torch.zeros(3)})
    save_file(state, str(src / "model.safetensors"))
    _edit_config(src, architectures=["PIXELForSequenceClassification"])
    code = train_main(["import", "--format", "pixel-hf", "--from", str(src), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert "is a finetuned PIXEL (PIXELForSequenceClassification: head keys ['classifier.bias'" in err, err
    assert "Import the pretrained model and finetune it" in err and "missing or cut" not in err, err
    assert not (tmp_path / "out").exists()
