"""The training loop on the DeepSpeed engine: one CPU process, several (gloo), or GPU nodes — same code.

``train(cfg)``: resolve shards -> model config checked against them -> ``deepspeed.initialize`` with the derived
config, a torch AdamW and a transformers warmup schedule -> stream batches -> log / evaluate / draw / checkpoint.
Checkpoints are DeepSpeed's (for resuming this run; they hold pickles, load only your own) with the data
position, the resolved config and RNG states in ``client_state``; the final model is also written with
``save_pretrained`` (safetensors) for sharing and finetuning.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import numerics, runtime
from .config import TrainConfig, changed_settings, deepspeed_config
from .hf import write_model_card
from .models import get_variant
from .models.base import ConfigError
from .resume import RESUME_INFO, apply_optim_settings, check_resume, check_resume_task, task_record
from .shardsets import check_token_sets, common_info, resolve
from .spec import MAIN_METRIC, TOKENIZER_RECORD, check_tokenizer, tokenizer_record
from .stream import Position, StreamSpec, make_loader

log = logging.getLogger("pixel-train")


@dataclass
class Run:
    """What a finished run left behind."""

    output_dir: Path
    checkpoint: Path | None
    model_dir: Path | None
    picture: Path | None
    final_loss: float
    steps: int


def _optimizer(model, cfg: TrainConfig):
    import torch
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    o = cfg.optim
    return torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=o.lr, betas=o.betas, eps=o.eps)


def _scheduler(optimizer, cfg: TrainConfig):
    from transformers import get_scheduler
    name = {"cosine": "cosine_with_min_lr", "linear": "linear", "constant": "constant_with_warmup"}[cfg.optim.schedule]
    extra = {"scheduler_specific_kwargs": {"min_lr": cfg.optim.min_lr}} if name.startswith("cosine") else {}
    return get_scheduler(name, optimizer, num_warmup_steps=cfg.warmup(),
                         num_training_steps=cfg.max_steps, **extra)


def prepare(cfg: TrainConfig):
    """Everything that can fail on bad settings, before any engine starts: shards, data info, model config.
    A finetuning run (``task.name`` set) gets its task model's config from ``finetune.setup``."""
    if cfg.engine.precision == "fp16":
        import torch
        if not torch.cuda.is_available():
            raise ConfigError("engine.precision fp16 needs a CUDA device; use bf16 or fp32 on CPU")
    check_resume(cfg)
    sets = [resolve(s) for s in cfg.data.train]
    info = common_info(sets)
    cfg.check_data(info)
    if cfg.task.name is not None:
        from . import finetune
        variant, model_config, spec = finetune.setup(cfg, sets, info)
        check_resume_task(cfg, spec)
    else:
        variant = get_variant(cfg.model)
        model_config = variant.config(cfg.flavor, cfg.model_overrides, info)
        if cfg.init_from:  # continued pretraining: the checkpoint's own architecture (a published layout
            from .importers import pretrained_config  # converted), which must fit these shards too
            model_config = pretrained_config(variant.name, variant.config_class, cfg.init_from, info.channels,
                                             info.max_patches)
            if variant.needs_tokens:
                check_tokenizer(cfg.init_from, getattr(model_config, "vocab_size", None), info, "the train sets")
    for name, want in (("patch_size", info.patch_size), ("num_channels", info.channels)):
        have = getattr(model_config, name, want)
        if have != want:
            raise ConfigError(f"model {name} is {have} but the shards ({cfg.data.train[0]}) have {want}: "
                              f"render with matching settings or change the model")
    eval_set = resolve(cfg.data.eval) if cfg.data.eval else None
    if eval_set is not None:
        if cfg.task.name is not None:
            finetune.check_same_task(spec, eval_set, "data.eval")
            finetune.check_dev_labels(spec, cfg.task.metric or MAIN_METRIC[spec.metric], eval_set)
        ei = eval_set.info()
        if (ei.mode, ei.patch_size, ei.max_patches) != (info.mode, info.patch_size, info.max_patches):
            raise ConfigError(f"data.eval {cfg.data.eval} holds {ei.mode} {ei.patch_size}px x {ei.max_patches} "
                              f"strips; the train sets hold {info.mode} {info.patch_size}px x {info.max_patches}")
    reads_ids = model_config.kind() != "patches" if cfg.task.name is not None else variant.needs_tokens
    check_token_sets(sets, info, eval_set, reads_ids)
    weights = cfg.data.weights or [float(s.num_samples or len(s.urls)) for s in sets]
    return variant, sets, info, model_config, eval_set, weights


