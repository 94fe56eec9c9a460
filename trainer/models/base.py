"""What every model variant provides, and the small helpers they share.

A variant is one module in ``trainer/models/`` exposing ``VARIANT = Variant(...)`` plus one line in
``trainer/models/__init__.py``'s ``REGISTRY``. The engine never looks inside a model: it builds the config
with ``variant.make_config(flavor, overrides, data)``, the model with ``variant.model_class(config)``, batches
with ``variant.collate(samples, config, rng)``, and calls ``model(**batch).loss``.
"""

from __future__ import annotations

import fnmatch
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from transformers import PreTrainedModel

from ..spec import ConfigError, DataInfo, read_json_object  # noqa: F401 - ConfigError, DataInfo: re-exported
from ..spec import SIZES, check_fields, check_sizes, weight_files  # noqa: F401 - SIZES, check_sizes: re-exported


@dataclass(frozen=True)
class Variant:
    name: str
    config_class: type  # a transformers PretrainedConfig subclass
    model_class: type  # a transformers PreTrainedModel subclass; forward(**batch) -> output with .loss
    flavors: dict[str, dict[str, Any]]  # "debug" (CPU, seconds) and paper-size flavors -> config kwargs
    make_config: Callable[[str, dict[str, Any], DataInfo], Any]  # raises ConfigError on a mismatch
    collate: Callable[[list, Any, np.random.Generator], dict[str, torch.Tensor]]  # DecodedSamples -> batch
    stats: Callable[[dict[str, torch.Tensor]], dict[str, int]]  # {"patches": n, "tokens": n} seen by the loss
    visualize: Callable[[Any, dict[str, torch.Tensor], Any], np.ndarray] | None = None  # uint8 image
    modes: tuple[str, ...] = ("gray", "rgb", "binary")
    needs_tokens: bool = False
    paper_params: dict[str, tuple[float, float]] = field(default_factory=dict)  # flavor -> (lo, hi) params

    def config(self, flavor: str, overrides: dict[str, Any] | None, data: DataInfo):
        if flavor not in self.flavors:
            raise ConfigError(f"model {self.name!r} has no flavor {flavor!r}; choose one of {sorted(self.flavors)}")
        if data.mode not in self.modes:
            raise ConfigError(f"model {self.name!r} trains on {'/'.join(self.modes)} shards, these are {data.mode!r}")
        if self.needs_tokens and not data.vocab_size:
            raise ConfigError(f"model {self.name!r} needs token ids; no manifest of the shards names a tokenizer")
        return self.make_config(flavor, dict(overrides or {}), data)


class LoadingError(ConfigError):
    """Loading a checkpoint would leave weights random or drop trained ones; the message names them."""


def check_loading(model: str, path, info: dict, allow_missing=(), allow_unexpected=()) -> None:
    """Refuse a load with missing, unexpected or size-mismatched keys, unless each matches one of the caller's
    fnmatch patterns (a finetuning head's new weights are allowed missing, dropped pretraining heads unexpected)."""
    def left(keys, allowed):
        return sorted(k for k in keys if not any(fnmatch.fnmatchcase(k, a) for a in allowed))
    missing = left(info.get("missing_keys", ()), allow_missing)
    shapes = {m[0]: f" (checkpoint {tuple(m[1])}, model {tuple(m[2])})" for m in info.get("mismatched_keys", ())
              if isinstance(m, (tuple, list)) and len(m) == 3}
    mismatched = [k + shapes.get(k, "") for k in left([m[0] if isinstance(m, (tuple, list)) else m
                                                       for m in info.get("mismatched_keys", ())], allow_missing)]
    unexpected = left(info.get("unexpected_keys", ()), allow_unexpected)
    problems = []
    for what, keys, fix in (("missing (would stay random)", missing, "allow_missing"),
                            ("of another shape (would stay random)", mismatched, "allow_missing"),
                            ("unexpected (would be dropped)", unexpected, "allow_unexpected")):
        if keys:
            more = f" (+{len(keys) - 6} more)" if len(keys) > 6 else ""
            problems.append(f"{len(keys)} key(s) {what}: {keys[:6]}{more} [name them in {fix}= if intended]")
    if problems:
        raise LoadingError(f"loading {model} from {path}: " + "; ".join(problems))


