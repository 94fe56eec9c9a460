"""The task job's settings: its flags, their check before any work (every problem at once, each naming the flag
and the fix, as ``pixel-render run`` does), and its output directory's rerun guard.

One ``--output`` holds one task run: ``OUT/task.json``, ``OUT/.pixelkit-run.json`` (the settings that made it:
``runconfig.TaskRunConfig.fingerprint()``) and one shard set per split in ``OUT/<split>/`` (each with its own run
record, as ``pipeline.outdir`` keeps for a pretraining shard set). A directory holding another run is refused unless ``--overwrite`` (that run's files,
every split of it, are deleted first) or ``--resume`` with the same settings (shards already written whole are
kept, the rest written: the same bytes as one uninterrupted run).
"""

from __future__ import annotations

import dataclasses
import glob
import json
import re
from importlib import import_module
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions

from ..runconfig import parse_input
from ..outdir import RUN_FILE, prepare_output, run_files
from ..sources import as_glob
from pixelkit.schemas.files import name_too_long
from ..validate import (SettingsError, _tokenizer_problems, check_render_config, check_rules, duplicate_input_problems,
                        output_problems, render_config_or_problems, special_input_problem)
from . import EXAMPLES, FORMATS, resolve
from .records import TaskDef


class TaskOptions(PipelineOptions):
    """The task flags; the rendering, tokenizer and output flags are RenderOptions' (parsed alongside)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        g = parser.add_argument_group("pixelkit tasks (--input split=pattern, e.g. train=glue/MRPC/train.tsv)")
        g.add_argument("--task", help="task name, e.g. glue-mrpc, xnli-en, ud-en_ewt-pos, conll2003-ner, xquad-en")
        g.add_argument("--task_format", default=None, help="force a reader: glue, xnli, conllu, conll_ner, squad")
        g.add_argument("--stride", type=int, default=0, help="QA: context patches consecutive windows share")
        g.add_argument("--limit", type=int, default=0, help="read only the first N records of each file (0: all)")
        g.add_argument("--vocab_split", default="train", help="the split whose labels fix the label vocabulary")
        g.add_argument("--label_names", default=None,
                       help="the label vocabulary, in order, instead of --vocab_split's: another render's task.json "
                            "(e.g. the training language's, for zero-shot transfer) or a comma-separated list")
        g.add_argument("--max_tokens", type=int, default=0,
                       help="cut each sample's token ids after N (0: keep all; cut samples are flagged and counted); "
                            "text-input finetuning of word and QA tasks needs N <= the model's max_text_tokens")


def check_options(o: dict, render_config=None) -> tuple[TaskDef, dict[str, list[str]]]:
    """The task and its {split: patterns}; SettingsError listing every problem (flag + fix) before any work."""
    problems = check_rules(o)
    task = None
    if not o.get("task"):
        problems.append(f"--task is required (e.g. {', '.join(EXAMPLES[:5])})")
    else:
        try:
            task = resolve(o["task"], o.get("task_format"))
        except ValueError as e:
            problems.append(str(e))
    splits: dict[str, list[str]] = {}
    matched: dict[str, list[tuple[str, list[str]]]] = {}  # split -> (--input, its files): read-twice check
    for spec in o.get("input") or []:
        split, pattern = parse_input(spec)
        if "=" not in spec or not re.match(r"^[A-Za-z0-9_]+$", split):
            problems.append(f"--input {spec!r}: give split=pattern with a split name of [A-Za-z0-9_], "
                            "e.g. train=data/train.tsv, validation_matched=dev_matched.tsv")
            continue
        if "://" not in pattern and not glob.glob(as_glob(pattern)):
            problems.append(f"--input {spec}: no file matches {pattern!r}")
        elif "://" not in pattern and Path(pattern).is_dir():  # a task reader reads files (it was a dead letter)
            problems.append(f"--input {spec}: {pattern} is a directory; give its files, e.g. "
                            f"--input {split}={Path(pattern) / '*.tsv'}")
        elif problem := special_input_problem(spec, pattern):
            problems.append(problem)
        else:
            files = sorted(glob.glob(as_glob(pattern))) if "://" not in pattern else [pattern]
            matched.setdefault(split, []).append((spec, files))
        splits.setdefault(split, []).append(pattern)
    for pairs in matched.values():  # within a split (a file in train and validation is a memorisation probe's way)
        problems += duplicate_input_problems(pairs, "task")
    if task is not None:
        problems += _file_problems(task, [p for pairs in matched.values() for p in pairs])
    if not o.get("input"):
        problems.append("--input split=pattern is required (repeatable), e.g. --input train=glue/MRPC/train.tsv")
    if (out := o.get("output")) and "://" in out and not out.startswith("file://"):  # it writes with pathlib: an
        # s3:// --output rendered the whole task, wrote a local "s3:" folder and half the files to S3, then crashed
        problems.append(f"--output {out}: pixel-render task writes local directories only; give one (e.g. "
                        f"out/tasks/mrpc) and copy it after (aws s3 sync out/tasks/mrpc {out})")
        problems += output_problems({**o, "output": None}, "", "")[1:]  # [0] is "--output is required": the rest
    else:
        problems += output_problems(o, "the shard sets", "out/tasks/mrpc")
        root = Path(out.removeprefix("file://")) if out and not name_too_long(out, "") else None  # (reported)
        for split in splits if root is not None and root.is_dir() else ():  # OUT/<split>/ holds the split's shards:
            if (root / split).exists() and not (root / split).is_dir():  # a file there was a FileExistsError traceback
                problems.append(f"--output {out}: {root / split} is a file, and the split {split!r} is written into "
                                f"{root / split}/; give another --output (or move that file)")
    if o.get("label_names") is not None and task is not None:  # given empty (an unset $VAR): refused, not ignored
        names, problem = label_names(o["label_names"], task.family)
        if problem:
            problems.append(problem)
        else:
            task = dataclasses.replace(task, label_names=tuple(names))
    if task is not None and splits and task.label_names is None and task.family not in ("regression", "qa") \
            and o["vocab_split"] not in splits:
        problems.append(f"--task {task.name} takes its label vocabulary from the {o['vocab_split']!r} split, which "
                        f"is not among --input {sorted(splits)}: add --input {o['vocab_split']}=... or pass "
                        "--vocab_split")
    if (o.get("max_tokens") or 0) > 0 and not o.get("tokenizer"):
        problems.append(f"--max_tokens {o['max_tokens']} cuts token ids, but there are none without --tokenizer: "
                        "give --tokenizer tokenizer.json or drop --max_tokens")
    for flag in ("stride", "limit", "max_tokens"):
        if (o.get(flag) or 0) < 0:
            problems.append(f"--{flag} {o[flag]} must be >= 0")
    if (o.get("stride") or 0) > 0 and task is not None and task.family != "qa":
        problems.append(f"--stride is the QA window overlap; --task {task.name} renders one sample per record and "
                        "would ignore it: drop it")
    defaults = _run_defaults()
    for key in RUN_ONLY:  # parsed alongside (RenderOptions), but nothing in the task job reads them
        if key in o and o[key] != defaults[key]:
            problems.append(f"--{key} is a pixel-render run setting that pixel-render task does not use (a labelled "
                            f"record is one sample: {RUN_ONLY[key]}): drop it")
    if o.get("tokenizer"):
        bad_tok = _tokenizer_problems(o["tokenizer"])
        problems += bad_tok or _pair_problems(o["tokenizer"], task)
    if render_config is not None:
        cfg, bad = render_config_or_problems(render_config)
        problems += bad or check_render_config(cfg)
        most = cfg.max_patches - 3 if cfg is not None else None  # a window: >= 1 question patch, SEP, EOS
        if most is not None and (o.get("stride") or 0) >= max(most, 1):
            problems.append(f"--stride {o['stride']}: a window of --max_patches {cfg.max_patches} holds at most {most} "
                            "context patches, so windows could never overlap by that much (the renderer would "
                            "silently not overlap them); give a smaller --stride (PIXEL: 160 with --max_patches 400)")
        if cfg is not None and task is not None and task.input in ("pair", "qa") and cfg.max_patches < 4:
            two = "a question and a context window" if task.input == "qa" else "two texts"  # each >= 1 patch
            problems.append(f"--max_patches {cfg.max_patches}: --task {task.name} draws {two} with a SEP and an EOS "
                            "patch, at least 4 patches; every record would be skipped as too_wide (PIXEL: 529, QA 400)")
    if problems:
        raise SettingsError(problems)
    return task, splits


def _file_problems(task: TaskDef, matched: list[tuple[str, list[str]]]) -> list[str]:
    """Files the task's reader cannot read at all (a GLUE file of another task), when its format can tell cheaply."""
    check = getattr(import_module(FORMATS[task.format]), "file_problem", None)
    if check is None:
        return []
    out = []
    for spec, files in matched:
        for f in files:
            if "://" not in f and (why := check(f, task)):
                out.append(f"--input {spec}: {f}: {why} -- not a {task.name} file; check --task and --input")
                break
    return out


