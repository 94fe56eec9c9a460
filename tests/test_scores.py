"""Each task metric on a small case worked out by hand (the libraries compute; these numbers are by hand)."""

from __future__ import annotations

import pytest

from pixelkit.trainer import scores


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


def test_uas_las_counts_punctuation_and_skips_cut_heads():
    gold = [[(2, 0), (0, 1), (2, 2)], [(3, 0), (0, 1)]]  # sentence 2: word 1's head (3) was cut off
    heads = [[2, 0, 1], [2, 0]]
    rels = [[0, 1, 2], [0, 0]]
    # scorable words: 3 + 1 = 4; heads right: w1, w2 (s1) + w2 (s2) = 3 -> UAS 75; labels right too: w1, w2 -> 50
    out = scores.uas_las(gold, heads, rels)
    assert out == pytest.approx({"uas": 75.0, "las": 50.0, "words": 4, "unscorable": 1})


def test_the_metric_keys_finetune_accepts_are_the_keys_the_scores_have():
    """spec.METRIC_KEYS (what task.metric may name, checked before training) against trainer/tasks.score itself."""
    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.spec import MAIN_METRIC, METRIC_KEYS
    from pixelkit.trainer.tasks import score

    labels = ["B-PER", "I-PER", "O"]
    seq = [{"gold": g, "pred": p} for g, p in ((0, 0), (1, 0), (1, 1), (0, 1))]
    cases = {"classification": (("accuracy", "f1", "mcc", "accuracy_f1"), seq),
             "regression": (("pearson_spearman",), [{"gold": g, "pred": p} for g, p in ((0.5, 1.0), (2.0, 1.5),
                                                                                      (4.0, 3.0))]),
             "tagging": (("accuracy", "seqeval"), [{"gold": [0, 1, 2], "pred": [0, 2, 2]}]),
             "qa": (("squad",), [{"id": "q", "question": "Who?", "answers": {"text": ["Ann"], "answer_start": [0]},
                                  "window": 0, "candidates": [{"score": 1.0, "text": "Ann"}]}]),
             "parsing": (("uas_las",), [{"gold": [[0, 1], [1, 0]], "heads": [0, 1], "rels": [1, 0]}])}
    seen = set()
    for family, (metrics, records) in cases.items():
        for metric in metrics:
            keys = set(score(TaskSpec("t", family, "text", labels, metric), records))
            seen.add(metric)
            if family == "parsing":  # conll18_* come with the sentences' CoNLL-U blocks (schema 1.2 shards)
                assert keys | {"conll18_uas", "conll18_las", "conll18_words"} == set(METRIC_KEYS[metric])
            else:
                assert keys == set(METRIC_KEYS[metric]), metric
            assert MAIN_METRIC[metric] in METRIC_KEYS[metric]
    assert seen == set(METRIC_KEYS) == set(MAIN_METRIC)
