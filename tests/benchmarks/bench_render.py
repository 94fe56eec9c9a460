"""Renderer benchmark: our backends x modes vs peer renderers, side by side in one run, on real strips.

    python tests/benchmarks/bench_render.py --n 1000 --out tests/benchmarks/results/render.md

Our PangoCairo gray strips are timed three ways: Pango only (``shape_cache=False``), and with the shaping cache
on a first pass (empty cache: every word is new when first met) and a second pass (every word cached).
The PyGame section compares our pygame backend with PIXEL's PyGameTextRenderer (``pygame_identity.py``).
Peers run in their own throwaway venvs (``python tests/benchmarks/peers.py setup --all`` makes them under
/tmp/peers); a peer that is not set up is reported as such. Everything runs pinned to one core.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import subprocess
import sys
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CLOCK, ROOT, full_strip_texts, machine_info, median_ms, pin_one_core, timed  # noqa: E402
import pygame_identity  # noqa: E402

from pixelkit.pipeline.render import RenderConfig, TextRenderer, preset  # noqa: E402
from pixelkit.schemas import ENCODINGS, decode_pixels, encode_pixels  # noqa: E402

log = logging.getLogger("bench_render")
PEERS = ("xplip-pixel", "pixar-render", "pixel-renderer")
OURS = {
    "pangocairo gray 16x8464 (PIXEL), Pango only": (RenderConfig(), False),
    "pangocairo gray 16x8464 (PIXEL), shape cache, first pass": (RenderConfig(), True),
    "pangocairo rgb 16x8464": (preset("pixel-rgb"), False),
    "pangocairo binary 16x8464, shape cache, first pass": (RenderConfig(mode="binary"), True),
    "pygame gray 16x8464": (RenderConfig(backend="pygame"), False),
    "pygame binary 8x4232 (PIXAR)": (preset("pixar"), False),
}
UNRELATED = "A sentence of none of the strips loads the compiled kernels first."


def prefetched_row(cfg: RenderConfig, texts: list[str], name: str, group: int = 64) -> dict:
    """The pipeline's path: a fresh cache, each group of strips prefetched (one Pango call for all their new
    words) and then rendered; the prefetch time is counted. A mean, as the prefetch serves the whole group."""
    r = TextRenderer(cfg)
    r(UNRELATED)
    t0 = CLOCK()
    for i in range(0, len(texts), group):
        r.prefetch(texts[i:i + group])
        for t in texts[i:i + group]:
            r(t)
    mean = (CLOCK() - t0) / len(texts) * 1000
    return {"renderer": f"pixelkit {name}", "render_ms": None, "per_s": 1000 / mean, "mean_ms": mean}


def run_ours(texts: list[str]) -> tuple[list[dict], dict[str, np.ndarray], list[str]]:
    """Every backend x mode over the strips. A shape-cache row starts from an empty cache (its first pass meets
    every word for the first time, as a fresh worker does) and is timed again on a second pass over the same
    strips (every word cached: a worker deep into a corpus with a settled vocabulary)."""
    rows, arrays, notes = [], {}, []
    for name, (cfg, cache) in tqdm(OURS.items(), desc="our renderers"):
        r = TextRenderer(cfg, shape_cache=cache) if cfg.backend == "pangocairo" else TextRenderer(cfg)
        try:
            r(UNRELATED)
            times = timed(r, texts, warmup=0)
        except ImportError as e:  # a backend whose library is missing is reported, not hidden
            rows.append({"renderer": f"pixelkit {name}", "error": str(e)})
            continue
        rows.append({"renderer": f"pixelkit {name}", "render_ms": median_ms(times), "per_s": 1000 / median_ms(times),
                     "mean_ms": statistics.fmean(times) * 1000})
        if cache:
            stats = r.cache_stats
            second = timed(r, texts, warmup=0)
            rows.append({"renderer": f"pixelkit {name.replace('first pass', 'second pass')}",
                         "render_ms": median_ms(second), "per_s": 1000 / median_ms(second),
                         "mean_ms": statistics.fmean(second) * 1000})
            if name.startswith("pangocairo gray"):
                rows.append(prefetched_row(cfg, texts, name.replace("first pass", "first pass, prefetch per 64 strips")))
            notes.append(f"- {name}: {stats['lookups']} lookups, {stats['composed']} strips composed from the cache, "
                         f"{stats['words_shaped']:,} distinct words shaped in {stats['batches']} batches "
                         f"({stats['words_shaped'] / len(texts):.1f} new words per strip on the first pass), "
                         f"{stats['foreign']} foreign words left to Pango")
        if name.startswith("pangocairo gray"):
            arrays["cache" if cache else "pango"] = np.stack([r(t).pixels for t in texts])
    return rows, arrays, notes


ENWIKI = ROOT.parent / "shared" / "data" / "wikipedia" / "enwiki-articles-excerpt.xml.bz2"


def stream_lines(window: int = 500) -> list[str]:
    """The shaping cache over a longer stream: every strip of an English Wikipedia dump excerpt (106 articles,
    ~2.9M characters as the pipeline cleans them), in order, through one renderer, as a worker meets them."""
    if not ENWIKI.is_file():
        return [f"- stream: not run ({ENWIKI} missing)"]
    from pixelkit.pipeline.readers.wikidump import iter_wikipedia

    text = " ".join(" ".join(r.text.split()) for r in iter_wikipedia(str(ENWIKI), "enwiki") if hasattr(r, "text"))
    strips = [text[i:i + 1200] for i in range(0, len(text) - 1200, 1200)]
    r = TextRenderer(RenderConfig())
    r(UNRELATED)
    times, shaped = [], []
    for t in tqdm(strips, desc="enwiki stream"):
        before = r.cache_stats["words_shaped"]
        t0 = CLOCK()
        r(t)
        times.append(CLOCK() - t0)
        shaped.append(r.cache_stats["words_shaped"] - before)
    pango = TextRenderer(RenderConfig(), shape_cache=False)
    tail = strips[-window:]
    pango_ms = median_ms(timed(pango, tail))
    first, last = median_ms(times[:window]), median_ms(times[-window:])
    return [f"- stream: {len(strips):,} strips of an English Wikipedia dump excerpt in order through one renderer: "
            f"first {window} strips {first:.3f} ms median ({np.mean(shaped[:window]):.1f} new words per strip), "
            f"last {window} {last:.3f} ms ({np.mean(shaped[-window:]):.1f} new words per strip); Pango only on "
            f"the last {window}: {pango_ms:.3f} ms, **{pango_ms / last:.2f}x** slower"]


def run_encodings(strips: np.ndarray, mode: str) -> list[dict]:
    rows = []
    h, w = strips.shape[1:3]
    for enc in ENCODINGS:
        blobs = [encode_pixels(s, mode, enc) for s in strips]
        enc_ms = median_ms(timed(lambda s: encode_pixels(s, mode, enc), list(strips)))
        dec_ms = median_ms(timed(lambda b: decode_pixels(b, enc, mode=mode, height=h, width=w), blobs))
        assert all(np.array_equal(decode_pixels(b, enc, mode=mode, height=h, width=w), s) for b, s in zip(blobs, strips))
        rows.append({"encoding": enc, "mode": mode, "encode_ms": enc_ms, "decode_ms": dec_ms,
                     "bytes": float(np.mean([len(b) for b in blobs]))})
    return rows


def run_peer(peer: str, venvs: Path, texts_file: Path, out: Path) -> dict:
    py = venvs / peer / "bin" / "python"
    if not py.exists():
        return {"peer": peer, "error": f"not set up ({py} missing): python tests/benchmarks/peers.py setup --all"}
    cmd = ["taskset", "-c", "0", str(py), str(Path(__file__).with_name("peers.py")), "run", "--peer", peer,
           "--texts", str(texts_file), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"peer": peer, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rtl_pairs() -> list[tuple[str, str]]:
    """Arabic and Hebrew UDHR sentence pairs (bundled excerpt), as they are and with a leading Latin word in one
    text: the case where PIXEL's RTL pair rule and Pango's automatic direction disagree."""
    recs = {json.loads(line)["lang"]: json.loads(line) for line in
            (ROOT / "pipeline/sample_data/udhr-excerpt.jsonl").read_text(encoding="utf-8").splitlines()}
    out = []
    for lang in ("arb", "heb"):
        sents = [s.strip()[:300] for p in recs[lang]["paragraphs"] for s in re.split(r"(?<=[.،؛:])\s+", p)
                 if len(s.strip()) > 20]
        for i, (a, b) in enumerate(zip(sents, sents[1:])):
            out += [(a, b), (f"Article {i + 1}: {a}", b), (a, f"UN 1948 {b}")]
    return out


def pair_identity(peers_dir: Path, tmp: Path) -> str:
    py = peers_dir / "xplip-pixel" / "bin" / "python"
    if not py.exists():
        return "- RTL pairs vs xplip-pixel: not run (peer not set up)"
    pairs = rtl_pairs()
    pf, out = tmp / "pairs.jsonl", tmp / "pairs.npz"
    pf.write_text("".join(json.dumps({"pair": p}, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    proc = subprocess.run([str(py), str(Path(__file__).with_name("peers.py")), "pairs", "--pairs", str(pf),
                           "--out", str(out)], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"- RTL pairs vs xplip-pixel: failed ({(proc.stderr.strip().splitlines() or ['?'])[-1]})"
    theirs = np.load(out)["pixels"]
    r = TextRenderer(RenderConfig())
    same_pair = sum(np.array_equal(r.render_pair(a, b).pixels, t) for (a, b), t in zip(pairs, theirs))
    same_qa = sum(np.array_equal(r.render_qa(a, b)[0].pixels, t) for (a, b), t in zip(pairs, theirs))
    return (f"- RTL pairs (Arabic/Hebrew UDHR, a third with a leading Latin word) pixel-identical to xplip-pixel: "
            f"{same_pair}/{len(pairs)} as pairs, {same_qa}/{len(pairs)} as QA windows")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/render.md")
    ap.add_argument("--peers", type=Path, default=Path("/tmp/peers"), help="where peers.py setup made the venvs")
    ap.add_argument("--skip-peers", action="store_true")
    a = ap.parse_args()
    pinned = pin_one_core()
    texts, source = full_strip_texts(a.n)
    ours, arrays, cache_notes = run_ours(texts)
    gray = arrays["cache"]
    same_paths = int(sum(np.array_equal(a, b) for a, b in zip(arrays["cache"], arrays["pango"])))
    enc_rows = run_encodings(gray, "gray")
    binary = np.stack([TextRenderer(preset("pixar"))(t).pixels for t in texts])
    enc_rows += run_encodings(binary, "binary")

    peer_rows, identity, pairs_line, pygame_lines = [], {}, None, []
    if not a.skip_peers:
        with tempfile.TemporaryDirectory() as tmp:
            tf = Path(tmp) / "texts.jsonl"
            tf.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
            for peer in tqdm(PEERS, desc="peers"):
                res = run_peer(peer, a.peers, tf, Path(tmp) / f"{peer}.npz")
                peer_rows.append(res)
                if "error" not in res:
                    theirs = np.load(Path(tmp) / f"{peer}.npz")["pixels"]
                    identity[peer] = int(sum(np.array_equal(x, y) for x, y in zip(gray, theirs)))
            pairs_line = pair_identity(a.peers, Path(tmp))
            pygame_lines = pygame_identity.section(texts, a.peers, Path(tmp))  # PIXEL-base's PyGame renderer

    best_peer = max((r["renders_per_s"] for r in peer_rows if "error" not in r), default=None)
    best_peer_mean = min((r["render_ms_mean"] for r in peer_rows if "error" not in r and "render_ms_mean" in r),
                         default=None)
    best_png_path = max((1000 / r["render_png_ms_median"] for r in peer_rows if "error" not in r
                         and r.get("render_png_ms_median")), default=None)
    row = {r["renderer"].split(", ", 1)[-1]: r for r in ours if r["renderer"].startswith("pixelkit pangocairo gray")}
    pxz = next(r for r in enc_rows if r["encoding"] == "pxz" and r["mode"] == "gray")
    png = next(r for r in enc_rows if r["encoding"] == "png" and r["mode"] == "gray")

    lines = ["# Renderer benchmark", "", *machine_info(("numpy", "pangocffi", "pangocairocffi", "pygame-ce", "zstandard", "pillow")),
             f"- {len(texts)} strips of ~1,200 chars of real WikiText ({source}); {pinned}; medians per call, "
             + ("timed by the calling thread's CPU time (PIXELKIT_BENCH_CLOCK=thread; the peers' too)"
                if CLOCK is time.thread_time else "timed by the wall clock"), "",
             "## Render only (renders/s per core)", "",
             "renders/s from the median; the mean shows what a first pass costs in all (its early strips meet more new words).",
             "", "| renderer | median ms | mean ms | renders/s |", "|---|---:|---:|---:|"]
    for r in ours:
        med = f"{r['render_ms']:.3f}" if r.get("render_ms") else "—"
        lines.append(f"| {r['renderer']} | {med} | {r['mean_ms']:.3f} | {r['per_s']:,.0f} |" if "error" not in r
                     else f"| {r['renderer']} | error: {r['error']} | | |")
    for r in peer_rows:
        if "error" in r:
            lines.append(f"| peer {r['peer']} | not run: {r['error']} | | |")
        else:
            lines.append(f"| peer {r['peer']} {r.get('version', '')} (gray 16x8464) | {r['render_ms_median']:.3f} | "
                         f"{r.get('render_ms_mean', float('nan')):.3f} | {r['renders_per_s']:,.0f} |")
    lines += ["", "## Encodings (gray 16x8464 PIXEL strips; binary 8x4232 PIXAR strips)", "",
              "| encoding | mode | encode ms | decode ms | bytes/sample | vs PNG bytes |", "|---|---|---:|---:|---:|---:|"]
    for r in enc_rows:
        ref = next(x for x in enc_rows if x["encoding"] == "png" and x["mode"] == r["mode"])
        lines.append(f"| {r['encoding']} | {r['mode']} | {r['encode_ms']:.3f} | {r['decode_ms']:.3f} | "
                     f"{r['bytes']:,.0f} | {r['bytes'] / ref['bytes']:.2f}x |")
    lines += ["", "## Side by side", ""]
    for key in ("Pango only", "shape cache, first pass", "shape cache, second pass",
                "shape cache, first pass, prefetch per 64 strips"):
        r = row[key]
        ms = r["render_ms"] or r["mean_ms"]
        line = f"- ours, {key}: render {1000 / ms:,.0f}/s"
        if best_peer and r["render_ms"]:
            line += f" = **{1000 / ms / best_peer:.2f}x** the fastest peer ({best_peer:,.0f}/s; medians; target >= 2x)"
        if best_peer_mean:
            line += f"; by means {best_peer_mean / r['mean_ms']:.2f}x"
        enc_rate = 1000 / (ms + pxz["encode_ms"])
        line += f"; render + pxz {enc_rate:,.0f}/s"
        if best_png_path:
            line += f" = **{enc_rate / best_png_path:.2f}x** the best peer's render + PNG ({best_png_path:,.0f}/s; target >= 4x)"
        lines.append(line)
    lines.append(f"- pxz is {pxz['bytes'] / png['bytes']:.2f}x PNG's bytes (target <= 0.9x), lossless (decoded and compared)")
    lines.append(f"- shape cache vs Pango only: {same_paths}/{len(texts)} strips pixel-identical")
    lines += cache_notes
    lines += stream_lines()
    for peer, same in identity.items():
        lines.append(f"- pixel-identical to {peer}: {same}/{len(texts)} strips")
    if pairs_line:
        lines.append(pairs_line)
    if pygame_lines:
        lines += ["", *pygame_lines]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
