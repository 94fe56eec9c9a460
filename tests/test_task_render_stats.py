"""`pixel-render task` sums per-source render stats into each split's manifest counts as `pixel-render run` does
(`chars_rendered`, `tofu_chars`, and with `--backend pygame` `unshaped_chars`), and warns about them: real UDHR
text (Arabic, Hindi, English) as XNLI pairs."""

from __future__ import annotations

import logging

import pytest

from pixelkit.pipeline.report import source_stats
from pixelkit.pipeline.shards import read_shard
from pixelkit.pipeline.tasks.job import run_task

pytestmark = pytest.mark.slow
LOG = "pixelkit.pipeline.tasks.job"


def _pairs(tmp_path, udhr):
    rows = [("arb", "hin", "entailment"), ("eng", "arb", "neutral"), ("eng", "eng", "contradiction")]
    path = tmp_path / "train.tsv"
    path.write_text("".join(f"{udhr[a]['paragraphs'][0][:120]}\t{udhr[b]['paragraphs'][0][:80]}\t{label}\n"
                            for a, b, label in rows), encoding="utf-8")
    return path


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOG and r.levelno == logging.WARNING]


def test_task_splits_count_tofu_per_source_and_warn(tmp_path, udhr, caplog):
    """PIXAR's PixeloidSans lacks Arabic and Devanagari: the split's counts hold the task source's characters and
    tofu (the sums of its samples' text and unknown_glyphs), the log and card warn, without naming run's filter."""
    src = _pairs(tmp_path, udhr)
    with caplog.at_level(logging.WARNING, logger=LOG):
        ms = run_task(["--task=xnli-en", f"--input=train={src}", f"--output={tmp_path / 'o'}", "--preset=pixar-pango",
                       "--max_patches=256", "--workers=1"])
    m = ms["train"]
    samples = [s for info in m.shards for s in read_shard(tmp_path / "o" / "train" / info.name)]
    assert m.counts["documents_written"] == len(samples) == 3
    stats = source_stats(m.counts)
    assert list(stats) == ["xnli-en"]
    assert stats["xnli-en"]["chars_rendered"] == sum(len(s.text) for s in samples)
    assert stats["xnli-en"]["tofu_chars"] == sum(s.unknown_glyphs for s in samples) > 100
    warned = _warnings(caplog)
    assert len(warned) == 1 and warned[0].startswith("train: source 'xnli-en': ") and "tofu" in warned[0]
    assert "--max_unknown_ratio" not in warned[0] and "no tofu filter" in warned[0]
    card = (tmp_path / "o" / "train" / "README.md").read_text()
    assert "| xnli-en | " in card and "source 'xnli-en'" in card and "--max_unknown_ratio" not in card
    assert "Characters per source (every record rendered" in card  # a task split renders records, not chunks


def test_task_splits_count_unshaped_characters_of_the_pygame_backend(tmp_path, udhr, caplog):
    src = _pairs(tmp_path, udhr)
    with caplog.at_level(logging.WARNING, logger=LOG):
        ms = run_task(["--task=xnli-en", f"--input=train={src}", f"--output={tmp_path / 'o'}", "--preset=pixel",
                       "--backend=pygame", "--max_patches=256", "--workers=1"])
    stats = source_stats(ms["train"].counts)["xnli-en"]
    assert stats["unshaped_chars"] > 100 and stats["tofu_chars"] == 0
    assert [w for w in _warnings(caplog) if "unshaped" in w][0].startswith("train: source 'xnli-en': ")
