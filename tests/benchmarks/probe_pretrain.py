"""Why does (or doesn't) a pretrained PIXEL help finetuning? Cheap checks of a ``pixel-train pretrain`` output
against a randomly initialised twin (same config), on held-out strips.

    python tests/benchmarks/probe_pretrain.py --model out/pt256-mse/model --task out/tasks/ud-en_ewt-pos \
        --train 3000 --dev 1000 --seeds 0 1 2

Three checks, each printed as a Markdown table (``--out`` appends them to a file):

1. **Loading**: the task model the finetuning CLI builds (``finetune.build`` with ``--init``) gets every encoder
   tensor from the checkpoint (the load report), and its encoder's hidden states over a strip equal the
   pretraining model's own encoder states over the same strip with nothing masked (same positions, [CLS],
   layer norms): nothing is lost or shifted between pretraining and finetuning.
2. **Reconstruction on held-out strips** (the task's dev split: sentences never pretrained on): the masked-patch
   loss of the pretrained model vs random inits vs two trivial predictors (an all-white patch; each strip's
   mean visible text patch), with the same span masks (PIXEL's collate, one fixed rng).
3. **Linear probe** (frozen encoder): the task's tags from each word's first-patch state (what the tagging head
   reads), a logistic regression (scikit-learn) fit on ``--train`` train sentences and scored on ``--dev`` dev
   sentences; pretrained vs random inits vs the raw pixels of the word's first patch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import machine_info  # noqa: E402

from pixelkit.schemas import TaskSpec  # noqa: E402
from pixelkit.trainer.data import read_samples  # noqa: E402
from pixelkit.trainer.finetune import build  # noqa: E402
from pixelkit.trainer.heads.base import gather, word_tables  # noqa: E402
from pixelkit.trainer.heads.encoders import encoder_inputs  # noqa: E402
from pixelkit.trainer.models.base import unit_pixels  # noqa: E402
from pixelkit.trainer.models.pixel import PixelForPreTraining, collate  # noqa: E402
from pixelkit.trainer.taskmodel import TaskConfig  # noqa: E402

BATCH = 64


def samples(split: Path, n: int) -> list:
    return [s for s in read_samples(sorted(str(p) for p in split.glob("*.tar")), limit=n)]


def task_model(pre_cfg, task: Path, init: str | None, seed: int):
    cfg = pre_cfg.__class__.from_dict(pre_cfg.to_dict())
    tc = TaskConfig(encoder="pixel", encoder_config=cfg.to_dict(), head="tagging", task=TaskSpec.read(task).to_dict())
    torch.manual_seed(seed)
    return build(tc, init).eval()


@torch.no_grad()
def check_loading(model_dir: Path, task: Path, strips: list) -> list[str]:
    pre = PixelForPreTraining.from_pretrained(model_dir).eval()
    tm = task_model(pre.config, task, str(model_dir), 0)
    from pixelkit.trainer.loading import load_encoder
    report = load_encoder(task_model(pre.config, task, None, 0), model_dir)
    batch = encoder_inputs(strips[:8], pre.config, "patches")
    none = torch.zeros_like(batch["attention_mask"], dtype=torch.bool)
    latent, _ = pre.encode(batch["pixel_values"], batch["attention_mask"], none)
    enc = tm.encoder(**batch)
    diff = float((torch.cat([enc.cls[:, None], enc.hidden], 1) - latent).abs().max())
    rnd = task_model(pre.config, task, None, 0).encoder(**batch)
    diff_rnd = float((torch.cat([rnd.cls[:, None], rnd.hidden], 1) - latent).abs().max())
    return ["| check | result |", "|---|---|",
            f"| load report | {len(report.loaded)} encoder tensors loaded, {len(report.dropped)} pretraining-only "
            f"dropped, {len(report.unexpected)} unexpected, {len(report.new)} new (head) |",
            f"| encoder states, finetuning model vs pretraining model (8 dev strips, nothing masked) | max abs diff "
            f"{diff:.2e} (a random init: {diff_rnd:.2e}) |", ""]


@torch.no_grad()
def reconstruction(model_dir: Path, strips: list, seeds: list[int]) -> list[str]:
    """Masked-patch error of each predictor in pixels and in MAE's per-patch normalized pixels (the norm-pix
    loss): a prediction in one space is carried to the other with the hidden patch's own mean and std, so the
    pixel column of a norm-pix model (and the norm-pix column of a pixel model) borrows statistics the model
    never saw: compare a model with its random inits in the column of its own objective."""
    from pixelkit.trainer.models.base import denormalize_patches
    pre = PixelForPreTraining.from_pretrained(model_dir).eval()
    cfg = pre.config
    models = {"pretrained": pre}
    for s in seeds:
        torch.manual_seed(s)
        models[f"random init (seed {s})"] = PixelForPreTraining(cfg).eval()
    own_mean = "the hidden patch's own mean (norm-pix: 0; borrows the patch)"
    names = [*models, own_mean, "all-white patch", "mean visible text patch"]
    sums = {k: [0.0, 0.0] for k in names}
    count = 0.0
    rng = np.random.default_rng(0)
    for i in range(0, len(strips), BATCH):
        b = collate(strips[i:i + BATCH], cfg, rng)
        x = unit_pixels(b["pixel_values"])
        w = (b["patch_mask"] & b["attention_mask"].bool()).float()
        vis = ((~b["patch_mask"]) & b["attention_mask"].bool()).float()
        var = x.var(-1, keepdim=True) + 1e-6
        preds = {}
        for name, m in models.items():
            out = m(**b).logits
            preds[name] = denormalize_patches(out, x) if cfg.norm_pix_loss else out
        preds[own_mean] = x.mean(-1, keepdim=True).expand_as(x)
        preds["all-white patch"] = torch.ones_like(x)
        preds["mean visible text patch"] = ((x * vis[..., None]).sum(1, keepdim=True)
                                            / vis.sum(1).clamp(min=1)[:, None, None]).expand_as(x)
        for name, pred in preds.items():
            sums[name][0] += float((((pred - x) ** 2).mean(-1) * w).sum())
            sums[name][1] += float(((((pred - x) ** 2) / var).mean(-1) * w).sum())
        count += float(w.sum())
    # a pixel prediction's norm-pix error is dominated by near-blank patches (variance ~1e-6): shown only for
    # norm-pix predictions (and the own-mean predictor, norm-pix's 0)
    normed = (*models, own_mean) if cfg.norm_pix_loss else (own_mean,)
    rows = [f"| {k} | {v[0] / count:.4f} | {v[1] / count:.4f} |" if k in normed
            else f"| {k} | {v[0] / count:.4f} | - |" for k, v in sums.items()]
    own = "norm-pix" if cfg.norm_pix_loss else "pixel"
    return [f"Masked-patch error on {len(strips):,} held-out strips ({int(count):,} dropped text patches, PIXEL's "
            f"span masks); the model was trained on the **{own}** loss; lower is better:", "",
            "| predictor | pixel MSE | norm-pix MSE |", "|---|---:|---:|", *rows, ""]


@torch.no_grad()
def features(encoder, strips: list, cfg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word states, first-patch pixels, tags) over the strips' labelled words."""
    feats, pix, tags = [], [], []
    for i in range(0, len(strips), BATCH):
        part = strips[i:i + BATCH]
        batch = encoder_inputs(part, cfg, "patches")
        tab = word_tables(part, cfg.num_patches)
        h = gather(encoder(**batch).hidden, tab["word_first"]) if encoder is not None else None
        px = gather(unit_pixels(batch["pixel_values"]), tab["word_first"])
        m = tab["word_mask"].bool()
        lab = torch.full(m.shape, -100)
        for j, s in enumerate(part):
            lab[j, :len(s.labels)] = torch.tensor(s.labels)
        m &= lab >= 0
        if h is not None:
            feats.append(h[m].numpy())
        pix.append(px[m].numpy())
        tags.append(lab[m].numpy())
    return (np.concatenate(feats) if feats else None), np.concatenate(pix), np.concatenate(tags)


