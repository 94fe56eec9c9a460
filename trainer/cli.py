"""``pixel-train``: pretrain any registered variant on rendered shards through DeepSpeed.

    pixel-train pretrain --model pixel --flavor debug --data out/pixel-gray --steps 30
    pixel-train pretrain --config trainer/runs/pixar.yaml --set optim.lr=3e-4
    torchrun --nproc_per_node 2 -m pixelkit.trainer.cli pretrain --config trainer/runs/pixel.yaml --set engine.zero_stage=2
    pixel-train finetune --task pos --init out/train/pixel/model --data out/tasks/ud-en_ewt-pos --steps 200
    pixel-train evaluate --model out/finetune/ud-en_ewt-pos/best --data out/tasks/ud-en_ewt-pos --split test
    pixel-train suite --config tiny --init out/train/dualgpt/model --tokenizer out/tokenizer.json
    pixel-train import --format pixel-hf --from ~/pixel-base --out models/pixel-base [--channels 1]
    pixel-train models          # variants, flavors and parameter counts
    pixel-train demo            # the README's main job: debug PIXEL + PIXAR on what pixel-render wrote to out/
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path

from pixelkit.schemas.files import name_too_long, printable_stdout, quiet_on_closed_pipe, refuse_undecodable

from .config import load_config, parse_set
from .spec import ConfigError, check_tokenizer, resolve_task

RUNS = Path(__file__).resolve().parent / "runs"
RUNS_HELP = "a run file, e.g. trainer/runs/pixel.yaml"
DEMO_RUNS = ("pixel", "pixar")  # gray shards -> PIXEL, binary shards -> PIXAR


def _report(cfg, run) -> None:
    print(f"\n{cfg.model}/{cfg.flavor}: {run.steps} steps, final loss {run.final_loss:.4f}")
    print(f"  checkpoint (resume): {run.checkpoint}")
    print(f"  model (safetensors + model card; transformers AutoModel after `import pixelkit`): {run.model_dir}")
    if run.picture:
        print(f"  reconstruction PNG:  {run.picture}")
    print(f"  metrics: {run.output_dir / 'metrics.jsonl'}  tensorboard: {run.output_dir / 'tensorboard'}")


def _pretrain(a: argparse.Namespace) -> int:
    flags: dict = {}
    for key, value in (("model", a.model), ("flavor", a.flavor), ("output_dir", a.out), ("max_steps", a.steps)):
        if value is not None:
            flags[key] = value
    if a.data:
        flags["data"] = {"train": a.data}
    if a.eval is not None:
        flags.setdefault("data", {})["eval"] = a.eval
    cfg = load_config(a.config, flags, parse_set(a.set))  # every setting checked before any engine starts
    from .engine import train
    run = train(cfg)
    if run.model_dir is not None:
        _report(cfg, run)
    return 0


def _task_family(data: str) -> tuple:
    """The task spec in a task output's task.json (or its train split's), to pick the family's run file, and the file
    it came from; a damaged task.json or manifest is a ConfigError naming the file (it was a traceback)."""
    from pixelkit.schemas import SchemaError, TaskSpec
    fix = "render the task again with pixel-render task (or restore the file)"
    for d in (Path(data), Path(data) / "train", Path(data).parent):
        f = d / "task.json"
        if f.is_file():
            try:
                return TaskSpec.read(f), f
            except (SchemaError, OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"--data {data}: {f} is not a usable task spec ({' '.join(str(e).split())[:200]}); "
                                  f"{fix}") from None
        m = d / "manifest.json"
        if m.is_file():
            try:
                task = json.loads(m.read_text(encoding="utf-8")).get("task")
                if task:
                    return TaskSpec.from_dict(task), m
            except (ValueError, SchemaError, OSError, AttributeError) as e:  # UnicodeDecodeError is a ValueError
                raise ConfigError(f"--data {data}: {m} holds no usable task spec ({' '.join(str(e).split())[:200]}); "
                                  f"{fix}") from None
    what = "is empty" if not data.strip() else "no task.json" if Path(data).exists() else "does not exist"
    raise ConfigError(f"--data {data!r}: {what}; give the output of pixel-render task")


def _same_spec(where: Path, train: str) -> None:
    """task.json must describe the train split's shards: their manifest's task spec is the one trained on, while the
    family (run file, default --task) came from task.json; a task.json of another task or label vocabulary (a split
    rendered again, a file copied over) gave an error blaming a --task never given, or trained silently."""
    from pixelkit.schemas import SchemaError, TaskSpec
    m = Path(train) / "manifest.json"
    if where.name != "task.json" or not m.is_file():
        return
    try:
        theirs = TaskSpec.from_dict(json.loads(m.read_text(encoding="utf-8")).get("task"))
    except (ValueError, SchemaError, OSError, AttributeError):
        return  # a manifest without a usable task: the loader names it
    ours = TaskSpec.read(where)
    if ours != theirs:
        diff = ", ".join(f"{k} {getattr(ours, k)!r} vs {getattr(theirs, k)!r}" for k in ("name", "family", "input",
                         "label_names", "metric", "language") if getattr(ours, k) != getattr(theirs, k))
        raise ConfigError(f"--data: {where} disagrees with {m}'s task ({' '.join(diff.split())[:300]}); the shards "
                          "were rendered by another run: render the task again into an empty directory")


def _init_conflicts(a: argparse.Namespace) -> None:
    """``--model`` / ``--flavor`` are for finetuning from scratch: with ``--init`` the checkpoint's architecture is
    used, and they were ignored silently (the run's config.json then named a model it did not train)."""
    if a.flavor is not None:
        raise ConfigError(f"--flavor {a.flavor} with --init: the checkpoint's architecture is used; drop --flavor "
                          "(it is for finetuning from scratch)")
    f = Path(a.init) / "config.json"
    try:
        model_type = json.loads(f.read_text(encoding="utf-8")).get("model_type") if f.is_file() else None
    except (ValueError, UnicodeDecodeError, AttributeError):
        return  # the init_from checks name an unreadable config.json
    if isinstance(model_type, str) and model_type.startswith("pixelkit-") and model_type != f"pixelkit-{a.model}":
        raise ConfigError(f"--model {a.model} but --init {a.init} holds a {model_type.removeprefix('pixelkit-')} "
                          "model: drop --model (with --init the checkpoint's variant is finetuned)")


def _finetune(a: argparse.Namespace) -> int:
    from .engine import train
    from .finetune import read_split
    if a.init is not None and (a.model is not None or a.flavor is not None):
        _init_conflicts(a)
    spec, where = _task_family(a.data)
    family = spec.family
    train_split = read_split(a.data, "train", labelled=True)
    _same_spec(where, train_split)
    config = a.config or RUNS / "finetune" / f"{family}.yaml"
    flags: dict = {"task": {"name": a.task or family}, "data": {"train": [train_split]}}
    for key, value in (("model", a.model), ("flavor", a.flavor), ("output_dir", a.out), ("max_steps", a.steps),
                       ("init_from", a.init), ("eval_every", a.eval_every)):
        if value is not None:
            flags[key] = value
    if a.patience is not None:
        flags["task"]["patience"] = a.patience
    split = a.eval_split or next((s for s in ("validation", "validation_matched") if (Path(a.data) / s).is_dir()), None)
    if split:
        flags["data"]["eval"] = read_split(a.data, split, labelled=True)
    sets = parse_set(a.set)
    cfg = load_config(config, flags, sets)
    if cfg.task.name is None:  # a null name made the run a pretraining one, on the task's shards
        raise ConfigError("task.name is null (--set task.name= ?): finetune needs the task; leave task.name out (the "
                          "task of --data) or give its name, family or alias (e.g. --set task.name=pos)")
    given = "name" in sets["task"] if isinstance(sets.get("task"), dict) else False  # checked here: named as given
    resolve_task(cfg.task.name, spec.name, family, spec.metric, "--set task.name" if given else "--task")
    if a.out is None and cfg.output_dir == "out/finetune":
        cfg.output_dir = f"out/finetune/{Path(a.data).name}"
    run = train(cfg)
    if run.model_dir is not None:
        _report(cfg, run)
        best = Path(cfg.output_dir) / "best"
        if (best / "metrics.json").exists():
            print(f"  best dev checkpoint: {best}  {(best / 'metrics.json').read_text().strip()}")
    return 0


def _evaluate(a: argparse.Namespace) -> int:
    import torch

    from pixelkit.schemas.files import write_atomic

    from .finetune import check_same_task, evaluate, read_split
    from .numerics import undefined_scores
    from .runtime import quiet_hf_bars
    from .shardsets import resolve
    from .taskmodel import TaskModel
    from .tasks import write
    a.split = a.split.rstrip("/") or a.split  # "validation/" (shell completion) is validation, not metrics-validation/.json
    if a.split.strip() and ("/" in a.split or a.split in (".", "..")):  # "" and "/": read_split names them
        raise ConfigError(f"split {a.split!r}: give a split's name, e.g. validation or test (a directory of --data, "
                          "not a path: metrics-<split>.json is named after it)")
    model_dir = Path(a.model)
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"--model {model_dir}: no config.json (give a finetuning output's best/ or model/ dir)")
    out = Path(a.out) if a.out else model_dir / "eval"
    if (why := name_too_long(out, "--out")) or (out.exists() and not out.is_dir()):  # found after scoring it all
        raise ConfigError(why or f"--out {out} is a file; give a directory (metrics and predictions go there)")
    torch.manual_seed(0)
    quiet_hf_bars()
    model = TaskModel.from_pretrained(str(model_dir))
    split_dir = read_split(a.data, a.split)
    split = resolve(split_dir)
    check_same_task(model.config.spec, split, "--data")
    if model.config.modality in ("text", "pair"):
        check_tokenizer(model_dir, model.config.encoder_config.get("vocab_size"), split.info(),
                        f"the shards of --data {split_dir}")
    rank, world = _ranks()
    metrics, records = evaluate(model, model.config, split.urls, a.batch_size, rank, world, split.expected())
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        metrics, notes = undefined_scores(metrics, records)  # NaN is not JSON: null, and why
        for note in notes:
            print(f"pixel-train: note: {note}", file=sys.stderr)
        metrics = {"split": split_dir, "model": str(model_dir), **metrics}
        write_atomic(out / f"metrics-{a.split}.json", (json.dumps(metrics, indent=1) + "\n").encode())  # whole or none
        preds = write(model.config.spec, records, out / f"predictions-{a.split}")
        print(json.dumps(metrics, indent=1))
        print(f"metrics: {out / f'metrics-{a.split}.json'}  predictions: {preds}")
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    return 0


