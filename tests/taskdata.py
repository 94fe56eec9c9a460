"""Test helper: small real task shard sets built with the pipeline's pure task functions (readers +
``render_record``, no Beam), written as ``pixel-render task`` writes them: OUT/<split>/ shards + manifest with
the task spec, and OUT/task.json."""

from __future__ import annotations

from pathlib import Path

from pixelkit.schemas import DEFAULT_ENCODING, ShardManifest, shard_name

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
EWT_EXCERPT = SAMPLE_DIR / "en_ewt-ud-test-excerpt.conllu"


def make_task(out: Path, task_name: str, inputs: dict[str, str | Path], limit: int = 0, preset_name: str = "pixel",
              stride: int = 0, tokenizer: Path | None = None, max_tokens: int = 0, **render) -> Path:
    from pixelkit.pipeline.render import TextRenderer, preset
    from pixelkit.pipeline.shards import write_shard
    from pixelkit.pipeline.tasks import LabelledRecord, read_records, resolve
    from pixelkit.pipeline.tasks.render import render_record
    from pixelkit.pipeline.tokenizer import identity

    task = resolve(task_name)
    records = {split: [r for r in read_records(str(path), task, limit=limit) if isinstance(r, LabelledRecord)]
               for split, path in inputs.items()}
    if task.label_names is not None:
        names = list(task.label_names)
    elif task.family in ("tagging", "parsing"):
        names = sorted({t for r in records["train"] for t in r.tags})
    elif task.family == "classification":
        names = sorted({r.label for r in records["train"] if r.label is not None})
    else:
        names = []
    vocab = {n: i for i, n in enumerate(names)}
    spec = task.spec(names)
    cfg = preset(preset_name, **render)
    renderer = TextRenderer(cfg)
    tok = None
    if tokenizer is not None:
        from pixelkit.pipeline.tokenizer import load
        tok = load(tokenizer)
    for split, recs in records.items():
        samples = []
        for r in recs:
            res = render_record(r, renderer, cfg, DEFAULT_ENCODING, task, vocab, tok, stride, max_tokens)
            if isinstance(res, list):
                samples += res
        d = out / split
        d.mkdir(parents=True, exist_ok=True)
        info = write_shard(d / shard_name(split, 0, 1), sorted(samples, key=lambda s: s.key))
        ShardManifest(split=split, encoding=DEFAULT_ENCODING, render_config=cfg.to_dict(), shards=[info],
                      sources=[task_name], task=spec.to_dict(),
                      tokenizer=({**identity(tokenizer), **({"max_tokens": max_tokens} if max_tokens else {})}
                                 if tokenizer else None)).write(d)
    spec.write(out)
    return out