def label_names(value: str, family: str) -> tuple[list[str], str | None]:
    """``--label_names``: a task.json's ``label_names`` (path) or a comma-separated list; (names, problem)."""
    if family in ("regression", "qa"):
        return [], f"--label_names: a {family} task has no label vocabulary: drop it"
    if value.strip() and not value.endswith(".json") and Path(value).exists():  # a render's directory, a data file: not a list of names
        hint = f" (give its task.json: --label_names={Path(value) / 'task.json'})" \
            if (Path(value) / "task.json").is_file() else ""
        return [], (f"--label_names {value}: a {'directory' if Path(value).is_dir() else 'file'}, not a task.json"
                    f"{hint}; give another render's task.json or a comma-separated list (e.g. NOUN,VERB,ADJ)")
    if value.endswith(".json"):
        try:
            names = json.loads(Path(value).read_text(encoding="utf-8")).get("label_names")
        except (OSError, ValueError, AttributeError) as e:
            return [], f"--label_names {value}: not a readable task.json ({e})"
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            return [], f"--label_names {value}: its label_names is not a list of names"
    else:
        names = [n.strip() for n in value.split(",")]
    if not names or "" in names or len(set(names)) != len(names):
        return [], (f"--label_names {value!r}: give distinct, non-empty names (a task.json, or e.g. "
                    "--label_names=NOUN,VERB,ADJ)")
    return names, None


