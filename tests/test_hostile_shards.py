"""Hostile shards and manifests (issue #15): every crafted member or manifest is a counted, named skip in the
trainer's loader and a listed problem in ``pixel-shards verify``, never a traceback, a huge allocation or a hang. The same sets through pixel-train's engine:
test_hostile_shards_engine.py."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from pixelkit.pipeline.cli_shards import main as shards_main
from pixelkit.pipeline.cli_shards import verify
from pixelkit.pipeline.shards import read_shard
from pixelkit.schemas import RenderedSample, SchemaError, ShardManifest
from pixelkit.schemas.manifest import file_sha256
from pixelkit.trainer import tars
from pixelkit.trainer.cli import main as train_main
from pixelkit.trainer.data import SkipCounter, decode
from pixelkit.trainer.shardsets import resolve
from pixelkit.trainer.stream import BatchStream, NoUsableData, Position, StreamSpec

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TORCH_EXTENSIONS_DIR": str(ROOT / ".cache" / "torch_extensions"), "DS_ACCELERATOR": "cpu",
       "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


# -- helpers: real shards from the session fixture, rewritten member by member --------------------------------

def members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers() if m.isreg()]


def write_tar(path: Path, entries: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def with_json(entries, key_index: int, meta_bytes) -> list[tuple[str, bytes]]:
    """``entries`` with the ``key_index``-th sample's .json replaced (``meta_bytes(meta) -> bytes``)."""
    keys = list(dict.fromkeys(n.split(".")[0] for n, _ in entries))
    out = []
    for name, data in entries:
        if name == f"{keys[key_index]}.json":
            data = meta_bytes(json.loads(data))
        out.append((name, data))
    return out


