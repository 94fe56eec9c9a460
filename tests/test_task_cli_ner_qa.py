"""NER and extractive QA through the whole command line, as a user runs them: ``pixel-render task`` (the Beam
job) -> ``pixel-train finetune`` (the DeepSpeed engine, dev evaluation, best checkpoint) -> ``pixel-train
evaluate``, which must reproduce the metric the run logged for its best checkpoint and write the task's
prediction file (CoNLL columns for NER, SQuAD-style JSON for QA). ``pixel-render task`` runs as a subprocess
(its stderr must be quiet); ``pixel-train`` runs its console script's ``main`` in the test's process (the same
command lines, without a subprocess's imports each time). Tiny model, a few steps, a few records: this
checks the plumbing, not learning (``tests/benchmarks/bench_finetune.py learn`` does that)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLE_DIR, SHARED_DATA
from test_quiet_logs import BEAM_NOISE
from test_trainer_engine import ENV, ROOT, _main

pytestmark = pytest.mark.slow
CONLL = SHARED_DATA / "ner" / "conll2003" / "eng.testa"  # research use: read from ../shared, never committed


def _render(*args: str) -> None:
    p = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "task", *args], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    noise = [line for line in p.stderr.splitlines() if any(n.lower() in line.lower() for n in BEAM_NOISE)]
    assert not noise, noise  # as quiet as pixel-render run: Beam's and its workers' chatter needs -v


def _finetune_and_evaluate(tmp_path: Path, data: Path, task: str, model: str = "pixel") -> tuple[dict, dict, Path]:
    out = tmp_path / "run"
    # pixel-train's own main in this process: the same command line, without a subprocess's 5-10 s of imports
    _main("finetune", "--task", task, "--model", model, "--flavor", "debug", "--data", str(data), "--out", str(out),
          "--steps", "4", "--eval-every", "2", "--set", "micro_batch_size=4", "--set", "global_batch_size=4",
          "--set", "optim.warmup_steps=0")
    best = json.loads((out / "best" / "metrics.json").read_text())
    logged = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines() if '"eval_' in r]
    assert [r["step"] for r in logged] == [2, 4]
    at_best = next(r for r in logged if r["step"] == best["step"])
    _main("evaluate", "--model", str(out / "best"), "--data", str(data), "--out", str(tmp_path / "ev"))
    ev = json.loads((tmp_path / "ev" / "metrics-validation.json").read_text())
    metrics = [k for k, v in best.items() if isinstance(v, float)]
    assert metrics
    for k in metrics:  # every metric of the best checkpoint, as logged during the run, reproduced
        assert ev[k] == pytest.approx(best[k], abs=1e-9) == at_best[f"eval_{k}"], k
    n = "n" if "n" in best else "words"  # parsing counts the scored words
    assert ev[n] == best[n] > 0
    return best, ev, tmp_path / "ev"


@pytest.mark.skipif(not CONLL.exists(), reason="CoNLL-2003 (research use) is read from ../shared/data, absent here")
def test_ner_conll2003_render_finetune_evaluate(tmp_path):
    data = tmp_path / "ner"
    _render("--task", "conll2003-ner", "--input", f"train={CONLL}", "--input", f"validation={CONLL}",
            "--limit", "24", "--max_patches", "64", "--output", str(data))
    spec = json.loads((data / "task.json").read_text())
    assert spec["family"] == "tagging" and spec["metric"] == "seqeval" and "B-ORG" in spec["label_names"]
    best, ev, ev_dir = _finetune_and_evaluate(tmp_path, data, "ner")
    assert {"f1", "precision", "recall"} <= set(ev)
    blocks = [b for b in (ev_dir / "predictions-validation.conll").read_text().split("\n\n") if b.strip()]
    assert len(blocks) == 24
    sentences = [tuple(ln.split(" ")[0] for ln in b.splitlines())
                 for b in CONLL.read_text().split("\n\n") if b.strip() and "-DOCSTART-" not in b]
    for b in blocks:
        cols = [ln.split("\t") for ln in b.splitlines()]
        assert all(len(c) == 3 and c[1] in spec["label_names"] and c[2] in spec["label_names"] for c in cols)
        words = tuple(c[0] for c in cols)  # word, gold, predicted: the words of one of the file's sentences
        assert any(sent[:len(words)] == words for sent in sentences[:30]), words


def test_qa_xquad_render_finetune_evaluate(tmp_path):
    src = SAMPLE_DIR / "xquad-en-excerpt.json"  # bundled XQuAD excerpt (CC BY-SA 4.0)
    data = tmp_path / "qa"
    _render("--task", "xquad-en", "--input", f"train={src}", "--input", f"validation={src}", "--limit", "6",
            "--max_patches", "144", "--stride", "32", "--output", str(data))
    best, ev, ev_dir = _finetune_and_evaluate(tmp_path, data, "squad")
    assert {"exact_match", "f1"} <= set(ev) and ev["n"] == 6
    preds = json.loads((ev_dir / "predictions-validation.json").read_text())
    ids = [qa["id"] for art in json.loads(src.read_text())["data"] for p in art["paragraphs"] for qa in p["qas"]][:6]
    assert sorted(preds) == sorted(ids) and all(isinstance(v, str) for v in preds.values())


def test_parsing_ud_render_finetune_evaluate(tmp_path):
    """UD parsing (HEAD + DEPREL) on the bundled EWT excerpt: UAS/LAS reproduced; the predictions file is CoNLL-U
    the official CoNLL 2018 scorer (udtools.udeval) reads, and its UAS / LAS are our conll18_uas / conll18_las."""
    src = SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu"  # bundled UD English-EWT excerpt (CC BY-SA 4.0)
    data = tmp_path / "parse"
    _render("--task", "ud-en_ewt-parse", "--input", f"train={src}", "--input", f"validation={src}", "--limit", "12",
            "--max_patches", "64", "--output", str(data))
    spec = json.loads((data / "task.json").read_text())
    assert spec["family"] == "parsing" and "nsubj" in spec["label_names"] and "root" in spec["label_names"]
    best, ev, ev_dir = _finetune_and_evaluate(tmp_path, data, "parse")
    assert {"uas", "las"} <= set(ev) and 0 <= ev["las"] <= ev["uas"] <= 100  # percent, as PIXEL reports them
    pred = ev_dir / "predictions-validation.conllu"
    gold = tmp_path / "gold.conllu"  # the 12 sentences read (--limit 12), as the treebank has them
    gold.write_text("\n\n".join(src.read_text(encoding="utf-8").split("\n\n")[:12]) + "\n\n", encoding="utf-8")
    comments = [ln for ln in gold.read_text().splitlines() if ln.startswith("#")]
    assert [ln for ln in pred.read_text().splitlines() if ln.startswith("#")] == comments
    assert sum("-" in ln.split("\t")[0] for ln in pred.read_text().splitlines() if not ln.startswith("#")) > 0
    assert ev["conll18_words"] > ev["words"]  # strips of 64 patches cut words: they count for the scorer
    udeval = pytest.importorskip("udtools.udeval", reason="the official UD scorer: pip install -e '.[dev]'")
    official = udeval.evaluate(udeval.load_conllu_file(str(gold)), udeval.load_conllu_file(str(pred)))
    assert official["Tokens"].f1 == official["Words"].f1 == official["Sentences"].f1 == 1.0
    assert official["UAS"].gold_total == ev["conll18_words"]
    assert 100 * official["UAS"].f1 == pytest.approx(ev["conll18_uas"], abs=1e-9)
    assert 100 * official["LAS"].f1 == pytest.approx(ev["conll18_las"], abs=1e-9)
