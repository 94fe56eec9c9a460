"""Whole-pipeline benchmark: the local Beam job's CPU against the raw work's CPU on the same documents (the share
of the raw work rate a worker keeps), 2-vs-1-worker scaling, bytes per example, a 400M-document projection.

    python tests/benchmarks/bench_pipeline.py --out tests/benchmarks/results/pipeline.md
    python tests/benchmarks/bench_pipeline.py --rounds 3 --baseline /path/to/older/checkout   # A/B, interleaved
    python tests/benchmarks/bench_pipeline.py --workers 1                                     # skip the 2-worker jobs

Input: the WikiText-2 test split split into articles (../shared/data when present, else the bundled excerpt),
written as jsonl (``bench_pipeline_multi.py`` runs the same measurement on multilingual text). Every measurement
runs in a fresh subprocess (``--job`` / ``--raw`` below) with ``PYTHONPATH`` at the checkout measured, in
interleaved rounds (raw, then each checkout's jobs), and the report gives medians.

CPU time, not wall time, is the measure: on a shared machine a job's wall time is mostly waiting for a core.
- The raw work: chunking (words prefetched, as the job does), render, pxz, tokenize, then the write (each sample's
  tar members, shards of ``--samples_per_shard`` sorted by key, tar + fsync + sha256) in a plain loop, one process
  pinned to one core; CPU seconds of that process around the loop (its imports and first render excluded).
- A job: ``pixel-render run``'s ``run()`` in a fresh process: CPU seconds of that process and of its reaped
  children (the SDK worker processes) from the call to its return. 1 worker: runner and worker pinned to one core.
- Start-up: the same job on 2 short documents, in the same round (imports, pipeline construction, worker start,
  teardown); "net" subtracts it.
- Efficiency = raw CPU / job CPU for the same samples: gross (everything the job spent) and net of start-up.
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
PER_SHARD = 1000


def articles() -> tuple[list[str], str]:
    src = WIKITEXT if WIKITEXT.is_file() else BUNDLED
    text = src.read_text(encoding="utf-8")
    parts = re.split(r"^ = [^=].* = $", text, flags=re.M)
    return [p.strip() for p in parts if len(p.strip()) > 200], src.name


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (a job's worker processes)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def job(corpus: str, out: str, tok: str, encoding: str, workers: int) -> dict:
    """One job in this process (``--job``): wall and CPU seconds around ``run``, what it wrote."""
    if workers == 1:
        pin_one_core()
    from pixelkit.pipeline.main import run

    t0, c0, k0, load0 = time.perf_counter(), _cpu(), resource.getrusage(resource.RUSAGE_CHILDREN), os.getloadavg()[0]
    m = run([f"--input={Path(corpus).stem}={corpus}", f"--output={out}", f"--tokenizer={tok}",
             f"--encoding={encoding}", f"--workers={workers}", f"--samples_per_shard={PER_SHARD}"])
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = k1.ru_utime + k1.ru_stime - k0.ru_utime - k0.ru_stime
    if workers_cpu <= 0:
        raise RuntimeError("the job's worker processes were not reaped: their CPU would be missed")
    return {"wall": time.perf_counter() - t0, "cpu": _cpu() - c0, "workers_cpu": workers_cpu,
            "load": (load0 + os.getloadavg()[0]) / 2, "samples": m.num_samples,
            "docs": m.counts["documents_written"], "bytes": m.num_bytes, "shards": len(m.shards)}


def raw(corpus: str, tok: str) -> dict:
    """The raw work as the job does it (``--raw``), in one pass from a fresh renderer, pinned to one core: each
    document's words prefetched and chunked, then its chunks rendered by the same renderer, encoded (pxz) and
    tokenized; then the samples written as the job writes them."""
    pin_one_core()
    from tokenizers import Tokenizer

    from pixelkit.pipeline.chunking import chunk_document
    from pixelkit.pipeline.documents import Document
    from pixelkit.pipeline.render import RenderConfig, TextRenderer
    from pixelkit.pipeline.samples import Filters, render_chunk
    from pixelkit.pipeline.shards import write_shard
    from pixelkit.pipeline.sink import num_shards, shard_of

    docs = [json.loads(line)["text"] for line in Path(corpus).read_text(encoding="utf-8").splitlines()]
    cfg, tokenizer = RenderConfig(), Tokenizer.from_file(tok)
    r = TextRenderer(cfg)
    r("warm up Москва")  # loads the compiled kernels (one script and two), as the job's start-up does
    load0 = os.getloadavg()[0]
    clocks = [(time.perf_counter(), time.process_time())]
    samples = []
    for d in docs:
        r.prefetch([" ".join(d.split())])
        for c in chunk_document(Document("w", "x", d), r.measure, r.text_budget):
            samples.append(render_chunk(c, r, cfg, "pxz", Filters(), tokenizer))
    clocks.append((time.perf_counter(), time.process_time()))
    n = num_shards(len(samples), PER_SHARD)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            write_shard(Path(tmp) / f"{i}.tar", sorted((s for s in samples if shard_of(s.key, n) == i),
                                                         key=lambda s: s.key))
        clocks.append((time.perf_counter(), time.process_time()))
    (w0, c0), (w1, c1), (w2, c2) = clocks
    return {"wall": w2 - w0, "cpu": c2 - c0, "render_cpu": c1 - c0, "write_cpu": c2 - c1, "samples": len(samples),
            "load": (load0 + os.getloadavg()[0]) / 2}


def spawn(checkout: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    p = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, cwd=checkout)
    if p.returncode:
        raise RuntimeError(f"{args[0]} in {checkout} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def med(xs) -> float:
    return statistics.median(xs)


def write_inputs(docs: list[str], tmp: Path, name: str) -> tuple[Path, Path, str]:
    """The corpus, a 2-document start-up corpus and a tokenizer trained on the corpus, under ``tmp``."""
    from pixelkit.pipeline.tokenizer import train_bpe

    corpus, tiny = tmp / f"{name}.jsonl", tmp / "tiny.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"a{i}", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(docs)), encoding="utf-8")
    tiny.write_text("".join(json.dumps({"id": f"t{i}", "text": t[:500]}, ensure_ascii=False) + "\n"
                            for i, t in enumerate(docs[:2])), encoding="utf-8")
    return corpus, tiny, str(train_bpe(iter(docs), 16000, tmp / "tok.json"))


def measure(corpus: Path, tiny: Path, tok: str, tmp: Path, variants: list, workers: list[int], rounds: int) -> dict:
    """Interleaved rounds: the raw work, then per worker count and checkout the start-up job and the job."""
    res: dict = {"raw": []}
    n = 0

    def run_job(checkout, inp, w, enc="pxz"):
        nonlocal n
        n += 1
        return spawn(checkout, "--job", str(inp), str(tmp / f"out{n}"), tok, enc, str(w))

    for rnd in range(rounds):
        res["raw"].append(spawn(ROOT, "--raw", str(corpus), tok))
        for w in workers:
            for name, checkout in variants:
                t, big = run_job(checkout, tiny, w), run_job(checkout, corpus, w)
                res.setdefault((name, w), []).append((t, big))
                print(f"round {rnd} {name} w{w}: {big['cpu']:.1f} CPU-s (start-up {t['cpu']:.1f}), raw "
                      f"{res['raw'][-1]['cpu']:.1f} CPU-s, {big['wall']:.0f} s wall, load {big['load']:.1f}",
                      file=sys.stderr, flush=True)
    res["png"] = run_job(ROOT, corpus, 1, "png")
    return res


def efficiency_table(res: dict, variants: list, workers: list[int]) -> tuple[list[str], dict]:
    """The CPU table (one row per checkout and worker count) and the medians the projection uses."""
    raws = res["raw"]
    raw_ms = med([r["cpu"] / r["samples"] for r in raws]) * 1000
    render_ms = med([r["render_cpu"] / r["samples"] for r in raws]) * 1000
    write_ms = med([r["write_cpu"] / r["samples"] for r in raws]) * 1000
    lines = ["| job | workers | samples | job CPU s | start-up CPU s | gross CPU ms/sample | net CPU ms/sample | "
             "raw CPU ms/sample | efficiency gross | efficiency net | net, per round |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    out = {"raw_ms": raw_ms}
    for name, _ in variants:
        for w in workers:
            runs = res[(name, w)]
            samples = runs[0][1]["samples"]
            gross = [b["cpu"] / b["samples"] for _, b in runs]
            net = [(b["cpu"] - t["cpu"]) / b["samples"] for t, b in runs]
            per_round = [r["cpu"] / r["samples"] / x for r, x in zip(raws, net)]
            out[(name, w)] = med(net) * 1000
            lines.append(f"| {name} | {w} | {samples} | {med([b['cpu'] for _, b in runs]):.1f} | "
                         f"{med([t['cpu'] for t, _ in runs]):.1f} | {med(gross) * 1000:.2f} | {med(net) * 1000:.2f} | "
                         f"{raw_ms:.2f} | {med([r['cpu'] / r['samples'] / g for r, g in zip(raws, gross)]):.0%} | "
                         f"{med(per_round):.0%} | {', '.join(f'{x:.0%}' for x in per_round)} |")
    lines += ["", f"- raw work per sample, one process, one core: {raw_ms:.2f} CPU-ms (chunking + render + pxz + "
              f"tokenize {render_ms:.2f}, write {write_ms:.2f}); against the raw work without the write, the net "
              f"efficiencies above are x{render_ms / raw_ms:.2f}",
              f"- efficiency = raw CPU / job CPU for the same samples, per round then the median; gross counts "
              "everything the job spent from `run()` to its return, net subtracts the same round's start-up job"]
    return lines, out


def scaling_lines(res: dict, variants: list) -> list[str]:
    """2 workers vs 1 by wall time net of start-up, with the load it was measured under."""
    lines = []
    for name, _ in variants:
        if (name, 2) not in res:
            continue
        net = {w: [b["wall"] - t["wall"] for t, b in res[(name, w)]] for w in (1, 2)}
        sp = [a / b for a, b in zip(net[1], net[2])]
        loads = [b["load"] for w in (1, 2) for _, b in res[(name, w)]]
        lines.append(f"- {name}: 2 workers vs 1 by wall time net of start-up: {med(sp):.2f}x (per round: "
                     f"{', '.join(f'{x:.2f}' for x in sp)}), 1-min load average {min(loads):.1f}-{max(loads):.1f} "
                     f"on {os.cpu_count()} cores" + (" (meaningless under this load: the jobs waited for cores "
                                                     "other processes held)" if max(loads) > 3 else ""))
    return lines


def load_line(res: dict) -> str:
    loads = [r["load"] for r in res["raw"]] + [b["load"] for k, v in res.items() if isinstance(k, tuple)
                                              for _, b in v]
    return (f"- machine load while measuring (1-min load average, {os.cpu_count()} cores): median {med(loads):.1f}, "
            f"range {min(loads):.1f}-{max(loads):.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/pipeline.md")
    ap.add_argument("--copies", type=int, default=3, help="repeat the articles (new ids) to amortise start-up")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
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
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus, tiny, tok = write_inputs(docs, tmp, "wikitext")
        res = measure(corpus, tiny, tok, tmp, variants, a.workers, a.rounds)

    table, meds = efficiency_table(res, variants, a.workers)
    lines = ["# Pipeline benchmark", "", *machine_info(("apache-beam", "numpy", "zstandard", "tokenizers")),
             f"- input: {len(docs)} WikiText-2 articles ({a.copies} copies under distinct ids) from {src} "
             f"({sum(map(len, docs)):,} chars) as jsonl; {a.rounds} interleaved rounds, medians",
             load_line(res), "", *table, *scaling_lines(res, variants)]
    lines += ["", "| encoding | documents | samples | bytes/sample | shards |", "|---|---:|---:|---:|---:|"]
    m = res[("this", a.workers[0])][-1][1]
    for enc, r in (("pxz", m), ("png", res["png"])):
        lines.append(f"| {enc} | {r['docs']} | {r['samples']} | {r['bytes'] / r['samples']:,.0f} | {r['shards']} |")
    lines += ["", "- bytes/sample include the tar headers and padding of 3 members (~2 KB), the text and the token ids "
              "(json), besides the pixels (pxz ~5.9 KB, PNG ~11.2 KB for a full gray strip)"]
    per_sample = meds[("this", a.workers[0])] / 1000
    samples_per_doc = m["samples"] / m["docs"]
    # A web document (C4-like) averages ~2,200 chars (~2 strips at ~1,200 chars/strip); WikiText articles are longer.
    for label, spd in (("WikiText-like articles (measured)", samples_per_doc),
                       ("web documents (~2,200 chars, assumed)", 2200 / 1200)):
        n_samples = DOCS_400M * spd
        lines.append(f"- 400M documents, {label}: {spd:.2f} samples/doc -> {n_samples / 1e9:.2f}B samples, "
                     f"~{n_samples * per_sample / 3600:,.0f} core-hours at the job's net CPU per sample measured here "
                     f"({per_sample * 1000:.2f} ms, {a.workers[0]} worker; raw work alone "
                     f"~{n_samples * meds['raw_ms'] / 1000 / 3600:,.0f}), ~{n_samples * m['bytes'] / m['samples'] / 1e12:.1f} "
                     "TB of pxz shards")
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
