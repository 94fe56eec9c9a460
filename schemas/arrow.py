"""pyarrow views of the contract: one row per sample, one row per shard (for parquet and HF datasets)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .manifest import ShardInfo, ShardManifest
from .sample import RenderedSample

SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("pixels", pa.binary(), nullable=False),
        pa.field("encoding", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("patch_size", pa.int32(), nullable=False),
        pa.field("num_patches", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("chunk_index", pa.int32(), nullable=False),
        pa.field("unknown_glyphs", pa.int32(), nullable=False),
        pa.field("truncated", pa.bool_(), nullable=False),
        pa.field("replaced_chars", pa.int32(), nullable=False),
        pa.field("sep_patches", pa.list_(pa.int32()), nullable=False),
        pa.field("token_ids", pa.list_(pa.int32())),
        pa.field("word_starts", pa.list_(pa.int32())),
        pa.field("offset_mapping", pa.list_(pa.list_(pa.int32(), 2))),
        pa.field("label", pa.string()),  # JSON-encoded: int, float or str stay distinguishable
        pa.field("labels", pa.string()),  # JSON-encoded list
        pa.field("schema_version", pa.string(), nullable=False),
        pa.field("word_index", pa.list_(pa.int32())),
        pa.field("context_span", pa.list_(pa.int32(), 2)),
        pa.field("answers", pa.string()),  # JSON-encoded {"text": [...], "answer_start": [...]}
        pa.field("conllu", pa.string()),  # 1.2: UD parsing, the sentence's CoNLL-U block
        pa.field("conllu_origin", pa.string()),  # 1.2: JSON-encoded [file name, line]
        pa.field("word_tokens", pa.list_(pa.list_(pa.int32(), 2))),  # 1.2
        pa.field("token_offsets", pa.list_(pa.list_(pa.int32(), 2))),
        pa.field("token_answer", pa.list_(pa.int32(), 2)),
        pa.field("tokens_truncated", pa.bool_(), nullable=False),
    ]
)

SHARD_SCHEMA = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("num_samples", pa.int64(), nullable=False),
        pa.field("num_bytes", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
    ]
)

_JSON_FIELDS = ("label", "labels", "answers", "conllu_origin")


def samples_to_table(samples: list[RenderedSample]) -> pa.Table:
    rows = []
    for s in samples:
        d = dataclasses.asdict(s.validate())
        for k in _JSON_FIELDS:
            d[k] = None if d[k] is None else json.dumps(d[k])
        rows.append(d)
    return pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA)


def table_to_samples(table: pa.Table) -> list[RenderedSample]:
    if not table.schema.equals(SAMPLE_SCHEMA):
        for f in SAMPLE_SCHEMA:  # a table written before a minor version's columns: their defaults
            if f.name not in table.column_names:
                fill = [False] * table.num_rows if f.name == "tokens_truncated" else [None] * table.num_rows
                table = table.append_column(f, pa.array(fill, f.type))
        table = table.select(SAMPLE_SCHEMA.names).cast(SAMPLE_SCHEMA)
    out = []
    for d in table.to_pylist():
        for k in _JSON_FIELDS:
            d[k] = None if d[k] is None else json.loads(d[k])
        out.append(RenderedSample(**d).validate())
    return out


def _shard_table(manifest: ShardManifest) -> pa.Table:
    table = pa.Table.from_pylist([dataclasses.asdict(s) for s in manifest.shards], schema=SHARD_SCHEMA)
    meta = {b"pixelkit.manifest": json.dumps(manifest.to_dict(), sort_keys=True).encode()}
    return table.replace_schema_metadata(meta)


def shard_table_bytes(manifest: ShardManifest) -> bytes:
    """``manifest.parquet``'s bytes (what ``write_shard_table`` writes), for writing elsewhere than a local file."""
    sink = pa.BufferOutputStream()
    pq.write_table(_shard_table(manifest), sink)
    return sink.getvalue().to_pybytes()


def write_shard_table(manifest: ShardManifest, path: Path) -> None:
    table = _shard_table(manifest)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # opened as every other output is (0644 under umask 022)
    try:
        pq.write_table(table, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_shard_table(path: Path) -> list[ShardInfo]:
    return [ShardInfo(**row) for row in pq.read_table(path, schema=SHARD_SCHEMA).to_pylist()]
