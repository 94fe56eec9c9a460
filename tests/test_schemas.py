"""The shard contract: every field survives WebDataset, tar and Arrow round trips; bad data is refused."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset
from pixelkit.pipeline.shards import read_shard, write_shard
from pixelkit.pipeline.cli_shards import main as shards_main
from pixelkit.schemas import (DEFAULT_ENCODING, ENCODINGS, SCHEMA_VERSION, RenderedSample, SchemaError, ShardManifest, encode_pixels,
                     make_key, shard_name)
from pixelkit.schemas.arrow import read_shard_table, samples_to_table, table_to_samples
from pixelkit.schemas.manifest import ShardInfo
from pixelkit.schemas.sample import SCHEMA_VERSION, split_member_name
from pixelkit.schemas.vocab import SHARD_RE


def make_sample(text: str, cfg: RenderConfig, encoding: str, i: int = 0, **extra) -> RenderedSample:
    res = TextRenderer(cfg)(text)
    return RenderedSample(
        key=make_key("wikitext", f"doc{i}", i), pixels=encode_pixels(res.pixels, cfg.mode, encoding),
        encoding=encoding, mode=cfg.mode, height=cfg.height, width=cfg.width, patch_size=cfg.pixels_per_patch,
        num_patches=res.num_patches, text=res.text, source="wikitext", doc_id=f"doc{i}", chunk_index=i,
        unknown_glyphs=res.unknown_glyphs, truncated=res.truncated, sep_patches=res.sep_patches, **extra,
    ).validate()


FULL = dict(token_ids=[464, 2068, 7586, 0], word_starts=[0, 3, 7], offset_mapping=None, label="entailment",
            labels=["DET", "NOUN", {"head": 0}])


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("cfg_name", ["pixel", "pixel-rgb", "pixar-pango"])
def test_wds_round_trip_every_field(wikitext, encoding, cfg_name):
    cfg = preset(cfg_name)
    s = make_sample(wikitext[0], cfg, encoding, 3, **FULL)
    back = RenderedSample.from_wds(s.to_wds())
    assert back == s
    assert np.array_equal(back.decode(), TextRenderer(cfg)(wikitext[0]).pixels)


def test_offset_mapping_and_numeric_labels_round_trip(wikitext):
    cfg = RenderConfig(max_patches=64)
    [win, *_] = TextRenderer(cfg).render_qa("What?", wikitext[1])
    s = make_sample("x", cfg, DEFAULT_ENCODING)
    s.offset_mapping = [list(p) for p in win.offset_mapping]
    s.label, s.labels = 2.5, [1, 0, 3]
    assert RenderedSample.from_wds(s.to_wds()) == s
    [back] = table_to_samples(samples_to_table([s]))
    assert back == s and isinstance(back.label, float)


def test_arrow_round_trip(wikitext):
    samples = [make_sample(t, RenderConfig(), DEFAULT_ENCODING, i, **FULL) for i, t in enumerate(wikitext[:4])]
    samples[1].token_ids = None
    samples[2].label = 7
    assert table_to_samples(samples_to_table(samples)) == samples


def test_tar_round_trip_is_deterministic(tmp_path, wikitext):
    samples = [make_sample(t, RenderConfig(), DEFAULT_ENCODING, i) for i, t in enumerate(wikitext[:6])]
    a = write_shard(tmp_path / shard_name("train", 0, 2), samples)
    b = write_shard(tmp_path / shard_name("train", 1, 2), samples)
    assert a.sha256 == b.sha256 and a.num_samples == 6
    assert list(read_shard(tmp_path / a.name)) == samples
    assert not list(tmp_path.glob(".*")), "no temp files left behind"


def test_manifest_round_trip_and_verify(tmp_path, wikitext):
    cfg = RenderConfig()
    samples = [make_sample(t, cfg, DEFAULT_ENCODING, i) for i, t in enumerate(wikitext[:5])]
    info = write_shard(tmp_path / shard_name("train", 0, 1), samples)
    m = ShardManifest(split="train", encoding=DEFAULT_ENCODING, render_config=cfg.to_dict(), shards=[info],
                      tokenizer={"name": "bpe-16k", "sha256": "0" * 64, "vocab_size": 16000},
                      counts={"documents_read": 5, "documents_written": 5}, sources=["wikitext"])
    m.write(tmp_path)
    back = ShardManifest.read(tmp_path)
    assert back == m and back.num_samples == 5
    assert read_shard_table(tmp_path / "manifest.parquet") == [info]
    assert shards_main(["verify", str(tmp_path)]) == 0
    assert shards_main(["stats", str(tmp_path)]) == 0
    assert shards_main(["inspect", str(tmp_path), "--n", "3"]) == 0
    from PIL import Image

    with Image.open(tmp_path / "contact.png") as sheet:
        assert sheet.height > 3 * 32 and sheet.width >= 64 * 16 * 2
    data = bytearray((tmp_path / info.name).read_bytes())  # flip one byte inside a pixel payload
    data[len(data) // 2] ^= 0xFF
    (tmp_path / info.name).write_bytes(bytes(data))
    assert shards_main(["verify", str(tmp_path)]) == 1


def test_manifest_rejects_bad_input(tmp_path):
    with pytest.raises(SchemaError, match="render_config"):
        ShardManifest(split="train", encoding="png", render_config={}).validate()
    (tmp_path / "manifest.json").write_text(json.dumps({"split": "x", "encoding": "png", "render_config": {}, "surprise": 1}))
    with pytest.raises(SchemaError, match="unknown field"):
        ShardManifest.read(tmp_path)
    with pytest.raises(SchemaError):
        shard_name("train.v2", 0, 1)
    assert shard_name("train", 3, 12) == "train-00003-of-00012.tar"


@pytest.mark.parametrize("split", ["train", "validation_matched", "my-split", "train.v2", "", "train\n"])
def test_one_shard_name_rule_for_writer_manifest_and_output_dir(split):
    """shard_name (the writer), ShardInfo.validate (the manifest) and outdir's clean-up share vocab.SHARD_RE."""
    from pixelkit.pipeline.outdir import _is_run_file

    name = f"{split}-00000-of-00001.tar"
    info = ShardInfo(name, 1, 1, "0" * 64)
    try:
        written = shard_name(split, 0, 1) == name
    except SchemaError:
        written = False
    try:
        info.validate()
        listed = True
    except SchemaError:
        listed = False
    ours = split in ("train", "validation_matched")
    assert written == listed == _is_run_file(name) == bool(SHARD_RE.match(name)) == ours


