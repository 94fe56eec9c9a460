"""What a shard set holds: one ``manifest.json`` (and a parquet copy of the shard table) per output."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from . import typed
from .files import file_in, write_atomic
from .sample import MODES, SCHEMA_VERSION, SchemaError, compatible
from .task import TaskSpec
from .vocab import SHARD_RE

MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 64 << 20  # ~300 bytes per shard: room for 200k shards


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (shard and font hashes in manifests)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ShardInfo:
    name: str
    num_samples: int
    num_bytes: int
    sha256: str

    def validate(self) -> None:
        typed.convert(dataclasses.asdict(self), _SHARD_STRUCT, f"shard {self.name!r}")
        if not SHARD_RE.match(self.name):
            raise SchemaError(f"shard name {self.name!r} is not <split>-NNNNN-of-NNNNN.tar")
        if not re.match(r"^[0-9a-f]{64}\Z", self.sha256):
            raise SchemaError(f"shard {self.name}: sha256 is not 64 lowercase hex digits")


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
        """Types and bounds of every field (the same typed schema ``read`` decodes with), then the rules."""
        typed.convert(dataclasses.asdict(self), _MANIFEST_STRUCT, "manifest")
        if not compatible(self.schema_version):
            raise SchemaError(f"manifest schema {self.schema_version!r} is not compatible with {SCHEMA_VERSION} (this "
                              f"pixelkit reads {SCHEMA_VERSION.split('.')[0]}.x): render the shards again with this "
                              "pixelkit, or read them with the one that wrote them")
        typed.convert(self.render_config, _RenderKeys, "manifest render_config")
        if self.tokenizer is not None:
            typed.convert(self.tokenizer, _TokenizerKeys, "manifest tokenizer")
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

    def to_json(self) -> bytes:
        """``manifest.json``'s bytes (validated first): the same bytes wherever they are written."""
        self.validate()
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_dict(cls, d: Any) -> "ShardManifest":
        return cls._build(typed.convert(d, _MANIFEST_STRUCT, "manifest"))

    @classmethod
    def from_json(cls, data: bytes, where: str = "manifest") -> "ShardManifest":
        """Decode and validate a manifest.json's bytes; anything malformed is a ``SchemaError``."""
        return cls._build(typed.decode(_MANIFEST_DECODER, data, where, MAX_MANIFEST_BYTES), where)

    @classmethod
    def _build(cls, m: msgspec.Struct, where: str = "manifest") -> "ShardManifest":
        d = typed.fields_of(m)
        totals = d.pop("num_samples"), d.pop("num_bytes")
        d["shards"] = [ShardInfo(**typed.fields_of(s)) for s in d["shards"]]
        out = cls(**d)
        if totals[0] is not None and totals != (out.num_samples, out.num_bytes):
            raise SchemaError(f"{where}: num_samples/num_bytes {totals} differ from the shards' sums "
                              f"({out.num_samples}, {out.num_bytes})")
        try:
            return out.validate()
        except SchemaError as e:
            raise e if where == "manifest" else SchemaError(f"{where}: {e}") from None

    def write(self, directory: str | Path) -> Path:
        """Write ``manifest.json`` atomically (temp name + rename) and ``manifest.parquet`` (shard table)."""
        directory = Path(directory)
        path = write_atomic(directory / MANIFEST_NAME, self.to_json())
        from .arrow import write_shard_table  # pyarrow only when writing the parquet copy

        write_shard_table(self, directory / "manifest.parquet")
        return path

    @classmethod
    def read(cls, path: str | Path) -> "ShardManifest":
        path = file_in(path, MANIFEST_NAME)
        if not path.is_file():
            raise FileNotFoundError(f"no shard manifest at {path}")
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise SchemaError(f"{path}: {path.stat().st_size} bytes, over the limit of {MAX_MANIFEST_BYTES}")
        return cls.from_json(path.read_bytes(), str(path))


class _RenderKeys(msgspec.Struct):
    """What readers take from a manifest's render_config (the rest is recorded as the pipeline wrote it)."""

    pixels_per_patch: typing.Annotated[int, msgspec.Meta(ge=1, le=4096)]
    max_patches: typing.Annotated[int, msgspec.Meta(ge=1, le=1 << 20)]
    mode: typing.Literal[MODES]
    font_sha256: dict[str, str]


class _TokenizerKeys(msgspec.Struct):
    vocab_size: typing.Optional[typing.Annotated[int, typed.INT32]] = None


# manifest.json's typed schema, derived from the dataclasses above (a new optional field: its dataclass line).
_SHARD_STRUCT = typed.struct_for(ShardInfo, bounds={"num_samples": msgspec.Meta(ge=0), "num_bytes": msgspec.Meta(ge=0)})
_MANIFEST_STRUCT = typed.struct_for(
    ShardManifest, types={"shards": list[_SHARD_STRUCT]},
    extra=(("num_samples", typing.Optional[int], None), ("num_bytes", typing.Optional[int], None)))
_MANIFEST_DECODER = msgspec.json.Decoder(_MANIFEST_STRUCT)
