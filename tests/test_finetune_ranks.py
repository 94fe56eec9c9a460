"""Finetuning, evaluation and prediction under two processes (torchrun, DeepSpeed's launcher) on real task shards:
the same metrics and predictions as one process, whatever the shard and sample counts (3 shards, one sample and
two empty shards, QA windows of one question spread over the ranks), one rank writing."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from taskdata import EWT_EXCERPT, make_task
from test_trainer_engine import ENV, ROOT, _main
from test_trainer_processes import LAUNCHERS

XQUAD = ROOT / "pipeline" / "sample_data" / "xquad-en-excerpt.json"  # XQuAD English excerpt, CC BY-SA 4.0


def _reshard(task_dir: Path, split: str, n: int, keep: int | None = None, empty: int = 0) -> int:
    """Rewrite ``task_dir/split`` as ``n`` shards (the first ``keep`` samples, dealt round robin over the first
    ``n - empty`` shards; the last ``empty`` shards empty), with its manifest; returns the samples kept."""
    from pixelkit.pipeline.shards import read_shard, write_shard
    from pixelkit.schemas import ShardManifest, shard_name
    d = task_dir / split
    samples = [s for f in sorted(d.glob("*.tar")) for s in read_shard(f)][:keep]
    for f in d.glob("*.tar"):
        f.unlink()
    full = n - empty
    infos = [write_shard(d / shard_name(split, i, n), samples[i::full] if i < full else []) for i in range(n)]
    dataclasses.replace(ShardManifest.read(d), shards=infos).write(d)
    return len(samples)


def _task_model(task_dir: Path, out: Path) -> Path:
    """A finetuned-model dir as finetune writes it (debug PIXEL + the task's head), random weights."""
    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.spec import FAMILIES, DataInfo
    from pixelkit.trainer.taskmodel import TaskConfig, TaskModel
    spec = TaskSpec.read(task_dir)
    ec = get_variant("pixel").config("debug", {}, DataInfo("gray", 16, 64))
    torch.manual_seed(3)
    TaskModel(TaskConfig(encoder="pixel", encoder_config=ec.to_dict(), head=FAMILIES[spec.family][0],
                         task=spec.to_dict())).save_pretrained(out, safe_serialization=True)
    return out


@pytest.fixture(scope="module")
def ranked(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """name -> (task dir, model dir): UD English-EWT POS (30 sentences, CC BY-SA 4.0) with its dev split in 3 shards,
    the same with a dev split of one sample in 3 shards (two empty), XQuAD English (its first 6 questions, windows of 64
    patches, CC BY-SA 4.0) with its dev windows dealt over 3 shards."""
    root = tmp_path_factory.mktemp("ranked")
    pos = make_task(root / "pos3", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT}, max_patches=64)
    qa = make_task(root / "qa3", "xquad-en", {"train": XQUAD, "validation": XQUAD}, limit=6, max_patches=64, stride=16)
    tiny = make_task(root / "pos1", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT},
                     max_patches=64)
    assert _reshard(pos, "validation", 3) == 30 and _reshard(qa, "validation", 3) > 60
    assert _reshard(tiny, "validation", 3, keep=1, empty=2) == 1
    cut = Path(shutil.copytree(pos, root / "cut3"))  # its middle shard cut (a copy that stopped): 10 sentences lost
    shard = cut / "validation" / "validation-00001-of-00003.tar"
    shard.write_bytes(shard.read_bytes()[:3000])
    pos_model = _task_model(pos, root / "pos-model")
    return {"pos3": (pos, pos_model), "pos1": (tiny, pos_model), "cut3": (cut, pos_model),
            "qa3": (qa, _task_model(qa, root / "qa-model"))}


@pytest.mark.slow
@pytest.mark.parametrize("name,launcher", [("pos3", "torchrun"), ("pos1", "torchrun"), ("cut3", "torchrun"),
                                           ("qa3", "deepspeed")])
