"""Task heads on every encoder they make sense for (plain torch forward/backward; the engine is tested once in
test_finetune_cli.py), and each head learning a 64-example real subset well above chance.

Real data: UD English-EWT (the bundled excerpt, or the shared treebank's dev split when ../shared/data exists),
GLUE CoLA / STS-B and XQuAD from ../shared/data (those tests skip without it).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from taskdata import EWT_EXCERPT, make_task
from conftest import SHARED_DATA
from pixelkit.schemas import TaskSpec
from pixelkit.trainer.data import read_samples
from pixelkit.trainer.finetune import scratch_info
from pixelkit.trainer.heads import get_head
from pixelkit.trainer.models import get_variant
from pixelkit.trainer.shardsets import common_info, resolve
from pixelkit.trainer.spec import ConfigError
from pixelkit.trainer.taskmodel import TaskConfig, TaskModel, TaskVariant
from pixelkit.trainer.tasks import score

EWT_DEV = SHARED_DATA / "ud" / "UD_English-EWT" / "en_ewt-ud-dev.conllu"
SOURCES = {
    "pos": ("ud-en_ewt-pos", EWT_DEV if EWT_DEV.exists() else EWT_EXCERPT),
    "parse": ("ud-en_ewt-parse", EWT_DEV if EWT_DEV.exists() else EWT_EXCERPT),
    "cola": ("glue-cola", SHARED_DATA / "glue" / "CoLA" / "train.tsv"),
    "stsb": ("glue-stsb", SHARED_DATA / "glue" / "STS-B" / "train.tsv"),
    "qa": ("xquad-en", SHARED_DATA / "xquad" / "xquad.en.json"),
}
HEAD_OF = {"pos": "tagging", "parse": "biaffine", "cola": "sequence", "stsb": "sequence", "qa": "qa"}
PATCH_ENCODERS = ("pixel", "pixar", "pixar2024", "pixelgpt", "monogpt", "dualgpt")
BINARY = ("pixar", "pixar2024")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only contend on a shared CPU
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tasks(tmp_path_factory, tokenizer_file):
    """name -> {"gray": dir, "binary": dir}: 64 records each, 64-patch strips (8 x 8 for PIXEL's grid)."""
    made = {}

    def get(name: str, mode: str = "gray"):
        task, path = SOURCES[name]
        if not path.exists():
            pytest.skip(f"{path} not found (research-use data is read from ../shared/data)")
        if (name, mode) not in made:
            out = tmp_path_factory.mktemp(f"{name}-{mode}")
            made[name, mode] = make_task(out, task, {"train": path}, limit=64 if name != "qa" else 100,
                                         preset_name="pixar" if mode == "binary" else "pixel", max_patches=64,
                                         tokenizer=tokenizer_file if name in ("cola", "pos") else None)
        return made[name, mode]
    return get


def _model(task_dir, variant: str, head_options: dict | None = None, seed: int = 0):
    spec = TaskSpec.read(task_dir)
    s = resolve(str(task_dir / "train"))
    ec = get_variant(variant).config("debug", {}, scratch_info(variant, common_info([s])))
    head = {"classification": "sequence", "regression": "sequence", "tagging": "tagging", "parsing": "biaffine",
            "qa": "qa"}[spec.family]
    tc = TaskConfig(encoder=variant, encoder_config=ec.to_dict(), head=head, head_options=head_options or {},
                    task=spec.to_dict())
    torch.manual_seed(seed)
    return TaskModel(tc), list(read_samples(s.urls)), spec


@pytest.mark.parametrize("name", ["pos", "parse", "cola", "qa"])
@pytest.mark.parametrize("variant", PATCH_ENCODERS)
def test_every_head_on_every_patch_encoder(tasks, name, variant):
    d = tasks(name, "binary" if variant in BINARY else "gray")
    model, samples, spec = _model(d, variant)
    batch = TaskVariant.collate(samples[:4], model.config, np.random.default_rng(0))
    out = model(**batch)
    assert torch.isfinite(out.loss) and out.loss > 0
    out.loss.backward()
    assert sum(float(p.grad.abs().sum()) for p in model.head.parameters() if p.grad is not None) > 0
    torch.optim.SGD(model.parameters(), lr=0.1).step()  # PIXEL's biaffine starts at zero: no encoder grad yet
    model.zero_grad()
    model(**batch).loss.backward()
    enc_grad = sum(float(p.grad.abs().sum()) for p in model.encoder.parameters() if p.grad is not None)
    assert enc_grad > 0, "the loss reaches the encoder"
    recs = get_head(model.config.head).predict(out.outputs, batch, samples[:4], spec.family)
    assert len(recs) == 4 and np.isfinite(list(score(spec, recs).values())[0])


@pytest.mark.parametrize("variant,pooling", [("pixel", "mean"), ("pixel", "max"), ("pixel", "cls"),
                                             ("pixel", "pma"), ("pixar", "mean"), ("pixelgpt", "last"),
                                             ("dualgpt", "pma"), ("textgpt", "last")])
def test_sequence_pooling_modes(tasks, variant, pooling):
    d = tasks("cola", "binary" if variant == "pixar" else "gray")
    model, samples, _ = _model(d, variant, {"pooling": pooling})
    batch = TaskVariant.collate(samples[:4], model.config, np.random.default_rng(0))
    assert ("input_ids" in batch) == (variant == "textgpt")
    out = model(**batch)
    assert out.logits.shape == (4, 2) and torch.isfinite(out.loss)


def test_new_parts_get_their_own_init(tasks):
    """transformers skips a "custom code" module with no direct parameters (TaskModel itself) as initialised;
    the head's and encoder's own init must still run: a PMA seed left as torch.empty memory gave NaN losses."""
    model, _, _ = _model(tasks("cola"), "pixel", {"pooling": "pma"})
    assert model.head.seed.abs().sum() > 0 and torch.isfinite(model.head.seed).all()
    assert 0.005 < float(model.encoder.cls_token.std()) < 0.05  # PIXEL's normal(0, 0.02), not the zeros it starts as
    model, _, _ = _model(tasks("pos"), "pixel")
    assert float(model.head.part.weight.abs().sum()) == 0  # tagging: the word-part embedding starts at zero


def test_heads_refuse_what_they_cannot_sit_on(tasks):
    with pytest.raises(ConfigError, match="causal"):
        _model(tasks("cola"), "pixel", {"pooling": "last"})
    with pytest.raises(ConfigError, match="CLS"):
        _model(tasks("cola"), "pixelgpt", {"pooling": "cls"})
    with pytest.raises(ConfigError, match="needs an encoder over patches/tokens; this one reads pair"):
        get_head("tagging").check("tagging", "pair", {})  # (the pair layout carries a sequence head only)
    with pytest.raises(ConfigError, match="unknown"):
        _model(tasks("pos"), "pixel", {"pooling": "mean"})


@pytest.mark.parametrize("name,variant", [("pos", "dualgpt"), ("cola", "pixel")])
def test_class_weights_weight_the_cross_entropy(tasks, name, variant):
    """head_options.class_weights is torch's weighted cross-entropy: sum_i w[y_i] * nll_i / sum_i w[y_i] over the
    labelled rows / words, recomputed here by hand from the same logits; all-equal weights give the plain loss."""
    model, samples, spec = _model(tasks(name), variant)
    k = len(spec.label_names)
    w = [0.5 + i for i in range(k)]
    weighted, _, _ = _model(tasks(name), variant, {"class_weights": w})
    weighted.load_state_dict(model.state_dict())
    same, _, _ = _model(tasks(name), variant, {"class_weights": [3.0] * k})
    same.load_state_dict(model.state_dict())
    for m in (model, weighted, same):
        m.eval()
    if spec.family == "classification":  # both classes in the batch (with one class any weight gives the plain mean)
        samples = [s for s in samples if s.label == 0][:4] + [s for s in samples if s.label == 1][:4]
    batch = TaskVariant.collate(samples[:8], model.config, np.random.default_rng(0))
    with torch.no_grad():
        plain, out, flat = model(**batch).loss, weighted(**batch), same(**batch).loss
    logits, labels = out.logits.reshape(-1, k).double(), batch["labels"].reshape(-1)
    keep = labels != -100
    nll = -torch.log_softmax(logits[keep], -1)[torch.arange(int(keep.sum())), labels[keep]]
    wy = torch.tensor(w, dtype=torch.float64)[labels[keep]]
    assert float(out.loss) == pytest.approx(float((wy * nll).sum() / wy.sum()), rel=1e-5)
    assert float(out.loss) != pytest.approx(float(plain), rel=1e-3)
    assert float(flat) == pytest.approx(float(plain), rel=1e-5)
    assert "head.class_weight" not in model.state_dict() and "head.class_weight" not in weighted.state_dict()


def test_class_weights_are_checked(tasks):
    with pytest.raises(ConfigError, match="2 positive numbers"):
        _model(tasks("cola"), "pixel", {"class_weights": [1.0, 2.0, 3.0]})
    k = len(TaskSpec.read(tasks("pos")).label_names)
    with pytest.raises(ConfigError, match=f"{k} positive numbers"):
        _model(tasks("pos"), "pixel", {"class_weights": [1.0] * (k - 1) + [0.0]})
    with pytest.raises(ConfigError, match="regression"):
        _model(tasks("stsb"), "pixel", {"class_weights": [1.0]})


def _fit(model, samples, steps: int, lr: float, batch: int = 16) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    losses = []
    model.train()
    for _ in range(steps):
        b = TaskVariant.collate([samples[i] for i in rng.choice(len(samples), batch, replace=False)],
                                model.config, rng)
        loss = model(**b).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
    return losses


def _train_score(model, samples, spec) -> dict:
    model.eval()
    recs = []
    with torch.no_grad():
        for i in range(0, len(samples), 32):
            b = TaskVariant.collate(samples[i:i + 32], model.config, np.random.default_rng(0))
            recs += get_head(model.config.head).predict(model(**b).outputs, b, samples[i:i + 32], spec.family)
    return score(spec, recs)


# (task, head options, steps, lr, metric, chance(samples) -> the score a constant guess gets, margin)
LEARN = {
    "pos": ({}, 60, 1e-3, "accuracy", lambda ss: _majority([t for s in ss for t in s.labels]), 0.15),
    "parse": ({}, 60, 1e-3, "uas", lambda ss: 100 * np.mean([1 / (len(s.labels) + 1) for s in ss]), 15.0),
    "cola": ({"pooling": "max"}, 150, 1e-3, "accuracy", lambda ss: _majority([s.label for s in ss]), 0.1),
    "stsb": ({"pooling": "max"}, 150, 1e-3, "pearson", lambda ss: 0.0, 0.5),
    "qa": ({}, 150, 1e-3, "f1", lambda ss: 0.0, 30.0),
}


def _majority(values: list) -> float:
    return max(np.unique(values, return_counts=True)[1]) / len(values)


@pytest.mark.parametrize("name", list(LEARN))
def test_each_head_fits_64_real_examples(tasks, name):
    options, steps, lr, metric, chance, margin = LEARN[name]
    model, samples, spec = _model(tasks(name), "pixel", {"dropout": 0.0, **options})
    if name == "qa":  # the first window holding the answer of each question: 64 examples with a span to learn
        first = {}
        for s in samples:
            if s.labels[0] >= 0:
                first.setdefault(s.doc_id, s)
        samples = list(first.values())[:64]
        assert len(samples) >= 32
    losses = _fit(model, samples, steps, lr)
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10]), f"loss did not go down: {losses[:3]} ... {losses[-3:]}"
    got = _train_score(model, samples, spec)[metric]
    assert got > chance(samples) + margin, f"{name}: train {metric} {got:.3f} vs chance {chance(samples):.3f}"


