"""Hostile ``pixel-render run --input`` values: a named pipe (or socket, device) and the same file given twice.

A FIFO named as an input is refused before any work (one line, exit 2: reading it waits for a writer forever); one
a glob or a book directory turns up is a counted ``not_a_regular_file`` skip, never opened. Two inputs that would
read the same file (repeated, a file and the book directory holding it, a symlink or hard link, overlapping
patterns) are refused, naming the file: documents read twice would be rendered twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pixelkit.pipeline.cli import main as render_main
from pixelkit.pipeline.documents import Skipped
from pixelkit.pipeline.readers.books import iter_book_dir
from pixelkit.pipeline.validate import _input_problems

ROOT = Path(__file__).resolve().parents[1]
PRIDE = ROOT / "pipeline" / "sample_data" / "pride-and-prejudice-excerpt.txt"


@pytest.fixture
def corpus(tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    (books / "a.txt").write_text(PRIDE.read_text(encoding="utf-8")[:3000], encoding="utf-8")
    (books / "b.txt").write_text(PRIDE.read_text(encoding="utf-8")[3000:6000], encoding="utf-8")
    os.mkfifo(books / "pipe.txt")  # nobody ever writes to it
    return books


def _refused(argv: list[str], capsys, out: Path) -> list[str]:
    rc = render_main(["run", *argv, f"--output={out}"])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2 and lines and all(ln.startswith("pixel-render run: error: ") for ln in lines), err
    assert "Traceback" not in err and not out.exists()
    return lines


def test_a_named_fifo_is_refused_before_work(corpus, tmp_path, capsys):
    fifo = corpus / "pipe.txt"
    assert any("is a named pipe (FIFO), not a regular file" in p for p in _input_problems([f"b={fifo}"], "auto"))
    lines = _refused([f"--input=b={fifo}"], capsys, tmp_path / "out")
    assert len(lines) == 1 and f"--input b={fifo}: {fifo} is a named pipe (FIFO)" in lines[0]


def test_a_fifo_in_a_book_directory_is_a_counted_skip(corpus):
    out = list(iter_book_dir(str(corpus), "books"))
    assert Skipped("books", "pipe.txt", "not_a_regular_file") in out
    assert sum(isinstance(r, Skipped) for r in out) == 1 and len(out) > 2  # a.txt and b.txt read


def test_a_fifo_a_glob_matches_is_skipped_and_the_counts_add_up(corpus, tmp_path):
    """The whole job, in a subprocess with a timeout: before the fix it waited for a writer forever."""
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "run", f"--input=books={corpus}/*.txt",
                        f"--output={out}", "--max_patches=64"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr[-2000:]
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["skipped_not_a_regular_file"] == 1 and counts["documents_written"] == 2, counts
    assert counts["records_read"] == sum(v for k, v in counts.items() if k.startswith(("skipped_", "dead_"))) + 2


@pytest.mark.parametrize("case", ["repeated", "file and its directory", "symlink", "hard link", "two sources",
                                  "overlapping patterns"])
def test_the_same_file_twice_is_refused_naming_it(corpus, tmp_path, capsys, case):
    a = corpus / "a.txt"
    link = tmp_path / "link.txt"
    if case == "symlink":
        link.symlink_to(a)
    elif case == "hard link":
        os.link(a, link)
    argv = {"repeated": [f"--input={a}", f"--input={a}"],
            "file and its directory": [f"--input=books={corpus}", f"--input=extra={a}"],
            "symlink": [f"--input={a}", f"--input={link}"],
            "hard link": [f"--input={a}", f"--input=l={link}"],
            "two sources": [f"--input=x={a}", f"--input=y={a}"],
            "overlapping patterns": [f"--input=x={corpus}/a*.txt", f"--input=y={corpus}/[ab].txt"]}[case]
    specs = [v.removeprefix("--input=") for v in argv]
    problems = _input_problems(specs, "auto")
    assert [p for p in problems if "would be read twice" in p], problems
    lines = _refused(argv, capsys, tmp_path / "out")
    assert len(lines) == 1 and f"--input {specs[1]}: " in lines[0] and "would be read twice" in lines[0]
    assert str(link if case in ("symlink", "hard link") else a) in lines[0]


def test_one_pattern_matching_a_file_and_its_symlink_is_refused(corpus, tmp_path):
    (corpus / "c.txt").symlink_to(corpus / "a.txt")
    [problem] = _input_problems([f"books={corpus}/*.txt"], "auto")
    assert "c.txt (the same file as" in problem and "this pattern matches it twice" in problem


def test_distinct_files_and_a_fifo_under_a_glob_pass_the_checks(corpus):
    assert _input_problems([f"x={corpus}/a.txt", f"y={corpus}/b.txt"], "auto") == []
    assert _input_problems([f"z={corpus}/*.txt"], "auto") == []  # the FIFO it matches is skipped when read


def test_pixel_render_task_refuses_a_named_fifo_and_skips_one_a_glob_matches(tmp_path):
    """The same two rules for ``pixel-render task`` (its own settings and reader DoFn); subprocesses with a timeout,
    since before the fix both waited for a writer forever."""
    ud = tmp_path / "ud"
    ud.mkdir()
    (ud / "train.conllu").write_bytes((ROOT / "pipeline" / "sample_data" / "en_ewt-ud-test-excerpt.conllu").read_bytes())
    os.mkfifo(ud / "pipe.conllu")

    def task(pattern: str, out: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "task", "--task=ud-en_ewt-pos",
                               f"--input=train={pattern}", f"--output={out}", "--max_patches=64"], cwd=ROOT,
                              capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})

    p = task(str(ud / "pipe.conllu"), tmp_path / "never")
    assert p.returncode == 2 and "pipe.conllu is a named pipe (FIFO), not a regular file" in p.stderr, p.stderr[-2000:]
    assert not (tmp_path / "never").exists()
    out = tmp_path / "out"
    p = task(f"{ud}/*.conllu", out)
    assert p.returncode == 0, p.stderr[-2000:]
    counts = json.loads((out / "train" / "manifest.json").read_text())["counts"]
    assert counts["skipped_not_a_regular_file"] == 1 and counts["documents_written"] == 30, counts


def test_a_directory_and_a_dangling_or_looping_symlink_a_glob_matches_are_counted(corpus, tmp_path):
    """Beam's match drops, without a word, what it cannot stat and what is a directory: a glob's dangling symlink (an
    HF cache whose blobs are gone), a symlink loop, a directory named like the files. They vanished from the counts;
    now the directory is a ``not_a_regular_file`` skip and each symlink an ``unreadable_file`` dead letter."""
    (corpus / "sub.txt").mkdir()
    (corpus / "gone.txt").symlink_to(tmp_path / "deleted-blob")
    (corpus / "loop.txt").symlink_to(corpus / "loop")
    (corpus / "loop").symlink_to(corpus / "loop.txt")  # no suffix: only "*" matches it
    out = tmp_path / "out"
    for pattern, dead in ((f"{corpus}/*.txt", ["gone.txt", "loop.txt"]),
                          (f"{corpus}/*", ["gone.txt", "loop", "loop.txt"])):
        p = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "run", f"--input=books={pattern}",
                            f"--output={out}", "--max_patches=64", "--overwrite"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
        counts = json.loads((out / "manifest.json").read_text())["counts"]
        assert counts["documents_written"] == 2, counts
        assert (counts["skipped_not_a_regular_file"], counts["dead_unreadable_file"]) == (2, len(dead)), counts
        assert counts["records_read"] == sum(v for k, v in counts.items() if k.startswith(("skipped_", "dead_"))) + 2
        letters = [json.loads(x) for x in (out / "dead_letters.jsonl").read_text().splitlines()]
        assert sorted(Path(d["file"]).name for d in letters) == dead, letters  # (the FIFO and sub.txt: skipped)


def test_pixel_render_task_counts_a_directory_and_a_dangling_symlink_a_glob_matches(tmp_path):
    """The same silent drop in ``pixel-render task`` (its own ReadSplit): a glob's dangling symlink and a directory
    named like the files are now an ``unreadable_file`` dead letter and a ``not_a_regular_file`` skip."""
    ud = tmp_path / "ud"
    ud.mkdir()
    (ud / "train.conllu").write_bytes((ROOT / "pipeline" / "sample_data" / "en_ewt-ud-test-excerpt.conllu").read_bytes())
    (ud / "old.conllu").mkdir()
    (ud / "gone.conllu").symlink_to(tmp_path / "deleted")
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "task", "--task=ud-en_ewt-pos",
                        f"--input=train={ud}/*.conllu", f"--output={out}", "--max_patches=64"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    counts = json.loads((out / "train" / "manifest.json").read_text())["counts"]
    assert (counts["skipped_not_a_regular_file"], counts["dead_unreadable_file"]) == (1, 1), counts
    assert counts["documents_written"] == 30, counts


@pytest.mark.parametrize("spec", ["=PATH", " =PATH"])
def test_an_empty_source_name_is_refused_before_work(corpus, tmp_path, capsys, spec):
    """``--input =books/a.txt`` ran with a source named "": a blank row in the summary and the dataset card, and
    counts (``chars_rendered:``) naming no source. Refused now, naming the flag and the fix."""
    spec = spec.replace("PATH", str(corpus / "a.txt"))
    [line] = _refused([f"--input={spec}"], capsys, tmp_path / "out")
    assert f"--input {spec}: the source name before '=' is empty; give source=pattern" in line


def test_a_file_with_no_records_is_a_counted_skip_in_every_format(corpus, tmp_path):
    """A .jsonl of blank lines, a .csv of its header only and a parquet of 0 rows gave no record at all: the file
    vanished from the counts (an empty .txt was already an ``empty_text`` skip). Each is now a ``no_records`` skip,
    and a file with records is not."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (corpus / "blank.jsonl").write_text("\n  \n\n", encoding="utf-8")
    (corpus / "one.jsonl").write_text(json.dumps({"text": "A line of real text to render."}) + "\n", encoding="utf-8")
    (corpus / "header.csv").write_text("id,text\n", encoding="utf-8")
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), corpus / "none.parquet")
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "run", f"--input=web={corpus}/*.jsonl",
                        f"--input=rows={corpus}/*.csv", f"--input=cols={corpus}/*.parquet", f"--output={out}",
                        "--max_patches=64"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["skipped_no_records"] == 3 and counts["documents_written"] == 1, counts
    assert counts["records_read"] == sum(v for k, v in counts.items() if k.startswith(("skipped_", "dead_"))) + 1


def test_pixel_render_task_counts_a_split_file_with_no_records(tmp_path):
    """The same for ``pixel-render task``: a CoNLL-U file of comments only in a split's glob vanished from its
    counts; it is now a ``no_records`` skip beside the other file's 30 sentences."""
    ud = tmp_path / "ud"
    ud.mkdir()
    (ud / "a.conllu").write_bytes((ROOT / "pipeline" / "sample_data" / "en_ewt-ud-test-excerpt.conllu").read_bytes())
    (ud / "b.conllu").write_text("# newdoc id = nothing\n\n", encoding="utf-8")
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "task", "--task=ud-en_ewt-pos",
                        f"--input=train={ud}/*.conllu", f"--output={out}", "--max_patches=64"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr[-2000:]
    counts = json.loads((out / "train" / "manifest.json").read_text())["counts"]
    assert counts["skipped_no_records"] == 1 and counts["documents_written"] == 30, counts
