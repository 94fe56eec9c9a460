"""Token ids at train time against the model's text vocabulary: shards whose ids a model cannot embed are refused
before DeepSpeed starts, naming the shards and the fix (not an IndexError from the embedding mid-run)."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from pixelkit.trainer.cli import main as train_main

from conftest import make_shard_set


@pytest.fixture(scope="module")
def wide_shards(tmp_path_factory, wikitext):
    """Real shards whose token ids reach 40,000: a word-level tokenizer with a gap in its ids (manifest vocab_size
    40,001, its id span), above the base flavors' pinned LLaMA-2 32k vocabulary."""
    d = tmp_path_factory.mktemp("wide")
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "the": 40000, "of": 7}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(d / "wide.json"))
    return make_shard_set(d / "shards", "pixel", wikitext[:6], d / "wide.json")


@pytest.mark.parametrize("model", ["textgpt", "dualgpt"])
def test_a_pinned_32k_flavor_refuses_shards_with_larger_token_ids(tmp_path, capsys, wide_shards, model):
    """The base flavors pin vocab_size 32000 (the released LLaMA-2 vocabulary); shards of a 40,001-id tokenizer
    built a 32k embedding that met id 40,000 mid-run."""
    rc = train_main(["pretrain", "--model", model, "--flavor", "base", "--data", str(wide_shards), "--out",
                     str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "flavor 'base' embeds 32000 token ids" in err and "wide.json" in err and "40001" in err, err
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def token_and_bare(tmp_path_factory, wikitext, tokenizer_file):
    """Two real shard sets of the same strips' settings: one with the BPE's token ids, one rendered without."""
    d = tmp_path_factory.mktemp("mixed")
    return (make_shard_set(d / "tok", "pixel", wikitext[:6], tokenizer_file, max_patches=64),
            make_shard_set(d / "bare", "pixel", wikitext[6:12], None, max_patches=64))


@pytest.mark.parametrize("how", ["train", "eval"])
def test_a_set_without_token_ids_beside_token_sets_is_refused_before_work(tmp_path, capsys, token_and_bare, how):
    """A token model on a train set with token ids plus a second train set (or --eval set) rendered without
    --tokenizer: the first set told the data info, so it started DeepSpeed and died at the other set's first sample
    ("has no token ids"), naming neither set."""
    tok, bare = token_and_bare
    data = ["--data", str(tok), str(bare)] if how == "train" else ["--data", str(tok), "--eval", str(bare)]
    rc = train_main(["pretrain", "--model", "dualgpt", "--flavor", "debug", *data, "--out", str(tmp_path / "o"),
                     "--steps", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and f"{bare}/manifest.json: no token ids" in err and "--tokenizer tokenizer.json" in err, err
    assert "rank 0/1" not in err and not (tmp_path / "o").exists(), "refused before the engine starts"


def test_model_overrides_vocab_size_is_kept_or_refused_not_replaced(tmp_path, capsys, token_and_bare):
    """``--set model_overrides.vocab_size=N`` on a debug flavor was silently replaced by the manifest's size: a
    larger N (room for added tokens) was dropped, a smaller one ignored. A larger one is kept now; one below the
    shards' tokenizer is refused before work, naming the setting."""
    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.shardsets import resolve

    tok, _ = token_and_bare
    info = resolve(str(tok)).info()
    assert get_variant("textgpt").config("debug", {"vocab_size": 2048}, info).vocab_size == 2048
    rc = train_main(["pretrain", "--model", "textgpt", "--flavor", "debug", "--data", str(tok), "--out",
                     str(tmp_path / "o"), "--set", "model_overrides.vocab_size=100"])
    err = capsys.readouterr().err
    assert rc == 2 and "model_overrides.vocab_size embeds 100 token ids" in err and "has 1024" in err, err


def test_an_eval_set_of_another_tokenizer_is_refused_before_work(tmp_path, capsys, token_and_bare, wikitext):
    """Train and --eval sets rendered with two tokenizers of the same size: every id would mean another token in
    the held-out loss. Refused before the engine starts, naming the eval set and both tokenizers."""
    from pixelkit.pipeline.tokenizer import train_bpe

    tok, _ = token_and_bare
    other = train_bpe(wikitext[:40], 1024, tmp_path / "other.json")  # the same size, other merges
    ev = make_shard_set(tmp_path / "ev", "pixel", wikitext[12:16], other, max_patches=64)
    rc = train_main(["pretrain", "--model", "dualgpt", "--flavor", "debug", "--data", str(tok), "--eval", str(ev),
                     "--out", str(tmp_path / "o"), "--steps", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and f"data.eval {ev}/manifest.json holds token ids of tokenizer other.json" in err, err
    assert "those of tokenizer.json" in err and not (tmp_path / "o").exists()


def test_a_manifest_understating_its_tokenizer_stops_at_the_sample_not_in_the_embedding(tmp_path, capsys,
                                                                                        wide_shards, monkeypatch):
    """Shards rendered before the manifest counted the id span of a tokenizer whose ids skip say vocab_size 3 with
    id 40,000 inside: the model embedded 3 ids and died with IndexError in the embedding. The collate names the
    sample, the id and the fix -- for an id beyond the samples checked when the set is opened (here: none)."""
    import json
    import shutil

    from pixelkit.trainer import shardsets
    monkeypatch.setattr(shardsets, "PEEK_SAMPLES", 0)  # as if the first samples held no such id

    d = tmp_path / "old"
    shutil.copytree(wide_shards, d)
    m = json.loads((d / "manifest.json").read_text())
    m["tokenizer"]["vocab_size"] = 3  # what the entry count recorded
    (d / "manifest.json").write_text(json.dumps(m))
    rc = train_main(["pretrain", "--model", "textgpt", "--flavor", "debug", "--data", str(d), "--out",
                     str(tmp_path / "o"), "--steps", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and "holds token id 40000, but the model embeds 3" in err and "render again" in err, err


def test_a_task_manifest_understating_its_tokenizer_stops_at_the_sample(tmp_path, capsys, monkeypatch):
    """The same for a task model on token input (TextGPT finetuned from scratch on CoLA): IndexError in the
    embedding before; the collate names the sample and the id now (beyond the samples checked at open: here none;
    with them, the set is refused when opened, as below)."""
    import json

    from pixelkit.trainer import shardsets

    from taskdata import make_task
    from test_modality import COLA

    if not COLA.exists():
        pytest.skip(f"{COLA} not found (read from ../shared/data)")
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "the": 40000, "[SEP]": 7}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "wide.json"))
    data = make_task(tmp_path / "cola", "glue-cola", {"train": COLA}, limit=8, max_patches=64,
                     tokenizer=tmp_path / "wide.json")
    m = json.loads((data / "train" / "manifest.json").read_text())
    m["tokenizer"]["vocab_size"] = 8  # what the entry count recorded
    (data / "train" / "manifest.json").write_text(json.dumps(m))
    argv = ["finetune", "--model", "textgpt", "--flavor", "debug", "--data", str(data), "--out", str(tmp_path / "o"),
            "--steps", "2"]
    rc = train_main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "holds token id 40000, but the manifest's tokenizer wide.json has vocab_size 8" in err, err
    assert not (tmp_path / "o").exists()
    monkeypatch.setattr(shardsets, "PEEK_SAMPLES", 0)  # as if the first samples held no such id
    rc = train_main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "holds token id 40000, but the model embeds 8" in err, err


def test_old_shards_whose_ids_skip_are_named_when_the_set_is_opened(tmp_path, capsys, wide_shards):
    """Shards rendered before the manifest counted a tokenizer's id span (vocab_size 3, the entry count of
    ``{"[UNK]": 0, "the": 40000, "of": 7}``) were stopped only at collate time, after DeepSpeed had started (or, as a
    --eval set, at the first evaluation). Now the set is refused when it is opened, before any engine: named, with
    the sample, the id and the fix (render again); nothing is written."""
    import json
    import shutil

    d = tmp_path / "old"
    shutil.copytree(wide_shards, d)
    m = json.loads((d / "manifest.json").read_text())
    m["tokenizer"]["vocab_size"] = 3  # what the entry count recorded
    (d / "manifest.json").write_text(json.dumps(m))
    new = tmp_path / "new"
    shutil.copytree(wide_shards, new)
    for data, what in ((["--data", str(d)], f"{d}/manifest.json"),
                       (["--data", str(new), "--eval", str(d)], f"data.eval {d}/manifest.json")):
        rc = train_main(["pretrain", "--model", "textgpt", "--flavor", "debug", *data, "--out", str(tmp_path / "o"),
                         "--steps", "2"])
        err = capsys.readouterr().err
        assert rc == 2 and f"{what}: sample " in err and "holds token id 40000, but the manifest's tokenizer " \
            "wide.json has vocab_size 3" in err and "render the set again with the same --tokenizer" in err, err
        assert "rank 0/1" not in err and not (tmp_path / "o").exists(), "refused before the engine starts"
