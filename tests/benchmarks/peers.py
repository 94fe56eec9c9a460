"""Run ONE peer pixel renderer in its own throwaway venv, for bench_render.py to compare against.

Self-contained: stdlib + numpy + the peer's own packages, nothing from this project (it runs in the peers'
venvs). Subcommands:

    python tests/benchmarks/peers.py setup --all          # or --peer NAME; idempotent, makes /tmp/peers/<peer>
    taskset -c 0 /tmp/peers/<peer>/bin/python tests/benchmarks/peers.py run --peer <peer> \
        --texts texts.jsonl --out /tmp/peers/<peer>.npz [--repo PATH]
    /tmp/peers/xplip-pixel/bin/python tests/benchmarks/peers.py words --words words.jsonl --out w.npz --patches 256

``setup`` runs apt-get (as root), ``python3 -m venv --system-site-packages`` on Debian's /usr/bin/python3 (the
peers need PyGObject's Pango/PangoCairo typelibs, pycairo and a manimpango linked to the *system* Pango, which
Debian's python3-gi, python3-cairo and python3-manimpango give; manimpango has no Linux wheel on PyPI), pip, and
for xplip/pixel ``git archive`` of a snapshot of its repository. A peer that fails writes the exact error to
/tmp/peers/<peer>/SETUP_ERROR and the others go on.

``run`` renders every {"text": ...} line of --texts at PIXEL's settings (GoNotoCurrent.ttf, 8 pt, 120 dpi,
16 px patches, 529 patches) the way the peer does it, times the render call only (warm-up first,
time.perf_counter per call) and render + PNG encode, writes the strips to --out as ``pixels`` (uint8
[n, 16, 8464], 255 white, 0 black, whatever the peer's own convention) and prints one JSON line.

Conventions by design (see each loader): xplip/pixel and pixar-render draw text at (2, 8 - h/2 - 2) (h = layout
height, 19 px for GoNoto here, so y = -3.5: a half-pixel phase) with a black EOS patch at the next patch boundary
after text+2 px (the last patch when the text overflows), and replace "\\n" by " "; they use the system fontconfig
setup (Debian: hintstyle slight, system fonts as fallback). pixel-renderer draws at (5, (16 - h) // 2) = (5, -2) on a
canvas as wide as the text (+10 px, rounded up to 16), with NO EOS patch, as RGB, through fontconfig's "sans" family
from a minimal fonts.conf (fontconfig's default hinting, no fallback fonts), after utf8-tokenizer's
``visualize_control_tokens`` (which turns control characters such as "\\n" into visible symbols); it is converted
here to gray (one channel) and padded with white or cut to 8464 px.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import io
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timed  # noqa: E402  (stdlib only: imports in every peer's venv)

log = logging.getLogger("peers")

ROOT = Path(__file__).resolve().parents[2]
FONT = ROOT / "fonts" / "GoNotoCurrent.ttf"
PEERS_DIR = Path(os.environ.get("PEERS_DIR", "/tmp/peers"))
PIXEL_MIRROR = Path("/work/.mirror/xplip+pixel/repo")  # a bare snapshot of github.com/xplip/pixel, if present
PIXEL_GIT_URL = "https://github.com/xplip/pixel"
FONT_PT, DPI, PPP, PATCHES = 8, 120, 16, 529
WIDTH = PPP * PATCHES  # 8464
FONT_PX = DPI / 72 * FONT_PT  # 13.33 px, PIXEL's scaled font size
WARMUP = 20

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
    _sh([str(venv / "bin" / "python"), __file__, "check", "--peer", peer])  # the renderer imports and finds GoNoto


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


# ----------------------------------------------------------------------------------------------- peers
# Each loader returns (render(text) -> the peer's native output, to_gray(native) -> uint8 [16, 8464],
# png(text) -> bytes, version, Pango font description the peer asks for).


def _pillow_png(arr) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def load_xplip_pixel(repo: Path | None):
    """PIXEL's PangoCairoTextRenderer, loaded from src/ by path: stub parent packages so pixel/__init__.py
    (models, trainer, torch...) is not run; rendering_utils.py and utils/defaults.py load as its neighbours."""
    tree = repo or PEERS_DIR / "xplip-pixel" / "src-tree"
    pkg = tree / "src" / "pixel"
    for name, sub in (("pixel", ""), ("pixel.data", "data"), ("pixel.utils", "utils"),
                      ("pixel.data.rendering", "data/rendering")):
        mod = types.ModuleType(name)
        mod.__path__ = [str(pkg / sub)]
        sys.modules[name] = mod
    pc = importlib.import_module("pixel.data.rendering.pangocairo_renderer")
    r = pc.PangoCairoTextRenderer(font_file=str(FONT), font_size=FONT_PT, dpi=DPI, pixels_per_patch=PPP,
                                  max_seq_length=PATCHES, rgb=False)

    def render(text):
        return r(text).pixel_values  # uint8 [16, 8464]: np.invert of the A8 surface, EOS patch set to 0

    def png(text):
        return _pillow_png(r(text).pixel_values)  # PIXEL has no PNG path of its own (its datasets store PIL images)

    commit = (tree / "COMMIT").read_text().strip() if (tree / "COMMIT").exists() else "unknown"
    return render, lambda a: a, png, f"xplip/pixel@{commit[:10]}", r.font


def load_xplip_pixel_pygame(repo: Path | None):
    """PIXEL's PyGameTextRenderer, loaded from src/ by path like load_xplip_pixel, at the settings of its shipped
    renderer config (GoNotoCurrent.ttf, 8 pt, 120 dpi, 16 px patches, 529 patches): the text surface of
    ``font.render`` blitted with its left edge at x = 2 and its ink box centred vertically, the black EOS patch
    at the next patch boundary after text + 4 px, RGB -> gray by OpenCV. No Pango involved: the font is the
    file itself (the returned description is None)."""
    tree = repo or Path(sys.prefix) / "src-tree"  # this peer venv's copy (setup extracts it there)
    pkg = tree / "src" / "pixel"
    for name, sub in (("pixel", ""), ("pixel.data", "data"), ("pixel.utils", "utils"),
                      ("pixel.data.rendering", "data/rendering")):
        mod = types.ModuleType(name)
        mod.__path__ = [str(pkg / sub)]
        sys.modules[name] = mod
    pg = importlib.import_module("pixel.data.rendering.pygame_renderer")
    r = pg.PyGameTextRenderer(font_file=str(FONT), font_size=FONT_PT, dpi=DPI, pixels_per_patch=PPP,
                              max_seq_length=PATCHES)

    def render(text):
        return r(text).pixel_values  # uint8 [16, 8464] gray

    def png(text):
        return _pillow_png(r(text).pixel_values)

    commit = (tree / "COMMIT").read_text().strip() if (tree / "COMMIT").exists() else "unknown"
    import pygame

    ft = ".".join(map(str, pygame.freetype.get_version()))
    version = f"xplip/pixel@{commit[:10]} PyGame (pygame {pygame.version.ver}, FreeType {ft})"
    return render, lambda a: a, png, version, None


def load_pixar_render(repo: Path | None):
    """PixarProcessor.render(text) with the grayscale fast path; truncate=False keeps the full 529 patches."""
    from importlib.metadata import version

    import torch

    try:
        import torchvision.transforms  # noqa: F401
    except Exception as e:  # noqa: BLE001 - a CUDA torchvision beside a CPU torch raises RuntimeError
        log.warning("torchvision unusable (%s): stubbing torchvision.transforms.ToPILImage (not on the render path)", e)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        tv, tvt = types.ModuleType("torchvision"), types.ModuleType("torchvision.transforms")

        class ToPILImage:  # noqa: D101 - pixar-render calls it only in convert_to_pil / save_as_images
            def __init__(self, *a, **k): ...

            def __call__(self, *a, **k):
                raise NotImplementedError("torchvision stub: ToPILImage is not available in this venv")

        tvt.ToPILImage, tv.transforms = ToPILImage, tvt
        sys.modules.update({"torchvision": tv, "torchvision.transforms": tvt})
    from pixar_render import PixarProcessor

    torch.set_num_threads(1)
    p = PixarProcessor(font_file=str(FONT), font_size=FONT_PT, dpi=DPI, pixels_per_patch=PPP,
                       max_seq_length=PATCHES, rgb=False, binary=False, add_eos=True, truncate=False)

    def render(text):
        return p.render(text, truncate=False, channels=1)  # PixarEncoding, pixel_values uint8 [1, 1, 16, 8464]

    def to_gray(enc):
        return enc.pixel_values[0, 0].numpy()

    def png(text):  # its convert_to_pil/save_as_images are visualisation tools (squares, contours): use Pillow
        return _pillow_png(to_gray(render(text)))

    return render, to_gray, png, f"pixar-render {version('pixar-render')}", p.renderer.font


def load_pixel_renderer(repo: Path | None):
    """sign/pixel-renderer's render_text(text, block_size, font_size) after its own FontConfigurator has pointed
    fontconfig at a directory holding only GoNotoCurrent.ttf (what its PixelRendererProcessor does with
    downloaded fonts), so its "sans" family is GoNoto. font_size is in px: PIXEL's 8 pt at 120 dpi."""
    from importlib.metadata import version

    font_dir = Path(tempfile.mkdtemp(prefix="pixel-renderer-fonts-", dir="/tmp"))
    atexit.register(shutil.rmtree, font_dir, True)
    (font_dir / FONT.name).symlink_to(FONT)
    from font_configurator.font_configurator import FontConfigurator
    from font_configurator.fontconfig_managers import FontconfigMode

    FontConfigurator().setup_font(mode=FontconfigMode.TEMPLATE_MINIMAL, font_dir=font_dir,
                                  fontconfig_destination_dir=font_dir, force_reinitialize=True)
    from pixel_renderer.renderer import cached_font_description, render_text, render_text_image

    def render(text):
        return render_text(text, block_size=PPP, font_size=FONT_PX)  # uint8 [16, W, 3], W = ceil((w+10)/16)*16

    def to_gray(rgb):
        import numpy as np

        if not (rgb[..., 0] == rgb[..., 1]).all() or not (rgb[..., 1] == rgb[..., 2]).all():
            log.warning("pixel-renderer: channels differ (colour antialiasing); keeping channel 0")
        out = np.full((PPP, WIDTH), 255, np.uint8)
        w = min(WIDTH, rgb.shape[1])
        out[:, :w] = rgb[:rgb.shape[0], :w, 0][:PPP]
        return out

    def png(text):  # its own path: render_text_image -> PIL RGB image of the content width
        buf = io.BytesIO()
        render_text_image(text, block_size=PPP, font_size=FONT_PX).save(buf, "PNG")
        return buf.getvalue()

    return render, to_gray, png, f"pixel-renderer {version('pixel-renderer')}", cached_font_description("sans", FONT_PX)


