"""Write ``pixel-words.json``: xplip/pixel's own rendering of word lists (the bundled UD English-EWT excerpt: sha256
of each strip and its word starts) and of right-to-left text pairs (Arabic/Hebrew UDHR sentence pairs, a third of
them with a leading Latin word: the texts and the sha256 of each strip), for ``tests/test_word_parity.py``.

PIXEL's renderer (``PangoCairoTextRenderer`` called with a list of words, as its POS/UD/NER datasets call it, at
256 patches, and with a (text_a, text_b) tuple at 529; GoNoto 8 pt, 120 dpi, 16 px patches, gray) runs in its
throwaway venv from a fetched copy of its repository (``python tests/benchmarks/peers.py setup --peer
xplip-pixel``; never copied into this project) through ``peers.py words`` / ``pairs``; this script, run with
pixelkit's Python, gives it the texts and keeps only the hashes:

    PYTHONPATH=$PWD .venv/bin/python tests/assets/parity/pixel_words.py --peers /tmp/peers
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
EXCERPT = ROOT / "pipeline" / "sample_data" / "en_ewt-ud-test-excerpt.conllu"
OUT = Path(__file__).with_name("pixel-words.json")
PATCHES = 256


def sentences() -> list[list[str]]:
    from pixelkit.pipeline.tasks import LabelledRecord, read_records, resolve

    return [list(r.words) for r in read_records(str(EXCERPT), resolve("ud-en_ewt-pos")) if isinstance(r, LabelledRecord)]


def digest(pixels) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peers", type=Path, default=Path("/tmp/peers"), help="where peers.py setup made the venvs")
    a = ap.parse_args()
    sents = sentences()
    tree = a.peers / "xplip-pixel" / "src-tree"
    with tempfile.TemporaryDirectory() as tmp:
        words, out = Path(tmp) / "words.jsonl", Path(tmp) / "pixel.npz"
        words.write_text("".join(json.dumps({"words": w}, ensure_ascii=False) + "\n" for w in sents), encoding="utf-8")
        subprocess.run([str(a.peers / "xplip-pixel" / "bin" / "python"), str(ROOT / "tests/benchmarks/peers.py"),
                        "words", "--words", str(words), "--out", str(out), "--patches", str(PATCHES), "--repo",
                        str(tree)], check=True, capture_output=True)
        pixels = np.load(out)["pixels"]
        starts = json.loads(out.with_suffix(".json").read_text())
        sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
        from bench_render import rtl_pairs

        pairs, pairs_file, pairs_out = rtl_pairs(), Path(tmp) / "pairs.jsonl", Path(tmp) / "pairs.npz"
        pairs_file.write_text("".join(json.dumps({"pair": p}, ensure_ascii=False) + "\n" for p in pairs),
                              encoding="utf-8")
        subprocess.run([str(a.peers / "xplip-pixel" / "bin" / "python"), str(ROOT / "tests/benchmarks/peers.py"),
                        "pairs", "--pairs", str(pairs_file), "--out", str(pairs_out), "--repo", str(tree)], check=True,
                       capture_output=True)
        pair_pixels = np.load(pairs_out)["pixels"]
    commit = (tree / "COMMIT").read_text().strip() if (tree / "COMMIT").exists() else "unknown"
    rows = [{"words": len(w), "sha256": digest(p), "shape": list(p.shape), "word_starts": s}
            for w, p, s in zip(sents, pixels, starts)]
    pair_rows = [{"pair": list(p), "sha256": digest(x), "shape": list(x.shape)} for p, x in zip(pairs, pair_pixels)]
    OUT.write_text(json.dumps({"peer": f"xplip/pixel@{commit}", "renderer": "PangoCairoTextRenderer(words)",
                               "settings": {"font": "GoNotoCurrent.ttf", "font_size": 8, "dpi": 120,
                                            "pixels_per_patch": 16, "max_seq_length": [PATCHES, 529], "rgb": False},
                               "source": str(EXCERPT.relative_to(ROOT)), "command": " ".join(sys.argv),
                               "strips": rows, "rtl_pairs": pair_rows}, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(rows)} word strips, {len(pair_rows)} pairs -> {OUT}")


if __name__ == "__main__":
    main()
