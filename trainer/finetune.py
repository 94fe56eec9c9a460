"""Finetuning on task shards, through the same engine loop as pretraining (``engine.train``): what differs is
config (``task.name`` set; ``init_from`` a pretraining output) and three hooks this module provides --
``setup`` (the task model's config from the shards' task spec and the pretrained encoder's config),
``build`` (the model, with the pretrained encoder loaded and reported) and ``evaluate`` (a pass over the dev
split scored with the task's metric; the engine keeps the best checkpoint and stops early on it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import posixpath
from pathlib import Path

from pixelkit.schemas import TaskSpec

from .heads import get_head
from .heads.encoders import encoder_class
from .heads.modal import KINDS
from .models import REGISTRY, get_variant
from .models.base import check_fields, check_sizes
from .spec import (FAMILIES, MAIN_METRIC, METRIC_KEYS, TOKEN_UNIT_FAMILIES, ConfigError, DataInfo, check_modality,
                   check_tokenizer, resolve_task)

log = logging.getLogger(__name__)


def task_spec(shard_set) -> TaskSpec:
    """The task spec of a shard set: its manifest's ``task`` field, else ``task.json`` beside the split."""
    m = shard_set.manifest
    if m is not None and getattr(m, "task", None):
        return TaskSpec.from_dict(m.task)
    for url in shard_set.urls[:1]:
        for parent in list(Path(url).parents)[:2]:
            if (parent / "task.json").is_file():
                return TaskSpec.read(parent)
    raise ConfigError(f"{shard_set.spec}: no task spec (manifest 'task' field or task.json): render it with "
                      f"pixel-render task")


def split_specs(shard_set) -> dict[str, TaskSpec]:
    """The task spec of every directory a shard set reads (a union of dev splits spans several renders)."""
    from .shardsets import resolve
    dirs = list(dict.fromkeys(posixpath.dirname(u) for u in shard_set.urls))
    if len(dirs) <= 1 or shard_set.spec.startswith("pipe:"):
        return {shard_set.spec: task_spec(shard_set)}
    return {d: task_spec(resolve(d)) for d in dirs}


def check_same_task(spec: TaskSpec, shard_set, what: str) -> None:
    """Shards mixed with or scored by a model of ``spec`` must be of its task and label vocabulary: labels are
    stored as ids into their render's ``label_names`` (UD and NER take theirs from their own train split)."""
    for where, other in split_specs(shard_set).items():
        if (other.family, other.input) != (spec.family, spec.input):
            raise ConfigError(f"{what} {where} holds {other.name} ({other.family}, {other.input} input), not "
                              f"{spec.name}'s kind of task ({spec.family}, {spec.input} input): give a split of that "
                              "task")
        if other.label_names != spec.label_names:
            missing = [n for n in spec.label_names if n not in other.label_names]
            extra = [n for n in other.label_names if n not in spec.label_names]
            how = "; ".join([f"it lacks {_few(missing)}"] * bool(missing) + [f"it has {_few(extra)}"] * bool(extra)) \
                or "the same labels in another order"
            raise ConfigError(f"{what} {where} ({other.name}) was rendered with another label vocabulary than "
                              f"{spec.name}'s {_few(spec.label_names)} ({how}); labels are stored as ids into it, so "
                              f"results would be wrong. Give a split of {spec.name}'s task rendered with its "
                              f"vocabulary: pixel-render task --label_names=<its train split's task.json>")


