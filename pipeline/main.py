"""Build and run the pipeline: read corpora -> chunk -> render -> shards + manifest + card + dead letters.

    pixel-render run --input enwiki=dumps/*.xml.bz2 --output out/enwiki --workers 2
    pixel-render run --input c4=gs://bucket/c4/*.jsonl.zst --output gs://bucket/shards --runner DataflowRunner ...
    pixel-render run --input ... --output ... --runner dask --dask_client_address tcp://HOST:8786
"""

from __future__ import annotations

import logging
import re

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pvalue import AsDict, AsList

from pixelkit.schemas import ShardManifest
from pixelkit.schemas.cards import one_line

from .documents import DeadLetter, Document, Outcome
from .options import RUNNER_NAMES, RenderOptions, use_workers, with_runner
from .localrunner import LiveFnApiRunner
from .localrunner import is_local as is_local_runner
from .outdir import prepare_output, read_manifest, write_outputs
from .progress import watch
from .quiet import worker_log_flags
from .report import chunk_skips, outcome_counts, render_warnings, stats_rows
from .runconfig import RunConfig
from .samples import Filters
from .sink import WriteWebDataset
from .sources import ReadCorpus
from .transforms import Render
from .validate import SettingsError, check_run_options, unknown_flags, unparsable_flags

log = logging.getLogger(__name__)
DASK_RUNNER = RUNNER_NAMES["dask"]
_HEADING = re.compile(r"^\s*=+ .* =+\s*$")


class FilterFn(beam.DoFn):
    """Optional title and heading filters; a filtered document is an outcome, not a silent drop."""

    def __init__(self, drop_title: str, drop_headings: bool):
        self._title, self._headings = drop_title, drop_headings

    def setup(self):
        self._re = re.compile(self._title) if self._title else None

    def process(self, doc: Document):
        if self._re is not None and self._re.search(doc.title):
            yield beam.pvalue.TaggedOutput("outcome", "skipped_title_filtered")
            return
        if self._headings:
            doc = Document(doc.source, doc.doc_id, "\n".join(
                line for line in doc.text.splitlines() if not _HEADING.match(line)), doc.title)
        yield doc


def _read(_) -> str:
    return "records_read"


def _count_name(rec: Outcome) -> str:
    return rec.count_name


def _dead_json(d: DeadLetter) -> str:
    return d.to_json()


def finalize(_, run: RunConfig, infos: list, counts: dict, dead: list[str], task: dict | None = None) -> dict:
    """Write manifest.json/.parquet, README.md and dead_letters.jsonl; check that every record is accounted for."""
    counts = {k: int(v) for k, v in counts.items()}
    read = counts.get("records_read", 0)
    outcome = {k: v for k, v in counts.items() if k != "records_read"}
    counts["documents_written"] = outcome.get("written", 0)
    counts.pop("written", None)
    accounted = sum(v for k, v in counts.items() if k.startswith(("skipped_", "dead_"))) + counts["documents_written"]
    if accounted != read:
        raise RuntimeError(f"accounting does not add up: read {read}, written+skipped+dead = {accounted}: {counts}")
    m = ShardManifest(split=run.split, encoding=run.encoding, render_config=run.render.to_dict(),
                      tokenizer=run.tokenizer, shards=sorted(infos, key=lambda s: s.name),
                      counts=dict(sorted(counts.items())), sources=list(run.sources), task=task)
    write_outputs(run.output, m, dead, list(run.source_rows))  # a local directory or s3:// / gs:// (storage.py)
    return m.to_dict()


