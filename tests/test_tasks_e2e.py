"""`pixel-render task` end to end on the Beam DirectRunner: bundled UD EWT and XQuAD excerpts (+ GLUE RTE from
../shared when present), every split's manifest, the label vocabulary, the accounting, and a byte-identical rerun."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import SAMPLE_DIR, SHARED_DATA
from pixelkit.pipeline.cli_shards import verify
from pixelkit.pipeline.shards import read_shard
from pixelkit.pipeline.tasks import LabelledRecord, read_records, resolve
from pixelkit.pipeline.tasks.job import run_task
from pixelkit.pipeline.validate import SettingsError
from pixelkit.schemas import ShardManifest, TaskSpec

pytestmark = pytest.mark.slow
EXCERPT = SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu"


def _samples(out: Path, m: ShardManifest) -> list:
    return [s for info in m.shards for s in read_shard(out / info.name)]


def _accounting(m: ShardManifest) -> None:
    c = m.counts
    assert c["records_read"] == c["documents_written"] + sum(v for k, v in c.items() if k.startswith(("skipped_", "dead_")))


@pytest.fixture(scope="module")
def ud_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ud")
    blocks = EXCERPT.read_text().split("\n\n")
    (d / "train.conllu").write_text("\n\n".join(blocks[:10]) + "\n\n")
    broken = blocks[3].splitlines()
    tok = next(i for i, x in enumerate(broken) if x[:1].isdigit())
    broken[tok] = broken[tok].replace("\t", " ", 1)  # one broken CoNLL-U line
    (d / "test.conllu").write_text("\n\n".join(blocks[:3] + ["\n".join(broken)] + blocks[4:8]) + "\n\n")
    return d


def _ud_argv(files: Path, out: Path, tokenizer: Path, *extra: str) -> list[str]:
    return ["--task=ud-en_ewt-pos", f"--input=train={files / 'train.conllu'}", f"--input=validation={EXCERPT}",
            f"--input=test={files / 'test.conllu'}", f"--output={out}", "--max_patches=64", "--samples_per_shard=8",
            f"--tokenizer={tokenizer}", "--max_tokens=24", *extra]


@pytest.fixture(scope="module")
def ud_run(ud_files, tokenizer_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("ud-out")
    return run_task(_ud_argv(ud_files, out, tokenizer_file)), out


def test_task_spec_and_label_vocabulary_come_from_train(ud_run, ud_files):
    ms, out = ud_run
    train_tags = sorted({t for r in read_records(str(ud_files / "train.conllu"), resolve("ud-en_ewt-pos")) for t in r.tags})
    spec = TaskSpec.read(out)
    assert spec == TaskSpec("ud-en_ewt-pos", "tagging", "words", train_tags, "accuracy", "en")
    assert set(ms) == {"train", "validation", "test"}
    for split, m in ms.items():
        assert m.task_spec == spec and m.split == split and (out / split / "README.md").is_file()
        assert verify(out / split) == []


def test_other_splits_reuse_the_vocabulary_and_dead_letter_unknown_labels(ud_run, ud_files):
    ms, out = ud_run
    vocab = TaskSpec.read(out).label_names
    recs = list(read_records(str(EXCERPT), resolve("ud-en_ewt-pos")))
    unknown = [r for r in recs if not set(r.tags) <= set(vocab)]
    m = ms["validation"]
    assert unknown and m.counts["dead_label_not_in_vocabulary"] == len(unknown)
    assert m.counts["documents_written"] == len(recs) - len(unknown)
    letters = [json.loads(x) for x in (out / "validation" / "dead_letters.jsonl").read_text().splitlines()]
    assert sorted(d["position"] for d in letters) == sorted(f"line {r.line}" for r in unknown)
    assert all(d["file"] == EXCERPT.name for d in letters)  # named below the folder its --input starts in
    by_id = {r.doc_id: r for r in recs}
    for s in _samples(out / "validation", m):
        r = by_id[s.doc_id]
        assert len(s.labels) == len(s.word_index) and max(s.word_index) < len(s.word_starts)
        assert [vocab[i] for i in s.labels] == list(r.tags[:len(s.labels)])
        assert s.word_index == list(r.word_index[:len(s.labels)]) and s.token_ids
    test_letters = (out / "test" / "dead_letters.jsonl").read_text()
    assert '"reason": "bad_conllu_line"' in test_letters and ms["test"].counts["dead_bad_conllu_line"] == 1


def test_counts_add_up_and_truncation_is_counted(ud_run):
    ms, out = ud_run
    for split, m in ms.items():
        _accounting(m)
        samples = _samples(out / split, m)
        assert len(samples) == m.num_samples == m.counts["documents_written"]
        assert m.counts.get("samples_truncated", 0) == sum(s.truncated for s in samples)
        assert m.counts.get("samples_tokens_truncated", 0) == sum(s.tokens_truncated for s in samples)
        assert m.tokenizer["max_tokens"] == 24 and all(len(s.token_ids) <= 24 for s in samples)
        assert all(s.word_tokens and s.word_tokens[-1][1] <= 24 for s in samples)
    assert ms["validation"].counts["samples_truncated"] > 0  # 64 patches cut the long sentences
    assert ms["validation"].counts["samples_tokens_truncated"] > 0  # and 24 tokens some of the drawn words


def test_rerun_is_byte_identical(ud_run, ud_files, tokenizer_file, tmp_path):
    ms, out = ud_run
    ms2 = run_task(_ud_argv(ud_files, tmp_path, tokenizer_file))
    for split, m in ms.items():
        assert [s.sha256 for s in ms2[split].shards] == [s.sha256 for s in m.shards]
        assert ms2[split].counts == m.counts
        assert (tmp_path / split / "dead_letters.jsonl").read_bytes() == (out / split / "dead_letters.jsonl").read_bytes()
    assert (tmp_path / "task.json").read_bytes() == (out / "task.json").read_bytes()


def test_rerun_guard_resume_and_overwrite(ud_run, ud_files, tokenizer_file, tmp_path):
    ms, out = ud_run
    with pytest.raises(SettingsError, match="already holds a task run .* --overwrite"):
        run_task(_ud_argv(ud_files, out, tokenizer_file))
    with pytest.raises(SettingsError, match="--resume: .* other settings"):
        run_task(_ud_argv(ud_files, out, tokenizer_file, "--resume", "--limit=3"))
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    lost = copy / "train" / ms["train"].shards[0].name
    lost.unlink()  # a killed run: one shard and the task spec never written
    (copy / "task.json").unlink()
    again = run_task(_ud_argv(ud_files, copy, tokenizer_file, "--resume"))
    for split, m in ms.items():  # finished: the same bytes as the uninterrupted run
        assert [s.sha256 for s in again[split].shards] == [s.sha256 for s in m.shards]
    assert (copy / "task.json").read_bytes() == (out / "task.json").read_bytes()
    only_train = [a for a in _ud_argv(ud_files, copy, tokenizer_file, "--overwrite") if "=validation=" not in a
                  and "=test=" not in a]
    assert set(run_task(only_train)) == {"train"}
    assert not list((copy / "test").glob("*.tar")) and not (copy / "validation" / "manifest.json").exists()


def test_label_names_fix_the_vocabulary_of_a_split_without_train(ud_run, tmp_path):
    """Zero-shot transfer scores a language with the training language's label vocabulary: --label_names takes
    another render's task.json (or a list), so a test-only render needs no train split and gets the same ids."""
    _, out = ud_run
    ms = run_task(["--task=ud-en_ewt-pos", f"--input=test={EXCERPT}", f"--output={tmp_path / 'a'}",
                   "--max_patches=64", f"--label_names={out / 'task.json'}"])
    assert TaskSpec.read(tmp_path / "a").label_names == TaskSpec.read(out).label_names
    recs = list(read_records(str(EXCERPT), resolve("ud-en_ewt-pos")))
    assert ms["test"].counts["dead_label_not_in_vocabulary"] == len([r for r in recs if not set(r.tags) <= set(
        TaskSpec.read(out).label_names)]) > 0
    _accounting(ms["test"])
    ms = run_task(["--task=ud-en_ewt-pos", f"--input=test={EXCERPT}", f"--output={tmp_path / 'b'}",
                   "--max_patches=64", "--label_names=PUNCT,NOUN"])
    assert TaskSpec.read(tmp_path / "b").label_names == ["PUNCT", "NOUN"]  # in the order given
    assert ms["test"].counts["dead_label_not_in_vocabulary"] == len(recs)  # every sentence has other tags
    for bad, msg in (("NOUN,NOUN", "give distinct, non-empty names"),
                     ("", "--label_names '': give distinct, non-empty names"),  # was ignored: the train vocabulary
                     (str(EXCERPT) + ".json", "not a readable task.json"),
                     # a render's directory or a data file was read as a one-name list: every record dead-lettered
                     (str(out), f"a directory, not a task.json \\(give its task.json: --label_names={out}/task.json"),
                     (str(EXCERPT), "a file, not a task.json; give another render's task.json")):
        with pytest.raises(SettingsError, match=msg):
            run_task(["--task=ud-en_ewt-pos", f"--input=test={EXCERPT}", f"--output={tmp_path / 'c'}",
                      f"--label_names={bad}"])
    with pytest.raises(SettingsError, match="a regression task has no label vocabulary"):
        run_task(["--task=glue-stsb", f"--input=test={EXCERPT}", f"--output={tmp_path / 'c'}", "--label_names=a"])


