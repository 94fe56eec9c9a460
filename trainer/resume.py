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


def check_resume(cfg: TrainConfig) -> None:
    """A run that will resume its output's latest checkpoint needs that checkpoint's directory, must use the
    ZeRO stage it was saved with (DeepSpeed lays out, and looks for, optimizer state per stage, and dies mid-load
    on another one) and must be of its kind: a finetuning run given a pretraining run's output (or the reverse)
    failed only once DeepSpeed had started, on the other architecture."""
    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    if not cfg.resume or not (ckpt_dir / "latest").is_file():
        return
    tag = (ckpt_dir / "latest").read_text().strip()
    if not tag or Path(tag).name != tag or not (ckpt_dir / tag).is_dir():  # DeepSpeed: a bare AssertionError
        raise ConfigError(f"{ckpt_dir / 'latest'} names checkpoint {tag!r}, which is not a directory there (deleted "
                          f"or moved?): put it back, point latest at a complete step-* dir, or set resume=false")
    info = ckpt_dir / tag / RESUME_INFO
    try:
        saved = json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}  # written since these checks
    except (OSError, ValueError, RecursionError) as e:  # ValueError: not JSON or not UTF-8 (damaged, hand-edited)
        raise ConfigError(f"{info} is damaged ({type(e).__name__}: {str(e)[:80]}): resuming that checkpoint cannot be "
                          f"checked; point {ckpt_dir / 'latest'} at an earlier complete step-* dir, write to another "
                          "--out, or set resume=false") from None
    if not isinstance(saved, dict):
        raise ConfigError(f"{info} holds a JSON {type(saved).__name__}, not an object: point {ckpt_dir / 'latest'} "
                          "at an earlier complete step-* dir, write to another --out, or set resume=false")
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
            f"Set engine.zero_stage={saved.get('zero_stage')}, write to another --out, or set resume=false")
