"""Finetuning benchmarks: the finetuning loader's rate, and evidence that a pretrained PIXEL learns tasks.

    # the loader (one core): classification task shards -> TaskModel batches, beside PIXEL pretraining batches
    python tests/benchmarks/bench_finetune.py loader --n 2000
    # learning: pretrain a debug PIXEL on the bundled corpus, finetune it and a from-scratch twin on UD POS and CoLA
    pixel-render && pixel-render task --task ud-en_ewt-pos --max_patches 256 --output out/tasks/ud-en_ewt-pos \\
        --input train=../shared/data/ud/UD_English-EWT/en_ewt-ud-train.conllu --input validation=...-dev.conllu
    pixel-render task --task glue-cola --max_patches 256 --output out/tasks/glue-cola \\
        --input train=../shared/data/glue/CoLA/train.tsv --input validation=../shared/data/glue/CoLA/dev.tsv
    python tests/benchmarks/bench_finetune.py learn --out tests/benchmarks/results/finetune.md

``loader``: CoLA train sentences rendered with PIXEL's settings (gray 16 px, 529 patches, pxz) by the tests'
task helper (the pipeline's pure task functions), streamed by ``trainer.stream.BatchStream`` into (a) the
finetuning batches of a debug PIXEL + sequence head (patches, attention mask, labels) and (b) PIXEL pretraining
batches (patches, attention mask, span masks) from the same shards; one pinned core, median of passes.

``learn``: every step is the real CLI (DeepSpeed engine, dev evaluation, best checkpoint): ``pixel-train
pretrain`` on ``out/pixel-gray``, then ``pixel-train finetune`` from it and from scratch (same flavor, same
steps and settings); the dev metric of the best checkpoint, against the majority-class baseline (the train
split's most frequent label predicted for every dev item).
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
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import ROOT, machine_info, pin_one_core  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def loader(a) -> list[str]:
    pinned = pin_one_core()
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch
    torch.set_num_threads(1)
    from taskdata import make_task

    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.models import get_variant
    from pixelkit.trainer.shardsets import common_info, resolve
    from pixelkit.trainer.stream import BatchStream, StreamSpec
    from pixelkit.trainer.taskmodel import TaskConfig, TaskVariant
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = make_task(Path(tmp), "glue-cola", {"train": SHARED / "glue" / "CoLA" / "train.tsv"}, limit=a.n)
        render_s = time.perf_counter() - t0
        s = resolve(str(out / "train"))
        info = common_info([s])
        v = get_variant("pixel")
        pcfg = v.config("debug", {}, info)
        tcfg = TaskConfig(encoder="pixel", encoder_config=pcfg.to_dict(), head="sequence",
                          task=TaskSpec.read(out).to_dict())
        rows = []
        for label, collate, cfg in (("finetuning: TaskModel batch (patches, attention, labels)",
                                     TaskVariant.collate, tcfg),
                                    ("pretraining: PIXEL batch (patches, attention, span masks), same shards",
                                     v.collate, pcfg)):
            rates = []
            for r in range(a.repeats):
                it = iter(BatchStream(StreamSpec([s.urls], [1.0], 32, collate, cfg, seed=r, shuffle_buffer=256)))
                next(it)
                t0 = time.perf_counter()
                for _ in range(a.batches):
                    batch, _ = next(it)
                rates.append(a.batches * 32 / (time.perf_counter() - t0))
            rows.append(f"| {label} | {statistics.median(rates):,.0f} | {min(rates):,.0f} |")
        assert batch["pixel_values"].shape[1:] == (529, 16, 16, 1)
        from pixelkit.trainer.data import read_samples
        import numpy as np
        mem = list(read_samples(s.urls, limit=256))  # collate alone, on decoded samples held in memory
        for label, collate, cfg in (("finetuning collate alone", TaskVariant.collate, tcfg),
                                    ("pretraining collate alone (span masking)", v.collate, pcfg)):
            rng, ms = np.random.default_rng(0), []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                for i in range(0, 256, 32):
                    collate(mem[i:i + 32], cfg, rng)
                ms.append((time.perf_counter() - t0) / 8 * 1000)
            rows.append(f"| {label}: {statistics.median(ms):.1f} ms per batch of 32 | {32e3 / statistics.median(ms):,.0f} "
                        f"| {32e3 / max(ms):,.0f} |")
    return ["## Loader: task shards -> finetuning batches (one core)", "",
            f"- command: `python tests/benchmarks/bench_finetune.py loader --n {a.n}`; {pinned}; torch threads 1",
            f"- {s.num_samples} CoLA train sentences (research use, read from ../shared/data; not committed), "
            f"PIXEL settings (gray, 529 patches of 16 px, pxz), rendered in {render_s:.0f} s",
            f"- batches of 32, shuffle buffer 256; median / slowest of {a.repeats} passes of {a.batches} batches",
            "", "| batches | samples/s (median) | samples/s (slowest) |", "|---|---:|---:|", *rows, ""]


def _cli(args: list[str], log: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        subprocess.run([sys.executable, "-m", "pixelkit.trainer.cli", *args], cwd=ROOT, env=env, stdout=fh, stderr=fh,
                       check=True)
    return time.perf_counter() - t0


def _labels(split: Path) -> list:
    from pixelkit.trainer.data import read_samples
    from pixelkit.trainer.shardsets import resolve
    out = []
    for s in read_samples(resolve(str(split)).urls):
        out += s.labels if isinstance(s.labels, list) else [s.label]
    return out


def learn(a) -> list[str]:
    work = ROOT / "out" / "bench-finetune"
    work.mkdir(parents=True, exist_ok=True)
    pre = work / "pretrain"
    secs = {}
    if not (pre / "model" / "model.safetensors").exists():
        secs["pretrain"] = _cli(["pretrain", "--config", "trainer/runs/pixel.yaml", "--steps", str(a.pretrain_steps),
                                 "--out", str(pre), "--set", "log_every=25", "--set", "save_every=50",
                                 "--set", "optim.warmup_steps=10"],
                                work / "pretrain.log")
    pre_loss = [json.loads(r) for r in (pre / "metrics.jsonl").read_text().splitlines() if '"loss"' in r]
    common = ["--steps", str(a.steps), "--eval-every", str(a.eval_every), "--patience", "0",
              "--set", f"micro_batch_size={a.batch}", "--set", f"global_batch_size={a.batch}",
              "--set", f"optim.lr={a.lr}", "--set", "optim.warmup_steps=20", "--set", "log_every=50"]
    rows = []
    for task in a.tasks:
        data = ROOT / "out" / "tasks" / task
        spec = json.loads((data / "task.json").read_text())
        train, dev = _labels(data / "train"), _labels(data / "validation")
        majority = Counter(train).most_common(1)[0][0]
        base = {"accuracy": sum(x == majority for x in dev) / len(dev), "mcc": 0.0}
        res = {}
        for init in ("pretrained", "scratch"):
            out = work / f"{task}-{init}-{a.steps}"
            init_args = ["--init", str(pre / "model")] if init == "pretrained" else ["--model", "pixel", "--flavor",
                                                                                     "debug"]
            if not (out / "best" / "metrics.json").exists():  # else: an earlier run of the same command
                secs[f"{task} {init}"] = _cli(["finetune", "--data", str(data), "--out", str(out), *init_args,
                                               *common], work / f"{task}-{init}-{a.steps}.log")
            res[init] = json.loads((out / "best" / "metrics.json").read_text())
        for metric in (["accuracy"] if spec["metric"] == "accuracy" else ["mcc", "accuracy"]):
            rows.append(f"| {task} | {metric} | {len(dev):,} | {base[metric]:.4f} | {res['scratch'][metric]:.4f} "
                        f"(step {res['scratch']['step']}) | {res['pretrained'][metric]:.4f} "
                        f"(step {res['pretrained']['step']}) |")
    return [f"## Learning, {a.steps} finetuning steps: pretrained vs from scratch vs majority class (dev, best "
            "checkpoint)", "",
            f"- command: `python tests/benchmarks/bench_finetune.py learn --pretrain-steps {a.pretrain_steps} "
            f"--steps {a.steps} --eval-every {a.eval_every} --batch {a.batch} --lr {a.lr} "
            f"--tasks {' '.join(a.tasks)}`",
            f"- pretraining: `pixel-train pretrain --config trainer/runs/pixel.yaml --steps {a.pretrain_steps}` on "
            f"`out/pixel-gray` (the bundled corpus as `pixel-render` writes it), debug PIXEL (529 patches)"
            f"{'' if 'pretrain' in secs else ' (reused: an earlier run of this command)'}, loss "
            f"{pre_loss[0]['loss']:.4f} (step {pre_loss[0]['step']}) -> {pre_loss[-1]['loss']:.4f} "
            f"(step {pre_loss[-1]['step']})",
            f"- finetuning: `pixel-train finetune` ({a.steps} steps, batch {a.batch}, lr {a.lr}, linear schedule, "
            f"warmup 20, dev evaluation every {a.eval_every} steps, best checkpoint kept), from the pretrained model "
            "(`--init`, 529 -> 256 patches) and from scratch (`--model pixel --flavor debug`, same seed)",
            "- tasks rendered by `pixel-render task ... --max_patches 256` (256 = 16 x 16, PIXEL's finetuning length)",
            ("- wall time (s) of the runs this invocation made (others reused from an earlier run of the same "
             "commands; the machine was shared with other jobs): " + ", ".join(f"{k} {v:.0f}" for k, v in secs.items())
             if secs else "- every run reused from an earlier run of the same commands (logs in out/bench-finetune/; "
                          "the machine was shared with other jobs, so wall times say little)"),
            "",
            "| task | metric | dev items | majority class | from scratch | pretrained |", "|---|---|---:|---:|---:|---:|",
            *rows, ""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=["loader", "learn"])
    ap.add_argument("--n", type=int, default=2000, help="loader: CoLA sentences to render")
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pretrain-steps", type=int, default=150)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--eval-every", type=int, default=60)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tasks", nargs="+", default=["ud-en_ewt-pos", "glue-cola"])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "benchmarks" / "results" / "finetune.md")
    a = ap.parse_args()
    body = loader(a) if a.part == "loader" else learn(a)
    head = ["# Finetuning benchmarks", "", *machine_info(("torch", "deepspeed", "transformers")), ""]
    old = a.out.read_text().split("\n## ") if a.out.exists() else []
    keep = ["## " + s for s in old[1:] if not s.startswith(body[0][3:])]  # the other part's section stays
    a.out.write_text("\n".join(head + body) + "\n" + "\n".join(keep))
    print("\n".join(body))


if __name__ == "__main__":
    main()