def test_qa_windows_map_answers_back_through_the_offset_mapping(tokenizer_file, tmp_path):
    src = SAMPLE_DIR / "xquad-en-excerpt.json"
    ms = run_task(["--task=xquad-en", f"--input=validation={src}", f"--output={tmp_path}", "--max_patches=96",
                   "--stride=32", f"--tokenizer={tokenizer_file}"])
    m = ms["validation"]
    _accounting(m)
    contexts = {q["id"]: p["context"] for p in json.loads(src.read_text())["data"][0]["paragraphs"] for q in p["qas"]}
    samples = _samples(tmp_path / "validation", m)
    assert m.counts["documents_written"] == len(contexts) and len(samples) > len(contexts)  # long contexts: windows
    assert m.counts["windows_without_answer"] == sum(s.labels == [-1, -1] for s in samples) > 0
    answered = set()
    for s in samples:
        ctx = contexts[s.doc_id]
        assert s.text.endswith(ctx[s.context_span[0]:s.context_span[1]]) and s.token_ids
        a, b = s.labels
        if a >= 0:
            text = s.answers["text"][0]
            assert text in ctx[s.offset_mapping[a][0]:s.offset_mapping[b][1]]
            answered.add(s.doc_id)
    assert answered == set(contexts)  # stride 32 keeps every answer of the excerpt whole in some window
    assert m.task_spec.family == "qa" and m.task_spec.label_names == []


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} (GLUE, research use) not present")
def test_glue_pair_classification(tokenizer_file, tmp_path):
    d = SHARED_DATA / "glue" / "RTE"
    ms = run_task(["--task=glue-rte", f"--input=train={d / 'train.tsv'}", f"--input=validation={d / 'dev.tsv'}",
                   f"--output={tmp_path}", "--limit=12", "--max_patches=196", f"--tokenizer={tokenizer_file}"])
    for split, m in ms.items():
        _accounting(m)
        assert m.task_spec.label_names == ["entailment", "not_entailment"]
        recs = {r.doc_id: r for r in read_records(str(d / f"{'dev' if split == 'validation' else split}.tsv"),
                                                  resolve("glue-rte"), limit=12) if isinstance(r, LabelledRecord)}
        samples = _samples(tmp_path / split, m)
        assert len(samples) == 12
        for s in samples:
            assert s.label == m.task_spec.label_names.index(recs[s.doc_id].label)
            assert len(s.sep_patches) == 2 and s.token_ids


