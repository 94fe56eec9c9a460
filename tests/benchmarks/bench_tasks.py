"""Word-level task rendering (POS / NER / parsing input) vs xplip/pixel's own word-level path, side by side.

    python tests/benchmarks/bench_tasks.py --peers /tmp/peers --out tests/benchmarks/results/tasks.md

The same UD English-EWT sentences (the test split from ../shared/data, else the bundled excerpt; surface words as
our CoNLL-U reader gives them) are rendered at PIXEL's finetuning settings for POS and parsing (GoNoto 8 pt @ 120
dpi, 16 px patches, 256 patches) by PIXEL's PangoCairoTextRenderer called with a word list (what its POS/UD/NER
datasets do; run in its throwaway venv, ``peers.py setup --peer xplip-pixel``) and by ours: ``render_words`` on a
first pass (fresh renderer: every word new when met) and a second pass, and ``render_record`` (render + labels +
pxz encoding + the sample: the pipeline's per-record work). The whole ``pixel-render task`` job on the same file
(DirectRunner, in process) is timed too. Strips and word starts are compared with PIXEL's. One core, medians.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine_info, pin_one_core  # noqa: E402

from pipeline.render import RenderConfig, TextRenderer  # noqa: E402
from pipeline.tasks import LabelledRecord, read_records, resolve  # noqa: E402
from pipeline.tasks.render import prefetch_texts, render_record  # noqa: E402

log = logging.getLogger("bench_tasks")
EWT = ROOT.parent / "shared" / "data" / "ud" / "UD_English-EWT" / "en_ewt-ud-test.conllu"
BUNDLED = ROOT / "pipeline" / "sample_data" / "en_ewt-ud-test-excerpt.conllu"
PATCHES = 256
UNRELATED = "A sentence of none of the strips loads the compiled kernels first."


def each_ms(fn, items) -> list[float]:
    out = []
    for x in items:
        t0 = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run_ours(recs: list[LabelledRecord], cfg: RenderConfig) -> tuple[list[dict], list]:
    task = resolve("ud-en_ewt-pos")
    vocab = {t: i for i, t in enumerate(sorted({t for r in recs for t in r.tags}))}
    words = [list(r.words) for r in recs]
    r = TextRenderer(cfg)
    r(UNRELATED)
    first = each_ms(r.render_words, words)
    second = each_ms(r.render_words, words)
    results = [r.render_words(w) for w in words]
    pango = TextRenderer(cfg, shape_cache=False)
    pango(UNRELATED)
    only = each_ms(pango.render_words, words)
    rr = TextRenderer(cfg)
    rr(UNRELATED)
    record = each_ms(lambda rec: render_record(rec, rr, cfg, "pxz", task, vocab), recs)
    rb = TextRenderer(cfg)
    rb(UNRELATED)
    t0 = time.perf_counter()
    for i in range(0, len(recs), 64):  # what the job's RenderTaskFn does with a batch
        rb.prefetch(prefetch_texts(recs[i:i + 64]))
        for rec in recs[i:i + 64]:
            render_record(rec, rb, cfg, "pxz", task, vocab)
    batched = (time.perf_counter() - t0) * 1000 / len(recs)
    rows = [("render_words, Pango only", only), ("render_words, shape cache, first pass", first),
            ("render_words, shape cache, second pass", second),
            ("render_record (render + labels + pxz + sample), first pass", record)]
    out = [{"what": f"pixelkit {name}", "median_ms": statistics.median(t), "mean_ms": statistics.fmean(t)}
           for name, t in rows]
    out.append({"what": "pixelkit render_record, first pass, batches of 64 prefetched (the job's RenderTaskFn)",
                "median_ms": None, "mean_ms": batched})
    return out, results


def run_job(path: Path, tmp: Path, n: int) -> dict:
    from pipeline.tasks.job import run_task

    t0 = time.perf_counter()
    ms = run_task(["--task=ud-en_ewt-pos", f"--input=test={path}", "--vocab_split=test", f"--output={tmp / 'job'}",
                   f"--max_patches={PATCHES}", "--samples_per_shard=1000", f"--limit={n}"])
    secs = time.perf_counter() - t0
    n = ms["test"].counts["records_read"]
    return {"what": "pixelkit `pixel-render task` job (DirectRunner in process, start-up included)", "records": n,
            "seconds": secs, "mean_ms": secs / n * 1000}


def run_peer(peers: Path, recs: list[LabelledRecord], tmp: Path) -> dict:
    py = peers / "xplip-pixel" / "bin" / "python"
    if not py.exists():
        return {"error": f"not set up ({py} missing): python tests/benchmarks/peers.py setup --peer xplip-pixel"}
    wf, out = tmp / "words.jsonl", tmp / "pixel.npz"
    wf.write_text("".join(json.dumps({"words": list(r.words)}, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    proc = subprocess.run(["taskset", "-c", "0", str(py), str(Path(__file__).with_name("peers.py")), "words", "--words",
                           str(wf), "--out", str(out), "--patches", str(PATCHES), "--repo",
                           str(peers / "xplip-pixel" / "src-tree")], capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["pixels"] = np.load(out)["pixels"]
    res["word_starts"] = json.loads(out.with_suffix(".json").read_text())
    commit = peers / "xplip-pixel" / "src-tree" / "COMMIT"
    res["version"] = f"xplip/pixel@{commit.read_text().strip()[:10]}" if commit.exists() else "xplip/pixel"
    return res


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=0, help="first N sentences (0: all)")
    ap.add_argument("--peers", type=Path, default=Path("/tmp/peers"), help="where peers.py setup made the venvs")
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/tasks.md")
    a = ap.parse_args()
    pinned = pin_one_core()
    src = EWT if EWT.is_file() else BUNDLED
    recs = [r for r in read_records(str(src), resolve("ud-en_ewt-pos"), limit=a.n) if isinstance(r, LabelledRecord)]
    cfg = RenderConfig(max_patches=PATCHES)
    ours, results = run_ours(recs, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        peer = run_peer(a.peers, recs, Path(tmp))
        job = run_job(src, Path(tmp), a.n)
    fits = [i for i, res in enumerate(results) if not res.truncated]
    lines = ["# Task rendering benchmark: word-level (POS / NER / parsing input)", "",
             *machine_info(("numpy", "pangocffi", "pangocairocffi", "apache-beam", "zstandard")),
             f"- {len(recs)} UD English-EWT sentences ({src.name}, surface words, {sum(len(r.words) for r in recs):,} "
             f"words), PIXEL settings at {PATCHES} patches (PIXEL's run_pos/run_ud `--max_seq_length=256`); {pinned}",
             "", "| renderer | median ms / sentence | mean ms | sentences/s (median) |", "|---|---:|---:|---:|"]
    if "error" in peer:
        lines.append(f"| peer xplip/pixel | not run: {peer['error']} | | |")
    else:
        lines.append(f"| peer {peer['version']} `renderer(words)` | {peer['render_ms_median']:.3f} | "
                     f"{peer['render_ms_mean']:.3f} | {1000 / peer['render_ms_median']:,.0f} |")
    for r in ours:
        if r["median_ms"] is None:
            lines.append(f"| {r['what']} | — | {r['mean_ms']:.3f} | {1000 / r['mean_ms']:,.0f} (mean) |")
        else:
            lines.append(f"| {r['what']} | {r['median_ms']:.3f} | {r['mean_ms']:.3f} | {1000 / r['median_ms']:,.0f} |")
    lines.append(f"| {job['what']} | — | {job['mean_ms']:.3f} | {1000 / job['mean_ms']:,.0f} (mean) |")
    lines += ["", "## Side by side", ""]
    if "error" not in peer:
        pm, pmean = peer["render_ms_median"], peer["render_ms_mean"]
        for r in ours:
            by_median = f"**{pm / r['median_ms']:.2f}x** PIXEL's word-level rendering by medians, " if r["median_ms"] else ""
            lines.append(f"- {r['what']}: {by_median}{pmean / r['mean_ms']:.2f}x by means (target >= 2x)")
        lines.append(f"- whole job ({job['records']} records in {job['seconds']:.1f} s, Beam start-up and the pxz sink "
                     f"included): {pmean / job['mean_ms']:.2f}x PIXEL's rendering alone, by means")
        same_px = sum(np.array_equal(results[i].pixels, peer["pixels"][i]) for i in fits)
        same_ws = sum(results[i].word_starts == peer["word_starts"][i][:-1] for i in fits)
        lines.append(f"- pixel-identical to PIXEL's strips: {same_px}/{len(fits)} sentences that fit in {PATCHES} "
                     f"patches; word starts identical: {same_ws}/{len(fits)} (PIXEL's list also holds the EOS patch)")
        cut = len(recs) - len(fits)
        lines.append(f"- {cut} sentences do not fit: we stop before the first word that does not fit and flag the "
                     "sample truncated; PIXEL draws that word clipped at the strip's end (not compared)")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
