"""Hugging Face-native outputs: every variant registered with transformers' Auto classes, and a model card.

After ``import pixelkit``, ``transformers.AutoModel.from_pretrained("out/train/pixel/model")`` (and
``AutoConfig``, and the task Auto class below) load what ``pixel-train`` saved: the config's ``model_type``
(``pixelkit-pixel`` ...) names a class registered here. No ``trust_remote_code``, no code in the model folder.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from pixelkit.schemas.cards import md_code, md_text, one_line

# variant -> the transformers Auto class that fits its head, besides AutoModel (one line per variant)
TASK_AUTO = {
    "pixel": "AutoModelForPreTraining",  # MAE reconstruction head
    "pixar": "AutoModelForPreTraining",  # encoder + decoder reconstruction
    "pixar2024": "AutoModelForCausalLM",  # next binary patch pair
    "pixelgpt": "AutoModelForCausalLM",  # next patch
    "textgpt": "AutoModelForCausalLM",  # next token
    "monogpt": "AutoModelForCausalLM",
    "dualgpt": "AutoModelForCausalLM",
}

# a finetuned model's task family -> the transformers Auto class it loads with besides AutoModel (parsing: AutoModel)
FAMILY_AUTO = {"classification": "AutoModelForSequenceClassification",
               "regression": "AutoModelForSequenceClassification",
               "tagging": "AutoModelForTokenClassification", "qa": "AutoModelForQuestionAnswering"}


def register() -> dict[str, str]:
    """Register every variant's config and model with transformers; returns {model_type: model class name}.
    Safe to call again (``exist_ok``)."""
    import transformers
    from transformers import AutoConfig, AutoModel

    from .models import REGISTRY

    done = {}
    for name, module in REGISTRY.items():
        variant = importlib.import_module(module).VARIANT
        cfg, model = variant.config_class, variant.model_class
        AutoConfig.register(cfg.model_type, cfg, exist_ok=True)
        AutoModel.register(cfg, model, exist_ok=True)
        if name in TASK_AUTO:
            getattr(transformers, TASK_AUTO[name]).register(cfg, model, exist_ok=True)
        done[cfg.model_type] = model.__name__
    # a finetuned model (any encoder under a task head): taskmodel registers itself when its import completes
    # (it may be the module being imported right now, which imported transformers, which brought us here)
    if __package__ + ".taskmodel" not in sys.modules:
        importlib.import_module(__package__ + ".taskmodel")
    done["pixelkit-task"] = "TaskModel"
    return done


def manifest_sha256(manifest) -> str:
    """sha256 of a shard manifest's canonical JSON (sorted keys): which data a model was trained on."""
    return hashlib.sha256(json.dumps(manifest.to_dict(), sort_keys=True).encode()).hexdigest()


def _last_metrics(metrics_file: Path) -> dict[str, Any]:
    """The newest value of every scalar in metrics.jsonl (loss, lr, rates, eval_loss ...)."""
    out: dict[str, Any] = {}
    if metrics_file.exists():
        for line in metrics_file.read_text(encoding="utf-8").splitlines():
            out.update(json.loads(line))
    return out


def _task_section(model_config, init_from: str | None, flavor: str) -> str:
    """A finetuned model's task, labels, input mode, head and where its encoder came from."""
    t = model_config.task
    labels = ", ".join(md_code(n) for n in t.get("label_names", [])[:20])
    more = f" ({len(t['label_names'])} in all)" if len(t.get("label_names", [])) > 20 else ""
    rows = [("task", f"{md_code(t.get('name'))} ({md_text(t.get('family'))}; {md_text(t.get('language') or 'no language')})"),
            ("labels", (labels + more) or "none (a score or spans)"), ("metric", md_text(t.get("metric"))),
            ("input mode", md_text(model_config.modality or "the variant's own")), ("head", md_code(model_config.head)),
            ("encoder initialised from", md_code(init_from) if init_from else f"scratch (flavor {md_code(flavor)})")]
    return "## Task\n\n| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n\n"


def model_card(variant: str, flavor: str, model_config, train_config: dict, data: list[tuple[str, str | None]],
               steps: int, metrics: dict[str, Any]):
    """A ``huggingface_hub.ModelCard``: variant, flavor, architecture, data (spec + manifest sha256), steps,
    final metrics, and how to load it. ``data``: (spec, manifest sha256 or None) per training set."""
    from huggingface_hub import ModelCard, ModelCardData

    # every value a user or the data named goes through md_code / md_text: a newline, `|` or backtick cut the tables
    data_rows = "\n".join(f"| {md_code(spec)} | {md_text(sha or 'no manifest')} |" for spec, sha in data)
    metric_rows = "\n".join(f"| {md_text(k)} | {v:.6g} |" if isinstance(v, float) else f"| {md_text(k)} | {md_text(v)} |"
                            for k, v in sorted(metrics.items()))
    arch = json.dumps({k: v for k, v in sorted(model_config.to_diff_dict().items())}, indent=1, default=str)
    fence = "`" * max(3, max((len(r) for r in re.findall("`+", arch)), default=0) + 1)  # longer than any run inside
    task = model_config.task if model_config.model_type == "pixelkit-task" else None
    if task:  # a finetuned model: its encoder's variant, not the run's (default) model setting
        variant = model_config.encoder
    tags = ["pixelkit", "pixel-language-model", variant] + ([task["name"]] if task and task.get("name") else [])
    meta = ModelCardData(library_name="transformers", tags=tags, model_type=model_config.model_type)
    title = one_line(f"{variant} finetuned on {task.get('name')}" if task else f"{variant} ({flavor})")
    auto = FAMILY_AUTO.get(task.get("family"), "AutoModel") if task else TASK_AUTO.get(variant, "AutoModel")
    content = f"""---
{meta.to_yaml()}
---
# pixelkit {title}

A `{type(model_config).__name__}` / `{model_config.model_type}` model trained by pixelkit's `pixel-train` for
{steps:,} optimizer steps.

```python
from pixelkit import trainer  # registers pixelkit's models with transformers' Auto classes
from transformers import {", ".join(dict.fromkeys(["AutoModel", auto]))}
model = AutoModel.from_pretrained("path/to/this/folder")
```

{_task_section(model_config, train_config.get("init_from"), flavor) if task else ""}## Training data

| shard set | manifest sha256 (canonical JSON) |
|---|---|
{data_rows}

## Metrics (step {metrics.get("step", steps)})

| metric | value |
|---|---:|
{metric_rows}

## Architecture

{fence}json
{arch}
{fence}

The full training configuration is in `training_config.json`.
"""
    return ModelCard(content)


def write_model_card(model_dir: Path, cfg, model_config, sets, steps: int, metrics: dict | None = None) -> Path:
    """README.md beside the saved model (rank 0, after ``save_pretrained``); ``metrics``: the card's (default:
    the run's last logged values)."""
    data = [(s.spec, manifest_sha256(s.manifest) if s.manifest is not None else None) for s in sets]
    card = model_card(cfg.model, cfg.flavor, model_config, cfg.to_dict(), data, steps,
                      metrics if metrics is not None else _last_metrics(Path(cfg.output_dir) / "metrics.jsonl"))
    path = Path(model_dir) / "README.md"
    card.save(path)
    return path