def check_local_dir(model: str, path: Path, config, own_type: str, config_class=None) -> dict[str, str]:
    """A model directory of ours before transformers reads it: a config.json (without one transformers builds the
    config class's defaults -- another architecture -- and reports every key as missing) and safetensors files
    that open (a cut one was a bare SafetensorError naming no file); a finetuned task model and a pretraining
    model (``own_type``: the loading class's model_type) do not load as each other. Returns the tensors' dtype
    names and shapes (from the headers: nothing is read) and the saved model_type."""
    from safetensors import SafetensorError
    saved = None
    if not (path / "config.json").is_file() and (config is None or isinstance(config, (str, Path))):
        raise LoadingError(f"loading {model} from {path}: no config.json there (give a save_pretrained / pixel-train "
                           f"output dir, or pixel-train import a published checkpoint first)")
    if (path / "config.json").is_file():
        cfg = read_json_object(path / "config.json", LoadingError)
        check_sizes(cfg, path / "config.json")
        if config_class is not None and cfg.get("model_type") == own_type:
            check_fields(cfg, config_class, path / "config.json")
        saved, task = cfg.get("model_type"), "pixelkit-task"
        if saved != own_type and task in (saved, own_type):  # never each other's: a traceback inside __init__
            raise LoadingError(f"{path} holds a {saved!r} model, not a {own_type!r} one: " + (
                "give a finetuning output's best/ or model/ dir" if own_type == task else
                "a finetuned task model loads with TaskModel.from_pretrained (pixel-train evaluate)"))
    dtypes: dict[str, str] = {}
    shapes: dict[str, tuple] = {}
    for f in weight_files(path, LoadingError, f"loading {model}: "):
        try:
            header_info(f, dtypes, shapes)
        except (SafetensorError, OSError) as e:
            raise LoadingError(f"loading {model}: {f} is not a readable safetensors file ({str(e)[:120]}); "
                               f"save or copy it again") from None
    return dtypes, shapes, saved


def header_info(f: Path, dtypes: dict, shapes: dict) -> None:
    """Each tensor's dtype name and shape from a safetensors file's header (no tensor is read)."""
    from safetensors import safe_open
    with safe_open(str(f), "pt") as h:
        for k in h.keys():
            dtypes[k], shapes[k] = h.get_slice(k).get_dtype(), tuple(h.get_slice(k).get_shape())


def check_shapes(cls, path, config, stored: dict[str, tuple], allow_missing=()) -> None:
    """config.json's shapes against the safetensors headers, on the meta device (nothing allocated: absurd sizes
    were allocated before the mismatch was reported); ``check_loading``'s message and ``allow_missing``."""
    with torch.device("meta"):
        probe = cls(config)
    bad = [(k, stored[k], tuple(v.shape)) for k, v in probe.state_dict().items()
           if k in stored and tuple(v.shape) != tuple(stored[k])]
    check_loading(cls.__name__, path, {"mismatched_keys": bad}, allow_missing)


def check_dtypes(model: str, where, own: dict[str, torch.Tensor], stored: dict[str, Any], values=None) -> None:
    """A float weight stored as integers or booleans (a damaged or foreign file) is refused: torch's copy would
    cast it silently. Float precisions (a bf16 run's weights into fp32) are cast, as transformers does.
    ``stored``: key -> torch dtype or safetensors name (F32, I64 ...). A NaN or inf in the loaded ``values``
    (default ``own``) is refused too: a diverged run's weights loaded silently and trained on NaN."""
    def floating(dt) -> bool:
        return dt.is_floating_point if isinstance(dt, torch.dtype) else str(dt).startswith(("F", "BF"))
    bad = sorted(f"{k} ({dt})" for k, dt in stored.items()
                 if k in own and own[k].is_floating_point() and not floating(dt))
    if bad:
        raise LoadingError(f"loading {model} from {where}: {len(bad)} float weight(s) stored as integers or "
                           f"booleans: {bad[:6]}; the file is damaged or not this model's")
    values = own if values is None else values
    bad = sorted(k for k in stored if k in values and not bool(torch.isfinite(values[k]).all()))
    if bad:
        raise LoadingError(f"loading {model} from {where}: {len(bad)} weight(s) hold NaN or inf: {bad[:6]}; its run "
                           f"diverged or the file is damaged -- load an earlier checkpoint")