def check_dev_labels(spec: TaskSpec, metric: str, eval_set) -> None:
    """ConfigError when the dev split's gold labels give the metric that picks the best checkpoint one value for
    every model: Pearson / Spearman of all-equal gold scores (NaN), MCC of one class (0), binary F1 without a gold
    positive (0). Every evaluation tied (or NaN, never better than -inf): early stopping ended the run after
    ``patience`` evaluations, with the first one as best/ or none at all. Reads the samples' labels only."""
    from pixelkit.schemas import RenderedSample, SchemaError

    from . import tars
    from .data import SkipCounter
    if (spec.family, metric) not in (("regression", "pearson"), ("regression", "spearman"),
                                      ("classification", "mcc"), ("classification", "f1")):
        return
    gold = set()
    for raw in tars.samples(eval_set.urls, SkipCounter()):
        try:
            label = RenderedSample.from_wds(raw).label
        except (SchemaError, ValueError):
            continue  # the dev pass counts it
        if label is not None:
            gold.add(label)
        if len(gold) > 1 and (metric != "f1" or 1 in gold):
            return
    if metric == "f1":
        if 1 in gold:
            return
        what = f"holds no gold {spec.label_names[1] if len(spec.label_names) > 1 else 1!r} (the positive class)"
    elif spec.family == "regression":
        what = f"holds one gold score ({_few(sorted(map(str, gold)))}: every one the same)"
    else:
        names = [spec.label_names[g] if isinstance(g, int) and 0 <= g < len(spec.label_names) else str(g) for g in gold]
        what = f"holds one gold class ({_few(names)})"
    alt = [k for k in METRIC_KEYS[spec.metric] if k not in ("pearson", "spearman", "mcc", "f1")]
    same = "NaN" if spec.family == "regression" else "0"
    raise ConfigError(f"data.eval {eval_set.spec} {what}: {metric} is {same} for every model on it, so no checkpoint "
                      f"can be chosen by it; give a dev split with varied labels (--eval-split)"
                      + (f" or pick by --set task.metric={alt[0]}" if alt else ""))


def _few(names: list[str], n: int = 5) -> str:
    return "[" + ", ".join(names[:n]) + (f", ... {len(names)} in all]" if len(names) > n else "]")


def variant_of(config: dict, path) -> str:
    """The registered variant a pretrained config.json belongs to (by its model_type)."""
    mt = config.get("model_type")
    for name in REGISTRY:
        if get_variant(name).config_class.model_type == mt:
            return name
    what = "a finetuned task model" if mt == "pixelkit-task" else "no registered variant"
    raise ConfigError(f"init_from {path}: model_type {mt!r} is {what}; give a pixel-train pretrain output's model/ "
                      f"dir or a published checkpoint (pixel-train import lists the formats)")


def scratch_info(variant: str, info: DataInfo) -> DataInfo:
    """MonoGPT / DualGPT read patches when finetuned; their (unused) token embedding needs some vocabulary size
    when the task shards carry no tokenizer."""
    if get_variant(variant).needs_tokens and not info.vocab_size and encoder_class(variant).kind == "patches":
        return dataclasses.replace(info, vocab_size=8)
    return info


def encoder_config(cfg, info: DataInfo):
    """The encoder's config: the pretrained one (fitted to the task strips' length) or a fresh flavor."""
    from .loading import read_pretrained
    if not cfg.init_from:
        return cfg.model, get_variant(cfg.model).config(cfg.flavor, cfg.model_overrides, scratch_info(cfg.model, info))
    conf, _ = read_pretrained(cfg.init_from, cfg.model, info.channels)
    check_sizes(conf, Path(cfg.init_from) / "config.json")
    name = variant_of(conf, cfg.init_from)
    variant = get_variant(name)
    check_fields(conf, variant.config_class, Path(cfg.init_from) / "config.json")
    ec = variant.config_class.from_dict(conf)
    for key, want in (("patch_size", info.patch_size), ("num_channels", info.channels)):
        have = getattr(ec, key, 1)  # pixar2024's config has no num_channels: one (binary) channel
        if have != want:
            raise ConfigError(f"init_from {cfg.init_from} was pretrained with {key} {have}; the task "
                              f"shards have {want}: render the task with the pretraining settings")
    if name == "pixar2024" and info.mode != "binary":
        raise ConfigError(f"init_from {cfg.init_from} is a pixar2024 model (binary strips); the task shards are "
                          f"{info.mode!r}: render the task with --preset pixar")
    old, n = ec.num_patches, info.max_patches
    if name == "pixel":
        import math
        if math.isqrt(n) ** 2 != n:
            raise ConfigError(f"PIXEL's 2-D sin-cos grid needs a square patch count; the task strips hold {n} "
                              f"patches: render them with e.g. --max-patches 256 (16 x 16) or 529 (23 x 23)")
    elif name == "pixar" and n > old:
        raise ConfigError(f"PIXAR learned {old} positions; the task strips hold {n} patches: render them with "
                          f"--max-patches {old} or fewer")
    elif hasattr(ec, "max_position_embeddings") and n > ec.max_position_embeddings:
        raise ConfigError(f"{name} has {ec.max_position_embeddings} positions; the task strips hold {n} patches")
    if n != old:
        log.info("%s encoder: %d -> %d patches (%s)", name, old, n,
                 {"pixel": "2-D sin-cos recomputed on the new square grid",
                  "pixar": "learned positions: first rows kept"}.get(name, "RoPE: nothing to resize"))
    ec.num_patches = n
    if cfg.model_overrides:
        raise ConfigError("model_overrides change a pretrained architecture; drop them or finetune from scratch")
    return name, ec


