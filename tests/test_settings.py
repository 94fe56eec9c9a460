"""Settings that cannot work are refused before any work: one line per problem naming the flag and the fix, exit
code 2, no traceback, nothing written. Table-driven: pixel-render run and the one-off pixel-render commands
(pixel-train's settings: test_trainer_settings.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pixelkit.pipeline.cli import main as render_main

SAMPLE = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
PRIDE = SAMPLE / "pride-and-prejudice-excerpt.txt"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "words.tsv").write_text("a,b\n")
    (tmp_path / "tok.json").write_text("{not json")
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "pixar").write_text("a file where `sample` makes a folder")
    return tmp_path


# (case, argv after the defaults ("-" drops a default flag), what stderr must say)
RUN_CASES = [
    ("zero samples per shard", ["--samples_per_shard=0"], "--samples_per_shard 0 must be >= 1"),
    ("negative samples per shard", ["--samples_per_shard=-5"], "--samples_per_shard -5 must be >= 1"),
    ("negative tofu ratio", ["--max_unknown_ratio=-3"], "--max_unknown_ratio -3.0 must be in [0, 1]"),
    ("nan tofu ratio", ["--max_unknown_ratio=nan"], "--max_unknown_ratio nan must be in [0, 1]"),
    ("tofu ratio over 1", ["--max_unknown_ratio=1.5"], "--max_unknown_ratio 1.5 must be in [0, 1]"),
    ("negative workers", ["--workers=-1"], "--workers -1 must be in 0.."),
    ("ten thousand workers", ["--workers=10000"], f"--workers 10000 must be in 0..{4 * (os.cpu_count() or 1)} (0: Beam's default; "),
    # Beam's own flag for --workers: -3 was an IndexError traceback from Beam after --output was made (and a
    # large count spawned that many processes, as --workers did before its limit)
    ("negative Beam workers", ["--direct_running_mode=multi_processing", "--direct_num_workers=-3"],
     f"--direct_num_workers -3 must be in 0..{4 * (os.cpu_count() or 1)} (the local runner's workers"),
    ("strip too wide", ["--max_patches=1000000"], "a strip can be at most 32,767 px wide; use --max_patches <= 2047"),
    ("too few patches", ["--max_patches=1"], "--max_patches 1 must be >= 2"),
    # within cairo's width, over a shard sample's 64 MiB: every worker raised ValueError encoding its first strip
    ("rgb strip over a sample's size", ["--preset=pixel-rgb", "--patch=1024", "--max_patches=31"],
     "--max_patches 31 of 1024 px rgb patches is 97,517,568 bytes a strip, over the shard format's 67,108,864; "
     "use --max_patches <= 21"),
    ("not a font", ["--font=/etc/passwd"], "--font /etc/passwd is not a TrueType/OpenType font"),
    ("missing font", ["--font=NoSuchFont.ttf"], "font file not found"),
    ("tiny patch", ["--patch=2"], "--patch 2 must be in 4..1024"),
    ("missing fallback font dir", ["--fallback-fonts-dir={d}/none"], "--fallback_fonts_dir: fallback_fonts_dir is not a"),
    ("fallback font dir without fonts", ["--fallback-fonts-dir={d}"], "--fallback_fonts_dir {d} holds no .ttf/.otf/.ttc"),
    ("zero font size", ["--font_size=0"], "--font_size 0.0 must be a size in points"),
    ("zero dpi", ["--dpi=0"], "--dpi 0 must be > 0"),
    ("glyphs larger than cairo draws", ["--font_size=1000", "--dpi=5000"], "is 69,444 px per em: a glyph can be at most"),
    ("negative min patches", ["--min_patches=-1"], "--min_patches -1 must be >= 0"),
    ("min patches over the strip", ["--min_patches=529"], "--min_patches 529 can never be met"),
    ("negative doc cap", ["--max_doc_chars=-1"], "--max_doc_chars -1 must be >= 0"),
    ("bad split name", ["--split=dev.v2"], "--split 'dev.v2' must be letters, digits or _"),
    ("bad title regex", ["--drop_title=(unclosed"], "--drop_title '(unclosed' is not a valid regular expression"),
    ("empty text field", ["--text_field="], "--text_field '' must name a field"),
    ("pygame cannot do rgb", ["--preset=pixar", "--mode=rgb"],  # was "use backend='pangocairo'": no flag is so typed
     "the pygame backend renders gray or binary only; for rgb give --backend pangocairo"),
    # pygame.freetype cannot scale a bitmap-only font: it was a ValueError traceback from every worker's first strip
    # sizes pygame.freetype cannot draw: a ValueError / pygame.error from every worker, or samples with nothing drawn
    # under 1 px per em: Pango drew blank strips written as samples of their text; pygame raised in every worker
    ("glyphs under a pixel", ["--font_size=0.1"], "--font_size 0.1 at --dpi 120 is 0.167 px per em: a glyph under 1 px"),
    ("pygame under 1 px per em", ["--preset=pixar", "--dpi=1"], "--font_size 8 at --dpi 1 is 0.111 px per em: a glyph"),
    ("pygame drawing nothing", ["--preset=pixar", "--font_size=1000", "--dpi=500"],
     "(6.94e+03 px per em): the pygame backend cannot draw PixeloidSans.ttf at that size (nothing is drawn)"),
    ("pygame with a bitmap-only font", ["--preset=pixar", "--font=NotoColorEmoji.ttf"],
     "--font NotoColorEmoji.ttf has only bitmap glyphs (no outlines), which the pygame backend cannot scale"),
    ("missing tokenizer", ["--tokenizer=/nonexistent/tok.json"], "--tokenizer /nonexistent/tok.json does not exist"),
    ("broken tokenizer", ["--tokenizer={d}/tok.json"], "is not a tokenizers JSON file"),
    ("resume and overwrite", ["--resume", "--overwrite"], "--resume and --overwrite contradict each other"),
    ("typo in a flag", ["--sampels_per_shard=3"], "--sampels_per_shard: unknown option; did you mean --samples_per_shard?"),
    # a value argparse refuses: one line naming the flag and what it takes, not Beam's usage block (a SystemExit)
    ("format outside its choices", ["--format=nope"],
     "--format: invalid choice: 'nope' (choose from 'auto', 'wikipedia', 'books', 'jsonl', 'parquet', 'text', 'csv')"),
    ("encoding outside its choices", ["--encoding", "nope"], "--encoding: invalid choice: 'nope' (choose from 'png', 'pxz')"),
    ("patches not a number", ["--max_patches=abc"], "--max_patches/--max-patches: invalid int value: 'abc'"),
    ("no input", ["-input"], "--input is required"),
    ("the same input twice", ["-input", f"--input=books={PRIDE}", f"--input=books={PRIDE}"],
     f"--input books={PRIDE}: {PRIDE} would be read twice (the same --input is given twice); give each file once"),
    ("input matches nothing", ["-input", "--input=books={d}/nothing/*.txt"], "no file matches"),
    ("unknown input format", ["-input", "--input={d}/words.tsv"], "cannot tell the format"),
    ("no output", ["-output"], "--output is required"),
    ("output is a file", ["-output", "--output={d}/a-file"], "is a file; give a directory"),
    ("output under a file", ["-output", "--output={d}/a-file/shards"], "is a file, so no directory can be made"),
    # root passes os.access for /proc: it was refused nowhere, then a FileNotFoundError traceback from makedirs
    ("output in /proc", ["-output", "--output=/proc/x"], "--output /proc/x: no directory can be made in /proc"),
    ("output on a filesystem Beam lacks", ["-output", "--output=nosuchfs://bucket/shards"],
     "--output nosuchfs://bucket/shards: Unable to get filesystem"),
    ("input on a filesystem Beam lacks", ["-input", "--input=c4=nosuchfs://bucket/c4/*.jsonl"], "install its filesystem"),
]


@pytest.mark.parametrize("case,extra,expected", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_run_refuses_bad_settings_before_work(files, capsys, case, extra, expected):
    defaults = {"input": f"--input=books={PRIDE}", "output": f"--output={files}/out"}
    argv = [v for k, v in defaults.items() if f"-{k}" not in extra]
    argv += [a.format(d=files) for a in extra if not a.startswith("-") or a.startswith("--")]
    rc = render_main(["run", *argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("pixel-render run: error: ") for line in lines), err
    assert any(expected.format(d=files) in line for line in lines), err
    assert "Traceback" not in err and not (files / "out").exists()


def test_several_problems_are_reported_at_once(files, capsys):
    assert render_main(["run", f"--input={PRIDE}", f"--output={files}/out", "--samples_per_shard=0",
                        "--workers=-1", "--max_unknown_ratio=-3"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 3


CLI_CASES = [
    ("fontcheck on a non-font", ["fontcheck", "/etc/passwd"], "/etc/passwd is not a TrueType/OpenType font"),
    ("text into a file's folder", ["text", "hi", "--out", "{d}/a-file/x.png"], "is a file, so no directory can be made"),
    ("text onto a directory", ["text", "hi", "--out", "{d}"], "is a directory; give a file name"),
    ("text to a .txt file", ["text", "hi", "--out", "{d}/x.txt"], "--out {d}/x.txt: .txt is not an image format"),
    ("text to a name without suffix", ["text", "hi", "--out", "{d}/x"], "no file extension to tell the image format"),
    ("text with a negative size", ["text", "hi", "--font-size", "-2"], "--font-size -2.0 must be a size in points"),
    ("text too wide", ["text", "hi", "--max-patches", "1000000"], "use --max-patches <= 2047"),
    ("text with a non-font", ["text", "hi", "--font", "/etc/passwd"], "is not a TrueType/OpenType font"),
    ("text in pygame with a bitmap-only font", ["text", "hi", "--backend", "pygame", "--font", "NotoColorEmoji.ttf"],
     "has only bitmap glyphs (no outlines), which the pygame backend cannot scale"),
    ("pair with a tiny patch", ["pair", "a", "b", "--patch", "1"], "--patch 1 must be in 4..1024"),
    ("demo with negative workers", ["demo", "--out", "{d}/demo", "--workers", "-1"], "--workers -1 must be in 0.."),
    ("text with a negative wrap", ["text", "hi", "--wrap", "-1"], "--wrap -1 must be >= 0"),
    ("text with zero scale", ["text", "hi", "--scale", "0"], "--scale 0 must be in 1..64"),
    ("qa with a negative stride", ["qa", "q", "ctx", "--stride", "-3"], "--stride -3 must be >= 0"),
    ("text too large to open", ["text", "hi", "--scale", "64", "--full", "--wrap", "0", "--out", "{d}/big.png"],
     "--scale 64: the image would be 541,696 x 1,024 px, over the 89,478,485 pixels"),
    ("pixelgpt folded, still too large", ["text", "hi", "--preset", "pixelgpt", "--scale", "64", "--full",
                                          "--out", "{d}/big.png"], "use --scale <= 17"),
    ("text starting with a dash", ["text", "-hello", "--out", "{d}/big.png"],
     "ignored explicit argument 'ello'; a text that starts with '-' goes after the options and a `--`"),
    ("words, one starting with a dash", ["words", "a", "-b", "--out", "{d}/big.png"],
     "unrecognized arguments: -b; a text that starts with '-' goes after the options"),
    ("fontcheck of nothing", ["fontcheck"], "no font given: give one or more .ttf/.otf/.ttc files"),
    ("fontcheck of a directory", ["fontcheck", "{d}"], "{d} is a directory, not a font file"),
    ("text with a directory as its font", ["text", "hi", "--font", "{d}"], "--font: {d} is a directory, not a font file"),
    ("demo into a file", ["demo", "--out", "{d}/a-file"], "--out {d}/a-file is a file; give a directory"),
    ("demo under a file", ["demo", "--out", "{d}/a-file/out"], "is a file, so no directory can be made"),
    ("sample into a file", ["sample", "--out", "{d}/a-file"], "--out {d}/a-file is a file; give a directory"),
    ("sample over a file it would write into", ["sample", "--out", "{d}/sm"],
     "--out {d}/sm: {d}/sm/pixar is a file, and sample writes its PNG files into {d}/sm/pixar/"),
    ("tokenizer under a file", ["tokenizer", "train", "--input", str(PRIDE), "--out", "{d}/a-file/tok.json"],
     "is a file, so no directory can be made"),
    ("tokenizer onto a directory", ["tokenizer", "train", "--input", str(PRIDE), "--out", "{d}"],
     "is a directory; give a file name, e.g. {d}/tokenizer.json"),
    ("tokenizer input matches nothing", ["tokenizer", "train", "--input", "{d}/none/*.txt"],
     "--input {d}/none/*.txt: no file matches"),
    ("tokenizer too small", ["tokenizer", "train", "--input", str(PRIDE), "--vocab-size", "100"],
     "--vocab-size 100 must be >= 257"),
    ("tokenizer of an unknown format", ["tokenizer", "train", "--input", str(PRIDE), "--format", "docx"],
     "invalid choice: 'docx'"),
]


@pytest.mark.parametrize("case,argv,expected", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_one_off_commands_refuse_bad_settings(files, capsys, case, argv, expected):
    try:
        rc = render_main([a.format(d=files) for a in argv])
    except SystemExit as e:  # argparse's own refusals (choices, types): usage + one error line, exit 2
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and expected.format(d=files) in err and "Traceback" not in err, err
    assert not (files / "demo" / "pixel-gray").exists()
    assert not (files / "big.png").exists() and [p.name for p in (files / "sm").iterdir()] == ["pixar"]


def test_the_largest_scale_that_fits_is_drawn(tmp_path, capsys):
    """The bound the refusal names is the one that works: --scale 25 of a PIXEL strip in one row is 211,600 x 400 px."""
    out = tmp_path / "x.png"
    assert render_main(["text", "hi", "--scale", "25", "--full", "--wrap", "0", "--out", str(out)]) == 0
    from PIL import Image
    assert Image.open(out).size == (529 * 16 * 25, 16 * 25)


@pytest.mark.parametrize("cmd,argv,words", [("text", ["--", "-v"], None), ("text", ["--", "--verbose"], None),
                                             ("text", ["--", "-hello"], None),
                                             ("words", ["--", "a", "-v", "b"], 3)])
def test_a_text_after_double_dash_is_text_not_a_flag(tmp_path, capsys, cmd, argv, words):
    """-v / --verbose are pixel-render's own flags anywhere before `--`; after it they are text (they were dropped:
    `text --out x.png -- -v` failed with "the following arguments are required: text", a word vanished)."""
    out = tmp_path / "x.png"
    assert render_main([cmd, "--out", str(out), *argv]) == 0
    info = json.loads(capsys.readouterr().out)
    assert out.stat().st_size > 0 and info["num_patches"] >= 1
    if words:
        assert len(info["word_starts"]) == words


def test_text_out_into_a_missing_folder_makes_it(tmp_path, capsys):
    out = tmp_path / "new" / "dir" / "x.png"
    assert render_main(["text", "hello", "--out", str(out)]) == 0
    assert out.stat().st_size > 0


def test_a_run_that_writes_nothing_says_why(tmp_path, caplog):
    """A wrong --text_field is not refused up front (the field may appear later in a file) but dead-letters every
    record; the run then warns with the top reasons instead of ending quietly with an empty shard."""
    import json
    import logging

    from pixelkit.pipeline.main import run

    src = tmp_path / "udhr.jsonl"
    src.write_text((SAMPLE / "udhr-excerpt.jsonl").read_text())  # records hold "paragraphs", not "text"
    with caplog.at_level(logging.WARNING, logger="pixelkit.pipeline.main"):
        m = run([f"--input=udhr={src}", f"--output={tmp_path / 'o'}"])
    n = sum(1 for _ in src.open())
    assert m.num_samples == 0 and m.counts["dead_missing_text"] == n
    assert any(f"no sample was written: dead_missing_text {n}" in r.getMessage() and "--text_field" in r.getMessage()
               for r in caplog.records)
    assert len((tmp_path / "o" / "dead_letters.jsonl").read_text().splitlines()) == n
    assert json.loads((tmp_path / "o" / "dead_letters.jsonl").read_text().splitlines()[0])["reason"] == "missing_text"


def test_qa_names_a_window_file_in_the_way_before_writing_any(tmp_path, capsys):
    """A directory where ``qa`` writes its second window (``qa-01.png``) was an IsADirectoryError traceback after the
    first window had been written; now exit 2 naming it, and no window is written."""
    (tmp_path / "qa-01.png").mkdir()
    context = "Pride and Prejudice was written by Jane Austen. " * 40  # two windows at 529 patches
    assert render_main(["qa", "Who wrote it?", context, "--stride", "8", "--out", str(tmp_path / "qa.png")]) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'qa-01.png'} is a directory" in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qa-01.png"]
