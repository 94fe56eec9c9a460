"""``pixel-train import --out``: a file, a directory of other files, an unwritable place, an earlier import (replaced
whole, or refused when someone added files to it), a link to one; and an import SIGKILLed mid-write, which leaves
--out as it was and a hidden temporary directory the next import removes once its process is gone. Other hostile
checkpoints: test_import_hostile.py."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

def _import(src: Path, fmt: str, out: Path) -> tuple[int, str]:
    from pixelkit.trainer.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["import", "--format", fmt, "--from", str(src), "--out", str(out)])
    return rc, err.getvalue()


def _files(d: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(d.iterdir())}


def test_import_out_must_be_a_new_or_empty_directory_or_an_earlier_import(tmp_path):
    """--out a file was a NotADirectoryError traceback (transformers' save_pretrained had logged and returned
    without writing); a directory of other files was written into (a stale model.safetensors.index.json there then
    outranked the new weights); an unwritable place was an OSError traceback. Now each is exit 2 naming --out and
    nothing is written; an earlier import there is replaced whole."""
    assets = Path(__file__).parent / "assets" / "parity"
    (tmp_path / "f").write_text("x")
    for out, message in ((tmp_path / "f", "f is a file; give a directory"),
                         (tmp_path / "f" / "sub", "f is a file; give a directory"),
                         (tmp_path / "other", "holds other files \\(not an earlier import\\); give a new or empty"),
                         (tmp_path / ("n" * 250), "cannot write there \\(File name too long\\)")):
        if out.name == "other":
            out.mkdir()
            (out / "model.safetensors.index.json").write_text("{}")
        rc, err = _import(assets / "pixel-hf", "pixel-hf", out)
        assert rc == 2 and re.search(f"--out {re.escape(str(out))}.*{message}", err), err
    assert _files(tmp_path / "other") == {"model.safetensors.index.json": b"{}"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "other"]  # no temporary directory left
    (tmp_path / "empty").mkdir()
    assert _import(assets / "pixelgpt-hf", "pixelgpt-hf", tmp_path / "empty")[0] == 0
    assert _import(assets / "pixel-hf", "pixel-hf", tmp_path / "empty")[0] == 0  # the earlier import replaced
    assert json.loads((tmp_path / "empty" / "config.json").read_text())["model_type"] == "pixelkit-pixel"
    assert sorted(_files(tmp_path / "empty")) == ["config.json", "import.json", "model.safetensors"]
    (tmp_path / "empty" / "notes.txt").write_text("mine")  # an earlier import someone added a file to: kept
    rc, err = _import(assets / "pixel-hf", "pixel-hf", tmp_path / "empty")
    assert rc == 2 and "is an earlier import, but also holds ['notes.txt']; replacing it would delete them" in err
    (tmp_path / "empty" / "notes.txt").unlink()
    (tmp_path / "link").symlink_to(tmp_path / "empty")  # --out a link to an earlier import: replaced there
    assert _import(assets / "pixelgpt-hf", "pixelgpt-hf", tmp_path / "link")[0] == 0
    assert (tmp_path / "link").is_symlink()
    assert json.loads((tmp_path / "empty" / "config.json").read_text())["model_type"] == "pixelkit-pixelgpt"


KILLED = """
import os, sys
import transformers.modeling_utils as mu
save = mu.safe_save_file
def save_then_die(*args, **kwargs):  # killed right after the weights are written, before config.json
    save(*args, **kwargs)
    os.kill(os.getpid(), 9)
