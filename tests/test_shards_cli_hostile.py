"""``pixel-shards inspect`` and ``stats`` on odd settings and damaged sets: a bad --n or --out is one line naming the
flag, exit 2, before any shard is read; a missing shard, a shard that is not a tar, a bad sample is named on stderr and
the exit code is 1 (they raised FileNotFoundError, or were left out of the numbers without a word). Hostile member
names (``../x``, absolute) through the same commands: test_hostile_shards.py covers ``verify``; here, nothing written
outside."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from pixelkit.pipeline.cli_shards import MAX_SHEET_ROWS
from pixelkit.pipeline.cli_shards import main as shards_main
from pixelkit.schemas import ShardManifest
from pixelkit.schemas.manifest import file_sha256


@pytest.fixture
def shards(tmp_path, gray_shards) -> Path:
    return Path(shutil.copytree(gray_shards, tmp_path / "set"))


def shard_paths(d: Path) -> list[Path]:
    return [d / s.name for s in ShardManifest.read(d).shards]


BAD_SETTINGS = [
    ("n zero", ["--n", "0"], "--n 0 must be in 1..{max}"),
    ("n negative", ["--n", "-1"], "--n -1 must be in 1..{max}"),
    ("n huge", ["--n", "1000000000"], "--n 1000000000 must be in 1..{max}"),
    ("out onto a directory", ["--out", "{d}"], "--out {d} is a directory; give a file name, e.g. {d}/contact.png"),
    ("out under a file", ["--out", "{d}/set/manifest.json/c.png"], "manifest.json is a file, so no directory"),
    ("out as text", ["--out", "{d}/c.txt"], "--out {d}/c.txt: .txt is not an image format PIL writes"),
    ("out without suffix", ["--out", "{d}/c"], "--out {d}/c: no suffix is not an image format"),
    ("out a format PIL only reads", ["--out", "{d}/c.psd"], ".psd is not an image format PIL writes"),
]


@pytest.mark.parametrize("case,argv,expected", BAD_SETTINGS, ids=[c[0] for c in BAD_SETTINGS])
def test_inspect_refuses_bad_settings_before_reading(shards, capsys, case, argv, expected):
    d = shards.parent
    rc = shards_main(["inspect", str(shards), *(a.format(d=d) for a in argv)])
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    assert expected.format(d=d, max=MAX_SHEET_ROWS) in err and len(err.strip().splitlines()) == 1, err
    assert out == "" and not (shards / "contact.png").exists()  # nothing read, nothing written
    assert not list(d.glob("c.*"))


def test_inspect_out_into_a_missing_folder_makes_it(shards, capsys):
    out = shards.parent / "new" / "dir" / "sheet.png"
    assert shards_main(["inspect", str(shards), "--n", "3", "--out", str(out)]) == 0
    assert Image.open(out).height == 3 * (16 * 2 + 28)  # three rows: --n counts rows


def test_n_one_draws_one_row(shards, capsys):
    assert shards_main(["inspect", str(shards), "--n", "1"]) == 0
    assert Image.open(shards / "contact.png").height == 16 * 2 + 28


@pytest.mark.parametrize("cmd", ["inspect", "stats"])
@pytest.mark.parametrize("damage", ["missing", "not a tar", "empty file"])
def test_a_damaged_shard_is_named_and_exits_1(shards, capsys, cmd, damage):
    first, second = shard_paths(shards)
    kept = ShardManifest.read(shards).shards[0].num_samples
    if damage == "missing":
        second.unlink()
    else:
        second.write_bytes(b"hello, not a tar\n" if damage == "not a tar" else b"")
    rc = shards_main([cmd, str(shards), "--n", str(MAX_SHEET_ROWS)] if cmd == "inspect" else [cmd, str(shards)])
    out, err = capsys.readouterr()
    assert rc == 1 and "Traceback" not in err, err
    assert f"{cmd}: {second.name}: " in err and f"pixel-shards verify {shards}" in err, err
    if cmd == "stats":
        assert f"samples {kept} " in out and "left out of what is shown" in err  # and said to be
    else:
        assert Image.open(shards / "contact.png").height == kept * (16 * 2 + 28)


def test_hostile_member_names_are_named_and_nothing_is_written_outside(shards, tmp_path, capsys):
    path = shard_paths(shards)[0]
    with tarfile.open(path) as tf:
        entries = [(m.name, tf.extractfile(m).read()) for m in tf.getmembers()]
    outside = tmp_path / "escaped.json"
    hostile = [("../escaped.json", b"{}"), (str(outside), b"{}"), ("a/../../escaped.json", b"{}"), ("zero.json", b"")]
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in hostile + entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    m = ShardManifest.read(shards)
    m.shards[0].num_bytes, m.shards[0].sha256 = path.stat().st_size, file_sha256(path)
    m.write(shards)
    before = {p.name for p in shards.iterdir()}
    for cmd in ("inspect", "stats"):
        assert shards_main([cmd, str(shards)]) == 1
        err = capsys.readouterr().err
        assert err.count("paths and hidden names are not allowed") == 3 and "sample 'zero'" in err, err
    assert not outside.exists() and not (shards.parent / "escaped.json").exists()
    assert {p.name for p in shards.iterdir()} == before | {"contact.png"}  # the sheet, nothing else


def test_a_set_of_zero_samples_says_so(shards, capsys):
    m = ShardManifest.read(shards)
    for s in m.shards:
        p = shards / s.name
        with tarfile.open(p, "w"):
            pass
        s.num_bytes, s.sha256, s.num_samples = p.stat().st_size, file_sha256(p), 0
    m.write(shards)
    assert shards_main(["inspect", str(shards)]) == 0
    assert "no valid sample read: no contact sheet" in capsys.readouterr().out
    assert shards_main(["stats", str(shards)]) == 1
    assert "no samples" in capsys.readouterr().out
    assert shards_main(["verify", str(shards)]) == 0  # a set the manifest describes exactly: nothing wrong


def test_stats_counts_and_names_a_sample_of_another_shape(shards, capsys):
    """A sample longer than the manifest's max_patches fell outside the histogram's bins without a word."""
    m = ShardManifest.read(shards)
    total = m.num_samples
    m.render_config["max_patches"] = 256
    m.write(shards)
    assert shards_main(["stats", str(shards)]) == 1
    out, err = capsys.readouterr()
    bars = [int(line.split()[-1]) for line in out.splitlines()[1:]]
    assert sum(bars) == total and out.startswith(f"samples {total} "), out
    assert "the manifest says gray 256 x 16px (counted in the numbers)" in err, err


def test_a_reader_that_stops_early_ends_it_quietly(shards):
    """``pixel-shards inspect DIR | head`` (a reader that closes the pipe before the output is written) was a
    BrokenPipeError traceback on stderr; now exit 1 and nothing on stderr but the log."""
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    p = subprocess.Popen([sys.executable, "-m", "pixelkit.pipeline.cli_shards", "inspect", str(shards), "--out",
                          str(shards.parent / "sheet.png")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, "PYTHONPATH": str(root)}, cwd=root)
    p.stdout.close()  # the reader is gone before anything is written
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 1 and "Traceback" not in err and "BrokenPipe" not in err, err[-2000:]


def test_inspect_checks_what_it_does_not_read_and_says_so(shards, capsys):
    """``inspect --n 1`` read one sample and said nothing of the rest: a cut-short or missing later shard was exit 0
    without a word. Now every shard it does not read whole is checked for presence and size (one listing, no read),
    named and exit 1; and it says it read only the first samples and that verify checks every one."""
    first, second = shard_paths(shards)
    second.write_bytes(second.read_bytes()[:second.stat().st_size // 2])  # cut short
    for n in ("1", str(MAX_SHEET_ROWS)):
        rc = shards_main(["inspect", str(shards), "--n", n])
        out, err = capsys.readouterr()
        assert rc == 1 and f"inspect: {second.name}: " in err and f"pixel-shards verify {shards}" in err, err
        assert ("read the first 1 samples, from 1 of 2 shard(s)" in out) == (n == "1"), out
    second.unlink()
    assert shards_main(["inspect", str(shards), "--n", "1"]) == 1
    assert f"inspect: {second.name}: missing" in capsys.readouterr().err
    first.write_bytes(first.read_bytes()[:-1024])  # the shard it stops in is checked too (only padding cut)
    shutil.copy(first, second)
    rc = shards_main(["inspect", str(shards), "--n", "1"])
    out, err = capsys.readouterr()
    assert rc == 1 and f"inspect: {first.name}: " in err and "cut short or rewritten; not read" in err, err
    assert "the rest of the set was checked for presence and size only: `pixel-shards verify" in out
