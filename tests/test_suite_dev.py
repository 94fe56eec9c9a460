"""A suite entry's dev split: its runs evaluate on the languages' ``validation`` split (suite_run.config), so an
entry none of whose languages gives one trained with no dev evaluation -- no early stopping, no best checkpoint,
the last step scored -- and said nothing. Such an entry is refused before anything is rendered, naming the entry,
the splits it has and the fix. Real suite files through ``pixel-train suite`` (no mocks)."""

from __future__ import annotations

import re

import yaml

from taskdata import EWT_EXCERPT, make_task


def _suite(tmp_path, capsys, entries: list[dict]) -> tuple[int, str]:
    from pixelkit.trainer.cli import main as train_main
    suite = {"name": "t", "render": ["--max_patches", "64"], "tables": [{"name": "ud"}],
             "defaults": {"model": "pixel", "flavor": "debug", "max_steps": 1, "micro_batch_size": 4,
                          "global_batch_size": 4},
             "entries": [{"task": "ud-en_ewt-pos", "table": "ud", "column": e["name"], **e} for e in entries]}
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(yaml.safe_dump(suite))
    code = train_main(["suite", "--config", str(cfg), "--out", str(tmp_path / "out")])
    return code, capsys.readouterr().err


def test_an_entry_whose_dev_split_is_not_named_validation_is_refused_before_any_render(tmp_path, capsys):
    """As MNLI was given: the dev file under another name (validation_matched), scored on another split. The first
    entry is fine; the second is refused before the first is rendered."""
    ewt = str(EWT_EXCERPT)
    code, err = _suite(tmp_path, capsys, [
        {"name": "good", "languages": {"en": {"inputs": {"train": ewt, "validation": ewt}, "limit": 4}}},
        {"name": "mnli-like", "eval_split": "test",
         "languages": {"en": {"inputs": {"train": ewt, "validation_matched": ewt, "test": ewt}, "limit": 4}}}])
    assert code == 2 and "Traceback" not in err, err
    assert re.search(r"entries mnli-like: no language gives a 'validation' split \(splits given: en: test, train, "
                     r"validation_matched\).*no dev evaluation.*languages\.en\.inputs\.validation: <dev file>", err), err
    assert not (tmp_path / "out").exists(), "rendered before the entry's dev split was checked"


def test_a_rendered_dir_without_a_validation_split_is_refused(tmp_path, capsys):
    d = make_task(tmp_path / "pos", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "test": EWT_EXCERPT}, limit=4,
                  max_patches=64)
    code, err = _suite(tmp_path, capsys, [{"name": "pos", "eval_split": "test", "languages": {"en": {"dir": str(d)}}}])
    assert code == 2 and "Traceback" not in err, err
    assert "entries pos: no language gives a 'validation' split (splits given: en: test, train)" in err, err
    assert "a validation/ split in languages.en.dir" in err, err
    assert not (tmp_path / "out" / "runs").exists()