MNLI_HEAD = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
             "sentence2_parse\tsentence1\tsentence2")


def test_mnli_matched_and_mismatched_splits_and_unlabelled_test_rows(tmp_path):
    """MNLI's five files as GLUE lays them out (text made up: MNLI is not in ../shared) through `pixel-render task`:
    one shard set per split, the vocabulary the documented class order, test rows kept and unlabelled."""
    row = "{i}\t1\t1n\tfiction\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tThe cat sat on the mat.\tA cat sat{tail}"
    dev_head = MNLI_HEAD + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label"
    gold = ["neutral", "entailment", "contradiction"]
    files = {"train": [MNLI_HEAD + "\tlabel1\tgold_label"] + [row.format(i=i, tail=f".\t{g}\t{g}") for i, g in enumerate(gold)],
             "validation_matched": [dev_head] + [row.format(i=i, tail="." + f"\t{g}" * 6) for i, g in enumerate(gold)],
             "validation_mismatched": [dev_head] + [row.format(i=i, tail="!" + f"\t{g}" * 6) for i, g in enumerate(gold[:2])],
             "test_matched": [MNLI_HEAD] + [row.format(i=i, tail="?") for i in range(2)],
             "test_mismatched": [MNLI_HEAD] + [row.format(i=0, tail="?")]}
    argv = ["--task=glue-mnli", f"--output={tmp_path / 'out'}", "--max_patches=196"]
    for split, lines in files.items():
        (tmp_path / f"{split}.tsv").write_text("".join(x + "\n" for x in lines))
        argv.append(f"--input={split}={tmp_path / f'{split}.tsv'}")
    ms = run_task(argv)
    assert set(ms) == set(files)
    names = ["entailment", "neutral", "contradiction"]
    for split, m in ms.items():
        _accounting(m)
        assert m.task_spec.label_names == names and m.counts["documents_written"] == len(files[split]) - 1
        labels = [s.label for s in _samples(tmp_path / "out" / split, m)]
        if split.startswith("test"):
            assert labels == [None] * len(labels) and m.counts["samples_unlabelled"] == len(labels)
        else:
            assert sorted(labels) == sorted(names.index(g) for g in gold[:len(labels)])
    # finetune takes validation_matched as its dev split; evaluate scores the mismatched one, and a test split
    # (unlabelled) gets predictions and no score
    from test_trainer_engine import _main  # pixel-train's main in this process (no subprocess start-ups)
    run, data = tmp_path / "run", str(tmp_path / "out")
    _main("finetune", "--model", "pixel", "--flavor", "debug", "--data", data, "--out", str(run), "--steps", "2",
         "--eval-every", "2", "--set", "micro_batch_size=2", "--set", "global_batch_size=2")
    assert json.loads((run / "best" / "metrics.json").read_text())["split"].endswith("validation_matched/manifest.json")
    for split, n in (("validation_mismatched", 2), ("test_matched", 0)):
        _main("evaluate", "--model", str(run / "best"), "--data", data, "--split", split, "--out", str(tmp_path / "ev"))
        assert json.loads((tmp_path / "ev" / f"metrics-{split}.json").read_text())["n"] == n
        assert len((tmp_path / "ev" / f"predictions-{split}.tsv").read_text().splitlines()) == 1 + len(files[split]) - 1


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} (GLUE, research use) not present")
def test_stsb_float_targets(tmp_path):
    d = SHARED_DATA / "glue" / "STS-B"
    ms = run_task(["--task=glue-stsb", f"--input=train={d / 'train.tsv'}", f"--input=validation={d / 'dev.tsv'}",
                   f"--output={tmp_path}", "--limit=8", "--max_patches=196"])
    for split, m in ms.items():
        _accounting(m)
        assert m.task_spec.family == "regression" and m.task_spec.metric == "pearson_spearman"
        rows = [x.split("\t") for x in (d / f"{'dev' if split == 'validation' else split}.tsv").read_text().splitlines()[1:9]]
        by_id = {r[0]: float(r[-1]) for r in rows}
        samples = _samples(tmp_path / split, m)
        assert {s.doc_id: s.label for s in samples} == by_id and any(v % 1 for v in by_id.values())