def setup(cfg, sets, info: DataInfo):
    """(variant-like entry, TaskConfig, TaskSpec) for a finetuning run; every setting checked before work."""
    from .taskmodel import TaskConfig, TaskVariant
    spec = task_spec(sets[0])
    for s in sets:
        check_same_task(spec, s, "data.train")
    resolve_task(cfg.task.name, spec.name, spec.family, spec.metric)
    head = cfg.task.head or FAMILIES[spec.family][0]
    name, ec = encoder_config(cfg, info)
    modality = check_modality(cfg.task.modality, name, spec.family, bool(info.vocab_size))
    kind = "tokens" if encoder_class(name).kind == "tokens" else KINDS[modality]
    if cfg.init_from and kind != "patches":
        check_tokenizer(cfg.init_from, getattr(ec, "vocab_size", None), info, "the task shards")
    if modality == "pair" and ec.num_patches + ec.max_text_tokens > ec.max_position_embeddings:
        raise ConfigError(f"task.modality pair: {ec.num_patches} patches + {ec.max_text_tokens} tokens exceed "
                          f"{name}'s {ec.max_position_embeddings} positions; render shorter strips")
    if kind == "tokens" and spec.family in TOKEN_UNIT_FAMILIES:
        check_token_side(sets, spec.family, ec.max_text_tokens)
    get_head(head).check(spec.family, kind, cfg.task.head_options)
    if cfg.task.metric is not None and cfg.task.metric not in METRIC_KEYS[spec.metric]:
        raise ConfigError(f"task.metric {cfg.task.metric!r} is not a score of {spec.name} (it is scored by "
                          f"{' / '.join(METRIC_KEYS[spec.metric])}); pick one of those or leave it out (the main one, "
                          f"{MAIN_METRIC[spec.metric]})")
    if cfg.task.metric is not None and cfg.task.metric != MAIN_METRIC[spec.metric]:
        log.info("best checkpoint chosen by %s (the task's main metric is %s)", cfg.task.metric,
                 MAIN_METRIC[spec.metric])
    tc = TaskConfig(encoder=name, encoder_config=ec.to_dict(), head=head, head_options=cfg.task.head_options,
                    task=spec.to_dict(), modality=modality)
    if cfg.init_from:
        from .loading import check_init_shapes
        check_init_shapes(tc, cfg.init_from)
    return TaskVariant(name=f"{name}+{head}"), tc, spec