@pytest.mark.parametrize("change, match", [
    (dict(key="has.dot"), "key"),
    (dict(key=""), "key"),
    (dict(key="ab\n"), "key"),  # `$` let a trailing newline through every schema rule
    (dict(encoding="jpg"), "encoding"),
    (dict(mode="cmyk"), "mode"),
    (dict(num_patches=529), "EOS"),
    (dict(word_starts=[0, 5, 5]), "word_starts"),
    (dict(sep_patches=[600]), "sep_patches"),
    (dict(token_ids=[-1]), "token_ids"),
    (dict(height=8), "height"),
    (dict(schema_version="2.0"), "schema_version"),
    (dict(schema_version=SCHEMA_VERSION + "\n"), "schema_version"),
    (dict(truncated="no"), "truncated"),
])
def test_validation_names_the_field(wikitext, change, match):
    s = make_sample(wikitext[0], RenderConfig(), DEFAULT_ENCODING)
    for k, v in change.items():
        setattr(s, k, v)
    with pytest.raises(SchemaError, match=match):
        s.validate()


def test_from_wds_refuses_unknown_or_missing_fields(wikitext):
    raw = make_sample(wikitext[0], RenderConfig(), DEFAULT_ENCODING).to_wds()
    meta = json.loads(raw["json"])
    with pytest.raises(SchemaError, match="unknown field"):
        RenderedSample.from_wds({**raw, "json": json.dumps({**meta, "pickle": 1}).encode()})
    with pytest.raises(SchemaError, match="missing"):
        RenderedSample.from_wds({k: v for k, v in raw.items() if k != "txt"})
    with pytest.raises(SchemaError, match="pixel member"):
        RenderedSample.from_wds({k: v for k, v in raw.items() if k != DEFAULT_ENCODING})
    with pytest.raises(SchemaError, match="raw bytes"):
        RenderedSample.from_wds({**raw, "json": meta})


