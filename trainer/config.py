"""One run's settings: a YAML file (``trainer/runs/*.yaml``) + CLI overrides -> a validated ``TrainConfig``.

Unknown keys are errors (with the closest known key), and the DeepSpeed config is DERIVED from this one:
batch sizes and gradient accumulation are computed once, in ``deepspeed_config``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .spec import ConfigError


@dataclass
class DataConfig:
    train: list[str] = field(default_factory=list)  # shard sets: dir, manifest.json, brace pattern, URL(s)
    weights: list[float] | None = None  # mixing weights per train set; default: by sample count (as PIXEL)
    eval: str | None = None  # held-out shard set, one pass per evaluation
    shuffle_buffer: int = 1000
    num_workers: int = 0  # DataLoader worker processes per rank
    expect: dict[str, Any] = field(default_factory=dict)  # {mode, patch_size, max_patches} the shards must have


@dataclass
class OptimConfig:
    """AdamW + warmup + schedule. Defaults: PIXEL's pretraining (xplip/pixel configs/training/fp16_apex_bs32.json,
    HF Trainer's AdamW defaults, src/pixel/utils/optimization.py's cosine to min_lr 1e-5)."""

    lr: float = 1.5e-4  # peak learning rate
    min_lr: float = 1e-5  # cosine floor (absolute), as PIXEL's get_cosine_schedule_to_min_lr_with_warmup
    weight_decay: float = 0.05  # not on norms and biases
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_steps: int = 0  # > 0: this many linear warmup steps; 0: warmup_ratio of max_steps
    warmup_ratio: float = 0.05  # PIXEL: 5 % of 1M steps = 50k
    schedule: str = "cosine"  # cosine (to min_lr) | linear | constant (transformers' schedules, with warmup)
    grad_clip: float = 1.0


@dataclass
class EngineConfig:
    zero_stage: int = 0  # 0-3
    precision: str = "fp32"  # fp32 | bf16 | fp16 (fp16 needs CUDA)


@dataclass
class TaskRunConfig:
    name: str | None = None  # finetuning: the task (its name, family or an alias such as pos); None: pretraining
    head: str | None = None  # default: the family's (sequence, tagging, biaffine, qa)
    head_options: dict[str, Any] = field(default_factory=dict)  # e.g. {pooling: cls, dropout: 0.1}
    metric: str | None = None  # metric key the best checkpoint is chosen by; default: the task's main metric
    patience: int = 0  # stop after this many evaluations without improvement; 0: never stop early
    modality: str | None = None  # PixelGPT family: text | pixel | pair (image then text); None: the variant's own


@dataclass
class TrainConfig:
    model: str = "pixel"
    flavor: str = "debug"
    model_overrides: dict[str, Any] = field(default_factory=dict)  # model config fields, e.g. {hidden_size: 128}
    init_from: str | None = None  # a save_pretrained directory (safetensors): pretraining continues from it;
    #                               finetuning (task.name set) puts its encoder under the task's head
    output_dir: str = "out/train"
    seed: int = 0
    max_steps: int = 100
    micro_batch_size: int = 8  # per rank and forward pass
    global_batch_size: int = 8  # micro * ranks * accumulation
    log_every: int = 10
    save_every: int = 0  # 0: only at the end
    keep_checkpoints: int = 3  # newest DeepSpeed checkpoints kept; older ones are deleted after each save
    eval_every: int = 0  # 0: only at the end (if data.eval is set)
    eval_batches: int = 10
    viz_every: int = 0  # 0: only at the end
    resume: bool = True  # continue from output_dir/checkpoints/latest when it exists
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    task: TaskRunConfig = field(default_factory=TaskRunConfig)

    def validate(self) -> "TrainConfig":
        from .checks import config_problems  # every key's type and range (one line each)

        if problems := config_problems(self):
            raise ConfigError("\n".join(problems))

        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)
        need(bool(self.data.train), "data.train: give at least one shard set (--data DIR)")
        need(self.data.weights is None or len(self.data.weights) == len(self.data.train),
             "data.weights: one weight per data.train entry")
        need(self.max_steps > 0 and self.micro_batch_size > 0, "max_steps and micro_batch_size must be > 0")
        # before torch.distributed starts (deepspeed_config checks again with its world); WORLD_SIZE: the launcher's
        check_batch(self, int(os.environ["WORLD_SIZE"]) if os.environ.get("WORLD_SIZE", "").isdigit() else 1)
        need(self.engine.zero_stage in (0, 1, 2, 3), f"engine.zero_stage must be 0-3, not {self.engine.zero_stage}")
        need(self.engine.precision in ("fp32", "bf16", "fp16"), "engine.precision: fp32 | bf16 | fp16")
        need(self.task.patience >= 0, "task.patience must be >= 0")
        need(self.task.name is not None or (self.task.head is None and not self.task.head_options),
             "task.head / task.head_options need task.name (a finetuning run)")
        need(self.optim.schedule in ("cosine", "linear", "constant"), "optim.schedule: cosine | linear | constant")
        need(0 <= self.optim.min_lr <= self.optim.lr, f"optim.min_lr {self.optim.min_lr} must lie in [0, optim.lr "
             f"{self.optim.lr}]; lower it (e.g. --set optim.min_lr=0)")
        bad = sorted(set(self.data.expect) - {"mode", "patch_size", "max_patches"})
        need(not bad, f"data.expect: unknown key(s) {bad}; known: mode, patch_size, max_patches")
        need(self.optim.warmup_steps >= 0 and 0 <= self.optim.warmup_ratio < 1,
             "optim.warmup_steps must be >= 0 and optim.warmup_ratio in [0, 1)")
        return self

    def check_data(self, info) -> None:
        """The shards' ``DataInfo`` against ``data.expect`` (paper run files pin their render geometry)."""
        for key, want in self.data.expect.items():
            have = getattr(info, key, None)
            if have != want:
                raise ConfigError(f"data.expect.{key} is {want!r} but the shards ({self.data.train[0]}) have "
                                  f"{have!r}: render them with the preset the run file names, or drop the key")

    def warmup(self) -> int:
        """Linear warmup steps: ``optim.warmup_steps`` if set, else ``ceil(warmup_ratio * max_steps)`` (as HF)."""
        if self.optim.warmup_steps > 0:
            return self.optim.warmup_steps
        return math.ceil(self.optim.warmup_ratio * self.max_steps)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def changed_settings(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted names of settings whose values differ between two resolved configs."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict) and k not in ("model_overrides", "head_options"):
            out += changed_settings(a, b, f"{prefix}{k}.")
        elif a != b and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b)):
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def check_batch(cfg: TrainConfig, world_size: int) -> int:
    """Samples per optimizer micro-step over all ranks; ConfigError unless the global batch is a multiple of it."""
    per_step = cfg.micro_batch_size * max(world_size, 1)
    if cfg.global_batch_size % per_step:
        raise ConfigError(f"global_batch_size {cfg.global_batch_size} is not a multiple of micro_batch_size "
                          f"{cfg.micro_batch_size} x {max(world_size, 1)} rank(s); make it a multiple of {per_step}")
    return per_step


