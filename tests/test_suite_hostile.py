"""Hostile suite files and states: settings out of range, two entries in one table cell, inputs that are
directories or splits not given, a split rendered to no sample, a metric the task lacks -- each refused before any
work -- and a damaged result.json, which counts as unfinished. Real renders and runs (no mocks)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from taskdata import EWT_EXCERPT, make_task
from pixelkit.trainer.spec import ConfigError
from pixelkit.trainer.suite import parse_suite


@pytest.mark.parametrize("settings,match", [
    ({"max_steps": -1}, r"entries\[0\] \(pos\) settings: max_steps -1 must be >= 1"),
    ({"task.patience": -3}, r"entries\[0\] \(pos\) settings: task.patience must be >= 0"),
    ({"optim.lr": 0}, r"entries\[0\] \(pos\) settings: optim.lr 0.0 must be a number > 0"),
    ({"global_batch_size": 7, "micro_batch_size": 2}, r"global_batch_size 7 is not a multiple of micro_batch_size 2"),
])
def test_a_setting_out_of_range_is_refused_before_anything_is_rendered(tmp_path, capsys, settings, match):
    """Ranges and batch division used to be checked only when each run's config was built, after every language of
    every entry had been rendered (minutes to hours for a paper suite), and without naming the entry."""
    from pixelkit.trainer.cli import main as train_main
    suite = {"name": "t", "render": ["--max_patches", "64"], "tables": [{"name": "ud"}],
             "entries": [{"name": "pos", "task": "ud-en_ewt-pos", "table": "ud", "settings": settings,
                          "languages": {"en": {"inputs": {"train": str(EWT_EXCERPT), "validation": str(EWT_EXCERPT)},
                                               "limit": 4}}}]}
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(yaml.safe_dump(suite))
    code = train_main(["suite", "--config", str(cfg), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert re.search(match, err), err
    assert not (tmp_path / "out").exists(), "rendered before the settings were checked"


def test_two_entries_filling_one_table_cell_or_the_avg_column_are_refused():
    """The report kept the last entry's score for a cell two entries fill (the other's runs were trained and then
    hidden), and a column named Avg was overwritten by the row's average."""
    e = {"task": "xnli-en", "table": "t", "languages": {"en": {"dir": "x"}}}
    two = {"name": "s", "tables": [{"name": "t"}],
           "entries": [{**e, "name": "a", "column": "XNLI"}, {**e, "name": "b", "column": "XNLI"}]}
    with pytest.raises(ConfigError, match=r"entries\[1\] \(b\) and a both fill table t, row 'ours', column 'XNLI'"):
        parse_suite(two)
    two["entries"][1]["modality"] = "text"  # another row: both shown
    assert len(parse_suite(two).entries) == 2
    avg = {"name": "s", "tables": [{"name": "t"}], "entries": [{**e, "name": "a", "column": "Avg"}]}
    with pytest.raises(ConfigError, match=r"entries\[0\] \(a\) fills column 'Avg' of table t"):
        parse_suite(avg)
    avg["tables"][0]["average"] = False  # no Avg column then
    assert parse_suite(avg).entries[0].column == "Avg"


