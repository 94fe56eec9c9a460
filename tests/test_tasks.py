"""Task readers (GLUE, XNLI, CoNLL-U, CoNLL NER, SQuAD JSON) and render_record: real files where we have them.

Real data: the bundled UD EWT and XQuAD excerpts, and ../shared/data (GLUE, XNLI, UD EWT, CoNLL-2003, XQuAD,
TyDiQA) when present -- those tests skip with a reason otherwise. Formats we have no real file for (GLUE test
files, MNLI, QQP, XNLI-1.0's multilingual TSV, XNLI-MT, MasakhaNER) are tiny fixtures written here in the exact
published layout (header + columns); their text is made up.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import SAMPLE_DIR, SHARED_DATA
from pixelkit.pipeline.documents import DeadLetter, Skipped
from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.tasks import LabelledRecord, read_records, resolve
from pixelkit.pipeline.tasks.conll_ner import to_bio
from pixelkit.pipeline.tasks.glue import LAYOUTS
from pixelkit.pipeline.tasks.render import answer_patches, glue_format, render_record

EXCERPT = SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu"
XQUAD_EXCERPT = SAMPLE_DIR / "xquad-en-excerpt.json"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} (research-use sets) not present")


def _read(path, name: str) -> list:
    return list(read_records(str(path), resolve(name)))


def _kinds(recs) -> Counter:
    return Counter(type(r).__name__ if isinstance(r, LabelledRecord) else f"{type(r).__name__}:{r.reason}" for r in recs)


# -- GLUE -----------------------------------------------------------------------------------------------------

GLUE_FILES = [("glue-cola", "CoLA"), ("glue-sst2", "SST-2"), ("glue-mrpc", "MRPC"), ("glue-stsb", "STS-B"),
              ("glue-qnli", "QNLI"), ("glue-rte", "RTE"), ("glue-wnli", "WNLI")]


@needs_shared
@pytest.mark.parametrize("name, folder", GLUE_FILES)
def test_glue_real_files_read_every_row(name, folder):
    task = resolve(name)
    for f in sorted((SHARED_DATA / "glue" / folder).glob("*.tsv")):
        rows = [x for x in f.read_text(encoding="utf-8-sig").splitlines() if x.strip()]
        recs = _read(f, name)
        assert _kinds(recs) == {"LabelledRecord": len(rows) - (folder != "CoLA")}, f  # CoLA has no header
        lay = LAYOUTS[task.layout]
        if lay.labels is None:
            assert all(isinstance(r.label, float) and 0 <= r.label <= 5 for r in recs)
        else:
            assert {r.label for r in recs} == set(lay.labels), f
        assert (task.input == "pair") == all(r.text_b for r in recs)
        assert len({r.doc_id for r in recs}) == len(recs)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_glue_layouts_we_have_no_real_file_for(tmp_path):
    """MNLI train/dev/test, QQP train/test and the test files of CoLA, SST-2, MRPC, STS-B, in GLUE's columns."""
    mnli_head = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
                 "sentence2_parse\tsentence1\tsentence2")
    cases = {
        ("glue-mnli", "train"): [mnli_head + "\tlabel1\tgold_label",
                                 "0\t31193\t31193n\tgovernment\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tThe cat sat.\tA cat sat.\tneutral\tneutral"],
        ("glue-mnli", "dev_matched"): [mnli_head + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label",
                                       "0\t63735\t63735n\tslate\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tIt rained.\tIt was dry.\t"
                                       "contradiction\tcontradiction\tneutral\tcontradiction\tcontradiction\tcontradiction"],
        ("glue-mnli", "test_matched"): [mnli_head, "0\t31349\t31349n\tfiction\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tHi.\tHello."],
        ("glue-qqp", "train"): ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate", "133273\t213221\t213222\tHow?\tWhy?\t0"],
        ("glue-qqp", "test"): ["id\tquestion1\tquestion2", "0\tHow?\tWhy?"],
        ("glue-cola", "test"): ["index\tsentence", "0\tBill whistled past the house."],
        ("glue-sst2", "test"): ["index\tsentence", "0\tuneasy mishmash of styles and genres ."],
        ("glue-mrpc", "test"): ["index\t#1 ID\t#2 ID\t#1 String\t#2 String", "0\t1089874\t1089925\tA b.\tA c."],
        ("glue-stsb", "test"): ["index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2",
                                "0\tmain-news\theadlines\t2015\t0001\tnone\tnone\tA man.\tA woman."],
    }
    for (name, split), lines in cases.items():
        [rec] = _read(_write(tmp_path / f"{name}-{split}.tsv", lines), name)
        assert isinstance(rec, LabelledRecord), (name, split, rec)
        assert (rec.label is None) == split.startswith("test"), (name, split)
        assert rec.doc_id == lines[1].split("\t")[0]  # the index/id column
    assert _read(tmp_path / "glue-mnli-dev_matched.tsv", "glue-mnli")[0].label == "contradiction"


