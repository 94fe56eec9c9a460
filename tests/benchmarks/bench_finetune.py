"""Finetuning benchmarks: the finetuning loader's rate, and evidence that a pretrained PIXEL learns tasks.

    # the loader (one core): classification task shards -> TaskModel batches, beside PIXEL pretraining batches
    python tests/benchmarks/bench_finetune.py loader --n 2000
    # learning: pretrain a debug PIXEL, finetune it and a from-scratch twin on UD POS and MRPC
    pixel-render                                       # out/tokenizer.json, out/pixel-gray (the bundled corpus)
    S=../shared/data
    pixel-render run --input wikitext=$S/prose/wikitext-2-raw/wiki.test.raw --format text \
        --output out/pretrain-wikitext --tokenizer out/tokenizer.json
    pixel-render run --input enwiki=$S/wikipedia/enwiki-articles-excerpt.xml.bz2 --input "books=$S/prose/gutenberg/*.txt" \
        --output out/pretrain-wiki-books --tokenizer out/tokenizer.json
    pixel-render task --task ud-en_ewt-pos --max_patches 256 --output out/tasks/ud-en_ewt-pos \
        --input train=$S/ud/UD_English-EWT/en_ewt-ud-train.conllu --input validation=$S/ud/UD_English-EWT/en_ewt-ud-dev.conllu
    pixel-render task --task glue-mrpc --max_patches 256 --output out/tasks/glue-mrpc \
        --input train=$S/glue/MRPC/train.tsv --input validation=$S/glue/MRPC/dev.tsv
    python tests/benchmarks/bench_finetune.py learn --pretrain-data out/pretrain-wikitext out/pretrain-wiki-books \
        out/pixel-gray --pretrain-steps 100 --pretrain-batch 8 --steps 300 --eval-every 300 --tasks ud-en_ewt-pos glue-mrpc
    # several seeds (mean and each seed in the table), from a model pretrained by hand, one init at a time
    python tests/benchmarks/bench_finetune.py learn --pretrain-model out/bench-finetune/pretrain-np800/model \
        --seeds 0 1 --inits scratch --steps 300 --eval-every 300 --tasks ud-en_ewt-pos

``loader``: CoLA train sentences rendered with PIXEL's settings (gray 16 px, 529 patches, pxz) by the tests'
task helper (the pipeline's pure task functions), streamed by ``trainer.stream.BatchStream`` into (a) the
finetuning batches of a debug PIXEL + sequence head (patches, attention mask, labels) and (b) PIXEL pretraining
batches (patches, attention mask, span masks) from the same shards; one pinned core, median of passes.

``learn``: every step is the real CLI (DeepSpeed engine, dev evaluation, best checkpoint): ``pixel-train
pretrain`` on the given shard sets, then ``pixel-train finetune`` from it and from scratch (same flavor, same
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
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from taskdata import make_task

    from pixelkit.schemas import TaskSpec
    from pixelkit.trainer.data import read_samples
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
        arms = {"finetuning": (TaskVariant.collate, tcfg), "pretraining": (v.collate, pcfg)}
        wall: dict[str, list[float]] = {k: [] for k in arms}
        cpu: dict[str, list[float]] = {k: [] for k in arms}
        for r in range(a.repeats):  # A and B alternate in the same minutes: a load change hits both
            for name, (collate, cfg) in (arms.items() if r % 2 == 0 else reversed(arms.items())):
                # the engine's StreamSpec (train_loop builds the same one for pretraining and finetuning runs)
                spec = StreamSpec([s.urls], [1.0], 32, collate, cfg, seed=r, shuffle_buffer=256,
                                  expected=s.expected(), strip=(info.mode, info.patch_size, info.max_patches))
                it = iter(BatchStream(spec))
                next(it)
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(a.batches):
                    batch, _ = next(it)
                wall[name].append(a.batches * 32 / (time.perf_counter() - t0))
                cpu[name].append(a.batches * 32 / (time.process_time() - c0))
        assert batch["pixel_values"].shape[1:] == (529, 16, 16, 1)
        mem = list(read_samples(s.urls, limit=256))  # collate alone, on decoded samples held in memory
        alone = {}
        for name, (collate, cfg) in arms.items():
            rng, ms = np.random.default_rng(0), []
            for _ in range(a.repeats):
                c0 = time.process_time()
                for i in range(0, 256, 32):
                    collate(mem[i:i + 32], cfg, rng)
                ms.append((time.process_time() - c0) / 8 * 1000)
            alone[name] = statistics.median(ms)
    med = {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in arms}
    ratio_rounds = [f / p for f, p in zip(cpu["finetuning"], cpu["pretraining"])]
    label = {"finetuning": "finetuning: TaskModel batch (patches, attention, labels)",
             "pretraining": "pretraining: PIXEL batch (patches, attention, span masks), same shards"}
    rows = [f"| {label[k]} | {med[k][0]:,.0f} | {med[k][1]:,.0f} | {min(cpu[k]):,.0f} |" for k in arms]
    rows += [f"| {k} collate alone: {alone[k]:.2f} CPU-ms per batch of 32 | | {32e3 / alone[k]:,.0f} | |" for k in arms]
    return ["## Loader: task shards -> finetuning batches (one core)", "",
            f"- command: `python tests/benchmarks/bench_finetune.py loader --n {a.n}`; {pinned}; torch threads 1",
            f"- {s.num_samples} CoLA train sentences (research use, read from ../shared/data; not committed), "
            f"PIXEL settings (gray, 529 patches of 16 px, pxz), rendered in {render_s:.0f} s",
            "- the engine's loader (`BatchStream` with the manifest entries and strip shape, as `train_loop` builds "
            "it for both kinds of run), batches of 32, shuffle buffer 256; finetuning and pretraining collate "
            f"alternate round by round ({a.repeats} rounds of {a.batches} batches each); the machine is shared, so "
            "samples per CPU-second (process time) say more than per wall-second, and the ratio says most",
            "", "| batches | samples/s (wall, median) | samples per CPU-second (median) | per CPU-second (slowest) |",
            "|---|---:|---:|---:|", *rows, "",
            f"**A/B: the finetuning loader runs at {statistics.median(ratio_rounds):.2f}x the pretraining loader's "
            f"rate** (median of the per-round ratios of samples per CPU-second; rounds: "
            f"{', '.join(f'{x:.2f}' for x in ratio_rounds)}).", ""]


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
    pre = a.pretrain_model.parent if a.pretrain_model else work / f"pretrain-{a.pretrain_steps}"
    secs = {}
    pre_data = [str(d) for d in a.pretrain_data]
    pre_args = ["pretrain", "--config", "trainer/runs/pixel.yaml", "--data", *pre_data, "--steps", str(a.pretrain_steps),
                "--set", "log_every=25", "--set", "save_every=250", "--set", "optim.warmup_steps=50",
                "--set", f"micro_batch_size={a.pretrain_batch}", "--set", f"global_batch_size={a.pretrain_batch}"]
    if not (pre / "model" / "model.safetensors").exists() and "pretrained" in a.inits:
        secs["pretrain"] = _cli([*pre_args, "--out", str(pre)], work / f"pretrain-{a.pretrain_steps}.log")
    strips = sum(json.loads((ROOT / d / "manifest.json").read_text())["num_samples"] for d in pre_data)
    pre_loss = [json.loads(r) for r in (pre / "metrics.jsonl").read_text().splitlines() if '"loss"' in r] \
        if (pre / "metrics.jsonl").exists() else [{"loss": float("nan"), "step": 0}]
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
        res: dict[str, list[dict]] = {"pretrained": [], "scratch": []}
        for seed in a.seeds:
            for init in a.inits:
                tag = f"-s{seed}" if seed != 0 else ""
                out = work / f"{task}-{init}-{a.steps}{tag}" if init == "scratch" else \
                    work / f"{task}-{init}{pre.name.removeprefix('pretrain-')}-{a.steps}{tag}"
                init_args = ["--init", str(pre / "model")] if init == "pretrained" else ["--model", "pixel",
                                                                                         "--flavor", "debug"]
                if not (out / "best" / "metrics.json").exists():  # else: an earlier run of the same command
                    secs[f"{task} {init} seed {seed}"] = _cli(
                        ["finetune", "--data", str(data), "--out", str(out), *init_args, *common,
                         *(["--set", f"seed={seed}"] if seed != 0 else [])], Path(f"{out}.log"))
                res[init].append(json.loads((out / "best" / "metrics.json").read_text()))
        if not all(res.values()):
            continue
        base["f1"] = 2 * base["accuracy"] / (1 + base["accuracy"]) if spec["label_names"][majority] == "1" else 0.0
        for metric in {"accuracy": ["accuracy"], "mcc": ["mcc", "accuracy"], "accuracy_f1": ["accuracy", "f1"]}[
                spec["metric"]]:
            cell = {k: (f"{statistics.mean(r[metric] for r in v):.4f} (" +
                        ", ".join(f"{r[metric]:.4f}" for r in v) + ")") for k, v in res.items()}
            rows.append(f"| {task} | {metric} | {len(dev):,} | {base[metric]:.4f} | {cell['scratch']} | "
                        f"{cell['pretrained']} |")
    return [f"## Learning, {a.steps} finetuning steps after {a.pretrain_steps} pretraining steps: pretrained vs "
            "from scratch vs majority class (dev, best checkpoint)", "",
            f"- command: `python tests/benchmarks/bench_finetune.py learn --pretrain-steps {a.pretrain_steps} "
            f"--pretrain-batch {a.pretrain_batch} --pretrain-data {' '.join(pre_data)} "
            f"--steps {a.steps} --eval-every {a.eval_every} --batch {a.batch} --lr {a.lr} "
            f"--tasks {' '.join(a.tasks)}`",
            f"- pretraining: `pixel-train {' '.join(pre_args)}` on {strips:,} strips of 529 patches ({', '.join(pre_data)}: "
            "the bundled corpus, WikiText-2 test, the enwiki excerpt and two Gutenberg books from ../shared/data, "
            "rendered by `pixel-render run` as this file's docstring shows), debug PIXEL"
            f"{'' if 'pretrain' in secs else ' (reused: an earlier run of this command)'}, loss "
            f"{pre_loss[0]['loss']:.4f} (step {pre_loss[0]['step']}) -> {pre_loss[-1]['loss']:.4f} "
            f"(step {pre_loss[-1]['step']})",
            f"- finetuning: `pixel-train finetune` ({a.steps} steps, batch {a.batch}, lr {a.lr}, linear schedule, "
            f"warmup 20, dev evaluation every {a.eval_every} steps, best checkpoint kept), from the pretrained model "
            "(`--init`, 529 -> 256 patches) and from scratch (`--model pixel --flavor debug`, same seed)",
            "- tasks rendered by `pixel-render task ... --max_patches 256` (256 = 16 x 16, PIXEL's finetuning length)",
            "- measured with the TaskModel init fix (286af4a: head / encoder init_new run); the earlier sections "
            "(150 pretraining steps on the 105 bundled strips) were measured without it and are replaced",
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
    ap.add_argument("--pretrain-batch", type=int, default=8)
    ap.add_argument("--pretrain-data", nargs="+", default=["out/pixel-gray"], help="pretraining shard sets (ROOT-relative)")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--eval-every", type=int, default=60)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tasks", nargs="+", default=["ud-en_ewt-pos", "glue-cola"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0], help="learn: finetuning seeds (seed=...)")
    ap.add_argument("--inits", nargs="+", default=["pretrained", "scratch"], choices=["pretrained", "scratch"])
    ap.add_argument("--pretrain-model", type=Path, help="learn: an existing pretraining output's model dir")
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