@pytest.mark.parametrize("bad,match", [
    ({"train": "DIR", "validation": str(EWT_EXCERPT)}, r"entries two: languages.en.inputs.train .*a dir is a directory"),
    ({"train": str(EWT_EXCERPT)}, r"entries two: language en has no validation input; add languages.en.inputs"),
])
def test_an_input_that_is_a_directory_or_a_split_not_given_is_refused_before_the_first_render(tmp_path, capsys, bad,
                                                                                               match):
    """A directory given as an input file was rendered into an empty split (the pipeline dead-letters it), and the
    suite failed later with 'slot 0 read no sample'; a missing eval split was found only after every earlier entry
    had been rendered. Both are refused before anything is written (the second entry is the bad one)."""
    from pixelkit.trainer.cli import main as train_main
    (tmp_path / "a dir").mkdir()
    good = {"train": str(EWT_EXCERPT), "validation": str(EWT_EXCERPT)}
    bad = {k: str(tmp_path / "a dir") if v == "DIR" else v for k, v in bad.items()}
    suite = {"name": "t", "render": ["--max_patches", "64"], "tables": [{"name": "ud"}],
             "entries": [{"name": name, "task": "ud-en_ewt-pos", "table": "ud", "column": name,
                          "languages": {"en": {"inputs": inputs, "limit": 4}}}
                         for name, inputs in (("one", good), ("two", bad))]}
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(yaml.safe_dump(suite))
    code = train_main(["suite", "--config", str(cfg), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and re.search(match, err), err
    assert not (tmp_path / "out").exists(), "the first entry was rendered before the second's inputs were checked"


def test_a_split_rendered_to_no_sample_is_refused_before_any_run(tmp_path, capsys):
    """A dev file whose every record is dead-lettered renders to an empty split: the suite trained on, and its run
    then died in scikit-learn ('Found empty input array') with a traceback at its first evaluation."""
    from pixelkit.trainer.cli import main as train_main
    garbage = tmp_path / "dev.conllu"
    garbage.write_text("not a conllu line\n")
    suite = {"name": "t", "render": ["--max_patches", "64"], "tables": [{"name": "ud"}],
             "defaults": {"model": "pixel", "flavor": "debug", "max_steps": 1, "micro_batch_size": 4,
                          "global_batch_size": 4},
             "entries": [{"name": "pos", "task": "ud-en_ewt-pos", "table": "ud", "languages": {
                 "en": {"inputs": {"train": str(EWT_EXCERPT), "validation": str(garbage)}, "limit": 4}}}]}
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(yaml.safe_dump(suite))
    code = train_main(["suite", "--config", str(cfg), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert "entries pos (en): " in err and "validation holds no sample (dead_bad_conllu_line 1" in err, err
    assert not (tmp_path / "out" / "runs").exists()


def test_an_entry_metric_the_task_does_not_have_is_refused_before_any_run(tmp_path):
    """A suite entry's metric names the score its table shows; one the task lacks showed '—' in every cell, after
    every run had trained."""
    from pixelkit.trainer.suite_run import SuiteRunner
    pos = make_task(tmp_path / "pos", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT},
                    max_patches=64)
    entry = {"name": "pos", "task": "ud-en_ewt-pos", "table": "ud", "languages": {"en": {"dir": str(pos)}}}
    suite = {"name": "t", "defaults": {"model": "pixel", "flavor": "debug", "max_steps": 1},
             "tables": [{"name": "ud"}], "entries": [{**entry, "metric": "las"}]}
    with pytest.raises(ConfigError, match=r"entries pos: metric 'las' is not a score of ud-en_ewt-pos \(it is "
                                          r"scored by accuracy\)"):
        SuiteRunner(parse_suite(suite), tmp_path / "out", None).run()
    assert not (tmp_path / "out" / "runs").exists()


def test_a_damaged_result_is_not_counted_the_run_resumes_and_is_scored_again(tmp_path):
    """A result.json that is not JSON (cut, or edited by hand) used to stop the resumed suite with a JSONDecodeError
    traceback; it is now a run not finished: resumed from its checkpoint (no step trained again) and scored again,
    to the same result. So is a result scored on another split than the entry's eval_split now."""
    from test_trainer_engine import _main
    pos = make_task(tmp_path / "pos", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT},
                    max_patches=64)
    suite = {"name": "t", "defaults": {"model": "pixel", "flavor": "debug", "max_steps": 2, "eval_every": 2,
                                       "micro_batch_size": 4, "global_batch_size": 4},
             "tables": [{"name": "ud"}],
             "entries": [{"name": "pos", "task": "ud-en_ewt-pos", "table": "ud", "languages": {"en": {"dir": str(pos)}}}]}
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(yaml.safe_dump(suite))
    args = ("suite", "--config", str(cfg), "--out", str(tmp_path / "out"))
    _main(*args)
    run = tmp_path / "out" / "runs" / "pos" / "seed-42"
    good, metrics = json.loads((run / "result.json").read_text()), (run / "metrics.jsonl").read_bytes()
    for damage in ((run / "result.json").read_text()[:100], json.dumps({**good, "seed": 7}), "[]"):
        (run / "result.json").write_text(damage)
        log = _main(*args)
        assert "result.json is damaged, not this run's" in log and "resumed from" in log and "at step 2" in log, log
        again = json.loads((run / "result.json").read_text())
        assert {**again, "seconds": 0} == {**good, "seconds": 0}
        assert (run / "metrics.jsonl").read_bytes() == metrics, "trained again"
    log = _main(*args)
    assert "done earlier" in log and "resumed from" not in log
    # eval_split changed in the suite file: the result scored on the old split was reported as the new one's
    suite["entries"][0]["eval_split"] = "train"
    cfg.write_text(yaml.safe_dump(suite))
    log = _main(*args)
    assert "scored on another split than eval_split train" in log and "at step 2" in log, log[-2000:]
    assert json.loads((run / "result.json").read_text())["eval_split"] == "train"
    assert (run / "eval" / "en" / "predictions-train.conll").is_file()
    assert (run / "metrics.jsonl").read_bytes() == metrics, "trained again"


def test_the_same_out_spelled_relative_is_the_same_suite_not_stale_runs(tmp_path, monkeypatch):
    """Each run records its settings, output_dir and data paths included; the same suite resumed with --out given
    relative instead of absolute (or from another working directory) was refused as 'made from other settings'
    for every finished run. A real change is still refused."""
    from test_trainer_engine import _main
    from pixelkit.trainer.cli import main as train_main
    suite = {"name": "t", "defaults": {"model": "pixel", "flavor": "debug", "max_steps": 1, "micro_batch_size": 4,
                                       "global_batch_size": 4},
             "render": ["--max_patches", "64"], "tables": [{"name": "ud"}],  # rendered under --out: data paths too
             "entries": [{"name": "pos", "task": "ud-en_ewt-pos", "table": "ud", "languages": {"en": {"inputs": {
                 "train": str(EWT_EXCERPT), "validation": str(EWT_EXCERPT)}, "limit": 4}}}]}
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(yaml.safe_dump(suite))
    _main("suite", "--config", str(cfg), "--out", str(tmp_path / "out"))
    monkeypatch.chdir(tmp_path)
    log = _main("suite", "--config", str(cfg), "--out", "out")
    assert "pos seed 42: done earlier" in log, log[-2000:]
    monkeypatch.chdir(tmp_path / "out")
    log = _main("suite", "--config", str(cfg), "--out", ".")
    assert "pos seed 42: done earlier" in log, log[-2000:]
    suite["defaults"]["max_steps"] = 2
    cfg.write_text(yaml.safe_dump(suite))
    assert train_main(["suite", "--config", str(cfg), "--out", "."]) == 2


def test_a_suite_file_giving_a_key_twice_or_not_text_is_refused_with_its_line(tmp_path):
    """Suite files were read with yaml.safe_load, which keeps the last of two equal keys silently (a language or a
    setting written twice), and a file that is not UTF-8 stopped with a UnicodeDecodeError traceback; run files
    refuse both already, and now suite files do too."""
    from pixelkit.trainer.suite import load_suite
    lang = "{en: {dir: x}}"
    for text, match in (
            (f"name: s\ntables: [{{name: t}}]\ndefaults: {{max_steps: 10, max_steps: 20}}\nentries:\n"
             f"  - {{name: e, task: xnli-en, table: t, languages: {lang}}}\n",
             r"suite file .*dup.yaml is not valid YAML: key 'max_steps' appears twice in one mapping .*line 3"),
            (f"name: s\ntables: [{{name: t}}]\nentries:\n  - {{name: e, task: xnli-en, table: t, languages: "
             f"{{en: {{dir: x}}, en: {{dir: y}}}}}}\n",
             r"key 'en' appears twice in one mapping .*line 4")):
        (tmp_path / "dup.yaml").write_text(text)
        with pytest.raises(ConfigError, match=match):
            load_suite(str(tmp_path / "dup.yaml"))
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"suite file .*bin.yaml is not UTF-8 text \(byte 0xff at offset 0\); save it as UTF-8"):
        load_suite(str(tmp_path / "bin.yaml"))


def test_a_damaged_task_json_in_a_suite_data_folder_is_named_with_the_fix(tmp_path, capsys):
    """The suite read each language's task.json with a bare json.loads(...)["family"]: a damaged one (a render
    folder edited, cut or copied over) was a JSONDecodeError / TypeError / KeyError traceback. It is now read as the
    finetune CLI reads it (TaskSpec.read) and named with the fix, before any run."""
    from pixelkit.trainer.cli import main as train_main
    from pixelkit.trainer.suite_run import SuiteRunner
    suite = {"name": "t", "render": ["--max_patches", "64"], "tables": [{"name": "ud"}],
             "defaults": {"model": "pixel", "flavor": "debug", "max_steps": 1},
             "entries": [{"name": "pos", "task": "ud-en_ewt-pos", "table": "ud", "languages": {
                 "en": {"inputs": {"train": str(EWT_EXCERPT), "validation": str(EWT_EXCERPT)}, "limit": 4}}}]}
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(yaml.safe_dump(suite))
    (data,) = SuiteRunner(parse_suite(suite), tmp_path / "out", None).prepare()["pos"].values()  # rendered once
    for damage in (b"{not json", b"[]", b'{"name": "x", "family": "poetry"}', b"\xff\xfe"):
        (data / "task.json").write_bytes(damage)
        code = train_main(["suite", "--config", str(cfg), "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err, (damage, err)
        assert f"entries pos (en): {data / 'task.json'} is not a usable task spec" in err, (damage, err)
        assert f"delete {data} and run the suite again" in err, (damage, err)
        assert not (tmp_path / "out" / "runs").exists()
