"""Reruns never mix: a directory holding another run's shards is refused (or replaced with --overwrite), --resume
finishes the same run, and the dataset card's loading recipe loads exactly the manifest's shards."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from pixelkit.pipeline.cli_shards import verify
from pixelkit.pipeline.main import run
from pixelkit.pipeline.outdir import RUN_FILE, drop_stale_shards, prepare_output, run_files
from pixelkit.pipeline.validate import SettingsError

SAMPLE = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"


def _argv(out: Path, *extra: str) -> list[str]:
    return [f"--input=gutenberg={SAMPLE / 'pride-and-prejudice-excerpt.txt'}", f"--output={out}", "--min_patches=4",
            *extra]


def _state(d: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(d.iterdir())}


@pytest.mark.slow
def test_rerun_refused_overwrite_replaces_resume_finishes_and_the_card_loads_the_manifest(tmp_path, monkeypatch):
    out = tmp_path / "shards"
    first = run(_argv(out, "--samples_per_shard=2"))
    assert len(first.shards) > 4
    before = _state(out)
    with pytest.raises(SettingsError, match="already holds a run .* --overwrite"):
        run(_argv(out, "--samples_per_shard=8"))
    with pytest.raises(SettingsError, match="other settings"):
        run(_argv(out, "--samples_per_shard=8", "--resume"))
    assert _state(out) == before  # refused before anything was written

    second = run(_argv(out, "--samples_per_shard=8", "--overwrite"))
    assert second.num_samples == first.num_samples and len(second.shards) < len(first.shards)
    assert sorted(p.name for p in out.glob("*.tar")) == [s.name for s in second.shards]
    assert verify(out) == []

    tars = {n: v for n, v in _state(out).items() if n.endswith(".tar")}
    again = run(_argv(out, "--samples_per_shard=8", "--resume"))  # the same run: every shard kept
    assert [s.sha256 for s in again.shards] == [s.sha256 for s in second.shards]
    assert {n: v for n, v in _state(out).items() if n.endswith(".tar")} == tars  # not written again

    # a shard with a byte changed inside its last sample, and one cut inside it, hold the same keys: --resume kept
    # them (and listed their hashes in the manifest); now each is compared with the bytes the run would write
    good = {s.name: (out / s.name).read_bytes() for s in second.shards}
    flipped, cut = (out / s.name for s in second.shards[:2])
    with tarfile.open(flipped) as tf:
        last = tf.getmembers()[-1]
    at = last.offset_data + last.size // 2
    flipped.write_bytes(good[flipped.name][:at] + bytes([good[flipped.name][at] ^ 1]) + good[flipped.name][at + 1:])
    with tarfile.open(cut) as tf:
        last = tf.getmembers()[-1]
    cut.write_bytes(good[cut.name][:last.offset_data + last.size // 2])
    assert verify(out) != []
    fixed = run(_argv(out, "--samples_per_shard=8", "--resume"))
    assert [s.sha256 for s in fixed.shards] == [s.sha256 for s in second.shards]
    assert {s.name: (out / s.name).read_bytes() for s in second.shards} == good and verify(out) == []
    now = {n: v for n, v in _state(out).items() if n.endswith(".tar")}
    assert [n for n in tars if now[n] != tars[n]] == [flipped.name, cut.name]  # only those two written again

    card = (out / "README.md").read_text()
    pattern = re.search(r'data_files=\{"train": "([^"]+)"\}', card).group(1)
    assert sorted(p.name for p in out.glob(pattern)) == [s.name for s in second.shards]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("webdataset", data_files={"train": str(out / pattern)}, split="train",
                               cache_dir=str(tmp_path / "hf-cache"))
    assert len(ds) == second.num_samples


def _fake_run(d: Path, names: list[str], fingerprint: dict | None) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_bytes(b"x")
    if fingerprint is not None:
        (d / RUN_FILE).write_text(json.dumps(fingerprint))


def test_prepare_output_rules(tmp_path):
    fp = {"split": "train", "samples_per_shard": 8}
    prepare_output(tmp_path / "new", fp, resume=False, overwrite=False)  # a new directory: fine
    assert json.loads((tmp_path / "new" / RUN_FILE).read_text()) == fp
    prepare_output(tmp_path / "new", fp, resume=True, overwrite=False)  # no shards yet, same settings: fine

    used = tmp_path / "used"
    _fake_run(used, ["train-00000-of-00002.tar", "train-00001-of-00002.tar", "manifest.json", "README.md",
                     ".train-00002-of-00003.tar.123.tmp", "notes.txt"], fp)
    assert run_files(used) == [".train-00002-of-00003.tar.123.tmp", "manifest.json",
                                                 "train-00000-of-00002.tar", "train-00001-of-00002.tar"]
    with pytest.raises(SettingsError, match="already holds a run"):
        prepare_output(used, fp, resume=False, overwrite=False)
    with pytest.raises(SettingsError, match="other settings"):
        prepare_output(used, fp | {"samples_per_shard": 9}, resume=True, overwrite=False)
    prepare_output(used, fp, resume=True, overwrite=False)  # the same run, finishing
    assert len(run_files(used)) == 4

    (used / RUN_FILE).unlink()
    with pytest.raises(SettingsError, match="no record of their settings"):
        prepare_output(used, fp, resume=True, overwrite=False)
    prepare_output(used, fp | {"split": "dev"}, resume=False, overwrite=True)
    assert run_files(used) == [] and sorted(p.name for p in used.iterdir()) == [RUN_FILE, "notes.txt"]


@pytest.mark.parametrize("record", [b"{half a record", b"\xff\xfe{}", b"[" * 100_000])
def test_a_damaged_run_record_is_no_record(tmp_path, record):
    """A damaged .pixelkit-run.json: --resume is refused naming it, --overwrite replaces it (both raised
    JSONDecodeError), a directory without shards takes this run's record."""
    fp = {"split": "train", "samples_per_shard": 8}
    _fake_run(tmp_path, ["train-00000-of-00001.tar"], None)
    (tmp_path / RUN_FILE).write_bytes(record)
    with pytest.raises(SettingsError, match=r"no record of their settings \(\.pixelkit-run\.json, which is damaged"):
        prepare_output(tmp_path, fp, resume=True, overwrite=False)
    prepare_output(tmp_path, fp, resume=False, overwrite=True)
    assert run_files(tmp_path) == [] and json.loads((tmp_path / RUN_FILE).read_text()) == fp
    (tmp_path / RUN_FILE).write_bytes(record)
    prepare_output(tmp_path, fp, resume=True, overwrite=False)
    assert json.loads((tmp_path / RUN_FILE).read_text()) == fp


