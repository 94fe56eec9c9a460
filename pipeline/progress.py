"""A live progress display of a running Beam job, read from its ``PipelineResult``'s metrics.

Works for any runner whose result answers ``metrics()`` while the job runs (the local ``LiveFnApiRunner``,
Dataflow, Dask ...): documents read, chunks rendered, samples written, skips and dead letters by reason, and
the rate. On a terminal one line redrawn in place (tqdm); in a log, one plain line every ``log_every`` seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from typing import TextIO

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.runner import PipelineState

log = logging.getLogger("pixel-render")
NAMESPACES = ("pipeline.sources", "pipeline.transforms", "pipeline.sink", "pipeline.tasks")


def counters(result) -> Counter:
    """The job's pixelkit counters so far (attempted values: committed ones only exist at the end on some
    runners), summed over steps; empty when the runner reports nothing yet."""
    out: Counter = Counter()
    try:
        found = result.metrics().query(MetricsFilter())["counters"]
    except (NotImplementedError, KeyError, AttributeError):
        return out
    for r in found:
        if r.key.metric.namespace in NAMESPACES:
            out[r.key.metric.name] += int(r.attempted or 0)
    return out


def reports_metrics(result) -> bool:
    """Whether the runner has live metrics at all (Beam's DaskRunnerResult.metrics raises NotImplementedError)."""
    try:
        result.metrics()
    except NotImplementedError:
        return False
    return True


def describe(c: Counter, seconds: float) -> str:
    """``read 10 docs | 812 chunks | 105 samples written (52/s) | skipped: redirect 7 | dead: -``."""
    def by_reason(prefix: str) -> str:
        items = sorted((k[len(prefix):], v) for k, v in c.items() if k.startswith(prefix) and v)
        return ", ".join(f"{k} {v:,}" for k, v in items) or "-"

    written = c["samples_written"]
    rate = written / seconds if seconds > 0 else 0.0
    return (f"read {c['documents_read']:,} docs | {c['chunks']:,} chunks | {written:,} samples written "
            f"({rate:,.1f}/s) | skipped: {by_reason('skipped_')} | dead: {by_reason('dead_')}")


def watch(result, label: str = "", *, poll: float = 0.5, log_every: float = 15.0,
          stream: TextIO | None = None) -> Counter:
    """Show progress until the job ends; returns the final counters. A failed job raises (wait_until_finish)."""
    stream = stream or sys.stderr
    if not reports_metrics(result):  # no counts to show ("read 0 docs" would be wrong): the elapsed time only
        return _wait_without_metrics(result, label, poll=poll, log_every=log_every)
    tty = stream.isatty()
    t0 = last_log = time.monotonic()
    bar = None
    if tty:
        from tqdm import tqdm

        bar = tqdm(total=None, desc=label or "render", bar_format="{desc}: {elapsed} {postfix}", file=stream,
                   dynamic_ncols=True)
    try:
        while result.state in (PipelineState.RUNNING, PipelineState.STARTING, PipelineState.PENDING,
                               PipelineState.UNKNOWN):
            result.wait_until_finish(duration=int(poll * 1000))
            now = time.monotonic()
            if bar is not None:
                bar.set_postfix_str(describe(counters(result), now - t0))
            elif now - last_log >= log_every:
                log.info("%s%s", f"{label}: " if label else "", describe(counters(result), now - t0))
                last_log = now
        result.wait_until_finish()
        final = counters(result)
        if bar is not None:
            bar.set_postfix_str(describe(final, time.monotonic() - t0))
    finally:
        if bar is not None:
            bar.close()
    if bar is None:
        log.info("%s%s", f"{label}: " if label else "", describe(final, time.monotonic() - t0))
    log.debug("%scounters: %s", f"{label}: " if label else "", dict(sorted(final.items())))
    return final


def _wait_without_metrics(result, label: str, *, poll: float, log_every: float) -> Counter:
    """A runner without live metrics (Beam's own DaskRunner): one log line every ``log_every`` seconds that it still runs; the
    accounting comes from the manifest when it ends. Returns no counters."""
    t0 = last_log = time.monotonic()
    while result.state in (PipelineState.RUNNING, PipelineState.STARTING, PipelineState.PENDING,
                           PipelineState.UNKNOWN):
        result.wait_until_finish(duration=int(poll * 1000))
        if time.monotonic() - last_log >= log_every:
            log.info("%srunning for %.0f s (this runner reports no live counts; the accounting follows at the end)",
                     f"{label}: " if label else "", time.monotonic() - t0)
            last_log = time.monotonic()
    result.wait_until_finish()
    return Counter()