def deepspeed_config(cfg: TrainConfig, world_size: int) -> dict[str, Any]:
    """The DeepSpeed config for this run; gradient accumulation = global / (micro * world), exactly."""
    per_step = check_batch(cfg, world_size)
    ds: dict[str, Any] = {
        "train_batch_size": cfg.global_batch_size,
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": cfg.global_batch_size // per_step,
        "gradient_clipping": cfg.optim.grad_clip,
        "zero_optimization": {"stage": cfg.engine.zero_stage},
        "steps_per_print": 10**9,  # the trainer logs; DeepSpeed stays quiet
        "wall_clock_breakdown": False,
    }
    if cfg.engine.precision == "bf16":
        ds["bf16"] = {"enabled": True}
    elif cfg.engine.precision == "fp16":
        ds["fp16"] = {"enabled": True, "initial_scale_power": 16}
    return ds


# -- loading ------------------------------------------------------------------------------------------------

def _merge(obj: Any, updates: dict[str, Any], where: str) -> Any:
    """Dataclass ``obj`` updated from a nested mapping; unknown keys raise with the closest known one."""
    names = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in updates.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {where}{close[0]!r}?" if close else f"; known: {', '.join(names)}"
            raise ConfigError(f"unknown setting {where}{key!r}{hint}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key} is a section; give a mapping")
            _merge(current, value, f"{where}{key}.")
        elif key in ("model_overrides", "head_options"):
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"{where}{key}: expected a mapping of settings (e.g. --set {where}{key}.NAME=VALUE), "
                                  f"got {value!r}")
            setattr(obj, key, {**current, **(value or {})})
        else:
            setattr(obj, key, _coerce(value, current, f"{where}{key}"))
    return obj


def _coerce(value: Any, current: Any, name: str) -> Any:
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(current, list) and isinstance(value, str):
        return [value]
    if isinstance(current, float) and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:  # YAML 1.1 reads 3e-4 (no dot) as a string
            return float(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if current is not None and value is not None and not isinstance(value, type(current)):
        raise ConfigError(f"{name}: expected {type(current).__name__}, got {value!r}")
    return value


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["optim.lr=3e-4", "model_overrides.hidden_size=64"]`` -> nested mapping (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {p} was set to a value by an earlier --set, not a section")
        try:
            node[leaf] = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {item!r}: the value is not YAML ({str(e).splitlines()[0]}); quote it, "
                              f"e.g. --set '{key}=\"...\"'") from None
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice in one mapping",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_run_file(p: Path) -> Any:
    """A YAML run file's data; ConfigError (with the line) for one that is not a file or not YAML."""
    if not p.is_file():
        raise ConfigError(f"run file {p} {'is a directory' if p.is_dir() else 'does not exist'}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:  # was reported as "not valid YAML: 'utf-8' codec can't decode ..."
        raise ConfigError(f"run file {p} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
                          "save it as UTF-8") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 -- a SafeLoader
    except yaml.YAMLError as e:
        raise ConfigError(f"run file {p} is not valid YAML: {' '.join(str(e).split())[:300]}") from None


def load_config(path: str | Path | None = None, *overrides: dict[str, Any]) -> TrainConfig:
    """Defaults <- YAML run file <- each override mapping, then validated."""
    cfg = TrainConfig()
    if path is not None:
        p = Path(path)
        data = read_run_file(p)
        if data is None:  # ran on the defaults (for finetune: not its family's run file; output_dir out/train)
            raise ConfigError(f"run file {p} holds no settings (it is empty or only comments); give settings, or leave "
                              "--config out (pretrain: the defaults; finetune: the task family's run file)")
        if not isinstance(data, dict):
            raise ConfigError(f"run file {p} must hold a mapping")
        _merge(cfg, data, "")
    for o in overrides:
        _merge(cfg, o, "")
    return cfg.validate()
