"""Shards load with Hugging Face datasets' webdataset builder (offline); PNG pixels arrive as images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pixelkit.pipeline.main import run
from pixelkit.schemas import decode_pixels

SAMPLE = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"


@pytest.mark.parametrize("encoding", ["png", "pxz"])
def test_load_dataset_webdataset(tmp_path, monkeypatch, encoding):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "shards"
    m = run([f"--input=gutenberg={SAMPLE / 'pride-and-prejudice-excerpt.txt'}", f"--output={out}",
             f"--encoding={encoding}", "--samples_per_shard=8"])
    files = sorted(str(p) for p in out.glob("*.tar"))
    ds = datasets.load_dataset("webdataset", data_files={"train": files}, split="train",
                               cache_dir=str(tmp_path / "hf-cache"))
    assert len(ds) == m.num_samples and set(ds.column_names) >= {"json", "txt", encoding}
    row = ds[0]
    if encoding == "png":
        img = row["png"]
        assert img.size == (8464, 16) and img.mode == "L"  # decoded by datasets as an image
        pixels = np.asarray(img)
    else:
        pixels = decode_pixels(row["pxz"], "pxz", mode="gray", height=16, width=8464)
    assert pixels.shape == (16, 8464)
    assert (pixels[:, row["json"]["num_patches"] * 16:(row["json"]["num_patches"] + 1) * 16] == 0).all()
    assert row["txt"] and os.path.basename(row["__url__"]).startswith("train-")
