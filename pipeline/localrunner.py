"""The local runner the pipeline picks when no ``--runner`` is given: Beam's FnApiRunner (what the DirectRunner
falls back to), chosen explicitly and run in a thread so its ``PipelineResult`` reports metrics while it runs.

Beam 2.77's DirectRunner first tries to download the Prism runner from GitHub (a network call and five log
lines, then a fallback to the FnApiRunner); choosing the FnApiRunner directly skips that. The FnApiRunner itself
blocks until the job is done and shows metrics only at the end; ``LiveFnApiRunner`` keeps each finished
bundle's monitoring infos, so ``result.metrics()`` answers during the run like a remote runner's would, and
``pipeline.progress`` needs nothing runner-specific. Its worker processes run ``pipeline.beam_worker``.
"""

from __future__ import annotations

import sys
import threading

from apache_beam.metrics.monitoring_infos import consolidate
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.portability.api import beam_provision_api_pb2
from apache_beam.runners.portability.fn_api_runner import fn_runner
from apache_beam.runners.portability.portable_runner import JobServiceHandle
from apache_beam.runners.runner import PipelineResult, PipelineState
from apache_beam.transforms.environments import SubprocessSDKEnvironment

WORKER_COMMAND = f"{sys.executable} -m pixelkit.pipeline.beam_worker"  # importable outside the checkout too


class LiveResult(PipelineResult):
    """A running FnApiRunner job: ``state``, ``metrics()`` (bundles finished so far), ``wait_until_finish``."""

    def __init__(self, runner: LiveFnApiRunner, thread: threading.Thread):
        super().__init__(PipelineState.RUNNING)
        self._runner, self._thread = runner, thread

    @property
    def state(self):
        if self._thread.is_alive():
            return PipelineState.RUNNING
        return PipelineState.FAILED if self._runner.error is not None else PipelineState.DONE

    def wait_until_finish(self, duration=None):
        """Block until the job ends (or ``duration`` ms pass); a failed job raises its exception here."""
        self._thread.join(None if duration is None else duration / 1000)
        if not self._thread.is_alive() and self._runner.error is not None:
            raise self._runner.error
        return self.state

    def metrics(self):
        if not self._thread.is_alive() and self._runner.final is not None:
            return self._runner.final.metrics()
        return fn_runner.FnApiMetrics(self._runner.snapshot(), user_metrics_only=True)

    def cancel(self):
        raise NotImplementedError("the local runner cannot cancel a running job")


class LiveFnApiRunner(fn_runner.FnApiRunner):
    """FnApiRunner in a background thread, with the monitoring infos of every finished bundle kept live."""

    def __init__(self, options: PipelineOptions):
        encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())  # what workers are given
        info = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
        super().__init__(provision_info=info)
        self._lock = threading.Lock()
        self._live: dict[str, list] = {}
        self.final = self.error = None

    @property
    def _default_environment(self):
        return self._env

    @_default_environment.setter
    def _default_environment(self, env):
        """``multi_processing`` workers run ``pipeline.beam_worker`` (Beam's worker, quieter) instead of
        ``apache_beam.runners.worker.sdk_worker_main``: FnApiRunner.run_pipeline sets this attribute to a
        subprocess environment with its own command, which is swapped here."""
        if isinstance(env, SubprocessSDKEnvironment):
            env = SubprocessSDKEnvironment.from_command_string(WORKER_COMMAND)
        self._env = env

    def _execute_bundle(self, runner_execution_context, bundle_context_manager, bundle_input):
        results = super()._execute_bundle(runner_execution_context, bundle_context_manager, bundle_input)
        stage = bundle_context_manager.stage.name
        with self._lock:
            self._live[stage] = list(consolidate([*results.process_bundle.monitoring_infos,
                                                 *self._live.get(stage, [])]))
        return results

    def snapshot(self) -> dict[str, list]:
        with self._lock:
            return {k: list(v) for k, v in self._live.items()}

    def run_pipeline(self, pipeline, options):
        def job():
            try:
                self.final = super(LiveFnApiRunner, self).run_pipeline(pipeline, options)
            except BaseException as e:  # noqa: BLE001 -- handed to the caller by wait_until_finish
                self.error = e

        thread = threading.Thread(target=job, name="beam-local-runner", daemon=True)
        thread.start()
        return LiveResult(self, thread)


def is_local(options: PipelineOptions) -> bool:
    """No runner named, the DirectRunner or the FnApiRunner (``options.with_runner``'s explicit local default): the job
    runs on this machine."""
    return (options.view_as(StandardOptions).runner or "DirectRunner") in ("DirectRunner", "direct", "FnApiRunner")

