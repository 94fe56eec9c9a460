"""PixelGPT's input modes under a task head (``task.modality``: text | pixel | pair): the pair and text encoders
against hidden states measured from the reference (ernie-research/pixelgpt's ``ErniePixelModel``, the parity asset
tests/assets/parity/pixelgpt-hf written by make.py), the pooled position, every mode on a real task batch from one
shard set, and the refusals before work starts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import SHARED_DATA
from pixelkit.schemas import TaskSpec
from taskdata import EWT_EXCERPT, make_task
from test_importers import ASSETS, _close, _expected, _strip_patches
from pixelkit.trainer.config import load_config
from pixelkit.trainer.data import read_samples
from pixelkit.trainer.finetune import scratch_info, setup
from pixelkit.trainer.heads.modal import ModalGPTEncoder
from pixelkit.trainer.models import get_variant
from pixelkit.trainer.models.dualgpt import DualGPT
from pixelkit.trainer.shardsets import common_info, resolve
from pixelkit.trainer.spec import ConfigError
from pixelkit.trainer.taskmodel import TaskConfig, TaskModel, TaskVariant

COLA = SHARED_DATA / "glue" / "CoLA" / "train.tsv"


def _encoder(modality: str) -> tuple[ModalGPTEncoder, DualGPT]:
    ref = DualGPT.from_pretrained(ASSETS / "pixelgpt-hf")
    enc = ModalGPTEncoder(ref.config, modality).eval()
    own = enc.state_dict()
    enc.load_state_dict({k: v for k, v in ref.state_dict().items() if k in own}, strict=True)
    return enc, ref


def test_pair_mode_is_the_reference_layout():
    """Image slots first (padding switched off, not cut), then the text at N + j: the reference's hidden states."""
    e = _expected("pixelgpt-hf")
    enc, ref = _encoder("pair")
    x = _strip_patches(e["pixel_values"], ref.config.patch_size)
    with torch.no_grad():
        out = enc(pixel_values=x, attention_mask=e["patch_attention"], input_ids=e["input_ids"],
                  text_attention=e["text_attention"])
    _close(out.hidden, e["pair.last_hidden"], "pair hidden states")
    assert out.causal and out.mask.shape == (x.shape[0], x.shape[1] + e["input_ids"].shape[1])


def test_text_mode_matches_the_reference_and_drops_the_patch_embedding():
    e = _expected("pixelgpt-hf")
    enc, _ = _encoder("text")
    with torch.no_grad():
        out = enc(input_ids=e["input_ids"], attention_mask=e["text_attention"])
    _close(out.hidden, e["text.last_hidden"], "text hidden states")
    assert not any(k.startswith("patch_") for k in enc.state_dict())
    assert "patch_embed.weight".startswith(enc.DROPPED)  # a pretrained patch embedding is dropped, not unexpected


def test_last_pooling_reads_the_last_text_token_of_a_pair():
    """As ErniePixelForSequenceClassification: pooled at patch_len + the last attended text index."""
    from pixelkit.trainer.heads.sequence import SequenceHead
    e = _expected("pixelgpt-hf")
    enc, ref = _encoder("pair")
    head = SequenceHead(ref.config.hidden_size, 3, {"pooling": "last", "dropout": 0.0, "pma_heads": 1}, enc).eval()
    x = _strip_patches(e["pixel_values"], ref.config.patch_size)
    with torch.no_grad():
        o = enc(pixel_values=x, attention_mask=e["patch_attention"], input_ids=e["input_ids"],
                text_attention=e["text_attention"])
        logits = head(o)[1]["logits"]
    n = x.shape[1]
    for i in range(x.shape[0]):
        last = n + int(e["text_attention"][i].nonzero().max())
        assert torch.allclose(logits[i], head.out(o.hidden[i, last]), atol=1e-6)
        assert o.mask[i, last] == 1 and not o.mask[i, last + 1:].any()


@pytest.fixture(scope="module")
def cola(tmp_path_factory, tokenizer_file):
    if not COLA.exists():
        pytest.skip(f"{COLA} not found (research-use data is read from ../shared/data)")
    return make_task(tmp_path_factory.mktemp("cola"), "glue-cola", {"train": COLA}, limit=32, max_patches=64,
                     tokenizer=tokenizer_file)


@pytest.mark.parametrize("variant,modality", [("dualgpt", "text"), ("dualgpt", "pixel"), ("dualgpt", "pair"),
                                              ("monogpt", "pair"), ("textgpt", "text"), ("pixelgpt", "pixel")])
