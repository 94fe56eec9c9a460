"""Numerics at the edges, through the real CLI and DeepSpeed engine on real shards: a run whose loss or weights become
NaN / inf stops at that step (exit 2, named, nothing of it saved, earlier checkpoints and best/ kept)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_shard_set
from taskdata import EWT_EXCERPT, make_task
from test_trainer_engine import _run


def _strict(line: str) -> dict:
    """A metrics.jsonl record as strict JSON (NaN / Infinity are not JSON; jq and most readers refuse them)."""
    def refuse(c):
        raise ValueError(f"{c} in {line}")
    return json.loads(line, parse_constant=refuse)


@pytest.fixture(scope="module")
def gray64(tmp_path_factory, wikitext) -> Path:
    """16 WikiText paragraphs (CC BY-SA 3.0) as PIXEL gray strips of 64 patches."""
    return make_shard_set(tmp_path_factory.mktemp("gray64"), "pixel", wikitext[:16], None, max_patches=64)


@pytest.fixture(scope="module")
def pos_task(tmp_path_factory) -> Path:
    """UD English-EWT excerpt (bundled, CC BY-SA 4.0) as a POS task: 30 sentences, 64-patch strips."""
    return make_task(tmp_path_factory.mktemp("pos"), "ud-en_ewt-pos",
                     {"train": EWT_EXCERPT, "validation": EWT_EXCERPT}, max_patches=64)


def _tagger(task_dir: Path, head_options: dict):
    """A debug PIXEL under the tagging head, as finetune builds it from scratch."""
    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.spec import DataInfo
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel
    ec = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 64))
    return TaskModel(TaskConfig(encoder="pixel", encoder_config=ec.to_dict(), head="tagging", head_options=head_options,
                                task=TaskSpec.read(task_dir).to_dict()))


SMALL = ("--set", "micro_batch_size=4", "--set", "global_batch_size=4", "--set", "log_every=1", "--set", "save_every=2")


@pytest.mark.parametrize("setting, what", [("engine.zero_stage=0", "the loss is nan"),
                                           ("engine.precision=bf16", "the loss is nan"),
                                           ("engine.zero_stage=2", "the gradients are not finite")])
def test_a_diverging_pretraining_run_stops_at_that_step_and_keeps_its_last_good_checkpoint(tmp_path, gray64,
                                                                                         setting, what):
    """lr 1e4: the loss is 4e18 at step 3 and NaN from step 4 (fp32, bf16); under ZeRO-2 DeepSpeed skips every update
    from step 3 on (non-finite gradients). It trained on to the end: exit 0, NaN in metrics.jsonl, checkpoints and
    model/ of NaN weights (or of step 2's, under ZeRO-2, presented as step 6's). Now: exit 2 at that step, named with
    the lr; the step-2 checkpoint stays the latest, no model/ is written."""
    out = tmp_path / "run"
    code, log = _run("pretrain", "--model", "pixel", "--flavor", "debug", "--data", str(gray64), "--out", str(out),
                     "--steps", "6", *SMALL, "--set", "optim.lr=1e4", "--set", "optim.min_lr=0", "--set", setting)
    assert code == 2 and "Traceback" not in log, log[-3000:]
    err = next(x for x in log.splitlines() if x.startswith("pixel-train: error: step "))
    step = int(err.split()[3].rstrip(":"))
    assert what in err and "training diverged" in err and "optim.lr 10000" in err and "--set optim.lr=1000" in err, err
    assert step in (3, 4), err
    assert (out / "checkpoints" / "latest").read_text() == "step-0000002"
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*")) == ["step-0000002"]
    assert not (out / "model").exists()
    steps = [_strict(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, step)), steps


def test_a_diverging_finetuning_run_stops_before_scoring_or_saving_nan_weights(tmp_path, pos_task):
    """lr 1e4 on POS: the update of step 6 leaves NaN weights at a finite loss. The NaN model was scored (accuracy
    0.063: its argmax is the first tag), checkpointed, trained on at loss NaN and saved as model/, exit 0 -- had it
    scored best it would have been best/. Now it stops before step 6's evaluation and checkpoint, naming the NaN
    tensors; best/ (step 2) and the step-4 checkpoint are as they were."""
    out = tmp_path / "run"
    code, log = _run("finetune", "--task", "pos", "--model", "pixel", "--flavor", "debug", "--data", str(pos_task),
                     "--out", str(out), "--steps", "8", "--eval-every", "2", "--patience", "0", *SMALL,
                     "--set", "optim.lr=1e4", "--set", "optim.warmup_steps=1")
    assert code == 2 and "Traceback" not in log, log[-3000:]
    err = next(x for x in log.splitlines() if x.startswith("pixel-train: error: "))
    assert "weight tensor(s) hold NaN or inf" in err and "stops before the dev evaluation" in err, err
    step = int(err.split()[3].rstrip(":"))
    assert (out / "checkpoints" / "latest").read_text() == f"step-{step - 2:07d}"
    assert json.loads((out / "best" / "metrics.json").read_text())["step"] < step
    from pixelkit.trainer.taskmodel import TaskModel
    TaskModel.from_pretrained(str(out / "best"))  # refuses NaN weights
    assert not (out / "model").exists()
    records = [_strict(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records) == step and all("eval_accuracy" not in r for r in records
                                                           if r["step"] == step)


def test_class_weights_of_any_finite_scale_give_the_same_finite_loss_and_non_finite_ones_are_refused(pos_task):
    """Only the ratios of head_options.class_weights count (the weighted mean divides by their sum): weights of 1e38
    overflowed that sum in float32 (a NaN loss at step 1), and .inf passed the check (``x > 0``) to the same end.
    Now they are scaled to a largest weight of 1 -- the same loss as the same ratios at 1 -- and inf / NaN / an int
    beyond float's range are refused, naming the key."""
    import numpy as np

    from pixelkit.trainer.data import read_samples
    from pixelkit.trainer.shardsets import resolve
    from pixelkit.trainer.spec import ConfigError
    from pixelkit.trainer.taskmodel import TaskVariant
    k = len(json.loads((pos_task / "task.json").read_text())["label_names"])
    samples = list(read_samples(resolve(str(pos_task / "train")).urls))[:8]
    losses = []
    for w in ([1.0e38] + [1.0e37] * (k - 1), [1.0] + [0.1] * (k - 1), [10] + [1] * (k - 1)):
        torch.manual_seed(0)
        model = _tagger(pos_task, {"class_weights": w}).eval()
        batch = TaskVariant.collate(samples, model.config, np.random.default_rng(0))
        with torch.no_grad():
            losses.append(float(model(**batch).loss))
    assert all(np.isfinite(losses)) and losses == pytest.approx([losses[1]] * 3, rel=1e-6), losses
    for bad in (float("inf"), float("nan"), 10 ** 400, "1e3"):
        with pytest.raises(ConfigError, match=f"class_weights must be {k} positive numbers"):
            _tagger(pos_task, {"class_weights": [bad] + [1.0] * (k - 1)})
    with pytest.raises(ConfigError, match="YAML reads 1e3"):
        _tagger(pos_task, {"class_weights": ["1e3"] + [1.0] * (k - 1)})


