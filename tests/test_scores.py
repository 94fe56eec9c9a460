"""Each task metric on a small case worked out by hand (the libraries compute; these numbers are by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixelkit.trainer import scores

ROOT = Path(__file__).resolve().parents[1]


def test_accuracy_f1_mcc_by_hand():
    gold = [1, 1, 0, 0, 1]
    pred = [1, 0, 0, 1, 1]
    # 3 of 5 right; positives: tp = 2, fp = 1, fn = 1 -> precision 2/3, recall 2/3, F1 2/3
    assert scores.accuracy(gold, pred)["accuracy"] == pytest.approx(0.6)
    assert scores.accuracy_f1(gold, pred)["f1"] == pytest.approx(2 / 3)
    # MCC = (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (2*1 - 1*1) / sqrt(3*3*2*2) = 1/6
    assert scores.mcc(gold, pred)["mcc"] == pytest.approx(1 / 6)


def test_pearson_spearman_by_hand():
    # pred = 2 * gold + 1 is a perfect line; swapping the last two predictions keeps Pearson high, breaks ranks
    assert scores.pearson_spearman([1.0, 2.0, 3.0], [3.0, 5.0, 7.0]) == pytest.approx({"pearson": 1.0, "spearman": 1.0})
    # gold 1,2,3 vs pred 1,3,2: Spearman = 1 - 6 * sum d^2 / (n (n^2 - 1)) = 1 - 6 * 2 / 24 = 0.5; Pearson: 0.5 too
    assert scores.pearson_spearman([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]) == pytest.approx({"pearson": 0.5, "spearman": 0.5})


def test_seqeval_entity_f1_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    # entities: gold {PER(0-1), LOC(3), ORG(0)}; pred {PER(0-1), ORG(3), ORG(0)}: 2 right of 3 each way
    assert scores.entity_f1(gold, pred) == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    # a boundary error is a miss (CoNLL definition): PER(0) instead of PER(0-1)
    out = scores.entity_f1([["B-PER", "I-PER"]], [["B-PER", "O"]])
    assert out["f1"] == 0.0


def test_squad_em_f1_by_hand():
    # normalization: case, punctuation and articles go -> "the Eiffel Tower." == "eiffel tower"
    assert scores.normalize_answer("The  Eiffel Tower.") == "eiffel tower"
    out = scores.squad([["Eiffel Tower", "the tower"], ["Jane Austen"]], ["the Eiffel Tower.", "Austen wrote"])
    # q1: EM 1 (first gold); q2: EM 0, F1 = tokens {austen, wrote} vs {jane, austen}: p = 1/2, r = 1/2 -> 1/2
    assert out["exact_match"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(75.0)


def _korean_pairs():
    """60 gold / predicted answers from the bundled UDHR excerpt's Korean: exact, in 《》, shifted by a word, with a
    particle and ASCII quotes / parentheses / an article, half an answer, empty (two gold answers each)."""
    import random
    rows = [json.loads(line) for line in (ROOT / "pipeline/sample_data/udhr-excerpt.jsonl").open(encoding="utf-8")]
    words = " ".join(next(r for r in rows if r["lang"] == "kor")["paragraphs"]).split()
    rng, gold, pred = random.Random(7), [], []
    for i in range(60):
        a, n = rng.randrange(len(words) - 6), rng.randint(1, 4)
        g = " ".join(words[a:a + n])
        pred.append([g, "《" + g + "》", " ".join(words[a + 1:a + n + 2]), g + "의 (The) 'A'", g[:max(1, len(g) // 2)],
                     ""][i % 6])
        gold.append([g, " ".join(words[a:a + n + 1])])
    return gold, pred


def test_korquad_em_f1_are_the_official_scripts():
    # reference: KorQuAD 1.0's evaluate-v1.0.py run on these 60 answers (2026-12-05, in a scratch directory)
    gold, pred = _korean_pairs()
    assert scores.korquad(gold, pred) == pytest.approx({"korquad_exact_match": 33.333333333333336,
                                                        "korquad_f1": 66.76866222448272}, abs=1e-9)
    assert scores.squad(gold, pred)["f1"] == pytest.approx(46.28571428571429)  # SQuAD's words: another number
    # by hand: brackets and ASCII punctuation go, characters count: "대한민국의" vs "대한민국": p 4/5, r 1 -> 8/9
    out = scores.korquad([["《대한민국》"]], ["(대한민국의)"])
    assert out["korquad_exact_match"] == 0.0 and out["korquad_f1"] == pytest.approx(800 / 9)
    assert scores.korquad([["The Tower"]], ["tower"])["korquad_exact_match"] == 0.0  # no article removal


def test_uas_las_counts_punctuation_and_skips_cut_heads():
    gold = [[(2, 0), (0, 1), (2, 2)], [(3, 0), (0, 1)]]  # sentence 2: word 1's head (3) was cut off
    heads = [[2, 0, 1], [2, 0]]
    rels = [[0, 1, 2], [0, 0]]
    # scorable words: 3 + 1 = 4; heads right: w1, w2 (s1) + w2 (s2) = 3 -> UAS 75; labels right too: w1, w2 -> 50
    out = scores.uas_las(gold, heads, rels)
    assert out == pytest.approx({"uas": 75.0, "las": 50.0, "words": 4, "unscorable": 1})


def test_the_metric_keys_table_names_what_score_gives():
    """spec.METRIC_KEYS (what task.metric and a suite entry's metric are checked against before a run) lists exactly
    the score keys tasks.score returns for each metric a task spec may name (counts such as n aside)."""
    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.spec import METRIC_KEYS
    from pixelkit.trainer.tasks import score
    seq = [{"gold": 1, "pred": 1}, {"gold": 0, "pred": 1}, {"gold": 0, "pred": 0}]
    tags = [{"gold": [0, 1, 2], "pred": [0, 1, 1]}]
    qa = [{"id": "q", "question": "?", "answers": {"text": ["a b"], "answer_start": [0]}, "window": 0,
           "candidates": [{"score": 1.0, "text": "a"}]}]
    cases = {"accuracy": ("classification", "text", ["a", "b"], seq), "f1": ("classification", "pair", ["a", "b"], seq),
             "accuracy_f1": ("classification", "pair", ["a", "b"], seq),
             "mcc": ("classification", "text", ["a", "b"], seq),
             "pearson_spearman": ("regression", "pair", [], [{"gold": 1.0, "pred": 2.0}, {"gold": 2.0, "pred": 3.5},
                                                             {"gold": 3.0, "pred": 3.0}]),
             "seqeval": ("tagging", "words", ["B-PER", "I-PER", "O"], tags),
             "squad": ("qa", "qa", [], qa)}
    for metric, (family, kind, names, records) in cases.items():
        got = score(TaskSpec("t", family, kind, names, metric), records)
        assert set(got) - {"n"} == set(METRIC_KEYS[metric]), metric
    assert set(score(TaskSpec("t", "tagging", "words", ["A", "B", "C"], "accuracy"), tags)) - {"n"} == {"accuracy"}
    uas_las = scores.uas_las([[(0, 1)]], [[0]], [[1]])
    assert {"uas", "las"} <= set(uas_las) and set(METRIC_KEYS["uas_las"]) - {"uas", "las"} == {"conll18_uas",
                                                                                                  "conll18_las"}
    assert set(METRIC_KEYS) == set(__import__("pixelkit.schemas.task", fromlist=["METRICS"]).METRICS)
