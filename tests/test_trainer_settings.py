"""Trainer settings that cannot work are refused before the engine (and torch) start: one line per problem
naming the dotted key and the fix, exit code 2, no traceback, nothing written. Table-driven."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelkit.trainer.cli import main as train_main
from pixelkit.trainer.config import ConfigError, load_config, parse_set

# (case, --set items, what stderr must say); data.train is given by --data
TRAIN_CASES = [
    ("log_every 0", ["log_every=0"], "log_every 0 must be >= 1"),
    ("eval is a number", ["data.eval=5"], "data.eval: expected str | None, got 5"),
    ("one beta", ["optim.betas=[0.9]"], "optim.betas: expected tuple[float, float], got (0.9,)"),
    ("beta of 1.5", ["optim.betas=[0.9, 1.5]"], "optim.betas (0.9, 1.5) must be two numbers in [0, 1)"),
    ("init_from a list", ["init_from=[1,2]"], "init_from: expected str | None, got [1, 2]"),
    ("init_from missing", ["init_from=/nonexistent/model"], "init_from '/nonexistent/model' is not a directory"),
    ("weights not numbers", ["data.weights=[a]"], "data.weights: expected list[float] | None, got ['a']"),
    ("weight zero", ["data.weights=[0]"], "data.weights [0] must be numbers > 0"),
    ("weights count", ["data.weights=[1, 2]"], "data.weights: 2 weights for 1 data.train sets"),
    ("zero_stage a bool", ["engine.zero_stage=true"], "engine.zero_stage: expected int, got True"),
    ("zero_stage 4", ["engine.zero_stage=4"], "engine.zero_stage 4 must be 0, 1, 2 or 3"),
    ("negative loader workers", ["data.num_workers=-1"], "data.num_workers -1 must be >= 0"),
    ("negative lr", ["optim.lr=-1"], "optim.lr -1.0 must be a number > 0"),
    ("lr not a number", ["optim.lr=fast"], "optim.lr: expected a number, got 'fast'"),
    ("negative min_lr", ["optim.min_lr=-1"], "optim.min_lr -1.0 must be a number >= 0"),
    ("warmup_ratio of 1", ["optim.warmup_ratio=1"], "optim.warmup_ratio 1.0 must be in [0, 1)"),
    ("zero eps", ["optim.eps=0"], "optim.eps 0.0 must be > 0"),
    ("negative warmup", ["optim.warmup_steps=-5"], "optim.warmup_steps -5 must be >= 0"),
    ("log_every a float", ["log_every=1.5"], "log_every: expected int, got 1.5"),
    ("keep no checkpoint", ["keep_checkpoints=0"], "keep_checkpoints 0 must be >= 1"),
    ("negative seed", ["seed=-1"], "seed -1 must be in 0..2**32-1"),
    ("negative eval_every", ["eval_every=-1"], "eval_every -1 must be >= 0"),
    ("unknown precision", ["engine.precision=fp8"], "engine.precision 'fp8' must be fp32 | bf16 | fp16"),
    ("zero batch", ["micro_batch_size=0"], "micro_batch_size 0 must be >= 1"),
    ("batch not a multiple", ["micro_batch_size=4", "global_batch_size=10"],  # was found after torch.distributed began
     "global_batch_size 10 is not a multiple of micro_batch_size 4 x 1 rank(s); make it a multiple of 4"),
    ("resume a string", ["resume=maybe"], "resume: expected bool, got 'maybe'"),
    ("empty lr", ["optim.lr="], "optim.lr: expected float, got None (null: an empty --set KEY= or `KEY:` in a run file); "
     "give a value"),  # said only "expected float, got None"
    ("empty steps", ["max_steps="], "max_steps: expected int, got None (null: an empty --set KEY="),
    ("value not YAML", ["optim.lr=[1,"], "--set 'optim.lr=[1,': the value is not YAML"),
    ("section set to a value", ["optim=5", "optim.lr=1"], "--set 'optim.lr=1': optim was set to a value"),
    ("empty output_dir", ["output_dir=''"], "output_dir '' is empty; give a directory"),  # wrote into the cwd
    ("empty init_from", ["init_from=''"], "init_from '' is empty; give a save_pretrained directory"),
    ("empty eval", ["data.eval=''"], "data.eval '' is empty"),
    ("empty train entry", ["data.train=['']"], "data.train [''] holds an empty entry"),
    ("overrides not a mapping", ["model_overrides=5"], "model_overrides: expected a mapping of settings"),
    ("head options a list", ["task.head_options=[1]"], "task.head_options: expected a mapping of settings (e.g. "
     "--set task.head_options.NAME=VALUE), got [1]"),
]

# (case, run file text, what stderr must say): YAML errors were tracebacks; a repeated key silently kept the last
RUN_FILE_CASES = [
    ("unclosed list", "model: pixel\nmax_steps: [1, 2\n", "is not valid YAML: while parsing a flow sequence"),
    ("tab indent", "model: pixel\n\tflavor: debug\n", "is not valid YAML: while scanning for the next token"),
    ("python tag", "model: !!python/object/apply:os.system [echo hi]\n", "could not determine a constructor"),
    ("repeated key", "model: pixel\nflavor: debug\nmodel: pixar\n", "key 'model' appears twice in one mapping"),
    ("a list", "- model\n- pixel\n", "must hold a mapping"),
    # an empty file ran on the defaults: a finetune run then left its family's run file and wrote into out/train
    ("empty", "", "holds no settings (it is empty or only comments); give settings, or leave --config out"),
    ("only comments", "# lr: 1e-4\n\n", "holds no settings (it is empty or only comments)"),
    ("latin-1", "model: pixel\n# lr f\u00fcr CPU\n", "is not UTF-8 text (byte 0xfc at offset 19); save it as UTF-8"),
]


@pytest.mark.parametrize("case,text,expected", RUN_FILE_CASES, ids=[c[0] for c in RUN_FILE_CASES])
def test_trainer_refuses_bad_run_files_before_the_engine(tmp_path, capsys, case, text, expected):
    (tmp_path / "run.yaml").write_bytes(text.encode("latin-1" if case == "latin-1" else "utf-8"))
    rc = train_main(["pretrain", "--config", str(tmp_path / "run.yaml"), "--data", str(tmp_path / "shards"),
                     "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and expected in err and "Traceback" not in err, err
    assert all(line.startswith("pixel-train: error: ") for line in err.strip().splitlines()), err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("case,sets,expected", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_trainer_refuses_bad_settings_before_the_engine(tmp_path, capsys, case, sets, expected):
    argv = ["pretrain", "--model", "pixel", "--data", str(tmp_path / "shards"), "--out", str(tmp_path / "o")]
    rc = train_main([*argv, *(x for s in sets for x in ("--set", s))])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert all(line.startswith("pixel-train: error: ") for line in err.strip().splitlines()), err
    assert expected in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_empty_flags_are_refused_not_dropped(tmp_path, capsys):
    """``--eval ""`` (an unset shell variable in quotes) was dropped silently: a run without evaluation; ``--out ""``
    and ``finetune --init ""`` reached the config as empty strings (the current directory; from scratch)."""
    for flag, expected in (("--eval", "data.eval '' is empty"), ("--out", "output_dir '' is empty")):
        rc = train_main(["pretrain", "--model", "pixel", "--data", str(tmp_path / "shards"), flag, ""])
        err = capsys.readouterr().err
        assert rc == 2 and expected in err and "Traceback" not in err, err


def test_trainer_output_dir_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="output_dir .* is a file"):
        load_config(None, {"data": {"train": ["x"]}, "output_dir": str(tmp_path / "f")})


def test_init_from_a_pretrain_output_instead_of_its_model_dir(tmp_path, capsys):
    import json

    from test_finetune_cli import _pretrained
    run = tmp_path / "pretrain"  # as pixel-train pretrain leaves it: the run's config.json beside model/
    _pretrained(run / "model")
    (run / "config.json").write_text(json.dumps(load_config(None, {"data": {"train": ["x"]}}).to_dict()))
    rc = train_main(["pretrain", "--model", "pixel", "--data", str(tmp_path / "shards"), "--out", str(tmp_path / "o"),
                     "--set", f"init_from={run}"])
    err = capsys.readouterr().err  # was an OSError traceback from transformers, after DeepSpeed started
    assert rc == 2 and "holds no config.json + model weights" in err and f"did you mean {run / 'model'}?" in err, err
    assert not (tmp_path / "o").exists()
    load_config(None, {"data": {"train": ["x"]}, "init_from": str(run / "model")})  # the model dir itself passes

# model_overrides are checked against the variant's config once the shards are resolved: a string width was a
# TypeError traceback, a negative width a RuntimeError once DeepSpeed had started
OVERRIDE_CASES = [
    ("hidden_size=abc", "model_overrides.hidden_size: expected int, got 'abc'"),
    ("hidden_size=-8", "model_overrides.hidden_size -8 must be >= 1"),
    ("decoder_num_attention_heads=0", "model_overrides.decoder_num_attention_heads 0 must be >= 1"),
    ("hidden_dropout_prob=2", "model_overrides.hidden_dropout_prob 2 must be in [0, 1]"),
    ("layer_norm_eps=.inf", "model_overrides.layer_norm_eps: expected a number, got inf"),
]


@pytest.mark.parametrize("item,expected", OVERRIDE_CASES, ids=[c[0] for c in OVERRIDE_CASES])
def test_bad_model_overrides_are_refused_before_the_engine(tmp_path, capsys, gray_shards, item, expected):
    rc = train_main(["pretrain", "--model", "pixel", "--data", str(gray_shards), "--out", str(tmp_path / "o"),
                     "--set", f"model_overrides.{item}"])
    err = capsys.readouterr().err
    assert rc == 2 and expected in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


# the GPT family's row kinds: [7] and the string "paired" (letter by letter) were accepted, [] failed in the first
# batch after DeepSpeed had started
KIND_CASES = [
    ("dualgpt", "kinds=[7]", "model_overrides.kinds [7]: expected a non-empty list of distinct row kinds among this "
                             "variant's (0 image, 1 text, 2 paired)"),
    ("dualgpt", "kinds=paired", "model_overrides.kinds 'paired': expected"),
    ("dualgpt", "kinds=[]", "model_overrides.kinds []: expected"),
    ("dualgpt", "kinds=[2, 2]", "model_overrides.kinds [2, 2]: expected"),
    ("monogpt", "kinds=[2]", "among this variant's (0 image, 1 text)"),
    ("pixelgpt", "use_tokens=true", "model_overrides: ['use_tokens'] are fixed by the variant"),
]


@pytest.mark.parametrize("model,item,expected", KIND_CASES, ids=[f"{c[0]}-{c[1]}" for c in KIND_CASES])
def test_bad_row_kinds_are_refused_before_the_engine(tmp_path, capsys, gray_shards, model, item, expected):
    rc = train_main(["pretrain", "--model", model, "--data", str(gray_shards), "--out", str(tmp_path / "o"),
                     "--set", f"model_overrides.{item}"])
    err = capsys.readouterr().err
    assert rc == 2 and expected in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_every_run_file_and_the_defaults_pass():
    for run in sorted((Path(__file__).resolve().parents[1] / "trainer" / "runs").glob("*.yaml")):
        load_config(run)
    cfg = load_config(None, parse_set(["data.train=[a, b]", "data.weights=[1, 3]", "optim.betas=[0.8, 0.9]",
                                       "engine.zero_stage=2", "data.eval=held-out"]))
    assert cfg.optim.betas == (0.8, 0.9) and cfg.data.weights == [1.0, 3.0]


def test_a_shard_set_given_as_data_gets_the_split_checks(tmp_path, capsys):
    """`--data OUT/<split>` (one shard set, not the task output) skipped the empty / unlabelled split checks: an
    empty set built the model and then failed in the loader ("read no sample ... too few samples for the ranks x
    workers?"), an unlabelled one trained at loss 0. It is now checked as a split of OUT is."""
    from taskdata import EWT_EXCERPT, make_task

    blocks = EWT_EXCERPT.read_text(encoding="utf-8").split("\n\n")[:2]
    untagged = ["\t".join(c[:3] + ["NOTATAG"] + c[4:]) if (c := line.split("\t"))[0][:1].isdigit() else line
                for b in blocks for line in b.splitlines() + [""]]
    (tmp_path / "dev.conllu").write_text("\n".join(untagged) + "\n", encoding="utf-8")
    data = make_task(tmp_path / "pos", "ud-en_ewt-pos", {"train": EWT_EXCERPT, "validation": tmp_path / "dev.conllu"},
                     max_patches=64)
    rc = train_main(["finetune", "--model", "pixel", "--flavor", "debug", "--data", str(data / "validation"),
                     "--out", str(tmp_path / "run"), "--steps", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and f"{data / 'validation'} holds no sample" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_a_run_of_text_rows_only_ends_with_its_model(tmp_path, capsys, gray_shards):
    """DualGPT with kinds=[1] (a batch of text rows only: MonoGPT draws one in 2^batch) crashed drawing the last
    step's picture -- after training, before the final checkpoint and the model were written."""
    out = tmp_path / "o"
    rc = train_main(["pretrain", "--model", "dualgpt", "--data", str(gray_shards), "--out", str(out), "--steps", "2",
                     "--set", "micro_batch_size=2", "--set", "global_batch_size=2", "--set", "model_overrides.kinds=[1]"])
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err, err
    assert (out / "model" / "model.safetensors").is_file() and not (out / "pictures").exists()