def test_pooling_reads_only_attended_positions_by_hand():
    """Each pooling mode on hand-made states: padding never counts, `last` is the last attended position (also
    after switched-off image padding, as in a pair row), `pma` ignores what the mask hides."""
    from types import SimpleNamespace

    from pixelkit.trainer.heads.sequence import SequenceHead
    h = torch.tensor([[[1.0, 4.0], [3.0, 0.0], [9.0, 9.0]],      # row 0: two attended, one pad
                      [[2.0, 2.0], [-5.0, -5.0], [6.0, -1.0]]])  # row 1: pos 1 switched off, pos 2 attended
    m = torch.tensor([[1, 1, 0], [1, 0, 1]])
    enc = SimpleNamespace(hidden=h, mask=m, cls=torch.tensor([[0.5, -0.5], [1.0, 0.0]]))
    opts = {"dropout": 0.0, "pma_heads": 1, "class_weights": None}

    def pool(mode, e=enc, causal=False):
        head = SequenceHead(2, 2, {**opts, "pooling": mode}, SimpleNamespace(causal=causal, has_cls=True))
        torch.manual_seed(0)
        head.init_new()
        return head, head.pool(e)

    assert torch.equal(pool("mean")[1], torch.tensor([[2.0, 2.0], [4.0, 0.5]]))
    assert torch.equal(pool("max")[1], torch.tensor([[3.0, 4.0], [6.0, 2.0]]))
    assert torch.equal(pool("last", causal=True)[1], torch.tensor([[3.0, 0.0], [6.0, -1.0]]))
    head, cls = pool("cls")
    assert torch.allclose(cls, head.pooler(enc.cls))
    head, pma = pool("pma")
    hidden2 = h.clone()
    hidden2[0, 2], hidden2[1, 1] = 100.0, -100.0  # change only what the mask hides
    with torch.no_grad():
        assert torch.allclose(pma, head.pool(SimpleNamespace(hidden=hidden2, mask=m, cls=enc.cls)), atol=1e-6)
        hidden2[0, 0] = 100.0  # an attended state does count
        assert not torch.allclose(pma, head.pool(SimpleNamespace(hidden=hidden2, mask=m, cls=enc.cls)))


