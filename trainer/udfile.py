"""UD parsing predictions a CoNLL 2018 scorer reads, and the UAS / LAS that scorer reports on them.

The official scorer (``conll18_ud_eval.py``; today ``udeval`` of UniversalDependencies' ``udtools`` package)
aligns system and gold words through the characters of their tokens and syntactic words, and refuses a sentence
with a cycle or more than one root word. So the predictions file is the gold sentence's own CoNLL-U block (task
shards carry it since schema 1.2, field ``conllu``) with the model's tree written in:

* comment lines as in the gold file (``# sent_id``, ``# text``, ``# newdoc`` ...);
* multi-word token range lines (``1-2  It's``): ID, FORM and MISC as given, ``_`` elsewhere;
* syntactic words: ID, FORM, predicted HEAD and DEPREL (universal part, as trained), MISC as given (SpaceAfter);
  LEMMA, UPOS, XPOS, FEATS and DEPS are ``_``: the parser predicts none of them (the scorer's UPOS / UFeats /
  Lemmas / MLAS / BLEX lines mean nothing for this file; UAS, LAS and CLAS do);
* empty nodes (``8.1``) are left out: they belong to the enhanced graph (DEPS), which the parser does not predict,
  and the scorer skips them in a basic-tree evaluation anyway;
* HEAD / DEPREL is the best tree with one root word (``heads/trees.py``) over the biaffine scores, not PIXEL's
  per-word argmax; words a truncated strip did not show get no prediction and are attached to the predicted root
  word as ``dep`` (so they count as errors, as they would for the scorer).

``conll18_uas_las`` counts what the scorer counts: every syntactic word of every sentence, punctuation included,
DEPREL compared on its universal part. With gold tokenization the alignment is the identity, so these numbers equal
the scorer's UAS / LAS (tests/test_udfile.py runs the official scorer).
"""

from __future__ import annotations

from .spec import ConfigError


def _words(block: str) -> list[list[str]]:
    return [c for c in (ln.split("\t") for ln in block.split("\n") if ln and not ln.startswith("#"))
            if c[0].isdigit()]


def tree(block: str, heads: list[int], rels: list[str]) -> list[tuple[int, str]]:
    """(HEAD, DEPREL) for every syntactic word of ``block``: the predicted ones, then the words a truncated strip
    cut, attached to the predicted root word (or, when nothing was predicted, to the first cut word) as ``dep``."""
    n = len(_words(block))
    out = list(zip(heads, rels))[:n]
    root = next((i + 1 for i, (h, _) in enumerate(out) if h == 0), 0)
    for i in range(len(out), n):
        out.append((root, "dep") if root else (0, "root"))
        root = root or i + 1
    return out


def gold_arcs(block: str) -> list[tuple[int, str]]:
    return [(int(c[6]), c[7].split(":")[0]) for c in _words(block)]


def prediction_block(block: str, heads: list[int], rels: list[str]) -> str:
    """``block`` (one sentence as read) with the predicted tree written in; see the module docstring."""
    arcs = iter(tree(block, heads, rels))
    out = []
    for line in block.split("\n"):
        if line.startswith("#"):
            out.append(line)
            continue
        c = line.split("\t")
        if "." in c[0]:
            continue
        if "-" in c[0]:
            out.append("\t".join([c[0], c[1], "_", "_", "_", "_", "_", "_", "_", c[9]]))
            continue
        h, r = next(arcs)
        out.append("\t".join([c[0], c[1], "_", "_", "_", "_", str(h), r, "_", c[9]]))
    return "\n".join(out) + "\n"


def need_blocks(records: list[dict]) -> None:
    if any(not r.get("conllu") or not r.get("conllu_origin") for r in records):
        raise ConfigError("these parsing shards carry no CoNLL-U block per sentence (written before schema 1.2): "
                          "the predictions cannot be written as CoNLL-U the UD scorer reads; render the task again "
                          "with this pixel-render task")


def conll18_uas_las(records: list[dict], names: list[str]) -> dict[str, float]:
    """UAS / LAS of the written trees over every syntactic word, as the CoNLL 2018 scorer computes them."""
    words = arcs = both = 0
    for r in records:
        gold = gold_arcs(r["conllu"])
        pred = tree(r["conllu"], r["tree_heads"], [names[d] for d in r["tree_rels"]])
        for (gh, gr), (ph, pr) in zip(gold, pred):
            words += 1
            arcs += gh == ph
            both += gh == ph and gr == pr
    return {"conll18_uas": 100.0 * arcs / max(words, 1), "conll18_las": 100.0 * both / max(words, 1),
            "conll18_words": words}


def write_predictions(records: list[dict], names: list[str]) -> str:
    """The gold blocks with the predicted trees, in the gold files' order (``conllu_origin``)."""
    need_blocks(records)
    records = sorted(records, key=lambda r: tuple(r["conllu_origin"]))
    return "\n".join(prediction_block(r["conllu"], r["tree_heads"], [names[d] for d in r["tree_rels"]])
                     for r in records) + ("\n" if records else "")
