"""Quiet logs: Beam's own INFO chatter hidden unless ``-v``, in this process and in the SDK worker processes.

Hidden by default (all of it comes back with ``pixel-render -v``):

* ``apache_beam`` INFO in this process: one "Converting string literal type hint to Any" per string annotation
  of every DoFn (modules using ``from __future__ import annotations``), gRPC channel set-up, runner choice.
* the SDK workers' own INFO (``--default_sdk_harness_log_level=WARNING``), and two warnings every worker gives
  for a healthy run (``--sdk_harness_log_level_overrides``): "Discarding unparseable args" (the workers do not
  know pixelkit's flags; they need none of them) and "No semi_persistent_directory found" (the local runner
  has none).
* "apitools not found" (a root-logger warning Beam gives on import when the optional GCP client is absent; the
  GCP IOs it concerns are not used by a local run).
"""

from __future__ import annotations

import json
import logging

WORKER_LEVEL = "WARNING"
WORKER_OVERRIDES = {"apache_beam.options.pipeline_options": "ERROR", "__main__": "ERROR",
                    "apache_beam.runners.worker.sdk_worker_main": "ERROR"}
_NOISE = ("apitools not found",)


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "root" and record.getMessage().startswith(_NOISE))


def configure(verbose: int = 0) -> None:
    """Root logging for the command-line tools: INFO with time and logger name; Beam's INFO only with -v."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    beam_level = logging.INFO if verbose else logging.WARNING
    logging.getLogger("apache_beam").setLevel(beam_level)
    if not verbose:
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, _DropNoise) for f in handler.filters):
                handler.addFilter(_DropNoise())


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
