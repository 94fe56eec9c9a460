"""The DeepSpeed trainer end to end on real rendered shards: config, streaming positions, checkpoints, ZeRO stages,
the demo, and the rule that the trainer never imports the pipeline. Killed runs and two processes over gloo:
test_trainer_processes.py; resuming and continuing a run: test_trainer_resume.py."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelkit.trainer.cli import main as train_main
from pixelkit.trainer.config import TrainConfig, deepspeed_config, load_config, parse_set
from pixelkit.trainer.models.base import ConfigError
from pixelkit.trainer.shardsets import resolve
from pixelkit.trainer.stream import BatchStream, Position, StreamSpec, make_loader

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TORCH_EXTENSIONS_DIR": str(ROOT / ".cache" / "torch_extensions"), "DS_ACCELERATOR": "cpu",
       "OMP_NUM_THREADS": "1"}


def _cli(*args: str, timeout: int = 600, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "pixelkit.trainer.cli", *args], cwd=ROOT, env=env or ENV,
                       capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"pixel-train failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}")
    return p


def _run(*args: str) -> tuple[int, str]:
    """``pixel-train ARGS`` in this process: the console script's own ``main``, with the environment ``_cli`` gives
    a subprocess (and one torch thread) for the call, restored after. Saves the 5-10 s of imports (torch,
    DeepSpeed, transformers, scikit-learn) each subprocess pays; keep ``_cli`` where the process is the point.
    Returns the exit code and what the command printed and logged."""
    buf = io.StringIO()
    handler, root = logging.StreamHandler(buf), logging.getLogger()
    saved_env, saved_level, threads = dict(os.environ), root.level, torch.get_num_threads()
    os.environ.update({k: ENV[k] for k in ("TORCH_EXTENSIONS_DIR", "DS_ACCELERATOR", "OMP_NUM_THREADS")})
    torch.set_num_threads(1)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            code = train_main(list(args))
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        torch.set_num_threads(threads)
        os.environ.clear()
        os.environ.update(saved_env)
    return code, buf.getvalue()


def _main(*args: str) -> str:
    """``_run`` that fails on a non-zero exit; returns what the command printed and logged."""
    code, out = _run(*args)
    assert code == 0, f"pixel-train failed ({code}):\n{out[-5000:]}"
    return out


def _metrics(out: Path) -> dict[int, dict]:
    """Last logged training record per step."""
    rows = {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "loss" in r:
            rows[r["step"]] = r
    return rows


def _keys(samples, cfg, rng):  # a collate that shows which samples a batch holds, and the rng it was given
    return {"keys": [s.key for s in samples], "draw": int(rng.integers(1 << 30))}


# -- config -------------------------------------------------------------------------------------------------

def test_deepspeed_config_is_derived_once():
    cfg = load_config(None, {"data": {"train": ["x"]}, "micro_batch_size": 4, "global_batch_size": 32})
    ds = deepspeed_config(cfg, world_size=2)
    assert ds["gradient_accumulation_steps"] == 4 and ds["train_batch_size"] == 32
    assert ds["zero_optimization"]["stage"] == 0 and "bf16" not in ds
    cfg.engine.precision = "bf16"
    assert deepspeed_config(cfg, 1)["bf16"] == {"enabled": True}
    with pytest.raises(ConfigError, match="multiple"):
        deepspeed_config(load_config(None, {"data": {"train": ["x"]}, "micro_batch_size": 3,
                                            "global_batch_size": 8}), 1)


def test_run_files_load_and_unknown_keys_are_named(tmp_path):
    for run in sorted((ROOT / "trainer" / "runs").glob("*.yaml")):
        cfg = load_config(run)
        assert cfg.model == run.stem.removesuffix("-paper") and cfg.data.train
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: pixel\ndata: {train: [x]}\noptim: {lrr: 0.1}\n")
    with pytest.raises(ConfigError, match=r"optim\.'lrr'.*did you mean.*'lr'"):
        load_config(bad)
    with pytest.raises(ConfigError, match="unknown setting 'max_step'"):
        load_config(None, parse_set(["max_step=3", "data.train=[x]"]))
    assert load_config(None, parse_set(["data.train=[a, b]", "optim.lr=3e-4"])).optim.lr == 3e-4
    assert isinstance(TrainConfig().to_dict()["optim"], dict)


def test_bad_settings_fail_at_start_naming_the_problem(tmp_path, gray_shards, binary_shards, capsys):
    """One real pixel-train process shows the exit path (status 2, the message, no traceback); the other bad runs
    go through the same ``main`` in this process (each CLI start costs seconds of imports)."""
    p = _cli("pretrain", "--model", "pixel", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"),
             check=False)
    assert p.returncode == 2 and "nothing" in p.stderr and "Traceback" not in p.stderr
    for argv, named in ((["--model", "pixel", "--data", str(binary_shards), "--set", "model_overrides.patch_size=16"],
                         "patch_size"),
                        (["--model", "pixar", "--data", str(gray_shards)], "binary")):
        code = train_main(["pretrain", *argv, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2 and named in err and "pixel-train: error:" in err, err
    assert not (tmp_path / "o" / "checkpoints").exists()


def test_non_square_pixel_length_fails_at_start(tmp_path, wikitext, capsys):
    from conftest import make_shard_set
    d = make_shard_set(tmp_path / "s530", "pixel", wikitext[:4], None, n_shards=1, max_patches=530)
    code = train_main(["pretrain", "--model", "pixel", "--data", str(d), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "square" in err, err


def test_trainer_never_imports_beam_or_pipeline():
    code = ("import sys, pixelkit.trainer.cli, pixelkit.trainer.engine, pixelkit.trainer.stream, pixelkit.trainer.finetune, pixelkit.trainer.loading\n"
            "import pixelkit.trainer.taskmodel, pixelkit.trainer.tasks, pixelkit.trainer.scores\n"
            "from pixelkit.trainer.models import REGISTRY, get_variant\n"
            "from pixelkit.trainer.heads import HEADS, get_head\n"
            "[get_variant(n) for n in REGISTRY], [get_head(n) for n in HEADS]\n"
            "bad = [m for m in sys.modules if m.split('.')[0] == 'apache_beam' or m.startswith('pixelkit.pipeline')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=ENV)


# -- streaming ----------------------------------------------------------------------------------------------

def _spec(urls, **kw):
    return StreamSpec(sets=[urls], weights=[1.0], batch_size=4, collate=_keys, model_config=None, seed=5, **kw)


def test_shard_sets_resolve_from_dir_manifest_and_brace(gray_shards):
    a = resolve(str(gray_shards))
    b = resolve(str(gray_shards / "manifest.json"))
    c = resolve(str(gray_shards / "train-{00000..00001}-of-00002.tar"))
    assert a.urls == b.urls == c.urls and len(a.urls) == 2
    assert a.info() == c.info() and a.info().patch_size == 16 and a.info().max_patches == 529


def test_pipe_urls_stream_without_a_manifest(gray_shards):
    s = resolve(f"pipe:cat {gray_shards}/train-{{00000..00001}}-of-00002.tar")
    assert len(s.urls) == 2 and s.manifest is None
    assert s.info().patch_size == 16 and s.info().max_patches == 529 and s.info().mode == "gray"
    keys = [k for b, _ in BatchStream(_spec(s.urls, infinite=False)) for k in b["keys"]]
    assert len(set(keys)) == 48


def test_stream_position_resumes_exactly(gray_shards):
    urls = resolve(str(gray_shards)).urls
    full = [b for b, _ in zip(BatchStream(_spec(urls, shuffle_buffer=16)), range(20))]
    pos = Position()
    it = iter(BatchStream(_spec(urls, shuffle_buffer=16)))
    for _ in range(7):
        pos.advance(next(it)[1])
    resumed = [b for b, _ in zip(BatchStream(_spec(urls, shuffle_buffer=16), start=pos), range(13))]
    assert [b for b, _ in full[7:]] == [b for b, _ in resumed]
    assert len({k for b, _ in full for k in b["keys"]}) == 48, "20 batches of 4 pass every sample of 48"


def test_stream_position_resumes_exactly_with_loader_workers(gray_shards):
    urls = resolve(str(gray_shards)).urls
    full = [b["keys"] for (b, _), _ in zip(make_loader(_spec(urls), num_workers=2), range(9))]
    pos = Position(num_workers=2)
    for (b, meta), _ in zip(make_loader(_spec(urls), num_workers=2), range(5)):
        pos.advance(meta)
    resumed = [b["keys"] for (b, _), _ in zip(make_loader(_spec(urls), start=pos, num_workers=2), range(4))]
    assert full[5:] == resumed


def test_resuming_with_another_worker_count_warns_and_restarts_from_a_new_seed(gray_shards, caplog):
    """trainer/README.md: with another world size or worker count the stream is not an exact continuation."""
    urls = resolve(str(gray_shards)).urls
    pos = Position(num_workers=2)
    for (b, meta), _ in zip(make_loader(_spec(urls), num_workers=2), range(5)):
        pos.advance(meta)
    with caplog.at_level("WARNING", logger="pixelkit.trainer.stream"):
        other = BatchStream(_spec(urls), start=pos, num_workers=0)
    assert "restarts from a new seed" in caplog.text
    assert other.seed == 5 + 1_000_003 * 5 and other.start.batches == 0
    same = BatchStream(_spec(urls), start=pos, num_workers=2)
    assert same.seed == 5 and same.start is pos


def test_ranks_read_disjoint_data_and_finite_pass_covers_all(gray_shards):
    urls = resolve(str(gray_shards)).urls
    seen = [sorted(k for b, _ in BatchStream(_spec(urls, rank=r, world_size=2, infinite=False)) for k in b["keys"])
            for r in (0, 1)]
    assert not set(seen[0]) & set(seen[1]) and len(seen[0]) + len(seen[1]) == 48


def test_weighted_mixing_follows_weights(gray_shards, binary_shards):
    g, b = resolve(str(gray_shards)).urls, resolve(str(binary_shards)).urls
    spec = StreamSpec(sets=[g, b], weights=[3.0, 1.0], batch_size=8, collate=lambda s, c, r: [x.mode for x in s],
                      model_config=None, shuffle_buffer=0)
    modes = [m for batch, _ in zip(BatchStream(spec), range(100)) for m in batch[0]]
    assert 0.70 < modes.count("gray") / len(modes) < 0.80


def test_corrupt_shard_in_stream_is_skipped_and_counted(tmp_path, gray_shards):
    bad = tmp_path / "train-00001-of-00002.tar"
    data = (gray_shards / "train-00001-of-00002.tar").read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    urls = [str(gray_shards / "train-00000-of-00002.tar"), str(bad)]
    pos = Position()
    keys = []
    for (batch, meta), _ in zip(BatchStream(_spec(urls)), range(30)):  # the training stream: epochs forever
        pos.advance(meta)
        keys += batch["keys"]
    assert len(set(keys)) < 48 and len(keys) == 120, "the stream goes on past the truncated shard"
    counts = pos.skip_counts()  # read once per epoch, counted once; its cut sample never leaves the reader
    assert counts == {"ArchiveError": 1}, counts


# -- the engine ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_pretrain_pixel_end_to_end(tmp_path, gray_shards, capsys):
    out, ext = tmp_path / "run", tmp_path / "torch_extensions"
    p = _cli("pretrain", "--model", "pixel", "--data", str(gray_shards), "--eval", str(gray_shards),
             "--out", str(out), "--steps", "6", "--set", "save_every=3", "--set", "log_every=1",
             "--set", "micro_batch_size=4", "--set", "global_batch_size=8",
             env={**ENV, "TORCH_EXTENSIONS_DIR": str(ext)})
    assert not any(ext.glob("*/*.so")), "a CPU training run JIT-built a DeepSpeed op (training needs none)"
    assert "built successfully" not in p.stdout + p.stderr
    assert "reconstruction PNG" in p.stdout
    m = _metrics(out)
    assert sorted(m) == [1, 2, 3, 4, 5, 6] and all(np.isfinite(r["loss"]) for r in m.values())
    assert m[6]["samples_per_s"] > 0 and m[6]["patches_per_s"] > 0 and m[1]["lr"] > 0
    evals = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if "eval_loss" in x]
    assert evals and np.isfinite(evals[-1]["eval_loss"])
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-0000006"
    info = json.loads((out / "checkpoints" / "step-0000006" / "pixelkit.json").read_text())
    assert info == {"step": 6, "zero_stage": 0, "world_size": 1, "task": None}
    # resuming it under another ZeRO stage fails before any engine starts, naming the key (DeepSpeed would die
    # mid-load on optimizer files stage 0 never wrote)
    code = train_main(["pretrain", "--model", "pixel", "--data", str(gray_shards), "--out", str(out), "--steps", "8",
                       "--set", "engine.zero_stage=2"])
    err = capsys.readouterr().err
    assert code == 2 and "engine.zero_stage=0" in err and f"or delete {out}" in err, err
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-0000006"
    state = torch.load(out / "checkpoints" / "step-0000003" / "mp_rank_00_model_states.pt", weights_only=False)
    assert state["step"] == 3 and state["data"]["0"]["batches"] == 6 and state["config"]["model"] == "pixel"
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    png = sorted((out / "pictures").glob("*.png"))
    assert png and png[-1].stat().st_size > 1000
    from pixelkit.trainer.models import get_variant
    model = get_variant("pixel").model_class.from_pretrained(out / "model")
    assert sum(p.numel() for p in model.parameters()) > 0
    tok = json.loads((gray_shards / "manifest.json").read_text())["tokenizer"]  # what the model's token ids mean
    assert json.loads((out / "model" / "tokenizer-identity.json").read_text()) == \
        {"name": tok["name"], "sha256": tok["sha256"], "vocab_size": tok["vocab_size"]}


@pytest.mark.slow
@pytest.mark.parametrize("zero,precision", [(1, "fp32"), (3, "bf16")])
def test_zero_stages_and_precisions(tmp_path, gray_shards, zero, precision):
    out = tmp_path / f"z{zero}"
    _cli("pretrain", "--model", "pixel", "--data", str(gray_shards), "--out", str(out), "--steps", "3",
         "--set", f"engine.zero_stage={zero}", "--set", f"engine.precision={precision}", "--set", "log_every=1")
    assert all(np.isfinite(r["loss"]) for r in _metrics(out).values()) and len(_metrics(out)) == 3
    from pixelkit.trainer.models import get_variant
    model = get_variant("pixel").model_class.from_pretrained(out / "model")
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("env, expect", [
    ({"LOCAL_SIZE": "2"}, "half"),  # the deepspeed launcher's variable: it sets no thread count itself
    ({"LOCAL_WORLD_SIZE": "2"}, "half"),  # torchrun's
    ({"LOCAL_SIZE": "2", "OMP_NUM_THREADS": "1"}, "kept"),  # an explicit setting wins (torch read it at start)
    ({}, "kept"),  # one rank keeps every core
])
def test_cpu_ranks_share_the_cores(env, expect, monkeypatch):
    """``runtime.setup`` in this process (no CUDA here), from a thread count neither rule gives by itself."""
    from pixelkit.trainer import runtime
    for k in ("OMP_NUM_THREADS", "LOCAL_SIZE", "LOCAL_WORLD_SIZE", "DS_ACCELERATOR", "TORCH_EXTENSIONS_DIR"):
        monkeypatch.delenv(k, raising=False)  # restored after the test, as is torch's thread count
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cores = len(os.sched_getaffinity(0))
    before = torch.get_num_threads()
    torch.set_num_threads(cores + 3)
    try:
        runtime.setup()
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert threads == {"half": max(1, cores // 2), "kept": cores + 3}[expect]


def test_an_explicit_thread_count_reaches_a_fresh_rank():
    """OMP_NUM_THREADS=1 beside the launcher's LOCAL_SIZE=2: a new process keeps torch's 1 thread."""
    base = {k: v for k, v in ENV.items() if k not in ("OMP_NUM_THREADS", "LOCAL_SIZE", "LOCAL_WORLD_SIZE")}
    code = "import torch; from pixelkit.trainer import runtime; runtime.setup(); print(torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, "LOCAL_SIZE": "2", "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, check=True)
    assert int(out.stdout) == 1


def test_jit_cache_lives_in_the_project_and_stale_locks_go(tmp_path, monkeypatch):
    from pixelkit.trainer import runtime
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR", raising=False)  # restored after the test
    monkeypatch.delenv("DS_ACCELERATOR", raising=False)
    runtime.setup()
    assert os.environ["TORCH_EXTENSIONS_DIR"] == str(runtime.PROJECT_ROOT / ".cache" / "torch_extensions")
    stale, fresh = tmp_path / "op_a" / "lock", tmp_path / "op_b" / "lock"
    for f in (stale, fresh):
        f.parent.mkdir()
        f.touch()
    old = time.time() - runtime.STALE_LOCK_SECONDS - 60
    os.utime(stale, (old, old))
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    runtime.setup()
    assert not stale.exists() and fresh.exists(), "only a lock left by a killed build is removed"


@pytest.mark.slow
def test_demo_trains_pixel_and_pixar_on_rendered_shards(tmp_path, gray_shards, binary_shards):
    """The README main job's training half, on shards laid out where pixel-render writes them."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "pixel-gray").symlink_to(gray_shards)
    (tmp_path / "out" / "pixar-binary").symlink_to(binary_shards)
    p = subprocess.run([sys.executable, "-m", "pixelkit.trainer.cli", "demo", "--set", "max_steps=3"], cwd=tmp_path,
                       env={**ENV, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-5000:]
    for name in ("pixel", "pixar"):
        run = tmp_path / "out" / "train" / name
        assert (run / "model" / "model.safetensors").exists() and (run / "checkpoints" / "latest").exists()
        assert list((run / "pictures").glob("*.png")) and f"{name}/debug: 3 steps" in p.stdout