def probe(model_dir: Path, task: Path, train: list, dev: list, seeds: list[int]) -> list[str]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    pre = PixelForPreTraining.from_pretrained(model_dir)
    arms = {"pretrained": task_model(pre.config, task, str(model_dir), 0).encoder}
    for s in seeds:
        arms[f"random init (seed {s})"] = task_model(pre.config, task, None, s).encoder
    rows, scores = [], {}
    raw_done = False
    for name, enc in arms.items():
        t0 = time.perf_counter()
        xtr, ptr, ytr = features(enc, train, pre.config)
        xdv, pdv, ydv = features(enc, dev, pre.config)
        todo = [(name, xtr, xdv)]
        if not raw_done:
            todo.append(("raw pixels of the first patch", ptr, pdv))
            majority = float(np.mean(ydv == np.bincount(ytr).argmax()))
            raw_done = True
        for label, a, b in todo:
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
            clf.fit(a, ytr)
            scores[label] = float(clf.score(b, ydv))
            rows.append(f"| {label} | {a.shape[1]} | {scores[label]:.4f} | {time.perf_counter() - t0:.0f} |")
    rnd = [v for k, v in scores.items() if k.startswith("random")]
    return [f"Linear probe, frozen encoder: POS tag of each word from its first-patch state; logistic regression "
            f"fit on {len(ytr):,} words of {len(train):,} train sentences, accuracy on {len(ydv):,} words of "
            f"{len(dev):,} dev sentences (majority tag {majority:.4f}):", "",
            "| features | dim | dev accuracy | s |", "|---|---:|---:|---:|", *rows, "",
            f"pretrained {scores['pretrained']:.4f} vs random inits mean {statistics.mean(rnd):.4f} "
            f"(range {min(rnd):.4f}-{max(rnd):.4f}): **{scores['pretrained'] - statistics.mean(rnd):+.4f}**", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="a pixel-train pretrain output's model/ dir")
    ap.add_argument("--task", type=Path, required=True, help="a pixel-render task output (UD POS)")
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--dev", type=int, default=1000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--skip", nargs="*", default=[], choices=["loading", "reconstruction", "probe"])
    ap.add_argument("--out", type=Path, help="append the tables to this Markdown file")
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    dev = samples(a.task / "validation", a.dev)
    lines = [f"### `{a.model}` on `{a.task}`", "",
             f"- command: `python tests/benchmarks/probe_pretrain.py {' '.join(sys.argv[1:])}`",
             *[x for x in machine_info(("torch", "scikit-learn")) if "command" not in x], ""]
    if "loading" not in a.skip:
        lines += check_loading(a.model, a.task, dev)
    if "reconstruction" not in a.skip:
        lines += reconstruction(a.model, dev, a.seeds)
    if "probe" not in a.skip:
        lines += probe(a.model, a.task, samples(a.task / "train", a.train), dev, a.seeds)
    lines.append(f"({time.perf_counter() - t0:.0f} s wall, 1 torch thread)")
    print("\n".join(lines))
    if a.out:
        with a.out.open("a") as f:
            f.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
