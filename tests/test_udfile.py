"""UD parsing predictions as CoNLL-U the official CoNLL 2018 scorer reads, scored by that scorer.

The scorer is UniversalDependencies' own (``udtools.udeval``, the maintained conll18_ud_eval.py; pyproject's dev
extra installs it). Gold: the bundled UD English-EWT excerpt (10 multi-word tokens) and EWT dev's 3 sentences with
empty nodes. Predictions: real task samples (pipeline reader + render_record) through the biaffine head's
``predict`` on noisy scores biased towards the gold tree, so the per-word argmax holds cycles and extra roots.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import torch

from conftest import SAMPLE_DIR
from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.tasks import read_records, resolve
from pixelkit.pipeline.tasks.render import render_record
from pixelkit.schemas import TaskSpec
from pixelkit.trainer import scores, tasks, udfile
from pixelkit.trainer.heads import biaffine
from pixelkit.trainer.heads.trees import _cycle, one_root_tree
from pixelkit.trainer.spec import ConfigError


def _udtools(module: str = "udtools.udeval"):
    return pytest.importorskip(module, reason="UD's official scorer / validator: pip install -e '.[dev]' (udtools)")


GOLD = [SAMPLE_DIR / "en_ewt-ud-dev-empty-nodes.conllu", SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu"]  # name order
TASK = resolve("ud-en_ewt-parse")


def _samples(max_patches: int):
    cfg = RenderConfig(max_patches=max_patches)
    renderer = TextRenderer(cfg)
    recs = [r for path in GOLD for r in read_records(str(path), TASK)]
    names = sorted({t for r in recs for t in r.tags} | {"dep"})
    vocab = {t: i for i, t in enumerate(names)}
    return [s for r in recs for s in render_record(r, renderer, cfg, "pxz", TASK, vocab)], names


def _predict(samples, n_labels: int, seed: int = 0) -> list[dict]:
    """The head's predict on scores = gold one-hot + noise (heads and labels)."""
    g = torch.Generator().manual_seed(seed)
    w = max(len(s.labels) for s in samples)
    arc = torch.randn(len(samples), w, w + 1, generator=g) * 1.5
    rel = torch.randn(len(samples), w, w + 1, n_labels, generator=g)
    for i, s in enumerate(samples):
        arc[i, :, len(s.labels) + 1:] = torch.finfo(arc.dtype).min  # padding heads, masked as the head's forward does
        for d, (h, r) in enumerate(s.labels):
            if h <= len(s.labels):
                arc[i, d, h] += 2.0
                rel[i, d, :, r] += 3.0
    mask = torch.tensor([[int(j < len(s.labels)) for j in range(w)] for s in samples])  # every word read (patches)
    return biaffine.predict({"arc": arc, "rel": rel}, {"word_mask": mask}, samples, "parsing")


def _scorer(gold_files, system, tmp_path):
    udeval = _udtools()
    gold = tmp_path / "gold.conllu"
    gold.write_text("".join(p.read_text(encoding="utf-8") for p in gold_files), encoding="utf-8")
    return udeval.evaluate(udeval.load_conllu_file(str(gold)), udeval.load_conllu_file(str(system)))


@pytest.mark.parametrize("max_patches", [529, 48])  # every word shown / long sentences cut
def test_official_scorer_reads_our_file_and_reports_our_numbers(tmp_path, max_patches):
    samples, names = _samples(max_patches)
    assert any(s.truncated for s in samples) == (max_patches == 48)
    records = _predict(samples, len(names))
    assert sum(_cycle(np.array([0] + r["heads"])) is not None or r["heads"].count(0) != 1 for r in records) > 5
    spec = TaskSpec("ud-en_ewt-parse", "parsing", "words", names, "uas_las", "en")
    ours = tasks.score(spec, records)
    random.Random(0).shuffle(records)  # shard order is not file order
    path = tasks.write(spec, records, tmp_path / "predictions-validation")
    text = path.read_text(encoding="utf-8")
    assert "\n8.1\t" not in text and "\n1-2\tIt's\t" in text and "\n1\tIt\t" in text  # no empty nodes; MWT forms
    official = _scorer(GOLD, path, tmp_path)
    assert official["Tokens"].f1 == official["Words"].f1 == official["Sentences"].f1 == 1.0  # identity alignment
    gold_words = sum(ln.split("\t")[0].isdigit() for p in GOLD for ln in p.read_text().splitlines())
    assert ours["conll18_words"] == official["UAS"].gold_total == official["UAS"].system_total == gold_words
    assert 100 * official["UAS"].f1 == pytest.approx(ours["conll18_uas"], abs=1e-9)
    assert 100 * official["LAS"].f1 == pytest.approx(ours["conll18_las"], abs=1e-9)
    assert 20 < ours["conll18_las"] < ours["conll18_uas"] < 100
    if max_patches == 529:  # no word cut: PIXEL's definition (punctuation included) on the tree = the scorer's
        same = scores.uas_las([[tuple(x) for x in r["gold"]] for r in records], [r["tree_heads"] for r in records],
                              [r["tree_rels"] for r in records])
        assert same["uas"] == pytest.approx(ours["conll18_uas"], abs=1e-9)
        assert same["las"] == pytest.approx(ours["conll18_las"], abs=1e-9)
        assert same["words"] == ours["words"] == ours["conll18_words"]
    else:  # cut words are attached as `dep` to the root: errors for us and the scorer alike
        assert ours["conll18_words"] > ours["words"]


