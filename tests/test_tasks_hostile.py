"""Task readers on hostile versions of real files: each broken thing becomes a dead letter (file, position,
reason) and the reader goes on -- no exception reaches the Beam job (it used to stop the whole job).

Real data: the bundled UD EWT and XQuAD excerpts, cut, compressed or edited one field at a time; STS-B's real dev
rows from ../shared/data when present.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import SAMPLE_DIR, SHARED_DATA
from pixelkit.pipeline.documents import DeadLetter
from pixelkit.pipeline.tasks import LabelledRecord, read_records, resolve

EWT = SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu"
XQUAD = SAMPLE_DIR / "xquad-en-excerpt.json"


def _read(path: Path, name: str) -> list:
    return list(read_records(str(path), resolve(name)))


def _cut_gzip(src: bytes, dst: Path) -> Path:
    packed = gzip.compress(src, mtime=0)
    dst.write_bytes(packed[: len(packed) // 2])
    return dst


@pytest.mark.parametrize("name", ["ud-en_ewt-pos", "ud-en_ewt-parse"])
def test_a_truncated_gzip_keeps_the_sentences_before_the_cut_and_dead_letters_the_cut(tmp_path, name):
    whole = _read(EWT, name)
    recs = _read(_cut_gzip(EWT.read_bytes(), tmp_path / "ewt.conllu.gz"), name)
    assert isinstance(recs[-1], DeadLetter) and recs[-1].reason == "truncated_file", recs[-1]
    assert recs[-1].position.startswith("line ") and recs[-1].file.endswith("ewt.conllu.gz")
    kept = recs[:-1]
    assert kept and all(isinstance(r, LabelledRecord) for r in kept)
    assert [r.words for r in kept] == [r.words for r in whole[: len(kept)]] and len(kept) < len(whole)


def test_a_truncated_gzip_tsv_and_json_are_dead_letters_too(tmp_path):
    rows = ["index\tquestion\tsentence\tlabel"] + [f"{i}\tWhat is {i}?\tIt is {i}.\tentailment" for i in range(3000)]
    recs = _read(_cut_gzip("\n".join(rows).encode(), tmp_path / "dev.tsv.gz"), "glue-qnli")
    assert recs[-1].reason == "truncated_file" and all(isinstance(r, LabelledRecord) for r in recs[:-1])
    recs = _read(_cut_gzip(XQUAD.read_bytes(), tmp_path / "xquad.json.gz"), "xquad-en")
    assert [(r.reason, r.position) for r in recs] == [("truncated_file", "file")]
    xnli = "\n".join(json.dumps({"premise": f"p {i}", "hypothesis": "h", "label": i % 3}) for i in range(3000))
    recs = _read(_cut_gzip(xnli.encode(), tmp_path / "xnli.jsonl.gz"), "xnli-en")
    assert recs[-1].reason == "truncated_file" and all(isinstance(r, LabelledRecord) for r in recs[:-1])


def test_xnli_jsonl_nested_too_deep_is_a_dead_letter(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text("[" * 100_000 + "\n" + json.dumps({"premise": "a", "hypothesis": "b", "label": 0}) + "\n")
    recs = _read(f, "xnli-en")
    assert (recs[0].reason, recs[0].position) == ("invalid_json", "line 1") and isinstance(recs[1], LabelledRecord)


def test_squad_articles_paragraphs_and_answers_of_the_wrong_json_type(tmp_path):
    data = json.loads(XQUAD.read_text(encoding="utf-8"))
    n = sum(len(p["qas"]) for a in data["data"] for p in a["paragraphs"])
    para = data["data"][0]["paragraphs"][0]
    para["qas"][0]["answers"] = 5
    data["data"] += ["an article that is a string", {"paragraphs": None}, {"title": "no paragraphs"},
                     {"paragraphs": [{"context": "c", "qas": None}, 7]}]
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    recs = _read(f, "xquad-en")
    dead = [(r.position, r.reason) for r in recs if isinstance(r, DeadLetter)]
    n_art = len(data["data"]) - 4
    assert dead == [(f"data[{n_art}]", "invalid_json"), (f"data[{n_art + 1}]", "invalid_json"),
                    (f"data[{n_art + 3}].paragraphs[0]", "invalid_json"),
                    (f"data[{n_art + 3}].paragraphs[1]", "invalid_json"),
                    (f"data[0].paragraphs[0].qas[0] (id {para['qas'][0]['id']})", "invalid_json")]
    assert sum(isinstance(r, LabelledRecord) for r in recs) == n - 1


def test_squad_offsets_counted_in_utf16_units_are_named_in_the_dead_letter(tmp_path):
    data = json.loads(XQUAD.read_text(encoding="utf-8"))
    para = data["data"][0]["paragraphs"][0]
    para["context"] = "\U0001F600 " + para["context"]  # an astral character: 1 code point, 2 UTF-16 units
    qas = para["qas"]
    qas[0]["answers"][0]["answer_start"] += 3  # what a JavaScript tool would write
    for qa in qas[1:]:
        for a in qa["answers"]:
            a["answer_start"] += 2
    f = tmp_path / "astral.json"
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    recs = _read(f, "xquad-en")
    assert recs[0].reason == "answer_not_at_offset" and "counting UTF-16 code units" in recs[0].detail
    assert all(isinstance(r, LabelledRecord) for r in recs[1:len(qas)])
    assert all(r.text_b[s:s + len(t)] == t for r in recs[1:len(qas)] for t, s in r.answers)
def test_conllu_head_that_python_calls_a_digit_but_is_not_a_number(tmp_path):
    block = EWT.read_text(encoding="utf-8").split("\n\n")[0].splitlines()
    tok = [i for i, x in enumerate(block) if x[:1].isdigit() and "-" not in x.split("\t")[0]]
    for head in ("²", "٢"):  # str.isdigit() is True for both; int("²") raises; UD heads are ASCII digits
        b = list(block)
        cols = b[tok[0]].split("\t")
        b[tok[0]] = "\t".join(cols[:6] + [head] + cols[7:])
        f = tmp_path / "h.conllu"
        f.write_text("\n".join(b + [""] + block + [""]), encoding="utf-8")
        recs = _read(f, "ud-en_ewt-parse")
        assert (recs[0].reason, recs[0].position) == ("bad_head", f"line {tok[0] + 1}") and \
            isinstance(recs[1], LabelledRecord)
        assert isinstance(_read(f, "ud-en_ewt-pos")[0], LabelledRecord)  # POS does not read HEAD


def _stsb_rows() -> list[str]:
    real = SHARED_DATA / "glue" / "STS-B" / "dev.tsv"
    if real.is_file():
        return real.read_text(encoding="utf-8").splitlines()[:6]
    return ["index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"] + [
        f"{i}\tmain-captions\tMSRvid\t2012test\t{i}\tnone\tnone\tA man is playing.\tA man plays.\t{i}.0" for i in range(5)]


def test_stsb_score_that_is_not_finite_is_a_dead_letter(tmp_path):
    rows = _stsb_rows()
    for i, bad in enumerate(("nan", "inf", "-Infinity", "1e400"), 1):
        rows[i] = rows[i].rsplit("\t", 1)[0] + "\t" + bad
    f = tmp_path / "dev.tsv"
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    recs = _read(f, "glue-stsb")
    assert [getattr(r, "reason", None) for r in recs] == ["bad_label"] * 4 + [None]
    assert [r.position for r in recs[:4]] == ["line 2", "line 3", "line 4", "line 5"]


def test_verify_on_a_task_output_names_its_splits(tmp_path):
    """``pixel-shards verify out/tasks/x`` (the task root, not a split) said only "no shard manifest"; it now names
    the split directories to give it."""
    from pixelkit.pipeline.cli_shards import verify
    from taskdata import EWT_EXCERPT, make_task

    out = make_task(tmp_path / "ud", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT}, limit=3)
    [problem] = verify(out)
    assert f"a pixel-render task output: each split is a shard set; give one of {out}/train, {out}/validation" in problem
    assert verify(out / "train") == []


@pytest.mark.skipif(not (SHARED_DATA / "ner/conll2003/eng.testa").is_file(), reason="CoNLL-2003 not present")
def test_a_broken_first_ner_line_does_not_set_the_file_s_column_count(tmp_path):
    """A first line with one column ("word", its tag missing) used to fix the file's column count at 1, so every
    later sentence of the file was dead-lettered as "4 columns, the file has 1"; only its own sentence is."""
    real = (SHARED_DATA / "ner/conll2003/eng.testa").read_text(encoding="utf-8").splitlines()[:60]
    (tmp_path / "whole.txt").write_text("\n".join(real) + "\n", encoding="utf-8")
    (tmp_path / "broken.txt").write_text("\n".join(["CRICKET", ""] + real) + "\n", encoding="utf-8")
    whole, recs = _read(tmp_path / "whole.txt", "conll2003-ner"), _read(tmp_path / "broken.txt", "conll2003-ner")
    assert (recs[0].reason, recs[0].position) == ("wrong_column_count", "line 1")
    assert all(isinstance(r, LabelledRecord) for r in whole) and len(whole) > 3
    assert [(r.words, r.tags) for r in recs[1:]] == [(r.words, r.tags) for r in whole]


def test_a_question_id_repeated_in_one_squad_file_is_a_dead_letter(tmp_path):
    """Two questions of one file under one id rendered, trained and scored, and then `pixel-train evaluate` refused
    to write the SQuAD-style predictions (keyed by id) after the whole run, telling the user to render each
    language as its own split; the later question is now a `duplicate_id` dead letter naming the first."""
    data = json.loads(XQUAD.read_text(encoding="utf-8"))
    qas = [qa for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]]
    first, later = qas[0]["id"], qas[-1]["id"]
    qas[-1]["id"] = first
    f = tmp_path / "dup.json"
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    recs = _read(f, "xquad-en")
    assert len(recs) == len(qas) and all(isinstance(r, LabelledRecord) for r in recs[:-1])
    assert recs[-1].reason == "duplicate_id" and f"(id {first})" in recs[-1].position
    assert "data[0].paragraphs[0].qas[0]" in recs[-1].detail and later not in {r.doc_id for r in recs[:-1]}


def test_xnli_jsonl_ids_that_are_null_blank_or_not_scalars_fall_back_to_the_line(tmp_path):
    """`"id": null` became the doc id "None" (twice: keys None_0000 and None_0000-dup1, and "None" rows in the
    predictions TSV), `"id": ""` an empty id; they now get the line number, as a row without an id does."""
    real = SHARED_DATA / "xnli/dev-en.tsv"
    rows = ([r.split("\t") for r in real.read_text(encoding="utf-8").splitlines()[:6]] if real.is_file()
            else [["And he said, Mama, I'm home.", "He didn't say a word.", "contradiction"]] * 6)
    ids = [None, None, "", "  ", {"x": 1}, "p-7"]
    lines = [json.dumps({"premise": a, "hypothesis": b, "label": lab, "id": i}) for (a, b, lab), i in zip(rows, ids)]
    f = tmp_path / "dev.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    recs = _read(f, "xnli-en")
    assert all(isinstance(r, LabelledRecord) for r in recs)
    assert [r.doc_id for r in recs] == ["1", "2", "3", "4", "5", "p-7"]


def test_lone_surrogates_from_json_escapes_do_not_stop_the_job(tmp_path):
    """JSON's "\\ud800" escape is valid JSON and a lone surrogate in Python, which no UTF-8 writer takes: in a
    SQuAD id or answer, or an XNLI .jsonl id, it reached the sample's meta and the whole job died in the sink
    (UnicodeEncodeError while packing). Such characters are now U+FFFD, which keeps every answer_start right."""
    from pixelkit.pipeline.render import RenderConfig, TextRenderer
    from pixelkit.pipeline.sink import pack
    from pixelkit.pipeline.tasks.render import render_record

    data = json.loads(XQUAD.read_text(encoding="utf-8"))
    para = data["data"][0]["paragraphs"][0]
    qa = para["qas"][0]
    start = qa["answers"][0]["answer_start"]
    para["context"] = para["context"][:start] + "\ud800" + para["context"][start + 1:]  # its answer's first letter
    qa["answers"] = [{"text": "\ud800" + a["text"][1:], "answer_start": a["answer_start"]} for a in qa["answers"]]
    qa["id"] += "\udc00"
    f = tmp_path / "xquad.json"
    f.write_text(json.dumps(data), encoding="ascii")  # json.dumps writes the surrogates as \\u escapes
    x = tmp_path / "xnli.jsonl"
    x.write_text(json.dumps({"premise": "A \ud800.", "hypothesis": "B.", "label": 0, "id": "p\ud800"}) + "\n")
    cfg = RenderConfig(max_patches=144)
    r = TextRenderer(cfg)
    for path, name in ((f, "xquad-en"), (x, "xnli-en")):
        task = resolve(name)
        rec = _read(path, name)[0]
        assert isinstance(rec, LabelledRecord) and "\ufffd" in rec.doc_id
        if name == "xquad-en":
            assert all(rec.text_b[s:s + len(t)] == t and t.startswith("\ufffd") for t, s in rec.answers)
        vocab = {n: i for i, n in enumerate(task.label_names or ())}
        samples = render_record(rec, r, cfg, "pxz", task, vocab, None, 40)
        assert [pack(s)[0] for s in samples]  # what the sink does first: no UnicodeEncodeError
