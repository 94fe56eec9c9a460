"""Can the finetuning model fit a handful of rows at all? Full-batch Adam on the first 64 CoLA train rows, scored
on those same rows: the pixel input of the pretrained DualGPT debug model, of a random one, of the pretrained one
fed inverted pixels (white 0, ink 1: another function), and of the pretrained one with its patch embedding
re-parametrised to read `pixel - 1` (bias + W.1: the same function at step 0, checked; only Adam's path differs).

    .venv/bin/python tests/benchmarks/suite_select/memorise.py RUN_DIR DATA_DIR ENCODER [VARIANT ...]
    (RUN_DIR: a finetuning run of glue-cola on pixel input, for its head config, e.g. the `mem-pixel` entry of
     select.yaml; DATA_DIR: its task shards; ENCODER: the pretrained model/ dir; VARIANT: pretrained random ink
     centred, default all four)
"""
import sys

import torch
from pixelkit.trainer.data import read_samples
from pixelkit.trainer.finetune import read_split
from pixelkit.trainer.loading import load_encoder
from pixelkit.trainer.shardsets import resolve
from pixelkit.trainer.taskmodel import TaskConfig, TaskModel, TaskVariant


def run(variant: str, cfg: TaskConfig, batch: dict, encoder: str, steps: int = 200, lr: float = 1e-3) -> None:
    torch.manual_seed(0)
    m = TaskModel(cfg)
    if variant != "random":
        load_encoder(m, encoder)
    if variant == "ink":
        batch = {**batch, "pixel_values": 255 - batch["pixel_values"]}
    if variant == "centred":
        m.eval()
        with torch.no_grad():
            before = m(**batch).logits
            m.encoder.patch_embed.bias += m.encoder.patch_embed.weight.sum((1, 2, 3))
            m.encoder.patch_embed.register_forward_pre_hook(lambda conv, args: (args[0] - 1,))  # reads pixel - 1
            print(f"centred: max |logit change| at step 0 {(m(**batch).logits - before).abs().max().item():.2e}")
    m.train()
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    for step in range(1, steps + 1):
        loss = m(**batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            m.eval()
            with torch.no_grad():
                pred = m(**batch).logits.argmax(-1)
            m.train()
            acc = (pred == batch["labels"]).float().mean().item()
            print(f"{variant:10s} step {step:3d}  loss {loss.item():.3f}  train-row accuracy {acc:.3f}  "
                  f"predicted acceptable {pred.float().mean().item():.2f}", flush=True)


def main() -> None:
    torch.set_num_threads(1)
    run_dir, data, encoder, *variants = sys.argv[1:]
    cfg = TaskConfig(**TaskModel.from_pretrained(run_dir + "/model").config.to_dict())
    rows = list(read_samples(resolve(read_split(data, "train")).urls))[:64]
    batch = TaskVariant.collate(rows, cfg, None)
    for v in variants or ("pretrained", "random", "ink", "centred"):
        run(v, cfg, batch, encoder)


if __name__ == "__main__":
    main()
