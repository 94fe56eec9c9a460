"""What a task shard set is for: ``TaskSpec`` (``OUT/task.json`` and the manifest's ``task`` field).

The contract between ``pixel-render task`` (writer) and finetuning (reader): the family says how records were
rendered and which head a trainer puts on top; ``label_names`` fixes the label vocabulary (index = label id).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sample import SchemaError

FAMILIES = ("classification", "regression", "tagging", "parsing", "qa")
INPUTS = ("text", "pair", "words", "qa")
METRICS = ("accuracy", "f1", "mcc", "pearson_spearman", "accuracy_f1", "seqeval", "uas_las", "squad")
TASK_FILE = "task.json"
_NAME = re.compile(r"^[a-z0-9_-]+$")


@dataclass
class TaskSpec:
    name: str
    family: str
    input: str
    metric: str
    label_names: list[str] = field(default_factory=list)
    language: str | None = None

    def validate(self) -> "TaskSpec":
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise SchemaError(f"task {self.name!r}: {msg}")
        need(isinstance(self.name, str) and bool(_NAME.match(self.name)), "name must be [a-z0-9_-]+")
        need(self.family in FAMILIES, f"family must be one of {FAMILIES}")
        need(self.input in INPUTS, f"input must be one of {INPUTS}")
        need(self.metric in METRICS, f"metric must be one of {METRICS}")
        need(isinstance(self.label_names, list) and all(isinstance(x, str) for x in self.label_names),
             "label_names must be a list of str")
        need(bool(self.label_names) == (self.family in ("classification", "tagging", "parsing")),
             "label_names: needed for classification, tagging and parsing; empty for regression and qa")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TaskSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(d, dict) or set(d) - known:
            raise SchemaError(f"task spec: unknown fields {sorted(set(d) - known) if isinstance(d, dict) else d}")
        try:
            return cls(**d).validate()
        except TypeError as e:
            raise SchemaError(f"task spec: {e}") from e

    @classmethod
    def read(cls, path: str | Path) -> "TaskSpec":
        path = Path(path)
        if path.is_dir():
            path = path / TASK_FILE
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as e:
            raise SchemaError(f"{path}: not valid JSON: {e}") from e

    def write(self, directory: str | Path) -> Path:
        path = Path(directory) / TASK_FILE
        tmp = path.with_name(f".{TASK_FILE}.tmp")
        tmp.write_text(json.dumps(self.validate().to_dict(), indent=1, sort_keys=True) + "\n")
        tmp.replace(path)
        return path
