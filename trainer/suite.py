"""A suite file: the papers' evaluation tables as one list of finetuning entries (torch-free; pydantic-checked).

    suite = load_suite("trainer/suites/tiny.yaml")   # or a shipped name: load_suite("tiny")

Each entry is (task, data per language, protocol, modality, seeds, run settings) and names the table cell(s) it
fills. Protocols:

* ``single``: one language (or a monolingual task): train on its train split, score its eval split;
* ``train-en`` (zero-shot transfer; CCLM's and PixelGPT's XNLI setup): train on ``train_language``'s train split
  only, score every language's eval split with the same model in one run;
* ``translate-train-all`` (PIXEL's and PixelGPT's XNLI setup): train on the union of every language's train split
  (mixed by size), score each language.

In both cross-lingual protocols the best checkpoint is chosen on the union of the languages' dev splits, as
ernie-research/pixelgpt's ``run_ernie_xnli_translate_train_{en,all}.py`` concatenate them for evaluation.
Every problem is one line naming its key (``entries[2].protocol``) and the fix, before any work starts.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .spec import ConfigError

SUITES = Path(__file__).resolve().parent / "suites"
FINETUNE_RUNS = Path(__file__).resolve().parent / "runs" / "finetune"  # one run file per task family
# run settings the suite gives each run itself (a suite file's value would be replaced): what to use instead
SUITE_OWNED = {"seed": "the entry's seeds", "output_dir": "--out (each run writes runs/<entry>/seed-<s>/)",
               "init_from": "pixel-train suite --init", "task.name": "the entry's task",
               "task.modality": "the entry's modality", "data.train": "the entry's languages (their train splits)",
               "data.eval": "the entry's languages (their validation splits)"}
PROTOCOLS = ("single", "train-en", "translate-train-all")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Language(_Strict):
    """One language's data: files ``pixel-render task`` reads (``inputs``: split -> path), or a rendered task
    output (``dir``). Paths are relative to the working directory."""

    inputs: dict[str, str] = Field(default_factory=dict)  # e.g. {train: ../shared/data/glue/CoLA/train.tsv}
    dir: str | None = None  # an existing pixel-render task output (train/, validation/, task.json)
    task: str | None = None  # pixel-render task name for this language (default: the entry's, {lang} filled in)
    limit: int | None = Field(default=None, ge=1)  # read only the first N records of each file

    @model_validator(mode="after")
    def _one_source(self):
        if bool(self.inputs) == bool(self.dir):
            raise ValueError("give either inputs (split: file, rendered by pixel-render task) or dir (a rendered task "
                             "output)")
        return self


def check_name(key: str, value: str, why: str) -> None:
    """ValueError unless ``value`` is one plain path component (no ``/``, no leading ``.``): a suite file may come
    from elsewhere, and these names become paths under the suite's output directory."""
    if not NAME.match(value):
        raise ValueError(f"{key} {value!r}: letters, digits, _ . + - only, starting with a letter or digit ({why})")


class Table(_Strict):
    name: str
    title: str = ""
    source: str = ""  # the paper table it mirrors
    average: bool = True  # an "Avg" column over each row's cells (as the papers' tables)

    @model_validator(mode="after")
    def _name(self):
        check_name("name", self.name, "it names the table's PNG")
        return self


class Entry(_Strict):
    name: str
    task: str  # pixel-render task name, e.g. glue-cola, xnli-{lang}, ud-{lang}-pos
    table: str
    row: str = ""  # default: the modality (PixelGPT tables) or the suite's model name
    column: str = ""  # default: the entry's name; multilingual entries fill one column per language
    protocol: Literal["single", "train-en", "translate-train-all"] = "single"
    languages: dict[str, Language] = Field(min_length=1)
    train_language: str = "en"  # train-en: the language trained on
    modality: Literal["text", "pixel", "pair"] | None = None
    seeds: list[int] = Field(default_factory=lambda: [42], min_length=1)
    eval_split: str = "validation"  # the split scored for the table (test where the paper reports test)
    metric: str | None = None  # the metric key shown (default: the task's main metric, e.g. accuracy, las, f1)
    settings: dict[str, Any] = Field(default_factory=dict)  # run-file keys over the suite's defaults (dotted ok)
    paper: Union[float, dict[str, float], None] = None  # the paper's number(s), shown beside ours
    render: list[str] = Field(default_factory=list)  # pixel-render task flags after the suite's (e.g. --max_patches 196)

    @model_validator(mode="after")
    def _protocol(self):
        check_name("name", self.name, "it names a directory")
        for lang in self.languages:
            check_name("languages", lang, "it names a directory")
        check_name("eval_split", self.eval_split, "it names a split directory")
        if dup := sorted({s for s in self.seeds if self.seeds.count(s) > 1}):
            raise ValueError(f"seeds {dup} given twice: one run per seed (a repeat was counted as another seed's "
                             f"result); list each seed once")
        if bad := [s for s in self.seeds if isinstance(s, bool) or not 0 <= s < 2**32]:
            raise ValueError(f"seeds {bad}: each must be an integer in 0..2**32-1")
        if self.protocol == "single" and len(self.languages) != 1:
            raise ValueError(f"protocol single takes one language, got {sorted(self.languages)}; use train-en or "
                             f"translate-train-all for several")
        if self.protocol == "train-en" and self.train_language not in self.languages:
            raise ValueError(f"train_language {self.train_language!r} is not among languages {sorted(self.languages)}")
        if isinstance(self.paper, dict) and (extra := sorted(set(self.paper) - set(self.languages) - {"avg"})):
            raise ValueError(f"paper numbers for {extra}, which are not among languages {sorted(self.languages)}")
        return self

    def train_languages(self) -> list[str]:
        if self.protocol == "train-en":
            return [self.train_language]
        return list(self.languages)