@needs_shared
def test_glue_bad_rows_are_dead_lettered_with_file_line_reason(tmp_path):
    rows = (SHARED_DATA / "glue/MRPC/dev.tsv").read_text(encoding="utf-8-sig").splitlines()
    head, good = rows[0], rows[1:4]
    cols = good[1].split("\t")
    broken = [head, good[0], "\t".join(cols[:4]), "\t".join(cols[:3] + ["  ", cols[4]]), "\t".join([""] + cols[1:]),
              good[2]]
    f = _write(tmp_path / "dev.tsv", broken)
    recs = _read(f, "glue-mrpc")
    dead = [(r.position, r.reason) for r in recs if isinstance(r, DeadLetter)]
    assert dead == [("line 3", "wrong_column_count"), ("line 4", "empty_text"), ("line 5", "missing_label")]
    assert recs[1].detail == f"4 columns, expected 5: {head.split(chr(9))}"
    assert all(r.file == str(f) for r in recs if isinstance(r, DeadLetter))
    assert [r.line for r in recs if isinstance(r, LabelledRecord)] == [2, 6]
    sts = (SHARED_DATA / "glue/STS-B/dev.tsv").read_text().splitlines()[:2]
    f = _write(tmp_path / "sts.tsv", [sts[0], sts[1].rsplit("\t", 1)[0] + "\thigh"])
    assert [r.reason for r in _read(f, "glue-stsb")] == ["bad_label"]
    f.write_bytes(sts[0].encode() + b"\n" + sts[1].encode()[:40] + b"\xff\n")
    assert [(r.source, r.position, r.reason) for r in _read(f, "glue-stsb")] == [("glue-stsb", "line 2", "decode_error")]


def test_unknown_task_names_fail_with_the_fix():
    with pytest.raises(ValueError, match="--task_format"):
        resolve("my-task")
    with pytest.raises(ValueError, match="unknown GLUE task"):
        resolve("glue-cola2")
    with pytest.raises(ValueError, match="ud-<treebank>-pos"):
        resolve("ud-en_ewt-lemma")
    assert resolve("my-task", "squad").family == "qa"


def test_pixels_qa_sets_read_as_squad_json_by_name():
    # PIXEL's QA table: KorQuAD 1.0 and JaQuAD ship as SQuAD JSON (they needed --task_format squad before)
    assert [(t.format, t.family, t.language) for t in map(resolve, ("squad", "korquad-ko", "jaquad-ja"))] == [
        ("squad", "qa", "en"), ("squad", "qa", "ko"), ("squad", "qa", "ja")]


# -- XNLI -----------------------------------------------------------------------------------------------------

@needs_shared
def test_xnli_real_dev_tsv():
    recs = _read(SHARED_DATA / "xnli/dev-en.tsv", "xnli-en")
    assert _kinds(recs) == {"LabelledRecord": 2490}
    assert Counter(r.label for r in recs) == {"entailment": 830, "neutral": 830, "contradiction": 830}


