"""The task path of the pipeline: labelled files -> task shards, one shard set per split, in one Beam job.

    pixel-render task --task glue-mrpc --input train=glue/MRPC/train.tsv --input validation=glue/MRPC/dev.tsv \
        --output out/mrpc --tokenizer tok.json --max_patches 196

A labelled record is one sample (a QA question: one per window), so this path skips chunking: read (the task's
reader) -> Reshuffle -> batches of up to 64 records (their new words shaped in one go) -> RenderTask
(render_record + encode + token ids) -> WriteWebDataset -> finalize, the same
sink, manifest, card, dead letters and accounting check (records read = written + skipped + dead-lettered) as
pretraining shards. The label vocabulary comes from the ``--vocab_split`` split's records (or the task's
documented classes) as a side input, so every split renders with the same ids. Settings are checked and the
output directory guarded (``--resume`` / ``--overwrite``) before any work, in ``settings.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pvalue import AsDict, AsList, AsSingleton, TaggedOutput

from pixelkit.schemas import ShardManifest, TaskSpec

from ..documents import DeadLetter, Skipped
from ..main import _count_name, _dead_json, _read, finalize
from ..localrunner import LiveFnApiRunner
from ..localrunner import is_local as is_local_runner
from ..options import RenderOptions, use_workers, with_runner
from ..quiet import worker_log_flags
from ..readers.streams import special_file
from ..report import render_warnings, result_stats
from ..runconfig import TaskRunConfig
from ..sink import WriteWebDataset
from ..validate import SettingsError, unknown_flags, unparsable_flags
from ..sources import file_records, match_files, open_beam, shown_names, unlisted_matches
from ..tokenizer import load as load_tokenizer
from ..renderers import shared_renderer
from . import read_records
from .records import LabelledRecord, TaskDef
from .render import pair_encoder, prefetch_texts, render_record
from .settings import TaskOptions, check_options, prepare_task_output

log = logging.getLogger(__name__)
NS = "pipeline.tasks"


class ReadTaskFn(beam.DoFn):
    """path -> LabelledRecords (main), DeadLetters ("dead"), Skipped ("skipped")."""

    def __init__(self, task: TaskDef, limit: int, names: dict | None = None):
        self._task, self._limit = task, limit
        self._names = names or {}  # path -> the name its records and dead letters give (shown_names)

    def process(self, path: str):
        if special_file(path) or os.path.isdir(path):  # a FIFO a glob matched: opening it would wait for a writer (a
            # named one is refused); a directory only a glob turns up (a named one is refused too)
            yield TaggedOutput("skipped", Skipped(self._task.name, path, "not_a_regular_file"))
            return
        for rec in file_records(path, self._task.name, read_records(path, self._task, open_beam, self._limit)):
            if isinstance(rec, (LabelledRecord, DeadLetter)):  # a dead letter the renderer makes names rec.file
                rec = dataclasses.replace(rec, file=self._names.get(rec.file, rec.file))
            if isinstance(rec, LabelledRecord):
                yield rec
            elif isinstance(rec, DeadLetter):
                Metrics.counter(NS, f"dead_{rec.reason}").inc()
                yield TaggedOutput("dead", rec)
            else:
                yield TaggedOutput("skipped", rec)


class RenderTaskFn(beam.DoFn):
    """Batches of LabelledRecords -> samples (main), one outcome label per record ("outcome"), dead letters ("dead"),
    per-source render stats of each record ("stats": ``(f"{stat}:{source}", n)``, summed per split as ``run``'s)."""

    def __init__(self, cfg, encoding: str, task: TaskDef, tokenizer_path: str | None, stride: int,
                 max_tokens: int = 0):
        self._cfg, self._encoding, self._task = cfg, encoding, task
        self._tokenizer_path, self._stride, self._max_tokens = tokenizer_path, stride, max_tokens

    def setup(self):
        self._tok = None
        if self._tokenizer_path:
            self._tok = load_tokenizer(self._tokenizer_path)

    def process(self, batch: list[LabelledRecord], vocab: list[str]):
        ids = {name: i for i, name in enumerate(vocab)}
        r = shared_renderer(self._cfg)
        r.prefetch(prefetch_texts(batch))  # the batch's new words shaped in one go (never changes a render)
        for rec in batch:
            yield from self._one(rec, r, ids)

    def _one(self, rec: LabelledRecord, r, ids: dict[str, int]):
        drawn = []
        out = render_record(rec, r, self._cfg, self._encoding, self._task, ids, self._tok, self._stride,
                            self._max_tokens, drawn)
        if drawn:
            for kv in result_stats(rec.source, drawn):
                yield TaggedOutput("stats", kv)
        if isinstance(out, DeadLetter):
            Metrics.counter(NS, f"dead_{out.reason}").inc()
            yield TaggedOutput("dead", out)
            yield TaggedOutput("outcome", f"dead_{out.reason}")
            return
        if isinstance(out, Skipped):
            Metrics.counter(NS, out.count_name).inc()
            yield TaggedOutput("outcome", out.count_name)
            return
        yield TaggedOutput("outcome", "written")
        unlabelled = rec.label is None if self._task.family in ("classification", "regression") else (
            self._task.family == "qa" and not rec.answers)  # a test file's rows: finetuning refuses a split of these
        for s in out:
            if unlabelled:
                yield TaggedOutput("outcome", "samples_unlabelled")
            if s.truncated:
                yield TaggedOutput("outcome", "samples_truncated")
            if s.tokens_truncated:
                yield TaggedOutput("outcome", "samples_tokens_truncated")
            if self._task.family == "qa" and s.labels == [-1, -1]:
                yield TaggedOutput("outcome", "windows_without_answer")
            elif self._task.family == "qa" and s.token_answer == [-1, -1]:  # in the patches, not in the tokens
                yield TaggedOutput("outcome", "windows_without_token_answer")
            yield s


def record_labels(rec: LabelledRecord) -> list[str]:
    """The label names a record uses (tags / deprels, or its class name)."""
    return list(rec.tags) if rec.tags else ([rec.label] if isinstance(rec.label, str) else [])


def _sorted_names(names: list[str]) -> list[str]:
    return sorted(set(names))


def _spec_dict(vocab: list[str], task: TaskDef) -> dict:
    return task.spec(vocab).to_dict()


class ReadSplit(beam.PTransform):
    def __init__(self, patterns: list[str], task: TaskDef, limit: int):
        self._patterns, self._task, self._limit = patterns, task, limit

    def expand(self, pbegin):
        files = match_files(self._patterns)  # + what Beam's match drops silently (directories, dangling symlinks)
        files = sorted({*files, *(p for pattern in self._patterns for p in unlisted_matches(pattern, files))})
        read = ReadTaskFn(self._task, self._limit, shown_names(self._patterns, files))
        return (pbegin | "Files" >> beam.Create(files) | "Reshuffle" >> beam.Reshuffle()
                | "ReadFiles" >> beam.ParDo(read).with_outputs("dead", "skipped", main="records"))


def build_task_pipeline(p: beam.Pipeline, run: TaskRunConfig) -> dict[str, str]:
    """Add one read -> render -> write -> finalize branch per split; returns {split: output directory}."""
    task, cfg = run.task, run.render
    if run.tokenizer_path and task.input in ("pair", "qa"):
        pair_encoder(load_tokenizer(run.tokenizer_path))  # no way to encode pairs: fail before work starts
    reads = {split: p | f"Read_{split}" >> ReadSplit(list(patterns), task, run.limit) for split, patterns in run.splits}
    if task.label_names is not None or task.family in ("regression", "qa"):
        vocab = p | "Vocab" >> beam.Create([list(task.label_names or ())])
    else:
        vocab = (reads[run.vocab_split].records | "VocabNames" >> beam.FlatMap(record_labels)
                 | "VocabAll" >> beam.combiners.ToList() | "Vocab" >> beam.Map(_sorted_names))
    spec = vocab | "Spec" >> beam.Map(_spec_dict, task)
    outputs = {}
    for split, read in reads.items():
        out = FileSystems.join(run.output, split)
        outputs[split] = out
        rendered = (read.records | f"Spread_{split}" >> beam.Reshuffle()
                    | f"Batch_{split}" >> beam.BatchElements(min_batch_size=16, max_batch_size=64)
                    | f"Render_{split}" >> beam.ParDo(RenderTaskFn(cfg, run.encoding, task, run.tokenizer_path,
                                                                   run.stride, run.max_tokens),
                                                      vocab=AsSingleton(vocab)).with_outputs("outcome", "dead", "stats",
                                                                                             main="samples"))
        infos = rendered.samples | f"Write_{split}" >> WriteWebDataset(out, split, run.samples_per_shard, run.resume)
        dead = (read.dead, rendered.dead) | f"AllDead_{split}" >> beam.Flatten()
        labels = (
            (read.records | f"ReadRecords_{split}" >> beam.Map(_read)),
            (read.dead | f"ReadDead_{split}" >> beam.Map(_read)),
            (read.skipped | f"ReadSkipped_{split}" >> beam.Map(_read)),
            (read.dead | f"DeadReason_{split}" >> beam.Map(_count_name)),
            (read.skipped | f"SkipReason_{split}" >> beam.Map(_count_name)),
            rendered.outcome,
        ) | f"AllLabels_{split}" >> beam.Flatten()
        counts = ((labels | f"Count_{split}" >> beam.combiners.Count.PerElement(),
                   rendered.stats | f"SumStats_{split}" >> beam.CombinePerKey(sum))  # f"{stat}:{source}" as run's
                  | f"CountsAndStats_{split}" >> beam.Flatten())
        dead_lines = dead | f"DeadJson_{split}" >> beam.Map(_dead_json)
        (p | f"Once_{split}" >> beam.Create([None])
           | f"Finalize_{split}" >> beam.Map(finalize, run.split_run(split, out),
                                             infos=AsList(infos), counts=AsDict(counts), dead=AsList(dead_lines),
                                             task=AsSingleton(spec)))
    return outputs


def run_task(argv: list[str], *, test_pipeline=None) -> dict[str, ShardManifest]:
    """Run the task job; writes OUT/<split>/ shard sets and OUT/task.json; returns {split: manifest}. Every setting
    is checked first (SettingsError, one line per problem) and the output directory guarded (``settings``)."""
    argv = with_runner([*argv, *worker_log_flags(argv)])  # SDK workers as quiet as `pixel-render run`'s
    if bad := unparsable_flags(argv):  # --encoding nope: one line, not Beam's usage block
        raise SettingsError(bad)
    opts = PipelineOptions(argv).view_as(TaskOptions)
    o = opts.get_all_options()
    render = opts.view_as(RenderOptions)
    unknown = unknown_flags(argv)
    try:
        task, splits = check_options(o, render.render_config)
    except SettingsError as e:
        raise SettingsError(unknown + e.problems) from None
    if unknown:
        raise SettingsError(unknown)
    use_workers(opts, o["workers"])
    run = TaskRunConfig.from_options(o, task, splits)
    prepare_task_output(run.output, [split for split, _ in run.splits], run.fingerprint(), run.resume, run.overwrite)
    p = test_pipeline or beam.Pipeline(runner=LiveFnApiRunner(opts) if is_local_runner(opts) else None, options=opts)
    outputs = build_task_pipeline(p, run)
    p.run().wait_until_finish()
    manifests = {split: ShardManifest.read(out) for split, out in outputs.items()}
    spec = next(iter(manifests.values())).task_spec
    spec.write(o["output"])
    for split, m in manifests.items():
        log.info("%s: %d samples in %d shards", split, m.num_samples, len(m.shards))
        for line in render_warnings(m.counts, task=True):
            log.warning("%s: %s", split, line)
        if not m.num_samples:
            lost = sorted(((v, k) for k, v in m.counts.items() if k.startswith(("dead_", "skipped_"))), reverse=True)
            log.warning("%s: no sample was written: %s (dead letters, with file and line: %s/dead_letters.jsonl)", split,
                        ", ".join(f"{k} {v:,}" for v, k in lost[:3]) or "no record was read", outputs[split])
    return manifests


__all__ = ["TaskOptions", "TaskSpec", "build_task_pipeline", "check_options", "run_task"]
