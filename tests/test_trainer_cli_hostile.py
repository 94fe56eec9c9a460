"""Hostile task data given to ``pixel-train finetune --data``: a damaged task.json (not JSON, not an object, wrong
types, no family, not UTF-8) or one that disagrees with the train split's manifest is refused before any work with
one line naming the file(s) and the fix (exit code 2, nothing written); they were a Python traceback, an error
blaming a --task never given, or a silent run. So is a split directory without its manifest (named, not the task
directory above it), a manifest of a newer schema major version (with the fix), and --set task.name= (null),
which pretrained on the task shards. Real task shards (UD English-EWT excerpt) and the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pixelkit.trainer.cli import main as train_main
from taskdata import EWT_EXCERPT, make_task


@pytest.fixture(scope="module")
def pos_task(tmp_path_factory) -> Path:
    """UD English-EWT excerpt (bundled, CC BY-SA 4.0) as a POS task: 30 sentences, 64-patch strips."""
    return make_task(tmp_path_factory.mktemp("pos"), "ud-en_ewt-pos",
                     {"train": EWT_EXCERPT, "validation": EWT_EXCERPT}, max_patches=64)


def _spec(pos_task: Path, **change) -> bytes:
    spec = json.loads((pos_task / "task.json").read_text(encoding="utf-8"))
    for key, value in change.items():
        if value is None:
            del spec[key]
        else:
            spec[key] = value
    return json.dumps(spec).encode()


TASK_JSON_CASES = [  # (case, task.json bytes (from the good one), what the message must say)
    ("not JSON", lambda t: b"{oops", "not valid JSON"),
    ("a list", lambda t: b"[1, 2]", "task spec must be an object, got list"),
    ("no family", lambda t: _spec(t, family=None), "missing 1 required positional argument: 'family'"),
    ("family a number", lambda t: _spec(t, family=5), "family must be one of"),
    ("family a list", lambda t: _spec(t, family=["tagging"]), "family must be one of"),
    ("not UTF-8", lambda t: b"\xff\xfe{}", "'utf-8' codec can't decode byte 0xff"),
]


def _finetune(data: Path, out: Path) -> int:
    return train_main(["finetune", "--model", "pixel", "--flavor", "debug", "--data", str(data), "--out", str(out),
                       "--steps", "1"])


@pytest.mark.parametrize("case,text,expected", TASK_JSON_CASES, ids=[c[0] for c in TASK_JSON_CASES])
def test_a_damaged_task_json_is_refused_naming_it(tmp_path, pos_task, capsys, case, text, expected):
    data = tmp_path / "task"
    shutil.copytree(pos_task, data)
    (data / "task.json").write_bytes(text(pos_task))
    assert _finetune(data, tmp_path / "run") == 2
    err = capsys.readouterr().err
    assert f"--data {data}: {data / 'task.json'} is not a usable task spec (" in err and expected in err, err
    assert "render the task again with pixel-render task" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_damaged_train_manifest_without_task_json_is_refused_naming_it(tmp_path, pos_task, capsys):
    """Without task.json the family comes from the train split's manifest; a list there was an AttributeError."""
    data = tmp_path / "task"
    shutil.copytree(pos_task, data)
    (data / "task.json").unlink()
    (data / "train" / "manifest.json").write_text("[]")
    assert _finetune(data, tmp_path / "run") == 2
    err = capsys.readouterr().err
    assert f"{data / 'train' / 'manifest.json'} holds no usable task spec" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("case,change,expected", [
    ("another family", {"family": "classification", "input": "text"}, "family 'classification' vs 'tagging'"),
    ("fewer labels", {"label_names": ["ADJ", "ADP", "ADV"]}, "label_names ['ADJ', 'ADP', 'ADV'] vs ['ADJ', 'ADP'"),
], ids=["another family", "fewer labels"])
def test_a_task_json_that_disagrees_with_the_train_manifest_is_refused(tmp_path, pos_task, capsys, case, change,
                                                                       expected):
    """The shards' manifest is what is trained on; task.json picked the run file and the default --task. Another
    family was refused as "--task 'classification' does not match" (no --task was given); other labels trained."""
    data = tmp_path / "task"
    shutil.copytree(pos_task, data)
    (data / "task.json").write_bytes(_spec(pos_task, **change))
    assert _finetune(data, tmp_path / "run") == 2
    err = capsys.readouterr().err
    assert f"{data / 'task.json'} disagrees with {data / 'train' / 'manifest.json'}'s task (" in err, err
    assert expected in err and "render the task again into an empty directory" in err and "--task" not in err, err
    assert not (tmp_path / "run").exists()