def _glue_task(tmp_path: Path, task: str, src: Path, keep_dev, header: bool, n_dev: int = 10) -> Path:
    """A GLUE task from ../shared/data (research use: read, never committed): 40 train rows, a dev split of the
    first ``n_dev`` rows ``keep_dev(fields)`` selects."""
    if not src.is_file():
        pytest.skip(f"{src} not found (research-use data is read from ../shared/data)")
    tmp_path.mkdir(parents=True, exist_ok=True)
    lines = src.read_text(encoding="utf-8-sig").splitlines()
    head, rows = (lines[:1], lines[1:]) if header else ([], lines)
    (tmp_path / "train.tsv").write_text("\n".join(head + rows[:40]) + "\n", encoding="utf-8")
    (tmp_path / "dev.tsv").write_text("\n".join(head + [r for r in rows if keep_dev(r.split("\t"))][:n_dev]) + "\n",
                                      encoding="utf-8")
    return make_task(tmp_path / "task", task, {"train": tmp_path / "train.tsv", "validation": tmp_path / "dev.tsv"},
                     max_patches=64)


@pytest.mark.parametrize("task, src, keep_dev, header, expected", [
    ("glue-stsb", "STS-B", lambda f: f[-1] == "5.000", True,
     "holds one gold score ([5.0]: every one the same): pearson is NaN for every model on it"),
    ("glue-cola", "CoLA", lambda f: f[1] == "1", False,
     "holds one gold class ([1]): mcc is 0 for every model on it, so no checkpoint can be chosen by it; give a dev "
     "split with varied labels (--eval-split) or pick by --set task.metric=accuracy"),
    ("glue-mrpc", "MRPC", lambda f: f[0] == "0", True,
     "holds no gold '1' (the positive class): f1 is 0 for every model on it")])
