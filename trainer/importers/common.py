"""What every checkpoint importer shares: reading a published checkpoint directory safely, and accounting for
every one of its tensors (each is taken into our layout or dropped with a stated reason; anything else is an
error, never a silent random weight)."""

from __future__ import annotations

import fnmatch
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..models.base import ConfigError
from ..spec import read_json, read_json_object

log = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


class CheckpointError(ConfigError):
    """A checkpoint that cannot be loaded or imported as asked; the message names the keys and the fix."""


@dataclass
class Converted:
    """A published checkpoint in our layout: the variant, its config, a complete state dict, and what was done."""

    variant: str
    config: Any
    state_dict: dict[str, torch.Tensor]
    dropped: dict[str, str] = field(default_factory=dict)  # source key -> why it is not needed
    notes: list[str] = field(default_factory=list)  # transformations (channel folding, head averaging, ...)


def architectures(cfg: dict) -> list:
    """config.json's ``architectures`` as a list of names ([] when it is anything else: an untrusted file)."""
    names = cfg.get("architectures")
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def read_config(src: Path) -> dict:
    path = Path(src) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{src} has no config.json: not a checkpoint directory")
    return read_json_object(path, CheckpointError)


def _json(path: Path) -> Any:
    return read_json(path, CheckpointError)


def pickle_refusal(path, e: Exception) -> str | None:
    """The message for a pickle torch's weights-only reader refused (None for another error): what it holds and
    the safe fix -- torch's own text goes on to suggest weights_only=False, never an option here."""
    if "Weights only load failed" not in str(e):
        return None
    what = re.search(r"GLOBAL ([\w.]+)", str(e))
    detail = (f"it holds Python objects besides tensors ({what.group(1)}), which unpickling would run" if what
              else "not a pickle of tensors")
    return (f"{path} is not a readable PyTorch weights file: {detail}; it is read with weights_only=True only -- get "
            f"a safetensors copy of the checkpoint (or convert this file where you trust its source)")


def _load_file(path: Path, safetensors: bool) -> dict[str, torch.Tensor]:
    if safetensors:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as e:
            raise CheckpointError(f"{path} is not a readable safetensors file ({str(e)[:120]})") from None
    # a pickle written by someone else: torch's weights_only unpickler admits tensors and plain containers only
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- torch raises UnpicklingError, RuntimeError, EOFError... for a bad file
        if (refusal := pickle_refusal(path, e)) is not None:
            raise CheckpointError(refusal) from None
        raise CheckpointError(f"{path} is not a readable PyTorch weights file ({type(e).__name__}: "
                              f"{str(e)[:120]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a flat state dict of tensors")
    return state


