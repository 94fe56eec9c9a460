"""Make the peers' throwaway venvs for ``peers.py`` (stdlib only: it runs before any venv exists).

    python tests/benchmarks/peers.py setup --all          # or --peer NAME; idempotent, makes /tmp/peers/<peer>

``setup`` runs apt-get (as root), ``python3 -m venv --system-site-packages`` on Debian's /usr/bin/python3 (the
peers need PyGObject's Pango/PangoCairo typelibs, pycairo and a manimpango linked to the *system* Pango, which
Debian's python3-gi, python3-cairo and python3-manimpango give; manimpango has no Linux wheel on PyPI), pip, and
for xplip/pixel ``git archive`` of a snapshot of its repository. A peer that fails writes the exact error to
/tmp/peers/<peer>/SETUP_ERROR and the others go on.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger("peers")

PEERS_DIR = Path(os.environ.get("PEERS_DIR", "/tmp/peers"))
PIXEL_MIRROR = Path("/work/.mirror/xplip+pixel/repo")  # a bare snapshot of github.com/xplip/pixel, if present
PIXEL_GIT_URL = "https://github.com/xplip/pixel"
PEERS_PY = Path(__file__).with_name("peers.py")

APT = ["python3-venv", "python3-gi", "python3-gi-cairo", "gir1.2-pango-1.0", "python3-cairo",
       "python3-manimpango", "python3-fonttools", "python3-numpy", "python3-pil", "git"]
# pip steps per peer, in order. torch (pulled by pixar-render's torchvision and pixel-renderer's utf8-tokenizer)
# is installed first and pinned in every later step: pip then keeps the local CPU wheel (/opt/wheels here) instead
# of upgrading to a newer torch's multi-GB CUDA build.
TORCH = "torch==2.13.0"
PIP = {
    "xplip-pixel": [["transformers==4.17.0"]],  # PIXEL's pin; rendering_utils imports its old file_utils names
    # PIXEL's PyGameTextRenderer (PIXEL-base's pretraining data was rendered with it): upstream pygame (not
    # pygame-ce, which this project uses) and OpenCV for its RGB -> gray conversion, both unpinned in PIXEL
    "xplip-pixel-pygame": [["transformers==4.17.0", "pygame", "opencv-python-headless", "numpy<2"]],
    # the same renderer on this project's pygame-ce (its FreeType): separates FreeType's rasterization from layout
    "xplip-pixel-pygame-ce": [["transformers==4.17.0", "pygame-ce==2.5.8", "opencv-python-headless", "numpy<2"]],
    # --no-deps: its torchvision dep only exists on PyPI as CUDA builds, whose _C.so needs libtorch_cuda.so and so
    # fails to import with the CPU torch ("operator torchvision::nms does not exist"); pixar-render uses torchvision
    # only for ToPILImage in its visualisation helpers, which load_pixar_render stubs when torchvision won't import.
    "pixar-render": [[TORCH], ["--no-deps", "pixar-render==0.5.1"]],
    "pixel-renderer": [[TORCH], ["pixel-renderer", TORCH]],
}
PEERS = tuple(PIP)


# ----------------------------------------------------------------------------------------------- setup


def _sh(cmd: list[str], **kw) -> None:
    log.info("$ %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")


def setup_apt() -> None:
    missing = [p for p in APT if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                                text=True).stdout != "install ok installed"]
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"need root to apt-get install {' '.join(missing)}")
    _sh(["apt-get", "update"])
    _sh(["apt-get", "install", "-y", *missing], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def extract_pixel_source(dest: Path, repo: Path | None) -> None:
    """Put xplip/pixel's src/ under dest/src (the renderer is loaded from there by path) and note its commit."""
    if (dest / "src" / "pixel").is_dir():
        return
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="pixel-clone-", dir="/tmp"))
    try:
        if repo is None and PIXEL_MIRROR.is_dir():
            repo = PIXEL_MIRROR
        if repo is None:
            _sh(["git", "clone", "--depth", "1", PIXEL_GIT_URL, str(tmp / "repo")])
            repo = tmp / "repo"
        git_dir = repo / ".git" if (repo / ".git").exists() else repo
        commit = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        # only src/: the repo's large font file is absent from some snapshots, which breaks a whole-tree archive
        archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "HEAD", "src"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        (dest / "COMMIT").write_text(commit + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def setup_peer(peer: str, repo: Path | None) -> None:
    venv = PEERS_DIR / peer
    (venv / "SETUP_ERROR").unlink(missing_ok=True)
    if not (venv / "bin" / "python").exists():
        _sh(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)])
    for reqs in PIP[peer]:
        _sh([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *reqs])
    if peer.startswith("xplip-pixel"):
        extract_pixel_source(venv / "src-tree", repo)
    _sh([str(venv / "bin" / "python"), str(PEERS_PY), "check", "--peer", peer])  # the renderer imports and finds GoNoto


def setup(peers: list[str], repo: Path | None) -> int:
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    failed = {}
    try:
        setup_apt()
    except Exception as e:  # noqa: BLE001 - recorded, each peer then reports what is missing
        log.error("apt: %s", e)
    for peer in peers:
        try:
            setup_peer(peer, repo)
            log.info("%s: ready (%s)", peer, PEERS_DIR / peer / "bin" / "python")
        except Exception as e:  # noqa: BLE001 - one peer's failure must not stop the others
            failed[peer] = str(e)
            (PEERS_DIR / peer).mkdir(parents=True, exist_ok=True)
            (PEERS_DIR / peer / "SETUP_ERROR").write_text(str(e) + "\n")
            log.error("%s: setup failed: %s", peer, e)
    print(json.dumps({"ready": [p for p in peers if p not in failed], "failed": failed}))
    return 1 if failed else 0
