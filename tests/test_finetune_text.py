"""Word-level and QA heads on token input (TextGPT, the ``text`` modality; schema 1.2's token side of task samples):
the token spans line up with the words, QA token offsets map back to the answer, ``--max_tokens`` cuts are flagged,
each head fits a 64-example real subset on TextGPT, old shards and over-long token ids are refused with the fix,
and render -> ``pixel-train finetune`` -> ``pixel-train evaluate`` reproduces the logged metric (slow).

Real data: the bundled UD English-EWT and XQuAD excerpts, the shared EWT dev split and CoNLL-2003 (research use,
read from ../shared/data; those tests skip without it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SAMPLE_DIR, SHARED_DATA
from taskdata import EWT_EXCERPT, make_task
from test_finetune_heads import EWT_DEV, _fit, _majority, _train_score
from pixelkit.pipeline.shards import read_shard, write_shard
from pixelkit.pipeline.tasks.tokens import pair_encoder
from pixelkit.pipeline.tokenizer import load as load_tokenizer
from pixelkit.schemas import ShardManifest, TaskSpec
from pixelkit.trainer.config import load_config
from pixelkit.trainer.data import read_samples
from pixelkit.trainer.finetune import setup
from pixelkit.trainer.models import get_variant
from pixelkit.trainer.shardsets import common_info, resolve
from pixelkit.trainer.spec import ConfigError
from pixelkit.trainer.taskmodel import TaskConfig, TaskModel, TaskVariant

XQUAD = SAMPLE_DIR / "xquad-en-excerpt.json"
CONLL = SHARED_DATA / "ner" / "conll2003" / "eng.testa"
UD = EWT_DEV if EWT_DEV.exists() else EWT_EXCERPT
MAX_TOKENS = 128  # TextGPT debug's max_text_tokens


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def text_tasks(tmp_path_factory, tokenizer_file):
    made = {}

    def get(name: str, **kw) -> Path:
        task, path, limit, extra = {"pos": ("ud-en_ewt-pos", UD, 64, {}), "parse": ("ud-en_ewt-parse", UD, 64, {}),
                                    "ner": ("conll2003-ner", CONLL, 64, {}),
                                    "qa": ("xquad-en", SHARED_DATA / "xquad" / "xquad.en.json", 100, {})}[name]
        if not path.exists():
            pytest.skip(f"{path} not found (research-use data is read from ../shared/data)")
        key = (name, tuple(sorted(kw.items())))
        if key not in made:
            made[key] = make_task(tmp_path_factory.mktemp(name), task, {"train": path}, limit=limit, max_patches=64,
                                  tokenizer=tokenizer_file, **{"max_tokens": MAX_TOKENS, **extra, **kw})
        return made[key]
    return get


def _samples(d: Path, split: str = "train") -> list:
    return list(read_samples(resolve(str(d / split)).urls))


# -- the pipeline's token side ---------------------------------------------------------------------------------

@pytest.fixture(params=["bpe", "sentencepiece"])
def any_tokenizer(request) -> Path:
    """Both kinds ``--tokenizer`` takes: a byte-level BPE ``tokenizer.json``, a LLaMA-style ``tokenizer.model``."""
    return request.getfixturevalue({"bpe": "tokenizer_file", "sentencepiece": "sentencepiece_file"}[request.param])


def test_word_tokens_line_up_with_the_words(any_tokenizer, tmp_path):
    """Each rendered word's token span decodes to exactly that word (shifted by one token it would not), and its
    first token's offsets cover the word's first character: the alignment is the tokenizer's, not ours."""
    tok = load_tokenizer(any_tokenizer)
    d = make_task(tmp_path, "ud-en_ewt-pos", {"train": EWT_EXCERPT}, max_patches=96, tokenizer=any_tokenizer)
    checked = 0
    for s in _samples(d):
        words = s.text.split(" ")
        assert len(s.word_tokens) == len(s.word_starts) == len(words) and s.token_ids == tok.encode(s.text).ids
        enc, pos = tok.encode(s.text), 0
        for w, (a, b) in zip(words, s.word_tokens):
            assert tok.decode(s.token_ids[a:b]).strip() == w, (w, a, b)
            assert enc.offsets[a][0] <= pos < enc.offsets[a][1] and enc.offsets[b - 1][1] == pos + len(w)
            pos += len(w) + 1
            checked += 1
    assert checked > 300
    s = _samples(d)[0]  # off by one (the next word's tokens, or one token later) no longer decodes to the words
    shifted = [tok.decode(s.token_ids[a + 1:b + 1]).strip() for a, b in s.word_tokens[:-1]]
    assert shifted != s.text.split(" ")[:-1]


