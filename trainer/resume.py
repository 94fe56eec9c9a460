"""What a run that will resume its output's latest checkpoint is checked against before any engine starts (moved
out of ``engine.py``): the checkpoint's directory, its ZeRO stage and whether it is a pretraining or a finetuning
checkpoint (``pixelkit.json`` beside DeepSpeed's files records them)."""

from __future__ import annotations

import json
from pathlib import Path

from .config import TrainConfig
from .models.base import ConfigError

RESUME_INFO = "pixelkit.json"  # beside DeepSpeed's files: what resuming needs to know before an engine starts
_UNKNOWN = object()


def _saved_task(out: Path, saved: dict):
    """The checkpoint's ``task.name`` (None: pretraining): from its ``pixelkit.json``, or for a checkpoint saved
    before that recorded it, the ``config.json`` its run wrote; ``_UNKNOWN`` when neither says."""
    if "task" in saved:
        return saved["task"]
    try:
        return json.loads((out / "config.json").read_text(encoding="utf-8"))["task"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return _UNKNOWN


def check_fresh_out(out: Path) -> None:
    """``resume=false`` starts a new run: into an ``--out`` holding another run's checkpoints, model, best model,
    tensorboard events or metrics it mixed them with its own (the old step-* dirs kept and pruned with the new,
    best/ and two runs' events side by side, metrics.jsonl cut to nothing) or replaced them (model/: an --out
    whose checkpoints were deleted to save space lost its trained model). Refused, naming what is there."""
    left = [p for p in (*sorted((out / "checkpoints").glob("step-*")), out / "checkpoints" / "latest", out / "model",
                        out / "best", out / "tensorboard", out / "metrics.jsonl") if p.exists()]
    if left:
        shown = ", ".join(p.relative_to(out).as_posix() for p in left[:4]) + (" ..." if len(left) > 4 else "")
        resumable = (out / "checkpoints" / "latest").is_file()
        raise ConfigError(f"--out {out} holds another run's files ({shown}) and resume=false starts a new run there, "
                          f"which would mix its checkpoints, best/ and tensorboard events with that run's and replace "
                          f"its model/: write to another --out, or delete {out} first"
                          + (" (resume=true, the default, continues that run)" if resumable else ""))


def check_resume(cfg: TrainConfig) -> None:
    """A run that will resume its output's latest checkpoint needs that checkpoint's directory, must use the
    ZeRO stage it was saved with (DeepSpeed lays out, and looks for, optimizer state per stage, and dies mid-load
    on another one) and must be of its kind: a finetuning run given a pretraining run's output (or the reverse)
    failed only once DeepSpeed had started, on the other architecture. A run with ``resume=false``: ``check_fresh_out``."""
    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    if not cfg.resume:
        check_fresh_out(out)
        return
    if not (ckpt_dir / "latest").is_file():
        if (out / "model").exists():  # written only after a run's final checkpoint: those were deleted since
            raise ConfigError(f"--out {out} holds another run's model/ but no checkpoint to resume (checkpoints/latest "
                              f"is gone), so this run would start over there and replace that model: write to "
                              f"another --out, or delete {out / 'model'} first")
        return
    tag = (ckpt_dir / "latest").read_text().strip()
    if not tag or Path(tag).name != tag or not (ckpt_dir / tag).is_dir():  # DeepSpeed: a bare AssertionError
        raise ConfigError(f"{ckpt_dir / 'latest'} names checkpoint {tag!r}, which is not a directory there (deleted "
                          f"or moved?): put it back, point latest at a complete step-* dir, or start over: write to another --out, "
                          f"or delete {out}")
    info = ckpt_dir / tag / RESUME_INFO
    try:
        saved = json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}  # written since these checks
    except (OSError, ValueError, RecursionError) as e:  # ValueError: not JSON or not UTF-8 (damaged, hand-edited)
        raise ConfigError(f"{info} is damaged ({type(e).__name__}: {str(e)[:80]}): resuming that checkpoint cannot be "
                          f"checked; point {ckpt_dir / 'latest'} at an earlier complete step-* dir, write to another "
                          f"--out, or delete {out}") from None
    if not isinstance(saved, dict):
        raise ConfigError(f"{info} holds a JSON {type(saved).__name__}, not an object: point {ckpt_dir / 'latest'} "
                          f"at an earlier complete step-* dir, write to another --out, or delete {out}")
    task = _saved_task(out, saved)
    if task is not _UNKNOWN and (task is None) != (cfg.task.name is None):
        kind, other = ("pretraining", "finetuning") if task is None else (f"finetuning (task {task!r})", "pretraining")
        raise ConfigError(f"--out {out} holds a {kind} run's checkpoint ({ckpt_dir / tag}), which this {other} run "
                          f"would resume (and {out / 'model'} be replaced): give this run another --out (e.g. "
                          f"{'out/finetune/<task>' if other == 'finetuning' else 'out/train/<name>'})")
    if "zero_stage" in saved and saved["zero_stage"] != cfg.engine.zero_stage:
        raise ConfigError(
            f"engine.zero_stage is {cfg.engine.zero_stage} but {ckpt_dir / tag}, which this run would resume, was "
            f"saved with engine.zero_stage={saved.get('zero_stage')}: DeepSpeed cannot resume across ZeRO stages. "
            f"Set engine.zero_stage={saved.get('zero_stage')}, write to another --out, or delete {out}")


