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


TASKS = {  # family -> (head, task spec) of a small finetuned model
    "tagging": ("tagging", {"name": "ud-en_ewt-pos", "family": "tagging", "input": "words",
                            "label_names": ["NOUN", "VERB"], "metric": "accuracy", "language": "en"}),
    "classification": ("sequence", {"name": "glue-mrpc", "family": "classification", "input": "pair",
                                    "label_names": ["no", "yes"], "metric": "accuracy_f1", "language": "en"}),
    "regression": ("sequence", {"name": "glue-stsb", "family": "regression", "input": "pair", "label_names": [],
                                "metric": "pearson_spearman", "language": "en"}),
    "qa": ("qa", {"name": "xquad-en", "family": "qa", "input": "qa", "label_names": [], "metric": "squad",
                  "language": "en"}),
    "parsing": ("biaffine", {"name": "ud-en_ewt-parse", "family": "parsing", "input": "words",
                             "label_names": ["root", "nsubj"], "metric": "uas_las", "language": "en"}),
}


def _task_model(where: Path, encoder: str = "pixel", modality: str | None = None, family: str = "tagging") -> dict:
    """A finetuned (debug-size) model of ``family`` saved with save_pretrained; returns its config.json."""
    from pixelkit.trainer.models import DataInfo, get_variant
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel

    enc = get_variant(encoder).config("debug", {}, DataInfo("gray", 16, 16, vocab_size=64))
    head, task = TASKS[family]
    TaskModel(TaskConfig(encoder=encoder, encoder_config=enc.to_dict(), head=head, task=task,
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
                          ({"task": {**task, "name": "pos\n"}}, r"name must be \[a-z0-9_-\]\+"),  # was let through
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


def test_a_bad_input_mode_given_as_a_keyword_is_named_as_the_keyword(tmp_path):
    """``AutoModel.from_pretrained(path, modality="nope")`` on a sound finetuned model blamed config.json ("the file
    is damaged"), which says "pixel"; ``TaskModel.from_pretrained`` with the keyword was a KeyError ('nope') or, for
    'text' on a PIXEL encoder, an AttributeError traceback inside the constructor. Now both name the keyword and
    its value; a keyword that fits (the mode the file already has) still loads."""
    from transformers import AutoModel

    from pixelkit.trainer.models.base import LoadingError
    from pixelkit.trainer.taskmodel import TaskModel

    _task_model(tmp_path / "m", modality="pixel")
    for load in (AutoModel.from_pretrained, TaskModel.from_pretrained):
        for value, message in (("nope", "task.modality 'nope': one of text, pixel, pair"),
                               ("text", "task.modality 'text' is not an input mode of pixel")):
            with pytest.raises(LoadingError) as e:
                load(tmp_path / "m", modality=value)
            assert str(e.value).startswith(f"from_pretrained({tmp_path / 'm'}, modality={value!r}): {message}")
            assert str(e.value).endswith("; the keyword modality does not fit this model")
            assert "config.json" not in str(e.value)
        assert type(load(tmp_path / "m", modality="pixel")) is TaskModel


def _debug_model(variant: str, where: Path) -> dict:
    """A debug-size pretraining model of ``variant`` saved with save_pretrained; returns its config.json."""
    from pixelkit.trainer.models import DataInfo, get_variant

    v = get_variant(variant)
    v.model_class(v.config("debug", {}, DataInfo("gray", 16, 16, vocab_size=64))).save_pretrained(where)
    return json.loads((where / "config.json").read_text())


def get_variant_class(name: str):
    from pixelkit.trainer.models import get_variant
    return get_variant(name).model_class


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


HOSTILE = ["a|b", "x`y", "``z", "new\nline", "---", "# h", "k: v", "'q\"", "*em* <b>", "Ünïcödé ✓ 你好", "w" * 300,
           "\r\n---\r\n", "p\\|q", " sp "]


def _tables(markdown: str) -> list[list[list[str]]]:
    """Every GFM table as rows of cells, each cell the text it renders to (markdown-it-py, CommonMark + tables)."""
    from markdown_it import MarkdownIt

    tables, row, out = [], None, None
    for tok in MarkdownIt("commonmark").enable("table").parse(markdown):
        if tok.type == "table_open":
            out = []
            tables.append(out)
        elif tok.type == "tr_open":
            row = []
            out.append(row)
        elif tok.type == "inline" and row is not None and out is not None:
            row.append("".join(c.content for c in tok.children if c.type in ("text", "code_inline")))
        elif tok.type == "table_close":
            row = out = None
    return tables


def test_the_model_card_keeps_hostile_labels_paths_and_specs_in_their_cells(tmp_path):
    """A finetuned model's card with label names, an --init path and shard set specs holding newlines, pipes,
    backticks, YAML and Markdown syntax, unicode and 300 characters: a newline cut the table row, a ``|`` split
    the cell, a backtick swallowed the rest of the row into a code span. Now each renders in its own cell as
    given (control characters as escapes), and the YAML header still parses to the card's metadata."""
    import yaml
    from huggingface_hub import ModelCard
    from transformers import AutoConfig

    from pixelkit.schemas.cards import one_line
    from pixelkit.trainer.hf import model_card

    good = _task_model(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps({**good, "task": {**good["task"], "label_names": HOSTILE}}))
    config = AutoConfig.from_pretrained(tmp_path / "m")
    assert config.task["label_names"] == HOSTILE  # config.json round trip
    init, spec = "/m/`odd|path\nz", "/data/a|b\n---\nc`d"
    card = model_card("pixel", "debug", config, {"init_from": init}, [(spec, "0" * 64), ("s3://b/x y", None)], 3,
                      {"loss": 0.5, "a|b\n": 1.0, "step": 3})
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    meta = {"library_name": "transformers", "tags": ["pixelkit", "pixel-language-model", "pixel", "ud-en_ewt-pos"],
            "model_type": "pixelkit-task"}
    assert loaded.data.to_dict() == meta
    assert yaml.safe_load((tmp_path / "README.md").read_text(encoding="utf-8").split("---\n")[1]) == meta
    task, data, metrics = _tables(loaded.text)
    assert [len(r) for r in task + data + metrics] == [2] * (len(task) + len(data) + len(metrics))
    cells = dict(task[1:])
    assert cells["labels"] == ", ".join(map(one_line, HOSTILE)) and cells["encoder initialised from"] == one_line(init)
    assert cells["task"] == "ud-en_ewt-pos (tagging; en)"
    assert data[1:] == [[one_line(spec), "0" * 64], ["s3://b/x y", "no manifest"]]
    assert metrics[1:] == [["a|b\\n", "1"], ["loss", "0.5"], ["step", "3"]]


def test_the_dataset_card_keeps_a_hostile_source_name_in_its_cells(tmp_path):
    """A real run whose --input source name holds a pipe, a backtick, a newline with a YAML document marker and
    emphasis: the sources table and the per-source table each had the row cut (the name's second line a stray
    line, ``---`` after it a heading underline), and the Sources list item lost its end. Now the name renders in
    each place as given (newline as an escape), the tables keep their columns, the YAML header parses."""
    from huggingface_hub import DatasetCard
    from markdown_it import MarkdownIt

    from pixelkit.pipeline.main import run
    from pixelkit.schemas.cards import one_line

    book = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data" / "pride-and-prejudice-excerpt.txt"
    source = "we|b: `#x\n---\n*y* <i>"
    out = tmp_path / "shards"
    m = run([f"--input={source}={book}", f"--output={out}", "--preset=pixar", "--samples_per_shard=64"])
    assert m.sources == [source]
    card = DatasetCard.load(out / "README.md")
    assert card.data.to_dict()["configs"][0]["data_files"] == [{"split": "train", "path": "train-*-of-00001.tar"}]
    sources, _counts, per_source = _tables(card.text)
    assert [len(r) for r in sources] == [4, 4] and [len(r) for r in per_source] == [5, 5]
    assert sources[1][0] == per_source[1][0] == one_line(source) and sources[1][1] == book.name
    items = [t for t in MarkdownIt("commonmark").parse(card.text) if t.type == "inline" and "Sources:" in t.content]
    assert len(items) == 1 and "".join(c.content for c in items[0].children if c.type == "text").startswith(
        f"Sources: {one_line(source)}; what each was read as")


def test_fields_transformers_config_fails_on_are_named_before_it_under_autoconfig(tmp_path):
    """``AutoConfig`` / ``AutoModel`` build the config from config.json before any pixelkit loading code runs: a
    text ``id2label`` was an AttributeError there (the model class's own from_pretrained named it), an id2label
    key that is no number a ValueError, a ``dtype`` of "auto" or another name an AttributeError ("module 'torch'
    has no attribute 'auto'"), a quantization config or flash attention left to the model. Now each is a
    ConfigError naming the file and the field at the config, pretraining and finetuned models alike; a bf16
    model saved and loaded back keeps working."""
    import torch
    from transformers import AutoConfig, AutoModel

    from pixelkit.trainer.spec import ConfigError

    goods = {"pixel": _debug_model("pixel", tmp_path / "pixel"), "task": _task_model(tmp_path / "task")}
    for name, good in goods.items():
        for edit, message in (({"id2label": "x"}, "id2label='x': an object"),
                              ({"id2label": {"a": "b"}}, r"id2label=\{'a': 'b'\}: an object \(label id, a whole number"),
                              ({"dtype": "auto"}, "dtype='auto': one of float32"),
                              ({"dtype": "banana"}, "dtype='banana': one of float32"),
                              ({"quantization_config": {"quant_method": "bitsandbytes"}}, "quantization_config=.*full-precision weights only"),
                              ({"_attn_implementation": "flash_attention_2"}, "_attn_implementation=.*attention 'eager' or 'sdpa'")):
            (tmp_path / name / "config.json").write_text(json.dumps({**good, **edit}))
            for load in (AutoConfig.from_pretrained, AutoModel.from_pretrained):
                with pytest.raises(ConfigError, match=f"{name}/config.json: {message}"):
                    load(tmp_path / name)
        (tmp_path / name / "config.json").write_text(json.dumps({**good, "id2label": {"0": "A"}, "torch_dtype": "auto"}))
        AutoModel.from_pretrained(tmp_path / name, dtype=torch.bfloat16).save_pretrained(tmp_path / f"{name}-bf16")
        assert json.loads((tmp_path / f"{name}-bf16" / "config.json").read_text())["dtype"] == "bfloat16"
        assert next(AutoModel.from_pretrained(tmp_path / f"{name}-bf16").parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize("variant", ["pixel", "pixar", "pixar2024", "pixelgpt", "textgpt", "monogpt", "dualgpt",
                                     "task"])
def test_save_pretrained_round_trips_bit_identical_through_the_auto_classes(tmp_path, variant):
    """What measured right, kept so: every variant (and a finetuned task model) saved with save_pretrained loads
    with AutoModel and its head's Auto class as its own class, every tensor bit-identical, also from shards
    (max_shard_size) and with low_cpu_mem_usage; saved again it writes the same config.json and tensors."""
    import torch
    import transformers
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel

    from pixelkit.trainer.hf import TASK_AUTO
    from pixelkit.trainer.models import DataInfo, get_variant

    torch.manual_seed(0)
    a = tmp_path / "a"
    if variant == "task":
        _task_model(a)
        cls_name, autos = "TaskModel", [AutoModel]
    else:
        v = get_variant(variant)
        binary = v.modes[0] == "binary"
        info = DataInfo("binary" if binary else "gray", 8 if binary else 16, 16, vocab_size=64)
        v.model_class(v.config("debug", {}, info)).save_pretrained(a)
        cls_name, autos = v.model_class.__name__, [AutoModel, getattr(transformers, TASK_AUTO[variant])]
    saved = load_file(a / "model.safetensors")
    assert AutoConfig.from_pretrained(a).model_type == json.loads((a / "config.json").read_text())["model_type"]
    for auto in autos:
        model = auto.from_pretrained(a)
        assert type(model).__name__ == cls_name
        state = model.state_dict()
        assert saved.keys() <= state.keys() and all(torch.equal(state[k], t) for k, t in saved.items())
    model.save_pretrained(tmp_path / "b")
    assert json.loads((a / "config.json").read_text()) == json.loads((tmp_path / "b" / "config.json").read_text())
    again = load_file(tmp_path / "b" / "model.safetensors")
    assert again.keys() == saved.keys() and all(torch.equal(again[k], t) for k, t in saved.items())
    model.save_pretrained(tmp_path / "shards", max_shard_size="20KB")
    assert len(list((tmp_path / "shards").glob("model-*.safetensors"))) > 1
    state = AutoModel.from_pretrained(tmp_path / "shards", low_cpu_mem_usage=True).state_dict()
    assert all(torch.equal(state[k], t) for k, t in saved.items())


def test_from_pretrained_keywords_that_override_config_json_are_checked_like_it(tmp_path):
    """``AutoModel.from_pretrained(dir, mask_ratio=5.0)``: transformers sets such keywords on the config after the
    file was read (and checked), so a ratio of 5 or a negative epsilon built a model silently, a negative width
    or an unknown activation failed inside a constructor with a traceback, GPT row kinds [7] loaded. Now the
    config the model is built from is checked as a file is, naming the setting; a sound override still applies."""
    from transformers import AutoModel

    from pixelkit.trainer.models.pixel import PixelForPreTraining
    from pixelkit.trainer.spec import ConfigError

    _debug_model("pixel", tmp_path / "pixel")
    _debug_model("dualgpt", tmp_path / "dualgpt")
    for name, kw, message in (("pixel", {"mask_ratio": 5.0}, "mask_ratio=5.0: not what"),
                              ("pixel", {"layer_norm_eps": -1.0}, "layer_norm_eps=-1.0: not what"),
                              ("pixel", {"hidden_act": "bogus"}, "hidden_act='bogus': not what"),
                              ("pixel", {"hidden_size": -3}, "hidden_size=-3: sizes must be whole numbers"),
                              ("pixel", {"num_patches": 0}, "num_patches=0: sizes must be whole numbers"),
                              ("dualgpt", {"kinds": [7]}, r"kinds=\[7\]: not what")):
        for load in (AutoModel.from_pretrained, get_variant_class(name).from_pretrained):
            with pytest.raises(ConfigError, match=f"Config of .*{name} \\(config.json \\+ from_pretrained's keywords\\): "
                                                  f"{message}"):
                load(tmp_path / name, **kw)
    assert PixelForPreTraining.from_pretrained(tmp_path / "pixel", mask_ratio=0.5).config.mask_ratio == 0.5
    assert AutoModel.from_pretrained(tmp_path / "dualgpt", kinds=[0]).config.kinds == [0]


def test_a_finetuned_model_loads_with_its_task_familys_auto_class_and_no_other(tmp_path):
    """Finetuned models loaded with AutoModel only: ``AutoModelForTokenClassification`` on a POS tagger was
    transformers' "Unrecognized configuration class". Now classification and regression models load with
    AutoModelForSequenceClassification, taggers with AutoModelForTokenClassification, QA with
    AutoModelForQuestionAnswering (the same weights as AutoModel's), and the card imports that class; another
    family's Auto class is refused naming the one that fits (parsing: AutoModel only)."""
    import torch
    import transformers
    from safetensors.torch import load_file
    from transformers import AutoModel

    from pixelkit.trainer.hf import FAMILY_AUTO, model_card
    from pixelkit.trainer.models.base import LoadingError
    from pixelkit.trainer.taskmodel import TaskModel

    autos = sorted(set(FAMILY_AUTO.values()))
    for family in TASKS:
        d = tmp_path / family
        _task_model(d, family=family)
        saved = load_file(d / "model.safetensors")
        assert type(AutoModel.from_pretrained(d)) is TaskModel
        for auto in autos:
            if FAMILY_AUTO.get(family) == auto:
                model = getattr(transformers, auto).from_pretrained(d)
                assert isinstance(model, TaskModel) and type(model).__name__ == auto.replace("AutoModel", "TaskModel")
                state = model.state_dict()
                assert all(torch.equal(state[k], t) for k, t in saved.items())
            else:
                fit = FAMILY_AUTO.get(family, "AutoModel")
                with pytest.raises(LoadingError, match=f"{family} holds a {family} model .*which {auto} does not "
                                                       f"load: use {fit} or AutoModel"):
                    getattr(transformers, auto).from_pretrained(d)
        card = str(model_card("pixel", "debug", AutoModel.from_pretrained(d).config, {}, [], 1, {}))
        assert f"from transformers import {', '.join(dict.fromkeys(['AutoModel', FAMILY_AUTO.get(family, 'AutoModel')]))}\n" in card