def test_qa_token_offsets_map_back_to_the_answer(any_tokenizer, tmp_path):
    context = {q["id"]: p["context"] for a in json.loads(XQUAD.read_text())["data"] for p in a["paragraphs"]
               for q in p["qas"]}
    encode = pair_encoder(load_tokenizer(any_tokenizer))
    d = make_task(tmp_path, "xquad-en", {"validation": XQUAD}, max_patches=96, stride=32, tokenizer=any_tokenizer)
    hits = 0
    for s in _samples(d, "validation"):
        s0, s1 = s.context_span
        assert len(s.token_offsets) == len(s.token_ids)
        question = s.text[:len(s.text) - (s1 - s0) - 1]
        assert s.token_ids == encode(question, s.text[len(question) + 1:])  # the ids the shards always carried
        inside = [o for o in s.token_offsets if o[0] >= 0]
        assert inside and inside[0][0] >= s0 - 1 and inside[-1][1] == s1  # (a byte-level token keeps its space)
        a, b = s.token_answer
        assert (a >= 0) == (s.labels[0] >= 0)  # the same windows hold the answer in patches and in tokens
        if a >= 0:
            span = context[s.doc_id][s.token_offsets[a][0]:s.token_offsets[b][1]]
            assert s.answers["text"][0] in span and len(span) <= len(s.answers["text"][0]) + 2
            hits += 1
    assert hits >= 10


def test_max_tokens_cuts_are_flagged_and_spans_stay_inside(tokenizer_file, tmp_path):
    d = make_task(tmp_path, "ud-en_ewt-pos", {"train": EWT_EXCERPT}, max_patches=96, tokenizer=tokenizer_file,
                  max_tokens=12)
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tokenizer_file))
    samples = _samples(d)
    assert any(s.tokens_truncated for s in samples) and not all(s.tokens_truncated for s in samples)
    for s in samples:
        full = tok.encode(s.text).ids
        assert s.token_ids == full[:12] and s.tokens_truncated == (len(full) > 12)
        assert all(b <= 12 for _, b in s.word_tokens)
        assert len(s.word_tokens) == len(s.word_starts) or s.tokens_truncated
    assert ShardManifest.read(d / "train").tokenizer["max_tokens"] == 12


# -- the trainer ---------------------------------------------------------------------------------------------

def _text_model(d: Path, seed: int = 0) -> TaskModel:
    spec = TaskSpec.read(d)
    ec = get_variant("textgpt").config("debug", {}, common_info([resolve(str(d / "train"))]))
    head = {"tagging": "tagging", "parsing": "biaffine", "qa": "qa"}[spec.family]
    torch.manual_seed(seed)
    return TaskModel(TaskConfig(encoder="textgpt", encoder_config=ec.to_dict(), head=head,
                                head_options={"dropout": 0.0}, task=spec.to_dict()))


def _qa_subset(samples: list) -> list:
    first = {}
    for s in samples:
        if s.token_answer[0] >= 0:
            first.setdefault(s.doc_id, s)
    return list(first.values())[:64]


# (steps, lr, metric, chance, margin)
LEARN = {
    "pos": (30, 2e-3, "accuracy", lambda ss: _majority([t for s in ss for t in s.labels]), 0.3),
    "ner": (30, 2e-3, "accuracy", lambda ss: _majority([t for s in ss for t in s.labels]), 0.05),
    "parse": (40, 2e-3, "uas", lambda ss: 100 * np.mean([1 / (len(s.labels) + 1) for s in ss]), 30.0),
    "qa": (50, 2e-3, "f1", lambda ss: 0.0, 30.0),
}