def test_make_key_is_deterministic_and_safe():
    assert make_key("wiki", "12345", 7) == "wiki_12345_0007"
    k = make_key("books/gutenberg", "Pride and Prejudice.txt", 0)
    assert k == make_key("books/gutenberg", "Pride and Prejudice.txt", 0)
    assert "." not in k and "/" not in k and k.endswith("_0000")
    assert make_key("s", "a.b", 0) != make_key("s", "a_b", 0)


@pytest.mark.parametrize("name", ["../evil.json", "a/b.json", ".hidden.json", "key.exe", "noext", "a.b.json", "key\n.json"])
def test_untrusted_member_names_are_refused(name):
    with pytest.raises(SchemaError):
        split_member_name(name)


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))


def test_hostile_and_truncated_tars_keep_good_samples(tmp_path, wikitext):
    good = [make_sample(t, RenderConfig(), DEFAULT_ENCODING, i) for i, t in enumerate(wikitext[:3])]
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tf:
        for s in good[:2]:
            for ext, data in sorted((k, v) for k, v in s.to_wds().items() if k != "__key__"):
                _add(tf, f"{s.key}.{ext}", data)
        _add(tf, "../../etc/evil.json", b"{}")
        for ext, data in sorted((k, v) for k, v in good[2].to_wds().items() if k != "__key__"):
            _add(tf, f"{good[2].key}.{ext}", data)
    items = list(read_shard(path))
    assert [i for i in items if isinstance(i, RenderedSample)] == good
    assert sum(isinstance(i, SchemaError) for i in items) == 1
    assert not (tmp_path.parent / "etc").exists()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    items = list(read_shard(cut))
    assert isinstance(items[-1], SchemaError) and isinstance(items[0], RenderedSample)


