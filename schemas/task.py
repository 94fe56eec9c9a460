"""What a labelled shard set is for: the task spec, stored in each split's manifest (``task``) and in ``task.json``.

    {"name": "glue-mrpc", "family": "classification", "input": "pair", "label_names": ["0", "1"],
     "metric": "accuracy_f1", "language": "en"}

``label_names`` is the label vocabulary (index = label id): class names, tag names (tagging) or deprel names
(parsing); empty for regression and QA. It is fixed from the train split and reused by every other split.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .files import file_in, write_atomic
from .sample import SchemaError

FAMILIES = ("classification", "regression", "tagging", "parsing", "qa")
INPUTS = ("text", "pair", "words", "qa")
METRICS = ("accuracy", "f1", "mcc", "pearson_spearman", "accuracy_f1", "seqeval", "uas_las", "squad")
_NAME_RE = re.compile(r"^[a-z0-9_-]+\Z")
_INPUTS_OF = {"classification": ("text", "pair"), "regression": ("text", "pair"), "tagging": ("words",),
              "parsing": ("words",), "qa": ("qa",)}
TASK_FILE = "task.json"


@dataclass
class TaskSpec:
    name: str  # [a-z0-9_-]+, e.g. glue-mrpc, xnli-en, ud-en_ewt-pos, conll2003-ner, xquad-en
    family: str  # one of FAMILIES
    input: str  # one of INPUTS: how a record was rendered
    label_names: list[str] = field(default_factory=list)
    metric: str = "accuracy"
    language: str | None = None

    def validate(self) -> "TaskSpec":
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise SchemaError(f"task {self.name!r}: {msg}")

        need(isinstance(self.name, str) and _NAME_RE.match(self.name) is not None, "name must be [a-z0-9_-]+")
        need(self.family in FAMILIES, f"family must be one of {FAMILIES}, got {self.family!r}")
        need(self.input in _INPUTS_OF[self.family],
             f"input must be one of {_INPUTS_OF[self.family]} for {self.family}, got {self.input!r}")
        need(self.metric in METRICS, f"metric must be one of {METRICS}, got {self.metric!r}")
        need(isinstance(self.label_names, list) and all(isinstance(x, str) for x in self.label_names),
             "label_names must be a list of str")
        need(len(set(self.label_names)) == len(self.label_names), "label_names must not repeat")
        if self.family in ("regression", "qa"):
            need(not self.label_names, f"label_names must be empty for {self.family}")
        need(self.language is None or isinstance(self.language, str), "language must be a str or null")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self.validate())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TaskSpec":
        if not isinstance(d, dict):
            raise SchemaError(f"task spec must be an object, got {type(d).__name__}")
        known = {"name", "family", "input", "label_names", "metric", "language"}
        if set(d) - known:
            raise SchemaError(f"task spec has unknown fields {sorted(set(d) - known)}")
        try:
            return cls(**{**d, "label_names": list(d.get("label_names", []))}).validate()
        except TypeError as e:
            raise SchemaError(f"task spec: {e}") from e

    def write(self, directory: str | Path) -> Path:
        """``task.json`` (atomically) in ``directory``."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        return write_atomic(Path(directory) / TASK_FILE, text.encode("utf-8"))

    @classmethod
    def read(cls, path: str | Path) -> "TaskSpec":
        path = file_in(path, TASK_FILE)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as e:
            raise SchemaError(f"{path}: not valid JSON: {e}") from e
