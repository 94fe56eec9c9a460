"""The SDK worker process the local runner starts (``python -m pixelkit.pipeline.beam_worker``): Beam's own
``sdk_worker_main`` with this process's stderr limited to warnings and Beam's import-time "apitools not found"
dropped. The worker's log records still reach the runner through the Fn API logging channel, which
``pixel-render`` shows at its own level (``-v``: everything), so nothing is printed twice."""

from __future__ import annotations

import logging
import sys

from .quiet import drop_beam_import_warning


def main() -> None:
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s (worker): %(message)s"))
    logging.getLogger().addHandler(stderr)  # before Beam's import: its logging.warning finds a handler
    drop_beam_import_warning()  # Beam's "apitools not found" (pipeline/quiet.py)
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
