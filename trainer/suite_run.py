"""``pixel-train suite``: every entry of a suite file, resumable, into per-entry results and the papers' tables.

Layout under ``--out`` (default ``out/suites/<name>``):

| path | what |
|---|---|
| ``data/<task>-<hash>/`` | each language's task shards, rendered once by ``pixel-render task`` (a subprocess: the trainer never imports the pipeline); a render that was killed is redone |
| ``data/<task>-<hash>/suite-render.json`` | what the shards were rendered from (``render_record``): the rendering code's fingerprint, the tokenizer's sha256, each input file's size and mtime; reused only while all three are what a render would use now, else rendered again |
| ``runs/<entry>/seed-<s>/`` | one finetuning run (the engine's own checkpoints, ``best/``, ``metrics.jsonl``) |
| ``runs/<entry>/seed-<s>/suite-run.json`` | written before the run starts (``run_record``): its resolved settings, the ``--init`` model's and the task data's fingerprints; a later suite run whose own differ is refused before any work |
| ``runs/<entry>/seed-<s>/result.json`` | written last (atomically): per-language metrics of the best checkpoint on ``eval_split`` + the majority baseline; an entry with it is **not rerun** |
| ``results.json``, ``report.md``, ``<table>.png`` | the tables (mean ± std over seeds), written by ``suite_report`` |

A suite killed mid-way is resumed by the same command: finished (entry, seed) runs are skipped, an unfinished
run continues from its newest checkpoint (the engine's resume), unrendered data is rendered. A run left there by
other settings, another ``--init`` model or other task data is neither reused nor resumed: the suite stops before
any work and names the run, what changed, and the fix (delete that run's directory, or give another ``--out``).
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pixelkit.schemas.files import write_atomic

from .config import changed_settings, load_config
from .spec import MAIN_METRIC, METRIC_KEYS, ConfigError
from .suite import Entry, Suite, check_dev, expand, out_relative, task_spec

log = logging.getLogger(__name__)
RUN_FILES = Path(__file__).resolve().parent / "runs" / "finetune"
PERCENT_FAMILIES = ("parsing", "qa")  # their scores (UAS / LAS, SQuAD EM / F1) are already x 100
# "file.tsv[0:1990]": lines 0..1989 of a line-based file; "file.json[0:40]": articles 0..39 of a SQuAD-format JSON
SLICE = re.compile(r"^(?P<path>.+)\[(?P<a>\d*):(?P<b>\d*)\]$")
RENDER_RECORD = "suite-render.json"
RUN_RECORD = "suite-run.json"
# the code that writes task shards, beside this package's trainer/ (checkout root, or site-packages/pixelkit/)
RENDER_CODE = tuple(Path(__file__).resolve().parent.parent / d for d in ("pipeline", "schemas"))


def _hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:10]


def code_fingerprint(roots: tuple[Path, ...] = RENDER_CODE) -> str:
    """sha256 over every ``.py`` of the code that writes task shards (``pipeline/``, ``schemas/``: path + bytes).
    Renderer fixes need not change the schema version or any render setting (the EOS-mask fix changed pairs'
    ``num_patches`` and neither), so reused shards are checked against the code itself: any change re-renders."""
    h = hashlib.sha256()
    for root in roots:
        for f in sorted(root.rglob("*.py")):
            h.update(f"{f.relative_to(root.parent).as_posix()}\0{f.stat().st_size}\0".encode() + f.read_bytes())
    return h.hexdigest()


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class SuiteRunner:
    def __init__(self, suite: Suite, out: Path, init: str | None, tokenizer: str | None = None,
                 only: list[str] | None = None):
        self.suite, self.out, self.init, self.tokenizer = suite, out, init, tokenizer
        if init is not None:  # what finetune's init_from takes, checked before anything is rendered
            from .checks import weights_problem
            if not Path(init).is_dir():
                raise ConfigError(f"--init {init} is not a directory; give a pixel-train pretrain output's model/ dir")
            if problem := weights_problem(init, "--init"):
                raise ConfigError(problem)
        if tokenizer is not None and not Path(tokenizer).is_file():
            raise ConfigError(f"--tokenizer {tokenizer} " + ("is a directory; give the tokenizer's file (tokenizer.json "
                              "or a SentencePiece .model)" if Path(tokenizer).is_dir() else "does not exist"))
        names = [e.name for e in suite.entries]
        if only and (bad := sorted(set(only) - set(names))):
            raise ConfigError(f"--only {bad}: no such entries; the suite has {names}")
        self.entries = [e for e in suite.entries if not only or e.name in only]
        self._init_files: dict | None = None  # the --init model's files' sha256: computed once per suite run
        self._fixed: dict | None = None  # code_fingerprint() and the tokenizer's sha256: computed once per run

    # -- data ---------------------------------------------------------------------------------------------
    def _slice(self, spec: str) -> str:
        """A line range of a line-based file (TSV / CoNLL rows), or an article range of a SQuAD-format JSON file
        (its ``data`` list: whole articles, so no context is shared across the cut), materialized once under
        data/_slices/."""
        m = SLICE.match(spec)
        if not m:
            return spec
        src = Path(m["path"])
        if not src.is_file():
            raise ConfigError(f"input {spec}: {src} does not exist")
        a, b = int(m["a"] or 0), int(m["b"]) if m["b"] else None
        st = src.stat()  # a changed source gets a new slice
        dst = self.out / "data" / "_slices" / (f"{src.stem}-{a}-{b if b is not None else 'end'}-"
                                               f"{_hash([str(src.resolve()), st.st_size, st.st_mtime_ns])}{src.suffix}")
        if not dst.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.suffix == ".json":
                try:
                    doc = json.loads(src.read_text(encoding="utf-8"))
                except ValueError as e:
                    raise ConfigError(f"input {spec}: {src} is not JSON ({e})") from None
                if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
                    raise ConfigError(f"input {spec}: {src} is not SQuAD-format JSON (no 'data' list of articles); "
                                      f"only line-based files and SQuAD JSON can be cut with [a:b]")
                kept, unit, total = doc["data"][a:b], "article", len(doc["data"])
                body = json.dumps({**doc, "data": kept}, ensure_ascii=False).encode()
            else:
                with src.open("rb") as fh:
                    lines = fh.read().splitlines(keepends=True)
                kept, unit, total = lines[a:b], "line", len(lines)
                body = b"".join(kept)
            if not kept:  # an empty split would only fail later, at training ("holds no sample")
                raise ConfigError(f"input {spec}: selects no {unit} of {src} ({total:,} {unit}s); fix the range")
            tmp = dst.with_name(dst.name + ".tmp")
            tmp.write_bytes(body)
            os.replace(tmp, dst)
        return str(dst)

    def data_dir(self, entry: Entry, lang: str) -> Path:
        spec = entry.languages[lang]
        if spec.dir is not None:
            return Path(spec.dir)
        task = (spec.task or entry.task).replace("{lang}", lang)
        tok = self.tokenizer  # every entry's shards carry token ids when a tokenizer is given: one set, every mode
        key = _hash([task, sorted(spec.inputs.items()), spec.limit, self.suite.render + entry.render, tok])
        return self.out / "data" / f"{task}-{key}"

    def render_record(self, entry: Entry, lang: str) -> dict:
        """What a render of this language would be made from now: reused shards must have been made from the same
        (``data_dir``'s key holds the settings; this, what can change under the same settings)."""
        spec, files = entry.languages[lang], []
        for split, path in spec.inputs.items():
            p = SLICE.match(path)["path"] if SLICE.match(path) else path
            matched = sorted(glob.glob(p))
            if not matched or not all(os.path.isfile(f) for f in matched):
                raise ConfigError(f"entries {entry.name}: languages.{lang}.inputs.{split} {path} "
                                  f"{'is a directory; give a file' if matched else 'does not exist'}")
            files += [[split, f, st.st_size, st.st_mtime_ns] for f in matched for st in [os.stat(f)]]
        if self._fixed is None:
            self._fixed = {"code": code_fingerprint(),
                           "tokenizer": _file_sha256(self.tokenizer) if self.tokenizer else None}
        return {**self._fixed, "inputs": files}

    def render(self, entry: Entry, lang: str) -> Path:
        d = self.data_dir(entry, lang)
        spec = entry.languages[lang]
        if spec.dir is not None:  # the user's own shards: used as given
            if not (d / "task.json").is_file():
                raise ConfigError(f"entries {entry.name}: languages.{lang}.dir {d} has no task.json (render it "
                                  f"with pixel-render task)")
            return d
        record = self.render_record(entry, lang)
        if (d / "task.json").is_file():
            try:
                recorded = json.loads((d / RENDER_RECORD).read_text())
            except (OSError, ValueError):
                recorded = None  # rendered before the record existed, or damaged: unknown code
            if recorded == record:
                return d
            log.warning("%s (%s): %s were rendered by other pipeline code or from other inputs / tokenizer; "
                        "rendering again", entry.name, lang, d)
        task = (spec.task or entry.task).replace("{lang}", lang)
        tmp = d.with_name(d.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)  # a render killed earlier
        cmd = [sys.executable, "-m", "pixelkit.pipeline.cli", "task", "--task", task, "--output", str(tmp),
               *(f"--input={split}={self._slice(path)}" for split, path in spec.inputs.items()), *self.suite.render,
               *entry.render]
        if spec.limit:
            cmd += ["--limit", str(spec.limit)]
        if self.tokenizer:
            cmd += ["--tokenizer", self.tokenizer]
        log.info("rendering %s (%s): %s", task, lang, " ".join(cmd[3:]))
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise ConfigError(f"pixel-render task for {entry.name}/{lang} failed (exit {p.returncode}): "
                              f"{p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ''}")
        write_atomic(tmp / RENDER_RECORD, (json.dumps(record, indent=1) + "\n").encode())
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(d, ignore_errors=True)  # stale shards: replaced only once the new ones are complete
        os.replace(tmp, d)
        return d

    def prepare(self) -> dict[str, dict[str, Path]]:
        """Check every input file and split named, render every language of every entry, then check each entry's
        splits (each must hold samples) and label sets: all before any training starts."""
        from .finetune import read_split
        for e in self.entries:
            for lang, spec in e.languages.items():
                if spec.inputs:
                    self.render_record(e, lang)
                    needed = {e.eval_split, *(("train",) * (lang in e.train_languages()))}
                    if missing := sorted(needed - set(spec.inputs)):
                        raise ConfigError(f"entries {e.name}: language {lang} has no {missing[0]} input; add "
                                          f"languages.{lang}.inputs.{missing[0]} (or change eval_split / protocol)")
            check_dev(e)  # the runs' dev split (config): none meant no dev evaluation, silently
        dirs = {e.name: {lang: self.render(e, lang) for lang in e.languages} for e in self.entries}
        for e in self.entries:
            specs = {lang: task_spec(e, lang, d) for lang, d in dirs[e.name].items()}
            first = specs[e.train_languages()[0]]
            if e.metric is not None and e.metric not in (keys := METRIC_KEYS[first.metric]):  # else: "—" cells
                raise ConfigError(f"entries {e.name}: metric {e.metric!r} is not a score of {first.name} (it is "
                                  f"scored by {' / '.join(keys)}); pick one of those or leave it out")
            for lang, s in specs.items():
                if (s.family, s.label_names) != (first.family, first.label_names):
                    raise ConfigError(f"entries {e.name}: language {lang} has family {s.family} / labels "
                                      f"{s.label_names}, but {e.train_languages()[0]} has {first.family} / "
                                      f"{first.label_names}: one head cannot serve both (UD and NER take "
                                      f"their labels from each language's train split: give the entry one "
                                      f"vocabulary, render: [--label_names, 'A,B,...'])")
                if not (dirs[e.name][lang] / e.eval_split).is_dir():
                    raise ConfigError(f"entries {e.name}: language {lang} has no {e.eval_split}/ split; add "
                                      f"languages.{lang}.inputs.{e.eval_split} or set eval_split")
            for lang in e.train_languages():
                if not (dirs[e.name][lang] / "train").is_dir():
                    raise ConfigError(f"entries {e.name}: protocol {e.protocol} trains on {lang}, which has no "
                                      f"train/ split (languages.{lang}.inputs.train)")
            for lang, d in dirs[e.name].items():  # rendered, but every record dead-lettered: refused, not trained on
                for split in sorted({"validation", e.eval_split, *(("train",) * (lang in e.train_languages()))}):
                    try:
                        if (d / split).is_dir():
                            read_split(str(d), split)
                    except ConfigError as err:
                        raise ConfigError(f"entries {e.name} ({lang}): {err}") from None
        return dirs

    # -- runs ---------------------------------------------------------------------------------------------
    def run_dir(self, entry: Entry, seed: int) -> Path:
        return self.out / "runs" / entry.name / f"seed-{seed}"

    def config(self, entry: Entry, seed: int, dirs: dict[str, Path]):
        family = task_spec(entry, *next(iter(dirs.items()))).family
        devs = [str(dirs[lang] / "validation") for lang in entry.languages if (dirs[lang] / "validation").is_dir()]
        flags: dict = {"task": {"name": family, "modality": entry.modality},
                       "data": {"train": [str(dirs[lang] / "train") for lang in entry.train_languages()]},
                       "output_dir": str(self.run_dir(entry, seed)), "seed": seed}
        if devs:
            flags["data"]["eval"] = dev_union(devs)
        if self.init:
            flags["init_from"] = self.init
        return load_config(RUN_FILES / f"{family}.yaml", expand(self.suite.defaults), expand(entry.settings), flags)

    def configs(self, dirs) -> list:
        """Every run's settings, validated before the first run starts."""
        return [(e, seed, self.config(e, seed, dirs[e.name])) for e in self.entries for seed in e.seeds]

    def run_record(self, cfg, dirs: dict[str, Path]) -> dict:
        """What one run is made from: its resolved settings, the ``--init`` model's files (sha256; the same path
        may hold a model pretrained again) and each language's task data (its ``task.json`` and split manifests,
        which hold every shard's sha256)."""
        if self._init_files is None:
            files = sorted(Path(self.init).iterdir()) if self.init else []
            self._init_files = {f.name: _file_sha256(f) for f in files if f.is_file()}
        data = {lang: {str(f.relative_to(d)): _file_sha256(f)
                       for f in sorted([d / "task.json", *d.glob("*/manifest.json")])}
                for lang, d in sorted(dirs.items())}
        settings = json.loads(json.dumps(cfg.to_dict(), default=str))
        settings.pop("init_from", None)  # the model's files are compared, not where they are
        return {"settings": settings, "init": self._init_files, "data": data}

    def check_earlier(self, plan: list, dirs) -> None:
        """Refuse, before any run, a run directory left by other settings, another init model or other data: its
        result would be reported (or its checkpoint resumed) as if made by this suite file."""
        stale = []
        for entry, seed, cfg in plan:
            d = self.run_dir(entry, seed)
            try:
                old = json.loads((d / RUN_RECORD).read_text())
            except FileNotFoundError:
                if d.is_dir() and any(d.iterdir()):
                    log.warning("%s: written before runs recorded their settings (%s); not checked", d, RUN_RECORD)
                continue
            except ValueError as err:
                raise ConfigError(f"{d / RUN_RECORD} is damaged ({err}): delete {d} to run it again") from None
            new = self.run_record(cfg, dirs[entry.name])
            what = changed_settings(out_relative(old.get("settings", {})), out_relative(new["settings"]))
            what += [f"the {k} ({'--init model' if k == 'init' else 'task shards'})" for k in ("init", "data")
                     if old.get(k) != new[k]]
            if what:
                stale.append(f"{entry.name} seed {seed} ({d}): {'; '.join(what[:4])}{' ...' if len(what) > 4 else ''}")
        if stale:
            raise ConfigError(f"{len(stale)} run(s) under {self.out / 'runs'} were made from other settings, model or "
                              f"data than this suite would use now; their results would be reported as this "
                              f"suite's. Delete those run directories to run them again, or give another --out:\n  "
                              + "\n  ".join(stale))

    def finished(self, entry: Entry, seed: int) -> dict | None:
        """The run's ``result.json``; None if not written yet, damaged (not JSON, or another run's) or scored on
        another split than the entry's ``eval_split`` now: such a run resumes from its newest checkpoint and is scored
        again, as one killed before writing it."""
        f = self.run_dir(entry, seed) / "result.json"
        if not f.is_file():
            return None
        try:
            r = json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            r = None
        if isinstance(r, dict) and (r.get("entry"), r.get("seed")) == (entry.name, seed) and \
                isinstance(r.get("languages"), dict) and set(r["languages"]) == set(entry.languages) and \
                r.get("eval_split") == entry.eval_split:
            return r
        log.warning("%s is damaged, not this run's or scored on another split than eval_split %s: the run resumes "
                    "from its checkpoint and is scored again", f, entry.eval_split)
        return None

    def check_runs(self, plan: list, done: dict) -> None:
        """Every run still to do gets the engine's own checks (shards, modality, head, tokenizer, positions, init
        model) now: a bad entry must not fail hours into a suite, after the entries before it."""
        from .engine import prepare
        logging.disable(logging.INFO)  # each check would log what its run will log again
        try:
            for entry, seed, cfg in plan:
                if done[entry.name, seed] is None:
                    try:
                        prepare(cfg)
                    except ConfigError as e:
                        raise ConfigError(f"entries {entry.name} (seed {seed}): {e}") from None
        finally:
            logging.disable(logging.NOTSET)

    def run(self) -> list[dict]:
        dirs = self.prepare()
        plan = self.configs(dirs)
        self.check_earlier(plan, dirs)
        done = {(entry.name, seed): self.finished(entry, seed) for entry, seed, _ in plan}
        self.check_runs(plan, done)
        results = []
        for i, (entry, seed, cfg) in enumerate(plan, 1):
            if done[entry.name, seed] is not None:
                log.info("[%d/%d] %s seed %d: done earlier (%s), not rerun", i, len(plan), entry.name, seed,
                         self.run_dir(entry, seed) / "result.json")
                results.append(done[entry.name, seed])
                continue
            log.info("[%d/%d] %s seed %d: %s, %s, train %s", i, len(plan), entry.name, seed, entry.protocol,
                     entry.modality or "default input", "+".join(entry.train_languages()))
            self.run_dir(entry, seed).mkdir(parents=True, exist_ok=True)
            write_atomic(self.run_dir(entry, seed) / RUN_RECORD,
                         (json.dumps(self.run_record(cfg, dirs[entry.name]), indent=1) + "\n").encode())
            results.append(self.run_one(entry, seed, cfg, dirs[entry.name]))
        return results

    def run_one(self, entry: Entry, seed: int, cfg, dirs: dict[str, Path]) -> dict:
        from .engine import train
        start = time.time()
        run = train(cfg)
        out = Path(cfg.output_dir)
        model_dir = out / "best" if (out / "best" / "config.json").is_file() else run.model_dir or out / "model"
        langs = {lang: evaluate_language(model_dir, dirs[lang], entry.eval_split, out / "eval" / lang,
                                         cfg.micro_batch_size) for lang in entry.languages}
        best = json.loads((out / "best" / "metrics.json").read_text()) if (out / "best" / "metrics.json").is_file() else {}
        spec = task_spec(entry, *next(iter(dirs.items())))
        result = {"entry": entry.name, "seed": seed, "protocol": entry.protocol, "modality": entry.modality,
                  "task": entry.task, "main_metric": MAIN_METRIC[spec.metric],
                  "scale": 1 if spec.family in PERCENT_FAMILIES else 100, "train_languages": entry.train_languages(), "eval_split": entry.eval_split,
                  "steps": run.steps, "best_step": best.get("step"), "model": str(model_dir),
                  "seconds": round(time.time() - start, 1), "languages": langs}
        write_atomic(out / "result.json", (json.dumps(result, indent=1) + "\n").encode())
        return result


def dev_union(devs: list[str]) -> str:
    """One shard set spec for several dev splits: the split itself, or a brace list of all their shards."""
    if len(devs) == 1:
        return devs[0]
    from .shardsets import resolve
    urls = [u for d in devs for u in resolve(d).urls]
    if any("," in u or "{" in u for u in urls):
        raise ConfigError(f"dev shard paths with ',' or '{{' cannot be listed together: {urls[:2]}")
    return "{" + ",".join(urls) + "}"


def evaluate_language(model_dir: Path, data: Path, split: str, out: Path, batch_size: int) -> dict:
    """The finetuned model on one language's split: metrics, the majority baseline, predictions written."""
    import torch

    from .finetune import evaluate, read_split
    from .shardsets import resolve
    from .suite_report import majority
    from .taskmodel import TaskModel
    from .tasks import write
    torch.manual_seed(0)
    model = TaskModel.from_pretrained(str(model_dir))
    shards = resolve(read_split(str(data), split))
    metrics, records = evaluate(model, model.config, shards.urls, batch_size, expected=shards.expected())
    out.mkdir(parents=True, exist_ok=True)
    write(model.config.spec, records, out / f"predictions-{split}")
    return {"metrics": metrics, "majority": majority(model.config.spec, records), "data": str(data)}
