"""``pixel-train import`` and the loaders on hostile published checkpoints (config fields of the wrong type, shapes
that disagree with config.json, broken shard indexes, an --out that is not a fresh directory): each is refused
naming the file or key and the fix, never a traceback, an allocation of an absurd size, or a half-written output.
More damaged files: test_loading_hostile.py; exact imports: test_importers.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixelkit.trainer.importers import CheckpointError, convert, detect
from test_importers import _copy_asset


def _edit_config(src: Path, drop: tuple[str, ...] = (), **fields) -> Path:
    cfg = {k: v for k, v in json.loads((src / "config.json").read_text()).items() if k not in drop}
    (src / "config.json").write_text(json.dumps({**cfg, **fields}))
    return src


def test_architectures_that_is_not_a_list_is_no_architecture(tmp_path):
    """``architectures`` read from an untrusted config.json: a number there was a TypeError traceback in format
    detection -- under import, from_pretrained and init_from of any directory. Now it names no architecture."""
    src = _edit_config(_copy_asset("pixelgpt-hf", tmp_path), drop=("model_type",), architectures=5)
    assert detect(src) is None
    with pytest.raises(CheckpointError, match="is not a pixelgpt-hf checkpoint"):
        convert(src, "pixelgpt-hf")
    assert detect(_edit_config(src, model_type="ernie-pixel")) == "pixelgpt-hf"
