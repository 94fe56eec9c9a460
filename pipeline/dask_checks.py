"""``--runner dask``'s flags checked before any work, one line per problem naming the flag and the fix.

Unchecked, Beam's Dask flags failed late or not at all: a ``--dask_scheduler_file`` that does not exist made
Dask's client wait for it forever, a ``--dask_client_address`` nobody answers at cost 30 s and ended in
``OSError``, ``--dask_npartitions -3`` an ``IndexError``, ``--dask_partition_size -1`` a job that wrote nothing
(no partition) and reported success, and ``--workers`` (the local runner's processes) was silently ignored.

A scheduler with no worker is not refused (an adaptive cluster starts its workers only once it sees the tasks):
the runner names it when the job starts and again every ``IDLE_REMINDER_SECONDS`` while it has none
(``idle_note``, ``IdleWatch``); the job had waited without a word.
"""

from __future__ import annotations

import json
import logging
import os
import socket

log = logging.getLogger(__name__)
CONNECT_SECONDS = 5


def _reachable(address: str, flag: str) -> str | None:
    """Why nothing answers at a Dask scheduler ``address`` (tcp:// only: other comms are left to Dask)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    try:
        scheme, loc = parse_address(address)
        if scheme != "tcp":
            return None
        host, port = parse_host_port(loc)
    except ValueError as e:
        return f"{flag} {address}: {e}; give the scheduler's address, e.g. tcp://HOST:8786"
    try:
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS):
            return None
    except OSError as e:
        why = e.strerror or type(e).__name__
        return (f"{flag} {address}: no Dask scheduler answers there ({why}); start one (dask scheduler --host {host} "
                f"--port {port}) or give its address")


def dask_problems(o: dict) -> list[str]:
    """Every problem with ``--runner dask``'s settings in ``o`` (``PipelineOptions.get_all_options()``)."""
    problems = []
    if (n := o.get("npartitions")) is not None and n < 0:
        problems.append(f"--dask_npartitions {n} must be >= 1 (partitions of the input files); 0 or left out: one "
                        "per worker thread")
    if (size := o.get("partition_size")) is not None and size < 0:
        problems.append(f"--dask_partition_size {size} must be >= 1 (input files per partition); 0 or left out: one "
                        "partition per worker thread")
    if o.get("workers"):
        problems.append(f"--workers {o['workers']} sets the local runner's processes, which --runner dask does not "
                        "use: the cluster's workers run the job (dask worker ... --nworkers N); leave --workers out")
    if file := o.get("scheduler_file"):
        if not os.path.isfile(file):
            return problems + [f"--dask_scheduler_file {file} does not exist (Dask would wait for it forever); start "
                               f"the scheduler first (dask scheduler --scheduler-file {file}) or give its address "
                               "with --dask_client_address"]
        try:
            with open(file, encoding="utf-8") as fh:
                address = json.load(fh)["address"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            return problems + [f"--dask_scheduler_file {file} is not a Dask scheduler file ({type(e).__name__}: "
                               f"{str(e)[:80]}); give the file dask scheduler --scheduler-file wrote"]
        if why := _reachable(str(address), f"--dask_scheduler_file {file}: its address"):
            problems.append(why)
    elif address := o.get("address"):
        if why := _reachable(address, "--dask_client_address"):
            problems.append(why)
    return problems


IDLE_REMINDER_SECONDS = 60  # while the job runs, how often a scheduler with no worker is named again


def idle_note(client, waited: float = 0.0) -> str | None:
    """The warning for a scheduler that has no worker connected (the job waits, silently, until one connects);
    None when it has one. Not an error: an adaptive cluster starts its workers once it sees the tasks."""
    if client.nthreads():
        return None
    address = client.scheduler.address
    return (f"dask: no worker is connected to the scheduler at {address}{f' after {waited:.0f} s' if waited else ''}; "
            f"the job waits until one connects: start workers (dask worker {address} --nthreads 1), or wait for "
            "an adaptive cluster to start its own")


class IdleWatch:
    """While the job runs: the scheduler checked every ``every`` seconds (one request), warned about while it has no
    worker."""

    def __init__(self, client, every: float | None = None):
        import time

        self._client, self.every, self._clock = client, every or IDLE_REMINDER_SECONDS, time.monotonic
        self._t0 = self._last = self._clock()

    def poll(self) -> None:
        now = self._clock()
        if now - self._last < self.every:
            return
        self._last = now
        try:
            note = idle_note(self._client, now - self._t0)
        except OSError:  # the scheduler did not answer (distributed's CommClosedError): the job's wait reports it
            return
        if note:
            log.warning("%s", note)
