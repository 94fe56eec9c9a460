"""A plain ``pixel-render run`` prints pixelkit's lines only (Beam's chatter needs -v), shows progress read from
the PipelineResult's metrics while the job runs, and the local runner's metrics are live."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from pixelkit.pipeline.localrunner import LiveFnApiRunner
from pixelkit.pipeline.progress import counters, describe

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "pipeline" / "sample_data" / "pride-and-prejudice-excerpt.txt"
BEAM_NOISE = ("Converting string literal", "apitools", "Discarding unparseable", "prism", "semi_persistent",
              "sdk harness", "Logging handler", "Worker: severity")


def _render(tmp_path: Path, *extra: str, workers: int = 2) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", *extra, "run", f"--input=gutenberg={BOOK}",
                           f"--output={tmp_path / 'out'}", f"--workers={workers}", "--samples_per_shard=16"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


def test_plain_run_is_quiet_and_shows_progress(tmp_path):
    r = _render(tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    noise = [line for line in r.stderr.splitlines() if any(n.lower() in line.lower() for n in BEAM_NOISE)]
    assert not noise, noise
    assert not [line for line in r.stderr.splitlines() if "WARNING" in line], r.stderr
    progress = [line for line in r.stderr.splitlines() if "render: read 1 docs" in line]
    assert progress and "samples written" in progress[-1], r.stderr
    samples = int(progress[-1].split("| ")[2].split()[0].replace(",", ""))
    assert f"samples written {samples:>10,}"[-10:] in r.stdout and samples > 0  # the display's last word = the table
    assert len(r.stderr.splitlines()) < 12, r.stderr


def test_verbose_brings_beam_logs_back(tmp_path):
    r = _render(tmp_path, "-v", workers=1)  # the type-hint lines come from this process, at construction
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Converting string literal" in r.stderr and "apache_beam" in r.stderr
    if importlib.util.find_spec("apitools") is None:  # Beam warns on import without apache-beam[gcp]
        assert "apitools not found" in r.stderr, r.stderr


def test_importing_beam_through_the_cli_prints_no_warning_of_beams():
    """``pixel-render run --help`` imports Beam (pipeline.main) and prints nothing on stderr: Beam's import-time
    "apitools not found" (a root-logger warning when apache-beam[gcp] is absent, as in pixelkit's install) is dropped
    by pipeline/quiet.py's filter; test_verbose_brings_beam_logs_back sees it come back with -v."""
    r = subprocess.run([sys.executable, "-m", "pixelkit.pipeline.cli", "run", "--help"], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, timeout=300)
    assert r.returncode == 0 and "--samples_per_shard" in r.stdout, r.stderr
    assert r.stderr == "", r.stderr


def test_the_filter_drops_beams_warning_and_nothing_else():
    code = ("import logging; from pixelkit.pipeline.quiet import configure; configure(0); import apache_beam; "
            "logging.warning('apitools not found, but this line is not Beam\\'s'); "
            "logging.getLogger('apache_beam').warning('a warning of Beam\\'s own logger')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and "not Beam's" in lines[0] and "Beam's own logger" in lines[1], r.stderr


class _CountThenWait(beam.DoFn):
    """Stage 2 waits for a file the test writes once it has seen stage 1's counter through the live result."""

    def __init__(self, gate: str):
        self._gate = gate

    def process(self, x):
        deadline = time.monotonic() + 60
        while not os.path.exists(self._gate) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield x


def _count(x):
    Metrics.counter("pipeline.sources", "documents_read").inc()
    return x


def test_local_runner_reports_metrics_while_running(tmp_path):
    gate = tmp_path / "gate"
    opts = PipelineOptions([])
    p = beam.Pipeline(runner=LiveFnApiRunner(opts), options=opts)
    _ = (p | beam.Create(range(5)) | beam.Map(_count) | beam.Reshuffle() | beam.ParDo(_CountThenWait(str(gate))))
    result = p.run()
    seen, deadline = 0, time.monotonic() + 60
    while not seen and time.monotonic() < deadline:
        seen = counters(result)["documents_read"]
        time.sleep(0.05)
    assert result.state == "RUNNING" and seen == 5  # read during the run, not after it
    gate.write_text("go")
    assert result.wait_until_finish() == "DONE"
    assert counters(result)["documents_read"] == 5


def test_describe_lists_reasons():
    line = describe({"documents_read": 4, "chunks": 9, "samples_written": 6, "skipped_redirect": 2,
                     "dead_bad_json": 1, "skipped_too_short": 0}, 2.0)
    assert line == "read 4 docs | 9 chunks | 6 samples written (3.0/s) | skipped: redirect 2 | dead: bad_json 1"
