"""``--runner dask``'s flags are checked before any work (``pipeline/dask_checks.py``), against a real scheduler on
localhost (an in-process ``LocalCluster``) and real addresses nothing answers at: one line naming the flag and the
fix, nothing written. Unchecked, a missing scheduler file hung forever, a dead address cost 30 s and an OSError,
``--dask_npartitions -3`` raised IndexError, ``--dask_partition_size -1`` wrote nothing and reported success, and
``--workers`` was silently ignored."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from pixelkit.pipeline.main import run  # noqa: E402
from pixelkit.pipeline.validate import SettingsError  # noqa: E402
from conftest import hang_guard  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
TEXT = f"--input=wt={SAMPLE / 'wikitext-2-test-excerpt.txt'}"


@pytest.fixture(scope="module")
def address():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                      host="127.0.0.1", protocol="tcp://") as cluster:
        yield cluster.scheduler_address


def _refused(tmp_path: Path, *flags: str) -> str:
    out = tmp_path / "out"
    with hang_guard(60), pytest.raises(SettingsError) as e:
        run([TEXT, f"--output={out}", "--runner=dask", *flags])
    assert not out.exists()  # refused before anything was written
    return str(e.value)


@pytest.mark.parametrize("flag, expect", [
    ("--dask_npartitions=-3", "--dask_npartitions -3 must be >= 1"),
    ("--dask_partition_size=-1", "--dask_partition_size -1 must be >= 1"),
    ("--workers=2", "--workers 2 sets the local runner's processes, which --runner dask does not use"),
])
def test_out_of_range_and_local_only_flags_are_refused(address, tmp_path, flag, expect):
    assert _refused(tmp_path, f"--dask_client_address={address}", flag).startswith(expect)


def test_a_scheduler_nobody_runs_is_refused_at_once(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    msg = _refused(tmp_path, f"--dask_client_address=tcp://127.0.0.1:{port}")
    assert msg.startswith(f"--dask_client_address tcp://127.0.0.1:{port}: no Dask scheduler answers there")
    assert "dask scheduler --host 127.0.0.1" in msg
    msg = _refused(tmp_path, f"--dask_scheduler_file={tmp_path / 'scheduler.json'}")
    assert "does not exist (Dask would wait for it forever)" in msg
    (tmp_path / "stale.json").write_text(f'{{"address": "tcp://127.0.0.1:{port}"}}')  # a dead scheduler's file
    assert "no Dask scheduler answers there" in _refused(tmp_path, f"--dask_scheduler_file={tmp_path / 'stale.json'}")
    assert "missing port number" in _refused(tmp_path, "--dask_client_address=scheduler-host")


@pytest.mark.parametrize("progress", ["", "render"])  # waited for at once, or polled by the live display
def test_a_scheduler_with_no_worker_is_named_and_the_job_runs_once_one_joins(tmp_path, caplog, monkeypatch, progress):
    """A scheduler no worker is connected to made the job wait without a word (forever, on a cluster whose workers
    never come). It is named when the job starts and again while it has none, naming the fix; it is not refused
    (an adaptive cluster starts its workers once it sees the tasks): a worker that joins later runs the job."""
    import threading

    from distributed import LocalCluster

    from pixelkit.pipeline import dask_checks

    monkeypatch.setattr(dask_checks, "IDLE_REMINDER_SECONDS", 1, raising=False)
    out, done = tmp_path / "out", {}
    with LocalCluster(n_workers=0, threads_per_worker=1, processes=False, dashboard_address=None,
                      host="127.0.0.1", protocol="tcp://") as cluster, caplog.at_level("WARNING"):
        address = cluster.scheduler_address

        def job():
            try:
                done["manifest"] = run([TEXT, f"--output={out}", "--runner=dask", f"--dask_client_address={address}"],
                                       progress=progress)
            except Exception as e:  # noqa: BLE001  (handed to the test's thread)
                done["error"] = e
        thread = threading.Thread(target=job, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while "no worker is connected to the scheduler at" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.2)
        while " after " not in caplog.text and time.monotonic() < deadline:  # the reminder while it waits
            time.sleep(0.2)
        assert not out.joinpath("manifest.json").exists() and thread.is_alive()
        cluster.scale(1)  # a worker joins, as an adaptive cluster's would
        thread.join(timeout=300)
    assert not thread.is_alive() and "error" not in done, done
    assert done["manifest"].num_samples > 0 and (out / "manifest.json").is_file()
    notes = [r.getMessage() for r in caplog.records if "no worker is connected" in r.getMessage()]
    assert notes[0] == (f"dask: no worker is connected to the scheduler at {address}; the job waits until one "
                        f"connects: start workers (dask worker {address} --nthreads 1), or wait for an adaptive "
                        "cluster to start its own (the input files go to one partition, read by one worker: "
                        "--dask_npartitions N spreads them over N)"), notes[0]
    assert any(f"no worker is connected to the scheduler at {address} after " in n for n in notes[1:]), notes