def test_a_dev_split_whose_labels_fix_the_best_metric_is_refused_before_training(tmp_path, capsys, task, src, keep_dev,
                                                                                 header, expected):
    """STS-B scored on a dev split whose gold scores are all 5.0 (real rows of its train file): Pearson was NaN at every
    evaluation, never better than -inf, so --patience 2 stopped the run at its second evaluation ("pearson did not
    improve in 2 evaluations (best -inf at step 0)"), with no best/, NaN in metrics.jsonl, exit 0. CoLA's MCC on one
    class and MRPC's F1 without a positive are 0 for every model: the first evaluation was best/, then the early
    stop. Now each is refused before any work, naming the split and the fix."""
    from pixelkit.trainer.cli import main as train_main
    from conftest import SHARED_DATA
    data = _glue_task(tmp_path, task, SHARED_DATA / "glue" / src / "train.tsv", keep_dev, header)
    code = train_main(["finetune", "--data", str(data), "--model", "pixel", "--flavor", "debug", "--steps", "4",
                       "--eval-every", "2", "--patience", "2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and f"data.eval {data / 'validation'}" in err and expected in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_a_run_resumed_with_other_optim_settings_trains_with_them(tmp_path, gray64):
    """Resuming restored the checkpoint's lr, betas, eps and weight decay (the optimizer's param groups and the
    schedule's base_lrs) over the run's own: resumed with optim.lr 1e-4 -- the fix a diverged run is told -- it went on
    at the old 1e-3 schedule (the lr 1e4 run that diverged at step 4 diverged again at step 4), while the log said
    `optim.lr: 0.001 -> 0.0001`. Now the lr of the steps after the resume is the new schedule's, a tenth of the
    uninterrupted run's, and the next checkpoint's optimizer holds the new weight decay and betas."""
    import shutil
    args = ["pretrain", "--model", "pixel", "--flavor", "debug", "--data", str(gray64), "--steps", "4", *SMALL,
            "--set", "optim.min_lr=0", "--set", "optim.warmup_steps=1"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert _run(*args, "--out", str(whole), "--set", "optim.lr=1e-3")[0] == 0
    shutil.copytree(whole, cut)
    shutil.rmtree(cut / "checkpoints" / "step-0000004")
    (cut / "checkpoints" / "latest").write_text("step-0000002")
    code, log = _run(*args, "--out", str(cut), "--set", "optim.lr=1e-4", "--set", "optim.weight_decay=0.5",
                     "--set", "optim.betas=[0.8,0.99]")
    assert code == 0 and "resumed from" in log and "optim.lr: 0.001 -> 0.0001" in log, log[-3000:]

    def lrs(run):
        return {r["step"]: r["lr"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())}
    old, new = lrs(whole), lrs(cut)
    assert new[1] == old[1] and new[2] == old[2]  # before the resume: the first run's records
    assert new[3] == pytest.approx(old[3] / 10) and old[3] > 0, (old, new)
    state = torch.load(cut / "checkpoints" / "step-0000004" / "mp_rank_00_model_states.pt", map_location="cpu",
                       weights_only=False)["optimizer"]  # this test's own checkpoint
    assert [(g["weight_decay"], tuple(g["betas"])) for g in state["param_groups"]] == [(0.5, (0.8, 0.99)),
                                                                                       (0.0, (0.8, 0.99))]


def test_bf16_training_keeps_regression_targets_exact(tmp_path):
    """The engine casts a batch's floating tensors to its precision (DeepSpeed does not); regression labels were cast
    too, so a bf16 STS-B run trained on rounded scores (4.2 as 4.1875, 0.6 as 0.6015625). Now the targets stay float32
    and the bf16 model's loss is the MSE against the exact scores."""
    import numpy as np

    from conftest import SHARED_DATA
    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.data import read_samples
    from pixelkit.trainer.engine import _place
    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.shardsets import resolve
    from pixelkit.trainer.spec import DataInfo
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel, TaskVariant
    data = _glue_task(tmp_path, "glue-stsb", SHARED_DATA / "glue" / "STS-B" / "train.tsv", lambda f: True, True)
    samples = list(read_samples(resolve(str(data / "train")).urls))[:16]
    gold = torch.tensor([s.label for s in samples], dtype=torch.float32)
    assert not torch.equal(gold.bfloat16().float(), gold)  # these scores are not all bf16 numbers
    ec = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 64))
    torch.manual_seed(0)
    model = TaskModel(TaskConfig(encoder="pixel", encoder_config=ec.to_dict(), head="sequence",
                                 task=TaskSpec.read(data).to_dict())).to(torch.bfloat16).eval()
    batch = _place(TaskVariant.collate(samples, model.config, np.random.default_rng(0)), torch.device("cpu"),
                   torch.bfloat16)
    assert batch["labels"].dtype == torch.float32 and torch.equal(batch["labels"], gold)
    with torch.no_grad():
        out = model(**batch)
    assert float(out.loss) == pytest.approx(float(((out.logits[:, 0].float() - gold) ** 2).mean()), rel=1e-6)


def test_a_label_id_outside_the_tasks_labels_stops_the_run_naming_the_sample(tmp_path, pos_task):
    """A task split holding a label id its task.json has no name for (damaged, or rendered with another vocabulary):
    CoLA's label 7 stopped the run at its batch with `IndexError: Target 7 is out of bounds` (a traceback; on CUDA a
    device-side assert). Now exit 2 naming the sample, the id and the fix; so are a POS tag id past the tags, a
    negative parse head and an infinite STS-B score, at collate."""
    import dataclasses

    import numpy as np

    from conftest import SHARED_DATA
    from pixelkit.pipeline.shards import write_shard
    from pixelkit.schemas import RenderedSample, ShardManifest, shard_name
    from pixelkit.trainer import tars
    from pixelkit.trainer.data import SkipCounter, read_samples
    from pixelkit.trainer.shardsets import resolve
    from pixelkit.trainer.spec import ConfigError
    from pixelkit.trainer.taskmodel import TaskVariant
    data = _glue_task(tmp_path, "glue-cola", SHARED_DATA / "glue" / "CoLA" / "train.tsv", lambda f: True, False)
    train = data / "train"
    shards = sorted(str(p) for p in train.glob("*.tar"))
    samples = [RenderedSample.from_wds(r) for r in tars.samples(shards, SkipCounter())]
    samples[3] = dataclasses.replace(samples[3], label=7)
    for p in shards:
        Path(p).unlink()
    info = write_shard(train / shard_name("train", 0, 1), samples)
    manifest = ShardManifest.read(train)
    dataclasses.replace(manifest, shards=[info]).write(train)
    code, log = _run("finetune", "--data", str(data), "--model", "pixel", "--flavor", "debug", "--steps", "6",
                     "--out", str(tmp_path / "run"), "--set", "micro_batch_size=8", "--set", "global_batch_size=8",
                     "--set", "task.metric=accuracy")  # (these dev rows are all acceptable: MCC is refused on them)
    assert code == 2 and "Traceback" not in log, log[-3000:]
    assert (f"pixel-train: error: sample {samples[3].key!r} (glue-cola): label 7 is not one of the task's 2 labels "
            "(ids 0..1: label_names)") in log, log[-3000:]

    pos = list(read_samples(resolve(str(pos_task / "train")).urls))[:4]
    model = _tagger(pos_task, {})
    k = len(model.config.task["label_names"])
    bad = [*pos[:2], dataclasses.replace(pos[2], labels=[0, k + 3] + list(pos[2].labels[2:])), pos[3]]
    TaskVariant.collate(pos, model.config, np.random.default_rng(0))
    with pytest.raises(ConfigError, match=rf"sample {bad[2].key!r} \(ud-en_ewt-pos\): label {k + 3} is not one of"):
        TaskVariant.collate(bad, model.config, np.random.default_rng(0))

    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.spec import DataInfo
    from pixelkit.trainer.taskmodel import TaskConfig
    ec = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 64)).to_dict()
    parse = make_task(tmp_path / "parse", "ud-en_ewt-parse", {"train": EWT_EXCERPT}, limit=4, max_patches=64)
    trees = list(read_samples(resolve(str(parse / "train")).urls))
    config = TaskConfig(encoder="pixel", encoder_config=ec, head="biaffine", task=TaskSpec.read(parse).to_dict())
    TaskVariant.collate(trees, config, np.random.default_rng(0))
    cut = dataclasses.replace(trees[1], labels=[[-2, trees[1].labels[0][1]], *trees[1].labels[1:]])
    with pytest.raises(ConfigError, match=rf"sample {cut.key!r} \(ud-en_ewt-parse\): head -2 is not 0 \(root\)"):
        TaskVariant.collate([trees[0], cut], config, np.random.default_rng(0))
    sts = _glue_task(tmp_path / "sts", "glue-stsb", SHARED_DATA / "glue" / "STS-B" / "train.tsv", lambda f: True, True)
    scores = list(read_samples(resolve(str(sts / "train")).urls))[:3]
    config = TaskConfig(encoder="pixel", encoder_config=ec, head="sequence", task=TaskSpec.read(sts).to_dict())
    TaskVariant.collate(scores, config, np.random.default_rng(0))
    with pytest.raises(ConfigError, match=rf"sample {scores[2].key!r} \(glue-stsb\): score inf is not a finite number"):
        TaskVariant.collate([*scores[:2], dataclasses.replace(scores[2], label=float("inf"))], config,
                            np.random.default_rng(0))


