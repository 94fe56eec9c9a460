"""Hostile shard sets through ``pixel-train`` itself (the engine, not only the loader): sets with nothing usable,
a hostile train or eval set trained through with each problem counted once, a manifest listing no shard. The
crafted members and manifests: test_hostile_shards.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pixelkit.trainer.cli import main as train_main
from pixelkit.trainer.data import SkipCounter
from test_hostile_shards import (ENV, ROOT, _header_offsets, _manifest_dict, copy_set, members, rewrite_manifest,
                                 with_json, write_tar, wrong_shape_sample)
from test_trainer_engine import _main

@pytest.mark.slow
def test_a_set_with_no_usable_sample_stops_pixel_train_with_a_clear_error(tmp_path, gray_shards):
    d = copy_set(gray_shards, tmp_path / "bad")
    for shard in sorted(d.glob("*.tar")):
        entries = members(shard)
        n = len({e[0].split(".")[0] for e in entries})
        for i in range(n):
            entries = with_json(entries, i, lambda m: json.dumps({**m, "schema_version": 1}).encode())
        write_tar(shard, entries)
    rewrite_manifest(d)  # the manifest is intact: the run starts, every sample then fails
    cmd = [sys.executable, "-m", "pixelkit.trainer.cli", "pretrain", "--model", "pixel", "--flavor", "debug", "--data",
           str(d), "--out", str(tmp_path / "o"), "--steps", "3", "--set", "micro_batch_size=2",
           "--set", "global_batch_size=2"]
    p = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)  # fails, never hangs
    assert p.returncode == 2, p.stderr[-3000:]
    assert "gave no usable sample" in p.stderr and "schema_version" in p.stderr and "train-0000" in p.stderr
    assert "Traceback" not in p.stderr
    skipped_lines = [line for line in p.stderr.splitlines() if "skipped corrupt_sample" in line]
    assert 0 < len(skipped_lines) <= SkipCounter.LOG_FIRST + 1, len(skipped_lines)


def hostile_copy(src: Path, dest: Path) -> Path:
    """A copy of a shard set with four problems, one of each kind: a sample of another shape and a malformed one
    (the manifest rewritten to match), and a shard cut after the manifest was written (20 of 24 samples left)."""
    d = copy_set(src, dest)
    a, b = sorted(d.glob("*.tar"))
    entries = with_json(members(a), 1, lambda m: json.dumps({**m, "offset_mapping": 5}).encode())
    write_tar(a, entries[:6] + wrong_shape_sample(entries[0][1]) + entries[6:])
    rewrite_manifest(d)
    b.write_bytes(b.read_bytes()[: _header_offsets(b)[20]])  # after the manifest: 20 of 24 samples left
    return d


@pytest.mark.slow
def test_pixel_train_trains_through_a_hostile_set_and_counts_each_problem_once(tmp_path, gray_shards):
    """The engine hands the manifest's entries and the set's strip shape to the loader: a cut shard, a sample of
    another shape and a malformed one are skipped and counted once each; training goes on."""
    d = hostile_copy(gray_shards, tmp_path / "set")
    out = tmp_path / "o"
    # pixel-train's main in this process (no subprocess start-up); fails on a non-zero exit
    log = _main("pretrain", "--model", "pixel", "--flavor", "debug", "--data", str(d), "--out", str(out), "--steps",
                "15", "--set", "micro_batch_size=4", "--set", "global_batch_size=4", "--set", "data.shuffle_buffer=0",
                "--set", "log_every=5")
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert rows[-1]["step"] == 15 and rows[-1]["skipped"] == 4, rows[-1]  # size, count, shape, json: once each
    for reason in ("shard_size", "short_shard", "wrong_shape", "corrupt_sample"):
        assert sum(f"skipped {reason}" in line for line in log.splitlines()) == 1, reason


@pytest.mark.slow
def test_an_eval_set_is_read_with_the_manifest_checks_and_its_skips_are_recorded(tmp_path, gray_shards):
    """data.eval went through the loader without the manifest's entries and the strip shape: a cut shard's size and
    count went unchecked, a sample of another shape reached collate, and what was skipped was only logged."""
    d = hostile_copy(gray_shards, tmp_path / "eval")
    out = tmp_path / "o"
    _main("pretrain", "--model", "pixel", "--data", str(gray_shards), "--eval", str(d), "--out", str(out), "--steps",
          "1", "--set", "micro_batch_size=4", "--set", "global_batch_size=4", "--set", "eval_batches=100")
    evals = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if "eval_loss" in x]
    assert evals[-1]["eval_skipped"] == 4, evals  # size, count, shape, json


@pytest.mark.slow
def test_an_eval_set_with_no_usable_sample_is_an_error_not_a_zero_loss(tmp_path, gray_shards):
    d = copy_set(gray_shards, tmp_path / "bad")
    for shard in sorted(d.glob("*.tar")):
        entries = members(shard)
        for i in range(len(entries) // 3):
            entries = with_json(entries, i, lambda m: json.dumps({**m, "mode": 3}).encode())
        write_tar(shard, entries)
    rewrite_manifest(d)
    cmd = [sys.executable, "-m", "pixelkit.trainer.cli", "pretrain", "--model", "pixel", "--flavor", "debug", "--data",
           str(gray_shards), "--eval", str(d), "--out", str(tmp_path / "o"), "--steps", "1",
           "--set", "micro_batch_size=2", "--set", "global_batch_size=2"]
    p = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert p.returncode == 2 and "data.eval" in p.stderr and "no usable batch" in p.stderr, p.stderr[-3000:]
    assert '"eval_loss"' not in (tmp_path / "o" / "metrics.jsonl").read_text()


def test_a_manifest_listing_no_shard_stops_pixel_train_before_the_engine(tmp_path, gray_shards, capsys):
    d = copy_set(gray_shards, tmp_path / "set")  # a valid manifest of zero shards (was an IndexError in the stream)
    for shard in d.glob("*.tar"):
        shard.unlink()
    (d / "manifest.json").write_text(json.dumps({**_manifest_dict(d), "shards": [], "num_samples": 0, "num_bytes": 0}))
    code = train_main(["pretrain", "--model", "pixel", "--data", str(d), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "manifest.json: lists no shards" in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()
