"""Resuming and continuing a pretraining run through the real engine: settings that changed, a ``latest`` whose
directory is gone, pruning beside a killed run's leftover, bf16 weights into an fp32 run, a checkpoint of another
architecture. The engine end to end: test_trainer_engine.py."""

from __future__ import annotations

import json

import torch

from pixelkit.trainer.cli import main as train_main
from pixelkit.trainer.config import load_config
from test_trainer_engine import _main

def test_resume_names_settings_that_changed():
    from pixelkit.trainer.config import changed_settings
    old = load_config(None, {"data": {"train": ["x"]}}).to_dict()
    new = load_config(None, {"data": {"train": ["x"]}, "optim": {"lr": 3e-4}, "max_steps": 200}).to_dict()
    assert changed_settings(old, new) == ["max_steps: 100 -> 200", "optim.lr: 0.00015 -> 0.0003"]
    assert changed_settings(old, old) == []


def test_resume_from_a_latest_whose_directory_is_gone_fails_at_start(tmp_path, gray_shards, capsys):
    """checkpoints/latest naming a step dir that was deleted (or a path): DeepSpeed's load_checkpoint died on a bare
    AssertionError after the engine started; now exit 2 before any work, naming latest, the tag and the fixes."""
    ckpt = tmp_path / "run" / "checkpoints"
    ckpt.mkdir(parents=True)
    for tag in ("step-0000002", "../../elsewhere"):
        (ckpt / "latest").write_text(tag)
        code = train_main(["pretrain", "--model", "pixel", "--data", str(gray_shards), "--out",
                           str(tmp_path / "run"), "--steps", "3"])
        err = capsys.readouterr().err
        assert code == 2 and f"names checkpoint {tag!r}, which is not a directory there" in err, err
        assert f"or delete {tmp_path / 'run'}" in err


def test_pruning_keeps_the_checkpoint_latest_names_beside_a_killed_runs_leftover(tmp_path, gray_shards):
    """A run killed while writing step-0000009 leaves that dir without latest naming it; resumed with fewer steps
    and keep_checkpoints=1, the pruning kept the newest *name* -- the leftover -- and deleted the checkpoint just
    saved, so latest named a deleted dir. Now only checkpoints up to the saved one are pruned."""
    out = tmp_path / "run"
    args = ["pretrain", "--model", "pixel", "--data", str(gray_shards), "--out", str(out), "--set", "save_every=1",
            "--set", "keep_checkpoints=1"]
    _main(*args, "--steps", "1")
    left = out / "checkpoints" / "step-0000009"  # the killed run's unfinished write
    left.mkdir()
    (left / "mp_rank_00_model_states.pt").write_bytes(b"PK\x03\x04 cut")
    _main(*args, "--steps", "2")
    ckpt = out / "checkpoints"
    assert (ckpt / "latest").read_text() == "step-0000002" and (ckpt / "step-0000002" / "pixelkit.json").is_file()
    assert not (ckpt / "step-0000001").exists()


def test_continued_pretraining_from_bf16_weights_trains_in_fp32(tmp_path, gray_shards):
    """A bf16 run's model dir holds bf16 weights (config dtype bfloat16); transformers' dtype "auto" loaded them
    as bf16, so an engine.precision=fp32 run from it trained and saved bf16 weights, silently. Now fp32."""
    from safetensors.torch import load_file

    from pixelkit.trainer.models import DataInfo, get_variant
    v = get_variant("pixel")
    torch.manual_seed(0)
    v.model_class(v.config("debug", {}, DataInfo("gray", 16, 529))).to(torch.bfloat16).save_pretrained(
        tmp_path / "bf16")
    out = tmp_path / "run"
    _main("pretrain", "--model", "pixel", "--data", str(gray_shards), "--out", str(out), "--steps", "1",
          "--set", f"init_from={tmp_path / 'bf16'}")
    assert {v.dtype for v in load_file(str(out / "model" / "model.safetensors")).values()} == {torch.float32}
    assert json.loads((out / "model" / "config.json").read_text())["dtype"] == "float32"


def test_resuming_a_checkpoint_of_another_architecture_names_it(tmp_path, gray_shards, capsys):
    """The same --out with changed model_overrides: DeepSpeed's strict module load raised a RuntimeError traceback
    listing every tensor; now exit 2 naming the checkpoint, a mismatch and the fixes."""
    out = tmp_path / "run"
    args = ["pretrain", "--model", "pixel", "--data", str(gray_shards), "--out", str(out), "--steps", "2"]
    _main(*args[:-1], "1")
    capsys.readouterr()
    code = train_main(args + ["--set", "model_overrides.intermediate_size=96"])
    err = capsys.readouterr().err
    assert code == 2 and "step-0000001, which this run would resume, holds another architecture" in err, err
    assert "size mismatch for encoder.0.mlp.fc1.weight" in err and "write to another --out, or delete" in err