def test_every_mode_from_one_shard_set(cola, variant, modality):
    s = resolve(str(cola / "train"))
    ec = get_variant(variant).config("debug", {}, scratch_info(variant, common_info([s])))
    torch.manual_seed(0)
    model = TaskModel(TaskConfig(encoder=variant, encoder_config=ec.to_dict(), head="sequence",
                                 task=TaskSpec.read(cola).to_dict(), modality=modality))
    samples = list(read_samples(s.urls))[:4]
    batch = TaskVariant.collate(samples, model.config, np.random.default_rng(0))
    assert ("pixel_values" in batch) == (modality != "text") and ("input_ids" in batch) == (modality != "pixel")
    out = model(**batch)
    assert out.logits.shape == (4, 2) and torch.isfinite(out.loss)
    out.loss.backward()
    assert float(model.encoder.decoder.layers[0].mlp.up_proj.weight.grad.abs().sum()) > 0
    stats = TaskVariant.stats(batch)
    assert (stats["patches"] > 0) == (modality != "text") and (stats["tokens"] > 0) == (modality != "pixel")


@pytest.mark.parametrize("variant,modality,family_task,match", [
    ("pixelgpt", "text", "cola", r"task.modality 'text' is not an input mode of pixelgpt"),
    ("textgpt", "pixel", "cola", r"task.modality 'pixel' is not an input mode of textgpt"),
    ("pixel", "pair", "cola", r"task.modality 'pair' is not an input mode of pixel"),
    ("dualgpt", "pair", "pos", r"task.modality 'pair' serves classification / regression tasks, not 'tagging'"),
    ("dualgpt", "text", "cola-untokenized", r"task.modality 'text' needs token ids"),
])
def test_impossible_combinations_are_refused_before_work(cola, tmp_path, variant, modality, family_task, match):
    data = {"cola": cola,
            "pos": lambda: make_task(tmp_path / "pos", "ud-en_ewt-pos", {"train": EWT_EXCERPT}, limit=4, max_patches=64),
            "cola-untokenized": lambda: make_task(tmp_path / "c", "glue-cola", {"train": COLA}, limit=4, max_patches=64)}
    d = data[family_task] if family_task == "cola" else data[family_task]()
    cfg = load_config(None, {"model": variant, "task": {"name": TaskSpec.read(d).family, "modality": modality},
                             "data": {"train": [str(d / "train")]}})
    s = resolve(str(d / "train"))
    with pytest.raises(ConfigError, match=match):
        setup(cfg, [s], common_info([s]))


def test_modality_value_is_checked_with_the_settings():
    with pytest.raises(ConfigError, match=r"task.modality 'image' must be text \| pixel \| pair"):
        load_config(None, {"task": {"name": "glue", "modality": "image"}, "data": {"train": ["x"]}})


def test_token_ids_of_another_tokenizer_are_refused(cola, tmp_path, wikitext, tokenizer_file):
    """A model reads token ids as its pretraining's tokenizer made them. Task shards tokenized otherwise used to
    crash in the embedding (a larger vocabulary, after DeepSpeed started) or train on wrong tokens (same size);
    with the model's tokenizer-identity.json they are refused up front, without it the vocabulary size is."""
    import json

    from pixelkit.pipeline.tokenizer import train_bpe
    from pixelkit.trainer.spec import TOKENIZER_RECORD, tokenizer_record

    info = common_info([resolve(str(cola / "train"))])
    pre = tmp_path / "pre"
    get_variant("dualgpt").model_class(get_variant("dualgpt").config("debug", {}, info)).save_pretrained(pre)
    other = train_bpe(wikitext[:40], 1024, tmp_path / "other.json")  # the same size, other merges
    bigger = train_bpe(wikitext, 2048, tmp_path / "bigger.json")

    def task(tok):
        return make_task(tmp_path / tok.stem, "glue-cola", {"train": COLA}, limit=4, max_patches=64, tokenizer=tok)

    def run(d, modality="text"):
        cfg = load_config(None, {"model": "dualgpt", "init_from": str(pre), "data": {"train": [str(d / "train")]},
                                 "task": {"name": "classification", "modality": modality}})
        s = resolve(str(d / "train"))
        return setup(cfg, [s], common_info([s]))

    with pytest.raises(ConfigError, match=r"a 2048-token vocabulary \(bigger.json\), but .* embeds 1024"):
        run(task(bigger))  # no record (a model from elsewhere): the size is what can be checked
    run(task(other))  # the same size: nothing tells them apart without the record
    (pre / TOKENIZER_RECORD).write_text(json.dumps(tokenizer_record(info)))
    run(cola)
    with pytest.raises(ConfigError, match=r"tokenizer other.json .* trained on those of tokenizer.json"):
        run(task(other))
    run(task(other), "pixel")  # the pixel input reads no token id
    with pytest.raises(ConfigError, match=r"holds token ids of tokenizer other.json.*one --tokenizer"):
        common_info([resolve(str(cola / "train")), resolve(str(tmp_path / "other" / "train"))])
