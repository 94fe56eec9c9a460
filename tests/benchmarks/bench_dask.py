"""The bundled job on Dask (``tests/test_dask_runner.py``'s byte-identical job) on a 2-worker LocalCluster: wall time,
CPU seconds of the workers and of the launching process (which hosts LocalCluster's scheduler), and the job's
counters, in interleaved rounds of fresh processes; ``--baseline DIR``: another checkout measured alike (A/B).

    python tests/benchmarks/bench_dask.py --rounds 4 --baseline /path/to/older/checkout

Each process starts its own cluster and has the workers import the project before the clock starts. The first
round of each checkout is a warm-up and not counted (a fresh checkout compiles the renderer's numba kernels into its
own cache on its first job).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine_info, write_report  # noqa: E402


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def job(root: Path, tmp: Path) -> dict:
    """One run of the job on a fresh LocalCluster, in this process (imports come from PYTHONPATH=root)."""
    from distributed import Client, LocalCluster

    from pixelkit.pipeline import main as pm
    from pixelkit.pipeline.progress import counters

    sample = root / "pipeline" / "sample_data"
    lines = (sample / "wikitext-2-test-excerpt.txt").read_text().splitlines()
    corpus = tmp / "web.jsonl"
    corpus.write_text("\n".join([json.dumps({"id": "w1", "text": lines[3]}),
                                 json.dumps({"id": "t1", "title": "skip me", "text": "x"}),
                                 json.dumps({"id": "no-text", "body": "w"}), '{"id": "broken", "text": "u']) + "\n")
    final: dict = {}
    watch = pm.watch

    def keep(result, label):
        out = watch(result, label)
        final.update(counters(result))
        return out

    pm.watch = keep
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster.scheduler_address) as c:
        c.run(lambda: __import__("pixelkit.pipeline.main"))
        w0, me0, t0 = sum(c.run(_cpu).values()), _cpu(), time.monotonic()
        pm.run([f"--input=wikitext={sample / 'wikitext-2-test-excerpt.txt'}",
                f"--input=gutenberg={sample / 'pride-and-prejudice-excerpt.txt'}", f"--input=web={corpus}",
                f"--output={tmp / 'out'}", "--samples_per_shard=16", "--min_patches=4", "--drop_title=^skip me$",
                "--runner", "dask", "--dask_client_address", cluster.scheduler_address], progress="dask")
        wall = time.monotonic() - t0
        workers = sum(c.run(_cpu).values()) - w0
    return {"wall": wall, "workers_cpu": workers, "launcher_cpu": _cpu() - me0, "load": os.getloadavg()[0],
            "counters": dict(sorted(final.items()))}


def measure(variants: list[tuple[str, Path]], rounds: int) -> dict[str, list[dict]]:
    res: dict[str, list[dict]] = {name: [] for name, _ in variants}
    for r in range(rounds + 1):
        for name, root in variants:
            with tempfile.TemporaryDirectory() as tmp:
                env = {**os.environ, "PYTHONPATH": str(root)}
                p = subprocess.run([sys.executable, __file__, "--job", str(root), tmp], env=env, capture_output=True,
                                   text=True, timeout=1800)
                if p.returncode:
                    raise SystemExit(f"{name} failed:\n{p.stderr[-3000:]}")
            m = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"round {r} {name}: {m['wall']:.1f} s wall, workers {m['workers_cpu']:.1f} s CPU, load "
                  f"{m['load']:.1f}{' (warm-up)' if r == 0 else ''}", file=sys.stderr)
            if r:
                res[name].append(m)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "tests/benchmarks/results/dask.md")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--baseline", type=Path, help="another checkout (e.g. the previous commit) measured alike")
    ap.add_argument("--job", nargs=2, metavar=("ROOT", "TMP"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.job:
        print(json.dumps(job(Path(a.job[0]), Path(a.job[1]))))
        return
    variants = [("this", ROOT)] + ([("baseline", a.baseline.resolve())] if a.baseline else [])
    res = measure(variants, a.rounds)
    loads = [m["load"] for ms in res.values() for m in ms]
    lines = ["# The bundled job on Dask", "", *machine_info(("apache-beam", "dask", "distributed")),
             f"- job: `tests/test_dask_runner.py`'s byte-identical job (WikiText-2 and Pride and Prejudice excerpts, a "
             f"4-record JSONL) on a LocalCluster of 2 single-threaded worker processes; {a.rounds} interleaved rounds "
             f"after one warm-up round each, medians; load average {min(loads):.1f}-{max(loads):.1f} on "
             f"{os.cpu_count()} cores (shared machine: compare the rows, not the absolute times)", "",
             "| checkout | wall s | workers CPU s | launcher + scheduler CPU s | counters |", "|---|---:|---:|---:|---|"]
    for name, root in variants:
        ms = res[name]
        med = {k: statistics.median(m[k] for m in ms) for k in ("wall", "workers_cpu", "launcher_cpu")}
        c = ms[-1]["counters"]
        shown = ", ".join(f"{k} {c.get(k, 0)}" for k in ("documents_read", "chunks", "samples_written",
                                                           "dead_invalid_json", "dead_missing_text"))
        lines.append(f"| {name} (`{root}`) | {med['wall']:.1f} | {med['workers_cpu']:.1f} | "
                     f"{med['launcher_cpu']:.1f} | {shown} |")
    write_report(a.out, lines)


if __name__ == "__main__":
    main()
