"""Measure xplip/pixel's own span masking, so tests can hold ours to its statistics.

Runs the reference's ``SpanMaskingGenerator`` (``src/pixel/models/masking.py``) and its ``controlled_masking``
top-up (``src/pixel/models/pixel/modeling_pixel.py``) from a fetched copy of xplip/pixel OUTSIDE this repository,
configured as its ``scripts/training/run_pretraining.py`` does for PIXEL-base (529 patches, ratio 0.25,
``num_masking_patches = ceil(0.25 * 529)``, spans 1-6 with cumulative weights 0.2/0.4/0.6/0.8/0.9/1,
``spacing="span"``, the generator called with ``num_patches + 1`` = text + EOS), many times at several text
lengths, and writes the figures to ``tests/assets/masking_reference.json`` (``figures`` below: the same function
computes ours in ``tests/test_masking.py``). No reference code is copied here: the generator's module is loaded from
the checkout, and ``controlled_masking`` is taken from the checkout's source by name and run with a stand-in ``self``.

    # a copy of the reference, outside the repo (any checkout of github.com/xplip/pixel works)
    mkdir -p /work/scratch/fidelity/pixel && git --git-dir=<mirror of xplip/pixel> archive HEAD \
        src/pixel/models scripts/training | tar -x -C /work/scratch/fidelity/pixel
    PYTHONPATH=$PWD .venv/bin/python tests/benchmarks/ref_masking.py --pixel /work/scratch/fidelity/pixel \
        --revision $(git --git-dir=<mirror of xplip/pixel> rev-parse HEAD)      # ~6 min on one core

Without the checkout (``--pixel`` or ``$PIXEL_REF_DIR``) it says so and exits 0 without writing anything.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

NUM_PATCHES, RATIO, MAX_SPAN = 529, 0.25, 6
WEIGHTS = [0.2, 0.4, 0.6, 0.8, 0.9, 1.0]
TEXT_LENGTHS = (22, 50, 100, 200, 350, 528)  # 22: PIXEL's pretraining filter keeps strips with >= 22 text patches
OUT = Path(__file__).resolve().parents[1] / "assets" / "masking_reference.json"


def runs(mask: np.ndarray) -> np.ndarray:
    """Lengths of the maximal runs of True in a 1D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return edges[1::2] - edges[::2]


def figures(spans: np.ndarray, drops: np.ndarray, num_text: int) -> dict:
    """Statistics of (samples, N) span masks and final drop masks for strips with ``num_text`` text patches."""
    seen = num_text + 1  # text + EOS: what the attention mask covers and the loss counts
    lengths = np.concatenate([runs(m) for m in spans])
    hist = np.bincount(np.minimum(lengths, MAX_SPAN + 1), minlength=MAX_SPAN + 2)[1:]
    masked = spans.sum(1)
    return {
        "span_masked_mean": float(masked.mean()),  # patches the span generator masks (target 133)
        "span_short_of_target": float((masked < math.ceil(RATIO * NUM_PATCHES)).mean()),
        "span_share_text": float(spans[:, :seen].mean()),  # share of text + EOS patches the spans cover
        "span_outside_share": float(spans[:, seen:].sum() / max(masked.sum(), 1)),  # of span patches, on padding
        "spans_mean": float(len(lengths) / len(spans)),  # maximal runs per strip
        "span_length_hist": [float(x) for x in hist / hist.sum()],  # runs of 1..6, then > 6
        "drop_share_text": float(drops[:, :seen].mean()),  # after the controlled top-up: what the loss sees
        "drop_count": float(drops.sum(1).mean()),
    }


def _load(checkout: Path):
    masking = checkout / "src/pixel/models/masking.py"
    modeling = checkout / "src/pixel/models/pixel/modeling_pixel.py"
    if not np.__dict__.get("int"):
        np.int = int  # the reference uses the alias numpy 1.24 removed (np.int == int before that)
    spec = importlib.util.spec_from_file_location("ref_masking_module", masking)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tree = ast.parse(modeling.read_text())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "controlled_masking")
    import torch
    namespace = {"torch": torch}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(modeling), "exec"), namespace)
    return module.SpanMaskingGenerator, namespace["controlled_masking"], torch


def measure(checkout: Path, samples: int, seed: int) -> dict:
    Generator, controlled, torch = _load(checkout)
    gen = Generator(num_patches=NUM_PATCHES, num_masking_patches=math.ceil(RATIO * NUM_PATCHES),
                    max_span_length=MAX_SPAN, spacing="span", cumulative_span_weights=WEIGHTS)
    this = SimpleNamespace(config=SimpleNamespace(mask_ratio=RATIO))
    random.seed(seed)
    torch.manual_seed(seed)
    out = {}
    for t in TEXT_LENGTHS:
        start = time.perf_counter()
        spans = np.stack([gen(t + 1) for _ in range(samples)]).astype(bool)  # as run_pretraining.py calls it
        seq = torch.zeros(samples, NUM_PATCHES, 1)
        _, _, drop, _ = controlled(this, seq, torch.ones(samples, NUM_PATCHES), torch.from_numpy(spans).float())
        out[str(t)] = figures(spans, drop.numpy().astype(bool), t)
        print(f"{t:4d} text patches: {out[str(t)]['drop_share_text']:.4f} of text+EOS dropped, "
              f"{out[str(t)]['spans_mean']:.2f} spans ({time.perf_counter() - start:.1f} s)")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pixel", default=os.environ.get("PIXEL_REF_DIR"), help="checkout of xplip/pixel")
    ap.add_argument("--samples", type=int, default=20000, help="masks per text length")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--revision", help="the checkout's commit, when it is not a git work tree (e.g. git archive)")
    args = ap.parse_args(argv)
    checkout = Path(args.pixel) if args.pixel else None
    if checkout is None or not (checkout / "src/pixel/models/masking.py").exists():
        print(f"skipped: no xplip/pixel checkout at {checkout} (give --pixel DIR or $PIXEL_REF_DIR); nothing written")
        return 0
    figs = measure(checkout, args.samples, args.seed)
    try:
        rev = args.revision or subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = "unknown (not a git checkout)"
    doc = {
        "reference": "xplip/pixel src/pixel/models/masking.py SpanMaskingGenerator + modeling_pixel.py "
                     "controlled_masking, configured as scripts/training/run_pretraining.py",
        "reference_revision": rev,
        "settings": {"num_patches": NUM_PATCHES, "mask_ratio": RATIO, "num_masking_patches":
                     math.ceil(RATIO * NUM_PATCHES), "max_span_length": MAX_SPAN, "spacing": "span",
                     "cumulative_span_weights": WEIGHTS, "generator_argument": "num_text_patches + 1"},
        "samples_per_length": args.samples,
        "seed": args.seed,
        "command": "PYTHONPATH=$PWD .venv/bin/python tests/benchmarks/ref_masking.py --pixel <checkout> "
                   f"--samples {args.samples} --seed {args.seed} --revision {rev}",
        "machine": f"{platform.platform()}, Python {platform.python_version()}, numpy {np.__version__}",
        "figures": figs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
