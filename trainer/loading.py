"""Pretrained weights under a new head: a ``pixel-train pretrain`` output (``model.safetensors`` +
``config.json``) loaded into a ``TaskModel``'s encoder.

* every encoder parameter must come from the checkpoint (a missing one would stay random: refused);
* pretraining-only parts (the encoder's ``DROPPED`` prefixes: PIXEL's decoder, PIXAR's decoder, the GPT
  family's patch / token heads) are dropped and listed;
* any other checkpoint key is reported as unexpected (and ignored);
* a shape that differs is refused with the key, both shapes and the fix -- except PIXAR's learned positions
  (``enc_pos.weight``), which keep their first N rows when the finetuning strips are shorter;
* the head's parameters are the only new ones, and the report lists them.
Only safetensors are read (no pickles); a published layout (``importers``) is converted first, as
``from_pretrained`` and pretraining's ``init_from`` do.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .models.base import check_dtypes, header_info
from .spec import ConfigError, read_json_object, weight_files

log = logging.getLogger(__name__)


@dataclass
class LoadReport:
    source: str
    loaded: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # pretraining-only parts left out
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys nothing in the model has
    new: list[str] = field(default_factory=list)  # the head's parameters, initialised fresh
    resized: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def read_pretrained(path: str | Path, variant: str | None = None, channels: int | None = None
                    ) -> tuple[dict, dict[str, torch.Tensor]]:
    """config.json and the safetensors state dict of a ``save_pretrained`` directory (``_weight_files``), or of a
    published layout (``importers``: pixel-hf, pixelgpt-hf, pixar) converted into ours -- into ``variant`` when the
    format imports into it, 3-channel weights folded into a gray model when ``channels`` is 1."""
    from safetensors.torch import load_file
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ConfigError(f"init_from {path}: no config.json (give a pixel-train pretrain output's model/ dir)")
    conf = read_json_object(path / "config.json", ConfigError, "init_from ")
    if not str(conf.get("model_type", "")).startswith("pixelkit-"):
        from .importers import convert, detect, module
        fmt = detect(path)
        if fmt is not None:
            conv = convert(path, fmt, variant=variant if variant in module(fmt).VARIANTS else None, channels=channels)
            log.info("init_from %s: a published %s checkpoint, imported as %s", path, fmt, conv.variant)
            return conv.config.to_dict(), conv.state_dict
    files = _weight_files(path)
    from safetensors import SafetensorError
    state: dict[str, torch.Tensor] = {}
    for f in files:
        try:
            part = load_file(str(f))
        except (SafetensorError, OSError) as e:
            raise ConfigError(f"init_from {f}: not a readable safetensors file ({str(e)[:120]})") from None
        twice = sorted(set(part) & set(state))
        if twice:
            raise ConfigError(f"init_from {f}: holds {twice[:4]} again (another shard has them); which one is "
                              f"meant? save the model again")
        state.update(part)
    return conf, state


def _weight_files(path: Path) -> list[Path]:
    files = weight_files(path, ConfigError, "init_from ")
    if not files:
        raise ConfigError(f"init_from {path}: no model.safetensors or model.safetensors.index.json (only "
                          f"safetensors are loaded, never pickles)")
    return files


def truncatable(key: str, stored: tuple, want: tuple) -> bool:
    """The one shape difference an encoder init allows: a longer learned position table (first rows kept)."""
    return key == "enc_pos.weight" and stored[0] > want[0] and stored[1:] == want[1:]


def check_init_shapes(config, path: str | Path) -> None:
    """Before the task model is built: the encoder's shapes from the checkpoint's config.json against its
    safetensors headers, the model on the meta device (absurd sizes were allocated before ``load_encoder``
    compared), by ``load_encoder``'s rule (``truncatable``).
    A published layout is converted whole by ``read_pretrained`` and checked there."""
    from safetensors import SafetensorError

    from .taskmodel import TaskModel
    path = Path(path)
    if not (path / "config.json").is_file():
        return
    if not str(read_json_object(path / "config.json", ConfigError, "init_from ").get("model_type")).startswith(
            "pixelkit-"):
        return
    stored: dict[str, tuple] = {}
    for f in _weight_files(path):
        try:
            header_info(f, {}, stored)
        except (SafetensorError, OSError):
            return  # read_pretrained names the unreadable file
    with torch.device("meta"):
        own = TaskModel(config).encoder.state_dict()
    bad = [f"{k} {stored[k]} in the weights, {tuple(v.shape)} by config.json" for k, v in own.items()
           if k in stored and tuple(v.shape) != stored[k]
           and not truncatable(k, stored[k], tuple(v.shape))]
    if bad:
        raise ConfigError(f"init_from {path}: its config.json and weights disagree: {bad[:4]}; the config is damaged "
                          f"or belongs to other weights")


def load_encoder(model, path: str | Path) -> LoadReport:
    _, state = read_pretrained(path, model.config.encoder, model.config.encoder_config.get("num_channels"))
    enc = model.encoder
    own = enc.state_dict()
    report = LoadReport(str(path))
    take: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key in own:
            want = own[key].shape
            if value.shape != want:
                if truncatable(key, tuple(value.shape), tuple(want)):
                    value = value[:want[0]]
                    report.resized[key] = f"{tuple(state[key].shape)} -> {tuple(want)} (first rows kept)"
                else:
                    raise ConfigError(
                        f"init_from {path}: {key} has shape {tuple(value.shape)} in the checkpoint but "
                        f"{tuple(want)} in the model; finetune with the pretraining architecture (the encoder "
                        f"config comes from the checkpoint) and strips no longer than it was pretrained on")
            take[key] = value
            report.loaded.append(key)
        elif key.startswith(enc.DROPPED):
            report.dropped.append(key)
        else:
            report.unexpected.append(key)
    check_dtypes("the encoder", path, own, {k: v.dtype for k, v in take.items()}, take)
    cast = sorted({f"{v.dtype} -> {own[k].dtype}" for k, v in take.items() if v.dtype != own[k].dtype})
    if cast:
        log.info("init_from %s: float weights cast %s", path, ", ".join(cast))
    missing = sorted(set(own) - set(take))
    if missing:
        raise ConfigError(f"init_from {path}: the checkpoint lacks encoder weights {missing[:8]}"
                          f"{' ...' if len(missing) > 8 else ''}; they would stay random -- is it the right variant?")
    enc.load_state_dict(take, strict=True)
    report.new = sorted(f"head.{k}" for k in model.head.state_dict())
    log.info("loaded %d encoder tensors from %s; dropped %d pretraining-only, %d unexpected, %d new (head)%s",
             len(report.loaded), path, len(report.dropped), len(report.unexpected), len(report.new),
             f"; resized {report.resized}" if report.resized else "")
    if report.unexpected:
        log.warning("unexpected keys in %s (ignored): %s", path, report.unexpected)
    return report
