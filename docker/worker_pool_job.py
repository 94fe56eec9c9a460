"""``pixel-render run`` with every DoFn executed by a Beam worker pool elsewhere (docker/smoke.sh: the worker image).

    python docker/worker_pool_job.py HOST:PORT [pixel-render run flags...]

The portable runners (Flink, Spark) hand bundles to SDK workers in the worker image through Beam's worker pool
(``python -m apache_beam.runners.worker.worker_pool_main``, the image's ``boot --worker_pool``). No Flink job server
runs here, so this drives the same Fn API from Beam's FnApiRunner with an EXTERNAL environment: the job's
transforms are pickled here and run in the pool's SDK processes, which read the inputs and write the shards.
"""

from __future__ import annotations

import logging
import sys

import apache_beam as beam
from apache_beam.transforms.environments import ExternalEnvironment

from pixelkit.pipeline.localrunner import LiveFnApiRunner
from pixelkit.pipeline.main import parse_options, run


class WorkerPoolRunner(LiveFnApiRunner):
    """The local runner with its workers started by a worker pool at ``address`` instead of as subprocesses."""

    def __init__(self, options, address: str):
        self._external = ExternalEnvironment(address)
        super().__init__(options)

    @property
    def _default_environment(self):
        return self._external

    @_default_environment.setter
    def _default_environment(self, env):
        pass  # FnApiRunner.run_pipeline would set a subprocess environment for --direct_running_mode


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    address, flags = argv[0], argv[1:]
    opts = parse_options(flags)
    manifest = run(flags, test_pipeline=beam.Pipeline(runner=WorkerPoolRunner(opts, address), options=opts))
    print(f"worker pool {address}: {manifest.num_samples} samples in {len(manifest.shards)} shards")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
