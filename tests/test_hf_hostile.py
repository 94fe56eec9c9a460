"""The Hugging Face-native surface on hostile and unusual input: finetuned models' config.json through
``transformers.AutoModel`` after ``import pixelkit``, and the model and dataset cards' YAML and Markdown with
hostile names, paths and labels. Each case is refused naming the file and the field, or written so that it
parses back to what was given. (The import and loading paths' own hostile cases: test_import_hostile.py,
test_loading_hostile.py; the happy path: test_hf_native.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pixelkit  # noqa: F401  -- registers pixelkit's model types with transformers' Auto classes


def _task_model(where: Path, encoder: str = "pixel", modality: str | None = None) -> dict:
    """A finetuned (debug-size) tagging model saved with save_pretrained; returns its config.json."""
    from pixelkit.trainer.models import DataInfo, get_variant
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel

    enc = get_variant(encoder).config("debug", {}, DataInfo("gray", 16, 16, vocab_size=64))
    task = {"name": "ud-en_ewt-pos", "family": "tagging", "input": "words", "label_names": ["NOUN", "VERB"],
            "metric": "accuracy", "language": "en"}
    TaskModel(TaskConfig(encoder=encoder, encoder_config=enc.to_dict(), head="tagging", task=task,
                         modality=modality)).save_pretrained(where)
    return json.loads((where / "config.json").read_text())


def test_a_finetuned_config_with_a_bad_input_mode_or_task_spec_is_named_by_automodel(tmp_path):
    """``AutoModel.from_pretrained`` on a finetuned model whose config.json names an input mode that is none
    (a KeyError inside the constructor), one its encoder does not read ('text' on PIXEL: an AttributeError), or a
    task spec pixel-render task never writes (an unknown input, a name with a newline: loaded silently, and
    the name went into the model card). Now LoadingError naming the file and the field."""
    from transformers import AutoModel

    from pixelkit.trainer.models.base import LoadingError
    from pixelkit.trainer.taskmodel import TaskModel

    good = _task_model(tmp_path / "m", modality="pixel")
    task = good["task"]
    for edit, message in (({"modality": "bogus"}, "task.modality 'bogus': one of text, pixel, pair"),
                          ({"modality": 7}, "task.modality 7: one of text, pixel, pair"),
                          ({"modality": "text"}, "task.modality 'text' is not an input mode of pixel"),
                          ({"task": {**task, "input": "bogus"}}, "input must be one of"),
                          ({"task": {**task, "name": "pos\n---\nx"}}, r"name must be \[a-z0-9_-\]\+"),
                          ({"task": {**task, "extra": 1}}, r"task spec has unknown fields \['extra'\]"),
                          ({"encoder": "nope"}, "unknown model 'nope'")):
        (tmp_path / "m" / "config.json").write_text(json.dumps({**good, **edit}))
        with pytest.raises(LoadingError, match=f"m/config.json: .*{message}"):
            AutoModel.from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps(good))
    assert type(AutoModel.from_pretrained(tmp_path / "m")) is TaskModel
    # a pair-mode model of a tagging task: the pair layout has a sequence head only
    pair = _task_model(tmp_path / "g", encoder="dualgpt", modality="text")
    (tmp_path / "g" / "config.json").write_text(json.dumps({**pair, "modality": "pair"}))
    with pytest.raises(LoadingError, match="g/config.json: task.modality 'pair' serves classification / regression"):
        AutoModel.from_pretrained(tmp_path / "g")


def _debug_model(variant: str, where: Path) -> dict:
    """A debug-size pretraining model of ``variant`` saved with save_pretrained; returns its config.json."""
    from pixelkit.trainer.models import DataInfo, get_variant

    v = get_variant(variant)
    v.model_class(v.config("debug", {}, DataInfo("gray", 16, 16, vocab_size=64))).save_pretrained(where)
    return json.loads((where / "config.json").read_text())


def test_config_fields_that_gave_a_traceback_or_loaded_silently_under_automodel_are_named(tmp_path):
    """Through ``AutoModel.from_pretrained``: an unknown ``hidden_act`` (PIXEL) was a KeyError inside the
    constructor, a number there a StrictDataclassFieldValidationError; PIXEL's optional ``decoder_norm_eps``
    (null: the encoder's) loaded as "x" or -1; the GPT family's ``kinds`` loaded as "x", [7] (a row kind no
    variant has) or []. Now ConfigError naming the file and the field; a narrower ``kinds`` (DualGPT drawing
    image rows only) and another activation transformers knows still load."""
    from transformers import AutoModel

    from pixelkit.trainer.spec import ConfigError

    cases = {"pixel": [({"hidden_act": "bogus"}, "hidden_act='bogus'"), ({"hidden_act": 3}, "hidden_act=3"),
                       ({"decoder_norm_eps": "x"}, "decoder_norm_eps='x'"),
                       ({"decoder_norm_eps": -1.0}, "decoder_norm_eps=-1.0")],
             "dualgpt": [({"kinds": "x"}, "kinds='x'"), ({"kinds": [7]}, r"kinds=\[7\]"), ({"kinds": []}, r"kinds=\[\]"),
                         ({"kinds": [0, 0]}, r"kinds=\[0, 0\]")]}
    goods = {}
    for variant, edits in cases.items():
        good = goods[variant] = _debug_model(variant, tmp_path / variant)
        for edit, message in edits:
            (tmp_path / variant / "config.json").write_text(json.dumps({**good, **edit}))
            with pytest.raises(ConfigError, match=f"{variant}/config.json: {message}: not what"):
                AutoModel.from_pretrained(tmp_path / variant)
    for variant, edit in (("pixel", {"hidden_act": "gelu_new", "decoder_norm_eps": 1e-5}), ("dualgpt", {"kinds": [0]})):
        (tmp_path / variant / "config.json").write_text(json.dumps({**goods[variant], **edit}))
        model = AutoModel.from_pretrained(tmp_path / variant)
        assert all(getattr(model.config, k) == v for k, v in edit.items())
