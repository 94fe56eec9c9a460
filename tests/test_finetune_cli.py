"""Finetuning through the real engine and CLI (one small run: finetune from a pretrained model dir, evaluate,
resume), loading pretrained weights under a head, and the torch-free CLI / config path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from taskdata import EWT_EXCERPT, make_task
from test_trainer_engine import ENV, ROOT, _cli, _main
from pixelkit.trainer.spec import DataInfo
from pixelkit.trainer.loading import load_encoder
from pixelkit.trainer.models import get_variant
from pixelkit.trainer.spec import ConfigError
from pixelkit.trainer.taskmodel import TaskConfig, TaskModel


@pytest.fixture(scope="module")
def pos_task(tmp_path_factory) -> Path:
    """UD English-EWT excerpt (bundled, CC BY-SA 4.0) as a POS task: 30 sentences, 64-patch strips."""
    return make_task(tmp_path_factory.mktemp("pos"), "ud-en_ewt-pos",
                     {"train": EWT_EXCERPT, "validation": EWT_EXCERPT}, max_patches=64)


def _pretrained(path: Path, variant: str = "pixel", mode: str = "gray", patches: int = 529, **overrides) -> Path:
    """A pretraining model dir as ``pixel-train pretrain`` writes it (save_pretrained, safetensors)."""
    v = get_variant(variant)
    cfg = v.config("debug", overrides, DataInfo(mode, 8 if mode == "binary" else 16, patches))
    torch.manual_seed(1)
    v.model_class(cfg).save_pretrained(path, safe_serialization=True)
    return path


def _task_model(task_dir: Path, variant: str, patches: int = 64, mode: str = "gray", **overrides) -> TaskModel:
    from pixelkit.schemas import TaskSpec
    v = get_variant(variant)
    ec = v.config("debug", overrides, DataInfo(mode, 8 if mode == "binary" else 16, patches))
    return TaskModel(TaskConfig(encoder=variant, encoder_config=ec.to_dict(), head="tagging",
                                task=TaskSpec.read(task_dir).to_dict()))


def test_cli_help_and_run_files_do_not_import_torch():
    code = ("import sys\nfrom pixelkit.trainer.cli import main\nfrom pixelkit.trainer.config import load_config\n"
            "for argv in (['finetune', '--help'], ['evaluate', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "import pathlib\n"
            "for f in sorted(pathlib.Path('trainer/runs/finetune').glob('*.yaml')):\n"
            "    c = load_config(f, {'data': {'train': ['x']}, 'task': {'name': f.stem}})\n"
            "    assert c.eval_every > 0 and c.task.patience > 0, f\n"
            "sys.exit(int('torch' in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert p.returncode == 0 and "--init" in p.stdout, p.stderr[-2000:]


def test_task_alias_ner_is_refused_on_pos_shards(tmp_path, pos_task, capsys):
    from pixelkit.trainer.cli import main as train_main
    from pixelkit.trainer.spec import resolve_task
    code = train_main(["finetune", "--data", str(pos_task), "--task", "ner", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err  # both are tagging: it used to finetune POS (accuracy) under the name NER
    assert code == 2 and "--task 'ner' does not match the shards' task 'ud-en_ewt-pos'" in err, err
    assert not (tmp_path / "o").exists()
    for alias in ("pos", "upos", "tagging", "ud-en_ewt-pos", None):
        resolve_task(alias, "ud-en_ewt-pos", "tagging", "accuracy")
    resolve_task("ner", "conll2003-ner", "tagging", "seqeval")
    with pytest.raises(ConfigError, match="task.name 'pos' does not match the shards' task 'conll2003-ner'"):
        resolve_task("pos", "conll2003-ner", "tagging", "seqeval")
    with pytest.raises(ConfigError, match="--task 'pos' does not match .* or leave --task out"):
        resolve_task("pos", "conll2003-ner", "tagging", "seqeval", "--task")


def test_finetune_model_or_flavor_that_contradict_init_are_refused(tmp_path, capsys):
    from pixelkit.trainer.cli import main as train_main
    pre = _pretrained(tmp_path / "pre")  # a pixel model: --model pixar was ignored, and config.json said pixar
    for flags, expected in ((["--model", "pixar"], f"--model pixar but --init {pre} holds a pixel model"),
                            (["--flavor", "base"], "--flavor base with --init: the checkpoint's architecture")):
        code = train_main(["finetune", "--data", str(tmp_path / "task"), "--init", str(pre), *flags,
                           "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2 and expected in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_pretrained_pixel_loads_under_a_head_and_reports(tmp_path, pos_task):
    pre = _pretrained(tmp_path / "pre")
    model = _task_model(pos_task, "pixel")
    report = load_encoder(model, pre)
    from safetensors.torch import load_file
    state = load_file(str(pre / "model.safetensors"))
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert report.dropped and all(k.startswith(("decoder", "mask_token")) for k in report.dropped)
    assert not report.unexpected and set(report.new) == {f"head.{k}" for k in model.head.state_dict()}
    assert set(report.loaded) == set(model.encoder.state_dict())


def test_loading_refuses_shape_mismatch_and_missing_weights(tmp_path, pos_task):
    pre = _pretrained(tmp_path / "pre")
    with pytest.raises(ConfigError, match=r"shape \(.*64\) in the checkpoint but \(.*32\)"):
        load_encoder(_task_model(pos_task, "pixel", hidden_size=32, decoder_hidden_size=32), pre)
    from safetensors.torch import load_file, save_file
    state = load_file(str(pre / "model.safetensors"))
    save_file({**state, "adapter.weight": torch.ones(2)}, str(pre / "model.safetensors"))
    report = load_encoder(_task_model(pos_task, "pixel"), pre)  # a key nothing has: reported, the rest loads
    assert report.unexpected == ["adapter.weight"] and "encoder_norm.weight" in report.loaded
    del state["encoder_norm.weight"]
    save_file(state, str(pre / "model.safetensors"))
    with pytest.raises(ConfigError, match="lacks encoder weights.*encoder_norm.weight"):
        load_encoder(_task_model(pos_task, "pixel"), pre)


def test_a_saved_task_model_with_a_missing_or_extra_tensor_is_refused(tmp_path):
    """``pixel-train evaluate`` and the suite's scoring load a finetuned dir with ``TaskModel.from_pretrained``; it
    was transformers' own, which only printed a report and scored a head left random (here: ``head.out.weight``
    deleted from best/model.safetensors). Now LoadingError (pixel-train: one line, exit 2), naming both keys."""
    from safetensors.torch import load_file, save_file

    from pixelkit.trainer.models.base import LoadingError
    ec = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 64))
    task = {"name": "pos", "family": "tagging", "input": "words", "label_names": ["NOUN", "VERB"]}
    TaskModel(TaskConfig(encoder="pixel", encoder_config=ec.to_dict(), head="tagging", task=task)).save_pretrained(
        tmp_path)
    state = load_file(str(tmp_path / "model.safetensors"))
    del state["head.out.weight"]
    save_file({**state, "adapter.weight": torch.ones(2)}, str(tmp_path / "model.safetensors"),
              metadata={"format": "pt"})
    with pytest.raises(LoadingError, match=r"missing.*head\.out\.weight.*unexpected.*adapter\.weight"):
        TaskModel.from_pretrained(tmp_path)


def test_init_reads_the_files_save_pretrained_wrote_and_nothing_beside_them(tmp_path):
    """``--init`` read every ``model*.safetensors``, so a stale copy beside the model (``model_old.safetensors``,
    zeros here) silently replaced the weights it shares names with; it now reads what ``from_pretrained`` reads:
    ``model.safetensors`` or the shards ``model.safetensors.index.json`` names (checked: plain names, each tensor
    once)."""
    from safetensors.torch import load_file, save_file

    from pixelkit.trainer.loading import read_pretrained
    pre = _pretrained(tmp_path / "pre", patches=64)
    state = load_file(str(pre / "model.safetensors"))
    save_file({k: torch.zeros_like(v) for k, v in state.items()}, str(pre / "model_old.safetensors"))
    _, got = read_pretrained(pre)
    assert got.keys() == state.keys() and all(torch.equal(got[k], v) for k, v in state.items())
    (pre / "scratch.safetensors").write_bytes(b"cut")  # check_local_dir read every *.safetensors: refused
    model = get_variant("pixel").model_class.from_pretrained(pre)  # the same tensors as from_pretrained
    assert all(torch.equal(model.state_dict()[k], v) for k, v in got.items())
    model.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    assert len(list((tmp_path / "sharded").glob("model-*.safetensors"))) > 1
    _, got = read_pretrained(tmp_path / "sharded")
    assert got.keys() == state.keys() and all(torch.equal(got[k], v) for k, v in state.items())
    (tmp_path / "sharded" / "model.safetensors.index.json").write_text('{"weight_map": {"a": "../pre/x"}}')
    with pytest.raises(ConfigError, match="'weight_map' must map tensor names to shard files"):
        read_pretrained(tmp_path / "sharded")


def test_init_from_a_published_layout_finetunes_its_encoder(tmp_path):
    """trainer/README: ``init_from`` accepts a published layout directly. ``finetune --init`` stopped with
    "model_type 'pixel' is no registered variant"; it now converts it as ``from_pretrained`` does (3-channel
    PIXEL weights folded for gray task strips) and loads every encoder tensor of the import."""
    from types import SimpleNamespace

    from pixelkit.trainer.finetune import encoder_config
    from pixelkit.trainer.models.pixel import PixelForPreTraining
    src = ROOT / "tests" / "assets" / "parity" / "pixel-hf"
    name, ec = encoder_config(SimpleNamespace(init_from=str(src), model="pixel", model_overrides={}),
                              DataInfo("gray", 4, 16))
    assert (name, ec.num_channels, ec.patch_size) == ("pixel", 1, 4)
    task = {"name": "pos", "family": "tagging", "input": "words", "label_names": ["NOUN", "VERB"]}
    model = TaskModel(TaskConfig(encoder=name, encoder_config=ec.to_dict(), head="tagging", task=task))
    report = load_encoder(model, src)
    ref = PixelForPreTraining.from_pretrained(src, channels=1).state_dict()
    assert set(report.loaded) == set(model.encoder.state_dict()) and not report.unexpected
    assert all(torch.equal(v, ref[k]) for k, v in model.encoder.state_dict().items())


def test_evaluate_given_a_pretraining_output_names_the_mix_up(tmp_path, capsys):
    """``pixel-train evaluate --model out/train/pixel/model`` (a pretraining output, not a finetuned one) died in
    TaskModel.__init__ with KeyError: 'family'; now exit 2 naming the dir and what to give. The other way round
    (a task dir into a pretraining class) is refused too."""
    from pixelkit.trainer.cli import main as train_main
    from pixelkit.trainer.models.base import LoadingError
    pre = _pretrained(tmp_path / "pre", patches=64)
    code = train_main(["evaluate", "--model", str(pre), "--data", str(tmp_path / "task")])
    err = capsys.readouterr().err
    assert code == 2 and "holds a 'pixelkit-pixel' model, not a 'pixelkit-task' one: give a finetuning output" in err
    task = {"name": "pos", "family": "tagging", "input": "words", "label_names": ["NOUN", "VERB"]}
    ec = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 64))
    TaskModel(TaskConfig(encoder="pixel", encoder_config=ec.to_dict(), head="tagging", task=task)).save_pretrained(
        tmp_path / "ft")
    with pytest.raises(LoadingError, match="holds a 'pixelkit-task' model, not a 'pixelkit-pixel' one"):
        get_variant("pixel").model_class.from_pretrained(tmp_path / "ft")
    from types import SimpleNamespace

    from pixelkit.trainer.finetune import encoder_config
    with pytest.raises(ConfigError, match="'pixelkit-task' is a finetuned task model; give a pixel-train pretrain"):
        encoder_config(SimpleNamespace(init_from=str(tmp_path / "ft"), model="pixel", model_overrides={}),
                       DataInfo("gray", 16, 64))


def test_an_init_whose_config_disagrees_with_its_weights_is_refused_before_the_model_is_built(tmp_path, pos_task,
                                                                                               capsys):
    """A damaged config.json with an absurd size: the task model was built from it (here ~1 TB) before load_encoder
    compared shapes; the shapes are now compared on the meta device, in the settings checks."""
    from pixelkit.trainer.cli import main as train_main
    pre = _pretrained(tmp_path / "pre")
    cfg = json.loads((pre / "config.json").read_text())
    (pre / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 2 ** 30}))
    code = train_main(["finetune", "--task", "pos", "--init", str(pre), "--data", str(pos_task), "--out",
                       str(tmp_path / "run"), "--steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "its config.json and weights disagree" in err and f"(1073741824, {cfg['hidden_size']})" \
        in err, err[-2000:]


def test_pixar_positions_keep_their_first_rows(tmp_path):
    task = make_task(tmp_path / "t", "ud-en_ewt-pos", {"train": EWT_EXCERPT}, preset_name="pixar", max_patches=64)
    pre = _pretrained(tmp_path / "pre", "pixar", "binary", 529)
    model = _task_model(task, "pixar", 64, "binary")
    report = load_encoder(model, pre)
    from safetensors.torch import load_file
    assert torch.equal(model.encoder.enc_pos.weight, load_file(str(pre / "model.safetensors"))["enc_pos.weight"][:64])
    assert "enc_pos.weight" in report.resized


def test_pixar2024_encoder_is_the_pretrained_decoder(tmp_path):
    """Loaded under a head, PIXAR 2024's encoder gives every patch the hidden state the pretraining model computes
    at its pair's position (65 patches: the odd one completed with white, as the pretraining collate does)."""
    import numpy as np
    from pixelkit.trainer.data import read_samples
    from pixelkit.trainer.heads.encoders import encoder_inputs
    from pixelkit.trainer.shardsets import resolve
    from pixelkit.trainer.taskmodel import TaskVariant
    task = make_task(tmp_path / "t", "ud-en_ewt-pos", {"train": EWT_EXCERPT}, preset_name="pixar", max_patches=65)
    pre = _pretrained(tmp_path / "pre", "pixar2024", "binary", 65)
    model = _task_model(task, "pixar2024", 65, "binary")
    report = load_encoder(model, pre)
    assert report.dropped == ["head.weight"] and not report.unexpected and report.new
    samples = list(read_samples(resolve(str(task / "train")).urls))[:4]
    v = get_variant("pixar2024")
    ref_model = v.model_class.from_pretrained(pre).eval()
    ref_batch = v.collate(samples, ref_model.config, np.random.default_rng(0))
    with torch.no_grad():
        ref = ref_model.decoder(inputs_embeds=ref_model.embed(ref_batch["pixel_values"].float() / 255 * 2 - 1),
                                attention_mask=ref_batch["attention_mask"]).last_hidden_state
        enc = model.eval().encoder(**encoder_inputs(samples, model.config.encoder_cfg(), "patches"))
    assert enc.hidden.shape[1] == 65 and enc.causal
    for i in range(65):
        assert torch.allclose(enc.hidden[:, i], ref[:, i // 2], atol=1e-5), i
    batch = TaskVariant.collate(samples, model.config, np.random.default_rng(0))
    assert torch.isfinite(model.train()(**batch).loss)


def test_finetune_evaluate_resume_through_the_cli(tmp_path, pos_task):
    pre = _pretrained(tmp_path / "pre")  # 529 patches (23 x 23) -> the task's 64 (8 x 8)
    out = tmp_path / "run"
    args = ["finetune", "--task", "pos", "--init", str(pre), "--data", str(pos_task), "--eval-every", "2",
            "--out", str(out), "--set", "micro_batch_size=8", "--set", "global_batch_size=8",
            "--set", "optim.lr=3e-3", "--set", "optim.warmup_steps=0"]
    p = _cli(*args, "--steps", "4")
    assert "loaded 37 encoder tensors" in p.stderr and "529 -> 64 patches" in p.stderr
    best = json.loads((out / "best" / "metrics.json").read_text())
    evals = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines() if "eval_accuracy" in r]
    assert [e["step"] for e in evals] == [2, 4]
    assert best["accuracy"] == max(e["eval_accuracy"] for e in evals)
    report = json.loads((out / "load_report.json").read_text())
    assert report["new"] and report["dropped"] and not report["unexpected"]

    # what a user publishes: best/ loads with transformers' AutoModel after `import pixelkit`, and its card names
    # the encoder's variant (not the run's default `model` setting), the task, its labels and the init model
    from transformers import AutoModel
    assert type(AutoModel.from_pretrained(out / "best")) is TaskModel
    for d, step in ((out / "best", best["step"]), (out / "model", 4)):
        card = (d / "README.md").read_text()
        assert "# pixelkit pixel finetuned on ud-en_ewt-pos" in card and f"## Metrics (step {step})" in card, card
        assert f"| encoder initialised from | `{pre}` |" in card and "| labels | `ADJ`, `ADP`," in card

    # evaluate reproduces the metric the run logged for the same (best) checkpoint (this and the resume: the
    # console script's main in this process; the run above is the subprocess a user starts)
    _main("evaluate", "--model", str(out / "best"), "--data", str(pos_task), "--out", str(tmp_path / "ev"))
    ev = json.loads((tmp_path / "ev" / "metrics-validation.json").read_text())
    assert ev["accuracy"] == pytest.approx(best["accuracy"], abs=1e-9) and ev["n"] == best["n"]
    conll = (tmp_path / "ev" / "predictions-validation.conll").read_text().split("\n\n")
    assert len([b for b in conll if b.strip()]) == 30 and conll[0].split("\n")[0].split("\t")[0] == "I'm"

    # resume: the same command with more steps continues from the step-4 checkpoint
    log = _main(*args, "--steps", "6")
    assert "resumed from" in log and "at step 4" in log
    steps = [json.loads(r)["step"] for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 6 and 5 not in steps[:steps.index(4) + 1]


def test_a_split_with_no_sample_is_refused_before_training(tmp_path, capsys):
    """A dev split whose every record was dead-lettered (here: UPOS tags outside the train vocabulary) used to
    train and then crash in seqeval at the first evaluation (TypeError: 'Found input variables without list of
    list'); finetune (and evaluate, through the same read_split) now refuse it up front, naming the reasons and the dead-letter file."""
    from pixelkit.trainer.cli import main as train_main

    blocks = EWT_EXCERPT.read_text(encoding="utf-8").split("\n\n")[:2]
    relabelled = ["\t".join(c[:3] + ["NOTATAG"] + c[4:]) if (c := line.split("\t"))[0][:1].isdigit() else line
                  for b in blocks for line in b.splitlines() + [""]]
    (tmp_path / "dev.conllu").write_text("\n".join(relabelled) + "\n", encoding="utf-8")
    data = make_task(tmp_path / "pos", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": tmp_path / "dev.conllu"},
                     max_patches=64)
    rc = train_main(["finetune", "--task", "pos", "--model", "pixel", "--flavor", "debug", "--data", str(data),
                     "--out", str(tmp_path / "run"), "--steps", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and f"{data / 'validation'} holds no sample" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_splits_of_another_task_or_label_vocabulary_are_refused(tmp_path, pos_task, capsys):
    """Labels are ids into their render's label_names, and UD / NER take theirs from their own train split: an
    eval split, a second train set or an evaluated split rendered with another vocabulary (or of another task)
    used to be scored / mixed silently with shifted ids; each is now refused before work, naming the fix."""
    from pixelkit.trainer.cli import main as train_main

    blocks = EWT_EXCERPT.read_text(encoding="utf-8").split("\n\n")
    (tmp_path / "two.conllu").write_text("\n\n".join(blocks[:2]) + "\n\n", encoding="utf-8")
    fewer = make_task(tmp_path / "fewer", "ud-en_ewt-pos", {"train": tmp_path / "two.conllu",
                                                             "validation": tmp_path / "two.conllu"}, max_patches=64)
    parse = make_task(tmp_path / "parse", "ud-en_ewt-parse", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT},
                      max_patches=64)
    assert 0 < len(json.loads((fewer / "task.json").read_text())["label_names"]) < \
        len(json.loads((pos_task / "task.json").read_text())["label_names"])
    base = ["finetune", "--task", "pos", "--model", "pixel", "--flavor", "debug", "--data", str(pos_task),
            "--out", str(tmp_path / "run"), "--steps", "2"]
    for extra in (["--set", f"data.eval={fewer / 'validation'}"],
                  ["--set", f"data.train=[{pos_task / 'train'}, {fewer / 'train'}]"]):
        assert train_main(base + extra) == 2
        err = capsys.readouterr().err
        assert "was rendered with another label vocabulary than ud-en_ewt-pos's" in err and "it lacks [" in err, err
        assert "--label_names=" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()

    model = tmp_path / "model"
    _task_model(pos_task, "pixel").save_pretrained(model, safe_serialization=True)
    assert train_main(["evaluate", "--model", str(model), "--data", str(fewer), "--out", str(tmp_path / "ev")]) == 2
    assert "another label vocabulary" in capsys.readouterr().err
    p = subprocess.run([sys.executable, "-m", "pixelkit.trainer.cli", "evaluate", "--model", str(model), "--data",
                        str(parse), "--out", str(tmp_path / "ev")], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert p.returncode == 2 and "holds ud-en_ewt-parse (parsing, words input)" in p.stderr, p.stderr
    assert "Loading weights" not in p.stderr  # transformers' bar, noise in a log
    assert not (tmp_path / "ev").exists()


def _mae_2d_sincos(dim: int, side: int):
    """MAE's util/pos_embed.py (get_2d_sincos_pos_embed, cls_token=True), which PIXEL copies: numpy, by the book."""
    import numpy as np

    def one_d(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    grid = np.stack(np.meshgrid(np.arange(side, dtype=np.float64), np.arange(side, dtype=np.float64)), axis=0)
    emb = np.concatenate([one_d(dim // 2, grid[0]), one_d(dim // 2, grid[1])], axis=1)
    return np.concatenate([np.zeros([1, dim]), emb], axis=0)


def test_init_fits_positions_to_the_task_length_or_refuses(tmp_path):
    """529-patch pretraining -> 256-patch POS strips: PIXEL's 2-D sin-cos over the new 16 x 16 grid (MAE's own
    formula); a non-square count and a PIXAR strip longer than its learned positions stop with the fix."""
    import numpy as np
    from types import SimpleNamespace
    from pixelkit.trainer.finetune import encoder_config
    from pixelkit.trainer.models.pixel import sincos_positions
    cfg = SimpleNamespace(init_from=str(_pretrained(tmp_path / "pixel")), model="pixel", model_overrides={})
    name, ec = encoder_config(cfg, DataInfo("gray", 16, 256))
    assert name == "pixel" and ec.num_patches == 256
    for n in (256, 529, 196):
        ours = sincos_positions(ec.hidden_size, n, torch.device("cpu"), torch.float64).numpy()
        assert np.abs(ours - _mae_2d_sincos(ec.hidden_size, int(n ** 0.5))).max() < 1e-12, n
    with pytest.raises(ConfigError, match="square patch count.*200 patches.*256"):
        encoder_config(cfg, DataInfo("gray", 16, 200))
    pixar = SimpleNamespace(init_from=str(_pretrained(tmp_path / "pixar", "pixar", "binary", 256)), model="pixar",
                            model_overrides={})
    assert encoder_config(pixar, DataInfo("binary", 8, 64))[1].num_patches == 64
    with pytest.raises(ConfigError, match="PIXAR learned 256 positions.*529 patches"):
        encoder_config(pixar, DataInfo("binary", 8, 529))