# `pixel-render run` flags the task job does not read, and what it does instead
RUN_ONLY = {"format": "--task/--task_format pick the reader", "text_field": "the task's reader knows its columns",
            "id_field": "the task's reader knows its columns", "max_doc_chars": "no document length limit",
            "drop_title": "no filters", "drop_headings": "no filters", "min_patches": "no filters",
            "max_unknown_ratio": "no tofu filter; each sample records its unknown_glyphs", "dedup": "no dedup",
            "split": "splits are named by --input split=pattern"}


def _run_defaults() -> dict:
    import argparse

    from ..options import RenderOptions

    parser = argparse.ArgumentParser()
    RenderOptions._add_argparse_args(parser)
    return vars(parser.parse_args([]))


def _split_dirs(out: Path) -> list[Path]:
    """The subdirectories of ``out`` that hold a shard set (shards or a manifest)."""
    return sorted(d for d in out.iterdir() if d.is_dir() and run_files(d)) if out.is_dir() else []


def prepare_task_output(out: str, splits: list[str], fp: dict, resume: bool, overwrite: bool) -> None:
    """Make ``out`` ready for this task run (see the module doc); SettingsError naming the fix otherwise."""
    root = Path(out.removeprefix("file://"))
    held = _split_dirs(root)
    has_spec, run_file = (root / "task.json").is_file(), root / RUN_FILE
    recorded = json.loads(run_file.read_text()) if run_file.is_file() else None
    if (held or has_spec) and not overwrite:
        names = ", ".join(d.name for d in held) or "task.json"
        if not resume:
            raise SettingsError(f"--output {out} already holds a task run ({names}); give a new --output, --overwrite "
                                "to replace that run, or --resume to finish it if it is this same run")
        if recorded != fp:
            raise SettingsError(f"--resume: {out} was written with other settings ({run_file}"
                                f"{'' if recorded else ': missing'}); give a new --output, or --overwrite")
    if overwrite:
        (root / "task.json").unlink(missing_ok=True)
        for d in held:
            if d.name not in splits:  # a split of the old run this one does not write: its files go too
                prepare_output(d, {}, resume=False, overwrite=True)
                (d / RUN_FILE).unlink()
    root.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(fp, sort_keys=True, indent=1))
    for split in splits:
        prepare_output(root / split, fp | {"split": split}, resume, overwrite)


def _pair_problems(path: str, task) -> list[str]:
    """A pair or QA task needs a tokenizer that can encode pairs (its post-processor or a separator token); one
    that cannot raised ValueError with a traceback from the job builder."""
    if task is None or task.input not in ("pair", "qa"):
        return []
    from ..tokenizer import load
    from .tokens import pair_encoder
    try:
        pair_encoder(load(path))
    except ValueError as e:
        return [f"{str(e).replace('--tokenizer', f'--tokenizer {path}', 1)} (--task {task.name} encodes pairs)"]
    return []
