"""What the main job writes loads with Hugging Face's own tools: shard sets with ``datasets.load_dataset(dir)``
(the card's ``configs`` and features), pxz decoded by the card's one-liner; trained models with
``AutoModel.from_pretrained`` after ``import pixelkit``, with a model card."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from pixelkit.pipeline.main import run
from pixelkit.schemas import RenderedSample, ShardManifest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "pipeline" / "sample_data" / "pride-and-prejudice-excerpt.txt"


def _front_matter(card: str) -> dict:
    return yaml.safe_load(card.split("---\n")[1])


@pytest.fixture(scope="module")
def hf_offline():
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    yield
    for k, v in old.items():
        os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


@pytest.mark.parametrize("encoding,preset", [("pxz", "pixel"), ("png", "pixar")])
def test_load_dataset_from_the_folder(tmp_path, hf_offline, encoding, preset):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "shards"
    m = run([f"--input=gutenberg={BOOK}", f"--output={out}", f"--encoding={encoding}", f"--preset={preset}",
             "--samples_per_shard=8"])
    card = (out / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": f"train-*-of-{len(m.shards):05d}.tar"}]}]
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert len(ds) == m.num_samples and sorted(os.path.basename(u) for u in set(ds["__url__"])) == \
        sorted(s.name for s in m.shards)
    declared = meta["dataset_info"]["features"]
    assert json.loads(json.dumps(datasets.DatasetInfo(features=ds.features)._to_yaml_dict()["features"])) == declared
    plain = datasets.load_dataset("webdataset", data_files={"train": [str(out / s.name) for s in m.shards]},
                                  split="train", cache_dir=str(tmp_path / "hf-cache-plain"))  # no card: inferred
    inferred = json.loads(json.dumps(datasets.DatasetInfo(features=plain.features)._to_yaml_dict()["features"]))
    assert [f for f in declared if f["name"] != "json"] == [f for f in inferred if f["name"] != "json"]
    card_json, data_json = (next(f["struct"] for f in fs if f["name"] == "json") for fs in (declared, inferred))
    assert all(f in card_json for f in data_json)  # every field the data has, typed as datasets infers it
    assert {f["name"] for f in card_json} - {f["name"] for f in data_json} <= {"replaced_chars"}
    ref = {s.key: s for s in _samples(out, m)}
    row = ds[0]
    want = ref[row["__key__"]].decode()
    if encoding == "png":
        img = row["png"]  # an image column: what the dataset viewer shows
        assert img.mode == "1" and np.array_equal(np.asarray(img).astype(np.uint8), want)  # binary: 1-bit
        assert "`--encoding png`" not in card
    else:
        recipe = re.search(r"```python\n(from PIL import Image\nfrom pixelkit.schemas import decode_pixels\nds = .*)\n```",
                           card).group(1)
        scope = {"ds": ds.select(range(3))}
        exec(recipe, scope)  # the card's documented one-liner, as written
        assert scope["ds"].features["image"] == datasets.Image()
        first = np.asarray(scope["ds"][0]["image"])
        assert first.dtype == np.uint8 and np.array_equal(first, want)
        assert "`--encoding png`" in card  # the viewer-friendly choice is named


def _samples(out: Path, m: ShardManifest):
    import webdataset as wds

    urls = [str(out / s.name) for s in m.shards]
    return list(wds.WebDataset(urls, shardshuffle=False).map(RenderedSample.from_wds))


def test_auto_model_loads_a_trained_model_with_its_card(tmp_path, gray_shards):
    from test_trainer_engine import _main  # pixel-train's main in this process (no subprocess start-up)
    out = tmp_path / "run"
    log = _main("pretrain", "--model", "pixel", "--data", str(gray_shards), "--out", str(out), "--steps", "2",
                "--set", "log_every=1")
    assert re.search(r"step 2/2 +loss \d", log), log[-2000:]  # not a TTY: a plain line per log_every
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoModelForPreTraining

    from pixelkit import trainer  # noqa: F401  -- registers pixelkit's model types
    from pixelkit.trainer.hf import manifest_sha256
    from pixelkit.trainer.models.pixel import PixelForPreTraining

    model_dir = out / "model"
    assert AutoConfig.from_pretrained(model_dir).model_type == "pixelkit-pixel"
    model = AutoModel.from_pretrained(model_dir)
    assert type(model) is PixelForPreTraining and type(AutoModelForPreTraining.from_pretrained(model_dir)) is \
        PixelForPreTraining
    saved = load_file(model_dir / "model.safetensors")
    state = model.state_dict()
    assert saved and all(torch.equal(state[k], v) for k, v in saved.items())
    card = (model_dir / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["library_name"] == "transformers" and "pixel" in meta["tags"]
    sha = manifest_sha256(ShardManifest.read(gray_shards))
    assert sha in card and "2 optimizer steps" in card
    last = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()][-1]
    assert f"| loss | {last['loss']:.6g} |" in card
