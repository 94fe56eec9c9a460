"""A run that diverges stops at the step it did, before anything of it is saved.

A NaN or inf loss, or an update DeepSpeed skipped for non-finite gradients (its ZeRO optimizers check every step,
fp32 too; the lr 1e4 run under ZeRO-2 skipped every step from its third to its end), has nothing in fp32 or bf16
to adapt to it: no loss scaler lowers anything. ``check_step`` stops such a run with ``Diverged``
(``pixel-train: error: ...``, exit 2) naming the step, the loss, the learning rate and the likely causes; the
checkpoints saved before it, and ``latest``, stay as they were. Under fp16 DeepSpeed's dynamic loss scaler skips
an overflowing step and lowers its scale, which is how it finds the scale: such a skipped step is logged and
training goes on.

``check_weights`` runs before every save (checkpoint, ``model/``, ``best/``) and dev evaluation: an update whose loss
was still finite can leave NaN weights (inf gradients); a checkpoint of them would be the one a resumed run starts
from, and a NaN model still scores (its argmax is class 0: a finite accuracy that could become the best).
"""

from __future__ import annotations

import logging
import math

from .spec import ConfigError

log = logging.getLogger("pixel-train")


class Diverged(ConfigError):
    """The loss or the weights became NaN / inf: the run stops instead of training and saving them."""


def _causes(cfg, lr: float | None = None) -> str:
    now = f", {lr:g} at this step" if lr is not None else ""
    causes = [f"the learning rate (optim.lr {cfg.optim.lr:g}{now}: lower it, e.g. "
              f"--set optim.lr={cfg.optim.lr / 10:g})"]
    if cfg.engine.precision != "fp32":
        causes.append(f"engine.precision {cfg.engine.precision} (fp32 has the most range)")
    if not cfg.optim.grad_clip:
        causes.append("optim.grad_clip 0 (no clipping; e.g. --set optim.grad_clip=1.0)")
    if cfg.model_overrides:
        causes.append(f"model_overrides {cfg.model_overrides} (e.g. an initializer_range far above the flavor's)")
    if cfg.task.head_options.get("class_weights"):
        causes.append("task.head_options.class_weights (large weights scale the loss)")
    return "likely causes: " + ", ".join(causes)


def _kept(cfg) -> str:
    from pathlib import Path
    if not (Path(cfg.output_dir) / "checkpoints" / "latest").is_file():
        return "no checkpoint was saved before it"
    return (f"the checkpoints saved before it are kept ({cfg.output_dir}/checkpoints; latest names the newest) and "
            "nothing of this step was saved: the same command with the fix resumes from there (if the loss logged "
            "before this step was already far off, start over in another --out)")


def check_step(engine, cfg, step: int, loss: float, lr: float, first: bool = False) -> None:
    """After an optimizer step (every micro-step's loss averaged over ranks): ``Diverged`` on a non-finite loss or
    a skipped update, unless fp16's loss scaler skipped it (logged). ``first``: this process's first step, whose loss
    is the starting weights' (no update yet): not the learning rate's doing."""
    applied = engine.was_step_applied()
    if math.isfinite(loss) and applied:
        return
    if cfg.engine.precision == "fp16" and not applied:
        scale = getattr(engine.optimizer, "cur_scale", None)
        log.warning("step %d: loss %s; the fp16 loss scaler skipped this update (non-finite gradients)%s; "
                    "%d updates skipped so far", step, loss, f", scale now {scale:g}" if scale else "",
                    engine.skipped_steps)
        return
    what = (f"the loss is {loss}" if not math.isfinite(loss) else
            f"the gradients are not finite (loss {loss:.4g}), so DeepSpeed skipped the update; with no loss scaler "
            "to adapt, the run stops here rather than skip on")
    if first and not math.isfinite(loss):
        start = f"the --init / init_from model {cfg.init_from}" if cfg.init_from else "the initial weights"
        if step > 1:
            start = "the resumed checkpoint's weights"
        raise Diverged(f"step {step}: the loss is {loss} before any update of this run, so it is {start} or the data "
                       f"that give it, not the learning rate; check model_overrides {cfg.model_overrides or '{}'}, "
                       f"engine.precision {cfg.engine.precision}, task.head_options and the shards "
                       f"(pixel-shards verify); {_kept(cfg)}")
    raise Diverged(f"step {step}: {what}: training diverged and stops here; {_causes(cfg, lr)}; {_kept(cfg)}")