def build_pipeline(p: beam.Pipeline, run: RunConfig) -> None:
    if not run.input or not run.output:
        raise ValueError("--input and --output are required")
    docs, dead, skipped = [], [], []
    by_source: dict[str, list[str]] = {}  # one read per source: its dead letters tell same-named files apart
    for source, pattern in run.inputs():
        by_source.setdefault(source, []).append(pattern)
    for i, (source, patterns) in enumerate(by_source.items()):
        read = p | f"Read{i}_{source}" >> ReadCorpus(patterns, run.format, source, run.text_field, run.id_field,
                                                     run.max_doc_chars)
        docs.append(read.docs)
        dead.append(read.dead)
        skipped.append(read.skipped)
    docs = docs | "AllDocs" >> beam.Flatten()
    dead = dead | "AllDead" >> beam.Flatten()
    skipped = skipped | "AllSkipped" >> beam.Flatten()
    filtered = docs | "Filter" >> beam.ParDo(FilterFn(run.drop_title, run.drop_headings)).with_outputs(
        "outcome", main="docs")
    filters = Filters(run.min_patches, run.max_unknown_ratio)
    samples, doc_outcomes, stats = filtered.docs | "Render" >> Render(run.render, run.encoding, filters,
                                                                       run.tokenizer_path, run.dedup, stats=True)
    infos = samples | "Write" >> WriteWebDataset(run.output, run.split, run.samples_per_shard, run.resume)

    labels = (
        (docs | "ReadDocs" >> beam.Map(_read)),
        (dead | "ReadDead" >> beam.Map(_read)),
        (skipped | "ReadSkipped" >> beam.Map(_read)),
        doc_outcomes,
        filtered.outcome,
        (dead | "DeadReason" >> beam.Map(_count_name)),
        (skipped | "SkipReason" >> beam.Map(_count_name)),
    ) | "AllLabels" >> beam.Flatten()
    counts = ((labels | "Count" >> beam.combiners.Count.PerElement(), stats)  # stats: f"{stat}:{source}" sums
              | "CountsAndStats" >> beam.Flatten())
    dead_lines = dead | "DeadJson" >> beam.Map(_dead_json)
    (p | "Once" >> beam.Create([None])
       | "Finalize" >> beam.Map(finalize, run, infos=AsList(infos), counts=AsDict(counts), dead=AsList(dead_lines)))


def parse_options(argv: list[str]) -> RenderOptions:
    """Beam's parse of ``argv`` with every pixelkit setting checked; SettingsError (one line per problem) if any
    is wrong, before anything is read or written."""
    argv = with_runner(argv)
    on_dask = DASK_RUNNER in argv or f"--runner={DASK_RUNNER}" in argv
    if on_dask:
        try:
            from . import dask_runner  # noqa: F401  (registers Beam's --dask_* flags)
        except ImportError as e:
            raise SettingsError([f"--runner dask: {e}; install it with pip install 'pixelkit[dask]'"]) from e
    if bad := unparsable_flags(argv):  # before Beam's parse, which prints its usage block and exits
        raise SettingsError(bad)
    opts = PipelineOptions(argv).view_as(RenderOptions)
    FileSystems.set_options(opts)  # Beam's --s3_* / GCS flags for the checks below and the launcher's own reads
    problems = unknown_flags(argv) + check_run_options(opts.get_all_options(), opts.render_config)
    if on_dask:
        from .dask_checks import dask_problems

        problems += dask_problems(opts.get_all_options())
    if problems:
        raise SettingsError(problems)
    return opts


def run(argv: list[str], *, test_pipeline=None, progress: str = "") -> ShardManifest:
    """Run the job; ``progress``: show a live display labelled so (empty: none) while it runs."""
    argv = [*argv, *worker_log_flags(argv)]
    opts = parse_options(argv)
    o = opts.get_all_options()
    use_workers(opts, o["workers"])
    config = RunConfig.from_options(o)
    prepare_output(config.output, config.fingerprint(), config.resume, config.overwrite)
    p = test_pipeline or beam.Pipeline(runner=LiveFnApiRunner(opts) if is_local_runner(opts) else None, options=opts)
    build_pipeline(p, config)
    result = p.run()
    if progress:
        watch(result, progress)
    else:
        result.wait_until_finish()
    m = read_manifest(o["output"])
    log.info("wrote %d samples in %d shards to %s", m.num_samples, len(m.shards), o["output"])
    for line in render_warnings(m.counts):
        log.warning(line)
    if not m.num_samples:
        lost = sorted(((v, k) for k, v in outcome_counts(m.counts).items() if k.startswith(("dead_", "skipped_"))),
                      reverse=True)
        log.warning("no sample was written: %s (dead_letters.jsonl says where; for dead_missing_text check "
                    "--text_field)", ", ".join(f"{k} {v:,}" for v, k in lost[:3]) or "no document was read")
    return m


def summary_table(m: ShardManifest) -> str:
    rows = [f"  {k:<40} {v:>10,}" for k, v in outcome_counts(m.counts).items()]
    rows += [f"  {k + ' (chunks)':<40} {v:>10,}" for k, v in chunk_skips(m.counts).items()]
    per_source = [f"  {'source':<22} {'chars rendered':>14} {'tofu':>8} {'tofu %':>8} {'replaced':>9}"]
    # a source name (--input NAME=pattern) can hold a newline or an escape sequence: shown escaped, one row per source
    per_source += [f"  {one_line(s):<22} {c:>14,} {t:>8,} {r:>8} {x:>9,}" for s, c, t, r, x in stats_rows(m.counts)]
    return "\n".join([f"  {'samples written':<40} {m.num_samples:>10,}", f"  {'shards':<40} {len(m.shards):>10,}",
                      f"  {'bytes':<40} {m.num_bytes:>10,}", *rows, *(per_source if len(per_source) > 1 else [])])