def test_a_metrics_record_cut_off_by_a_kill_does_not_stop_the_resume(tmp_path):
    """The resumed run keeps metrics.jsonl's records up to its checkpoint's step; a last line the killed run had
    only half written (no closing brace) stopped the resume with a JSONDecodeError traceback."""
    from pixelkit.trainer.runtime import RankZeroLogger
    records = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}, {"step": 2, "eval_accuracy": 0.5},
               {"step": 3, "loss": 1.2}]
    whole = "".join(json.dumps(r) + "\n" for r in records)
    (tmp_path / "metrics.jsonl").write_text(whole + '{"step": 4, "lo', encoding="utf-8")
    logger = RankZeroLogger(tmp_path, 0, {"log_every": 1}, total=10, initial=2)
    logger.scalars(3, {"loss": 1.1})
    logger.close()
    lines = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines == records[:3] + [{"step": 3, "loss": 1.1}]


def test_a_finetuning_run_resumed_after_a_kill_repeats_the_uninterrupted_runs_losses(tmp_path):
    """A run killed after its step-4 checkpoint (here: the uninterrupted run's directory with `latest` pointed back
    at step 4, its later checkpoint and records removed) resumes to the same losses, step for step, and the same best
    model. Before, the torch RNG state was restored before the loader's iterator drew its seed from it, so the
    resumed run's dropout masks differed (the losses after the resume differed in the third decimal)."""
    import shutil

    from taskdata import EWT_EXCERPT, make_task
    pos = make_task(tmp_path / "pos", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT},
                    max_patches=64)
    args = ["finetune", "--model", "pixel", "--flavor", "debug", "--data", str(pos), "--steps", "6",
            "--eval-every", "2", "--patience", "0", "--set", "save_every=2", "--set", "log_every=1",
            "--set", "micro_batch_size=4", "--set", "global_batch_size=4", "--set", "optim.lr=3e-3"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    _main(*args, "--out", str(whole))
    shutil.copytree(whole, cut)
    shutil.rmtree(cut / "checkpoints" / "step-0000006")
    (cut / "checkpoints" / "latest").write_text("step-0000004")
    log = _main(*args, "--out", str(cut))
    assert "resumed from" in log and "at step 4" in log, log[-2000:]

    def losses(run):
        return [(r["step"], r.get("loss"), r.get("eval_accuracy"))
                for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]
    assert losses(cut) == losses(whole) and [s for s, *_ in losses(cut)].count(6) == 2  # step 6: loss + eval
    assert (cut / "model" / "model.safetensors").read_bytes() == (whole / "model" / "model.safetensors").read_bytes()


def test_a_finetuning_run_into_a_pretraining_output_or_the_reverse_is_refused_before_the_engine(tmp_path, gray_shards,
                                                                                                 capsys):
    """finetune --out naming a pretraining run's output resumed its checkpoint: exit 2 only once DeepSpeed had
    started, on "another architecture" (and a finished run would have replaced its model/). Now refused before any
    work, naming the directory, the checkpoint and the fix; nothing there is written. The reverse too."""
    from taskdata import EWT_EXCERPT, make_task
    task = make_task(tmp_path / "pos", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT},
                     max_patches=64)
    pre, ft = tmp_path / "pre", tmp_path / "ft"
    pretrain = ["pretrain", "--model", "pixel", "--data", str(gray_shards), "--steps", "1"]
    finetune = ["finetune", "--model", "pixel", "--flavor", "debug", "--data", str(task), "--steps", "1",
                "--set", "micro_batch_size=4", "--set", "global_batch_size=4"]
    _main(*pretrain, "--out", str(pre))
    _main(*finetune, "--out", str(ft))
    for argv, out, kind in ((finetune, pre, "pretraining"), (pretrain, ft, "finetuning (task 'tagging')")):
        before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
        capsys.readouterr()
        code = train_main([*argv, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and f"--out {out} holds a {kind} run's checkpoint ({out / 'checkpoints' / 'step-0000001'})" \
            in err, err
        assert "give this run another --out" in err and "architecture" not in err and "Traceback" not in err, err
        assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before, "written before the refusal"


def test_a_damaged_pixelkit_json_in_the_checkpoint_to_resume_is_named_with_the_fix(tmp_path, gray_shards, capsys):
    """The checkpoint's pixelkit.json (its ZeRO stage and kind, read before the engine starts) cut or hand-edited was a
    JSONDecodeError / UnicodeDecodeError traceback; a JSON list was silently taken as no record."""
    out = tmp_path / "pre"
    argv = ["pretrain", "--model", "pixel", "--data", str(gray_shards), "--steps", "1", "--out", str(out)]
    _main(*argv)
    info = out / "checkpoints" / "step-0000001" / "pixelkit.json"
    for damage, says in ((b'{"step": 1, "zero', "is damaged (JSONDecodeError"), (b"\xff\xfe{}", "is damaged"),
                         (b"[1]", "holds a JSON list, not an object")):
        info.write_bytes(damage)
        capsys.readouterr()
        code = train_main(argv)
        err = capsys.readouterr().err
        assert code == 2 and f"{info} {says}" in err and f"or delete {out}" in err and "Traceback" not in err, err


def test_a_finetune_of_another_task_into_a_used_out_is_refused_before_the_engine(tmp_path, capsys):
    """finetune --out naming another task's finetuning output, with as many labels (RTE then WNLI: two-label pair
    classification), resumed that checkpoint without a word: WNLI's data trained RTE's model, and the run's best/
    stayed RTE's. Now refused before any work, naming both tasks and the fix -- also for a checkpoint saved before
    pixelkit.json recorded the task (its run's model/config.json says which)."""
    from conftest import SHARED_DATA
    from taskdata import make_task
    glue = SHARED_DATA / "glue"
    rte, wnli = (make_task(tmp_path / name.lower(), f"glue-{name.lower()}", {"train": glue / name / "train.tsv",
                                                                            "validation": glue / name / "dev.tsv"},
                           limit=8, max_patches=64) for name in ("RTE", "WNLI"))
    out = tmp_path / "run"
    args = ["finetune", "--model", "pixel", "--flavor", "debug", "--out", str(out), "--steps", "1",
            "--set", "micro_batch_size=4", "--set", "global_batch_size=4"]
    _main(*args, "--data", str(rte))
    info = out / "checkpoints" / "step-0000001" / "pixelkit.json"
    record = json.loads(info.read_text())
    assert record["task"] == "classification" and record["task_spec"] == {"name": "glue-rte",
                                                                          "label_names": ["entailment", "not_entailment"]}
    for saved in (record, {k: v for k, v in record.items() if k != "task_spec"}):
        info.write_text(json.dumps(saved))
        before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
        capsys.readouterr()
        code = train_main([*args, "--data", str(wnli), "--steps", "2"])
        err = capsys.readouterr().err
        assert code == 2 and f"--out {out} holds a finetuning run of task 'glue-rte' ({info.parent}), which this run " \
            "on task 'glue-wnli' would resume" in err, err
        assert "give this run another --out (e.g. out/finetune/glue-wnli), or delete" in err and "Traceback" not in err
        assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before, "written before the refusal"


def test_resume_false_into_an_out_holding_a_run_is_refused_before_the_engine(tmp_path, gray_shards, capsys):
    """``--set resume=false`` into a used --out started a new run beside the old one's files: its step-* dirs were
    kept (and pruned with the new run's), two runs' tensorboard events mixed, metrics.jsonl was cut. Now exit 2 before
    any work, naming the directory, what it holds and the fixes; nothing there is written."""
    out = tmp_path / "run"
    argv = ["pretrain", "--model", "pixel", "--data", str(gray_shards), "--steps", "1", "--out", str(out)]
    _main(*argv)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    capsys.readouterr()
    code = train_main([*argv, "--set", "resume=false"])
    err = capsys.readouterr().err
    assert code == 2 and f"--out {out} holds another run's files (checkpoints/step-0000001, checkpoints/latest, " \
        "model, tensorboard ...) and resume=false starts a new run there" in err, err
    assert f"write to another --out, or delete {out} first" in err and "Traceback" not in err, err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before, "written before the refusal"


def test_a_new_run_into_an_out_holding_only_a_model_is_refused(tmp_path, gray_shards, capsys):
    """An --out whose checkpoints, events and metrics were deleted to save space, its trained model/ kept: a run
    there, with resume=false or with the default resume=true (no checkpoint to resume), started over and replaced
    that model -- resume=false's check for another run's files ignored model/. Now both are exit 2 before any work,
    naming model/ and the fixes; the model is untouched."""
    out = tmp_path / "run"
    (out / "model").mkdir(parents=True)
    (out / "model" / "config.json").write_text('{"model_type": "pixelkit-pixel"}')
    argv = ["pretrain", "--model", "pixel", "--data", str(gray_shards), "--steps", "1", "--out", str(out)]
    for resume, message in (("false", f"--out {out} holds another run's files (model) and resume=false starts a new "
                                      f"run there, which would mix its checkpoints, best/ and tensorboard events with "
                                      f"that run's and replace its model/: write to another --out, or delete {out} "
                                      f"first\n"),
                            ("true", f"--out {out} holds another run's model/ but no checkpoint to resume "
                                     f"(checkpoints/latest is gone), so this run would start over there and replace "
                                     f"that model: write to another --out, or delete {out / 'model'} first")):
        capsys.readouterr()
        code = train_main([*argv, "--set", f"resume={resume}"])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["model", "model/config.json"]
