"""Importers of published checkpoints (local directories only; nothing is downloaded): one module per format,
one ``FORMATS`` line each. Each module exposes ``FORMAT``, ``VARIANTS`` (the models it imports into),
``matches(config_dict)`` and ``convert(weights, config_dict, variant, channels) -> Converted``.

``pixel-train import --format F --from DIR --out DIR`` writes our safetensors model; ``from_pretrained`` and
``init_from`` accept these directories directly (``base.PixelkitModel``)."""

from __future__ import annotations

import fnmatch
import glob
import importlib
import inspect
import json
import logging
import os
import shutil
import socket
from pathlib import Path

import torch

from ..models.base import check_dtypes, check_fields, check_sizes
from ..spec import IMPORT_FORMATS
from .common import CheckpointError, Converted, read_config, read_weights

log = logging.getLogger(__name__)

FORMATS = IMPORT_FORMATS  # the registry lives in the torch-free spec module (the CLI lists it)


def module(fmt: str):
    if fmt not in FORMATS:
        raise CheckpointError(f"unknown checkpoint format {fmt!r}; known: {', '.join(FORMATS)}")
    return importlib.import_module(FORMATS[fmt])


def detect(src: str | Path) -> str | None:
    """The published format of a local checkpoint directory, or None (ours, or not a directory)."""
    path = Path(src)
    if not (path / "config.json").is_file():
        return None
    cfg = read_config(path)  # CheckpointError for a config.json that is not a JSON object
    if str(cfg.get("model_type", "")).startswith("pixelkit-"):
        return None
    for fmt in FORMATS:
        if module(fmt).matches(cfg):
            return fmt
    return None


def convert(src: str | Path, fmt: str | None = None, variant: str | None = None, channels: int | None = None,
            num_patches: int | None = None) -> Converted:
    """A published checkpoint directory in our layout. ``variant``: the model to import into (default: the
    format's first); ``channels``: 1 for a gray model from 3-channel weights; ``num_patches``: the strip length
    for formats that do not store one (pixar)."""
    fmt = fmt or detect(src)
    if fmt is None:
        raise CheckpointError(f"{src} is not in a known published layout ({', '.join(FORMATS)})")
    mod = module(fmt)
    cfg = read_config(src)
    check_sizes(cfg, Path(src) / "config.json")
    if not mod.matches(cfg):
        raise CheckpointError(f"{src} is not a {fmt} checkpoint (model_type {cfg.get('model_type')!r}); "
                              f"detected: {detect(src) or 'none'}")
    lacking = [k for k in getattr(mod, "REQUIRED", ()) if k not in cfg]
    if lacking:
        raise CheckpointError(f"{Path(src) / 'config.json'} lacks {', '.join(lacking)}: not a complete {fmt} config")
    variant = variant or mod.VARIANTS[0]
    if variant not in mod.VARIANTS:
        raise CheckpointError(f"a {fmt} checkpoint imports as {'/'.join(mod.VARIANTS)}, not {variant!r}")
    from ..models import get_variant
    check_fields(cfg, get_variant(variant).config_class, Path(src) / "config.json")
    takes_length = "num_patches" in inspect.signature(mod.convert).parameters
    extra = {"num_patches": num_patches} if num_patches and takes_length else {}
    conv = mod.convert(read_weights(src), cfg, variant=variant, channels=channels, **extra)
    _check_shapes(conv, src)
    for key, why in sorted(conv.dropped.items()):
        log.info("import %s: not imported %s (%s)", fmt, key, why)
    for note in conv.notes:
        log.info("import %s: %s", fmt, note)
    return conv


def _check_shapes(conv: Converted, src) -> None:
    """The converted tensors against the model config.json describes, built on the meta device (nothing allocated:
    its sizes may be absurd); torch's load_state_dict raised a bare RuntimeError, or the build ran out of memory."""
    from ..models import get_variant
    with torch.device("meta"):
        probe = get_variant(conv.variant).model_class(conv.config).state_dict()
    bad = [f"{k} {tuple(v.shape)} from the weights, {tuple(probe[k].shape)} by config.json"
           for k, v in sorted(conv.state_dict.items()) if k in probe and tuple(v.shape) != tuple(probe[k].shape)]
    if bad:
        more = f" (+{len(bad) - 4} more)" if len(bad) > 4 else ""
        raise CheckpointError(f"{src}: {len(bad)} tensor(s), imported as {conv.variant}, of another shape than its "
                              f"config.json implies: {bad[:4]}{more}; config.json belongs to other weights or a file "
                              f"is damaged")