class Suite(_Strict):
    name: str
    title: str = ""
    source: str = ""  # the paper(s) the suite mirrors
    model: str = ""  # the row label when an entry names none
    defaults: dict[str, Any] = Field(default_factory=dict)  # run-file keys for every entry (over the family's run file)
    render: list[str] = Field(default_factory=list)  # pixel-render task flags for every language, e.g. [--max_patches, '256']
    tables: list[Table] = Field(min_length=1)
    entries: list[Entry] = Field(min_length=1)

    @model_validator(mode="after")
    def _refs(self):
        tables = [t.name for t in self.tables]
        if len(set(tables)) != len(tables):
            raise ValueError(f"tables: duplicate names in {tables}")
        names = [e.name for e in self.entries]
        if dup := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"entries: duplicate names {dup} (each names its run directory)")
        average = {t.name: t.average for t in self.tables}
        filled: dict[tuple[str, str, str], str] = {}  # (table, row, column) -> the entry whose score it shows
        for i, e in enumerate(self.entries):
            if e.table not in tables:
                raise ValueError(f"entries[{i}].table {e.table!r} is not one of tables {tables}")
            for lang in e.languages:
                cell = (e.table, row_name(self, e), cell_name(e, lang))
                if average[e.table] and cell[2] == "Avg":
                    raise ValueError(f"entries[{i}] ({e.name}) fills column 'Avg' of table {e.table}, which holds "
                                     f"the row's average: name the column or language otherwise")
                if cell in filled:
                    raise ValueError(f"entries[{i}] ({e.name}) and {filled[cell]} both fill table {e.table}, row "
                                     f"{cell[1]!r}, column {cell[2]!r} (one would hide the other): give one of them "
                                     f"another row or column")
                filled[cell] = e.name
        return self


def cell_name(entry: Entry, lang: str) -> str:
    """The table column an entry's language fills: the language (several), else ``column`` or the entry's name."""
    return lang if len(entry.languages) > 1 else (entry.column or entry.name)


def row_name(suite: Suite, entry: Entry) -> str:
    return entry.row or (f"{suite.model} {entry.modality}".strip() if entry.modality else suite.model or "ours")