@needs_shared
def test_xnli_tsv_with_index_labels_reads_them_in_the_hf_datasets_order(tmp_path):
    """The XNLI dev set as the Hugging Face ``xnli`` dataset holds it (labels 0 entailment, 1 neutral,
    2 contradiction, its columns premise / hypothesis / label) written out as a TSV, with that header and without:
    every row was a label_not_in_vocabulary dead letter (and the header one more); now the same records as the
    dev set with class names."""
    named = _read(SHARED_DATA / "xnli/dev-en.tsv", "xnli-en")
    index = {"entailment": "0", "neutral": "1", "contradiction": "2"}
    rows = [f"{r.text}\t{r.text_b}\t{index[r.label]}" for r in named]
    for header in ([], ["premise\thypothesis\tlabel"]):
        recs = _read(_write(tmp_path / f"dev-{len(header)}.tsv", header + rows), "xnli-en")
        assert [(r.text, r.text_b, r.label) for r in recs] == [(r.text, r.text_b, r.label) for r in named]
    recs = _read(_write(tmp_path / "odd.tsv", ["A.\tB.\t3", "A.\tB.\t-1", "A.\tB.\t 2 "]), "xnli-en")
    assert [getattr(r, "label", None) or r.reason for r in recs] == ["3", "-1", "contradiction"]


def test_xnli_published_layouts(tmp_path):
    head = ("language\tgold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\t"
            "sentence1\tsentence2\tpromptID\tpairID\tgenre\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tsentence1_tokenized\t"
            "sentence2_tokenized\tmatch")
    row = "\t".join(["{lang}", "neutral", "", "", "", "", "Er ging.", "Er kam.", "1", "{pid}", "facetoface", "neutral",
                     "neutral", "neutral", "neutral", "neutral", "Er ging .", "Er kam .", "True"])
    f = _write(tmp_path / "xnli.dev.tsv", [head, row.format(lang="de", pid="7"), row.format(lang="en", pid="8")])
    recs = _read(f, "xnli-de")
    assert isinstance(recs[0], LabelledRecord) and recs[0].doc_id == "7" and recs[0].label == "neutral"
    assert isinstance(recs[1], Skipped) and recs[1].reason == "other_language"
    f = _write(tmp_path / "multinli.train.de.tsv", ["premise\thypo\tlabel", "A.\tB.\tcontradictory", "A.\tB."])
    recs = _read(f, "xnli-de")
    assert recs[0].label == "contradiction" and recs[1].reason == "wrong_column_count"
    f = _write(tmp_path / "xnli.jsonl", [json.dumps({"premise": "A.", "hypothesis": "B.", "label": 2}),
                                         json.dumps({"premise": "A.", "hypothesis": "", "label": 0}), "{not json"])
    assert [getattr(r, "label", None) or r.reason for r in _read(f, "xnli-de")] == ["contradiction", "empty_text",
                                                                                  "invalid_json"]


# -- UD CoNLL-U -----------------------------------------------------------------------------------------------

def test_conllu_multiword_tokens_render_surface_words_and_label_syntactic_ones():
    recs = _read(EXCERPT, "ud-en_ewt-pos")
    assert _kinds(recs) == {"LabelledRecord": 30}
    lines = EXCERPT.read_text().split("\n\n")
    for rec, block in zip(recs, lines):
        toks = [x.split("\t") for x in block.splitlines() if x and not x.startswith("#")]
        syntactic = [t for t in toks if t[0].isdigit()]
        assert list(rec.tags) == [t[3] for t in syntactic]
        covered = {i for t in toks if "-" in t[0] for i in range(int(t[0].split("-")[0]), int(t[0].split("-")[1]) + 1)}
        assert len(rec.words) == len(syntactic) - len(covered) + sum("-" in t[0] for t in toks)
    google = next(r for r in recs if "Google's" in r.words)
    g = google.words.index("Google's")
    assert google.word_index.count(g) == 2  # "Google" and "'s" both point at the rendered "Google's"
    assert list(google.word_index) == sorted(google.word_index)


@needs_shared
def test_conllu_real_dev_with_empty_nodes_and_parse_labels():
    path = SHARED_DATA / "ud/UD_English-EWT/en_ewt-ud-dev.conllu"
    recs = _read(path, "ud-en_ewt-parse")
    assert _kinds(recs) == {"LabelledRecord": path.read_text().count("# sent_id")}
    n_words = sum(1 for x in path.read_text().splitlines() if x.split("\t")[0].isdigit())
    assert sum(len(r.tags) for r in recs) == n_words  # empty nodes (8.1) neither rendered nor labelled
    assert all(len(r.heads) == len(r.tags) == len(r.word_index) and max(r.heads) <= len(r.tags) for r in recs)
    assert all(":" not in t for r in recs for t in r.tags)  # universal deprels, as PIXEL's run_ud.py


