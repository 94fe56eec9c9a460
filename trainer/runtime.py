"""Process setup and rank-0 reporting: accelerator choice, the JIT-extension cache, metrics, pictures, progress."""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pixelkit.schemas.files import write_atomic

log = logging.getLogger("pixel-train")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
STALE_LOCK_SECONDS = 15 * 60  # a JIT build takes 1-2 min; a lock this old was left by a killed build


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed() -> tuple[int, int]:
    """The process group (gloo on CPU, nccl on GPU) of a launcher's ranks, or of this one process: (rank, world)."""
    import deepspeed
    import torch.distributed as dist
    for k, v in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1")):
        os.environ.setdefault(k, v)
    os.environ.setdefault("MASTER_PORT", str(free_port()))
    if not dist.is_initialized():
        # DeepSpeed's CPU backend JIT-builds a shared-memory op (1-2 min on a first run) that only its
        # inference_all_reduce uses; training reduces through gloo, so the build is skipped.
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
        deepspeed.init_distributed(dist_backend=backend(), auto_mpi_discovery=False, verbose=False)
    return dist.get_rank(), dist.get_world_size()


def setup() -> None:
    """CPU accelerator when there is no CUDA; DeepSpeed's JIT ops cached inside the project; stale locks gone."""
    import torch
    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
        cpu_threads_per_rank()
    quiet_hf_bars()
    ext = Path(os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(PROJECT_ROOT / ".cache" / "torch_extensions")))
    for lock in ext.glob("*/lock"):
        age = time.time() - lock.stat().st_mtime
        if age > STALE_LOCK_SECONDS:
            log.warning("removing stale JIT build lock %s (%.0f min old; a killed build left it)", lock, age / 60)
            lock.unlink(missing_ok=True)


def quiet_hf_bars() -> None:
    """Off a terminal, transformers' bars (save_pretrained's "Writing model shards", from_pretrained's "Loading
    weights") are noise in a log."""
    if not sys.stderr.isatty():
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()


def cpu_threads_per_rank() -> int:
    """On CPU, give each local rank its share of the cores unless OMP_NUM_THREADS says otherwise.

    torchrun sets OMP_NUM_THREADS=1 for several local ranks; DeepSpeed's launcher sets nothing (only with
    --bind_cores_to_rank), so every rank would start one thread per core and they would fight over the same
    cores (7.7 s/step against 1.6 s/step measured with 2 ranks on 2 cores). Local rank count: torchrun's
    LOCAL_WORLD_SIZE or the deepspeed launcher's LOCAL_SIZE."""
    import torch
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    local = int(os.environ.get("LOCAL_WORLD_SIZE") or os.environ.get("LOCAL_SIZE") or 1)
    if local > 1:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(max(1, cores // local))
    return torch.get_num_threads()


def in_step(batches, model, first):
    """The batches of one pass over a split, in step across ranks when ZeRO-3 partitions ``model``'s parameters: each
    forward then gathers them from every rank, so a rank out of batches (its share of the split smaller, or empty)
    left the others in their gather -- gloo's "collective mismatch" abort, or a hang. Yields ``(batch, True)`` for
    this rank's batches, then ``(filler, False)`` (a forward to run and discard) while another rank still has some;
    ``first()`` gives the filler of a rank that had none. Otherwise ``(batch, True)`` only, with no collective."""
    import torch
    import torch.distributed as dist
    if not (dist.is_initialized() and dist.get_world_size() > 1 and any(hasattr(p, "ds_status")
                                                                        for p in model.parameters())):
        yield from ((b, True) for b in batches)
        return
    batches, last = iter(batches), None
    while True:
        item = next(batches, None)
        left = torch.tensor([int(item is not None)])
        dist.all_reduce(left)
        if int(left) == 0:
            return
        if item is not None:
            last = item
            yield item, True
        else:
            last = last if last is not None else first()
            yield last, False


def backend() -> str:
    import torch
    return "nccl" if torch.cuda.is_available() else "gloo"


class Throughput:
    """Samples, patches and tokens per second since the last report."""

    def __init__(self) -> None:
        self.t0, self.samples, self.patches, self.tokens = time.perf_counter(), 0, 0, 0

    def add(self, stats: dict[str, int], samples: int) -> None:
        self.samples += samples
        self.patches += int(stats.get("patches", 0))
        self.tokens += int(stats.get("tokens", 0))

    def rates(self, world: int) -> dict[str, float]:
        dt = max(time.perf_counter() - self.t0, 1e-9)
        out = {"samples_per_s": world * self.samples / dt, "patches_per_s": world * self.patches / dt,
               "tokens_per_s": world * self.tokens / dt}  # rank 0's rate x ranks
        self.__init__()
        return out


def _step(record: str) -> int | None:
    """A metrics.jsonl record's step; None for a line that is not a whole record (cut off by a kill)."""
    try:
        return int(json.loads(record)["step"])
    except (ValueError, KeyError, TypeError):
        return None


class RankZeroLogger:
    """metrics.jsonl + tensorboard events + PNGs + progress (a bar on a terminal, a line per ``log_every`` steps
    in a log), on rank 0 only (other ranks: no-ops)."""

    def __init__(self, out: Path, rank: int, config: dict[str, Any], total: int, initial: int = 0):
        self.rank, self.out, self.last_picture = rank, out, None
        if rank != 0:
            return
        from torch.utils.tensorboard import SummaryWriter
        from tqdm import tqdm
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config, indent=1, default=str))
        metrics = out / "metrics.jsonl"
        if metrics.exists():  # a resumed run: records past the checkpoint's step are re-logged, drop the old ones
            keep = [r for r in metrics.read_text(encoding="utf-8").splitlines() if (s := _step(r)) is not None
                    and s <= initial]  # and a record the killed run cut off mid-line (it stopped the resume)
            write_atomic(metrics, "".join(r + "\n" for r in keep).encode())
        self.metrics = metrics.open("a", encoding="utf-8")
        self.tb = SummaryWriter(str(out / "tensorboard"))
        self.total, self.every, self.name = total, max(1, int(config.get("log_every") or 10)), config.get("model", "")
        self.t0, self.start = time.perf_counter(), initial
        # a terminal gets a bar; a log file gets one plain line per log_every steps (a bar there is one long line)
        self.bar = tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True) \
            if sys.stderr.isatty() else None

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.rank != 0:
            return
        record = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in values.items()}
        self.metrics.write(json.dumps({"step": step, **record}) + "\n")  # strict JSON: an undefined score is null
        self.metrics.flush()
        for k, v in values.items():
            self.tb.add_scalar(f"train/{k}" if not k.startswith("eval") else k.replace("_", "/", 1), v, step)

    def picture(self, step: int, image: np.ndarray) -> None:
        if self.rank != 0:
            return
        from PIL import Image
        path = self.out / "pictures" / f"step-{step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        self.tb.add_image("reconstruction", image, step, dataformats="HW" if image.ndim == 2 else "HWC")
        self.last_picture = path

    def progress(self, step: int, loss: float) -> None:
        if self.rank != 0:
            return
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}")
            self.bar.update(step - self.bar.n)
        elif step % self.every == 0 or step == self.total:
            rate = (step - self.start) / max(time.perf_counter() - self.t0, 1e-9)
            log.info("%s step %d/%d  loss %.4f  %.2f steps/s", self.name, step, self.total, loss, rate)

    def close(self) -> None:
        if self.rank == 0:
            if self.bar is not None:
                self.bar.close()
            self.metrics.close()
            self.tb.close()