def test_a_split_without_its_manifest_is_named_not_the_task_directory(tmp_path, pos_task, capsys):
    """An empty or missing train/ (an interrupted render) was reported as "no shards (*.tar) and no manifest.json in
    OUT" -- the task directory, read as a shard set -- and an empty validation/ as "no validation/ split"."""
    from test_finetune_cli import _task_model
    data = tmp_path / "task"
    shutil.copytree(pos_task, data)
    model = tmp_path / "model"
    _task_model(pos_task, "pixel").save_pretrained(model, safe_serialization=True)
    shutil.rmtree(data / "validation")
    (data / "validation").mkdir()
    cases = (("finetune", "validation", "holds no manifest.json"),
             ("evaluate", "validation", "holds no manifest.json"),
             ("finetune", "train", "holds no manifest.json"),
             ("finetune", "train", "does not exist"))
    for command, split, what in cases:
        if what == "does not exist":
            shutil.rmtree(data / "train")
        elif split == "train":
            for f in (data / "train").iterdir():
                f.unlink()
        if command == "finetune":
            rc = _finetune(data, tmp_path / "run")
        else:
            rc = train_main(["evaluate", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert rc == 2 and f"{data}: its {split}/ split {what}" in err and "Traceback" not in err, (command, err)
        assert "render the task again into an empty directory" in err and not (tmp_path / "run").exists(), err


def test_a_manifest_of_a_newer_schema_names_the_fix(tmp_path, pos_task, capsys):
    """A split whose manifest a future pixelkit wrote (schema 2.0) said only "is not compatible with 1.2"."""
    from test_finetune_cli import _task_model
    data = tmp_path / "task"
    shutil.copytree(pos_task, data)
    model = tmp_path / "model"
    _task_model(pos_task, "pixel").save_pretrained(model, safe_serialization=True)
    for split in ("validation", "train"):
        m = data / split / "manifest.json"
        m.write_text(json.dumps({**json.loads(m.read_text(encoding="utf-8")), "schema_version": "2.0"}))
    for argv in (["evaluate", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "run")],
                 ["finetune", "--model", "pixel", "--flavor", "debug", "--data", str(data), "--out",
                  str(tmp_path / "run"), "--steps", "1"]):
        assert train_main(argv) == 2
        err = capsys.readouterr().err
        assert "manifest.json: manifest schema '2.0' is not compatible with 1.2 (this pixelkit reads 1.x): render " \
               "the shards again with this pixelkit, or read them with the one that wrote them" in err, err
        assert "Traceback" not in err and not (tmp_path / "run").exists(), err


def test_a_null_task_name_is_refused_not_run_as_pretraining(tmp_path, pos_task, capsys):
    """`--set task.name=` (YAML null) left task.name unset after the CLI had set it, so `finetune` ran a PIXEL
    pretraining run on the task's shards and wrote a pretrained model, exit code 0."""
    rc = train_main(["finetune", "--model", "pixel", "--flavor", "debug", "--data", str(pos_task), "--out",
                     str(tmp_path / "run"), "--steps", "1", "--set", "task.name="])
    err = capsys.readouterr().err
    assert rc == 2 and "task.name is null (--set task.name= ?): finetune needs the task" in err, err
    assert "Traceback" not in err and not (tmp_path / "run").exists(), err


def test_a_task_name_that_does_not_match_names_the_setting_it_came_from(tmp_path, pos_task, capsys):
    """`--set task.name=''` (or `ner` on POS shards) was reported as "--task '' does not match ...", a flag not given;
    the error names the setting the value came from, and still comes before any work."""
    for flags, setting in ((["--set", "task.name=''"], "--set task.name ''"),
                           (["--set", "task.name=ner"], "--set task.name 'ner'"), (["--task", "ner"], "--task 'ner'")):
        rc = train_main(["finetune", "--model", "pixel", "--flavor", "debug", "--data", str(pos_task), "--out",
                         str(tmp_path / "run"), "--steps", "1", *flags])
        err = capsys.readouterr().err
        assert rc == 2 and f"error: {setting} does not match the shards' task 'ud-en_ewt-pos'" in err, err
        assert ("--task" in err) == (flags[0] == "--task"), err
        assert "Traceback" not in err and not (tmp_path / "run").exists(), err


def test_data_given_as_the_task_json_names_its_directory(tmp_path, pos_task, capsys):
    """`--data OUT/task.json` was read as a shard manifest: "unusable shard manifest: ... unknown field `family`"."""
    from test_finetune_cli import _task_model
    model = tmp_path / "model"
    _task_model(pos_task, "pixel").save_pretrained(model, safe_serialization=True)
    spec = pos_task / "task.json"
    for argv in (["finetune", "--model", "pixel", "--flavor", "debug", "--steps", "1"],
                 ["evaluate", "--model", str(model)]):
        assert train_main([*argv, "--data", str(spec), "--out", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert f"--data {spec} is a task spec, not a task output or shard set; give its directory: --data {pos_task}" \
            in err and "Traceback" not in err, err
        assert not (tmp_path / "run").exists()


def test_data_that_does_not_exist_is_called_so(tmp_path, pos_task, capsys):
    """A missing --data was "no task.json" (finetune) and "no validation/ split" (evaluate); an empty one named
    nothing at all ("--data : no task.json")."""
    from test_finetune_cli import _task_model
    model = tmp_path / "model"
    _task_model(pos_task, "pixel").save_pretrained(model, safe_serialization=True)
    for data, what in ((str(tmp_path / "nope"), "does not exist"), ("", "is empty")):
        for argv in (["finetune", "--model", "pixel", "--flavor", "debug", "--steps", "1"],
                     ["evaluate", "--model", str(model)]):
            assert train_main([*argv, "--data", data, "--out", str(tmp_path / "run")]) == 2
            err = capsys.readouterr().err
            assert f"--data {data!r}" in err and f"{what}; give" in err and "Traceback" not in err, err
            assert not (tmp_path / "run").exists()


def test_an_empty_split_name_is_refused(tmp_path, pos_task, capsys):
    """evaluate --split '' read OUT/ itself as the split ("its / split holds no manifest.json"), '/' the root
    directory."""
    from test_finetune_cli import _task_model
    model = tmp_path / "model"
    _task_model(pos_task, "pixel").save_pretrained(model, safe_serialization=True)
    for split in ("", "/"):
        assert train_main(["evaluate", "--model", str(model), "--data", str(pos_task), "--split", split, "--out",
                           str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert f"split {split!r}: give a split's name, e.g. validation or test" in err and "Traceback" not in err, err
        assert not (tmp_path / "run").exists()


def test_a_split_given_with_a_slash_is_its_name_or_refused(tmp_path, pos_task, capsys):
    """evaluate --split validation/ (a shell's completion) wrote metrics-validation/.json (a directory
    metrics-validation/ holding '.json'); a split given as a path (a/b, ..) is refused before the model loads."""
    from test_finetune_cli import _task_model
    model = tmp_path / "model"
    _task_model(pos_task, "pixel").save_pretrained(model, safe_serialization=True)
    assert train_main(["evaluate", "--model", str(model), "--data", str(pos_task), "--split", "validation/",
                       "--out", str(tmp_path / "run"), "--batch-size", "4"]) == 0
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["metrics-validation.json",
                                                                    "predictions-validation.conll"]
    assert json.loads((tmp_path / "run" / "metrics-validation.json").read_text())["split"] == str(pos_task / "validation")
    capsys.readouterr()
    for split in ("validation/x", "..", "./validation"):
        assert train_main(["evaluate", "--model", str(model), "--data", str(pos_task), "--split", split, "--out",
                           str(tmp_path / "other")]) == 2
        err = capsys.readouterr().err
        assert f"split {split!r}: give a split's name, e.g. validation or test (a directory of --data" in err, err
        assert "Traceback" not in err and not (tmp_path / "other").exists(), err


def test_a_reader_that_stops_early_ends_pixel_train_quietly():
    """``pixel-train models | head`` (a reader that closes the pipe before the output is written) was a
    BrokenPipeError traceback on stderr; now exit 1 and no traceback, as pixel-shards."""
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    p = subprocess.Popen([sys.executable, "-m", "pixelkit.trainer.cli", "models"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(root)}, cwd=root)
    p.stdout.close()  # the reader is gone before anything is written
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 1 and "Traceback" not in err and "BrokenPipe" not in err, err[-2000:]