def test_the_attention_mask_ends_on_the_eos_patch_for_texts_pairs_and_qa_windows(wikitext):
    """Every rendered strip's mask (``num_patches + 1`` patches) ends on its black EOS patch, as PIXEL's
    ``num_text_patches + 1`` does; so a causal encoder's ``last`` pooling reads the EOS state. (A pair and a QA
    window used to count num_patches = EOS - 1, which left their EOS patch out of the mask: GLUE pairs, XNLI and QA
    were pooled on the last text patch and PIXEL's mean pooling missed EOS.)"""
    from types import SimpleNamespace

    from pixelkit.pipeline.render import TextRenderer, preset
    from pixelkit.trainer.heads.sequence import SequenceHead
    from pixelkit.trainer.models.base import attention_mask
    r = TextRenderer(preset("pixel", max_patches=128))
    results = [r.render_text(wikitext[0][:80]), r.render_pair(wikitext[1][:90], wikitext[2][:90]),
               r.render_pair(wikitext[3][:400], wikitext[4][:400]),  # cut to fit: text_a gets half the strip
               *r.render_qa(wikitext[5][:40], wikitext[6][:600], stride=32)[:2]]
    assert all(res.ok for res in results) and results[2].truncated and len(results[3:]) == 2
    mask = torch.from_numpy(attention_mask(results, 128))
    eos = [res.sep_patches[-1] for res in results]
    for i, (res, e) in enumerate(zip(results, eos)):
        assert (res.pixels[:, e * 16:(e + 1) * 16] == 0).all(), "the EOS patch is black"
        assert res.num_patches == e and int(mask[i].sum()) == e + 1 and mask[i, e] == 1
    head = SequenceHead(4, 2, {"pooling": "last", "dropout": 0.0, "pma_heads": 1, "class_weights": None},
                        SimpleNamespace(causal=True, has_cls=False))
    position = torch.arange(128, dtype=torch.float32)[None, :, None].expand(len(results), 128, 4)
    assert head.pool(SimpleNamespace(hidden=position, mask=mask, cls=None))[:, 0].long().tolist() == eos