LOADERS = {"xplip-pixel": load_xplip_pixel, "xplip-pixel-pygame": load_xplip_pixel_pygame,
           "xplip-pixel-pygame-ce": load_xplip_pixel_pygame,
           "pixar-render": load_pixar_render, "pixel-renderer": load_pixel_renderer}


def resolved_family(desc) -> str:
    """The family Pango really loads for the peer's font description (GoNoto, or a silent fallback); a peer
    without Pango (desc None) loads the font file itself."""
    if desc is None:
        return "Go Noto Current"
    from gi.repository import PangoCairo

    fontmap = PangoCairo.FontMap.get_default()
    font = fontmap.load_font(fontmap.create_context(), desc)
    return font.describe().get_family() if font else "none"


# ----------------------------------------------------------------------------------------------- run


def run(peer: str, texts_path: Path, out: Path, repo: Path | None) -> dict:
    import numpy as np

    texts = [json.loads(line)["text"] for line in texts_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    render, to_gray, png, version, desc = LOADERS[peer](repo)
    family = resolved_family(desc)
    if family != "Go Noto Current":
        log.error("%s renders with %r, not Go Noto Current: its font registration did not reach Pango", peer, family)
    log.info("%s: %s, font %r -> %s; %d texts", peer, version, desc.to_string() if desc else FONT.name, family,
             len(texts))
    render_times = timed(render, texts, WARMUP)
    render_ms = statistics.median(render_times) * 1000
    png_ms = statistics.median(timed(png, texts, WARMUP)) * 1000
    pixels = np.stack([to_gray(render(t)) for t in texts])
    assert pixels.shape == (len(texts), PPP, WIDTH) and pixels.dtype == np.uint8, pixels.shape
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, pixels=pixels)
    try:
        from importlib.metadata import version as pkg_version

        pillow = pkg_version("pillow")
    except Exception:  # noqa: BLE001
        pillow = "unknown"
    return {"peer": peer, "version": version, "n": len(texts), "render_ms_median": round(render_ms, 4),
            "render_ms_mean": round(statistics.fmean(render_times) * 1000, 4),
            "renders_per_s": round(1000 / render_ms, 1), "render_png_ms_median": round(png_ms, 4),
            "render_png_per_s": round(1000 / png_ms, 1), "font": desc.to_string() if desc else FONT.name,
            "font_resolved": family,
            "python": platform.python_version(), "pillow": pillow, "warmup": WARMUP,
            "affinity": sorted(os.sched_getaffinity(0)), "out": str(out)}