@pytest.mark.parametrize("name", list(LEARN))
def test_each_word_and_qa_head_fits_64_examples_on_textgpt(text_tasks, name):
    steps, lr, metric, chance, margin = LEARN[name]
    d = text_tasks(name)
    model, samples, spec = _text_model(d), _samples(d), TaskSpec.read(d)
    if name == "qa":
        samples = _qa_subset(samples)
        assert len(samples) >= 32
    batch = TaskVariant.collate(samples[:4], model.config, np.random.default_rng(0))
    assert "pixel_values" not in batch and batch["input_ids"].shape[1] == MAX_TOKENS
    losses = _fit(model, samples, steps, lr)
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10]), f"loss did not go down: {losses[:3]} ... {losses[-3:]}"
    if name == "ner":  # entity F1 (the task's own metric) too: a constant O guess scores 0
        assert _train_score(model, samples, TaskSpec(**{**spec.to_dict(), "metric": "accuracy"}))["accuracy"] \
            > chance(samples) + margin
        metric, chance, margin = "f1", (lambda ss: 0.0), 0.3
    got = _train_score(model, samples, spec)[metric]
    assert got > chance(samples) + margin, f"{name}: train {metric} {got:.3f} vs chance {chance(samples):.3f}"


def test_tagging_reads_the_words_tokens(text_tasks):
    """The tagging head's gathered state is the hidden state at the word's last token (causal encoder: auto), and
    a word whose tokens --max_tokens cut off is neither a target nor in the predictions."""
    d = text_tasks("pos", max_tokens=16)
    model = _text_model(d).eval()
    samples = [s for s in _samples(d) if s.tokens_truncated][:4]
    assert samples
    batch = TaskVariant.collate(samples, model.config, np.random.default_rng(0))
    for i, s in enumerate(samples):
        n = sum(r < len(s.word_tokens) for r in s.word_index)  # syntactic words of the rendered words kept
        assert batch["word_mask"][i].sum() == n < len(s.word_index)
        assert batch["word_last"][i, :n].tolist() == [s.word_tokens[r][1] - 1 for r in s.word_index[:n]]
        assert (batch["labels"][i, n:] == -100).all() and batch["labels"][i, :n].tolist() == s.labels[:n]
    with torch.no_grad():
        out = model(**batch)
        enc = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    s = samples[0]
    j = next(j for j in range(1, len(s.word_index)) if s.word_index[j] != s.word_index[j - 1])  # a word's first part
    b = s.word_tokens[s.word_index[j]][1]
    assert torch.allclose(out.logits[0, j], model.head.out(enc.hidden[0, b - 1] + model.head.part.weight[0]), atol=1e-5)
    from pixelkit.trainer.heads import get_head
    recs = get_head("tagging").predict(out.outputs, batch, samples, "tagging")
    assert [len(r["pred"]) for r in recs] == batch["word_mask"].sum(1).tolist() == [len(r["gold"]) for r in recs]


def _as_old_shards(d: Path, out: Path) -> Path:
    """``d``'s train split as a schema 1.1 writer wrote it: no token side, tokenizer without max_tokens."""
    import dataclasses
    m = ShardManifest.read(d / "train")
    (out / "train").mkdir(parents=True)
    samples = [dataclasses.replace(s, word_tokens=None, token_offsets=None, token_answer=None, tokens_truncated=False,
                                   schema_version="1.1") for s in read_shard(d / "train" / m.shards[0].name)]
    info = write_shard(out / "train" / m.shards[0].name, samples)
    tok = {k: v for k, v in m.tokenizer.items() if k != "max_tokens"}
    dataclasses.replace(m, shards=[info], tokenizer=tok, schema_version="1.1").write(out / "train")
    TaskSpec.read(d).write(out)
    return out


@pytest.mark.parametrize("name", ["pos", "qa"])
def test_old_shards_are_refused_with_the_fix(text_tasks, tmp_path, name):
    old = _as_old_shards(text_tasks(name), tmp_path / "old")
    cfg = load_config(None, {"model": "textgpt", "task": {"name": TaskSpec.read(old).family},
                             "data": {"train": [str(old / "train")]}})
    s = resolve(str(old / "train"))
    with pytest.raises(ConfigError, match=r"schema 1.1 task shards carry no word -> token alignment.*re-render the "
                                          r"task with pixel-render task --tokenizer TOKENIZER --max_tokens 128"):
        setup(cfg, [s], common_info([s]))
    model = _text_model(old)  # a model built some other way still stops at the first batch, naming the fix
    with pytest.raises(ConfigError, match=r"schema 1.1\) has no (word_tokens|token_offsets).*re-render"):
        TaskVariant.collate(_samples(old)[:2], model.config, np.random.default_rng(0))