def build(conv: Converted, model_class=None):
    """The model of a converted checkpoint, every weight loaded (strict: a gap is our bug and raises)."""
    if model_class is None:
        from ..models import get_variant
        model_class = get_variant(conv.variant).model_class
    model = model_class(conv.config)
    check_dtypes(conv.variant, "an imported checkpoint", model.state_dict(),
                 {k: v.dtype for k, v in conv.state_dict.items()}, conv.state_dict)
    result = model.load_state_dict(conv.state_dict, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(f"importer for {conv.variant} left {sorted(result.missing_keys)} missing and "
                              f"{sorted(result.unexpected_keys)} unexpected")
    return model.eval()


def pretrained_config(variant: str, config_class, path, channels: int | None = None, num_patches: int | None = None):
    """The config of a checkpoint to start from: ours as saved, a published layout's as converted (3-channel
    weights folded into a gray model when ``channels`` is 1, e.g. for gray shards)."""
    fmt = detect(path)
    if fmt is None:
        cfg = read_config(path)
        check_sizes(cfg, Path(path) / "config.json")
        check_fields(cfg, config_class, Path(path) / "config.json")
        have, want = cfg.get("model_type"), config_class.model_type
        if have == "pixelkit-task":
            raise CheckpointError(f"init_from {path} holds a finetuned task model; continued pretraining starts from "
                                  f"a pretraining model: give a pixel-train pretrain output's model/ dir")
        if have != want:  # its config was built as ours (transformers only warned) and failed later, or trained
            mine = isinstance(have, str) and have.startswith("pixelkit-")
            raise CheckpointError(f"init_from {path} holds a {have!r} model, not {want!r}: " + (
                f"pretrain it with --model {have.removeprefix('pixelkit-')} (it keeps its variant)" if mine else
                f"neither ours nor a published layout pixel-train import reads ({', '.join(FORMATS)})"))
        return config_class.from_pretrained(path)
    return convert(path, fmt, variant=variant, channels=channels, num_patches=num_patches).config


def _written(name: str) -> bool:
    """A file ``write`` puts in --out: save_pretrained's (sharded or not) and import.json."""
    return name in ("config.json", "generation_config.json", "import.json", "model.safetensors",
                    "model.safetensors.index.json") or fnmatch.fnmatchcase(name, "model-*-of-*.safetensors")


def _check_out(out: Path, src: str | Path) -> None:
    """--out must be a new or empty directory, or an earlier import (replaced whole); never the source, a file,
    or a directory of other files (a stale model.safetensors.index.json there outranked the new weights)."""
    if out.resolve() == Path(src).resolve():  # save_pretrained would write over the source's config and weights
        raise CheckpointError(f"--out {out} is the checkpoint being imported; write the import to another directory")
    if any(p.exists() and not p.is_dir() for p in (out, *out.parents)):
        raise CheckpointError(f"--out {out}: {next(p for p in (out, *out.parents) if p.exists() and not p.is_dir())} "
                              f"is a file; give a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "import.json").is_file():
        raise CheckpointError(f"--out {out} holds other files (not an earlier import); give a new or empty directory "
                              f"-- nothing there is overwritten")
    others = sorted(p.name for p in out.iterdir() if not _written(p.name)) if out.is_dir() else []
    if others:  # an earlier import that someone added files to: replacing it whole would delete them
        raise CheckpointError(f"--out {out} is an earlier import, but also holds {others[:4]}; replacing it would "
                              f"delete them: move them out or give another directory")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (another user's counts: it cannot be signalled, but it is)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clear_stale(dest: Path) -> list[str]:
    """Delete the temporary directories that killed imports into ``dest`` left beside it: only names of this
    machine's own pattern (``.NAME.importing-HOST-PID``: on a filesystem several machines share, another one's pid
    says nothing here) whose process is gone; a live one (a concurrent import) is never touched. Returns their
    names. The set-aside earlier import (``.NAME.replaced-...``) is not: after a kill at the wrong moment it is the
    only copy of that import (``restore_set_aside`` puts it back)."""
    prefix = f".{dest.name}.importing-{socket.gethostname()}-"
    gone = [p for p in dest.parent.glob(f"{glob.escape(prefix)}*")
            if p.name[len(prefix):].isdigit() and not _alive(int(p.name[len(prefix):])) and p.is_dir()
            and not p.is_symlink()]
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    if gone:
        log.info("removed %d directories killed imports into %s left: %s", len(gone), dest, [p.name for p in gone])
    return [p.name for p in gone]


def restore_set_aside(out: str | Path) -> None:
    """An import killed between setting the earlier import aside and renaming the new one into place left --out
    missing and the earlier import in ``.NAME.replaced-HOST-PID`` (it was kept there, never restored: the user's
    model silently gone from --out). Put it back before anything else is tried, so an import that then fails
    leaves --out as it was before the killed one. Only this machine's names whose process is gone. When --out
    holds something again (the kill came after the new import took its place, or an import since wrote there),
    the set-aside one is left where it is, named in a warning: it may be the only copy of an earlier model."""
    dest = Path(out).resolve()
    prefix = f".{dest.name}.replaced-{socket.gethostname()}-"
    left = sorted(p for p in dest.parent.glob(f"{glob.escape(prefix)}*")
                  if p.name[len(prefix):].isdigit() and not _alive(int(p.name[len(prefix):])) and p.is_dir()
                  and not p.is_symlink())
    if not left:
        return
    empty = dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir())
    if dest.exists() and not empty:
        log.warning("%s beside --out %s: an earlier import a killed import set aside (--out holds another since); "
                    "delete it if you do not need it, or rename it to %s to get it back", [p.name for p in left],
                    out, dest.name)
        return
    if len(left) > 1:
        raise CheckpointError(f"--out {out} is missing and killed imports set aside {len(left)} earlier imports "
                              f"beside it ({[p.name for p in left]}); rename the one to keep to {dest.name}")
    if empty:
        dest.rmdir()
    left[0].rename(dest)
    log.warning("restored %s to %s: the earlier import a killed import had set aside", left[0].name, dest)


def write(conv: Converted, fmt: str, src: str | Path, out: str | Path) -> Path:
    """Save an imported checkpoint in our layout (safetensors) with ``import.json``: source, format, what was
    dropped and why, what was transformed. Atomic: written to a temporary directory beside ``out`` and renamed
    into place, so an import that fails or is killed leaves ``out`` as it was (an earlier import there is
    replaced whole, never mixed with the new one)."""
    out = Path(out)
    restore_set_aside(out)
    _check_out(out, src)
    model = build(conv)
    record = {"format": fmt, "source": str(Path(src).resolve()), "variant": conv.variant,
              "dropped": conv.dropped, "notes": conv.notes}
    dest = out.resolve()  # --out a link to a directory: written there, the link kept
    tmp, old = (dest.parent / f".{dest.name}.{what}-{socket.gethostname()}-{os.getpid()}"
                for what in ("importing", "replaced"))
    _clear_stale(dest)
    moved = False  # the earlier import set aside, the new one not yet in its place
    try:
        shutil.rmtree(tmp, ignore_errors=True)  # a killed import's leftover under a reused pid
        tmp.mkdir(parents=True)
        model.save_pretrained(tmp, safe_serialization=True)
        (tmp / "import.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        if dest.is_dir() and any(dest.iterdir()):  # an earlier import: set aside, then removed
            dest.rename(old)
            moved = True
        tmp.rename(dest)  # onto a missing or empty directory: one step
        moved = False
    except OSError as e:
        raise CheckpointError(f"--out {out}: cannot write there ({e.strerror or e}); give a writable directory"
                              ) from None
    finally:
        if moved:  # the new import did not take its place: the earlier one back
            old.rename(dest)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return out


__all__ = ["FORMATS", "CheckpointError", "Converted", "build", "convert", "detect", "module", "pretrained_config",
           "restore_set_aside", "write"]