def _ranks() -> tuple[int, int]:
    """(rank, world size): under torchrun or the deepspeed launcher (WORLD_SIZE > 1) the ranks share the split and
    rank 0 writes (each rank scored the whole split, and all wrote the same files and printed them); the model runs
    on CPU here, so the ranks gather over gloo."""
    if int(os.environ.get("WORLD_SIZE") or 1) <= 1:
        return 0, 1
    import torch.distributed as dist

    from .runtime import cpu_threads_per_rank
    cpu_threads_per_rank()
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size()


def _suite(a: argparse.Namespace) -> int:
    """Every entry of a suite file (resumable), then its tables: report.md, results.json, one PNG per table."""
    if int(os.environ.get("WORLD_SIZE") or 1) > 1:  # every rank rendered, trained and wrote the same files alike
        if int(os.environ.get("RANK") or 0) != 0:
            return 2  # rank 0 says why, once
        raise ConfigError(f"pixel-train suite runs in one process, not under torchrun or the deepspeed launcher "
                          f"(WORLD_SIZE={os.environ['WORLD_SIZE']}): each rank would render the same task data and "
                          "write the same runs and results; run it as `pixel-train suite ...` (its finetuning runs "
                          "use one process each)")
    from .suite import load_suite
    from .suite_run import SuiteRunner
    suite = load_suite(a.config)  # every entry's settings checked before anything runs
    out = Path(a.out or f"out/suites/{suite.name}")
    runner = SuiteRunner(suite, out, a.init, a.tokenizer, a.only)
    results = runner.run()
    from .suite_report import report
    text = report(suite, results, out, " ".join(["pixel-train", *sys.argv[1:]]) if a.command is None else a.command,
                  write=not a.only)
    print(text)
    if a.only:  # the report is the whole suite's: a partial one replaced it, dropping every other entry's cells
        print(f"--only: {out / 'report.md'} and results.json are left as they were; the same command without --only "
              f"writes them (finished runs are not redone)")
    else:
        print(f"report: {out / 'report.md'}  metrics: {out / 'results.json'}  plots: {out}/<table>.png")
    return 0