def test_schemas_imports_no_engine():
    code = ("import sys, pixelkit.schemas, pixelkit.schemas.arrow; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('apache_beam', 'torch', 'deepspeed') or m.startswith(('pixelkit.pipeline', 'pixelkit.trainer.'))]; print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_plain_webdataset_reads_the_shards(tmp_path, wikitext):
    import webdataset as wds

    samples = [make_sample(t, RenderConfig(), DEFAULT_ENCODING, i) for i, t in enumerate(wikitext[:4])]
    info = write_shard(tmp_path / shard_name("train", 0, 1), samples)
    ds = wds.WebDataset(str(tmp_path / info.name), shardshuffle=False).map(RenderedSample.from_wds)
    assert list(ds) == samples


# -- 1.1: task fields and the task spec ------------------------------------------------------------------------

def _task_sample(wikitext) -> RenderedSample:
    s = make_sample(wikitext[0], RenderConfig(), DEFAULT_ENCODING, 0, word_starts=[0, 3, 7], labels=[4, 4, 1, 0],
                    word_index=[0, 1, 1, 2])
    return s


def test_task_fields_round_trip_through_wds_and_arrow(wikitext):
    s = _task_sample(wikitext)
    q = make_sample(wikitext[1], RenderConfig(), DEFAULT_ENCODING, 1, labels=[5, 7], context_span=[0, 120],
                    answers={"text": ["Valkyria", "Valkyria Chronicles"], "answer_start": [3, 3]})
    for x in (s, q):
        assert RenderedSample.from_wds(x.to_wds()) == x
    assert table_to_samples(samples_to_table([s, q])) == [s, q]


def test_samples_without_task_fields_keep_the_1_0_json_layout(wikitext):
    """None task fields are left out of the json member: a 1.0 reader (which refuses unknown fields) still reads
    pretraining samples; only schema_version changed."""
    meta = json.loads(make_sample(wikitext[0], RenderConfig(), DEFAULT_ENCODING).to_wds()["json"])
    assert not {"word_index", "context_span", "answers", "conllu", "conllu_origin", "word_tokens", "token_offsets",
                "token_answer", "tokens_truncated"} & set(meta)
    assert meta["schema_version"] == SCHEMA_VERSION == "1.2"


def test_readers_accept_1_0_samples(wikitext):
    raw = make_sample(wikitext[0], RenderConfig(), DEFAULT_ENCODING, **FULL).to_wds()
    meta = json.loads(raw["json"])
    meta["schema_version"] = "1.0"
    raw["json"] = json.dumps(meta).encode()
    back = RenderedSample.from_wds(raw)
    assert back.schema_version == "1.0" and back.word_index is None and back.labels == FULL["labels"]


@pytest.mark.parametrize("change, match", [
    (dict(word_index=[0, 1]), "one entry per label"),
    (dict(word_index=[0, 1, 1, 5]), "point into word_starts"),
    (dict(word_index=[1, 0, 1, 2]), "non-decreasing"),
    (dict(context_span=[9, 3]), "context_span"),
    (dict(answers={"text": ["a"], "answer_start": []}), "answers"),
    (dict(conllu="1\tI\n\n2\tam"), "one sentence"),
    (dict(conllu=""), "one sentence"),
    (dict(conllu_origin=["dev.conllu", 0]), "conllu_origin"),
    (dict(conllu_origin=["dev.conllu", "3"]), "conllu_origin"),
])
def test_task_fields_are_validated(wikitext, change, match):
    s = _task_sample(wikitext)
    for k, v in change.items():
        setattr(s, k, v)
    with pytest.raises(SchemaError, match=match):
        s.validate()


BLOCK = "# sent_id = s1\n# text = It's\n1-2\tIt's\t_\t_\t_\t_\t_\t_\t_\t_\n1\tIt\tit\tPRON\tPRP\t_\t2\tnsubj\t_\t_\n" \
        "2\t's\tbe\tAUX\tVBZ\t_\t0\troot\t_\t_"


def test_1_2_conllu_fields_round_trip_and_1_1_samples_read_without_them(wikitext):
    s = _task_sample(wikitext)
    s.conllu, s.conllu_origin = BLOCK, ["en_ewt-ud-dev.conllu", 12]
    back = RenderedSample.from_wds(s.to_wds())
    assert back == s and back.conllu == BLOCK and back.conllu_origin == ["en_ewt-ud-dev.conllu", 12]
    assert table_to_samples(samples_to_table([s])) == [s]
    raw = _task_sample(wikitext).to_wds()  # a 1.1 task sample: no conllu fields in its json member
    meta = json.loads(raw["json"])
    assert "conllu" not in meta
    meta["schema_version"] = "1.1"
    raw["json"] = json.dumps(meta).encode()
    old = RenderedSample.from_wds(raw)
    assert old.schema_version == "1.1" and old.conllu is None and old.conllu_origin is None


def test_arrow_tables_written_before_1_2_still_read(wikitext):
    s = _task_sample(wikitext)
    table = samples_to_table([s]).drop_columns(["conllu", "conllu_origin"])  # the 1.1 table layout
    assert table_to_samples(table) == [s]


def test_task_spec_round_trip_in_manifest_and_task_json(tmp_path, wikitext):
    from pixelkit.schemas import TaskSpec

    spec = TaskSpec("ud-en_ewt-parse", "parsing", "words", ["acl", "nsubj", "root"], "uas_las", "en")
    assert TaskSpec.from_dict(spec.to_dict()) == spec
    assert TaskSpec.read(spec.write(tmp_path)) == spec
    info = write_shard(tmp_path / shard_name("validation", 0, 1), [_task_sample(wikitext)])
    m = ShardManifest(split="validation", encoding=DEFAULT_ENCODING, render_config=RenderConfig().to_dict(),
                      shards=[info], task=spec.to_dict())
    m.write(tmp_path)
    assert ShardManifest.read(tmp_path).task_spec == spec
    plain = ShardManifest(split="train", encoding=DEFAULT_ENCODING, render_config=RenderConfig().to_dict())
    assert "task" not in plain.to_dict()


@pytest.mark.parametrize("change, match", [
    (dict(name="GLUE MRPC"), "name"), (dict(family="ranking"), "family"), (dict(input="words"), "input"),
    (dict(metric="bleu"), "metric"), (dict(label_names=["a", "a"]), "repeat"),
])
def test_task_spec_refuses_bad_values(change, match):
    from pixelkit.schemas import TaskSpec

    d = dict(name="glue-mrpc", family="classification", input="pair", label_names=["0", "1"], metric="accuracy_f1")
    with pytest.raises(SchemaError, match=match):
        TaskSpec.from_dict({**d, **change})
    with pytest.raises(SchemaError, match="empty for regression"):
        TaskSpec.from_dict({**d, "family": "regression", "metric": "pearson_spearman"})


# -- 1.2: the token side of task samples ---------------------------------------------------------------------------

def _token_samples(wikitext) -> tuple[RenderedSample, RenderedSample]:
    w = make_sample(wikitext[0], RenderConfig(), DEFAULT_ENCODING, 0, word_starts=[0, 3, 7], labels=[4, 4, 1, 0],
                    word_index=[0, 1, 1, 2], token_ids=[5, 6, 7, 8, 9], word_tokens=[[0, 1], [1, 3], [3, 5]])
    q = make_sample(wikitext[1], RenderConfig(), DEFAULT_ENCODING, 1, labels=[5, 7], context_span=[0, 120],
                    answers={"text": ["Valkyria"], "answer_start": [3]}, token_ids=[1, 2, 3, 4],
                    token_offsets=[[-1, -1], [-1, -1], [0, 2], [2, 11]], token_answer=[2, 3], tokens_truncated=True)
    return w, q


def test_token_fields_round_trip_through_wds_and_arrow(wikitext):
    w, q = _token_samples(wikitext)
    for x in (w, q):
        assert RenderedSample.from_wds(x.to_wds()) == x
    assert table_to_samples(samples_to_table([w, q])) == [w, q]
    assert json.loads(q.to_wds()["json"])["tokens_truncated"] is True


def test_arrow_tables_without_the_1_2_columns_still_read(wikitext):
    s = _task_sample(wikitext)
    table = samples_to_table([s])
    old = table.drop_columns(["word_tokens", "token_offsets", "token_answer", "tokens_truncated"])
    assert table_to_samples(old) == [s]


def test_readers_accept_1_1_task_samples(wikitext):
    raw = _task_sample(wikitext).to_wds()
    meta = json.loads(raw["json"])
    meta["schema_version"] = "1.1"
    raw["json"] = json.dumps(meta).encode()
    back = RenderedSample.from_wds(raw)
    assert back.schema_version == "1.1" and back.word_tokens is None and back.word_index == [0, 1, 1, 2]


@pytest.mark.parametrize("change, match", [
    (dict(word_tokens=[[0, 1], [1, 6]]), "inside token_ids"),
    (dict(word_tokens=[[0, 2], [1, 3]]), "not share a token"),
    (dict(word_tokens=[[0, 1], [1, 2], [2, 3], [3, 4]]), "at most one span per rendered word"),
    (dict(word_tokens=[[1, 1]]), "inside token_ids"),
    (dict(token_ids=None), "inside token_ids"),
    (dict(tokens_truncated=1), "tokens_truncated must be a bool"),
])
def test_word_token_fields_are_validated(wikitext, change, match):
    s = _token_samples(wikitext)[0]
    for k, v in change.items():
        setattr(s, k, v)
    with pytest.raises(SchemaError, match=match):
        s.validate()


@pytest.mark.parametrize("change, match", [
    (dict(token_offsets=[[0, 1]]), "one .start, end. pair per token id"),
    (dict(token_answer=[3, 4]), "token_answer"),
    (dict(token_answer=[3, 2]), "token_answer"),
    (dict(token_offsets=None), "token_answer"),
])
def test_qa_token_fields_are_validated(wikitext, change, match):
    s = _token_samples(wikitext)[1]
    for k, v in change.items():
        setattr(s, k, v)
    with pytest.raises(SchemaError, match=match):
        s.validate()