def test_qa_spans_map_to_characters_and_the_best_window_wins(tmp_path):
    """Real XQuAD windows (bundled excerpt, stride 32): logits put on the gold start/end patches give the original
    context's characters under those patches' offsets; across a question's windows the best-scoring span wins."""
    import json
    from taskdata import SAMPLE_DIR
    from pixelkit.trainer.heads import qa
    from pixelkit.trainer.tasks import qa_answers
    src = SAMPLE_DIR / "xquad-en-excerpt.json"
    context = {q["id"]: p["context"] for a in json.loads(src.read_text())["data"] for p in a["paragraphs"]
               for q in p["qas"]}
    d = make_task(tmp_path, "xquad-en", {"validation": src}, max_patches=96, stride=32)
    samples = list(read_samples(resolve(str(d / "validation")).urls))
    batch = qa.collate(samples, "qa")
    ctx = batch["context_mask"].numpy().astype(bool)
    first = [int(np.flatnonzero(c)[0]) for c in ctx]

    def answers(decoy: float) -> dict:
        start, end = torch.zeros(ctx.shape), torch.zeros(ctx.shape)
        for i, s in enumerate(samples):
            a, b = s.labels
            if a >= 0:
                start[i, a], end[i, b] = 10.0, 10.0
            else:  # a window without the answer: its first context patch as a one-patch decoy span
                start[i, first[i]], end[i, first[i]] = decoy / 2, decoy / 2
        return qa_answers(qa.predict({"start": start, "end": end}, batch, samples, "qa"))

    best = answers(decoy=5.0)
    assert set(best) == set(context)
    gold = {}  # the context's characters under the gold patches of a question's first window holding the answer
    for s in (s for s in samples if s.labels[0] >= 0):  # (tied windows: the first; its patch edges are its own)
        c0, c1 = s.offset_mapping[s.labels[0]][0], s.offset_mapping[s.labels[1]][1]
        gold.setdefault(s.doc_id, context[s.doc_id][c0:c1])
        assert s.answers["text"][0] in context[s.doc_id][c0:c1]
    assert gold == {q: best[q] for q in gold} and len(gold) == len(context)
    decoys = {}
    for i, s in enumerate(samples):
        if s.labels[0] < 0:
            decoys.setdefault(s.doc_id, context[s.doc_id][slice(*s.offset_mapping[first[i]])])
    assert decoys
    worse = answers(decoy=30.0)  # now a window without the answer scores above the answer's window: it wins
    assert {q: worse[q] for q in decoys} == decoys and all(worse[q] != best[q] for q in decoys)


