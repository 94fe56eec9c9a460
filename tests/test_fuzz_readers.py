"""Property-based fuzzing of everything that reads shards (issue #15): real shards, sample JSON and manifests,
mutated by hypothesis (truncate, flip, insert, nest, retype, resize, drop), go through the trainer's loader
(libarchive reader, schema decode, BatchStream) and ``pixel-shards verify``. Whatever the mutation, they return
samples and counted problems only: no other exception, within a time bound (``hang_guard``) and an allocation
bound (tracemalloc peak, which sees numpy's buffers).

Profiles: the default is short and derandomized (CI: a few seconds, the same examples every run);
``PIXELKIT_FUZZ=long`` runs 2,000 random examples per test (``PIXELKIT_FUZZ=<n>`` any other count):

    PIXELKIT_FUZZ=long .venv/bin/python -m pytest -q tests/test_fuzz_readers.py
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import hang_guard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixelkit.pipeline.cli_shards import verify
from pixelkit.pipeline.shards import read_shard
from pixelkit.schemas import RenderedSample, SchemaError, ShardManifest
from pixelkit.schemas.codec import MAX_PIXEL_BYTES
from test_hostile_shards import members, rewrite_manifest, write_tar
from pixelkit.trainer import tars
from pixelkit.trainer.data import SkipCounter, decode
from pixelkit.trainer.models.base import ConfigError
from pixelkit.trainer.shardsets import resolve
from pixelkit.trainer.stream import BatchStream, Position, StreamSpec

_PROFILE = os.environ.get("PIXELKIT_FUZZ", "short")
_EXAMPLES = {"short": 30, "long": 2000}.get(_PROFILE) or int(_PROFILE)
FUZZ = settings(max_examples=_EXAMPLES, deadline=None, derandomize=_PROFILE == "short", database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SECONDS = 20  # per example: a reader that takes longer is stuck (a few tens of ms is normal)
PEAK_BYTES = 256 << 20  # per example: a reader that allocates more believed a size it should have refused


@contextmanager
def bounded():
    tracemalloc.start()
    try:
        with hang_guard(SECONDS):
            yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"allocated {peak >> 20} MiB"


@pytest.fixture(scope="module")
def small_set(gray_shards, tmp_path_factory) -> Path:
    """A one-shard set of 4 real samples (PIXEL gray strips, pxz, token ids) with its manifest."""
    d = tmp_path_factory.mktemp("fuzzset")
    shutil.copy(gray_shards / "manifest.json", d / "manifest.json")
    m = ShardManifest.read(d)
    m.shards = m.shards[:1]
    write_tar(d / m.shards[0].name, members(gray_shards / m.shards[0].name)[:12])
    m.write(d)
    rewrite_manifest(d)
    return d


def _shard(d: Path) -> Path:
    return next(d.glob("*.tar"))


def _loader_pass(d: Path) -> tuple[int, dict]:
    """One pass of the trainer's stream over a set; samples delivered and skip counts."""
    s = resolve(str(d))
    spec = StreamSpec([s.urls], [1.0], 2, lambda xs, c, r: len(xs), None, infinite=False, expected=s.expected())
    n, pos = 0, Position()
    for k, meta in BatchStream(spec):
        n += k
        pos.advance(meta)
    return n, pos.skip_counts()


def _check_readers(d: Path) -> None:
    """The loader and verify over a (mutated) set: only samples and counted problems."""
    skips = SkipCounter()
    raws = list(tars.samples([str(_shard(d))], skips))
    asked = []
    good = [decode(r, skips, lambda nbytes: asked.append(nbytes) or np.empty(nbytes, np.uint8)) for r in raws]
    assert skips.counts["corrupt_sample"] == sum(g is None for g in good), "every raw sample decoded or counted"
    assert all(a <= MAX_PIXEL_BYTES for a in asked)
    for item in read_shard(_shard(d)):
        assert isinstance(item, (RenderedSample, SchemaError))
    problems = verify(d)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)
    try:
        n, counts = _loader_pass(d)
    except ConfigError as e:  # the manifest itself is unusable: a clear error before any reading
        assert "manifest" in str(e) and problems
        return
    assert n == sum(g is not None for g in good)
    if not problems:
        assert not counts


# -- mutations of a shard's bytes -----------------------------------------------------------------------------

_OPS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=600)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 1200)),
)


def _mutate(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for op in ops:
        at = int(op[1] * len(b)) if b else 0
        if op[0] == "truncate":
            del b[at:]
        elif op[0] == "flip" and at < len(b):
            b[at] ^= op[2]
        elif op[0] == "insert":
            b[at:at] = op[2]
        elif op[0] == "delete":
            del b[at:at + op[2]]
    return bytes(b)


@FUZZ
@given(ops=st.lists(_OPS, min_size=1, max_size=4))
def test_mutated_shard_bytes_give_only_counted_problems(small_set, ops):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(shutil.copytree(small_set, Path(tmp) / "set"))
        _shard(d).write_bytes(_mutate(_shard(small_set).read_bytes(), ops))
        with bounded():
            _check_readers(d)


# -- mutations of a sample's JSON -----------------------------------------------------------------------------

_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
                     | st.text(max_size=20), lambda c: st.lists(c, max_size=4)
                     | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12)