def _demo(a: argparse.Namespace) -> int:
    """Train the debug PIXEL and PIXAR run files from scratch on ``out/`` (rendered by ``pixel-render``)."""
    from .engine import train
    done = []
    for name in DEMO_RUNS:
        cfg = load_config(RUNS / f"{name}.yaml", parse_set(a.set))
        out = Path(cfg.output_dir)
        if (out / "config.json").exists() and json.loads((out / "config.json").read_text()).get("model") == name:
            shutil.rmtree(out)  # the demo's own earlier output: start fresh
        done.append((cfg, train(cfg)))
    for cfg, run in done:
        if run.model_dir is not None:
            _report(cfg, run)
    return 0


def _import(a: argparse.Namespace) -> int:
    """A published checkpoint directory (local) -> our safetensors model + import.json."""
    from .importers import convert, restore_set_aside, write
    restore_set_aside(a.out)  # before anything can fail: an import a kill left set aside is back in --out
    conv = convert(a.source, a.format, variant=a.model, channels=a.channels)
    out = write(conv, a.format, a.source, a.out)
    print(f"{a.format} {a.source} -> {conv.variant} {out} ({len(conv.state_dict)} tensors; "
          f"{len(conv.dropped)} source keys not needed, listed in {out / 'import.json'})")
    for note in conv.notes:
        print(f"  {note}")
    return 0