def test_qa_questions_that_share_an_id_are_scored_apart_and_refused_in_a_prediction_file(tokenizer_file, tmp_path):
    """XQuAD's languages share question ids, MLQA's also English questions across context languages: rendered into one
    split (here the bundled excerpt, a copy with other question texts and a copy with other contexts), the windows
    of three questions carry one id. Scored by id they would pool their windows under one gold answer -- a wrong
    number with no error -- so scoring keys a question by id, text and answers; the SQuAD-style prediction file,
    keyed by id alone, refuses them; the same file read twice is refused by both."""
    import json
    import shutil
    from taskdata import SAMPLE_DIR
    from pixelkit.pipeline.tasks.job import run_task
    from pixelkit.trainer.finetune import task_spec
    from pixelkit.trainer.heads import qa
    from pixelkit.trainer.tasks import write
    src = SAMPLE_DIR / "xquad-en-excerpt.json"
    (tmp_path / "in").mkdir()
    shutil.copy(src, tmp_path / "in" / "a.json")
    asked, moved = json.loads(src.read_text()), json.loads(src.read_text())
    for p in asked["data"][0]["paragraphs"]:
        for q in p["qas"]:
            q["question"] = "Once more: " + q["question"]  # every window of a question starts with it
    for p in moved["data"][0]["paragraphs"]:
        p["context"] = "Elsewhere. " + p["context"]
        for q in p["qas"]:
            for a in q["answers"]:
                a["answer_start"] += len("Elsewhere. ")
    (tmp_path / "in" / "b.json").write_text(json.dumps(asked))
    (tmp_path / "in" / "c.json").write_text(json.dumps(moved))
    run_task(["--task=xquad-en", f"--input=validation={tmp_path / 'in' / '*.json'}", f"--output={tmp_path / 'out'}",
              "--max_patches=96", "--stride=32", f"--tokenizer={tokenizer_file}"])
    split = resolve(str(tmp_path / "out" / "validation"))
    spec = task_spec(split)
    samples = list(read_samples(split.urls))
    batch = qa.collate(samples, "qa")
    start, end = torch.zeros(batch["context_mask"].shape), torch.zeros(batch["context_mask"].shape)
    starts = {q["id"]: [a["answer_start"] for a in q["answers"]] for p in json.loads(src.read_text())["data"][0][
        "paragraphs"] for q in p["qas"]}
    origin = ["b" if s.text.startswith("Once more: ") else "a" if list(s.answers["answer_start"]) == starts[s.doc_id]
              else "c" for s in samples]
    for i, s in enumerate(samples):  # logits on the gold span of the first file's windows only
        if s.labels[0] >= 0 and origin[i] == "a":
            start[i, s.labels[0]], end[i, s.labels[1]] = 10.0, 10.0
    records = qa.predict({"start": start, "end": end}, batch, samples, "qa")
    n = sum(len(p["qas"]) for p in asked["data"][0]["paragraphs"])
    assert len({r["id"] for r in records}) == n and len({(r["id"], r["question"]) for r in records}) == 2 * n
    first = [r for r, o in zip(records, origin) if o == "a"]
    alone = score(spec, first)
    assert alone["n"] == n and alone["f1"] > 50.0
    every = score(spec, records)  # each question on its own windows: the copies' spans are not the gold ones
    assert every["n"] == 3 * n and every["f1"] < alone["f1"]  # (pooled by id: n questions, the first file's spans)
    with pytest.raises(ConfigError, match=r"question id '.+' names 3 questions: .* its own split"):
        write(spec, records, tmp_path / "predictions.json")
    assert not (tmp_path / "predictions.json").exists()
    assert write(spec, first, tmp_path / "predictions.json").is_file()
    with pytest.raises(ConfigError, match=r"window \d+ appears 2 times .* more than once"):
        score(spec, first + first)