def read_weights(src: Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint directory: safetensors (single or sharded) preferred, else PyTorch's .bin
    read with ``weights_only=True`` (no arbitrary unpickling)."""
    src = Path(src)
    for name in WEIGHT_FILES:
        path = src / name
        if not path.is_file():
            continue
        if name.endswith(".index.json"):
            index = _json(path)
            weight_map = index.get("weight_map") if isinstance(index, dict) else None
            if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
                raise CheckpointError(f"{path}: 'weight_map' must map tensor names to shard file names")
            shards = sorted(set(weight_map.values()))
            state: dict[str, torch.Tensor] = {}
            origin: dict[str, str] = {}
            for shard in shards:
                if Path(shard).name != shard or shard in ("", ".", ".."):  # untrusted: no paths out of the directory
                    raise CheckpointError(f"{path} names a shard outside its directory: {shard!r}")
                if not (src / shard).is_file():
                    raise CheckpointError(f"{path} names shard {shard!r}, which is not a file in {src}: the "
                                          f"checkpoint is incomplete; fetch every shard its index names")
                part = _load_file(src / shard, name.startswith("model.safetensors"))
                twice = sorted(set(part) & set(state))
                if twice:  # one would silently replace the other
                    raise CheckpointError(f"{src}: {twice[:4]} are in both {origin[twice[0]]} and {shard}; which is "
                                          f"meant? the shards belong to different checkpoints -- fetch them again")
                state.update(part)
                origin.update(dict.fromkeys(part, shard))
            return state
        return _load_file(path, name.endswith(".safetensors"))
    raise CheckpointError(f"{src} holds none of {', '.join(WEIGHT_FILES)}")


class _Absent:
    """What ``KeyLedger.take`` hands out for a key the checkpoint lacks, so the converter goes on and every missing
    key is named at once (in ``finish``); a converter that computes from it (``.shape``, ``.sum`` ...) gets the
    ledger's error, naming the keys missing so far, instead of a traceback."""

    def __init__(self, ledger: "KeyLedger"):
        self._ledger = ledger

    def __getattr__(self, name: str):
        self._ledger.check_missing()


class KeyLedger:
    """Takes source tensors by name; ``finish`` fails unless every source key was taken or dropped with a reason,
    and names every key taken that the checkpoint lacks."""

    def __init__(self, source: dict[str, torch.Tensor], fmt: str):
        self.source, self.fmt = source, fmt
        self.used: set[str] = set()
        self.dropped: dict[str, str] = {}
        self.missing: list[str] = []

    def has(self, key: str) -> bool:
        return key in self.source

    def take(self, key: str) -> torch.Tensor:
        if key not in self.source:  # named with the others in check_missing (finish, or a computation from it)
            self.missing.append(key)
            return _Absent(self)  # type: ignore[return-value]
        self.used.add(key)
        return self.source[key]

    def check_missing(self) -> None:
        if self.missing:
            more = f" (+{len(self.missing) - 8} more)" if len(self.missing) > 8 else ""
            raise CheckpointError(f"{self.fmt} checkpoint lacks {len(self.missing)} key(s) the importer needs: "
                                  f"{sorted(self.missing)[:8]}{more}; it is not a complete {self.fmt} checkpoint "
                                  f"(a shard or file of it missing or cut?)")

    def drop(self, pattern: str, reason: str) -> list[str]:
        keys = [k for k in self.source if fnmatch.fnmatchcase(k, pattern) and k not in self.used]
        for k in keys:
            self.dropped[k] = reason
        return keys

    def finish(self) -> dict[str, str]:
        self.check_missing()
        left = sorted(set(self.source) - self.used - set(self.dropped))
        if left:
            more = f" (+{len(left) - 8} more)" if len(left) > 8 else ""
            raise CheckpointError(f"{self.fmt} checkpoint has {len(left)} key(s) the importer does not know: "
                                  f"{left[:8]}{more}; refusing to guess where they belong")
        return self.dropped


def check_shape(fmt: str, key: str, stored: torch.Tensor, want: tuple) -> torch.Tensor:
    """A source tensor must have the shape config.json implies before anything is computed from it (a fixed table
    recomputed at a config's absurd size, a channel fold) -- else a traceback, or an allocation of that size."""
    if tuple(stored.shape) != tuple(want):
        raise CheckpointError(f"{fmt} checkpoint: {key} has shape {tuple(stored.shape)}, but its config.json implies "
                              f"{tuple(want)}; config.json belongs to other weights or a file is damaged")
    return stored


def check_equal(name: str, stored: torch.Tensor, ours: torch.Tensor, atol: float) -> None:
    """A stored buffer we recompute (fixed positions, RoPE frequencies) must equal ours, else we would run another
    model than the checkpoint's."""
    stored = stored.float().reshape(ours.shape) if stored.numel() == ours.numel() else stored
    if stored.shape != ours.shape or not torch.allclose(stored.float(), ours.float(), atol=atol, rtol=0):
        diff = (stored.float() - ours.float()).abs().max().item() if stored.shape == ours.shape else "shape"
        raise CheckpointError(f"stored {name} differs from the one this model computes (max diff {diff}); "
                              f"the checkpoint was trained with other fixed values")


def fold_channels(channels_in: int, channels_out: int, where: str) -> str | None:
    """Validate a channel change; return the note describing it."""
    if channels_out == channels_in:
        return None
    if (channels_in, channels_out) != (3, 1):
        raise CheckpointError(f"{where}: cannot import {channels_in}-channel weights as a {channels_out}-channel model")
    return ("gray model from a 3-channel checkpoint: the patch projection is summed over the channels (exact for "
            "gray input replicated to RGB, as PIXEL feeds its gray renderings); the pixel head predicts the mean "
            "of its three channel predictions (exact mean of the reference's logits; the norm-pix loss then "
            "normalizes over p*p, not 3*p*p, values)")


def refuse(cfg: dict, fmt: str, **allowed: Any) -> None:
    """Settings our model does not implement must have the value it does, else the import is refused."""
    for key, want in allowed.items():
        have = cfg.get(key, want)
        if have != want and not (isinstance(want, tuple) and have in want):
            raise CheckpointError(f"{fmt} checkpoint sets {key}={have!r}; this importer reproduces only {want!r}")
