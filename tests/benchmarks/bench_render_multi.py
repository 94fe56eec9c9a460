"""Multilingual render benchmark: full PIXEL strips of real prose in 15 scripts and mixed-script strips, ours (the
shaping cache's first and second pass, Pango only) beside the peers, with per-script pixel identity.

    python tests/benchmarks/bench_render_multi.py --out tests/benchmarks/results/render_multi.md

Text: the UDHR in the scripts' languages (../shared/data/udhr, 532 languages), the Bulgarian Wikipedia excerpt
(Cyrillic prose with Latin names and numbers), and real mixtures: Russian, Arabic and Chinese UDHR sentences
each followed by a name or number phrase from the English UDHR. Each language is packed into strips by the
pipeline's own chunker (``chunk_document``, measured by a Pango-only renderer) and only full strips (>= 80% of the
budget) are kept. Ours is timed on one core, strip by strip interleaved: Pango only and the cache's first pass
(a fresh renderer per script: every word new), taking turns going first, and again for the second pass (every word
seen); each pass is compared with Pango only's same pass. Peers run in
their own venvs (``python tests/benchmarks/peers.py setup --all``) as servers pinned to the same core
(``peers.py serve``), each rendering every strip right after ours: first pass, peers and Pango only side by side
strip by strip. Every call is timed by the CPU time of its thread (``time.thread_time``; the peers' too, through
``PIXELKIT_BENCH_CLOCK=thread``), so other processes on a loaded machine do not count. Ratios are of medians.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from html import unescape
from pathlib import Path

import numpy as np

os.environ["PIXELKIT_BENCH_CLOCK"] = "thread"  # CPU time of the timed thread: the machine may be loaded
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_render import PEERS  # noqa: E402
from common import ROOT, machine_info, pin_one_core, write_report  # noqa: E402

from pixelkit.pipeline.chunking import chunk_document  # noqa: E402
from pixelkit.pipeline.documents import Document  # noqa: E402
from pixelkit.pipeline.render import RenderConfig, TextRenderer  # noqa: E402

log = logging.getLogger("bench_render_multi")
DATA = ROOT.parent / "shared" / "data"
UDHR = DATA / "udhr" / "declaration"
BGWIKI = DATA / "wikipedia" / "bgwiki-articles-excerpt.xml.bz2"
# script -> UDHR languages (lang attribute of the declaration files); the first file of each language is read
SCRIPTS = {
    "English (Latin, ASCII)": ["en"],
    "Latin with diacritics (vi, de, pl, cs)": ["vi", "de-1996", "pl", "cs"],
    "Cyrillic (ru, uk, bg)": ["ru", "uk", "bg"],
    "Greek": ["el-monoton"],
    "Arabic (ar, fa)": ["ar", "fa"],
    "Hebrew": ["he"],
    "Devanagari (hi, mr)": ["hi", "mr"],
    "Tamil": ["ta"],
    "Bengali": ["bn"],
    "Thai": ["th"],
    "Han (zh)": ["zh"],
    "Japanese (kana + kanji)": ["ja"],
    "Hangul (ko)": ["ko"],
    "Ethiopic (am, ti)": ["am", "ti"],
}
MIXED = {"Mixed: Russian + Latin names/numbers": "ru", "Mixed: Arabic + Latin names/numbers": "ar",
         "Mixed: Chinese + Latin names/numbers": "zh"}
_SENT = re.compile(r"(?<=[.!?。;؛])\s*")


def udhr_texts() -> dict[str, str]:
    out: dict[str, str] = {}
    for f in sorted(UDHR.glob("*.html")):
        raw = f.read_text(encoding="utf-8")
        lang = re.search(r'lang="([^"]+)"', raw).group(1)
        if lang in out:
            continue
        paras = [" ".join(unescape(re.sub("<[^>]+>", "", p)).split()) for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
        out[lang] = "\n".join(p for p in paras if p)
    return out


def bgwiki_articles() -> list[str]:
    """The Bulgarian Wikipedia excerpt's articles (markup stripped by the pipeline's own reader)."""
    from pixelkit.pipeline.readers.wikidump import iter_wikipedia

    return [r.text for r in iter_wikipedia(str(BGWIKI), "bgwiki") if hasattr(r, "text")]


def bgwiki_text() -> str:
    return "\n".join(bgwiki_articles())


def mixed(text: str, english: str) -> str:
    """``text``'s sentences, each followed by a phrase holding a capitalised word or a number of the English UDHR
    (as a name, term or year stands inside a sentence of another script)."""
    phrases = [m.group() for m in re.finditer(r"\b(?:[A-Z][a-z]+(?: [A-Z][a-z]+)?|\d+(?:\.\d+)?)\b", english)]
    phrases = [p for p in phrases if p not in ("The", "Whereas", "Everyone", "No", "All", "Article")] or ["UN 1948"]
    out = []
    for i, s in enumerate(x for x in _SENT.split(text) if x):
        out.append(f"{s} {phrases[i % len(phrases)]} {1948 + i}")
    return " ".join(out)


def full_strips(text: str, name: str, measure, budget: int, cap: int) -> list[str]:
    chunks = chunk_document(Document("bench", name, text), measure, budget)
    return [c.text for c in chunks if measure(c.text) >= 0.8 * budget][:cap]


def corpus(cap: int) -> dict[str, list[str]]:
    pango = TextRenderer(RenderConfig(), shape_cache=False)
    budget = pango.text_budget
    udhr = udhr_texts()
    groups: dict[str, list[str]] = {}
    for script, langs in SCRIPTS.items():
        strips: list[str] = []
        for lang in langs:
            strips += full_strips(udhr[lang], lang, pango.measure, budget, cap)
        groups[script] = strips[:cap]
    if BGWIKI.is_file():
        groups["Mixed: Bulgarian Wikipedia (Cyrillic + Latin, real)"] = full_strips(bgwiki_text(), "bgwiki",
                                                                                   pango.measure, budget, cap)
    for name, lang in MIXED.items():
        groups[name] = full_strips(mixed(udhr[lang].replace("\n", " "), udhr["en"]), lang, pango.measure, budget, cap)
    return groups


def _time(r, t) -> tuple[float, np.ndarray]:
    t0 = time.thread_time()
    px = r(t).pixels
    return time.thread_time() - t0, px


class Peer:
    """A peer renderer serving strips on request in its own venv (``peers.py serve``), pinned to our core."""

    def __init__(self, name: str, peers_dir: Path, out: Path):
        self.name, self.out, self.version, self.error = name, out, "", None
        py = peers_dir / name / "bin" / "python"
        if not py.exists():
            self.error, self.proc = f"not set up ({py} missing): python tests/benchmarks/peers.py setup --all", None
            return
        core = str(min(os.sched_getaffinity(0)))
        self.proc = subprocess.Popen(["taskset", "-c", core, str(py), str(Path(__file__).with_name("peers.py")),
                                      "serve", "--peer", name, "--out", str(out)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
        reply = self._reply("ready")
        if reply is None:
            self.error, self.proc = "did not start (see: peers.py check --peer " + name + ")", None
        else:
            self.version = reply["ready"]

    def _reply(self, key: str) -> dict | None:
        for line in self.proc.stdout:  # a peer's library may print to stdout too: skip what is not ours
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            if isinstance(reply, dict) and key in reply:
                return reply
        return None

    def __call__(self, text: str) -> float:
        self.proc.stdin.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        return self._reply("ms")["ms"] / 1000

    def close(self) -> np.ndarray | None:
        if self.proc is None:
            return None
        self.proc.stdin.close()
        self.proc.wait()
        return np.load(self.out)["pixels"]


# Drawn by each fresh renderer before its group: Pango, and the compiled kernels of one script, of two and of
# Han/kana (compiled or loaded from numba's disk cache once per process). The second Han strip reaches what only a
# renderer that already holds a Han class runs (``cjk._char_ids``: ~3-7 ms to load, which the first Han strip of
# the run paid before).
WARM_UP = ("warm up Pango and the kernels", "warm up Москва kernels", "暖身 kernels", "身暖 kernels")


def run_group(strips: list[str], peers: list[Peer]) -> dict:
    """Interleaved strip by strip: Pango only, a fresh cache (first pass), each peer; then Pango only and the cache
    again (second pass). CPU time of the rendering thread (ours) and of each peer's (its own report).

    Pango only and the cache take turns going first (Pango only on even strips): in one process the renderer that
    draws a strip first pays for process-wide state the other then finds warm (cairo's glyph cache, shared by both
    font maps): two Pango-only renderers interleaved the same way differ by 5-14% on their first pass, whichever goes
    first slower (results/render_multi.md, "Gated strips"). Each pass is compared with the same pass of Pango only
    (``pango1``, ``pango2``; ``pango``: both passes, as this benchmark reported before)."""
    pango = TextRenderer(RenderConfig(), shape_cache=False)
    cache = TextRenderer(RenderConfig())
    for r in (pango, cache):
        for text in WARM_UP:
            r(text)
    before = dict(cache.cache_stats)
    live = [p for p in peers if p.error is None]
    times: dict[str, list[float]] = {k: [] for k in ("pango1", "pango2", "first", "second", *(p.name for p in live))}
    pixels, same = [], 0
    for i, t in enumerate(strips):
        for r in (pango, cache) if i % 2 == 0 else (cache, pango):
            dt, px = _time(r, t)
            times["pango1" if r is pango else "first"].append(dt)
            if r is pango:
                a = px
            else:
                b = px
        same += int(np.array_equal(a, b))
        pixels.append(a)
        for p in live:
            times[p.name].append(p(t))
    first = {k: v - before.get(k, 0) for k, v in cache.cache_stats.items()}
    for i, (t, a) in enumerate(zip(strips, pixels)):
        for r in (pango, cache) if i % 2 == 0 else (cache, pango):
            dt, px = _time(r, t)
            times["pango2" if r is pango else "second"].append(dt)
            if r is cache:
                same += int(np.array_equal(a, px))
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    ms["pango"] = statistics.median(times["pango1"] + times["pango2"]) * 1000
    ms["first_mean"] = statistics.fmean(times["first"]) * 1000
    ms["pango1_mean"] = statistics.fmean(times["pango1"]) * 1000
    ms["pango_mean"] = statistics.fmean(times["pango1"] + times["pango2"]) * 1000
    return {"ms": ms, "same": same, "n": 2 * len(strips), "stats": first, "pixels": np.stack(pixels)}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser()
    ap.add_argument("--strips", type=int, default=24, help="full strips per script at most")
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/render_multi.md")
    ap.add_argument("--peers", type=Path, default=Path("/tmp/peers"), help="where peers.py setup made the venvs")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--only", nargs="+", metavar="ROW", help="only these rows (names as in the table)")
    a = ap.parse_args()
    if not UDHR.is_dir():
        raise SystemExit(f"needs the UDHR set at {UDHR}")
    pinned = pin_one_core()
    groups = corpus(a.strips)
    if a.only:
        groups = {k: groups[k] for k in a.only}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        peers = [] if a.skip_peers else [Peer(p, a.peers, Path(tmp) / f"{p}.npz") for p in PEERS]
        for script, strips in groups.items():
            log.info("%s: %d strips", script, len(strips))
            rows.append((script, strips, run_group(strips, peers)))
        theirs = {p.name: p.close() for p in peers}
    at = 0
    for script, strips, ours in rows:
        ours["peers"] = {p.name: ({"error": p.error} if p.error else {
            "render_ms_median": ours["ms"][p.name], "version": p.version,
            "pixels": theirs[p.name][at:at + len(strips)]}) for p in peers}
        at += len(strips)
    rows = [(script, strips, ours, ours["peers"]) for script, strips, ours in rows]

    lines = ["# Multilingual renderer benchmark", "",
             *machine_info(("numpy", "pangocffi", "pangocairocffi")),
             f"- strips: full 16x8464 PIXEL strips (GoNotoCurrent, gray), packed by `chunk_document`, >= 80% of the "
             f"budget, at most {a.strips} per script; {pinned}; medians of per-strip CPU times of the rendering thread "
             f"(`time.thread_time`, ours and the peers': the machine was shared); ours interleaved strip by "
             "strip with the peers (Pango only and cache taking turns going first / each peer)", "",
             "| script | strips | ours Pango only ms (1st / 2nd pass) | cache 1st pass ms | cache 2nd pass ms | "
             "1st vs Pango only's 1st (medians; means) | "
             + " | ".join(f"{p} ms" for p in PEERS) + " | 1st vs fastest peer | 2nd vs fastest peer | "
             "identical to Pango only | identical to xplip-pixel | composed / gated (1st pass) |",
             "|---|---:|---:|---:|---:|---:|" + "---:|" * len(PEERS) + "---:|---:|---:|---:|---:|"]
    for script, strips, ours, peers in rows:
        ms = ours["ms"]
        peer_ms = {p: r["render_ms_median"] for p, r in peers.items() if "error" not in r}
        best = min(peer_ms.values(), default=None)
        xp = peers.get("xplip-pixel", {})
        same_xp = (f"{sum(np.array_equal(x, y) for x, y in zip(ours['pixels'], xp['pixels']))}/{len(strips)}"
                   if "pixels" in xp else "not run")
        cells = [f"{peer_ms[p]:.2f}" if p in peer_ms else "not run" for p in PEERS]
        st = ours["stats"]
        lines.append(
            f"| {script} | {len(strips)} | {ms['pango1']:.2f} / {ms['pango2']:.2f} | {ms['first']:.2f} | "
            f"{ms['second']:.2f} | {ms['pango1'] / ms['first']:.2f}x; {ms['pango1_mean'] / ms['first_mean']:.2f}x | "
            + " | ".join(cells) + " | "
            + (f"{best / ms['first']:.2f}x | {best / ms['second']:.2f}x" if best else "— | —")
            + f" | {ours['same']}/{ours['n']} | {same_xp} | {st['composed']} / {st['gated']} |")
    versions = {p: r["version"] for _, _, _, peers in rows for p, r in peers.items() if r.get("version")}
    lines += [""] + [f"- peer {p}: {v}" for p, v in versions.items()]
    errors = {p: r["error"] for _, _, _, peers in rows for p, r in peers.items() if "error" in r}
    for p, e in errors.items():
        lines.append(f"- {p}: {e}")
    lines += ["", "Columns: `1st vs Pango only's 1st` > 1 means the cache's first pass is faster than Pango alone's "
              "first pass over the same strips (both renderers fresh); "
              "`vs fastest peer` is the fastest peer's median over ours. `composed / gated`: strips the cache drew "
              "on its first pass / strips the script gate sent to Pango before any shaping (see "
              "`pipeline/render/pango/scriptgate.py`)."]
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