def test_unlabelled_splits_are_counted_and_finetune_refuses_to_train_or_select_on_them(tmp_path, capsys):
    """A split whose every sample is unlabelled (a test file, a GLUE label column under another name, a QA file
    with its answers removed) used to finetune at loss 0.0000 and pick a "best" checkpoint at n = 0 (QA), or train
    and fail only at the first evaluation with "task.metric 'accuracy' is not among this task's metrics ['n']"
    (classification). The pipeline counts such samples (samples_unlabelled) and finetune refuses them up front."""
    from pixelkit.trainer.cli import main as train_main

    src = SAMPLE_DIR / "xquad-en-excerpt.json"
    data = json.loads(src.read_text(encoding="utf-8"))
    for art in data["data"]:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                qa["answers"] = [{"text": "", "answer_start": 0}]  # as the shared TyDiQA dev copy: answers removed
    (tmp_path / "blank.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    ms = run_task(["--task=xquad-en", f"--input=train={src}", f"--input=test={tmp_path / 'blank.json'}",
                   f"--output={tmp_path / 'q'}", "--max_patches=144", "--stride=40"])
    for m in ms.values():
        _accounting(m)
    assert ms["test"].counts["samples_unlabelled"] == ms["test"].num_samples > 0
    assert "samples_unlabelled" not in ms["train"].counts
    swapped = tmp_path / "swapped"  # the same shard sets, the unlabelled one as train
    shutil.copytree(tmp_path / "q" / "test", swapped / "train")
    shutil.copytree(tmp_path / "q" / "train", swapped / "validation")
    shutil.copy(tmp_path / "q" / "task.json", swapped / "task.json")
    argv = ["finetune", "--model", "pixel", "--flavor", "debug", "--steps", "2", "--out", str(tmp_path / "run")]
    for data, extra, refused in ((tmp_path / "q", ["--eval-split", "test"], tmp_path / "q" / "test"),
                                 (swapped, [], swapped / "train")):
        rc = train_main([*argv, "--data", str(data), *extra])
        err = capsys.readouterr().err
        assert rc == 2 and f"{refused} holds no labelled sample" in err and "Traceback" not in err, err
        assert not (tmp_path / "run").exists()