def copy_set(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def rewrite_manifest(d: Path) -> None:
    """Re-list every shard's size, count and sha256 (after a test rewrote them on purpose)."""
    m = ShardManifest.read(d)
    for s in m.shards:
        p = d / s.name
        s.num_bytes, s.sha256 = p.stat().st_size, file_sha256(p)
        s.num_samples = len({n.split(".")[0] for n, _ in members(p)})
    m.write(d)


def first_shard(shards: Path) -> Path:
    return sorted(shards.glob("*.tar"))[0]


def loader_counts(urls, expected=None, **kw) -> tuple[list[str], dict]:
    spec = StreamSpec([urls], [1.0], 4, lambda s, c, r: [x.key for x in s], None, seed=3, infinite=False,
                      expected=expected or {}, **kw)
    keys, pos = [], Position()
    for batch, meta in BatchStream(spec):
        keys += batch
        pos.advance(meta)
    return keys, pos.skip_counts()


# -- 1. malformed sample metadata: a counted skip in both readers ---------------------------------------------

NESTED = b"[" * 100_000
HOSTILE_META = {
    "schema_version int": lambda m: json.dumps({**m, "schema_version": 1}).encode(),
    "schema_version list": lambda m: json.dumps({**m, "schema_version": ["1"]}).encode(),
    "offset_mapping int": lambda m: json.dumps({**m, "offset_mapping": 5}).encode(),
    "nested 100k": lambda m: NESTED,
    "nested labels": lambda m: (json.dumps({k: v for k, v in m.items() if k != "labels"}).encode()[:-1]
                                + b',"labels":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    "width 16e12": lambda m: json.dumps({**m, "width": 16e12}).encode(),
    "width 2^30": lambda m: json.dumps({**m, "width": 2**30}).encode(),
    "width 2^64": lambda m: json.dumps({**m, "width": 2**64}).encode(),
    "height bool": lambda m: json.dumps({**m, "height": True}).encode(),
    "not an object": lambda m: b'"a string"',
    "not utf-8": lambda m: b'{"encoding": "\xff"}',
    "huge": lambda m: json.dumps({**m, "token_ids": [1] * 600_000}).encode(),
}


@pytest.mark.parametrize("case", HOSTILE_META)
def test_malformed_sample_json_is_a_counted_skip_in_loader_and_verify(tmp_path, gray_shards, case):
    d = copy_set(gray_shards, tmp_path / "set")
    shard = first_shard(d)
    entries = members(shard)
    bad_key = entries[3 * 2][0].split(".")[0]  # the third sample
    write_tar(shard, with_json(entries, 2, HOSTILE_META[case]))
    rewrite_manifest(d)
    asked: list[int] = []

    def scratch(nbytes: int):  # what the loader would allocate for a strip: never the claimed size
        import numpy as np
        asked.append(nbytes)
        return np.empty(nbytes, dtype=np.uint8)

    skips = SkipCounter()
    out = [decode(raw, skips, scratch) for raw in tars.samples([str(shard)], skips)]
    if case == "huge":  # over MAX_META_BYTES: the reader refuses the member and drops its sample
        assert len(out) == 23 and None not in out and skips.counts == {"SchemaError": 1}
    else:
        assert sum(o is None for o in out) == 1 and out[2] is None and skips.counts == {"corrupt_sample": 1}
    assert bad_key in skips.last and max(asked) == 16 * 8464
    problems = verify(d)
    assert len(problems) == 2 and all(shard.name in p for p in problems), problems  # the sample, and the count
    assert any(bad_key in p for p in problems)
    keys, counts = loader_counts(resolve(str(d)).urls, resolve(str(d)).expected())
    assert bad_key not in keys and counts == ({"SchemaError": 1} if case == "huge" else {"corrupt_sample": 1})


def test_schema_error_messages_name_the_field(gray_shards):
    raw = {n.split(".")[1]: b for n, b in members(first_shard(gray_shards))[:3]}
    raw["__key__"] = "k"
    meta = json.loads(raw["json"])
    for change, field in (({"schema_version": 1}, "schema_version"), ({"offset_mapping": 5}, "offset_mapping"),
                          ({"width": 16e12}, "width"), ({"width": 2**30}, "width"), ({"width": 2**25}, "over"), ({"spam": 1}, "spam")):
        with pytest.raises(SchemaError, match=field):
            RenderedSample.from_wds({**raw, "json": json.dumps({**meta, **change}).encode()})


# -- 2. no hang when nothing decodes: a clear stop, few log lines ----------------------------------------------

def test_skip_warnings_are_rate_limited(caplog):
    skips = SkipCounter()
    with caplog.at_level(logging.WARNING, logger="pixelkit.trainer.data"):
        for i in range(5000):
            skips.note("corrupt_sample", f"sample {i}")
    assert skips.counts == {"corrupt_sample": 5000}
    assert len(caplog.records) == SkipCounter.LOG_FIRST + 5  # the first ten, then one per 1000


def test_a_set_that_yields_nothing_at_all_stops_too(tmp_path):
    write_tar(tmp_path / "x.tar", [("k_1.exe", b"x"), ("../k_2.json", b"{}")])  # no acceptable sample
    spec = StreamSpec([[str(tmp_path / "x.tar")]], [1.0], 2, lambda s, c, r: s, None)
    with pytest.raises(NoUsableData, match="read no sample.*SchemaError"):
        next(iter(BatchStream(spec)))


# -- 3. the manifest is the truth ------------------------------------------------------------------------------

def _header_offsets(path: Path) -> list[int]:
    """Offset of each sample's first header (the tar position where that sample starts)."""
    with tarfile.open(path) as tf:
        infos = [m for m in tf.getmembers() if m.isreg()]
    starts, seen = [], set()
    for m in infos:
        k = m.name.split(".")[0]
        if k not in seen:
            seen.add(k)
            starts.append(m.offset)
    return starts


def test_a_shard_cut_at_a_sample_boundary_is_counted_short(tmp_path, gray_shards):
    d = copy_set(gray_shards, tmp_path / "set")
    shard = first_shard(d)
    listed = ShardManifest.read(d).shards[0].num_samples
    shard.write_bytes(shard.read_bytes()[: _header_offsets(shard)[5]])  # exactly before the 6th sample
    s = resolve(str(d))
    skips = SkipCounter()
    out = list(tars.shard_samples(str(shard), skips, s.expected()[str(shard)]))
    assert len(out) == 5 and skips.counts == {"shard_size": 1, "short_shard": 1}
    assert f"read 5 samples, the manifest lists {listed}" in skips.last
    keys, counts = loader_counts(s.urls, s.expected())
    assert len(keys) == 5 + ShardManifest.read(d).shards[1].num_samples
    assert counts == {"shard_size": 1, "short_shard": 1}
    assert any("5 valid samples" in p for p in verify(d)) and any("sha256" in p for p in verify(d))
    # without a manifest (a .tar list), such a cut is a valid shorter tar: nothing to count
    assert loader_counts([str(shard)])[1] == {}


def test_a_complete_sample_before_a_cut_is_kept(tmp_path, gray_shards):
    src = first_shard(gray_shards)
    cut = tmp_path / src.name
    cut.write_bytes(src.read_bytes()[: _header_offsets(src)[5] + 100])  # inside the 6th sample's first header
    skips = SkipCounter()
    out = list(tars.samples([str(cut)], skips))
    assert [s["__key__"] for s in out] == [s["__key__"] for s in tars.samples([str(src)], skips)][:5]
    assert skips.counts == {"ArchiveError": 1}
    assert len([s for s in read_shard(cut) if isinstance(s, RenderedSample)]) == 5  # verify's reader agrees


def test_an_endless_stream_counts_each_bad_member_once_and_resumes_with_the_same_counts(tmp_path, gray_shards):
    entries = members(first_shard(gray_shards))[:30]  # 10 samples
    entries = with_json(entries, 4, lambda m: json.dumps({**m, "schema_version": ["1"]}).encode())
    entries[3:3] = [("k_1.exe", b"x"), ("k_2.pyd", b"\x80\x04.")]  # two unacceptable members
    url = str(write_tar(tmp_path / "x.tar", entries))

    def spec():
        return StreamSpec([[url]], [1.0], 3, lambda s, c, r: [x.key for x in s], None, seed=1, shuffle_buffer=4)

    metas = [m for (_, m), _ in zip(BatchStream(spec()), range(60))]  # 20 epochs of 9 usable samples
    pos = Position()
    for m in metas:
        pos.advance(m)
    assert pos.skip_counts() == {"SchemaError": 2, "corrupt_sample": 1}, "once per shard, not once per pass"
    half = Position()
    for m in metas[:25]:
        half.advance(m)
    resumed = [m for (_, m), _ in zip(BatchStream(spec(), start=half), range(35))]
    assert resumed[-1]["skipped"] == metas[-1]["skipped"] and resumed[-1]["raw"] == metas[-1]["raw"]
    total: dict = {}  # two ranks both read the one shard (each keeps every other sample): still counted once
    for rank in (0, 1):
        s = StreamSpec([[url]], [1.0], 1, lambda s, c, r: 0, None, seed=1, shuffle_buffer=4, rank=rank, world_size=2)
        for k, v in [m for (_, m), _ in zip(BatchStream(s), range(50))][-1]["skipped"].items():
            total[k] = total.get(k, 0) + v
    assert total == {"SchemaError": 2, "corrupt_sample": 1}


# -- hostile manifests -------------------------------------------------------------------------------------------

def _manifest_dict(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


HOSTILE_MANIFESTS = {
    "schema_version int": lambda m: json.dumps({**m, "schema_version": 1}),
    "schema_version list": lambda m: json.dumps({**m, "schema_version": ["1"]}),
    "a list": lambda m: json.dumps([m]),
    "render_config str": lambda m: json.dumps({**m, "render_config": "pixel"}),
    "patch size str": lambda m: json.dumps({**m, "render_config": {**m["render_config"], "pixels_per_patch": "16"}}),
    "shard count negative": lambda m: json.dumps({**m, "shards": [{**m["shards"][0], "num_samples": -1}]}),
    "shards not a list": lambda m: json.dumps({**m, "shards": 7}),
    "totals disagree": lambda m: json.dumps({**m, "num_samples": m["num_samples"] + 1}),
    "not json": lambda m: "{not json",
    "nested": lambda m: "[" * 100_000,
    "empty": lambda m: "",
}


@pytest.mark.parametrize("case", HOSTILE_MANIFESTS)
def test_a_malformed_manifest_is_a_clear_error_in_verify_and_pixel_train(tmp_path, gray_shards, case, capsys):
    d = copy_set(gray_shards, tmp_path / "set")
    (d / "manifest.json").write_text(HOSTILE_MANIFESTS[case](_manifest_dict(d)))
    problems = verify(d)
    assert len(problems) == 1 and "manifest" in problems[0], problems
    assert shards_main(["verify", str(d)]) == 1
    assert shards_main(["inspect", str(d)]) == 2
    code = train_main(["pretrain", "--model", "pixel", "--data", str(d), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "unusable shard manifest" in err and "manifest.json" in err, err


def test_manifest_parquet_has_the_mode_of_every_other_output(tmp_path, gray_shards):
    old = os.umask(0o022)
    try:
        ShardManifest.read(gray_shards).write(tmp_path)
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"manifest.json": 0o644, "manifest.parquet": 0o644}


def test_verify_lists_shards_the_manifest_does_not(tmp_path, gray_shards):
    d = copy_set(gray_shards, tmp_path / "set")
    shutil.copy(first_shard(d), d / "train-00007-of-00009.tar")
    assert verify(d) == ["train-00007-of-00009.tar: a shard not in the manifest"]


def test_verify_finds_a_sample_in_two_shards(tmp_path, gray_shards):
    """A key is in one shard of a set (shard = hash of the key): a sample copied into a second shard, manifest
    re-hashed to match, was a set verify called OK and the trainer read twice."""
    d = copy_set(gray_shards, tmp_path / "set")
    first, second = sorted(d.glob("*.tar"))[:2]
    entries = members(first)
    key = entries[0][0].split(".")[0]
    write_tar(second, sorted([*members(second), *((n, b) for n, b in entries if n.split(".")[0] == key)]))
    rewrite_manifest(d)
    assert verify(d) == [f"{second.name}: key {key} is in {first.name} too (a sample twice)"]


@pytest.mark.parametrize("hash_bytes", [8, 1])  # 1: most distinct keys share a hash, which must not be reported
def test_verify_names_every_key_in_several_shards_and_only_those(tmp_path, wikitext, monkeypatch, hash_bytes):
    """Keys are held as 8-byte hashes and shard indices (12 bytes each; a dict of the keys took ~120 bytes a
    sample), confirmed against the keys themselves: each key in a later shard is named with the first shard it is
    in, as before; a key twice in one shard is its own problem, not also a repeat; hashes two distinct keys share
    are no repeat (forced here with 1-byte hashes)."""
    from conftest import make_shard_set
    from pixelkit.pipeline import shardkeys
    monkeypatch.setattr(shardkeys, "HASH_BYTES", hash_bytes)
    clean = make_shard_set(tmp_path / "clean", "pixel", wikitext[:24], None, n_shards=3)
    assert verify(clean) == []
    d = copy_set(clean, tmp_path / "set")
    a, b, c = sorted(d.glob("*.tar"))[:3]
    by_key: dict = {}
    for n, data in members(a):
        by_key.setdefault(n.split(".")[0], []).append((n, data))
    k1, k2 = sorted(by_key)[:2]
    write_tar(b, sorted([*members(b), *by_key[k1], *by_key[k2]]))
    write_tar(c, [*sorted([*members(c), *by_key[k2]]), *by_key[k2]])  # k2 twice in c as well
    rewrite_manifest(d)
    n = len({m.split(".")[0] for m, _ in members(c)})
    assert verify(d) == [f"{c.name}: duplicate key {k2}", f"{c.name}: {n + 1} valid samples, manifest says {n}",
                         f"{b.name}: key {k1} is in {a.name} too (a sample twice)",
                         f"{b.name}: key {k2} is in {a.name} too (a sample twice)",
                         f"{c.name}: key {k2} is in {a.name} too (a sample twice)"]


# -- beyond the list: valid samples that do not fit the set, huge members in the shuffle buffer -----------------

def wrong_shape_sample(gray_member_json: bytes) -> list[tuple[str, bytes]]:
    """A valid gray sample of 600 patches (the set holds 529): schema-valid, but no batch of the set can hold it."""
    import numpy as np

    from pixelkit.schemas import encode_pixels
    meta = json.loads(gray_member_json)
    s = RenderedSample(key="odd_0000", pixels=encode_pixels(np.full((16, 9600), 255, np.uint8), "gray", "pxz"),
                       encoding="pxz", mode="gray", height=16, width=9600, patch_size=16, num_patches=3, text="odd",
                       source="odd", doc_id="0", token_ids=meta["token_ids"][:3])
    return [(f"odd_0000.{k}", v) for k, v in sorted(s.to_wds().items()) if k != "__key__"]


def test_a_valid_sample_of_another_shape_is_counted_not_fatal(tmp_path, gray_shards):
    d = copy_set(gray_shards, tmp_path / "set")
    shard = first_shard(d)
    entries = members(shard)
    write_tar(shard, entries[:6] + wrong_shape_sample(entries[0][1]) + entries[6:])
    rewrite_manifest(d)
    s = resolve(str(d))
    keys, counts = loader_counts(s.urls, s.expected(), strip=("gray", 16, 529))
    assert "odd_0000" not in keys and len(keys) == 48 and counts == {"wrong_shape": 1}
    assert any("odd_0000 is a gray strip of 600" in p for p in verify(d))


def test_the_shuffle_buffer_is_bounded_in_bytes(monkeypatch):
    from pixelkit.trainer import stream as stream_mod
    items = [{"__key__": f"k{i}", "pxz": bytes(1000 if i % 5 else 50_000)} for i in range(400)]
    spec = StreamSpec([["x"]], [1.0], 2, None, None, shuffle_buffer=100)
    unbounded = [x["__key__"] for x in BatchStream(spec)._shuffled(iter(items), 0, 0)]
    monkeypatch.setattr(stream_mod, "MAX_SHUFFLE_BYTES", 200_000)
    pulled, held_max, out = [0], 0, []

    def source():
        for x in items:
            pulled[0] += 1
            yield x
    for x in BatchStream(spec)._shuffled(source(), 0, 0):
        out.append(x["__key__"])
        gone = set(out)
        held_max = max(held_max, sum(len(y["pxz"]) for y in items[:pulled[0]] if y["__key__"] not in gone))
    assert sorted(out) == sorted(unbounded) and out != unbounded, "every sample, once; huge ones given back early"
    assert held_max <= 200_000 + 50_000, "at most the cap plus the one sample that went over it"
    assert max(sum(len(y["pxz"]) for y in items[i:i + 100]) for i in range(300)) > 1_000_000  # unbounded: 1 MB+


def test_token_shards_without_a_manifest_are_refused_for_a_token_model(tmp_path, gray_shards, capsys):
    """A tar list without manifest.json: the vocabulary was guessed as the first sample's largest id + 1 (here far
    below the tokenizer's 1,024), so the embedding was too small and a larger id later an IndexError mid-run."""
    from pixelkit.trainer.cli import main as train_main
    from pixelkit.trainer.shardsets import resolve
    bare = tmp_path / "bare"
    bare.mkdir()
    for tar in sorted(gray_shards.glob("*.tar")):
        shutil.copy(tar, bare / tar.name)
    assert resolve(str(bare)).info().vocab_size is None and resolve(str(gray_shards)).info().vocab_size == 1024
    rc = train_main(["pretrain", "--model", "textgpt", "--data", str(bare), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "needs token ids; no manifest of the shards names a tokenizer" in err, err
    assert not (tmp_path / "o").exists()