class PixelkitModel(PreTrainedModel):
    """Our models' base: ``from_pretrained`` refuses silence and reads published layouts.

    * our own checkpoints load as transformers loads them, then ``check_loading``: any missing, unexpected or
      mismatched key fails unless named in ``allow_missing`` / ``allow_unexpected`` (fnmatch patterns);
    * a directory in a published layout (``trainer.importers``: pixel-hf, pixelgpt-hf, pixar) is converted
      first; ``channels=1`` (or a ``config`` with ``num_channels=1``) folds 3-channel weights into a gray model.
    """

    def __init__(self, config, *args, **kwargs):
        # the config it is built from, whatever it came through (from_pretrained's keywords, e.g. mask_ratio=5.0, are
        # set after the file was checked: they built a model silently or failed in a constructor)
        src, cfg = config.name_or_path, config.to_dict()
        where = f"{type(config).__name__} of {src} (config.json + from_pretrained's keywords)" if src else \
            f"{type(config).__name__} (built in code)"
        check_sizes(cfg, where), check_fields(cfg, type(config), where)
        super().__init__(config, *args, **kwargs)

    @classmethod
    def variant_name(cls) -> str:
        return str(cls.config_class.model_type).removeprefix("pixelkit-")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, allow_missing=(), allow_unexpected=(),
                        channels: int | None = None, **kwargs):
        from ..importers import build, convert, detect
        want_info = kwargs.pop("output_loading_info", False)
        path = pretrained_model_name_or_path
        fmt = detect(path) if path is not None and Path(path).is_dir() else None
        if fmt is not None:
            config = kwargs.get("config")
            ours = config is not None and not isinstance(config, (str, Path))
            if channels is None and ours:
                channels = getattr(config, "num_channels", None)
            conv = convert(path, fmt, variant=cls.variant_name(), channels=channels,
                           num_patches=getattr(config, "num_patches", None) if ours else None)
            model = build(conv, cls)
            info = {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": [],
                    "imported_from": fmt, "dropped": conv.dropped, "notes": conv.notes}
        else:
            local = path is not None and Path(path).is_dir()
            config, own = kwargs.get("config"), cls.config_class.model_type
            dtypes, shapes, saved = check_local_dir(cls.__name__, Path(path), config, own,
                                                   cls.config_class) if local else ({}, {}, None)
            if saved == own:  # (another variant's dir is named as such below)
                if config is None or isinstance(config, (str, Path)):
                    config = cls.config_class.from_pretrained(config or path)
                check_shapes(cls, path, config, shapes, allow_missing)
            # mismatched sizes come back in ``info`` (transformers would raise a RuntimeError pointing at its log)
            kwargs["ignore_mismatched_sizes"] = True
            try:
                model, info = super().from_pretrained(path, *args, output_loading_info=True, **kwargs)
            except pickle.UnpicklingError as e:  # a pytorch_model.bin torch's weights-only reader refused
                from ..importers.common import pickle_refusal
                raise LoadingError(pickle_refusal(Path(path) / "pytorch_model.bin", e) or str(e)) from None
            try:
                check_loading(cls.__name__, path, info, allow_missing, allow_unexpected)
            except LoadingError as e:  # another variant's checkpoint: say so, not just "name them in allow_*"
                if saved and saved != own:
                    raise LoadingError(f"{path} holds a {saved!r} model, not {own!r}: load it as that variant "
                                       f"(AutoModel picks it; pretrain: --model {str(saved).removeprefix('pixelkit-')})"
                                       f". {e}") from None
                raise
            check_dtypes(cls.__name__, path, model.state_dict(), dtypes)
        return (model, info) if want_info else model


def apply_overrides(kwargs: dict[str, Any], overrides: dict[str, Any], config_class: type) -> dict[str, Any]:
    """Flavor kwargs updated by user overrides; an override the config class does not know is an error."""
    known = set(config_class().to_dict())
    unknown = sorted(k for k in overrides if k not in known and k not in kwargs)
    if unknown:
        raise ConfigError(f"unknown model setting(s) {unknown} for {config_class.__name__}")
    defaults = {**config_class().to_dict(), **kwargs}
    problems = [p for k, v in overrides.items() if (p := _override_problem(k, v, defaults.get(k)))]
    if problems:  # a string width or a negative size failed inside the model's construction, with a traceback
        raise ConfigError("\n".join(problems))
    return {**kwargs, **overrides}


def _override_problem(key: str, value: Any, default: Any) -> str | None:
    """A numeric model override of the default's type, finite and not negative; sizes and head counts >= 1,
    dropout probabilities in [0, 1]."""
    name = f"model_overrides.{key}"
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        ok = not isinstance(default, bool) or isinstance(value, bool)
        return None if ok else f"{name}: expected bool, got {value!r}"
    want = int if isinstance(default, int) else (int, float)
    if isinstance(value, bool) or not isinstance(value, want) or not math.isfinite(value):
        return f"{name}: expected {'int' if want is int else 'a number'}, got {value!r}"
    if key.endswith("size") or key.endswith("heads"):
        return None if value >= 1 else f"{name} {value!r} must be >= 1"
    if "dropout" in key or key.endswith("_prob"):
        return None if 0 <= value <= 1 else f"{name} {value!r} must be in [0, 1]"
    return None if value >= 0 else f"{name} {value!r} must be >= 0"