def test_evaluate_under_two_ranks_writes_what_one_rank_writes_once(tmp_path, ranked, name, launcher):
    """The ranks share the split (shards, or every other sample of a split with fewer shards than ranks); gathered back
    into one rank's order, the predictions file is byte-identical (it was in rank order: shards 0, 2, 1), QA's windows
    of one question read by different ranks make one answer, and only rank 0 writes and prints (every rank scored the
    whole split, wrote the same files and printed them)."""
    data, model = ranked[name]
    args = ["evaluate", "--model", str(model), "--data", str(data), "--batch-size", "4"]
    _main(*args, "--out", str(tmp_path / "one"))
    p = subprocess.run([*LAUNCHERS[launcher], "pixelkit.trainer.cli", *args, "--out", str(tmp_path / "two")], cwd=ROOT,
                       env=ENV, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-5000:]
    one = sorted(f.name for f in (tmp_path / "one").iterdir())
    assert one == sorted(f.name for f in (tmp_path / "two").iterdir()) and len(one) == 2, one
    for f in one:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f
    assert p.stdout.count("metrics: ") == 1, p.stdout[-3000:]
    metrics = json.loads((tmp_path / "two" / "metrics-validation.json").read_text())
    assert metrics["n"] == {"pos3": 431, "pos1": 8, "cut3": 276, "qa3": 6}[name], metrics
    # scored without the samples of a cut shard: counted, in the metrics (nothing said so but a log line)
    assert metrics.get("samples_skipped") == (10 if name == "cut3" else None), metrics


def _run(cmd: list[str], timeout: int) -> subprocess.CompletedProcess | None:
    """``cmd`` to its end, or None after ``timeout`` s with the launcher and every rank killed (a hung rank left
    alone outlives a killed launcher)."""
    import psutil
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        for p in tree:
            p.kill()
        proc.communicate()
        return None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _zero3(out: Path, *args: str) -> subprocess.CompletedProcess | None:
    """Two ranks (torchrun) under ZeRO-3, the debug PIXEL's MLP widened so that its largest weights are partitioned
    (ZeRO-3 keeps tensors under 100k elements whole on every rank, and those need no gather)."""
    return _run([*LAUNCHERS["torchrun"], "pixelkit.trainer.cli", *args, "--out", str(out), "--set",
                 "engine.zero_stage=3", "--set", "model_overrides.intermediate_size=1600", "--set",
                 "micro_batch_size=4", "--set", "global_batch_size=8"], 150)


def _finished(p: subprocess.CompletedProcess | None, what: str) -> None:
    """Not hung, and exit 0 -- or the one known failure left: DeepSpeed ZeRO-3 over gloo aborts a rank at interpreter
    exit now and then ("terminate called without an active exception", after train() returned: no Python frame; 5
    of 29 runs here, with or without evaluations), which is not what these tests are about."""
    assert p is not None, f"{what} under ZeRO-3 hung (rank 1 had no batch)"
    if p.returncode != 0:
        assert "terminate called without an active exception" in p.stderr + p.stdout, p.stderr[-5000:]
    assert "collective mismatch" not in p.stderr, p.stderr[-5000:]


