"""Whole-pipeline benchmark: the local Beam job (1 and 2 worker processes) vs the raw work on the same chunks,
bytes per example, and a projection for a 400M-document corpus.

    python tests/benchmarks/bench_pipeline.py --out tests/benchmarks/results/pipeline.md
    python tests/benchmarks/bench_pipeline.py --rounds 3 --baseline /path/to/older/checkout   # A/B, interleaved

Input: the WikiText-2 test split split into articles (../shared/data when present, else the bundled excerpt),
written as jsonl. Every measurement runs in a fresh subprocess (``--job`` / ``--raw`` below) with ``PYTHONPATH``
at the checkout measured, in interleaved rounds (raw, then each checkout's 1-worker and 2-worker jobs), so a busy
machine slows every variant alike; the report gives medians and ratios. The raw work renders, encodes and
tokenizes the job's own chunks in one process pinned to one core; a 1-worker job is pinned to one core too (runner
and worker process share it, as a worker's share of a cluster would); a 2-worker job gets both cores. Each job's
time is net of a 2-document job's (start-up and teardown), measured in the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BUNDLED, ROOT, WIKITEXT, machine_info, pin_one_core  # noqa: E402

DOCS_400M = 400_000_000
PROFILE = "## Where a sample's time goes"


def articles() -> tuple[list[str], str]:
    src = WIKITEXT if WIKITEXT.is_file() else BUNDLED
    text = src.read_text(encoding="utf-8")
    parts = re.split(r"^ = [^=].* = $", text, flags=re.M)
    return [p.strip() for p in parts if len(p.strip()) > 200], src.name


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (a job's worker processes)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def job(corpus: str, out: str, tok: str, encoding: str, workers: int) -> dict:
    """One job in this process (``--job``): wall and CPU seconds around ``run``, what it wrote."""
    if workers == 1:
        pin_one_core()
    from pixelkit.pipeline.main import run

    t0, c0, load0 = time.perf_counter(), _cpu(), os.getloadavg()[0]
    m = run([f"--input=wikitext={corpus}", f"--output={out}", f"--tokenizer={tok}", f"--encoding={encoding}",
             f"--workers={workers}", "--samples_per_shard=1000"])
    return {"wall": time.perf_counter() - t0, "cpu": _cpu() - c0, "load": (load0 + os.getloadavg()[0]) / 2,
            "samples": m.num_samples, "docs": m.counts["documents_written"], "bytes": m.num_bytes,
            "shards": len(m.shards)}


def raw(corpus: str, tok: str) -> dict:
    """The raw work as the job does it (``--raw``), in one pass from a fresh renderer, pinned to one core: each
    document's words prefetched and chunked, then its chunks rendered by the same renderer, encoded (pxz) and
    tokenized."""
    pin_one_core()
    from tokenizers import Tokenizer

    from pixelkit.pipeline.chunking import chunk_document
    from pixelkit.pipeline.documents import Document
    from pixelkit.pipeline.render import RenderConfig, TextRenderer
    from pixelkit.pipeline.samples import Filters, render_chunk

    docs = [json.loads(line)["text"] for line in Path(corpus).read_text().splitlines()]
    cfg, tokenizer = RenderConfig(), Tokenizer.from_file(tok)
    r = TextRenderer(cfg)
    r("warm up")  # loads the compiled kernels, as the job's start-up does
    load0 = os.getloadavg()[0]
    chunks = []
    t0, c0 = time.perf_counter(), time.process_time()
    for d in docs:
        r.prefetch([" ".join(d.split())])
        chunks += chunk_document(Document("w", "x", d), r.measure, r.text_budget)
    t1, c1 = time.perf_counter(), time.process_time()
    for c in chunks:
        render_chunk(c, r, cfg, "pxz", Filters(), tokenizer)
    t2, c2 = time.perf_counter(), time.process_time()
    return {"chunk": t1 - t0, "render": t2 - t1, "wall": t2 - t0, "cpu": c2 - c0, "samples": len(chunks),
            "load": (load0 + os.getloadavg()[0]) / 2}


def spawn(checkout: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    p = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, cwd=checkout)
    if p.returncode:
        raise RuntimeError(f"{args[0]} in {checkout} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def med(xs) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/pipeline.md")
    ap.add_argument("--copies", type=int, default=3, help="repeat the articles (new ids) to amortise start-up")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", type=Path, help="another checkout (e.g. the previous commit) measured alike")
    ap.add_argument("--job", nargs=5, metavar=("CORPUS", "OUT", "TOK", "ENCODING", "WORKERS"), help=argparse.SUPPRESS)
    ap.add_argument("--raw", nargs=2, metavar=("CORPUS", "TOK"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.job:
        print(json.dumps(job(*a.job[:4], int(a.job[4]))))
        return
    if a.raw:
        print(json.dumps(raw(*a.raw)))
        return
    docs, src = articles()
    docs = docs * a.copies
    variants = [("this", ROOT)] + ([("baseline", a.baseline.resolve())] if a.baseline else [])
    res: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = tmp / "wikitext.jsonl"
        corpus.write_text("".join(json.dumps({"id": f"a{i}", "text": t}) + "\n" for i, t in enumerate(docs)))
        from pixelkit.pipeline.tokenizer import train_bpe

        tok = str(train_bpe(iter(docs), 16000, tmp / "tok.json"))
        tiny = tmp / "tiny.jsonl"
        tiny.write_text("".join(json.dumps({"id": f"t{i}", "text": t[:500]}) + "\n" for i, t in enumerate(docs[:2])))
        n = 0

        def run_job(checkout, inp, workers, enc="pxz"):
            nonlocal n
            n += 1
            return spawn(checkout, "--job", str(inp), str(tmp / f"out{n}"), tok, enc, str(workers))

        for rnd in range(a.rounds):
            res.setdefault("raw", []).append(spawn(ROOT, "--raw", str(corpus), tok))
            for workers in (1, 2):
                for name, checkout in variants:
                    t, big = run_job(checkout, tiny, workers), run_job(checkout, corpus, workers)
                    res.setdefault((name, workers), []).append((t, big))
                    print(f"round {rnd} {name} w{workers}: {big['wall']:.1f}s (start-up {t['wall']:.1f}s), "
                          f"load {big['load']:.1f}", file=sys.stderr, flush=True)
        png = run_job(ROOT, corpus, 1, "png")

    raws = res["raw"]
    raw_ms = med([r["wall"] / r["samples"] for r in raws]) * 1000
    raw_cpu_ms = med([r["cpu"] / r["samples"] for r in raws]) * 1000
    chunk_ms = med([r["chunk"] / r["samples"] for r in raws]) * 1000
    loads = [r["load"] for r in raws] + [b["load"] for k, v in res.items() if k != "raw" for _, b in v]
    lines = ["# Pipeline benchmark", "", *machine_info(("apache-beam", "numpy", "zstandard", "tokenizers")),
             f"- input: {len(docs)} WikiText-2 articles ({a.copies} copies under distinct ids) from {src} "
             f"({sum(map(len, docs)):,} chars) as jsonl; {a.rounds} interleaved rounds, medians",
             f"- machine load while measuring (1-min load average, {os.cpu_count()} cores): median "
             f"{med(loads):.1f}, range {min(loads):.1f}-{max(loads):.1f}", ""]

    def net(name, workers, key):
        return [(b[key] - t[key]) / b["samples"] for t, b in res[(name, workers)]]

    lines += ["| job | workers | wall s (median) | start-up s | net ms/sample | samples/s per worker | raw rate kept "
              "per worker | net CPU ms/sample (all processes) | CPU vs raw |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    keep = {}
    for name, _ in variants:
        for workers in (1, 2):
            runs = res[(name, workers)]
            ms = med(net(name, workers, "wall")) * 1000
            cpu = med(net(name, workers, "cpu")) * 1000
            keep[(name, workers)] = raw_ms / (ms * workers)
            lines.append(f"| {name} | {workers} | {med([b['wall'] for _, b in runs]):.1f} | "
                         f"{med([t['wall'] for t, _ in runs]):.1f} | {ms:.2f} | {1000 / (ms * workers):.0f} | "
                         f"{keep[(name, workers)]:.0%} | {cpu:.2f} | {cpu / raw_cpu_ms:.2f}x |")
    lines += ["", f"- raw work per sample, one process (chunking + render + pxz + tokenize): {raw_ms:.2f} ms wall "
              f"({1000 / raw_ms:.0f} samples/s; chunking {chunk_ms:.2f} ms), {raw_cpu_ms:.2f} ms CPU"]
    for name, _ in variants:
        sp = [a1 / a2 for a1, a2 in zip(net(name, 1, "wall"), net(name, 2, "wall"))]
        lines.append(f"- {name}: 2 workers vs 1, net of start-up: {med(sp):.2f}x (per round: "
                     f"{', '.join(f'{x:.2f}' for x in sp)}); 1 worker keeps {keep[(name, 1)]:.0%} of the raw rate "
                     f"(per round: {', '.join(f'{raw_ms / (x * 1000):.0%}' for x in net(name, 1, 'wall'))})")
    lines += ["", "| encoding | wall s | documents | samples | bytes/sample | shards |", "|---|---:|---:|---:|---:|---:|"]
    m = res[("this", 1)][-1][1]
    for enc, r in (("pxz", m), ("png", png)):
        lines.append(f"| {enc} | {r['wall']:.1f} | {r['docs']} | {r['samples']} | {r['bytes'] / r['samples']:,.0f} | "
                     f"{r['shards']} |")
    lines += ["", "- bytes/sample include the tar headers and padding of 3 members (~2 KB), the text and the token ids "
              "(json), besides the pixels (pxz ~5.9 KB, PNG ~11.2 KB for a full gray strip)"]
    per_sample = med(net("this", 1, "wall"))
    samples_per_doc = m["samples"] / m["docs"]
    # A web document (C4-like) averages ~2,200 chars (~2 strips at ~1,200 chars/strip); WikiText articles are longer.
    for label, spd in (("WikiText-like articles (measured)", samples_per_doc),
                       ("web documents (~2,200 chars, assumed)", 2200 / 1200)):
        n_samples = DOCS_400M * spd
        lines.append(f"- 400M documents, {label}: {spd:.2f} samples/doc -> {n_samples / 1e9:.2f}B samples, "
                     f"~{n_samples * per_sample / 3600:,.0f} core-hours at the job's measured net cost per sample "
                     f"(1 worker), ~{n_samples * m['bytes'] / m['samples'] / 1e12:.1f} TB of pxz shards")
    lines += ["", "Run it on Dataflow (same code, Beam's flags; not run from here — no cloud access):", "",
              "```", "pixel-render run --input c4=gs://BUCKET/c4/*.jsonl.zst --output gs://BUCKET/shards --tokenizer tok.json \\",
              "  --runner DataflowRunner --project PROJECT --region REGION --temp_location gs://BUCKET/tmp \\",
              "  --sdk_container_image IMAGE --max_num_workers 500 --samples_per_shard 5000",
              "```", "or on Flink: `--runner FlinkRunner --flink_master HOST:8081 --environment_type DOCKER --environment_config IMAGE`."]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    kept = a.out.read_text().partition(PROFILE)[2] if a.out.is_file() else ""
    if kept:  # the profile section below the numbers is written by hand (py-spy); a rerun keeps it
        lines += ["", PROFILE + kept.rstrip("\n")]
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
