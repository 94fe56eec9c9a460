"""A/B of the shard loader between two checkouts, alternated in the same minutes (for a shared, loaded machine,
where absolute rates move with other jobs): BatchStream as the engine builds it (manifest entries and strip shape
when the checkout has them), batches of 32, shuffle buffer 256, one pinned core; samples per wall-second and per
thread-CPU-second (the rate per core: on a loaded machine a pass's wall time is mostly waiting for a core).

``--kind finetune`` (issue #10's "classification samples/s per core"): CoLA train sentences rendered as task shards
at PIXEL's settings (gray, 529 patches of 16 px, pxz; research use, read from ../shared/data), collated into a
debug PIXEL + sequence head batch (patches, attention mask, labels) as ``pixel-train finetune`` does.
``--kind pretrain``: WikiText strips, PIXEL pretraining batches (patches, attention mask, span masks).

    mkdir -p /tmp/base && git archive b2e3655 | tar -x -C /tmp/base     # the other checkout
    python tests/benchmarks/ab_loader.py --base /tmp/base --rounds 6
    python tests/benchmarks/ab_loader.py --base /tmp/base --kind finetune --rounds 8 \\
        --out tests/benchmarks/results/loader.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import ROOT, machine_info, write_report  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
PASSES, BATCHES = 3, 40

CODE = r'''
import os, sys, time, json, statistics
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
import torch; torch.set_num_threads(1)
from pathlib import Path
from pixelkit.trainer.models import DataInfo, get_variant
from pixelkit.trainer.shardsets import resolve
from pixelkit.trainer.stream import BatchStream, StreamSpec
kind, passes, batches = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
v = get_variant("pixel"); cfg = v.config("debug", {}, DataInfo("gray", 16, 529))
collate = v.collate
if kind == "finetune":
    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.taskmodel import TaskConfig, TaskVariant
    cfg = TaskConfig(encoder="pixel", encoder_config=cfg.to_dict(), head="sequence",
                     task=TaskSpec.read(Path(sys.argv[1]).parent).to_dict())
    collate = TaskVariant.collate
s = resolve(sys.argv[1])
wall, cpu = [], []
for r in range(passes):
    try:
        spec = StreamSpec([s.urls], [1.0], 32, collate, cfg, seed=r, shuffle_buffer=256, expected=s.expected(),
                          strip=("gray", 16, 529))
    except (TypeError, AttributeError):  # a checkout from before the manifest checks
        spec = StreamSpec([s.urls], [1.0], 32, collate, cfg, seed=r, shuffle_buffer=256)
    it = iter(BatchStream(spec)); next(it)
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(batches): batch, _ = next(it)
    wall.append(batches * 32 / (time.perf_counter() - t0)); cpu.append(batches * 32 / (time.thread_time() - c0))
    assert tuple(batch["pixel_values"].shape[1:]) == (529, 16, 16, 1)
    assert kind != "finetune" or "labels" in batch
print(json.dumps([statistics.median(wall), statistics.median(cpu)]))
'''


def build(kind: str, n: int, tmp: Path) -> tuple[Path, str]:
    if kind == "pretrain":
        from bench_trainer import build_shards
        return build_shards(n, "pxz", tmp), f"{n} WikiText strips"
    from taskdata import make_task
    cola = SHARED / "glue" / "CoLA" / "train.tsv"
    if not cola.is_file():
        raise SystemExit(f"--kind finetune needs {cola} (research use, not bundled)")
    out = make_task(tmp / "cola", "glue-cola", {"train": cola}, limit=n)
    return out / "train", f"{n} CoLA train sentences (glue-cola task shards, labelled)"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the other checkout")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--n", type=int, default=2000, help="strips to render into shards")
    ap.add_argument("--kind", choices=["pretrain", "finetune"], default="pretrain")
    ap.add_argument("--out", type=Path, help="also write the report here (Markdown)")
    a = ap.parse_args()
    trees = {"base": a.base.resolve(), "this": ROOT}
    head = _git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if _git("status", "--porcelain") else "")
    with tempfile.TemporaryDirectory() as tmp:
        shards, what = build(a.kind, a.n, Path(tmp))
        res: dict[str, list] = {k: [] for k in trees}
        for r in range(a.rounds):
            for name in (("base", "this") if r % 2 == 0 else ("this", "base")):
                out = subprocess.run([sys.executable, "-c", CODE, str(shards), a.kind, str(PASSES), str(BATCHES)],
                                     cwd=trees[name], capture_output=True, text=True, check=True,
                                     env={"PYTHONPATH": str(trees[name]), "OMP_NUM_THREADS": "1",
                                          "PATH": "/usr/bin:/bin"})
                res[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(name, [round(x) for x in res[name][-1]], flush=True)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in res.items()}
    ratios = [t[1] / b[1] for b, t in zip(res["base"], res["this"])]
    for k, (w, c) in med.items():
        print(f"{k}: median {w:,.0f} samples/s, {c:,.0f} per thread-CPU-second")
    print(f"per-CPU-second ratio this/base, per round: {[round(x, 3) for x in ratios]}, "
          f"median {statistics.median(ratios):.3f}")
    if a.out is None:
        return
    label = {"base": f"base ({a.base})", "this": f"this checkout ({head or 'working tree'})"}
    write_report(a.out, [
        f"# Loader A/B: {'finetuning (classification)' if a.kind == 'finetune' else 'pretraining'} batches, one core",
        "", *machine_info(("numpy", "torch", "zstandard", "msgspec", "libarchive-c")),
        f"- {what}, PIXEL settings (gray, 529 patches of 16 px, pxz); BatchStream as the engine builds it "
        f"(manifest entries, strip shape), batches of 32, shuffle buffer 256, pinned to one core, torch threads 1",
        f"- {a.rounds} rounds; each round runs both checkouts in fresh processes, alternating which goes first; "
        f"a process takes the median of {PASSES} passes of {BATCHES} batches (seeds 0..{PASSES - 1}); cells: "
        f"median over rounds. Per core = samples per thread-CPU-second (`time.thread_time`)",
        f"- load average at the end: {' '.join(load)} (2 cores shared with other jobs)", "",
        "| checkout | samples/s (wall, median) | samples per thread-CPU-second (median) | per rounds |",
        "|---|---:|---:|---|",
        *[f"| {label[k]} | {med[k][0]:,.0f} | {med[k][1]:,.0f} | {', '.join(f'{x[1]:,.0f}' for x in res[k])} |"
          for k in trees], "",
        f"Ratio this / base per round (per thread-CPU-second): {', '.join(f'{x:.2f}' for x in ratios)}; "
        f"**median {statistics.median(ratios):.2f}x**.", ""])


if __name__ == "__main__":
    main()
