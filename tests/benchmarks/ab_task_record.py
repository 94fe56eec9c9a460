"""A/B of the word-level task record path between two checkouts, in alternating fresh processes (a shared,
loaded machine moves absolute times; the ratio between arms run in the same minutes says most).

Per record, as ``pixel-render task`` runs it (``RenderTaskFn``: a batch of 64 records prefetched, then each
rendered, labelled and encoded): ``render_words`` + its prefetch share, the strip's pxz encode right after it
(on one renderer, in turn), and ``render_record`` whole (on a second renderer); UD English-EWT test sentences
(../shared/data) at 256 patches, one pinned core, thread CPU time; medians and means per process, then the
median over rounds. The pxz bytes of every strip are hashed in each process: the two checkouts must agree.

    mkdir -p /tmp/base && git archive 0b7b23c | tar -x -C /tmp/base
    python tests/benchmarks/ab_task_record.py --base /tmp/base --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402

EWT = ROOT.parent / "shared" / "data" / "ud" / "UD_English-EWT" / "en_ewt-ud-test.conllu"

CODE = r'''
import hashlib, json, os, statistics, sys, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from pixelkit.pipeline.render import RenderConfig, TextRenderer
from pixelkit.pipeline.tasks import LabelledRecord, read_records, resolve
from pixelkit.pipeline.tasks.render import prefetch_texts, render_record
from pixelkit.schemas import encode_pixels
cfg, task = RenderConfig(max_patches=256), resolve("ud-en_ewt-pos")
recs = [r for r in read_records(sys.argv[1], task, limit=int(sys.argv[2])) if isinstance(r, LabelledRecord)]
vocab = {t: i for i, t in enumerate(sorted({t for r in recs for t in r.tags}))}
now, digest, t = time.thread_time, hashlib.sha256(), {"render": [], "encode": [], "record": []}
for rnd in range(3):  # fresh renderers each pass: every word is new on its first batch, as in a job
    a, b = TextRenderer(cfg), TextRenderer(cfg)
    a("warm"), b("warm")
    for i in range(0, len(recs), 64):
        batch = recs[i:i + 64]
        t0 = now(); a.prefetch(prefetch_texts(batch)); share = (now() - t0) / len(batch)
        for rec in batch:
            t0 = now(); res = a.render_words(list(rec.words)); t1 = now()
            data = encode_pixels(res.pixels, "gray", "pxz"); t2 = now()
            t["render"].append((t1 - t0 + share) * 1e3); t["encode"].append((t2 - t1) * 1e3)
            if rnd == 0:
                digest.update(data)
        t0 = now(); b.prefetch(prefetch_texts(batch)); share = (now() - t0) / len(batch)
        for rec in batch:
            t0 = now(); render_record(rec, b, cfg, "pxz", task, vocab); t["record"].append((now() - t0 + share) * 1e3)
print(json.dumps({k: [statistics.median(v), statistics.mean(v)] for k, v in t.items()} | {"pxz": digest.hexdigest()}))
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the other checkout")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=800, help="EWT test sentences")
    a = ap.parse_args()
    if not EWT.is_file():
        raise SystemExit(f"needs {EWT} (UD English-EWT, from ../shared/data)")
    trees = {"base": a.base.resolve(), "this": ROOT}
    res: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(a.rounds):
        for name in (("base", "this") if r % 2 == 0 else ("this", "base")):
            out = subprocess.run([sys.executable, "-c", CODE, str(EWT), str(a.n)], cwd=trees[name], check=True,
                                 capture_output=True, text=True, env={"PYTHONPATH": str(trees[name]),
                                                                      "PATH": "/usr/bin:/bin", "HOME": "/tmp"})
            res[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(name, {k: [round(x, 4) for x in v] for k, v in res[name][-1].items() if k != "pxz"}, flush=True)
    same = {x["pxz"] for v in res.values() for x in v}
    print(f"pxz bytes of all {a.n} strips identical across checkouts and rounds: {len(same) == 1}")
    for k in ("render", "encode", "record"):
        b, t = (statistics.median(x[k][0] for x in res[n]) for n in ("base", "this"))
        bm, tm = (statistics.median(x[k][1] for x in res[n]) for n in ("base", "this"))
        print(f"{k}: median ms/record base {b:.4f} -> this {t:.4f} ({t / b - 1:+.0%}); mean {bm:.4f} -> {tm:.4f} "
              f"({tm / bm - 1:+.0%})")


if __name__ == "__main__":
    main()