def check_token_side(sets, family: str, max_text_tokens: int) -> None:
    """Token input for a word-level or QA task needs the shards' token alignment (schema 1.2: ``word_tokens`` /
    ``token_offsets``) and token ids cut at most at the encoder's ``max_text_tokens`` (``--max_tokens``, flagged
    and counted by the pipeline), so nothing is cut silently here. ConfigError naming the fix otherwise."""
    fix = f"pixel-render task --tokenizer TOKENIZER --max_tokens {max_text_tokens}"
    for s in sets:
        m = s.manifest
        if m is None:
            continue  # no manifest: each sample is checked in the collate (same messages)
        major, minor = (int(x) for x in m.schema_version.split("."))
        if (major, minor) < (1, 2):
            raise ConfigError(f"{s.spec}: schema {m.schema_version} task shards carry no word -> token alignment "
                              f"(word_tokens / token_offsets, schema 1.2), which {family} on token input needs: "
                              f"re-render the task with {fix}")
        cap = (m.tokenizer or {}).get("max_tokens")
        if not cap or cap > max_text_tokens:
            raise ConfigError(f"{s.spec}: token ids cut at {cap or 'no limit'}, but the encoder reads "
                              f"{max_text_tokens} (max_text_tokens); re-render the task with {fix} so token "
                              "truncation is flagged and counted there, not silent here")
        c = m.counts or {}
        if family == "qa" and m.num_samples and "windows_without_token_answer" in c and \
                m.num_samples == c.get("windows_without_answer", 0) + c["windows_without_token_answer"]:
            raise ConfigError(f"{s.spec}: no window keeps its answer in its first {cap} tokens (of "
                              f"{m.num_samples} windows, {c['windows_without_token_answer']} have it only in "
                              "their patches): on token input QA would learn nothing; render with a smaller "
                              "--max_patches / --stride (shorter windows), a tokenizer that needs fewer tokens for "
                              "this language, or finetune on patches")


def build(config, init_from: str | None, out: Path | None = None):
    """The task model; with ``init_from``, the pretrained encoder loaded (report in out/load_report.json)."""
    from .loading import load_encoder
    from .taskmodel import TaskModel
    model = TaskModel(config)
    if init_from:
        report = load_encoder(model, init_from)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "load_report.json").write_text(json.dumps(report.to_dict(), indent=1))
    return model


def predict(model, config, urls: list[str], batch_size: int, rank: int = 0, world: int = 1,
            expected: dict | None = None) -> list[dict]:
    """One pass over a split: the head's prediction records (one per sample), gathered from every rank in the order
    one rank reads the split (the ranks read interleaved shards or samples), so that predictions files, QA's choice
    among equal-scoring windows and the metrics' sums are those of a one-rank run."""
    import torch
    import torch.distributed as dist

    from .runtime import in_step
    from .stream import StreamSpec, make_loader
    from .taskmodel import TaskVariant
    head = get_head(config.head)
    family = config.task["family"]

    def collate(samples, cfg, rng):  # the batch, and the samples without their (scratch-buffer) pixels
        return TaskVariant.collate(samples, cfg, rng), [dataclasses.replace(s, pixels=None) for s in samples]

    spec = StreamSpec(sets=[urls], weights=[1.0], batch_size=batch_size, collate=collate, model_config=config,
                      rank=rank, world_size=world, infinite=False, expected=expected or {})
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    was_training = model.training
    model.eval()
    records: list[dict] = []
    order: list = []
    with torch.no_grad():
        first = lambda: next(iter(make_loader(dataclasses.replace(spec, rank=0, world_size=1))))  # noqa: E731
        for ((batch, samples), meta), mine in in_step(make_loader(spec), model, first):
            batch = {k: v.to(device, dtype) if v.is_floating_point() else v.to(device) for k, v in batch.items()}
            out = model(**batch).outputs
            if mine:
                records += head.predict(out, batch, samples, family)
                order += meta["order"]
    model.train(was_training)
    if world > 1 and dist.is_initialized():
        parts: list = [None] * world
        dist.all_gather_object(parts, list(zip(order, records)))
        records = [r for _, r in sorted((p for part in parts for p in part), key=lambda p: p[0])]
    return records


def evaluate(model, config, urls: list[str], batch_size: int, rank: int = 0, world: int = 1,
             expected: dict | None = None) -> tuple[dict, list]:
    """The split's metrics and prediction records; ``expected`` (``ShardSet.expected()``, the manifest's entries):
    shards are checked against it, and samples it lists that could not be read (a cut or corrupt shard) are counted
    in ``samples_skipped`` -- the metrics were scored without them, which nothing recorded before."""
    from .tasks import score
    records = predict(model, config, urls, batch_size, rank, world, expected)
    metrics = score(config.spec, records)
    listed = sum(expected[u].num_samples for u in urls if u in expected) if expected else 0
    if listed > len(records):
        metrics["samples_skipped"] = listed - len(records)
        if rank == 0:
            log.warning("scored %d of the %d samples the manifest lists: %d could not be read (the warnings above "
                        "name the shards; pixel-shards verify checks them)", len(records), listed,
                        listed - len(records))
    return metrics, records


