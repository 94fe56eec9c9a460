"""Hostile finetune / evaluate settings refused before any work: a task.metric the task is not scored by, an
evaluate --batch-size below 1, an evaluate --out that is a file; and an early-stopped run run again, which stays
stopped. Real task shards and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskdata import EWT_EXCERPT, make_task
from test_finetune_cli import _task_model
from test_trainer_engine import _main


@pytest.fixture(scope="module")
def pos_task(tmp_path_factory) -> Path:
    """UD English-EWT excerpt (bundled, CC BY-SA 4.0) as a POS task: 30 sentences, 64-patch strips."""
    return make_task(tmp_path_factory.mktemp("pos"), "ud-en_ewt-pos",
                     {"train": EWT_EXCERPT, "validation": EWT_EXCERPT}, max_patches=64)


def test_a_task_metric_the_task_does_not_have_is_refused_before_training(tmp_path, pos_task, capsys):
    """task.metric picks the best checkpoint; one the task is not scored by used to fail only at the first dev
    evaluation, with DeepSpeed started and the run's files written."""
    from pixelkit.trainer.cli import main as train_main
    for metric in ("bogus", "f1"):  # POS is scored by accuracy only (f1 is NER's and MRPC's)
        code = train_main(["finetune", "--task", "pos", "--model", "pixel", "--flavor", "debug", "--data",
                           str(pos_task), "--out", str(tmp_path / "run"), "--steps", "2", "--set",
                           f"task.metric={metric}"])
        err = capsys.readouterr().err
        assert code == 2 and f"task.metric {metric!r} is not a score of ud-en_ewt-pos (it is scored by accuracy)" \
            in err and "Traceback" not in err, err
        assert not (tmp_path / "run").exists()


def test_evaluate_refuses_a_batch_size_below_one_and_an_out_that_is_a_file_before_scoring(tmp_path, pos_task, capsys):
    """--batch-size 0 or -3 scored nothing and crashed in numpy / scikit-learn with a traceback; --out naming a file
    crashed in mkdir with FileExistsError after the whole split had been scored."""
    from pixelkit.trainer.cli import main as train_main
    model = tmp_path / "model"
    _task_model(pos_task, "pixel").save_pretrained(model, safe_serialization=True)
    base = ["evaluate", "--model", str(model), "--data", str(pos_task), "--out", str(tmp_path / "ev")]
    for bad in ("0", "-3"):
        with pytest.raises(SystemExit) as e:
            train_main(base + ["--batch-size", bad])
        err = capsys.readouterr().err
        assert e.value.code == 2 and f"argument --batch-size: {bad} must be >= 1" in err and "Traceback" not in err
    (tmp_path / "afile").write_text("")
    assert train_main(base + ["--out", str(tmp_path / "afile")]) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'afile'} is a file; give a directory" in err and "Traceback" not in err, err
    assert not (tmp_path / "ev").exists()


def test_early_stopping_after_patience_evaluations_without_gain(tmp_path, pos_task):
    """lr 1e-12: the dev metric never improves on the first evaluation, so --patience 2 stops at the third. The same
    command again (what a suite does for a run killed after training, before its result was written) resumes the
    early stop's checkpoint and stays stopped: it used to train on past the stop (here one more step and
    evaluation, to step 4), changing the run's steps and possibly its best checkpoint."""
    out = tmp_path / "run"
    args = ("finetune", "--task", "pos", "--model", "pixel", "--flavor", "debug", "--data", str(pos_task),
            "--out", str(out), "--steps", "50", "--eval-every", "1", "--patience", "2",
            "--set", "micro_batch_size=4", "--set", "global_batch_size=4", "--set", "optim.lr=1e-12",
            "--set", "optim.min_lr=0")
    log = _main(*args)
    assert "early stop at step 3: accuracy did not improve in 2 evaluations" in log, log[-3000:]
    evals = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines() if "eval_accuracy" in r]
    assert [e["step"] for e in evals] == [1, 2, 3] and len({e["eval_accuracy"] for e in evals}) == 1
    assert json.loads((out / "best" / "metrics.json").read_text())["step"] == 1
    metrics, best = (out / "metrics.jsonl").read_bytes(), (out / "best" / "model.safetensors").read_bytes()
    log = _main(*args)
    assert "resumed from" in log and "at step 3" in log and "had stopped early" in log, log[-3000:]
    assert (out / "metrics.jsonl").read_bytes() == metrics, "trained on past the early stop"
    assert (out / "best" / "model.safetensors").read_bytes() == best


@pytest.mark.parametrize("value", ["2", "-0.5", ".nan", "abc"])
def test_a_head_dropout_outside_0_1_is_refused_before_training(tmp_path, pos_task, capsys, value):
    """torch refused it only when the head was built (ValueError / TypeError traceback; nan got as far as writing
    the run's files)."""
    from pixelkit.trainer.cli import main as train_main
    code = train_main(["finetune", "--model", "pixel", "--flavor", "debug", "--data", str(pos_task), "--out",
                       str(tmp_path / "run"), "--steps", "1", "--set", f"task.head_options.dropout={value}"])
    err = capsys.readouterr().err
    assert code == 2 and "task.head_options.dropout must be a number in [0, 1] (e.g. 0.1), not" in err, err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_finetuning_pixel_under_zero_3_trains(tmp_path, pos_task):
    """engine.zero_stage=3 (a documented setting) crashed PIXEL's first finetuning backward ('The size of tensor a
    (0) must match the size of tensor b (64)'): the encoder's output, a dataclass, hid its tensors from DeepSpeed's
    ZeRO-3 hooks, so the encoder's own cls_token was not gathered for backward."""
    out = tmp_path / "run"
    _main("finetune", "--model", "pixel", "--flavor", "debug", "--data", str(pos_task), "--out", str(out), "--steps",
          "2", "--eval-every", "2", "--set", "engine.zero_stage=3", "--set", "micro_batch_size=4",
          "--set", "global_batch_size=4")
    losses = [r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    assert len(losses) == 2 and all(0 < x < 10 for x in losses)
    assert json.loads((out / "best" / "metrics.json").read_text())["n"] > 0


@pytest.mark.parametrize("variant,preset", [("pixar", "pixar"), ("dualgpt", "pixel")])
def test_finetuning_other_families_and_the_qa_head_under_zero_3_trains(tmp_path, variant, preset):
    """ZeRO-3 beyond PIXEL's tagging head: PIXAR (binary strips) and DualGPT (the GPT family) with the QA span head,
    on the bundled XQuAD excerpt; two steps each, losses finite (a batch of windows without their answer adds none),
    the best checkpoint scored."""
    xquad = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data" / "xquad-en-excerpt.json"
    data = make_task(tmp_path / "qa", "xquad-en", {"train": xquad, "validation": xquad}, limit=40,
                     preset_name=preset, max_patches=64, stride=16)
    out = tmp_path / "run"
    _main("finetune", "--model", variant, "--flavor", "debug", "--data", str(data), "--out", str(out), "--steps",
          "2", "--eval-every", "2", "--set", "engine.zero_stage=3", "--set", "micro_batch_size=4",
          "--set", "global_batch_size=4")
    losses = [r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    assert len(losses) == 2 and 0 < losses[0] < 20 and 0 <= losses[1] < 20
    assert json.loads((out / "best" / "metrics.json").read_text())["n"] > 0
