"""Numerics of the dev evaluation through the real CLI and engine: a dev score that is undefined (NaN) at run time.
The rest of the numerics (divergence, class weights, labels, schedules): test_trainer_numerics.py."""

from __future__ import annotations

import json

from conftest import SHARED_DATA
from test_trainer_numerics import _glue_task, _run, _strict, gray64  # noqa: F401 (a fixture)


def test_an_undefined_dev_score_is_said_written_as_null_and_no_best_is_named(tmp_path):
    """STS-B at lr 10 with [CLS] pooling: the regression head collapses to one value for every dev sentence pair
    (tanh saturated; the weights stay finite), so Pearson / Spearman are NaN at every evaluation. It was silently
    never best: no best/, `NaN` in metrics.jsonl (not JSON: jq and most readers refuse it), nothing said, exit 0.
    Now each such evaluation is logged with its cause, the scores are null, and the end says no best/ was written."""
    data = _glue_task(tmp_path, "glue-stsb", SHARED_DATA / "glue" / "STS-B" / "train.tsv", lambda f: True, True, 40)
    out = tmp_path / "run"
    code, log = _run("finetune", "--data", str(data), "--model", "pixel", "--flavor", "debug", "--steps", "4",
                     "--eval-every", "2", "--patience", "0", "--out", str(out), "--set", "micro_batch_size=4",
                     "--set", "global_batch_size=4", "--set", "optim.lr=10.0", "--set", "optim.warmup_steps=1",
                     "--set", "task.head_options.pooling=cls")
    assert code == 0, log[-3000:]
    for step in (2, 4):
        assert f"step {step}: dev pearson is undefined (NaN): the model predicts " in log, log[-3000:]
    assert "for every dev sample (collapsed: a lower optim.lr?)" in log
    assert f"no dev evaluation gave a defined pearson, so {out}/best was not written" in log
    evals = [_strict(x) for x in (out / "metrics.jsonl").read_text().splitlines() if "eval_" in x]
    assert [(r["step"], r["eval_pearson"], r["eval_spearman"]) for r in evals] == [(2, None, None), (4, None, None)]
    assert not (out / "best").exists() and json.loads((out / "model" / "config.json").read_text())


def test_fp16_without_cuda_is_refused_before_any_work(tmp_path, gray64, capsys):
    """fp16 needs DeepSpeed's CUDA loss scaler: on a CPU machine it is refused at start, naming the fix (bf16 and fp32
    train on CPU: test_trainer_numerics.py, test_trainer_engine.py)."""
    import torch

    from pixelkit.trainer.cli import main as train_main
    if torch.cuda.is_available():
        import pytest
        pytest.skip("a CUDA device is present: fp16 is allowed")
    code = train_main(["pretrain", "--model", "pixel", "--flavor", "debug", "--data", str(gray64), "--steps", "2",
                       "--out", str(tmp_path / "run"), "--set", "engine.precision=fp16"])
    err = capsys.readouterr().err
    assert code == 2 and "engine.precision fp16 needs a CUDA device; use bf16 or fp32 on CPU" in err, err
    assert not (tmp_path / "run").exists()


def test_a_run_diverging_from_its_model_overrides_names_them(tmp_path, gray64):
    """initializer_range 1e6 (valid: >= 0): the loss is 7e13 at step 1 (an update at lr 0) and NaN at step 2; the
    error named only the learning rate. Now it names the run's model_overrides too."""
    code, log = _run("pretrain", "--model", "pixel", "--flavor", "debug", "--data", str(gray64), "--steps", "3",
                     "--out", str(tmp_path / "run"), "--set", "micro_batch_size=4", "--set", "global_batch_size=4",
                     "--set", "model_overrides.initializer_range=1000000.0")
    cause = "model_overrides {'initializer_range': 1000000.0} (e.g. an initializer_range far above the flavor's)"
    assert code == 2 and "training diverged" in log and cause in log, log[-2000:]


def test_a_loss_that_is_nan_before_any_update_is_not_blamed_on_the_learning_rate(tmp_path, gray64):
    """initializer_range 1e30: the initial weights give a NaN loss at step 1, which updates at lr 0 anyway. The error
    told the user to lower the learning rate; now it says the loss came before any update (the weights the run
    started from, or the data) and names what to check; no checkpoint existed, and it says so."""
    code, log = _run("pretrain", "--model", "pixel", "--flavor", "debug", "--data", str(gray64), "--steps", "3",
                     "--out", str(tmp_path / "run"), "--set", "micro_batch_size=4", "--set", "global_batch_size=4",
                     "--set", "model_overrides.initializer_range=1.0e+30")
    err = next((x for x in log.splitlines() if x.startswith("pixel-train: error:")), log[-2000:])
    assert code == 2 and ("step 1: the loss is nan before any update of this run, so it is the initial weights or the "
                          "data that give it, not the learning rate; check model_overrides {'initializer_range': "
                          "1e+30}") in err and err.endswith("; no checkpoint was saved before it"), err
    assert "optim.lr" not in err


def test_evaluate_writes_an_undefined_score_as_null_and_says_why(tmp_path):
    """`pixel-train evaluate` on a split whose gold scores are all 5.0 (real STS-B rows): Pearson / Spearman are NaN,
    and metrics-validation.json held `NaN` (not JSON) with nothing said. Now null, and a note per score naming why."""
    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.spec import DataInfo
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel
    data = _glue_task(tmp_path, "glue-stsb", SHARED_DATA / "glue" / "STS-B" / "train.tsv", lambda f: f[-1] == "5.000",
                      True, 12)
    ec = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 64))
    TaskModel(TaskConfig(encoder="pixel", encoder_config=ec.to_dict(), head="sequence",
                         task=TaskSpec.read(data).to_dict())).save_pretrained(tmp_path / "model")
    code, log = _run("evaluate", "--model", str(tmp_path / "model"), "--data", str(data), "--out", str(tmp_path / "ev"))
    assert code == 0, log[-2000:]
    for key in ("pearson", "spearman"):
        assert f"pixel-train: note: {key} is undefined (written as null): every gold value is 5.0" in log, log[-2000:]
    m = _strict((tmp_path / "ev" / "metrics-validation.json").read_text())
    assert m["pearson"] is None and m["spearman"] is None and m["n"] == 12
