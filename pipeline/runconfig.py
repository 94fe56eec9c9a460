"""``RunConfig``: one run's settings, typed, built once from the parsed flags after they were checked.

``run`` builds it and hands the same object to ``prepare_output`` (as ``fingerprint()``, the rerun guard's
record), to ``build_pipeline`` (readers, filters, render, sink) and to ``finalize`` (the manifest and card). The
render config is built once here, the tokenizer file hashed once, and what the card says of each input (its
format and license, from the format registry) looked up once, in the launcher. Beam-free; pickled into
``finalize``. ``TaskRunConfig`` does the same for ``pixel-render task``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .render import RenderConfig

if TYPE_CHECKING:
    from .tasks.records import TaskDef

# What makes two runs the same run (``--resume`` finishes one only with these equal, with the render config and
# the tokenizer's sha256); the names are the flags' and ``.pixelkit-run.json``'s keys.
FINGERPRINT_KEYS = ("input", "format", "max_doc_chars", "text_field", "id_field", "drop_title", "drop_headings",
                    "encoding", "min_patches", "max_unknown_ratio", "dedup", "split", "samples_per_shard")


def parse_input(spec: str) -> tuple[str, str]:
    """``source=pattern`` or a bare pattern (the source is then the file name's stem up to the first dot)."""
    if "=" in spec and "://" not in spec.split("=", 1)[0]:
        source, pattern = spec.split("=", 1)
    else:
        pattern = spec
        source = re.sub(r"[^A-Za-z0-9_-]", "", Path(spec).name.split(".")[0].replace("*", "")) or "corpus"
    return source, pattern


def recorded_inputs(inputs) -> list[str]:
    """The ``--input`` values as the rerun guard records them: a local pattern made absolute, so ``--resume`` of
    the same files from another folder, or by an absolute instead of a relative path, is the same run."""
    specs = [parse_input(spec) for spec in inputs]
    return [f"{src}={pattern if '://' in pattern else os.path.abspath(pattern)}" for src, pattern in specs]


@dataclass(frozen=True)
class RunConfig:
    output: str
    split: str
    render: RenderConfig
    encoding: str
    sources: tuple[str, ...]  # sorted source names (the manifest's ``sources``)
    tokenizer: dict | None = None  # tokenizer.identity() of --tokenizer: name, sha256, vocab_size, model
    tokenizer_path: str | None = None
    input: tuple[str, ...] = ()  # the --input specs as given ([source=]pattern)
    format: str = "auto"
    text_field: str = "text"
    id_field: str = "id"
    max_doc_chars: int = 0
    drop_title: str = ""
    drop_headings: bool = False
    min_patches: int = 0
    max_unknown_ratio: float = 1.0
    dedup: bool = False
    samples_per_shard: int = 1000
    resume: bool = False
    overwrite: bool = False
    source_rows: tuple[tuple[str, str, str, str], ...] = ()  # card.source_rows: each input as the card lists it

    @classmethod
    def from_options(cls, o: dict) -> "RunConfig":
        """From ``RenderOptions.get_all_options()`` (already checked: ``validate.check_run_options``)."""
        from .args import render_config
        from .card import source_rows

        tokenizer = None
        if o["tokenizer"]:
            from .tokenizer import identity

            tokenizer = identity(o["tokenizer"])
        return cls(output=o["output"], split=o["split"], render=render_config(o), encoding=o["encoding"],
                   sources=tuple(sorted({parse_input(s)[0] for s in o["input"]})), tokenizer=tokenizer,
                   tokenizer_path=o["tokenizer"], input=tuple(o["input"]), format=o["format"],
                   text_field=o["text_field"], id_field=o["id_field"], max_doc_chars=o["max_doc_chars"],
                   drop_title=o["drop_title"], drop_headings=o["drop_headings"], min_patches=o["min_patches"],
                   max_unknown_ratio=o["max_unknown_ratio"], dedup=o["dedup"], samples_per_shard=o["samples_per_shard"],
                   resume=o["resume"], overwrite=o["overwrite"],
                   source_rows=tuple(source_rows([parse_input(s) for s in o["input"]], o["format"])))

    def inputs(self) -> list[tuple[str, str]]:
        """``(source, pattern)`` per --input, in the order given."""
        return [parse_input(s) for s in self.input]

    def fingerprint(self) -> dict:
        """What ``.pixelkit-run.json`` records (``outdir.prepare_output`` compares it on ``--resume``)."""
        fp = {k: getattr(self, k) for k in FINGERPRINT_KEYS} | {"input": recorded_inputs(self.input),
                                                                  "render_config": self.render.to_dict()}
        if self.tokenizer is not None:
            fp["tokenizer"] = self.tokenizer["sha256"]
        return fp


# What makes two task runs the same run (``.pixelkit-run.json`` of a task output, with the render config and the
# tokenizer's sha256); the flags' names.
TASK_FINGERPRINT_KEYS = ("task", "task_format", "input", "limit", "stride", "vocab_split", "encoding",
                         "samples_per_shard")


@dataclass(frozen=True)
class TaskRunConfig:
    """``pixel-render task``'s settings, typed, built once after ``tasks.settings.check_options``: handed to the
    rerun guard (``fingerprint()``), ``build_task_pipeline`` and, one split at a time (``split_run``), ``finalize``."""

    output: str
    task: TaskDef
    splits: tuple[tuple[str, tuple[str, ...]], ...]  # (split, its patterns) in the order given
    render: RenderConfig
    encoding: str
    tokenizer: dict | None = None  # tokenizer.identity() of --tokenizer: name, sha256, vocab_size, model
    tokenizer_path: str | None = None
    task_name: str = ""  # --task as given (``task.name`` is the resolved name)
    task_format: str | None = None
    input: tuple[str, ...] = ()  # the --input specs as given (split=pattern)
    limit: int = 0
    stride: int = 0
    max_tokens: int = 0  # --max_tokens (0: token ids not cut)
    vocab_split: str = "train"
    label_names: tuple[str, ...] | None = None  # --label_names, resolved to names (None: not given)
    samples_per_shard: int = 1000
    resume: bool = False
    overwrite: bool = False

    @classmethod
    def from_options(cls, o: dict, task: TaskDef, splits: dict[str, list[str]]) -> "TaskRunConfig":
        """From ``TaskOptions.get_all_options()`` and what ``check_options`` returned for it."""
        from .args import render_config

        tokenizer = None
        if o["tokenizer"]:
            from .tokenizer import identity

            tokenizer = identity(o["tokenizer"])
        return cls(output=o["output"], task=task, splits=tuple((s, tuple(p)) for s, p in splits.items()),
                   render=render_config(o), encoding=o["encoding"], tokenizer=tokenizer,
                   tokenizer_path=o["tokenizer"], task_name=o.get("task"), task_format=o.get("task_format"),
                   input=tuple(o.get("input") or ()), limit=o.get("limit"), stride=o.get("stride"),
                   max_tokens=o.get("max_tokens") or 0,
                   vocab_split=o.get("vocab_split"), samples_per_shard=o.get("samples_per_shard"),
                   label_names=task.label_names if o.get("label_names") else None,
                   resume=o["resume"], overwrite=o["overwrite"])

    def fingerprint(self) -> dict:
        """What ``OUT/.pixelkit-run.json`` records (``tasks.settings.prepare_task_output`` compares it)."""
        fp = {k: getattr(self, k) for k in TASK_FINGERPRINT_KEYS} | {
            "task": self.task_name, "input": recorded_inputs(self.input), "render_config": self.render.to_dict()}
        if self.tokenizer is not None:
            fp["tokenizer"] = self.tokenizer["sha256"]
        if self.max_tokens:  # (only when set: earlier runs' records stay equal to their reruns')
            fp["max_tokens"] = self.max_tokens
        if self.label_names is not None:  # (likewise)
            fp["label_names"] = list(self.label_names)
        return fp

    def split_run(self, split: str, output: str) -> RunConfig:
        """The one split's shard set at ``output``, as ``finalize`` takes it (its source: the task's name)."""
        return RunConfig(output, split, self.render, self.encoding, sources=(self.task.name,),
                         tokenizer=self.tokenizer if not self.max_tokens or self.tokenizer is None
                         else {**self.tokenizer, "max_tokens": self.max_tokens})