_FIELDS = ["schema_version", "encoding", "mode", "height", "width", "patch_size", "num_patches", "source",
           "doc_id", "chunk_index", "unknown_glyphs", "truncated", "sep_patches", "token_ids", "word_starts",
           "offset_mapping", "label", "labels", "pickle"]
_META_OPS = st.one_of(
    st.tuples(st.just("retype"), st.sampled_from(_FIELDS), _JSON),
    st.tuples(st.just("resize"), st.sampled_from(["height", "width", "patch_size", "num_patches"]),
              st.sampled_from([0, 1, 2**30, 2**31, 2**63, 2**64, -1, 16e12, 1e308])),
    st.tuples(st.just("nest"), st.sampled_from(_FIELDS + [None]), st.integers(1, 3000)),
    st.tuples(st.just("drop"), st.sampled_from(_FIELDS)),
    st.tuples(st.just("bytes"), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
)


def _mutate_meta(raw: bytes, ops) -> bytes:
    meta = json.loads(raw)
    out = None
    for op in ops:
        if op[0] in ("retype", "resize"):
            meta[op[1]] = op[2]
        elif op[0] == "drop":
            meta.pop(op[1], None)
        elif op[0] == "nest":
            inner = json.dumps(meta if op[1] is None else meta.get(op[1]))
            nested = "[" * op[2] + inner + "]" * op[2]
            out = nested if op[1] is None else None
            if op[1] is not None:
                text = json.dumps({k: v for k, v in meta.items() if k != op[1]})
                out = text[:-1] + f', "{op[1]}": {nested}}}'
        elif op[0] == "bytes":
            text = (out or json.dumps(meta)).encode()
            at = int(op[1] * len(text))
            out = (text[:at] + op[2] + text[at + len(op[2]):]).decode("latin-1")
    return (out if out is not None else json.dumps(meta)).encode("latin-1" if out is not None else "utf-8")


@FUZZ
@given(ops=st.lists(_META_OPS, min_size=1, max_size=3), which=st.integers(0, 3))
def test_mutated_sample_json_gives_only_counted_problems(small_set, ops, which):
    entries = members(_shard(small_set))
    name = entries[3 * which][0]
    assert name.endswith(".json")
    entries[3 * which] = (name, _mutate_meta(entries[3 * which][1], ops))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(shutil.copytree(small_set, Path(tmp) / "set"))
        write_tar(_shard(d), entries)
        rewrite_manifest(d)
        with bounded():
            _check_readers(d)


# -- mutations of a manifest -------------------------------------------------------------------------------------

_MANIFEST_FIELDS = ["split", "encoding", "render_config", "shards", "tokenizer", "counts", "sources",
                    "schema_version", "created_by", "num_samples", "num_bytes", "surprise"]
_MANIFEST_OPS = st.one_of(
    st.tuples(st.just("retype"), st.sampled_from(_MANIFEST_FIELDS), _JSON),
    st.tuples(st.just("render"), st.sampled_from(["pixels_per_patch", "max_patches", "mode", "font_sha256"]), _JSON),
    st.tuples(st.just("shard"), st.sampled_from(["name", "num_samples", "num_bytes", "sha256", "x"]), _JSON),
    st.tuples(st.just("drop"), st.sampled_from(_MANIFEST_FIELDS)),
    st.tuples(st.just("nest"), st.integers(1, 3000)),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
)


def _mutate_manifest(text: str, ops) -> str:
    m = json.loads(text)
    for op in ops:
        if not isinstance(m, dict):
            break
        if op[0] == "retype":
            m[op[1]] = op[2]
        elif op[0] == "render" and isinstance(m.get("render_config"), dict):
            m["render_config"][op[1]] = op[2]
        elif op[0] == "shard" and isinstance(m.get("shards"), list) and m["shards"] and isinstance(m["shards"][0], dict):
            m["shards"][0][op[1]] = op[2]
        elif op[0] == "drop":
            m.pop(op[1], None)
        elif op[0] == "nest":
            m = {"__nested__": "[" * op[1] + "]" * op[1]}
        elif op[0] == "truncate":
            m = {"__raw__": json.dumps(m)[: int(op[1] * len(json.dumps(m)))]}
    if isinstance(m, dict) and "__nested__" in m:
        return m["__nested__"]
    if isinstance(m, dict) and "__raw__" in m:
        return m["__raw__"]
    return json.dumps(m)


@FUZZ
@given(ops=st.lists(_MANIFEST_OPS, min_size=1, max_size=3))
def test_mutated_manifest_gives_a_clear_error_or_a_usable_set(small_set, ops):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(shutil.copytree(small_set, Path(tmp) / "set"))
        (d / "manifest.json").write_text(_mutate_manifest((small_set / "manifest.json").read_text(), ops))
        with bounded():
            problems = verify(d)
            assert all(isinstance(p, str) for p in problems)
            try:
                s = resolve(str(d))
            except ConfigError as e:
                assert problems, f"the trainer refused a manifest verify accepts: {e}"
                return
            s.info()
            _loader_pass(d)