def test_token_ids_longer_than_the_encoder_reads_are_refused(text_tasks, tmp_path):
    d = text_tasks("pos", max_tokens=0)  # not cut at all
    cfg = load_config(None, {"model": "textgpt", "task": {"name": "pos"}, "data": {"train": [str(d / "train")]}})
    s = resolve(str(d / "train"))
    with pytest.raises(ConfigError, match=r"token ids cut at no limit, but the encoder reads 128.*--max_tokens 128"):
        setup(cfg, [s], common_info([s]))
    ok = text_tasks("pos")
    s = resolve(str(ok / "train"))
    cfg = load_config(None, {"model": "dualgpt", "task": {"name": "pos", "modality": "text"},
                             "data": {"train": [str(ok / "train")]}})
    assert setup(cfg, [s], common_info([s]))[1].modality == "text"  # MonoGPT / DualGPT read tokens too
    cfg = load_config(None, {"model": "textgpt", "model_overrides": {"max_text_tokens": 64}, "task": {"name": "pos"},
                             "data": {"train": [str(ok / "train")]}})
    with pytest.raises(ConfigError, match=r"cut at 128, but the encoder reads 64"):
        setup(cfg, [s], common_info([s]))
    long = max(_samples(ok), key=lambda x: len(x.token_ids))
    model = _text_model(ok)
    model.config.encoder_config["max_text_tokens"] = len(long.token_ids) - 1
    with pytest.raises(ConfigError, match=rf"holds {len(long.token_ids)} token ids, over the model's max_text_tokens"):
        TaskVariant.collate([long], model.config, np.random.default_rng(0))


# -- render -> pixel-train finetune -> pixel-train evaluate (the CLI, DeepSpeed engine; slow) ---------------------

@pytest.mark.slow
@pytest.mark.parametrize("name,task", [("pos", "pos"), ("parse", "parse"), ("ner", "ner"), ("qa", "squad")])
def test_textgpt_finetune_evaluate_through_the_cli(tmp_path, tokenizer_file, name, task):
    """TextGPT on each token task: the run logs its dev metric, evaluate reproduces it for the best checkpoint and
    writes the family's prediction file (CoNLL columns, CoNLL-U, SQuAD JSON) in the same layout as pixel input."""
    from test_task_cli_ner_qa import _finetune_and_evaluate
    src, limit, kw = {"pos": (("ud-en_ewt-pos", EWT_EXCERPT), 12, {}), "parse": (("ud-en_ewt-parse", EWT_EXCERPT), 12, {}),
                      "ner": (("conll2003-ner", CONLL), 24, {}), "qa": (("xquad-en", XQUAD), 6, {"stride": 32})}[name]
    if not src[1].exists():
        pytest.skip(f"{src[1]} not found (research-use data is read from ../shared/data)")
    data = make_task(tmp_path / "data", src[0], {"train": src[1], "validation": src[1]}, limit=limit,
                     max_patches=144 if name == "qa" else 64, tokenizer=tokenizer_file, max_tokens=MAX_TOKENS, **kw)
    best, ev, ev_dir = _finetune_and_evaluate(tmp_path, data, task, "textgpt")
    cfg = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert cfg["encoder"] == "textgpt" and cfg["modality"] == "text"
    pred = {"pos": "conll", "ner": "conll", "parse": "conllu", "qa": "json"}[name]
    text = (ev_dir / f"predictions-validation.{pred}").read_text()
    if name == "qa":
        assert len(json.loads(text)) == 6
    else:  # one block per sentence: CoNLL columns, a row per drawn syntactic word; CoNLL-U, the gold block
        blocks = [b for b in text.split("\n\n") if b.strip()]
        samples = _samples(data, "validation")
        drawn = [s.text.split(" ") for s in samples]
        words = {tuple(d[r] for r in s.word_index) for d, s in zip(drawn, samples)} if pred == "conll" else {
            tuple(c[1] for c in (r.split("\t") for r in s.conllu.splitlines() if not r.startswith("#"))
                  if "." not in c[0]) for s in samples}
        assert len(blocks) == limit
        for b in blocks:
            rows = [r.split("\t") for r in b.splitlines() if not r.startswith("#")]
            got = tuple(r[0] for r in rows) if pred == "conll" else tuple(r[1] for r in rows)
            assert any(got == w[:len(got)] for w in words) if pred == "conll" else got in words, got
            if pred == "conllu":  # every syntactic word has a predicted head
                assert all(r[6].isdigit() for r in rows if "-" not in r[0]), b
