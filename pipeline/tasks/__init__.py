"""Labelled task datasets -> task shards: one Beam-free reader per input format, one registry line each.

    from pixelkit.pipeline.tasks import resolve, read_records
    task = resolve("glue-mrpc")                       # TaskDef: reader, family, input, metric, documented classes
    for rec in read_records("glue/MRPC/dev.tsv", task): ...   # LabelledRecord | DeadLetter | Skipped

A task name picks its reader by prefix (``--task_format`` forces one for a name of your own).
"""

from __future__ import annotations

import itertools
from importlib import import_module
from typing import Iterator

from pixelkit.schemas import SchemaError

from ..readers.streams import Opener, open_binary
from .records import LabelledRecord, Record, TaskDef

# format -> module (each has describe(name) -> TaskDef and read(path, task, opener) -> records)
FORMATS = {
    "glue": "pixelkit.pipeline.tasks.glue",
    "xnli": "pixelkit.pipeline.tasks.xnli",
    "conllu": "pixelkit.pipeline.tasks.conllu",
    "conll_ner": "pixelkit.pipeline.tasks.conll_ner",
    "squad": "pixelkit.pipeline.tasks.squad",
}
# task-name prefix -> format
PREFIXES = {"glue-": "glue", "xnli-": "xnli", "ud-": "conllu", "conll2003-": "conll_ner", "masakhaner-": "conll_ner",
            "squad": "squad", "xquad-": "squad", "tydiqa-": "squad", "mlqa-": "squad", "korquad-": "squad",
            "jaquad-": "squad"}
EXAMPLES = ("glue-cola", "glue-sst2", "glue-mrpc", "glue-qqp", "glue-stsb", "glue-mnli", "glue-qnli", "glue-rte",
            "glue-wnli", "xnli-en", "ud-en_ewt-pos", "ud-en_ewt-parse", "conll2003-ner", "masakhaner-hau-ner",
            "squad", "xquad-en", "tydiqa-en")


def resolve(name: str, fmt: str | None = None) -> TaskDef:
    """The TaskDef for ``name``; ValueError naming the fix for an unknown name or format."""
    if fmt is None:
        fmt = next((f for p, f in PREFIXES.items() if name.startswith(p)), None)
        if fmt is None:
            raise ValueError(f"--task {name}: no reader for this name; use a known prefix ({', '.join(PREFIXES)}) "
                             f"or pass --task_format {{{','.join(FORMATS)}}}")
    if fmt not in FORMATS:
        raise ValueError(f"--task_format {fmt}: unknown; one of {sorted(FORMATS)}")
    task = import_module(FORMATS[fmt]).describe(name)
    try:  # the spec every split's manifest carries: a name it refuses would fail the job after the work
        task.spec(list(task.label_names or ()))
    except SchemaError as e:
        raise ValueError(f"--task {name}: {str(e).split(': ', 1)[-1]} (lower-case letters, digits, _ and -; "
                         "e.g. xquad-de, ud-en_ewt-pos)") from None
    return task


def read_records(path: str, task: TaskDef, opener: Opener = open_binary, limit: int = 0) -> Iterator[Record]:
    """The records of one file (the first ``limit`` outcomes when ``limit`` > 0)."""
    recs = import_module(FORMATS[task.format]).read(path, task, opener)
    return itertools.islice(recs, limit) if limit > 0 else recs


__all__ = ["EXAMPLES", "FORMATS", "LabelledRecord", "PREFIXES", "Record", "TaskDef", "read_records", "resolve"]