def test_qa_windows_whose_answer_the_token_cut_removed_are_counted_and_token_finetuning_refuses_none_left(
        tokenizer_file, tmp_path, capsys):
    """With --max_tokens cutting every answer off (a long question, a tokenizer that needs many tokens per word),
    TextGPT finetuned QA at loss 0.0000 on every step: no window had its answer on the token side, and the manifest
    did not say so. Such windows are now counted (windows_without_token_answer: the answer in the patches, not in
    the tokens), and token-input finetuning refuses a train split where no window keeps its answer; patches still
    train on it."""
    from pixelkit.trainer.cli import main as train_main

    src = SAMPLE_DIR / "xquad-en-excerpt.json"
    ms = run_task(["--task=xquad-en", f"--input=train={src}", f"--output={tmp_path / 'q'}", "--max_patches=144",
                   "--stride=40", f"--tokenizer={tokenizer_file}", "--max_tokens=8"])
    m = ms["train"]
    _accounting(m)
    samples = _samples(tmp_path / "q" / "train", m)
    assert m.counts["windows_without_token_answer"] == sum(s.labels != [-1, -1] for s in samples) > 0
    assert all(s.token_answer == [-1, -1] for s in samples)
    argv = ["finetune", "--flavor", "debug", "--data", str(tmp_path / "q"), "--steps", "1", "--eval-every", "0"]
    rc = train_main([*argv, "--model", "textgpt", "--out", str(tmp_path / "text")])
    err = capsys.readouterr().err
    assert rc == 2 and "no window keeps its answer in its first 8 tokens" in err and "Traceback" not in err, err
    assert not (tmp_path / "text").exists()
    assert train_main([*argv, "--model", "pixel", "--out", str(tmp_path / "pixel")]) == 0


def test_a_qa_train_split_where_no_window_holds_its_answer_is_refused(tmp_path, capsys):
    """With windows too short for any answer (--max_patches 6), every window counts as windows_without_answer and
    finetuning trained on 'no answer' alone; the train split is refused now."""
    from pixelkit.trainer.cli import main as train_main

    data = json.loads((SAMPLE_DIR / "xquad-en-excerpt.json").read_text(encoding="utf-8"))
    for article in data["data"]:  # answers of 20+ characters: wider than a whole 6-patch window (96 px)
        for para in article["paragraphs"]:
            para["qas"] = [q for q in para["qas"] if all(len(a["text"]) >= 20 for a in q["answers"])]
    src = tmp_path / "long-answers.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    ms = run_task(["--task=xquad-en", f"--input=train={src}", f"--output={tmp_path / 'q'}", "--max_patches=6"])
    m = ms["train"]
    _accounting(m)
    assert m.counts["windows_without_answer"] == m.num_samples > 0
    rc = train_main(["finetune", "--model", "pixel", "--flavor", "debug", "--data", str(tmp_path / "q"), "--steps", "1",
                     "--eval-every", "0", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "QA windows holds its answer (windows_without_answer)" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_a_qa_question_too_long_for_the_stride_is_a_counted_skip(tmp_path):
    """--max_patches 40 --stride 30 wrote 17,838 windows from 47 XQuAD records, each one patch on from the last (the
    questions, up to half the strip, left fewer than 30 context patches); now such a record is a counted
    skipped_question_too_long_for_stride, and one whose question leaves room renders its windows."""
    data = json.loads((SAMPLE_DIR / "xquad-en-excerpt.json").read_text(encoding="utf-8"))
    paras = data["data"][0]["paragraphs"][:2]
    for q in paras[0]["qas"]:
        q["question"] = "Who?"  # one patch: ~35 context patches a window
    data["data"] = [{"title": data["data"][0]["title"], "paragraphs": paras}]
    src = tmp_path / "xquad.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    ms = run_task(["--task=xquad-en", f"--input=validation={src}", f"--output={tmp_path / 'q'}", "--preset=pixar",
                   "--max_patches=40", "--stride=30"])
    m = ms["validation"]
    _accounting(m)
    assert m.counts["skipped_question_too_long_for_stride"] == len(paras[1]["qas"]) > 0
    assert m.counts["documents_written"] == len(paras[0]["qas"]) > 0
    samples = _samples(tmp_path / "q" / "validation", m)
    assert {s.doc_id for s in samples} == {q["id"] for q in paras[0]["qas"]}
    starts = sorted(s.context_span[0] for s in samples if s.doc_id == paras[0]["qas"][0]["id"])
    assert len(samples) == len(starts) * len(paras[0]["qas"]) and len(set(starts)) == len(starts)
    assert starts[-1] / (len(starts) - 1) > 5  # windows 5 context patches (~7 characters) apart, as asked