def test_a_warmup_as_long_as_the_run_is_named_and_a_one_step_run_really_trains_nothing(tmp_path, gray64):
    """The warmup starts at lr 0 (transformers' schedules, as PIXEL's HF Trainer): a 1-step run (warmup ceil(0.05 x 1)
    = 1) updated at lr 0 -- its model/ is its initial weights, measured here -- and logged lr 0.00015 (the next
    step's) without a word. Now a warning names it and the fix; so it does for warmup_steps 10 in a 3-step run."""
    from safetensors.torch import load_file

    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.shardsets import common_info, resolve
    out = tmp_path / "one"
    code, log = _run("pretrain", "--model", "pixel", "--flavor", "debug", "--data", str(gray64), "--out", str(out),
                     "--steps", "1", "--set", "micro_batch_size=4", "--set", "global_batch_size=4")
    assert code == 0 and ("optim warmup 1 step(s) >= max_steps 1: this run's only update is at lr 0 and changes "
                          "nothing; for a schedule that reaches it, --set optim.warmup_ratio=0") in log, log[-3000:]
    variant = get_variant("pixel")
    torch.manual_seed(0)  # the run's seed, drawn first by the model's init
    init = variant.model_class(variant.config("debug", {}, common_info([resolve(str(gray64))]))).state_dict()
    saved = load_file(str(out / "model" / "model.safetensors"))
    assert saved.keys() <= init.keys() and all(torch.equal(saved[k], init[k]) for k in saved)
    code, log = _run("pretrain", "--model", "pixel", "--flavor", "debug", "--data", str(gray64), "--out",
                     str(tmp_path / "three"), "--steps", "3", "--set", "micro_batch_size=4", "--set",
                     "global_batch_size=4", "--set", "optim.warmup_steps=10")
    assert code == 0 and ("optim warmup 10 step(s) >= max_steps 3: the lr rises from 0 to only 0.2 x optim.lr "
                          "0.00015; for a schedule that reaches it, --set optim.warmup_steps=N with N < 3") in log