def _path_of(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_suite(data: Any, where: str = "suite") -> Suite:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a suite file holds a mapping (name, tables, entries)")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = _path_of(tuple(p for p in err["loc"] if not str(p).startswith("function-")))
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {key or '(top)'}: {msg}")
        raise ConfigError("\n".join(lines)) from None
    _check_settings(suite, where)
    return suite


def _check_settings(suite: Suite, where: str) -> None:
    """Every entry's run settings (defaults <- entry) are real run-file keys of the right type, and each run's
    whole config passes the run checks (ranges, batch division) -- before anything is rendered (torch-free)."""
    from .checks import type_problems
    from .config import TrainConfig, _merge, load_config
    for where_, layer in (("defaults", suite.defaults), *((f"entries[{i}] ({e.name}) settings", e.settings)
                                                         for i, e in enumerate(suite.entries))):
        for key, instead in SUITE_OWNED.items():  # each run's own value replaced these silently
            node = expand(layer)
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                raise ConfigError(f"{where}: {where_}: {key} is set by the suite for each run; use {instead}")
    for i, e in enumerate(suite.entries):
        cfg = TrainConfig()
        try:
            for layer in (suite.defaults, e.settings):
                _merge(cfg, expand(layer), "")
        except ConfigError as err:
            raise ConfigError(f"{where}: entries[{i}] ({e.name}) settings: {err}") from None
        if problems := type_problems(cfg):
            raise ConfigError("\n".join(f"{where}: entries[{i}] ({e.name}) settings: {p}" for p in problems))
        # the task family picks the run file, and is known only once the data is rendered: refuse what fails under
        # every family's run file (a max_steps of -1 used to fail only after every language had been rendered)
        stand_in = {"task": {"name": e.task}, "output_dir": "run", "seed": e.seeds[0],
                    "data": {"train": [f"{lang}/train" for lang in e.train_languages()] or ["train"]}}
        errors = []
        for run_file in sorted(FINETUNE_RUNS.glob("*.yaml")):
            try:
                load_config(run_file, expand(suite.defaults), expand(e.settings), stand_in)
                break
            except ConfigError as err:
                errors.append(err)
        else:
            if errors:
                raise ConfigError("\n".join(f"{where}: entries[{i}] ({e.name}) settings: {line}"
                                             for line in str(errors[0]).splitlines()))


def expand(settings: dict[str, Any]) -> dict[str, Any]:
    """``{"optim.lr": 3e-5, "task": {"patience": 8}}`` -> nested mapping."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        if isinstance(value, dict) and isinstance(node.get(leaf), dict):
            node[leaf].update(value)
        else:
            node[leaf] = value
    return out


def out_relative(settings: dict) -> dict:
    """A run's recorded settings with its suite's ``--out`` written ``<out>`` (found from the run's own
    ``output_dir``, ``<out>/runs/<entry>/seed-<s>``, which is dropped): the same suite resumed from another working
    directory, or with ``--out`` spelled otherwise (relative / absolute), makes the same runs."""
    settings = json.loads(json.dumps(settings))
    out_dir = settings.pop("output_dir", None)
    data = settings.get("data")
    if not isinstance(out_dir, str) or not isinstance(data, dict):
        return settings
    root = str(Path(out_dir).parent.parent.parent)  # spelled as the data paths beside it (both made from --out)

    def under(path):
        rel = os.path.relpath(path, root) if isinstance(path, str) and "://" not in path else ".."
        return path if rel == ".." or rel.startswith("../") else f"<out>/{rel}"
    if isinstance(data.get("train"), list):
        data["train"] = [under(t) for t in data["train"]]
    ev = data.get("eval")
    if isinstance(ev, str):  # one split, or dev_union's brace list of several splits' shards
        data["eval"] = "{" + ",".join(map(under, ev[1:-1].split(","))) + "}" if ev.startswith("{") else under(ev)
    return settings


def suite_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.is_file():
        return p
    shipped = SUITES / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    known = ", ".join(sorted(f.stem for f in SUITES.glob("*.yaml")))
    raise ConfigError(f"--config {name_or_path}: no such file and no shipped suite of that name ({known})")


def load_suite(name_or_path: str) -> Suite:
    """A suite file, read as run files are: a key given twice in one mapping (PyYAML kept the last silently: a
    language or a setting written twice) is refused with its line."""
    from .config import read_run_file
    p = suite_path(name_or_path)
    try:
        data = read_run_file(p)
    except ConfigError as e:
        raise ConfigError(str(e).replace("run file", "suite file", 1)) from None
    return parse_suite(data, str(p))


def task_spec(entry: Entry, lang: str, d: Path):
    """A language's ``task.json`` through the finetune CLI's reader (``TaskSpec.read``, validated); a damaged one
    (not JSON, not an object, no or an unknown family) is a ConfigError naming the file and the fix, not a traceback."""
    from pixelkit.schemas import SchemaError, TaskSpec
    f = Path(d) / "task.json"
    try:
        return TaskSpec.read(f)
    except (SchemaError, OSError, UnicodeDecodeError) as e:
        fix = (f"render it again with pixel-render task into {d}" if entry.languages[lang].dir is not None else
               f"delete {d} and run the suite again (it renders the data again)")
        raise ConfigError(f"entries {entry.name} ({lang}): {f} is not a usable task spec "
                          f"({' '.join(str(e).split())[:200]}); {fix}") from None


def check_dev(entry: Entry) -> None:
    """ConfigError unless some language of the entry gives a ``validation`` split (an input of that name, or a
    ``validation/`` split in its ``dir``): the suite's dev split, on which a run is evaluated every ``eval_every``
    steps (early stopping, the best checkpoint the table scores). Without one the runs trained with no dev
    evaluation and the last step was scored, silently; every paper protocol mirrored here selects on dev."""
    splits = {lang: sorted(s.inputs) if s.inputs else sorted(p.name for p in Path(s.dir).glob("*/") if p.is_dir())
              for lang, s in entry.languages.items()}
    if any("validation" in names for names in splits.values()):
        return
    lang = next(iter(splits))
    where = (f"languages.{lang}.inputs.validation: <dev file>" if entry.languages[lang].inputs
             else f"a validation/ split in languages.{lang}.dir (pixel-render task --input validation=<dev file>)")
    given = "; ".join(f"{k}: {', '.join(v) or 'none'}" for k, v in splits.items())
    raise ConfigError(f"entries {entry.name}: no language gives a 'validation' split (splits given: {given}); the "
                      f"suite's runs evaluate on 'validation' only, so they would train with no dev evaluation (no "
                      f"early stopping, no best checkpoint: the last step scored). Name the dev split validation "
                      f"({where}; MNLI: dev_matched, which the reference scripts evaluate on)")