@pytest.mark.slow
def test_zero3_evaluations_keep_the_ranks_in_step_when_their_shares_differ(tmp_path, ranked):
    """A dev or held-out split of one sample: rank 1 has no batch. Under ZeRO-3 each forward gathers the partitioned
    weights from every rank, so rank 0's forward waited for rank 1, which had gone on to gather the predictions:
    finetuning aborted at its first evaluation (gloo: collective mismatch), pretraining's eval hung. Now a rank out of
    batches runs filler forwards, discarded, until every rank is done."""
    data, _ = ranked["pos1"]
    ft = _zero3(tmp_path / "ft", "finetune", "--data", str(data), "--model", "pixel", "--flavor", "debug", "--steps",
                "2", "--eval-every", "2")
    _finished(ft, "finetuning's dev evaluation")
    rows = [json.loads(x) for x in (tmp_path / "ft" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["eval_n"]) for r in rows if "eval_n" in r] == [(2, 8)], rows
    assert (tmp_path / "ft" / "best" / "model.safetensors").is_file()
    pre = _zero3(tmp_path / "pre", "pretrain", "--model", "pixel", "--flavor", "debug", "--data", str(data / "train"),
                 "--eval", str(data / "validation"), "--steps", "2")
    _finished(pre, "pretraining's held-out evaluation")
    rows = [json.loads(x) for x in (tmp_path / "pre" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval_loss" in r] == [2], rows


@pytest.mark.slow
def test_suite_under_two_ranks_is_refused_once_before_any_work(tmp_path, ranked):
    """The suite has no notion of ranks: under torchrun each rank ran every entry's bookkeeping, and wrote and printed
    the same suite-run.json, result.json, report.md and results.json (and would render the same task data at once)."""
    import yaml
    data, _ = ranked["pos3"]
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({
        "name": "t", "defaults": {"model": "pixel", "flavor": "debug", "max_steps": 2, "eval_every": 2,
                                 "micro_batch_size": 4, "global_batch_size": 8},
        "tables": [{"name": "ud"}],
        "entries": [{"name": "pos", "task": "ud-en_ewt-pos", "table": "ud", "languages": {"en": {"dir": str(data)}}}]}))
    out = tmp_path / "s"
    p = subprocess.run([*LAUNCHERS["torchrun"], "pixelkit.trainer.cli", "suite", "--config", str(suite), "--out",
                        str(out)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0 and not out.exists(), p.stderr[-3000:]
    assert p.stderr.count("pixel-train: error: pixel-train suite runs in one process, not under torchrun") == 1, \
        p.stderr[-3000:]


@pytest.mark.slow
def test_two_rank_finetune_resumed_after_a_checkpoint_continues_with_the_same_losses(tmp_path, ranked):
    """A 2-rank finetuning run from a pretrained model stopped right after its step-4 checkpoint (its later
    checkpoints deleted, `latest` pointing at step 4: what a kill then leaves) resumes to the uninterrupted run's
    losses and dev scores, step for step. Only rank 0's torch RNG was saved, so rank 1 resumed with rank 0's and its
    dropout masks (the tagging head's) differed from the uninterrupted run's from step 5 on. Each INFO line is
    logged once (the encoder's load report and resize came from every rank), the ranks' thread counts once each."""
    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.spec import DataInfo
    data, _ = ranked["pos3"]
    torch.manual_seed(1)
    pixel = get_variant("pixel")
    pixel.model_class(pixel.config("debug", {}, DataInfo("gray", 16, 529))).save_pretrained(tmp_path / "pre")
    args = [*LAUNCHERS["torchrun"], "pixelkit.trainer.cli", "finetune", "--data", str(data), "--init",
            str(tmp_path / "pre"), "--steps", "10", "--eval-every", "2", "--set", "micro_batch_size=4", "--set",
            "global_batch_size=8", "--set", "save_every=4", "--set", "log_every=1"]  # keeps steps 4, 8, 10
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    p = subprocess.run([*args, "--out", str(straight)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-5000:]
    lines = [x.split(" ", 2)[-1] for x in p.stderr.splitlines() if " INFO " in x]
    assert any("loaded 37 encoder tensors" in x for x in lines) and any("rank 1/2" in x for x in lines), lines
    assert len(lines) == len(set(lines)), sorted(x for x in lines if lines.count(x) > 1)
    shutil.copytree(straight, resumed)
    for later in ("step-0000008", "step-0000010"):
        shutil.rmtree(resumed / "checkpoints" / later)
    (resumed / "checkpoints" / "latest").write_text("step-0000004")
    p = subprocess.run([*args, "--out", str(resumed)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "at step 4" in p.stderr, p.stderr[-5000:]

    def rows(out: Path) -> list[tuple]:
        return [(r["step"], r.get("loss"), r.get("eval_accuracy")) for r in
                map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "lr" in r or "eval_accuracy" in r]
    a, b = rows(straight), rows(resumed)
    assert [r[0] for r in a if r[1] is not None] == list(range(1, 11)), a
    assert a == b, [(x, y) for x, y in zip(a, b) if x != y]