def batch_patches(strips: list[np.ndarray], patch_size: int, binary: bool = False) -> torch.Tensor:
    """Strips (H, W[, C]) uint8 -> (B, N, p, p, C) uint8 patches (row, column, channel), 0-255 (binary strips,
    {0, 1}, become {0, 255}). Models flatten and scale them on their own device with ``unit_pixels``.

    The batch is held in column order, the order pxz stores and decodes strips in, and returned as a permuted
    view (as FFCV hands out channels-last images): the transpose happens in the model's reshape, on the
    accelerator, on a quarter of the bytes a float batch would move. When the strips are the rows of one array
    in order (``BatchStream`` decodes a batch's strips into one fresh array per batch), that array is the batch,
    without a copy; other strips are copied in, one plain copy per pxz-decoded strip (~5 us) instead of a
    byte-wise transpose (~50 us) on the loader's core. Either way the strips are not written to."""
    h, w = strips[0].shape[:2]
    c = 1 if strips[0].ndim == 2 else strips[0].shape[2]
    if h != patch_size or w % patch_size:
        raise ConfigError(f"strip {h}x{w} does not split into {patch_size}px patches")
    if any(s.shape != strips[0].shape for s in strips):
        raise ConfigError(f"strips of one batch differ in shape: {sorted({s.shape for s in strips})}")
    cols = None if binary else rows_of_one_array(strips)
    if cols is None:
        cols = np.stack([s.T for s in strips])  # (B, W, H) or (B, C, W, H); a plain copy for pxz-decoded strips
        if binary:
            np.multiply(cols, 255, out=cols)
    n, t = w // patch_size, torch.from_numpy(cols)
    if c == 1:
        return t.view(len(strips), n, patch_size, patch_size).transpose(2, 3).unsqueeze(-1)
    return t.view(len(strips), c, n, patch_size, patch_size).permute(0, 2, 4, 3, 1)


def rows_of_one_array(strips: list[np.ndarray]) -> np.ndarray | None:
    """The (B, W, H) or (B, C, W, H) array whose rows 0..B-1 hold the strips' transposes in order (a view of
    it, no copy), or None when the strips are not laid out so (then they must be copied)."""
    base, cols = strips[0].base, strips[0].T
    if (base is None or base.ndim != 2 or base.dtype != np.uint8 or not base.flags.c_contiguous
            or len(strips) > base.shape[0] or base.shape[1] != cols.size):
        return None
    for i, s in enumerate(strips):
        t = s.T
        if s.base is not base or not t.flags.c_contiguous or t.ctypes.data != base.ctypes.data + i * base.strides[0]:
            return None
    return base[:len(strips)].reshape(len(strips), *cols.shape)


def binary_batch(samples: list) -> bool:
    """Whether a batch's strips are binary ({0, 1}); a batch mixing modes is refused."""
    modes = {s.mode for s in samples}
    if len(modes) > 1:
        raise ConfigError(f"one batch mixes strips of modes {sorted(modes)}")
    return modes == {"binary"}