def test_stale_shards_of_an_earlier_attempt_are_dropped(tmp_path):
    _fake_run(tmp_path, ["train-00000-of-00003.tar", "train-00002-of-00003.tar", "train-00000-of-00002.tar",
                         "train-00001-of-00002.tar", "dev-00000-of-00001.tar"], None)
    dropped = drop_stale_shards(tmp_path, "train", {"train-00000-of-00002.tar", "train-00001-of-00002.tar"})
    assert dropped == ["train-00000-of-00003.tar", "train-00002-of-00003.tar"]
    assert sorted(p.name for p in tmp_path.glob("*.tar")) == ["dev-00000-of-00001.tar", "train-00000-of-00002.tar",
                                                              "train-00001-of-00002.tar"]


def test_a_folder_whose_readme_is_not_a_runs_is_refused(tmp_path, capsys):
    """--output a corpus folder (the input's own, here) with its own README.md: the run replaced it with the dataset
    card without a word (and its dead_letters.jsonl with the run's). Refused before anything is written, --overwrite
    too (it replaces runs, not other files); a folder with a run record (a run that stopped) is the run's."""
    from pixelkit.pipeline.cli import main as render_main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "book.txt").write_text((SAMPLE / "pride-and-prejudice-excerpt.txt").read_text()[:3000])
    (corpus / "README.md").write_text("# my corpus: where each book came from\n")
    before = _state(corpus)
    for extra in ([], ["--overwrite"]):
        rc = render_main(["run", f"--input=books={corpus}/*.txt", f"--output={corpus}", *extra])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and err.splitlines() == [
            f"pixel-render run: error: --output {corpus} holds README.md, which no pixelkit run wrote (no shards, "
            "manifest or run record there): this run would replace them with its own (the dataset card, dead "
            "letters); give a new or empty --output"], err
        assert _state(corpus) == before
    fp = {"split": "train", "samples_per_shard": 8}
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "dead_letters.jsonl").write_text('{"mine": 1}\n')
    with pytest.raises(SettingsError, match="holds dead_letters.jsonl, which no pixelkit run wrote"):
        prepare_output(tmp_path / "other", fp, resume=True, overwrite=False)
    (tmp_path / "other" / RUN_FILE).write_text(json.dumps(fp))  # a run that stopped after its first files
    prepare_output(tmp_path / "other", fp, resume=True, overwrite=False)