def _models(_: argparse.Namespace) -> int:
    from .models import REGISTRY, DataInfo, get_variant
    from .models.base import count_parameters
    for name in REGISTRY:
        v = get_variant(name)
        info = DataInfo(mode=v.modes[0], patch_size=8 if v.modes[0] == "binary" else 16, max_patches=529,
                        vocab_size=32000)
        sizes = ", ".join(f"{f} {count_parameters(v, f, info) / 1e6:.1f}M" for f in v.flavors)
        print(f"{name:10s} {'/'.join(v.modes):16s} {sizes}")
    return 0


def _positive(text: str) -> int:
    """argparse type: an integer >= 1 (a batch size of 0 or less scored nothing and crashed in the metric)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def main(argv: list[str] | None = None) -> int:
    """``pixel-train``; a reader that stops early (``pixel-train models | head``) ends it quietly, exit 1."""
    return quiet_on_closed_pipe(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(prog="pixel-train", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--local_rank", "--local-rank", type=int, help=argparse.SUPPRESS)  # added by the deepspeed launcher
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("pretrain", help="pretrain a variant on shard sets")
    t.add_argument("--config", help=RUNS_HELP)
    t.add_argument("--model", help="registered variant (pixel-train models)")
    t.add_argument("--flavor", help="debug or a paper size")
    t.add_argument("--data", nargs="+", help="train shard sets: dir, manifest.json, brace pattern or URL")
    t.add_argument("--eval", help="held-out shard set")
    t.add_argument("--out", help="output directory (checkpoints, model, metrics, pictures)")
    t.add_argument("--steps", type=int, help="max_steps")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any setting, e.g. optim.lr=3e-4 engine.zero_stage=2 model_overrides.hidden_size=64")
    t.set_defaults(fn=_pretrain)
    f = sub.add_parser("finetune", help="finetune a pretrained (or fresh) variant on task shards (pixel-render task)")
    f.add_argument("--data", required=True, help="a pixel-render task output (OUT with train/, validation/, task.json)")
    f.add_argument("--task", help="the task's name, family or an alias (pos, ner, parse, glue, sts, squad); checked "
                               "against the shards")
    f.add_argument("--init", help="a pixel-train pretrain output's model/ dir (safetensors); omit: from scratch")
    f.add_argument("--config", help="run file (default: trainer/runs/finetune/<family>.yaml)")
    f.add_argument("--model", help="variant, when finetuning from scratch (with --init it comes from the checkpoint)")
    f.add_argument("--flavor", help="flavor, when finetuning from scratch")
    f.add_argument("--eval-split", help="dev split evaluated every --eval-every steps (default: validation)")
    f.add_argument("--eval-every", type=int, help="steps between dev evaluations")
    f.add_argument("--patience", type=int, help="stop after this many evaluations without improvement")
    f.add_argument("--out", help="output directory (default out/finetune/<task dir name>)")
    f.add_argument("--steps", type=int, help="max_steps")
    f.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any setting, e.g. optim.lr=3e-5 task.head_options.pooling=cls")
    f.set_defaults(fn=_finetune)
    e = sub.add_parser("evaluate", help="score a finetuned model on a split; write metrics JSON + predictions")
    e.add_argument("--model", required=True, help="a finetuning output's best/ or model/ dir")
    e.add_argument("--data", required=True, help="a pixel-render task output (or one split's shard set)")
    e.add_argument("--split", default="validation", help="split to score (default validation)")
    e.add_argument("--out", help="where metrics-<split>.json and predictions-<split>.* go (default MODEL/eval)")
    e.add_argument("--batch-size", type=_positive, default=32, help="samples per forward pass (default 32)")
    e.set_defaults(fn=_evaluate)
    u = sub.add_parser("suite", help="run a suite of finetuning entries (the papers' tables); resumable")
    u.add_argument("--config", required=True, help="a suite file or a shipped suite's name (trainer/suites/*.yaml)")
    u.add_argument("--init", help="the pretrained model/ dir every entry starts from (omit: the suite's model from "
                                  "scratch)")
    u.add_argument("--out", help="output directory (default out/suites/<name>)")
    u.add_argument("--tokenizer", help="tokenizer the task shards get token ids from (text / pair entries); the "
                                       "pretrained model's own")
    u.add_argument("--only", nargs="+", help="run only these entries")
    u.add_argument("--command", help=argparse.SUPPRESS)
    u.set_defaults(fn=_suite)
    sub.add_parser("models", help="list variants, flavors and sizes").set_defaults(fn=_models)
    from .spec import IMPORT_FORMATS as FORMATS
    i = sub.add_parser("import", help="convert a published checkpoint directory (local) into our layout")
    i.add_argument("--format", required=True, choices=list(FORMATS))
    i.add_argument("--from", dest="source", required=True, help="the checkpoint directory (config.json + weights)")
    i.add_argument("--out", required=True, help="where to write our model (safetensors) + import.json")
    i.add_argument("--model", help="variant to import into (pixelgpt-hf: pixelgpt, monogpt or dualgpt)")
    i.add_argument("--channels", type=int, choices=(1, 3), help="1: a gray model from 3-channel weights")
    i.set_defaults(fn=_import)
    d = sub.add_parser("demo", help="debug PIXEL + PIXAR on out/pixel-gray and out/pixar-binary (after pixel-render)")
    d.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override both runs")
    d.set_defaults(fn=_demo)
    printable_stdout()
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("libarchive").setLevel(logging.WARNING)  # its INFO notes a feature the reader does not use
    if int(os.environ.get("RANK") or 0) > 0:  # under torchrun / deepspeed: rank 0 says it once, not every rank
        for handler in logging.getLogger().handlers:
            handler.addFilter(lambda r: r.levelno >= logging.WARNING or getattr(r, "every_rank", False))
    try:
        refuse_undecodable(sys.argv[1:] if argv is None else argv, lambda p: ConfigError("\n".join(p)))
        return a.fn(a)
    except ConfigError as e:
        for line in str(e).splitlines():  # one line per problem
            print(f"pixel-train: error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
