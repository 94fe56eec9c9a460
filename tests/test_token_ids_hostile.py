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