def test_a_gold_tree_that_is_not_a_tree_is_dead_lettered_for_parsing_and_kept_for_pos(tmp_path):
    """UD's basic tree has one root word and every word reaches it; the CoNLL 2018 scorer refuses other gold."""
    from pixelkit.pipeline.tasks.conllu import tree_problem
    assert tree_problem([2, 0, 2]) is None and tree_problem([0]) is None
    assert tree_problem([0, 1, 0]) == "2 root words ([1, 3]), UD has one"
    assert tree_problem([2, 3, 2, 0]) == "a cycle through word 2"
    assert tree_problem([2, 1]) == "0 root words, UD has one"
    assert tree_problem([0] + list(range(1, 200_000))) is None  # a chain: linear, not quadratic
    block = [x for x in EXCERPT.read_text().split("\n\n")[0].splitlines()]
    tok = [i for i, x in enumerate(block) if x[:1].isdigit() and "-" not in x.split("\t")[0]]
    root = next(i for i in tok if block[i].split("\t")[6] == "0")
    other = next(i for i in tok if i != root)
    cols = block[other].split("\t")
    b = list(block)
    b[other] = "\t".join(cols[:6] + ["0"] + cols[7:])  # a second root word
    f = _write(tmp_path / "two_roots.conllu", b + [""] + block + [""])
    recs = _read(f, "ud-en_ewt-parse")
    assert (recs[0].reason, recs[0].detail.split(" (")[0]) == ("bad_tree", "2 root words")
    assert isinstance(recs[1], LabelledRecord)
    assert all(isinstance(r, LabelledRecord) for r in _read(f, "ud-en_ewt-pos"))  # POS reads no HEAD


def test_conllu_broken_lines_are_dead_letters(tmp_path):
    block = [x for x in EXCERPT.read_text().split("\n\n")[0].splitlines()]
    tok = [i for i, x in enumerate(block) if x[:1].isdigit()]
    variants = {
        "bad_conllu_line": lambda b: b.__setitem__(tok[1], "\t".join(b[tok[1]].split("\t")[:9])),
        "bad_head": lambda b: b.__setitem__(tok[0], "\t".join(b[tok[0]].split("\t")[:6] + ["x"] + b[tok[0]].split("\t")[7:])),
        "missing_label": lambda b: b.__setitem__(tok[2], "\t".join(b[tok[2]].split("\t")[:7] + ["_"] + b[tok[2]].split("\t")[8:])),
    }
    for reason, change in variants.items():
        b = list(block)
        change(b)
        f = _write(tmp_path / f"{reason}.conllu", b + [""] + block + [""])
        recs = _read(f, "ud-en_ewt-parse")
        assert isinstance(recs[0], DeadLetter) and recs[0].reason == reason, (reason, recs[0])
        assert recs[0].position.startswith("line ") and isinstance(recs[1], LabelledRecord)
    b = list(block)
    b.insert(tok[3], b[tok[3]])  # a repeated id: out of order
    recs = _read(_write(tmp_path / "dup.conllu", b), "ud-en_ewt-pos")
    assert recs[0].reason == "bad_conllu_line" and recs[0].position == f"line {tok[3] + 2}"


# -- CoNLL NER ------------------------------------------------------------------------------------------------

def test_iob1_becomes_bio():
    assert to_bio(["I-ORG", "I-ORG", "O", "I-PER", "B-PER", "I-LOC"]) == ["B-ORG", "I-ORG", "O", "B-PER", "B-PER", "B-LOC"]
    bio = ["B-PER", "I-PER", "O", "B-LOC"]
    assert to_bio(bio) == bio


