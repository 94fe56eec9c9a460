"""`pixel-render task` settings refused before any work: one line per problem naming the flag and the fix, nothing
written."""

from __future__ import annotations

import pytest

from conftest import SAMPLE_DIR
from pixelkit.pipeline.tasks.job import run_task
from pixelkit.pipeline.validate import SettingsError

EXCERPT = SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu"


def test_bad_settings_fail_before_work_all_at_once(tmp_path):
    out = tmp_path / "never"
    with pytest.raises(SettingsError) as e:
        run_task(["--task=ud-en_ewt-pos", f"--input=validation={EXCERPT}", "--input=train=nothing/*.conllu",
                  f"--output={out}", "--stride=-1", "--resume", "--overwrite", "--max_patchs=64", "--dedup",
                  "--max_unknown_ratio=0.2", "--split=dev", "--max_tokens=16"])
    msg = str(e.value)
    for part in ("--max_patchs: unknown option; did you mean --max_patches?", "no file matches 'nothing/*.conllu'",
                 "--resume and --overwrite contradict", "--stride -1 must be >= 0",
                 # run-only flags the task job would silently ignore
                 "--dedup is a pixel-render run setting that pixel-render task does not use",
                 "--max_unknown_ratio is a pixel-render run setting", "--split is a pixel-render run setting",
                 "--max_tokens 16 cuts token ids, but there are none without --tokenizer"):
        assert part in msg
    assert not out.exists()


def test_a_value_outside_a_flags_choices_is_one_line_naming_them(tmp_path, capsys):
    """--encoding nope was Beam's whole usage block and a SystemExit; now one settings line, nothing written."""
    from pixelkit.pipeline.cli import main

    out = tmp_path / "never"
    assert main(["task", "--task=ud-en_ewt-pos", f"--input=validation={EXCERPT}", f"--output={out}",
                 "--encoding=nope"]) == 2
    err = capsys.readouterr().err
    assert err == "pixel-render task: error: --encoding: invalid choice: 'nope' (choose from 'png', 'pxz')\n", err
    assert not out.exists()