def read_split(data: str, split: str, labelled: bool = False) -> str:
    """A split of a task output dir (``OUT/<split>``), or the shard set itself when it has no such split;
    ``labelled``: refuse a split none of whose samples has a label (finetuning's train and dev splits)."""
    p = Path(data)
    if not split.strip().rstrip("/"):  # "" read OUT itself as "its / split", "/" the root directory
        raise ConfigError(f"split {split!r}: give a split's name, e.g. validation or test (a directory of --data)")
    if not data.strip():  # Path("") is the current directory
        raise ConfigError("--data '' is empty; give a pixel-render task output (or one split's shard set)")
    if p.name == "task.json" and p.is_file():  # was read as a shard manifest: "unknown field `family`"
        raise ConfigError(f"--data {data} is a task spec, not a task output or shard set; give its directory: "
                          f"--data {p.parent}")
    if (p / split / "manifest.json").is_file():
        _not_empty(p / split, labelled, split == "train")
        return str(p / split)
    if (p / "task.json").is_file() and not (p / "manifest.json").is_file() and ((p / split).is_dir() or
                                                                               split == "train"):
        what = "holds no manifest.json (an interrupted render?)" if (p / split).is_dir() else "does not exist"
        raise ConfigError(f"{data}: its {split}/ split {what}; render the task again into an empty directory"
                          + (" (or give another split: --eval-split / --split)" if split != "train" else ""))
    if split == "train" or (p / "manifest.json").is_file():
        if (p / "manifest.json").is_file():  # --data is one shard set: the same checks
            _not_empty(p, labelled, split == "train")
        return data
    if not p.exists():
        raise ConfigError(f"--data {data!r} does not exist; give a pixel-render task output (or one split's shard set)")
    raise ConfigError(f"{data}: no {split}/ split (task outputs hold train/, validation/, test/)")


def _not_empty(split_dir: Path, labelled: bool = False, train: bool = False) -> None:
    """ConfigError when a split's manifest lists no sample (e.g. every dev label outside the train vocabulary):
    training or scoring on it would fail deep inside (seqeval's TypeError on empty lists) or mean nothing. With
    ``labelled``, also when every sample is unlabelled (``samples_unlabelled``, counted since the pipeline counts
    it): training on it runs at loss 0, scoring it fails only at the first evaluation, or scores n = 0; and, for the
    ``train`` split, when no QA window holds its answer."""
    try:
        m = json.loads((split_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # unreadable manifests are the loader's to report, with its own message
    if not isinstance(m, dict):
        return
    counts = m.get("counts") if isinstance(m.get("counts"), dict) else {}
    if m.get("num_samples") == 0:
        lost = sorted(((v, k) for k, v in counts.items() if str(k).startswith(("dead_", "skipped_"))), reverse=True)
        why = ", ".join(f"{k} {v}" for v, k in lost[:3]) or "no record was read"
        raise ConfigError(f"{split_dir} holds no sample ({why}; {split_dir}/dead_letters.jsonl says where): fix that "
                          "split's input, or give another split (--eval-split / --split)")
    n = m.get("num_samples")
    if not (labelled and isinstance(n, int) and n > 0):
        return
    if counts.get("samples_unlabelled") == n:
        raise ConfigError(f"{split_dir} holds no labelled sample (all {n} are unlabelled: a test file, a label column "
                          "not named as the task's reader expects, or a QA file without answers): finetuning would "
                          "learn or score nothing; render a labelled file as this split, or give another split "
                          "(--eval-split)")
    if train and counts.get("windows_without_answer") == n:
        raise ConfigError(f"{split_dir}: none of its {n} QA windows holds its answer (windows_without_answer): "
                          "finetuning would learn only 'no answer'; render it with a larger --max_patches (longer "
                          "windows) or --stride")
