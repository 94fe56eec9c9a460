"""Not speed: every UDHR language (532, ``../shared/data/udhr``) through every rendering mode -- PangoCairo gray /
RGB / binary, PyGame gray / binary -- and every layout (text: the page's first 300 characters; pair: two 120-character
pieces; words: its first 12 words; QA: a 60-character question over the next 840 characters, stride 4), short
strips. Lists crashes, failed renders, strips with no ink, tofu (languages with any, the most), unshaped characters
(PyGame), and renders that differ when a fresh renderer renders every language again in reverse order.

    python tests/benchmarks/sweep_udhr_modes.py            # -> results/udhr_modes.md
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from html import unescape
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
UDHR = ROOT.parent / "shared" / "data" / "udhr" / "declaration"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

from common import machine_info, pin_one_core, write_report  # noqa: E402

from pixelkit.pipeline.render import TextRenderer, preset  # noqa: E402

MODES = {
    "PangoCairo gray (pixel, GoNoto)": preset("pixel", max_patches=64),
    "PangoCairo RGB (pixel-rgb, + emoji)": preset("pixel-rgb", max_patches=64),
    "PangoCairo binary (pixar-pango)": preset("pixar-pango", max_patches=96),
    "PyGame gray (pixel --backend pygame, GoNoto)": preset("pixel", backend="pygame", max_patches=64),
    "PyGame binary (pixar, PixeloidSans)": preset("pixar", max_patches=96),
}


def page(raw: str) -> str:
    paras = [" ".join(unescape(re.sub("<[^>]+>", "", p)).split()) for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
    return " ".join(p for p in paras if p)


def layouts(r, t: str) -> dict:
    return {"text": r.render_text(t[:300]), "pair": r.render_pair(t[:120], t[120:240]),
            "words": r.render_words(t.split()[:12]), "qa": r.render_qa(t[:60], t[60:900], stride=4)[0]}


def digest(res) -> str | None:
    return None if res.pixels is None else hashlib.sha1(np.ascontiguousarray(res.pixels).tobytes()).hexdigest()


def sweep(cfg, texts: dict[str, str]) -> dict:
    r, first, out = TextRenderer(cfg), {}, {"crash": [], "failed": [], "blank": [], "tofu": {}, "unshaped": {}}
    t0 = time.process_time()
    for lang, t in texts.items():
        try:
            res = layouts(r, t)
        except Exception as e:  # noqa: BLE001 - a sweep lists every crash, whatever it is
            out["crash"].append(f"{lang}: {e!r}")
            continue
        first[lang] = {k: digest(v) for k, v in res.items()}
        for k, v in res.items():
            if not v.ok:
                out["failed"].append(f"{lang}/{k}: {v.reason}")
                continue
            px = np.asarray(v.pixels)
            px = px if px.ndim == 2 else px.min(axis=2)
            if not (px[:, : v.sep_patches[0] * cfg.pixels_per_patch] != px.max()).any():
                out["blank"].append(f"{lang}/{k}")
        out["tofu"][lang] = res["text"].unknown_glyphs
        out["unshaped"][lang] = res["text"].unshaped_chars
    r2, out["nondeterministic"] = TextRenderer(cfg), []
    for lang in reversed(list(first)):
        res = layouts(r2, texts[lang])
        out["nondeterministic"] += [f"{lang}/{k}" for k, v in res.items() if digest(v) != first[lang][k]]
    out["cpu_s"] = time.process_time() - t0
    return out


def main() -> None:
    pin_one_core()
    texts = {p.stem: page(p.read_text(encoding="utf-8")) for p in sorted(UDHR.glob("*.html"))}
    lines = ["# Every UDHR language through every rendering mode and layout", "",
             *machine_info(("pangocffi", "pygame-ce")), f"- {len(texts)} languages, {sum(map(bool, texts.values()))} "
             "with text; layouts text, pair, words, QA (first window); strips of 64 (16 px) or 96 (8 px) patches", "",
             "| mode | crashes | failed renders | strips without ink | nondeterministic | languages with tofu "
             "(text) | most tofu | languages with unshaped characters | CPU s |", "|---|---|---|---|---|---|---|---|---|"]
    for name, cfg in MODES.items():
        o = sweep(cfg, {k: v for k, v in texts.items() if v})
        tofu = sorted(((n, lang) for lang, n in o["tofu"].items() if n), reverse=True)
        unshaped = sum(1 for n in o["unshaped"].values() if n)
        lines.append(f"| {name} | {len(o['crash'])} | {len(o['failed'])} | {len(o['blank'])} | "
                     f"{len(o['nondeterministic'])} | {len(tofu)} | "
                     f"{', '.join(f'{lang} {n}' for n, lang in tofu[:4]) or '-'} | {unshaped} | {o['cpu_s']:.1f} |")
        for what in ("crash", "failed", "blank", "nondeterministic"):
            if o[what]:
                lines.append(f"|  {what}: {'; '.join(o[what][:10])} |||||||||")
    write_report(ROOT / "tests" / "benchmarks" / "results" / "udhr_modes.md", lines)


if __name__ == "__main__":
    main()