mu.safe_save_file = save_then_die
from pixelkit.trainer.cli import main
main(["import", "--format", "pixel-hf", "--from", sys.argv[1], "--out", sys.argv[2]])
"""


def test_a_killed_import_leaves_out_as_it_was(tmp_path):
    """An import SIGKILLed mid-write left --out half-written: the new model.safetensors beside the earlier import's
    config.json (another model's weights under its config). Now the new files go to a temporary directory renamed
    into place: --out keeps the earlier import, byte for byte."""
    assets = Path(__file__).parent / "assets" / "parity"
    out = tmp_path / "out"
    assert _import(assets / "pixelgpt-hf", "pixelgpt-hf", out)[0] == 0
    before = _files(out)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", KILLED, str(assets / "pixel-hf"), str(out)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == -9, run.stderr[-2000:]
    assert _files(out) == before
    host = socket.gethostname()
    [killed] = tmp_path.glob(f".out.importing-{host}-*")  # what the killed import left beside --out
    assert (killed / "model.safetensors").is_file()
    dead = killed.name.rsplit("-", 1)[1]
    # the next import removes it (its process is gone) and a leftover under a pid it reuses; it leaves alone a live
    # process's (a concurrent import), another machine's (a shared filesystem: its pid says nothing here), another
    # --out's, and the earlier import a kill left set aside
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]) as live:
        kept = [tmp_path / f".out.importing-{host}-{live.pid}", tmp_path / f".out.importing-other-node-{dead}",
                tmp_path / f".out2.importing-{host}-{dead}", tmp_path / f".out.replaced-{host}-{dead}",
                tmp_path / f".out.importing-{host}-x{dead}"]
        reused = tmp_path / f".out.importing-{host}-{os.getpid()}"
        for d in (*kept, reused):
            d.mkdir()
        try:
            assert _import(assets / "pixel-hf", "pixel-hf", out)[0] == 0
        finally:
            live.kill()
    assert not killed.exists() and not reused.exists() and all(d.is_dir() for d in kept)
    assert json.loads((out / "import.json").read_text())["format"] == "pixel-hf"


KILLED_AT = """
import os, sys, pathlib
rename = pathlib.Path.rename
def rename_then_die(self, target):  # killed right after the rename named by argv[3]
    done = rename(self, target)
    if sys.argv[3] in (pathlib.Path(target).name if sys.argv[3] == ".replaced-" else self.name):
        os.kill(os.getpid(), 9)
    return done
pathlib.Path.rename = rename_then_die
from pixelkit.trainer.cli import main
main(["import", "--format", "pixel-hf", "--from", sys.argv[1], "--out", sys.argv[2]])
"""


def _killed_at(src: Path, out: Path, where: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", KILLED_AT, str(src), str(out), where], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == -9, run.stderr[-2000:]


def test_an_import_killed_after_setting_the_earlier_one_aside_gets_it_back(tmp_path, caplog):
    """An import SIGKILLed between setting the earlier import aside and renaming the new one into place left --out
    missing and the earlier import in a hidden ``.out.replaced-HOST-PID`` nothing ever restored: the user's model
    silently gone from --out. Now the next import puts it back first -- so one that then fails (here: a source of
    another format) leaves --out as it was before the killed import. A kill after the new import took its place
    leaves the replaced one beside --out: kept, and named in a warning with what to do."""
    assets = Path(__file__).parent / "assets" / "parity"
    out = tmp_path / "out"
    assert _import(assets / "pixelgpt-hf", "pixelgpt-hf", out)[0] == 0
    before = _files(out)
    _killed_at(assets / "pixel-hf", out, ".replaced-")
    [aside] = tmp_path.glob(f".out.replaced-{socket.gethostname()}-*")
    assert not out.exists() and _files(aside) == before
    rc, err = _import(assets / "pixelgpt-hf", "pixel-hf", out)  # fails: not a pixel-hf checkpoint
    assert rc == 2 and "is not a pixel-hf checkpoint" in err, err
    assert _files(out) == before and not aside.exists()
    assert f"restored {aside.name} to {out}" in caplog.text
    # killed once the new import is in place: --out is the new one; the one it replaced is kept and named
    _killed_at(assets / "pixel-hf", out, ".importing-")
    [aside] = tmp_path.glob(f".out.replaced-{socket.gethostname()}-*")
    assert _files(aside) == before
    assert json.loads((out / "import.json").read_text())["format"] == "pixel-hf"
    caplog.clear()
    assert _import(assets / "pixelgpt-hf", "pixelgpt-hf", out)[0] == 0
    assert _files(aside) == before and f"['{aside.name}'] beside --out {out}: an earlier import" in caplog.text
    assert "rename it to out to get it back" in caplog.text