def train(cfg: TrainConfig) -> Run:
    runtime.setup()
    variant, sets, info, model_config, eval_set, weights = prepare(cfg)
    import deepspeed
    import torch
    import torch.distributed as dist

    rank, world = runtime.init_distributed()
    if not torch.cuda.is_available():  # each rank's share of the cores (runtime.cpu_threads_per_rank)
        log.info("rank %d/%d: %d CPU threads", rank, world, torch.get_num_threads(), extra={"every_rank": True})
    if rank == 0:
        numerics.warn_warmup(cfg)  # a warmup as long as the run never reaches optim.lr (1 step: lr 0)
    ds_config = deepspeed_config(cfg, world)
    out = Path(cfg.output_dir)
    ckpt_dir = out / "checkpoints"
    torch.manual_seed(cfg.seed)
    finetuning = cfg.task.name is not None
    if finetuning:
        from . import finetune
        model = finetune.build(model_config, cfg.init_from, out if rank == 0 else None)
    elif cfg.init_from:  # in fp32 as a fresh model is (transformers' dtype "auto" kept a bf16 run's weights in
        # bf16, and an fp32 run then trained and saved bf16 weights); engine.precision casts for itself
        model = variant.model_class.from_pretrained(cfg.init_from, config=model_config, dtype=torch.float32)
    else:
        model = variant.model_class(model_config)
    best = _Best(cfg, model_config, info, sets) if finetuning else None
    optimizer = _optimizer(model, cfg)
    engine, _, _, scheduler = deepspeed.initialize(model=model, optimizer=optimizer,
                                                   lr_scheduler=_scheduler(optimizer, cfg), config=ds_config)
    step, start, rng = 0, None, None
    if cfg.resume and (ckpt_dir / "latest").exists():
        try:
            _, client = engine.load_checkpoint(str(ckpt_dir))
        except RuntimeError as e:  # DeepSpeed loads the module strictly: a traceback listing every key
            if "Error(s) in loading state_dict" not in str(e):
                raise
            lines = [x.strip() for x in str(e).splitlines()[1:3]]
            raise ConfigError(f"{ckpt_dir / (ckpt_dir / 'latest').read_text().strip()}, which this run would resume, "
                              f"holds another architecture than this run's model (changed --model, --flavor or "
                              f"model_overrides?): {' '.join(lines)[:300]} -- restore the settings it was saved with, "
                              f"write to another --out, or delete {cfg.output_dir}") from None
        step = int(client["step"])
        start = Position.from_dict(client["data"][str(rank)] if str(rank) in client["data"] else client["data"]["0"])
        # each rank's own RNG (dropout masks), restored once the loader's iterator has drawn its seed (below);
        # checkpoints written before hold rank 0's only
        rng = client.get("torch_rng_ranks", {}).get(str(rank), client["torch_rng"])
        if best is not None:
            best.restore(client.get("finetune", {}))
        changed = changed_settings(client["config"], cfg.to_dict())
        if any(c.startswith("optim.") for c in changed):  # the checkpoint's lr, betas... were restored over ours
            apply_optim_settings(optimizer, scheduler, cfg)
        if changed and rank == 0:
            log.warning("resuming with settings that differ from the checkpoint's: %s", ", ".join(changed))
        if rank == 0:
            log.info("resumed from %s at step %d", ckpt_dir / (ckpt_dir / "latest").read_text().strip(), step)
            if best is not None and best.stopped() and step < cfg.max_steps:
                log.info("that run had stopped early (%s: %d evaluations without gain); not training further",
                         best.metric, best.bad)
    step0 = step  # this process's first step is step0 + 1
    spec = StreamSpec(sets=[s.urls for s in sets], weights=weights, batch_size=cfg.micro_batch_size,
                      collate=variant.collate, model_config=model_config, seed=cfg.seed, rank=rank,
                      world_size=world, shuffle_buffer=cfg.data.shuffle_buffer,
                      expected={u: e for s in sets for u, e in s.expected().items()},
                      strip=(info.mode, info.patch_size, info.max_patches))
    loader = make_loader(spec, start, cfg.data.num_workers)
    position = Position.from_dict(loader.dataset.start.to_dict())  # where the stream resumes (a copy we advance)
    batches = iter(loader)  # draws a base seed from torch's RNG: the saved state is restored after it, so a
    if rng is not None:  # resumed run's dropout masks are the uninterrupted run's (restored before, they were not)
        torch.set_rng_state(rng)
    logger = runtime.RankZeroLogger(out, rank, cfg.to_dict(), total=cfg.max_steps, initial=step)
    accum = ds_config["gradient_accumulation_steps"]
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.engine.precision]
    last_batch = last_out = None
    loss_value = float("nan")
    window = runtime.Throughput()
    ckpt = None
    while step < cfg.max_steps and not (best is not None and best.stopped()):  # a resumed early stop stays one
        engine.train()
        losses = []
        for _ in range(accum):
            batch, meta = next(batches)
            batch = _place(batch, engine.device, dtype)
            out_ = engine(**batch)
            engine.backward(out_.loss)
            engine.step()
            position.advance(meta)
            losses.append(out_.loss.detach().float())
            window.add(variant.stats(batch), len(next(iter(batch.values()))))
            last_batch, last_out = batch, out_
        step += 1
        loss = torch.stack(losses).mean()
        dist.all_reduce(loss)
        loss_value = float(loss) / world
        numerics.check_step(engine, cfg, step, loss_value, scheduler.get_last_lr()[0],  # NaN / inf: stop, save nothing
                            first=step == step0 + 1)
        if step % cfg.log_every == 0 or step == cfg.max_steps or step == 1:
            rates = window.rates(world)
            logger.scalars(step, {"loss": loss_value, "lr": scheduler.get_last_lr()[0], **rates,
                                  "skipped": sum(position.skip_counts().values())})
        if variant.visualize is not None and rank == 0 and (
                (cfg.viz_every and step % cfg.viz_every == 0) or step == cfg.max_steps):
            engine.eval()
            with torch.no_grad():
                image = variant.visualize(engine.module, last_batch, _float(last_out))
            if image is not None:  # a batch without an image row has nothing to draw
                logger.picture(step, image)
        stop = False
        if eval_set is not None and ((cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.max_steps):
            numerics.check_weights(engine, cfg, step, "the dev evaluation")  # a NaN model scores, and may be "best"
            if best is None:
                logger.scalars(step, evaluate(engine, variant, model_config, eval_set.urls, cfg, rank, world,
                                              eval_set.expected(), (info.mode, info.patch_size, info.max_patches)))
            else:
                stop = best.update(engine, eval_set, step, rank, world, logger)
        if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.max_steps or stop:
            ckpt = save_checkpoint(engine, ckpt_dir, step, cfg, position, world,
                                   {"finetune": best.state()} if best is not None else None,
                                   task_record(model_config.spec) if finetuning else None)
        logger.progress(step, loss_value)
        if stop:
            if rank == 0:
                log.info("early stop at step %d: %s did not improve in %d evaluations (best %.4f at step %d)",
                         step, best.metric, cfg.task.patience, best.value, best.step)
            break
    model_dir = save_model(engine, out / "model", rank, cfg, info, step)
    if rank == 0:
        numerics.note_no_best(best, out)
    if model_dir is not None:
        write_model_card(model_dir, cfg, model_config, sets, step)
    logger.close()
    dist.barrier()
    return Run(out, ckpt, model_dir, logger.last_picture, loss_value, step)


def evaluate(engine, variant, model_config, urls: list[str], cfg: TrainConfig, rank: int, world: int,
             expected: dict | None = None, strip: tuple | None = None) -> dict[str, float]:
    """``eval_loss``: the mean loss over up to ``eval_batches`` batches per rank of one pass over the held-out set,
    read with the manifest's checks and the train sets' strip shape; ``eval_skipped``: what that pass skipped
    (corrupt samples, a cut shard, counts the manifest does not list), summed over ranks."""
    import torch
    import torch.distributed as dist
    spec = StreamSpec(sets=[urls], weights=[1.0], batch_size=cfg.micro_batch_size, collate=variant.collate,
                      model_config=model_config, seed=cfg.seed, rank=rank, world_size=world, infinite=False,
                      expected=expected or {}, strip=strip)
    total = torch.zeros(3)

    def batches():  # up to eval_batches; skips counted over what was read (one batch more when there are more)
        for i, (batch, meta) in enumerate(make_loader(spec)):
            total[2] = float(sum(meta["skipped"].values()))
            if i >= cfg.eval_batches:
                return
            yield batch
    first = lambda: next(iter(make_loader(dataclasses.replace(spec, rank=0, world_size=1))))[0]  # noqa: E731
    engine.eval()
    with torch.no_grad():
        for batch, mine in runtime.in_step(batches(), engine.module, first):  # ZeRO-3: every rank, every forward
            batch = _place(batch, engine.device, next(engine.module.parameters()).dtype)
            loss = float(engine(**batch).loss)
            if mine:
                total[:2] += torch.tensor([loss, 1.0])
    dist.all_reduce(total)
    engine.train()
    if total[1] == 0 and cfg.eval_batches > 0:  # not a loss of 0.0: a held-out set with nothing usable in it
        from .stream import NoUsableData
        raise NoUsableData(f"data.eval ({len(urls)} shard(s), e.g. {urls[0]}) gave no usable batch in one pass; "
                           "check it with `pixel-shards verify DIR`")
    return {"eval_loss": float(total[0] / total[1].clamp(min=1)), "eval_skipped": int(total[2])}


class _Best:
    """Finetuning: score the dev split, keep the best model in ``output_dir/best`` (safetensors +
    ``metrics.json``), count evaluations without improvement for early stopping; resumable."""

    def __init__(self, cfg: TrainConfig, model_config, info, sets) -> None:
        from .spec import MAIN_METRIC
        self.cfg, self.model_config, self.info, self.sets = cfg, model_config, info, sets
        self.metric = cfg.task.metric or MAIN_METRIC[model_config.task["metric"]]
        self.value, self.step, self.bad, self.evaluated = float("-inf"), 0, 0, False

    def state(self) -> dict:
        return {"metric": self.metric, "value": self.value, "step": self.step, "bad": self.bad}

    def restore(self, d: dict) -> None:
        if d:
            self.value, self.step, self.bad = float(d["value"]), int(d["step"]), int(d["bad"])

    def update(self, engine, eval_set, step: int, rank: int, world: int, logger) -> bool:
        from . import finetune
        metrics, records = finetune.evaluate(engine.module, self.model_config, eval_set.urls,
                                             self.cfg.micro_batch_size, rank, world, eval_set.expected())
        self.evaluated = True
        if self.metric not in metrics:
            raise ConfigError(f"task.metric {self.metric!r} is not among this task's metrics {sorted(metrics)}")
        logger.scalars(step, {f"eval_{k}": v for k, v in metrics.items()})
        value = float(metrics[self.metric])
        if value != value and rank == 0:  # NaN: say so (it was silently never best)
            numerics.note_undefined(step, self.metric, records)
        if value > self.value:
            self.value, self.step, self.bad = value, step, 0
            out = Path(self.cfg.output_dir) / "best"
            save_model(engine, out, rank, self.cfg, self.info, step)
            if rank == 0:
                (out / "metrics.json").write_text(json.dumps({"step": step, "split": eval_set.spec, **metrics},
                                                                   indent=1))
                write_model_card(out, self.cfg, self.model_config, self.sets, step,
                                 {"step": step, **{f"eval_{k}": v for k, v in metrics.items()}})
        else:
            self.bad += 1
        return self.stopped()

    def stopped(self) -> bool:
        """Early stopping's verdict on the evaluations so far (restored: a resumed early-stopped run stays stopped)."""
        return bool(self.cfg.task.patience) and self.bad >= self.cfg.task.patience


def _float(output):
    """A model output with its floating tensors in fp32 (pictures are drawn with numpy)."""
    for k, v in output.items():
        if hasattr(v, "is_floating_point") and v.is_floating_point():
            output[k] = v.detach().float()
    return output


def _place(batch: dict, device, dtype) -> dict:
    """Tensors onto the engine's device; floating inputs in the engine's precision (DeepSpeed does not cast), not the
    targets: regression labels in bf16 were rounded (STS-B's 4.2 trained as 4.1875)."""
    return {k: v.to(device, dtype) if v.is_floating_point() and k != "labels" else v.to(device)
            for k, v in batch.items()}


def save_checkpoint(engine, ckpt_dir: Path, step: int, cfg: TrainConfig, position: Position, world: int,
                    extra: dict | None = None, task: dict | None = None) -> Path:
    import torch
    import torch.distributed as dist
    positions: list[Any] = [None] * world
    dist.all_gather_object(positions, position.to_dict())
    rngs: list[Any] = [None] * world  # rank 0 writes the client state: every rank's RNG goes in it (rank 1 resumed
    dist.all_gather_object(rngs, torch.get_rng_state())  # with rank 0's, and its dropout masks differed from then on)
    client = {"step": step, "config": cfg.to_dict(), "data": {str(r): p for r, p in enumerate(positions)},
              "torch_rng": rngs[0], "torch_rng_ranks": {str(r): g for r, g in enumerate(rngs)}, **(extra or {})}
    tag = f"step-{step:07d}"
    numerics.check_weights(engine, cfg, step, f"writing {ckpt_dir / tag}")  # NaN weights: resumed from
    # DeepSpeed's own `latest` is written by rank 0 as soon as rank 0's files are done, while other ranks may
    # still be writing their optimizer shards, and in place: a run killed then would resume from a half-written
    # checkpoint (or an empty `latest`). Here it is written after every rank has finished, by rename.
    engine.save_checkpoint(str(ckpt_dir), tag=tag, client_state=client, save_latest=False)
    dist.barrier()
    if dist.get_rank() == 0:
        (ckpt_dir / tag / RESUME_INFO).write_text(json.dumps({"step": step, "zero_stage": cfg.engine.zero_stage,
                                                              "world_size": world, "task": cfg.task.name,
                                                              **({"task_spec": task} if task else {})}))
        tmp = ckpt_dir / "latest.tmp"
        tmp.write_text(tag)
        os.replace(tmp, ckpt_dir / "latest")
    if dist.get_rank() == 0 and cfg.keep_checkpoints > 0:
        # the newest up to this one; a step-* dir past it is no checkpoint of this run (a killed run's unfinished
        # write, which latest never named): counted in, it pushed out the one latest now names
        for old in sorted(p for p in ckpt_dir.glob("step-*") if p.name <= tag)[:-cfg.keep_checkpoints]:
            shutil.rmtree(old)
    return ckpt_dir / tag


def save_model(engine, path: Path, rank: int, cfg: TrainConfig, info=None, step: int = 0) -> Path | None:
    """``save_pretrained`` (safetensors) of the trained weights (``Diverged`` if any is NaN / inf); ZeRO-3 gathers
    the shards first. With the train sets' tokenizer known, ``tokenizer-identity.json`` beside it (what its token
    ids mean: checked by finetune and evaluate)."""
    numerics.check_weights(engine, cfg, step, f"writing {path}")
    state = engine._zero3_consolidated_16bit_state_dict() if cfg.engine.zero_stage == 3 else None
    if rank != 0:
        return None
    module = engine.module
    module.save_pretrained(path, state_dict=state, safe_serialization=True)
    (path / "training_config.json").write_text(json.dumps(cfg.to_dict(), indent=1, default=str))
    record = tokenizer_record(info) if info is not None else None
    if record is not None:
        (path / TOKENIZER_RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return path

