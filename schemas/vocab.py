"""The words the pipeline and the trainer share, defined once: pixel modes and their channels, render backend
names, shard names and the limits on one tar member. stdlib only.

    channels("rgb") == 3; shard_name("train", 0, 4) == "train-00000-of-00004.tar"
"""

from __future__ import annotations

import re

from .typed import SchemaError

MODES: tuple[str, ...] = ("gray", "rgb", "binary")  # gray uint8 (H, W); rgb uint8 (H, W, 3); binary {0, 1} (H, W)
CHANNELS = {"gray": 1, "rgb": 3, "binary": 1}
BACKENDS: tuple[str, ...] = ("pangocairo", "pygame")  # pipeline.render.BACKENDS maps each to its class

MAX_MEMBER_BYTES = 64 << 20  # one tar member (a strip is ~10 KB, a chunk's text a few KB): more is not a sample of ours
MAX_META_BYTES = 1 << 20  # a sample's .json member (a 529-patch strip's is ~5 KB with token ids)

SPLIT_RE = re.compile(r"^[A-Za-z0-9_]+\Z")
SHARD_RE = re.compile(r"^[A-Za-z0-9_]+-\d{5}-of-\d{5}\.tar\Z")  # what shard_name writes; the manifest and the
# output directory's clean-up accept no other shard name


def channels(mode: str) -> int:
    """Channels of a strip in ``mode`` (rgb: 3, gray and binary: 1)."""
    if mode not in CHANNELS:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return CHANNELS[mode]


def shard_name(split: str, index: int, total: int) -> str:
    """``{split}-{index:05d}-of-{total:05d}.tar``: brace-expandable as ``{split}-{00000..0000N}-of-...``."""
    if not SPLIT_RE.match(split):
        raise SchemaError(f"split name {split!r} must be [A-Za-z0-9_]+")
    if not 0 <= index < total:
        raise SchemaError(f"shard index {index} outside 0..{total - 1}")
    return f"{split}-{index:05d}-of-{total:05d}.tar"
