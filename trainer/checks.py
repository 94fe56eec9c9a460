"""Every trainer setting checked before the engine starts: its type against the config dataclasses' own
annotations (pydantic, strict: ``true`` is not an int, ``5`` is not a path), then its range (``RANGES``).
One line per problem, naming the dotted key and the fix; ``TrainConfig.validate`` raises them as one ConfigError.

    problems = config_problems(cfg)      # [] when the run can start
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from pathlib import Path
from typing import Any, Callable, Iterator

from pydantic import TypeAdapter, ValidationError

from pixelkit.schemas.files import name_too_long


def _leaves(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted key, value, annotation) of every setting, sections flattened."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", value, hints[f.name]


@functools.lru_cache(maxsize=None)
def _adapter(hint: Any) -> TypeAdapter:
    return TypeAdapter(hint)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) if isinstance(hint, type) else str(hint).replace("typing.", "")


def type_problems(cfg: Any) -> list[str]:
    problems = []
    for key, value, hint in _leaves(cfg):
        try:
            _adapter(hint).validate_python(value, strict=True)
        except ValidationError:
            null = " (null: an empty --set KEY= or `KEY:` in a run file); give a value" if value is None else ""
            problems.append(f"{key}: expected {_type_name(hint)}, got {value!r}{null}")
    return problems


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _local_dir(v: str | None) -> bool:
    return v is None or "://" in v or Path(v).is_dir()


def weights_problem(init_from: str | None, key: str = "init_from") -> str | None:
    """A local ``init_from`` directory must hold config.json and weights (a pretrain output's own directory has
    a config.json too, the run's settings, and used to fail inside the engine)."""
    if not init_from or not init_from.strip() or "://" in init_from or not Path(init_from).is_dir():
        return None  # unset, remote, or already reported as not a directory
    d = Path(init_from)
    files = [*d.glob("model*.safetensors*"), *d.glob("pytorch_model*.bin*")]
    if (d / "config.json").is_file() and any(f.is_file() for f in files):  # a directory or a dangling link: none
        return None
    hint = f"; did you mean {d / 'model'}?" if (d / "model" / "config.json").is_file() else ""
    return (f"{key} {init_from!r} holds no config.json + model weights (model*.safetensors, pytorch_model*.bin): "
            f"give a save_pretrained directory, e.g. a pixel-train pretrain output's model/{hint}")


# (dotted key, test, what the value must be -- with the fix); a key the config lacks is skipped.
RANGES: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("max_steps", lambda v: v >= 1, "must be >= 1"),
    ("micro_batch_size", lambda v: v >= 1, "must be >= 1 (samples per rank and forward pass)"),
    ("global_batch_size", lambda v: v >= 1, "must be >= 1 (micro_batch_size x ranks x accumulation)"),
    ("log_every", lambda v: v >= 1, "must be >= 1 (log every N steps, e.g. 10)"),
    ("save_every", lambda v: v >= 0, "must be >= 0 (0: save only at the end)"),
    ("keep_checkpoints", lambda v: v >= 1, "must be >= 1 (how many newest checkpoints to keep)"),
    ("eval_every", lambda v: v >= 0, "must be >= 0 (0: evaluate only at the end)"),
    ("eval_batches", lambda v: v >= 1, "must be >= 1"),
    ("viz_every", lambda v: v >= 0, "must be >= 0 (0: only at the end)"),
    ("seed", lambda v: 0 <= v < 2**32, "must be in 0..2**32-1"),
    ("init_from", lambda v: v is None or v.strip() != "", "is empty; give a save_pretrained directory or leave it out "
     "(from scratch)"),
    ("init_from", lambda v: v is None or not v.strip() or _local_dir(v),
     "is not a directory; give a save_pretrained directory (model.safetensors + config.json)"),
    ("output_dir", lambda v: v.strip() != "", "is empty; give a directory (an empty one wrote into the current one)"),
    ("output_dir", lambda v: not name_too_long(v, ""), "is too long a name for the filesystem; give a shorter path"),
    ("output_dir", lambda v: bool(name_too_long(v, "")) or not Path(v).is_file(), "is a file; give a directory"),
    ("data.train", lambda v: len(v) > 0, "needs at least one shard set (--data DIR)"),
    ("data.train", lambda v: all(x.strip() for x in v), "holds an empty entry; give shard sets (--data DIR)"),
    ("data.eval", lambda v: v is None or v.strip() != "", "is empty; give a held-out shard set or leave it out"),
    ("data.weights", lambda v: v is None or all(_finite(w) and w > 0 for w in v), "must be numbers > 0"),
    ("data.shuffle_buffer", lambda v: v >= 0, "must be >= 0 (0: no shuffling)"),
    ("data.num_workers", lambda v: v >= 0, "must be >= 0 (DataLoader worker processes; 0: load in the main process)"),
    ("optim.lr", lambda v: _finite(v) and v > 0, "must be a number > 0 (e.g. 1.5e-4)"),
    ("optim.min_lr", lambda v: _finite(v) and v >= 0, "must be a number >= 0 (the cosine floor, e.g. 1e-5)"),
    ("optim.warmup_ratio", lambda v: _finite(v) and 0 <= v < 1, "must be in [0, 1) (a fraction of max_steps)"),
    ("optim.weight_decay", lambda v: _finite(v) and v >= 0, "must be >= 0"),
    ("optim.betas", lambda v: all(_finite(b) and 0 <= b < 1 for b in v), "must be two numbers in [0, 1), e.g. [0.9, 0.95]"),
    ("optim.eps", lambda v: _finite(v) and v > 0, "must be > 0 (e.g. 1e-8)"),
    ("optim.eps", lambda v: not (_finite(v) and 0 < v < 1e-38), "is 0 in float32, where Adam adds it (a weight "
     "without gradient gets 0 / 0 = NaN); give one >= 1e-38, e.g. 1e-8"),
    ("optim.warmup_steps", lambda v: v >= 0, "must be >= 0"),
    ("optim.grad_clip", lambda v: _finite(v) and v >= 0, "must be >= 0 (0: no clipping)"),
    ("optim.schedule", lambda v: v in ("cosine", "linear", "constant"), "must be cosine | linear | constant"),
    ("task.modality", lambda v: v in (None, "text", "pixel", "pair"), "must be text | pixel | pair (or unset)"),
    ("engine.zero_stage", lambda v: v in (0, 1, 2, 3), "must be 0, 1, 2 or 3"),
    ("engine.precision", lambda v: v in ("fp32", "bf16", "fp16"), "must be fp32 | bf16 | fp16"),
)


def _get(cfg: Any, dotted: str) -> tuple[bool, Any]:
    obj = cfg
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return False, None
        obj = getattr(obj, part)
    return True, obj


def config_problems(cfg: Any) -> list[str]:
    """Type problems first; ranges are checked only on settings whose type is right."""
    problems = type_problems(cfg)
    bad = {p.split(":", 1)[0] for p in problems}
    for key, ok, msg in RANGES:
        found, value = _get(cfg, key)
        if found and key not in bad and not ok(value):
            problems.append(f"{key} {value!r} {msg}")
    if "init_from" not in bad and (problem := weights_problem(cfg.init_from)):
        problems.append(problem)
    weights, train = cfg.data.weights, cfg.data.train
    if "data.weights" not in bad and weights is not None and len(weights) != len(train):
        problems.append(f"data.weights: {len(weights)} weights for {len(train)} data.train sets; give one per set")
    return problems
