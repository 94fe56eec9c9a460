"""The trainer killed and resumed, and run as two processes over gloo (torchrun, DeepSpeed's launcher): a killed run,
one process or two, resumes to the uninterrupted run's losses (split from test_trainer_engine.py, whose helpers it
uses)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_trainer_engine import ENV, ROOT, _main, _metrics


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_losses(tmp_path, gray_shards):
    args = ["pretrain", "--model", "pixel", "--data", str(gray_shards), "--steps", "12", "--set", "log_every=1",
            "--set", "save_every=4", "--set", "data.shuffle_buffer=8", "--set", "micro_batch_size=4"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    # the uninterrupted run and the one to kill start together (one thread each; their losses do not depend on it)
    whole = subprocess.Popen([sys.executable, "-m", "pixelkit.trainer.cli", *args, "--out", str(straight)], cwd=ROOT,
                             env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc = subprocess.Popen([sys.executable, "-m", "pixelkit.trainer.cli", *args, "--out", str(killed)], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = killed / "checkpoints" / "latest"
    deadline = time.time() + 300
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped = int(latest.read_text().strip().split("-")[1])
    assert stopped < 12, "the run was killed before it finished"
    _, err = whole.communicate(timeout=600)
    assert whole.returncode == 0, err[-5000:]
    _main(*args, "--out", str(killed))  # the resume: the same command, run by pixel-train's main in this process
    a, b = _metrics(straight), _metrics(killed)
    assert sorted(b) == list(range(1, 13))
    for step in range(stopped + 1, 13):
        assert a[step]["loss"] == b[step]["loss"], f"step {step}: {a[step]['loss']} != {b[step]['loss']}"


LAUNCHERS = {
    "torchrun": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m"],
    "deepspeed": [str(Path(sys.executable).parent / "deepspeed"), "--num_gpus", "2", "--master_port", "29531",
                  "--module"],  # on CPU its "gpus" are processes
}


TWO_RANKS = ["pretrain", "--model", "pixel", "--steps", "6", "--set", "engine.zero_stage=2",
             "--set", "micro_batch_size=2", "--set", "global_batch_size=8", "--set", "log_every=1",
             "--set", "save_every=2", "--set", "data.shuffle_buffer=8"]  # 2 ranks x 2 accumulation steps x 2


def _two_ranks(launcher: str, gray_shards: Path, out: Path) -> list[str]:
    return [*LAUNCHERS[launcher], "pixelkit.trainer.cli", *TWO_RANKS, "--data", str(gray_shards), "--out", str(out)]


def _positions(ckpt: Path) -> dict:
    return torch.load(ckpt / "mp_rank_00_model_states.pt", weights_only=False)["data"]


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory, gray_shards) -> Path:
    """An uninterrupted 2-process run under torchrun (ZeRO-2 over gloo), checkpoints every 2 steps."""
    out = tmp_path_factory.mktemp("two_ranks") / "straight"
    p = subprocess.run(_two_ranks("torchrun", gray_shards, out), cwd=ROOT, env=ENV, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-5000:]
    return out


@pytest.mark.slow
def test_two_processes_under_torchrun(two_rank_run):
    m = _metrics(two_rank_run)
    assert sorted(m) == [1, 2, 3, 4, 5, 6] and all(np.isfinite(r["loss"]) for r in m.values())
    ckpt = two_rank_run / "checkpoints" / "step-0000006"
    assert len(list(ckpt.glob("*optim_states.pt"))) == 2, "ZeRO-2 shards the optimizer over both ranks"
    data = _positions(ckpt)
    assert set(data) == {"0", "1"} and data["1"]["batches"] == 12  # 6 steps x 2 accumulation
    assert (two_rank_run / "model" / "model.safetensors").exists()


@pytest.mark.slow
def test_two_processes_under_the_deepspeed_launcher_share_the_cores(tmp_path, gray_shards):
    """DeepSpeed's launcher sets no thread count: each rank takes cores // 2 itself (OMP_NUM_THREADS unset)."""
    out = tmp_path / "ds"
    env = {k: v for k, v in ENV.items() if k != "OMP_NUM_THREADS"}
    p = subprocess.run(_two_ranks("deepspeed", gray_shards, out), cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-5000:]
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    for rank in (0, 1):
        assert f"rank {rank}/2: {share} CPU threads" in p.stdout + p.stderr, (p.stdout + p.stderr)[-3000:]
    m = _metrics(out)
    assert sorted(m) == [1, 2, 3, 4, 5, 6] and all(np.isfinite(r["loss"]) for r in m.values())
    assert len(list((out / "checkpoints" / "step-0000006").glob("*optim_states.pt"))) == 2


@pytest.mark.slow
def test_two_processes_killed_run_resumes_where_it_stood(tmp_path, gray_shards, two_rank_run):
    """SIGKILL to the launcher and both ranks after a checkpoint; the same command resumes from the saved step
    with each rank's data position and finishes with the uninterrupted run's losses and positions."""
    out = tmp_path / "killed"
    proc = subprocess.Popen(_two_ranks("torchrun", gray_shards, out), cwd=ROOT, env=ENV, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = out / "checkpoints" / "latest"
    deadline = time.time() + 600
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    import psutil  # torchrun starts each rank in its own session: kill the launcher's whole process tree
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    for p in tree:
        p.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(tree, timeout=30)
    assert not alive and len(tree) >= 3, f"launcher + 2 ranks killed: {tree}, alive {alive}"
    stopped = int(latest.read_text().strip().split("-")[1])
    assert stopped < 6, "the run was killed before it finished"
    p = subprocess.run(_two_ranks("torchrun", gray_shards, out), cwd=ROOT, env=ENV, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-5000:]
    assert f"at step {stopped}" in p.stderr, p.stderr[-3000:]
    a, b = _metrics(two_rank_run), _metrics(out)
    assert sorted(b) == [1, 2, 3, 4, 5, 6]
    for step in range(stopped + 1, 7):
        assert a[step]["loss"] == b[step]["loss"], f"step {step}: {a[step]['loss']} != {b[step]['loss']}"
    final = "checkpoints/step-0000006"
    assert _positions(out / final) == _positions(two_rank_run / final), "both ranks ended at the same position"