def test_gold_trees_score_100_and_the_file_keeps_comments_and_misc(tmp_path):
    samples, names = _samples(529)
    records = _predict(samples, len(names))
    for r, s in zip(records, samples):
        r["tree_heads"] = [h for h, _ in s.labels]
        r["tree_rels"] = [d for _, d in s.labels]
    spec = TaskSpec("ud-en_ewt-parse", "parsing", "words", names, "uas_las", "en")
    assert tasks.score(spec, records)["conll18_las"] == 100.0
    path = tasks.write(spec, records, tmp_path / "p")
    official = _scorer(GOLD, path, tmp_path)
    assert official["LAS"].f1 == official["CLAS"].f1 == 1.0
    gold_comments = [ln for p in GOLD for ln in p.read_text().splitlines() if ln.startswith("#")]
    assert [ln for ln in path.read_text().splitlines() if ln.startswith("#")] == gold_comments
    assert "\tSpaceAfter=No" in path.read_text()


def test_shards_without_the_block_fail_with_the_fix(tmp_path):
    samples, names = _samples(529)
    records = _predict(samples[:2], len(names))
    for r in records:
        r["conllu"] = None  # a shard written before schema 1.2
    spec = TaskSpec("ud-en_ewt-parse", "parsing", "words", names, "uas_las", "en")
    assert "conll18_uas" not in tasks.score(spec, records) and "uas" in tasks.score(spec, records)
    with pytest.raises(ConfigError, match="before schema 1.2.*render the task again"):
        tasks.write(spec, records, tmp_path / "p")


def test_tree_with_cut_words_stays_one_tree():
    block = "\n".join(f"{i}\tw{i}\t_\t_\t_\t_\t{0 if i == 2 else 2}\tx\t_\t_" for i in range(1, 6))
    assert udfile.tree(block, [2, 0], ["nsubj", "root"]) == [(2, "nsubj"), (0, "root"), (2, "dep"), (2, "dep"),
                                                             (2, "dep")]
    assert udfile.tree(block, [], []) == [(0, "root"), (1, "dep"), (1, "dep"), (1, "dep"), (1, "dep")]


def test_one_root_tree_is_the_best_single_root_tree():
    """Against every head assignment of up to 5 words: the highest-scoring one that is a tree with one root."""
    rng = np.random.default_rng(0)
    for _ in range(150):
        n = int(rng.integers(1, 6))
        sc = rng.normal(size=(n, n + 1)) * 3
        best = max((hs for hs in itertools.product(range(n + 1), repeat=n)
                    if hs.count(0) == 1 and all(h != d + 1 for d, h in enumerate(hs))
                    and _cycle(np.array((0,) + hs)) is None),
                   key=lambda hs: sum(sc[d, h] for d, h in enumerate(hs)))
        got = one_root_tree(sc)
        assert sum(sc[d, h] for d, h in enumerate(got)) == pytest.approx(sum(sc[d, h] for d, h in enumerate(best)))
        assert got.count(0) == 1 and _cycle(np.array([0] + got)) is None


def test_official_validator_finds_nothing_but_the_upos_we_do_not_predict(tmp_path):
    """UD's validator (udtools): level 1 (the CoNLL-U format) passes; level 2 (trees: one root, no cycle, heads
    inside the sentence; morphology) reports only 'unknown-upos' for the `_` UPOS of every word, nothing else."""
    Validator = _udtools("udtools").Validator
    samples, names = _samples(48)
    spec = TaskSpec("ud-en_ewt-parse", "parsing", "words", names, "uas_las", "en")
    path = tasks.write(spec, _predict(samples, len(names)), tmp_path / "p")
    assert Validator(lang="en", level=1, output=None).validate_files([str(path)])
    state = Validator(lang="en", level=2, output=None).validate_files([str(path)])
    words = sum(ln.split("\t")[0].isdigit() for ln in path.read_text().splitlines())
    assert [e.testid for e in state.error_tracker] == ["unknown-upos"] * words
