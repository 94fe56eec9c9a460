"""The same inputs give the same bytes wherever they are: one folder of files read by absolute path into one output
folder, and through a symlink by a relative path from another current directory into a folder of another name, give
byte-identical shards, manifests, cards and dead letters (`pixel-render run` and `pixel-render task`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLE_DIR
from pixelkit.pipeline.main import run
from pixelkit.pipeline.tasks.job import run_task

pytestmark = pytest.mark.slow


def _files(out: Path) -> dict[str, bytes]:
    """Every file a run wrote but its rerun guard (``.pixelkit-run.json`` records the --input as given)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != ".pixelkit-run.json"}


def _twice(tmp_path: Path, monkeypatch, job, argv) -> tuple[dict, dict]:
    """``job`` on tmp/data/<file> by absolute path into tmp/first, then on tmp/link/<file> (a symlink to data)
    by a relative path from tmp into tmp/elsewhere/second: what each wrote."""
    (tmp_path / "link").symlink_to(tmp_path / "data")
    job(argv(str(tmp_path / "data"), tmp_path / "first"))
    monkeypatch.chdir(tmp_path)
    job(argv("link", tmp_path / "elsewhere" / "second"))
    return _files(tmp_path / "first"), _files(tmp_path / "elsewhere" / "second")


def test_run_writes_the_same_bytes_from_any_path_to_the_same_files(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    good = [json.dumps({"id": f"d{i}", "text": line}) for i, line in
            enumerate((SAMPLE_DIR / "wikitext-2-test-excerpt.txt").read_text().splitlines()[:40]) if line.strip()]
    (tmp_path / "data" / "web.jsonl").write_text("\n".join(good[:3] + ['{"id": broken'] + good[3:]) + "\n")
    first, second = _twice(tmp_path, monkeypatch, run, lambda d, out: [
        f"--input=web={d}/*.jsonl", f"--output={out}", "--min_patches=2", "--samples_per_shard=4"])
    assert sum(n.endswith(".tar") for n in first) > 1 and first["dead_letters.jsonl"]
    assert [json.loads(x)["file"] for x in first["dead_letters.jsonl"].splitlines()] == ["web.jsonl"]
    assert sorted(first) == sorted(second)
    for name in first:
        assert first[name] == second[name], name


def test_task_writes_the_same_bytes_from_any_path_to_the_same_files(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    blocks = (SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu").read_text().split("\n\n")[:6]
    broken = blocks[2].splitlines()
    tok = next(i for i, x in enumerate(broken) if x[:1].isdigit())
    broken[tok] = broken[tok].replace("\t", " ", 1)  # one broken CoNLL-U line: a dead letter
    (tmp_path / "data" / "train.conllu").write_text("\n\n".join([*blocks[:2], "\n".join(broken), *blocks[3:]]) + "\n\n")
    first, second = _twice(tmp_path, monkeypatch, run_task, lambda d, out: [
        "--task=ud-en_ewt-pos", f"--input=train={d}/train.conllu", f"--output={out}", "--max_patches=256"])
    letters = [json.loads(x) for x in first["train/dead_letters.jsonl"].splitlines()]
    assert [d["file"] for d in letters] == ["train.conllu"]
    assert sorted(first) == sorted(second) and any(n.endswith(".tar") for n in first)
    for name in first:
        assert first[name] == second[name], name


def test_the_manifest_names_the_fallback_fonts_folder_not_its_path(tmp_path, monkeypatch):
    from pixelkit.pipeline.render.config import RenderConfig, fonts_dir
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "PixeloidSans.ttf").write_bytes((fonts_dir() / "PixeloidSans.ttf").read_bytes())
    (tmp_path / "link").symlink_to(tmp_path / "extra")
    absolute = RenderConfig(fallback_fonts_dir=str(tmp_path / "extra")).to_dict()
    monkeypatch.chdir(tmp_path)
    assert RenderConfig(fallback_fonts_dir="extra/").to_dict() == absolute  # from another folder, relative
    assert absolute["fallback_fonts_dir"] == "extra" and "PixeloidSans.ttf" in absolute["font_sha256"]
    assert RenderConfig(fallback_fonts_dir="link").to_dict()["font_sha256"] == absolute["font_sha256"]


def test_resume_takes_the_same_files_by_another_path(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "book.txt").write_text((SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text())
    monkeypatch.chdir(tmp_path)
    first = run(["--input=books=data/book.txt", "--output=out", "--min_patches=4"])
    monkeypatch.chdir(SAMPLE_DIR)  # the same file by its absolute path, from elsewhere: the same run
    again = run([f"--input=books={tmp_path / 'data' / 'book.txt'}", f"--output={tmp_path / 'out'}", "--min_patches=4",
                 "--resume"])
    assert [s.sha256 for s in again.shards] == [s.sha256 for s in first.shards] and first.num_samples > 4


def test_dead_letters_of_two_same_named_files_of_a_split_name_them_apart(tmp_path):
    blocks = (SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu").read_text().split("\n\n")[:3]
    for d in ("d1", "d2"):
        (tmp_path / "ud" / d).mkdir(parents=True)
        (tmp_path / "ud" / d / "train.conllu").write_text("\n\n".join([*blocks, "1 broken"]) + "\n\n")
    run_task(["--task=ud-en_ewt-pos", f"--input=train={tmp_path}/ud/d1/train.conllu",
              f"--input=train={tmp_path}/ud/d2/*.conllu", f"--output={tmp_path / 'out'}", "--max_patches=256"])
    letters = [json.loads(x) for x in (tmp_path / "out" / "train" / "dead_letters.jsonl").read_text().splitlines()]
    assert sorted(d["file"] for d in letters) == ["d1/train.conllu", "d2/train.conllu"]


def test_dead_letters_of_two_same_named_files_of_a_source_name_them_apart(tmp_path):
    good = json.dumps({"id": "x", "text": (SAMPLE_DIR / "pride-and-prejudice-excerpt.txt").read_text()[:2000]})
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "web.jsonl").write_text(good.replace('"x"', f'"{d}"') + '\n{"id": broken\n')
    run([f"--input=web={tmp_path}/d1/web.jsonl", f"--input=web={tmp_path}/d2/*.jsonl", f"--output={tmp_path / 'out'}",
         "--min_patches=2"])
    letters = [json.loads(x) for x in (tmp_path / "out" / "dead_letters.jsonl").read_text().splitlines()]
    assert sorted(d["file"] for d in letters) == ["d1/web.jsonl", "d2/web.jsonl"]