def task_record(spec) -> dict:
    """What a finetuning checkpoint's ``pixelkit.json`` records of its task (``task`` is the name the run was given,
    often a family or an alias such as ``classification``, which many tasks share)."""
    return {"name": spec.name, "label_names": list(spec.label_names or [])}


def _saved_spec(out: Path, saved: dict) -> dict | None:
    """The resumed checkpoint's task (name, label names): its ``pixelkit.json``, else, for a checkpoint saved before
    that recorded it, the task model config its run wrote (``model/`` or ``best/``); None when neither says."""
    if isinstance(saved.get("task_spec"), dict):
        return saved["task_spec"]
    for d in ("model", "best"):
        try:
            task = json.loads((out / d / "config.json").read_text(encoding="utf-8"))["task"]
            return {"name": task["name"], "label_names": list(task.get("label_names") or [])}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def check_resume_task(cfg: TrainConfig, spec) -> None:
    """A finetuning run that would resume its output's latest checkpoint must be of that checkpoint's task: another
    task's checkpoint with as many labels loaded without a word, and the run trained the first task's model on the
    second's data (its best/ kept the first task's model). ``check_resume`` has vetted the checkpoint's record."""
    out = Path(cfg.output_dir)
    latest = out / "checkpoints" / "latest"
    if not cfg.resume or not latest.is_file():
        return
    info = latest.parent / latest.read_text().strip() / RESUME_INFO
    saved = json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}
    was = _saved_spec(out, saved)
    if was is None or (was.get("name"), was.get("label_names")) == (spec.name, list(spec.label_names or [])):
        return
    how = (f"task {was.get('name')!r}" if was.get("name") != spec.name else
           f"task {spec.name!r} with other labels ({was.get('label_names')} there, {list(spec.label_names or [])} now)")
    raise ConfigError(f"--out {out} holds a finetuning run of {how} ({latest.parent / latest.read_text().strip()}), "
                      f"which this run on task {spec.name!r} would resume, training that model on these shards: "
                      f"give this run another --out (e.g. out/finetune/{spec.name}), or delete {out} to start over")


def apply_optim_settings(optimizer, scheduler, cfg: TrainConfig) -> None:
    """After ``engine.load_checkpoint``: this run's ``optim`` settings over the checkpoint's. Loading restores the
    optimizer's param-group hyperparameters (lr, betas, eps, weight_decay) and the schedule's ``base_lrs``, so a run
    resumed with another ``optim.lr`` (the fix a diverged run is told) kept the old one, silently, while the
    warning said the setting changed. Groups: ``engine._optimizer``'s (decay, no decay)."""
    o = cfg.optim
    for group, decay in zip(optimizer.param_groups, (o.weight_decay, 0.0)):
        group.update(betas=tuple(o.betas), eps=o.eps, weight_decay=decay, initial_lr=o.lr)
    scheduler.base_lrs = [o.lr] * len(optimizer.param_groups)
    scheduler._last_lr = []
    for group, base, fn in zip(optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
        group["lr"] = base * fn(scheduler.last_epoch)
        scheduler._last_lr.append(group["lr"])