def unit_pixels(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Batch pixels (B, N, ...) -> (B, N, features) in ``dtype``: uint8 0-255 from ``batch_patches`` scaled to
    [0, 1], float input taken as already in [0, 1]. On the model's device; the reshape makes it contiguous."""
    y = x.to(dtype)
    if x.dtype == torch.uint8:
        y = y.div_(255.0)
    return y.reshape(x.shape[0], x.shape[1], -1)


def attention_mask(samples: list, total: int) -> np.ndarray:
    """(B, total): 1 over each sample's text patches plus its EOS patch (PIXEL's num_patches + 1), 0 over the
    padding."""
    text = np.array([s.num_patches for s in samples])
    return (np.arange(total) < np.minimum(text + 1, total)[:, None]).astype(np.int64)


def check_token_ids(key: str, tok, vocab_size: int) -> None:
    """A sample's token ids fit the embedding: a manifest that understates its tokenizer (the entry count of one whose
    ids skip) would end in an IndexError inside the embedding."""
    if len(tok) and max(tok) >= vocab_size:
        raise ConfigError(f"sample {key} holds token id {max(tok)}, but the model embeds {vocab_size} (the manifest's "
                          "tokenizer vocab_size): the manifest is wrong (the entry count of a tokenizer whose ids "
                          "skip); render again")


def checked_patches(samples: list, patch_size: int, num_patches: int) -> torch.Tensor:
    """``batch_patches`` of the samples' strips, refused when they do not hold the model's number of patches."""
    pixels = batch_patches([s.pixels for s in samples], patch_size, binary_batch(samples))
    if pixels.shape[1] != num_patches:
        raise ConfigError(f"strips hold {pixels.shape[1]} patches, the model was built for {num_patches}")
    return pixels


def patches_to_strip(patches: np.ndarray, patch_size: int, channels: int = 1) -> np.ndarray:
    """One strip's patches (N, p*p*C) in [0, 1] -> (p, N*p[, C]) uint8, for pictures."""
    n = patches.shape[0]
    x = np.clip(patches, 0, 1).reshape(n, patch_size, patch_size, channels).transpose(1, 0, 2, 3)
    x = (x.reshape(patch_size, n * patch_size, channels) * 255).round().astype(np.uint8)
    return x[..., 0] if channels == 1 else x


def refuse_data_overrides(model: str, overrides: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Settings the shards decide (patch size, channels, length) cannot be overridden by hand."""
    for key in keys:
        if key in overrides:
            raise ConfigError(f"{model} takes {key} from the shards' manifest; drop the {key!r} override")


def normalize_patches(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-patch normalized pixels (MAE's norm_pix target): each patch minus its mean, over its unbiased std."""
    return (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True) + eps) ** 0.5


def denormalize_patches(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Inverse of ``normalize_patches`` with the statistics of ``target`` (for pictures of predictions)."""
    return pred * (target.var(-1, keepdim=True) + eps) ** 0.5 + target.mean(-1, keepdim=True)


def check_heads(model: str, *widths_heads: tuple[int, int, str], multiple: int = 1) -> None:
    """Each (width, heads, where): the width splits into the heads (and into ``multiple``), else a ConfigError."""
    for hidden, heads, where in widths_heads:
        if hidden % heads or hidden % multiple:
            extra = f" and be divisible by {multiple}" if multiple > 1 else ""
            raise ConfigError(f"{model} {where} width {hidden} must split into {heads} heads{extra}")


def masked_rows(x: torch.Tensor, masked: torch.Tensor, pred: torch.Tensor, attention: torch.Tensor,
                patch_size: int, channels: int = 1, samples: int = 4) -> list[list[np.ndarray]]:
    """For ``picture``: per sample the input, the input with masked patches gray, and the prediction pasted into
    the masked patches (attended patches only). x, pred: (B, N, D) in [0, 1]; masked, attention: (B, N)."""
    rows = []
    for i in range(min(samples, x.shape[0])):
        n = int(attention[i].sum())
        m = masked[i, :n, None]
        strips = [x[i, :n], torch.where(m, 0.5, x[i, :n]), torch.where(m, pred[i, :n], x[i, :n])]
        rows.append([patches_to_strip(t.numpy(), patch_size, channels) for t in strips])
    return rows


def count_parameters(variant: Variant, flavor: str, data: DataInfo) -> int:
    """Parameters of a flavor, built on the meta device (nothing allocated)."""
    cfg = variant.config(flavor, {}, data)
    with torch.device("meta"):
        model = variant.model_class(cfg)
    return sum(p.numel() for p in model.parameters())


def picture(rows: list[list[np.ndarray]], patch_size: int, wrap_patches: int = 64) -> np.ndarray:
    """A viewable PNG-ready image from strips: ``rows[i]`` are the strips of sample i (e.g. input, masked input,
    reconstruction), each wrapped into lines of ``wrap_patches`` patches, stacked with gray separators. Strips are
    uint8 (p, N*p) gray or (p, N*p, 3) rgb; binary {0, 1} strips are scaled to 0/255."""
    blocks = []
    width = wrap_patches * patch_size
    for strips in rows:
        for s in strips:
            s = s.astype(np.uint8) * (255 if s.max(initial=0) <= 1 else 1)
            if s.ndim == 3:
                s = s.mean(axis=2).astype(np.uint8)
            n = s.shape[1]
            pad = (-n) % width
            s = np.pad(s, ((0, 0), (0, pad)), constant_values=255)
            lines = s.reshape(s.shape[0], -1, width).transpose(1, 0, 2).reshape(-1, width)
            blocks += [lines, np.full((2, width), 200, np.uint8)]
        blocks.append(np.full((6, width), 120, np.uint8))
    return np.concatenate(blocks, axis=0)

