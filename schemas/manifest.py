"""What a shard set holds: one ``manifest.json`` (and a parquet copy of the shard table) per output."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sample import SCHEMA_VERSION, SchemaError
from .task import TaskSpec

MANIFEST_NAME = "manifest.json"
_SHARD_RE = re.compile(r"^[A-Za-z0-9_-]+-\d{5}-of-\d{5}\.tar$")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (shard and font hashes in manifests)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def shard_name(split: str, index: int, total: int) -> str:
    """``{split}-{index:05d}-of-{total:05d}.tar``: brace-expandable as ``{split}-{00000..0000N}-of-...``."""
    if not re.match(r"^[A-Za-z0-9_]+$", split):
        raise SchemaError(f"split name {split!r} must be [A-Za-z0-9_]+")
    if not 0 <= index < total:
        raise SchemaError(f"shard index {index} outside 0..{total - 1}")
    return f"{split}-{index:05d}-of-{total:05d}.tar"


@dataclass
class ShardInfo:
    name: str
    num_samples: int
    num_bytes: int
    sha256: str

    def validate(self) -> None:
        if not _SHARD_RE.match(self.name):
            raise SchemaError(f"shard name {self.name!r} is not <split>-NNNNN-of-NNNNN.tar")
        if self.num_samples < 0 or self.num_bytes < 0 or not re.match(r"^[0-9a-f]{64}$", self.sha256):
            raise SchemaError(f"shard {self.name}: bad counts or sha256")


@dataclass
class ShardManifest:
    split: str
    encoding: str
    render_config: dict[str, Any]  # RenderConfig.to_dict(), font sha256s included
    shards: list[ShardInfo] = field(default_factory=list)
    tokenizer: dict[str, Any] | None = None  # {"name", "sha256", "vocab_size"} or None
    counts: dict[str, int] = field(default_factory=dict)  # documents read / written / skipped_<reason> ...
    sources: list[str] = field(default_factory=list)
    schema_version: str = SCHEMA_VERSION
    created_by: str = "pixelkit"
    task: dict[str, Any] | None = None  # 1.1: TaskSpec.to_dict() for labelled (task) shards; absent otherwise

    @property
    def num_samples(self) -> int:
        return sum(s.num_samples for s in self.shards)

    @property
    def num_bytes(self) -> int:
        return sum(s.num_bytes for s in self.shards)

    @property
    def patch_size(self) -> int:
        return int(self.render_config["pixels_per_patch"])

    @property
    def max_patches(self) -> int:
        return int(self.render_config["max_patches"])

    def validate(self) -> "ShardManifest":
        if self.schema_version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise SchemaError(f"manifest schema {self.schema_version} is not compatible with {SCHEMA_VERSION}")
        for k in ("pixels_per_patch", "max_patches", "mode", "font_sha256"):
            if k not in self.render_config:
                raise SchemaError(f"manifest render_config lacks {k!r}")
        names = [s.name for s in self.shards]
        if len(set(names)) != len(names):
            raise SchemaError("manifest lists a shard twice")
        for s in self.shards:
            s.validate()
        if self.task is not None:
            TaskSpec.from_dict(self.task)
        return self

    @property
    def task_spec(self) -> TaskSpec | None:
        return None if self.task is None else TaskSpec.from_dict(self.task)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["task"] is None:  # pretraining manifests stay readable by 1.0 readers
            del d["task"]
        d["num_samples"] = self.num_samples
        d["num_bytes"] = self.num_bytes
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ShardManifest":
        d = dict(d)
        d.pop("num_samples", None)
        d.pop("num_bytes", None)
        known = {f.name for f in dataclasses.fields(cls)}
        if set(d) - known:
            raise SchemaError(f"manifest has unknown fields {sorted(set(d) - known)}")
        try:
            d["shards"] = [ShardInfo(**s) for s in d.get("shards", [])]
            return cls(**d).validate()
        except TypeError as e:
            raise SchemaError(f"manifest: {e}") from e

    def write(self, directory: str | Path) -> Path:
        """Write ``manifest.json`` atomically (temp name + rename) and ``manifest.parquet`` (shard table)."""
        self.validate()
        directory = Path(directory)
        path = directory / MANIFEST_NAME
        tmp = directory / f".{MANIFEST_NAME}.tmp"
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        tmp.replace(path)
        from .arrow import write_shard_table  # pyarrow only when writing the parquet copy

        write_shard_table(self, directory / "manifest.parquet")
        return path

    @classmethod
    def read(cls, path: str | Path) -> "ShardManifest":
        path = Path(path)
        if path.is_dir():
            path = path / MANIFEST_NAME
        if not path.is_file():
            raise FileNotFoundError(f"no shard manifest at {path}")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as e:
            raise SchemaError(f"{path}: not valid JSON: {e}") from e