def check_weights(engine, cfg, step: int, before: str) -> None:
    """Before a save or a dev evaluation (``before``: what would come next): ``Diverged`` naming the weights that hold
    NaN / inf (each rank checks its own ZeRO-3 partition; every rank agrees)."""
    import torch
    import torch.distributed as dist
    bad = [n for n, p in engine.module.named_parameters()
           if not bool(torch.isfinite(getattr(p, "ds_tensor", p).detach()).all())]
    count = torch.tensor([float(len(bad))], device=engine.device)
    if dist.is_initialized():
        dist.all_reduce(count)
    if count.item():
        names = ", ".join(bad[:3]) + (f" ... ({len(bad)} on this rank)" if len(bad) > 3 else "")
        raise Diverged(f"step {step}: {int(count.item())} weight tensor(s) hold NaN or inf "
                       f"({names or 'on other ranks'}) after this step's update: training diverged and stops before "
                       f"{before}; {_causes(cfg)}; {_kept(cfg)}")


def warn_warmup(cfg) -> str | None:
    """A warmup as long as the run: the linear warmup starts at lr 0 (transformers' schedules, as PIXEL's HF
    Trainer), so step s (from 0) updates at ``lr * s / warmup`` and the peak is never reached; a 1-step run (warmup
    ``ceil(0.05 x 1)`` = 1) updates at lr 0 and trains nothing. Logged, not refused: short smoke runs of the
    finetuning run files (warmup 6) are common. Returns the message."""
    warmup, steps = cfg.warmup(), cfg.max_steps
    if warmup < steps:
        return None
    what = ("this run's only update is at lr 0 and changes nothing" if steps == 1 else
            f"the lr rises from 0 to only {(steps - 1) / warmup:.3g} x optim.lr {cfg.optim.lr:g}")
    fix = (f"--set optim.warmup_steps=N with N < {steps}" if cfg.optim.warmup_steps > 0 else
           f"--set optim.warmup_ratio={0 if steps == 1 else 0.5 / steps:g}")
    msg = (f"optim warmup {warmup} step(s) >= max_steps {steps}: {what}; for a schedule that reaches it, {fix}, or "
           "raise max_steps")
    log.warning(msg)
    return msg


def note_undefined(step: int, metric: str, records: list[dict]) -> None:
    """A dev score that is NaN (Pearson / Spearman of predictions that are all equal: a collapsed regression model;
    a dev split whose gold makes it NaN is refused before work): never best, counted as an evaluation without gain
    -- said, as it was not (the run ended with no best/ and nothing told why)."""
    preds = {r.get("pred") for r in records if isinstance(r.get("pred"), (int, float))}
    why = (f"the model predicts {next(iter(preds)):.6g} for every dev sample (collapsed: a lower optim.lr?)"
           if len(preds) == 1 else "its predictions vary too little to correlate")
    log.warning("step %d: dev %s is undefined (NaN): %s; it cannot be best/ and counts as an evaluation without "
                "gain", step, metric, why)


def note_no_best(best, out) -> None:
    """The end of a finetuning run none of whose dev evaluations gave a defined score: no best/ was written."""
    if best is not None and best.step == 0 and best.evaluated:
        log.warning("no dev evaluation gave a defined %s, so %s/best was not written; %s/model is the last step's "
                    "model", best.metric, out, out)


def undefined_scores(metrics: dict, records: list[dict]) -> tuple[dict, list[str]]:
    """Scores for a JSON file (NaN -> null: ``NaN`` is not JSON) and one line per undefined score saying why: every
    gold value the same, or every prediction (Pearson / Spearman of a constant are NaN)."""
    notes = []
    for k, v in metrics.items():
        if isinstance(v, float) and not math.isfinite(v):
            gold = {r.get("gold") for r in records if isinstance(r.get("gold"), (int, float))}
            pred = {r.get("pred") for r in records if isinstance(r.get("pred"), (int, float))}
            why = (f"every gold value is {next(iter(gold))!r}" if len(gold) == 1 else
                   f"the model predicts {next(iter(pred)):.6g} for every sample" if len(pred) == 1 else "")
            notes.append(f"{k} is undefined (written as null){': ' + why if why else ''}")
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()}, notes