def test_an_adam_eps_that_is_0_in_float32_is_refused_before_work(tmp_path, pos_task, capsys):
    """optim.eps 1e-300 passed the `> 0` check but is 0 in float32, where AdamW adds it to sqrt(v): a weight without
    gradient (a tagger's unused rows) got 0 / 0 and the POS run's loss was NaN at step 2. Now refused at start."""
    from pixelkit.trainer.cli import main as train_main
    code = train_main(["finetune", "--data", str(pos_task), "--model", "pixel", "--flavor", "debug", "--steps", "4",
                       "--out", str(tmp_path / "run"), "--set", "optim.eps=1.0e-300"])
    err = capsys.readouterr().err
    assert code == 2 and "optim.eps 1e-300 is 0 in float32, where Adam adds it" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_edge_settings_that_work_one_sentence_accumulation_no_clipping_and_eval_every_past_the_end(tmp_path):
    """Valid extremes that need no refusal, measured: a train split of one sentence under a global batch of 8
    (2 micro-batches of 4 accumulated: the stream repeats it), optim.grad_clip 0, weight decay 0.9, patience 1, and
    eval_every 50 past max_steps 3: the last step is still evaluated, best/ is written from it, the losses are
    finite and the lr schedule has ended."""
    data = make_task(tmp_path / "one", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT}, limit=1,
                     max_patches=64)
    out = tmp_path / "run"
    code, log = _run("finetune", "--data", str(data), "--model", "pixel", "--flavor", "debug", "--steps", "3",
                     "--eval-every", "50", "--patience", "1", "--out", str(out), "--set", "micro_batch_size=4",
                     "--set", "global_batch_size=8", "--set", "optim.grad_clip=0", "--set", "optim.weight_decay=0.9",
                     "--set", "optim.warmup_steps=1", "--set", "log_every=1")
    assert code == 0, log[-3000:]
    records = [_strict(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if "loss" in r]
    assert [r["step"] for r in train] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in train)
    assert train[-1]["samples_per_s"] > 0 and train[-1]["lr"] == 0.0  # the run file's linear schedule, ended
    evals = [r for r in records if "eval_accuracy" in r]
    assert [r["step"] for r in evals] == [3] and evals[0]["eval_n"] > 0
    assert json.loads((out / "best" / "metrics.json").read_text())["step"] == 3