def test_an_object_store_output_is_refused_before_work(tmp_path, monkeypatch):
    """The task job writes local directories: an s3:// --output rendered the task, left a local "s3:" folder and
    part of the files in S3, then raised FileNotFoundError."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=r"^--output s3://b/tasks: pixel-render task writes local directories only"):
        run_task(["--task=ud-en_ewt-pos", f"--input=train={EXCERPT}", "--output=s3://b/tasks"])
    assert list(tmp_path.iterdir()) == []


def test_a_directory_as_input_is_refused_before_work(tmp_path):
    """A task reader reads files: `--input train=DIR` passed the settings check and ended as one
    `unreadable_file` dead letter (IsADirectoryError) in a run that wrote nothing."""
    with pytest.raises(SettingsError, match=rf"--input train={SAMPLE_DIR}: {SAMPLE_DIR} is a directory; give its "
                                            rf"files, e.g. --input train={SAMPLE_DIR}/\*.tsv"):
        run_task(["--task=ud-en_ewt-pos", f"--input=train={SAMPLE_DIR}", f"--output={tmp_path / 'o'}"])
    assert not (tmp_path / "o").exists()


def test_a_file_read_twice_in_a_split_is_refused_before_work(tmp_path):
    """`pixel-render task` read a file given twice in one split once, silently (`run` refuses it); a symlink to it
    is the same file. The same file in two splits stays allowed (a memorisation probe trains and scores one set)."""
    f = SAMPLE_DIR / "xquad-en-excerpt.json"
    (tmp_path / "link.json").symlink_to(f)
    with pytest.raises(SettingsError, match=rf"--input train={tmp_path / 'link.json'}: .* would be read twice "
                                            rf"\(--input train={f} reads it too\); give each file once"):
        run_task(["--task=xquad-en", f"--input=train={f}", f"--input=train={tmp_path / 'link.json'}",
                  f"--output={tmp_path / 'o'}"])
    assert not (tmp_path / "o").exists()
    run_task(["--task=xquad-en", f"--input=train={f}", f"--input=validation={f}", f"--output={tmp_path / 'o'}"])
    assert (tmp_path / "o" / "train").is_dir() and (tmp_path / "o" / "validation").is_dir()


def test_a_glue_file_of_another_task_is_refused_before_work(tmp_path):
    """An RTE file given to glue-mrpc was one `bad_header` dead letter standing for all its rows, in a run that wrote
    an empty split; it is a settings error now, naming the file and the missing columns."""
    rte, mrpc = tmp_path / "rte-train.tsv", tmp_path / "dev.tsv"  # GLUE's own headers
    rte.write_text("index\tsentence1\tsentence2\tlabel\n0\tIt rains .\tIt is wet .\tentailment\n")
    mrpc.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA cat sat .\tA cat was sitting .\n")
    with pytest.raises(SettingsError, match=rf"--input train={rte}: {rte}: no column \['#1 String', '#2 String'\] "
                                            rf"in header \['index', 'sentence1', 'sentence2', 'label'\] -- not a "
                                            rf"glue-mrpc file; check --task and --input"):
        run_task(["--task=glue-mrpc", f"--input=train={rte}", f"--input=validation={mrpc}",
                  f"--output={tmp_path / 'o'}"])
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["xquad-en_ZZ", "mlqa-en.de", "xnli-pt BR"])
def test_a_task_name_the_task_spec_refuses_is_a_settings_error(tmp_path, name):
    """Such names took a reader by their prefix, so the job read and rendered everything and then died in Beam's
    'Spec' step with a SchemaError traceback (the shards' task spec takes [a-z0-9_-]+ only)."""
    with pytest.raises(SettingsError, match=rf"--task {name}: name must be \[a-z0-9_-\]\+ \(lower-case letters"):
        run_task([f"--task={name}", f"--input=train={SAMPLE_DIR / 'xquad-en-excerpt.json'}",
                  f"--output={tmp_path / 'o'}"])
    assert not (tmp_path / "o").exists()


def test_a_stride_that_would_be_ignored_is_refused(tmp_path):
    """--stride only shapes QA windows, and only when it is smaller than a window's context: otherwise the
    renderer silently does not overlap windows. Both are settings errors, before any work."""
    qa = ["--task=xquad-en", f"--input=validation={SAMPLE_DIR / 'xquad-en-excerpt.json'}", f"--output={tmp_path / 'q'}"]
    with pytest.raises(SettingsError, match=r"--stride 61: a window of --max_patches 64 holds at most 61 context"):
        run_task([*qa, "--max_patches=64", "--stride=61"])
    with pytest.raises(SettingsError, match=r"--stride is the QA window overlap; --task ud-en_ewt-pos .* drop it"):
        run_task(["--task=ud-en_ewt-pos", f"--input=train={EXCERPT}", f"--output={tmp_path / 'u'}", "--stride=8"])
    assert not (tmp_path / "q").exists() and not (tmp_path / "u").exists()


def test_a_file_where_a_split_folder_goes_is_refused_before_work(tmp_path):
    """OUT/<split>/ holds a split's shards: a file named so in --output was a FileExistsError traceback after the
    task's run record was written."""
    (tmp_path / "validation").write_text("a file, not a folder")
    with pytest.raises(SettingsError, match=f"--output {tmp_path}: {tmp_path / 'validation'} is a file, and the "
                                            "split 'validation' is written into"):
        run_task(["--task=ud-en_ewt-pos", f"--input=validation={EXCERPT}", f"--output={tmp_path}",
                  "--vocab_split=validation"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["validation"]


def test_a_strip_too_short_for_any_window_is_refused(tmp_path):
    """--max_patches 3 leaves a QA window (question, SEP, context, EOS) or a pair no room at all: the job ran and
    skipped every record as too_wide."""
    with pytest.raises(SettingsError, match=r"--max_patches 3: --task xquad-en draws a question and a context window "
                                            "with a SEP and an EOS patch, at least 4 patches"):
        run_task(["--task=xquad-en", f"--input=validation={SAMPLE_DIR / 'xquad-en-excerpt.json'}",
                  f"--output={tmp_path / 'out'}", "--max_patches=3"])
    assert not (tmp_path / "out").exists()