@needs_shared
def test_conll2003_real_testa():
    path = SHARED_DATA / "ner/conll2003/eng.testa"
    recs = _read(path, "conll2003-ner")
    text = path.read_text()
    assert _kinds(recs) == {"LabelledRecord": 3250}
    assert sum(len(r.words) for r in recs) == sum(1 for x in text.splitlines() if x.strip() and not x.startswith("-DOCSTART-"))
    assert "-DOCSTART-" not in {w for r in recs for w in r.words}
    for r in recs:  # BIO: every I-X continues an X
        assert all(not t.startswith("I-") or p[2:] == t[2:] for p, t in zip(("O",) + r.tags, r.tags))
    assert {t[2:] for r in recs for t in r.tags if t != "O"} == {"PER", "ORG", "LOC", "MISC"}


def test_a_headerless_file_s_bad_row_names_the_columns_its_format_expects(tmp_path):
    """CoLA's and XNLI's tsv files may have no header line: the dead letter names the columns the format expects."""
    f = _write(tmp_path / "cola.tsv", ["gj04\t1\t\tThe cat sat.", "gj04\t0"])
    recs = _read(f, "glue-cola")
    assert isinstance(recs[0], LabelledRecord) and recs[0].label == "1"
    assert (recs[1].reason, recs[1].detail) == (
        "wrong_column_count", "2 columns, expected 4: ['source', 'label', 'original_label', 'sentence']")
    f = _write(tmp_path / "xnli.tsv", ["A.\tB.\tneutral", "A.\tB."])
    recs = _read(f, "xnli-en")
    assert recs[1].detail == "2 columns, expected 3: ['premise', 'hypo', 'label']"


def test_masakhaner_layout_and_bad_lines(tmp_path):
    f = _write(tmp_path / "train.txt", ["Ali B-PER", "ya O", "je O", "Kano B-LOC", "", "Ba O", "", "Wani X-PER",
                                        "abu O", "", "daya", "biyu O", ""])
    recs = _read(f, "masakhaner-hau-ner")
    assert recs[0].tags == ("B-PER", "O", "O", "B-LOC") and recs[0].doc_id == "1" and recs[1].words == ("Ba",)
    assert (recs[2].reason, recs[2].position) == ("bad_tag", "line 8")
    assert (recs[3].reason, recs[3].position) == ("wrong_column_count", "line 11")
    assert resolve("masakhaner-hau-ner").language == "hau"


# -- SQuAD JSON -----------------------------------------------------------------------------------------------

def test_squad_excerpt_and_answer_offsets(tmp_path):
    recs = _read(XQUAD_EXCERPT, "xquad-en")
    assert _kinds(recs) == {"LabelledRecord": 47}
    assert all(r.text_b[s:s + len(t)] == t for r in recs for t, s in r.answers)
    data = json.loads(XQUAD_EXCERPT.read_text())
    qas = data["data"][0]["paragraphs"][0]["qas"]
    qas[0]["answers"][0]["answer_start"] += 1
    qas[1]["question"] = " "
    del qas[2]["answers"]  # a test-file question: kept, unlabelled
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data))
    recs = _read(f, "xquad-en")
    assert (recs[0].reason, recs[1].reason) == ("answer_not_at_offset", "empty_text")
    assert recs[0].position.startswith("data[0].paragraphs[0].qas[0] (id ") and recs[0].file == str(f)
    assert isinstance(recs[2], LabelledRecord) and recs[2].answers == ()


@needs_shared
def test_squad_real_xquad_and_tydiqa():
    assert _kinds(_read(SHARED_DATA / "xquad/xquad.en.json", "xquad-en")) == {"LabelledRecord": 1190}
    # The shared TyDiQA-GoldP copy holds every answer as {"text": "", "answer_start": 0} (its answers removed):
    # every question kept, unlabelled, as a test file's.
    recs = _read(SHARED_DATA / "tydiqa/tydiqa.goldp.en.dev.json", "tydiqa-en")
    assert _kinds(recs) == {"LabelledRecord": 440} and all(r.answers == () and r.text_b for r in recs)


