"""``--runner dask``'s flags checked before any work, one line per problem naming the flag and the fix.

Unchecked, Beam's Dask flags failed late or not at all: a ``--dask_scheduler_file`` that does not exist made
Dask's client wait for it forever, a ``--dask_client_address`` nobody answers at cost 30 s and ended in
``OSError``, ``--dask_npartitions -3`` an ``IndexError``, ``--dask_partition_size -1`` a job that wrote nothing
(no partition) and reported success, and ``--workers`` (the local runner's processes) was silently ignored.
"""

from __future__ import annotations

import json
import os
import socket

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
