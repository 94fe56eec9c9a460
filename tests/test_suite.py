"""``pixel-train suite``: the shipped suite files load and validate (torch-free), bad suites fail naming the key,
and one small suite on real data through the CLI -- both cross-lingual protocols, seeds, a language rendered by
``pixel-render task`` -- killed after its first entry and resumed without redoing it, then reported as tables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import SHARED_DATA
from taskdata import EWT_EXCERPT, make_task
from test_trainer_engine import ENV, ROOT
from pixelkit.trainer.spec import ConfigError
from pixelkit.trainer.suite import SUITES, load_suite, parse_suite

XNLI = SHARED_DATA / "xnli" / "dev-en.tsv"


def test_shipped_suites_load_and_validate_without_torch():
    code = ("import sys, pathlib\nfrom pixelkit.trainer.suite import SUITES, load_suite\n"
            "names = sorted(p.stem for p in SUITES.glob('*.yaml'))\n"
            "for n in names:\n    s = load_suite(n)\n    assert s.entries and s.tables, n\n"
            "print(' '.join(names))\nsys.exit(int('torch' in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    assert {"tiny", "pixel-paper", "pixelgpt-paper", "pixar-thesis"} <= set(p.stdout.split())


def test_paper_suites_cite_their_sources_and_cover_the_tables():
    for name in ("pixel-paper", "pixelgpt-paper", "pixar-thesis"):
        text = (SUITES / f"{name}.yaml").read_text()
        suite = load_suite(name)
        assert suite.source and all(t.source for t in suite.tables), name
        assert text.count("#") >= len(suite.entries), f"{name}: every entry's settings carry a citation comment"
    pixel = load_suite("pixel-paper")
    assert {t.name for t in pixel.tables} >= {"glue", "ud-pos", "ud-dp", "ner", "qa", "qa-mono", "xnli"}
    # PIXEL's QA table (xplip/pixel README): TyDiQA-GoldP's nine languages, then SQuAD v1, KorQuAD v1 and JaQuAD
    mono = {e.task: (e.paper, e.metric) for e in pixel.entries if e.table == "qa-mono"}
    assert mono == {"squad": (81.4, "f1"), "korquad-ko": (78.0, "korquad_f1"), "jaquad-ja": (34.1, "f1")}
    (xnli,) = [e for e in pixel.entries if e.table == "xnli"]
    assert xnli.protocol == "translate-train-all" and len(xnli.languages) == 15  # FINETUNING.md's XNLI recipe
    assert xnli.settings["task.head_options"]["pooling"] == "cls" and xnli.settings["optim"]["lr"] == 2e-5
    gpt = load_suite("pixelgpt-paper")
    assert {e.modality for e in gpt.entries} == {"text", "pixel", "pair"}
    assert {e.protocol for e in gpt.entries} >= {"train-en", "translate-train-all"}


def _suite(**entry) -> dict:
    base = {"name": "e", "task": "xnli-en", "table": "t", "languages": {"en": {"dir": "x"}}}
    return {"name": "s", "tables": [{"name": "t"}], "entries": [{**base, **entry}]}


@pytest.mark.parametrize("entry,match", [
    ({"protocol": "train-all"}, r"entries\[0\]\.protocol: Input should be 'single', 'train-en' or"),
    ({"languages": {"en": {"dir": "a"}, "de": {"dir": "b"}}}, r"entries\[0\]: protocol single takes one language"),
    ({"protocol": "train-en", "train_language": "fr", "languages": {"en": {"dir": "a"}, "de": {"dir": "b"}}},
     r"train_language 'fr' is not among languages"),
    ({"table": "glue"}, r"entries\[0\]\.table 'glue' is not one of tables"),
    ({"modality": "image"}, r"entries\[0\]\.modality: Input should be 'text', 'pixel' or 'pair'"),
    ({"settings": {"optim.lrr": 1e-5}}, r"unknown setting optim\.'lrr'; did you mean optim\.'lr'"),
    ({"settings": {"max_steps": "many"}}, r"settings: max_steps: expected int"),
    # keys the suite sets for each run (a suite file's value was replaced silently: task.modality text trained pixel)
    ({"settings": {"task.modality": "text"}}, r"settings: task.modality is set by the suite .*use the entry's modality"),
    ({"settings": {"seed": 7}}, r"settings: seed is set by the suite for each run; use the entry's seeds"),
    ({"settings": {"data": {"eval": "dev"}}}, r"settings: data.eval is set by the suite .*the entry's languages"),
    ({"settings": {"output_dir": "o"}}, r"settings: output_dir is set by the suite for each run; use --out"),
    ({"languages": {"en": {}}}, r"languages\.en: give either inputs"),
    ({"protocol": "translate-train-all", "languages": {}}, r"entries\[0\]\.languages: Dictionary should have at least 1"),
    ({"seeds": []}, r"entries\[0\]\.seeds: List should have at least 1 item"),
    ({"seeds": [42, 43, 42]}, r"entries\[0\]: seeds \[42\] given twice: one run per seed"),
    ({"seeds": [1, -1]}, r"entries\[0\]: seeds \[-1\]: each must be an integer in 0\.\.2\*\*32-1"),
    # names that become paths under the output directory: one plain component each
    ({"name": "../up"}, r"entries\[0\]: .*name '\.\./up': letters, digits"),
    ({"languages": {"../../x": {"dir": "a"}}}, r"entries\[0\]: .*languages '\.\./\.\./x': letters, digits"),
    ({"eval_split": "/etc"}, r"entries\[0\]: .*eval_split '/etc': letters, digits"),
])
def test_bad_suites_fail_naming_the_key(entry, match):
    with pytest.raises(ConfigError, match=match):
        parse_suite(_suite(**entry))


def test_a_table_name_is_one_path_component():
    bad = _suite()
    bad["tables"] = [{"name": "../t"}]
    bad["entries"][0]["table"] = "../t"
    with pytest.raises(ConfigError, match=r"tables\[0\]: .*name '\.\./t': letters, digits.*table's PNG"):
        parse_suite(bad)


def test_init_given_the_pretrain_output_instead_of_its_model_dir_is_refused_before_rendering(tmp_path, capsys):
    from pixelkit.trainer.cli import main as train_main
    from pixelkit.trainer.config import load_config
    from test_finetune_cli import _pretrained
    run = tmp_path / "pretrain"  # as pixel-train pretrain leaves it: the run's config.json beside model/
    _pretrained(run / "model")
    (run / "config.json").write_text(json.dumps(load_config(None, {"data": {"train": ["x"]}}).to_dict()))
    code = train_main(["suite", "--config", "tiny", "--init", str(run), "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err  # it passed, rendered every task (minutes), then each finetune refused it
    assert code == 2 and f"did you mean {run / 'model'}?" in err and "Traceback" not in err, err
    assert not (tmp_path / "s").exists()
    code = train_main(["suite", "--config", "tiny", "--init", str(run / "model"), "--tokenizer", str(tmp_path),
                       "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err  # a directory was said not to exist
    assert code == 2 and f"--tokenizer {tmp_path} is a directory; give the tokenizer's file" in err, err
    assert not (tmp_path / "s").exists()


def test_cuts_a_squad_json_by_articles_and_refuses_other_json_and_empty_ranges(tmp_path):
    from pixelkit.trainer.suite_run import SuiteRunner
    arts = [{"title": f"t{i}", "paragraphs": [{"context": f"c{i}", "qas": []}]} for i in range(5)]
    src = tmp_path / "squad.json"
    src.write_text(json.dumps({"version": "1.1", "data": arts}))
    runner = SuiteRunner(load_suite("tiny"), tmp_path / "out", None)
    cut = json.loads(Path(runner._slice(f"{src}[3:5]")).read_text())
    assert cut == {"version": "1.1", "data": arts[3:5]}  # whole articles, nothing else changed
    assert json.loads(Path(runner._slice(f"{src}[:3]")).read_text())["data"] == arts[:3]
    with pytest.raises(ConfigError, match=r"squad\.json\[5:2\]: selects no article of .* \(5 articles\); fix the range"):
        runner._slice(f"{src}[5:2]")
    (tmp_path / "rows.tsv").write_text("a\t1\nb\t0\n")
    assert Path(runner._slice(f"{tmp_path / 'rows.tsv'}[1:]")).read_text() == "b\t0\n"
    with pytest.raises(ConfigError, match=r"rows\.tsv\[2:9\]: selects no line of .* \(2 lines\)"):
        runner._slice(f"{tmp_path / 'rows.tsv'}[2:9]")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"not SQuAD-format JSON .*only line-based files and SQuAD JSON"):
        runner._slice(f"{tmp_path / 'list.json'}[0:1]")


def test_a_run_that_cannot_work_fails_before_the_first_run(tmp_path):
    """Each run's engine checks (here: a PIXEL model has no text input) run before any entry trains; before, the
    bad entry failed only when its turn came, after the entries listed before it had run."""
    from pixelkit.trainer.suite_run import SuiteRunner
    pos = make_task(tmp_path / "pos", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": EWT_EXCERPT},
                    max_patches=64)
    suite = parse_suite({"name": "t", "defaults": {"model": "pixel", "flavor": "debug", "max_steps": 1},
                         "tables": [{"name": "ud"}],
                         "entries": [{"name": "ok", "task": "ud-en_ewt-pos", "table": "ud",
                                      "languages": {"en": {"dir": str(pos)}}},
                                     {"name": "text", "task": "ud-en_ewt-pos", "table": "ud", "modality": "text",
                                      "languages": {"en": {"dir": str(pos)}}}]}, "t.yaml")
    with pytest.raises(ConfigError, match=r"entries text \(seed 42\): task.modality 'text' is not an input mode"):
        SuiteRunner(suite, tmp_path / "out", None).run()
    assert not (tmp_path / "out" / "runs" / "ok").exists()


@pytest.fixture(scope="module")
def xnli_sets(tmp_path_factory) -> dict[str, Path]:
    """XNLI English dev (real, CC BY-NC; read from ../shared/data) cut into two disjoint 'languages' a and b, each
    with 64 train and 24 dev rows: the only labelled multilingual-shaped data here is English."""
    if not XNLI.exists():
        pytest.skip(f"{XNLI} not found (read from ../shared/data)")
    d = tmp_path_factory.mktemp("xnli")
    rows = XNLI.read_text().splitlines(keepends=True)
    out = {}
    for name, tr, dev in (("a", 0, 2000), ("b", 64, 2024)):
        (d / f"{name}-train.tsv").write_text("".join(rows[tr:tr + 64]))
        (d / f"{name}-dev.tsv").write_text("".join(rows[dev:dev + 24]))
        out[name] = make_task(d / name, "xnli-en", {"train": d / f"{name}-train.tsv",
                                                    "validation": d / f"{name}-dev.tsv"}, max_patches=64)
    return out


def test_suite_runs_both_protocols_resumes_after_a_kill_and_reports(tmp_path, xnli_sets):
    suite = {
        "name": "t", "model": "PIXEL debug",
        "defaults": {"model": "pixel", "flavor": "debug", "max_steps": 2, "eval_every": 2, "micro_batch_size": 8,
                     "global_batch_size": 8, "log_every": 1},
        "render": ["--max_patches", "64"],
        "tables": [{"name": "xnli", "title": "XNLI"}, {"name": "ud", "average": False}],
        "entries": [
            {"name": "zero-shot", "task": "xnli-en", "table": "xnli", "row": "train-en", "protocol": "train-en",
             "train_language": "a", "languages": {k: {"dir": str(v)} for k, v in xnli_sets.items()},
             "paper": {"a": 80.0, "b": 70.0}},
            {"name": "all", "task": "xnli-en", "table": "xnli", "row": "translate-train-all",
             "protocol": "translate-train-all", "seeds": [1, 2],
             "languages": {k: {"dir": str(v)} for k, v in xnli_sets.items()}},
            {"name": "pos", "task": "ud-en_ewt-pos", "table": "ud", "paper": 96.7,
             "languages": {"en": {"inputs": {"train": str(EWT_EXCERPT), "validation": str(EWT_EXCERPT)},
                                  "limit": 12}}},
        ]}
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(yaml.safe_dump(suite))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pixelkit.trainer.cli", "suite", "--config", str(cfg), "--out", str(out)]
    first = out / "runs" / "zero-shot" / "seed-42" / "result.json"
    with open(tmp_path / "log1", "w") as log:
        p = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 1500  # a cold DeepSpeed op build on a busy machine took 8 minutes
        while not first.exists() and p.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        os.killpg(p.pid, signal.SIGKILL)  # killed as soon as the first entry finished
        p.wait()
    assert first.exists(), (tmp_path / "log1").read_text()[-3000:]
    before = (first.read_bytes(), first.stat().st_mtime_ns)

    p = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "[1/4] zero-shot seed 42: done earlier" in p.stderr
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before, "a finished entry was rerun"

    zs = json.loads(first.read_text())
    assert zs["train_languages"] == ["a"] and set(zs["languages"]) == {"a", "b"}
    cfgs = {n: json.loads((out / "runs" / n / s / "config.json").read_text())
            for n, s in (("zero-shot", "seed-42"), ("all", "seed-1"))}
    assert [Path(t).parent.name for t in cfgs["zero-shot"]["data"]["train"]] == ["a"]
    assert [Path(t).parent.name for t in cfgs["all"]["data"]["train"]] == ["a", "b"]
    assert cfgs["all"]["data"]["eval"].startswith("{") and "/a/validation/" in cfgs["all"]["data"]["eval"] \
        and "/b/validation/" in cfgs["all"]["data"]["eval"]  # selection on the union of the dev splits

    res = json.loads((out / "results.json").read_text())
    x = res["tables"]["xnli"]
    assert x["columns"] == ["a", "b", "Avg"] and x["rows"] == ["train-en", "translate-train-all"]
    tta = x["cells"]["translate-train-all"]
    assert len(tta["a"]["values"]) == 2  # two seeds
    assert tta["Avg"]["values"] == pytest.approx([(a + b) / 2 for a, b in zip(tta["a"]["values"], tta["b"]["values"])])
    assert x["cells"]["train-en"]["Avg"]["paper"] == pytest.approx(75.0)
    pos = json.loads((out / "runs" / "pos" / "seed-42" / "result.json").read_text())["languages"]["en"]
    assert pos["metrics"]["n"] > 0 and 0 < pos["majority"]["accuracy"] < 1
    md = (out / "report.md").read_text()
    assert "| translate-train-all |" in md and " ± " in md and "| train-en (paper) | 80.0 | 70.0 | 75.0 |" in md
    assert (out / "xnli.png").stat().st_size > 1000 and (out / "ud.png").stat().st_size > 1000
    assert md in p.stdout
    p = subprocess.run(cmd + ["--only", "pos"], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert p.returncode == 0 and "--only: " in p.stdout and "| pos |" in p.stdout, p.stderr[-2000:]
    assert "| translate-train-all |" not in p.stdout
    assert (out / "report.md").read_text() == md, "--only replaced the suite's report with its own entries"

    # the same --out with another setting, or another --init model: refused before any work, nothing rerun
    suite["defaults"]["max_steps"] = 3
    cfg.write_text(yaml.safe_dump(suite))
    p = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert p.returncode != 0 and "4 run(s) under" in p.stderr and "zero-shot seed 42" in p.stderr, p.stderr[-2000:]
    assert "max_steps: 2 -> 3" in p.stderr and "delete those run directories" in p.stderr.lower()
    suite["defaults"]["max_steps"] = 2
    cfg.write_text(yaml.safe_dump(suite))
    model = out / "runs" / "pos" / "seed-42" / "best"
    p = subprocess.run(cmd + ["--init", str(model), "--only", "pos"], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert p.returncode != 0 and "pos seed 42" in p.stderr and "the init (--init model)" in p.stderr, p.stderr[-2000:]
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    assert "Traceback" not in p.stderr


def test_reused_task_shards_are_rendered_again_when_the_rendering_code_or_an_input_changed(tmp_path):
    """A suite's rendered data is reused across runs only while the code that renders it, its inputs and its
    tokenizer are unchanged: a renderer fix (the EOS-mask one changed pairs' num_patches, not the schema version nor
    any setting) must not leave the shards it fixed in use. Real ``pixel-render task`` subprocesses."""
    import shutil

    from pixelkit.trainer.suite_run import RENDER_CODE, RENDER_RECORD, SuiteRunner, code_fingerprint
    conllu = tmp_path / "ewt.conllu"
    shutil.copy(EWT_EXCERPT, conllu)
    suite = parse_suite({"name": "t", "render": ["--max_patches", "64"], "tables": [{"name": "ud"}],
                         "defaults": {"model": "pixel", "flavor": "debug"},
                         "entries": [{"name": "pos", "task": "ud-en_ewt-pos", "table": "ud", "languages": {
                             "en": {"inputs": {"train": str(conllu), "validation": str(conllu)}, "limit": 4}}}]})
    out = tmp_path / "out"
    entry = suite.entries[0]

    def render() -> Path:  # a new runner each time: a new `pixel-train suite` command on the same --out
        return SuiteRunner(suite, out, None).render(entry, "en")

    d = render()
    sentinel = d / "train" / "sentinel"  # survives only if the directory is reused
    sentinel.write_text("rendered earlier")
    assert render() == d and sentinel.exists(), "unchanged code and inputs: the shards are reused"

    # shards written by other pipeline code: their record names that code's fingerprint (here: this checkout's
    # rendering code with one line added to the renderer)
    code = tmp_path / "code"
    for root in RENDER_CODE:
        shutil.copytree(root, code / root.name, ignore=shutil.ignore_patterns("__pycache__", "sample_data"))
    with open(code / "pipeline" / "render" / "base.py", "a") as fh:
        fh.write("\n# a renderer fix\n")
    old = code_fingerprint(tuple(code / r.name for r in RENDER_CODE))
    assert old != code_fingerprint()
    record = json.loads((d / RENDER_RECORD).read_text())
    (d / RENDER_RECORD).write_text(json.dumps({**record, "code": old}))
    assert render() == d and not sentinel.exists(), "shards from other rendering code were reused"
    assert json.loads((d / RENDER_RECORD).read_text())["code"] == code_fingerprint()
    assert (d / "train" / "manifest.json").is_file() and (d / "validation" / "manifest.json").is_file()

    # an input file replaced by another version: what a render would be made from differs from the record, which
    # (as just shown, with a real render) makes the runner render again
    st = conllu.stat()
    os.utime(conllu, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    recorded = json.loads((d / RENDER_RECORD).read_text())
    now = SuiteRunner(suite, out, None).render_record(entry, "en")
    assert now["code"] == recorded["code"] and now["inputs"] != recorded["inputs"], "the input change is not seen"


def test_a_tables_avg_over_cells_with_different_numbers_of_seeds_is_the_mean_of_their_means():
    """tiny.yaml's GLUE row mixes three-seed and one-seed entries: its Avg must still be there (the mean of the cells'
    means), and with equal seed counts stay the mean of the per-seed averages."""
    from pixelkit.trainer.suite_report import collect

    suite = load_suite("tiny")

    def run(entry, seed, acc):
        return {"entry": entry, "seed": seed, "steps": 1, "best_step": 1, "seconds": 1.0, "train_languages": ["en"],
                "model": f"/x/{entry}/seed-{seed}/model", "main_metric": "accuracy",
                "languages": {"en": {"metrics": {"accuracy": acc, "n": 10}, "majority": {"accuracy": 0.5}}}}

    mixed = [run("rte", 42, 0.50), run("rte", 43, 0.60), run("rte", 44, 0.70), run("wnli", 42, 0.40)]
    glue = collect(suite, mixed)["glue"]
    row = next(iter(glue["cells"]))
    assert "Avg" in glue["columns"]
    assert glue["cells"][row]["Avg"]["values"] == pytest.approx([(60.0 + 40.0) / 2])
    same = [run("rte", 42, 0.50), run("rte", 43, 0.60), run("wnli", 42, 0.40), run("wnli", 43, 0.20)]
    glue = collect(suite, same)["glue"]
    assert glue["cells"][row]["Avg"]["values"] == pytest.approx([45.0, 40.0])


def test_learning_curves_are_scaled_as_the_tables_cells(tmp_path):
    """A QA or UD score is already x 100; its learning curve was scaled by task-name prefix, so KorQuAD's
    (korquad-ko) F1 of 55 was drawn at 5,500, as was a parsing entry's conll18_las."""
    from pixelkit.trainer.suite_report import collect, curve

    suite = load_suite("pixel-paper")
    model = tmp_path / "korquad-v1" / "seed-42" / "model"
    model.parent.mkdir(parents=True)
    (model.parent / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "eval_korquad_f1": v}) + "\n"
                                                        for s, v in ((500, 40.0), (1000, 55.0))))
    run = {"entry": "korquad-v1", "seed": 42, "steps": 1000, "best_step": 1000, "seconds": 1.0, "scale": 1,
           "train_languages": ["ko"], "model": str(model), "main_metric": "f1",
           "languages": {"ko": {"metrics": {"korquad_f1": 55.0, "f1": 30.0, "n": 10}, "majority": {}}}}
    table = collect(suite, [run])["qa-mono"]
    (entry,) = table["entries"]
    assert entry["metric"] == "korquad_f1" and curve(entry) == ([500, 1000], [40.0, 55.0])
    assert table["cells"]["PIXEL"]["KorQuAD 1.0 ko"]["values"] == [55.0]
