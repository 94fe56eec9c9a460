"""Quiet logs: Beam's own INFO chatter hidden unless ``-v``, in this process and in the SDK worker processes.

Hidden by default (all of it comes back with ``pixel-render -v``):

* ``apache_beam`` INFO in this process: one "Converting string literal type hint to Any" per string annotation
  of every DoFn (modules using ``from __future__ import annotations``), gRPC channel set-up, runner choice.
* the SDK workers' own INFO (``--default_sdk_harness_log_level=WARNING``), and two warnings every worker gives
  for a healthy run (``--sdk_harness_log_level_overrides``): "Discarding unparseable args" (the workers do not
  know pixelkit's flags; they need none of them) and "No semi_persistent_directory found" (the local runner
  has none).
* "apitools not found, and bigquery client libraries are not available": ``import apache_beam`` gives it when the
  optional GCP client (``apache-beam[gcp]``) is absent, which is pixelkit's install; no GCP IO is used by a run
  that gives it. Beam logs it with ``logging.warning`` from ``apache_beam/io/gcp/internal/clients/bigquery``, i.e.
  on the *root* logger, so no ``apache_beam`` logger level can hide it: ``DropBeamImportWarning`` is a filter on
  the root logger (which sees only records logged on the root logger itself, not those propagated from named
  loggers) that drops a record only when it comes from that Beam file and says that sentence. It must be in place
  before Beam is imported: ``configure`` and ``beam_worker`` add it first thing.
"""

from __future__ import annotations

import json
import logging

from pixelkit.schemas.files import printable_stdout

WORKER_LEVEL = "WARNING"
WORKER_OVERRIDES = {"apache_beam.options.pipeline_options": "ERROR", "__main__": "ERROR",
                    "apache_beam.runners.worker.sdk_worker_main": "ERROR"}
BEAM_IMPORT_WARNING = ("apache_beam/io/gcp/internal/clients/bigquery/", "apitools not found")


class DropBeamImportWarning(logging.Filter):
    """Drops Beam's import-time "apitools not found" (see the module docstring) and nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        where, says = BEAM_IMPORT_WARNING
        return not (where in record.pathname.replace("\\", "/") and record.getMessage().startswith(says))


def drop_beam_import_warning() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, DropBeamImportWarning) for f in root.filters):
        root.addFilter(DropBeamImportWarning())


def configure(verbose: int = 0) -> None:
    """Root logging for the command-line tools: INFO with time and logger name; Beam's INFO only with -v."""
    printable_stdout()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    beam_level = logging.INFO if verbose else logging.WARNING
    logging.getLogger("apache_beam").setLevel(beam_level)
    if not verbose:
        drop_beam_import_warning()


def beam_is_quiet() -> bool:
    return not logging.getLogger("apache_beam").isEnabledFor(logging.INFO)


def worker_log_flags(argv: list[str]) -> list[str]:
    """Beam flags that make the SDK workers as quiet as this process (none when Beam's INFO is shown here, or
    when the caller set them)."""
    if not beam_is_quiet():
        return []
    out = []
    if not any(a.startswith("--default_sdk_harness_log_level") for a in argv):
        out.append(f"--default_sdk_harness_log_level={WORKER_LEVEL}")
    if not any(a.startswith("--sdk_harness_log_level_overrides") for a in argv):
        out.append(f"--sdk_harness_log_level_overrides={json.dumps(WORKER_OVERRIDES)}")
    return out