def run_pairs(pairs_path: Path, out: Path, repo: Path | None) -> dict:
    """PIXEL's own pair rendering (its renderer called with a (text_a, text_b) tuple), for pair identity checks."""
    import numpy as np

    pairs = [json.loads(line)["pair"] for line in pairs_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    LOADERS["xplip-pixel"](repo)  # registers the stub packages
    pc = sys.modules["pixel.data.rendering.pangocairo_renderer"]
    r = pc.PangoCairoTextRenderer(font_file=str(FONT), font_size=FONT_PT, dpi=DPI, pixels_per_patch=PPP,
                                  max_seq_length=PATCHES, rgb=False)
    np.savez_compressed(out, pixels=np.stack([r((a, b)).pixel_values for a, b in pairs]))
    return {"peer": "xplip-pixel", "pairs": len(pairs), "out": str(out)}


def run_words(words_path: Path, out: Path, repo: Path | None, patches: int) -> dict:
    """PIXEL's own word-level rendering (its renderer called with a list of words, as its POS/UD/NER datasets do),
    timed per call after a warm-up; strips to --out (npz ``pixels``), word starts to --out with suffix .json."""
    import numpy as np

    sents = [json.loads(line)["words"] for line in words_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    LOADERS["xplip-pixel"](repo)  # registers the stub packages
    pc = sys.modules["pixel.data.rendering.pangocairo_renderer"]
    r = pc.PangoCairoTextRenderer(font_file=str(FONT), font_size=FONT_PT, dpi=DPI, pixels_per_patch=PPP,
                                  max_seq_length=patches, rgb=False)
    times = timed(r, sents, WARMUP)
    encs = [r(ws) for ws in sents]
    np.savez_compressed(out, pixels=np.stack([e.pixel_values for e in encs]))
    out.with_suffix(".json").write_text(json.dumps([e.word_starts for e in encs]))
    return {"peer": "xplip-pixel", "sentences": len(sents), "times_ms": [round(t * 1000, 5) for t in times],
            "render_ms_median": round(statistics.median(times) * 1000, 4),
            "render_ms_mean": round(statistics.fmean(times) * 1000, 4), "warmup": WARMUP,
            "affinity": sorted(os.sched_getaffinity(0)), "out": str(out)}


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup", help="make the throwaway venvs under $PEERS_DIR (/tmp/peers); idempotent")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--all", action="store_true")
    g.add_argument("--peer", choices=PEERS, action="append")
    s.add_argument("--repo", type=Path, help="xplip/pixel git dir or clone (default: the local mirror, else GitHub)")
    c = sub.add_parser("check", help="load one peer in this interpreter and print the font Pango resolves")
    c.add_argument("--peer", choices=PEERS, required=True)
    c.add_argument("--repo", type=Path)
    r = sub.add_parser("run", help="render --texts with one peer (run with that peer's venv python)")
    r.add_argument("--peer", choices=PEERS, required=True)
    r.add_argument("--texts", type=Path, required=True, help='jsonl of {"text": ...}')
    r.add_argument("--out", type=Path, required=True, help="npz to write (key: pixels)")
    r.add_argument("--repo", type=Path, help="xplip/pixel source tree holding src/pixel (default: setup's)")
    p = sub.add_parser("pairs", help="render text pairs with PIXEL's renderer (run with the xplip-pixel venv python)")
    p.add_argument("--pairs", type=Path, required=True, help='jsonl of {"pair": [text_a, text_b]}')
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--repo", type=Path)
    w = sub.add_parser("words", help="render word lists with PIXEL's renderer (run with the xplip-pixel venv python)")
    w.add_argument("--words", type=Path, required=True, help='jsonl of {"words": [...]}')
    w.add_argument("--out", type=Path, required=True)
    w.add_argument("--patches", type=int, default=PATCHES)
    w.add_argument("--repo", type=Path)
    a = ap.parse_args()
    if a.cmd == "words":
        print(json.dumps(run_words(a.words, a.out, a.repo, a.patches)))
        return 0
    if a.cmd == "pairs":
        print(json.dumps(run_pairs(a.pairs, a.out, a.repo)))
        return 0
    if a.cmd == "setup":
        return setup(list(PEERS) if a.all else a.peer, a.repo)
    if a.cmd == "check":
        *_, version, desc = LOADERS[a.peer](a.repo)
        family = resolved_family(desc)
        print(json.dumps({"peer": a.peer, "version": version, "font": desc.to_string() if desc else FONT.name,
                          "font_resolved": family}))
        return 0 if family == "Go Noto Current" else 1
    print(json.dumps(run(a.peer, a.texts, a.out, a.repo)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
