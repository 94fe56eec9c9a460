"""Run ONE peer pixel renderer in its own throwaway venv, for bench_render.py to compare against.

Self-contained: stdlib + numpy + the peer's own packages, nothing from this project (it runs in the peers'
venvs). Subcommands:

    python tests/benchmarks/peers.py setup --all          # or --peer NAME; idempotent, makes /tmp/peers/<peer>
    taskset -c 0 /tmp/peers/<peer>/bin/python tests/benchmarks/peers.py run --peer <peer> \
        --texts texts.jsonl --out /tmp/peers/<peer>.npz [--repo PATH]
    /tmp/peers/xplip-pixel/bin/python tests/benchmarks/peers.py words --words words.jsonl --out w.npz --patches 256

``setup`` makes the peers' venvs (``peer_setup.py``).

``serve`` renders texts one by one on request (a benchmark interleaves the peers with its own renderers).

``run`` renders every {"text": ...} line of --texts at PIXEL's settings (GoNotoCurrent.ttf, 8 pt, 120 dpi,
16 px patches, 529 patches) the way the peer does it, times the render call only (warm-up first,
time.perf_counter per call, or the thread's CPU time with PIXELKIT_BENCH_CLOCK=thread; every call's time is in
the output's ``times_ms``) and render + PNG encode, writes the strips to --out as ``pixels`` (uint8
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
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CLOCK, timed  # noqa: E402  (stdlib only: imports in every peer's venv)
from peer_setup import PEERS, PEERS_DIR, setup  # noqa: E402  (stdlib only too)

log = logging.getLogger("peers")

ROOT = Path(__file__).resolve().parents[2]
FONT = ROOT / "fonts" / "GoNotoCurrent.ttf"
FONT_PT, DPI, PPP, PATCHES = 8, 120, 16, 529
WIDTH = PPP * PATCHES  # 8464
FONT_PX = DPI / 72 * FONT_PT  # 13.33 px, PIXEL's scaled font size
WARMUP = 20

# ----------------------------------------------------------------------------------------------- peers
# Each loader returns (render(text) -> the peer's native output, to_gray(native) -> uint8 [16, 8464],
# png(text) -> bytes, version, Pango font description the peer asks for).


def _pillow_png(arr) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _pixel_rendering_module(tree: Path, name: str):
    """``pixel.data.rendering.<name>`` from a copy of xplip/pixel, with its parent packages stubbed (their
    ``__init__.py`` would import models, trainer, torch ...)."""
    pkg = tree / "src" / "pixel"
    for parent, sub in (("pixel", ""), ("pixel.data", "data"), ("pixel.utils", "utils"),
                        ("pixel.data.rendering", "data/rendering")):
        mod = types.ModuleType(parent)
        mod.__path__ = [str(pkg / sub)]
        sys.modules[parent] = mod
    return importlib.import_module(f"pixel.data.rendering.{name}")


def load_xplip_pixel(repo: Path | None):
    """PIXEL's PangoCairoTextRenderer, loaded from src/ by path: stub parent packages so pixel/__init__.py
    (models, trainer, torch...) is not run; rendering_utils.py and utils/defaults.py load as its neighbours."""
    tree = repo or PEERS_DIR / "xplip-pixel" / "src-tree"
    pc = _pixel_rendering_module(tree, "pangocairo_renderer")
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
    pg = _pixel_rendering_module(tree, "pygame_renderer")
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
            "times_ms": [round(t * 1000, 5) for t in render_times],
            "renders_per_s": round(1000 / render_ms, 1), "render_png_ms_median": round(png_ms, 4),
            "render_png_per_s": round(1000 / png_ms, 1), "font": desc.to_string() if desc else FONT.name,
            "font_resolved": family,
            "python": platform.python_version(), "pillow": pillow, "warmup": WARMUP,
            "affinity": sorted(os.sched_getaffinity(0)), "out": str(out)}


def serve(peer: str, out: Path, repo: Path | None) -> int:
    """Render on request, so a benchmark can interleave this peer with its own renderers strip by strip: after a
    warm-up, print {"ready": version}; then for each {"text": ...} line on stdin render it, timed by ``CLOCK``,
    and print {"ms": ...}; at end of input write the strips (gray, as ``run``) to --out."""
    import numpy as np

    render, to_gray, _, version, desc = LOADERS[peer](repo)
    family = resolved_family(desc)
    for _ in range(WARMUP):
        render("Warm-up: the quick brown fox jumps over the lazy dog. " * 20)
    print(json.dumps({"ready": version, "font_resolved": family}), flush=True)
    pixels = []
    for line in sys.stdin:
        text = json.loads(line)["text"]
        t0 = CLOCK()
        native = render(text)
        ms = (CLOCK() - t0) * 1000
        pixels.append(to_gray(native))
        print(json.dumps({"ms": ms}), flush=True)
    np.savez_compressed(out, pixels=np.stack(pixels) if pixels else np.zeros((0, PPP, WIDTH), np.uint8))
    return 0


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
    v = sub.add_parser("serve", help="render {\"text\"} lines from stdin on request, one timing line each")
    v.add_argument("--peer", choices=PEERS, required=True)
    v.add_argument("--out", type=Path, required=True, help="npz to write at end of input (key: pixels)")
    v.add_argument("--repo", type=Path)
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
    if a.cmd == "serve":
        return serve(a.peer, a.out, a.repo)
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