def test_squad_blank_answers_unlabelled_only_when_the_whole_file_is_blank(tmp_path):
    para = {"context": "Jane Austen wrote it.", "qas": [
        {"id": "q1", "question": "Who wrote it?", "answers": [{"text": "", "answer_start": 0}]},
        {"id": "q2", "question": "What?", "answers": [{"text": "", "answer_start": 0}]}]}
    f = tmp_path / "blank.json"
    f.write_text(json.dumps({"data": [{"paragraphs": [para]}]}))
    assert [(type(r).__name__, r.answers) for r in _read(f, "tydiqa-en")] == [("LabelledRecord", ())] * 2
    para["qas"][1]["answers"] = [{"text": "Jane Austen", "answer_start": 0}]  # one real answer: blanks are bad rows
    f.write_text(json.dumps({"data": [{"paragraphs": [para]}]}))
    recs = _read(f, "tydiqa-en")
    assert recs[0].reason == "empty_answer" and recs[1].answers == (("Jane Austen", 0),)


# -- render_record --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    cfg = RenderConfig(max_patches=48)
    return cfg, TextRenderer(cfg)


def test_words_truncation_keeps_word_index_and_labels_aligned(small):
    cfg, r = small
    task = resolve("ud-en_ewt-parse")
    recs = _read(EXCERPT, "ud-en_ewt-parse")
    vocab = {t: i for i, t in enumerate(sorted({t for x in recs for t in x.tags}))}
    cut = 0
    for rec in recs:
        [s] = render_record(rec, r, cfg, "pxz", task, vocab)
        assert len(s.labels) == len(s.word_index) and max(s.word_index) < len(s.word_starts)
        assert s.truncated == (len(s.labels) < len(rec.tags))
        assert [h for h, _ in s.labels] == list(rec.heads[:len(s.labels)])
        assert s.word_starts == r.render_words(list(rec.words)).word_starts
        cut += s.truncated
    assert 0 < cut < len(recs)


def test_label_outside_the_vocabulary_is_a_dead_letter(small):
    cfg, r = small
    rec = _read(EXCERPT, "ud-en_ewt-pos")[0]
    out = render_record(rec, r, cfg, "pxz", resolve("ud-en_ewt-pos"), {"NOUN": 0})
    assert isinstance(out, DeadLetter) and out.reason == "label_not_in_vocabulary" and out.position == f"line {rec.line}"
    pair = LabelledRecord("glue-rte", "3", "dev.tsv", 4, text="A b .", text_b="C d .", label="maybe")
    task = resolve("glue-rte")
    assert render_record(pair, r, cfg, "pxz", task, {"entailment": 0, "not_entailment": 1}).reason == \
        "label_not_in_vocabulary"
    unlabelled = LabelledRecord("glue-rte", "3", "test.tsv", 4, text="A b .", text_b="C d .")
    [s] = render_record(unlabelled, r, cfg, "pxz", task, {"entailment": 0})
    assert s.label is None and s.text == "A b.\nC d." and len(s.sep_patches) == 2


def test_qa_windows_answer_patches_map_back_to_the_answer(small):
    cfg, r = small
    recs = _read(XQUAD_EXCERPT, "xquad-en")
    task = resolve("xquad-en")
    found = missing = 0
    for rec in recs[:20]:
        windows = render_record(rec, r, cfg, "pxz", task, {}, stride=16)
        assert [w.chunk_index for w in windows] == list(range(len(windows)))
        text, start = rec.answers[0]
        for w in windows:
            a, b = w.labels
            inside = w.context_span[0] <= start and start + len(text) <= w.context_span[1]
            assert (a >= 0) == inside
            if inside:
                om = w.offset_mapping
                assert om[a][0] <= start < om[a][1] and om[b][0] < start + len(text) <= om[b][1]
                assert text in rec.text_b[om[a][0]:om[b][1]]
                found += 1
            else:
                missing += 1
        assert any(w.labels[0] >= 0 for w in windows), rec.doc_id  # the overlap keeps every (short) answer whole somewhere
    assert found and missing
    assert answer_patches([[-1, -1], [0, 4], [4, 9], [9, 12], [-1, -1]], 5, 10) == [2, 3]


def test_glue_format_removes_spaces_before_punctuation():
    assert glue_format("it 's a charming and often affecting journey . ") == "it's a charming and often affecting journey. "
    assert glue_format('he said " yes , ( really ) " !') == 'he said"yes, (really)"!'
