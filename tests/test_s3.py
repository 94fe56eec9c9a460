"""Object storage end to end against a real S3 server on localhost (moto's server mode, as s3fs's own tests run):
the pipeline reads s3:// inputs and writes shards, manifest, card and dead letters to s3://, byte-identical to the
same job written to a local directory; the rerun guard and --resume work there; a failed upload never shows under
a shard's name; ``pixel-shards verify`` and the trainer's loader read the same s3:// shards. One server per module."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

pytest.importorskip("s3fs", reason="s3:// needs pip install 'pixelkit[s3]'")
pytest.importorskip("boto3", reason="s3:// needs pip install 'pixelkit[s3]'")
pytest.importorskip("moto.server", reason="the local S3 server needs pip install 'moto[server]'")

from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from pixelkit.pipeline import storage  # noqa: E402
from pixelkit.pipeline.cli_shards import main as shards_main  # noqa: E402
from pixelkit.pipeline.cli_shards import verify  # noqa: E402
from pixelkit.pipeline.main import run  # noqa: E402
from pixelkit.pipeline.validate import SettingsError  # noqa: E402
from s3server import s3_server  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
BUCKET = "pixelkit-test"


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on a free localhost port; the AWS SDKs (boto3 in Beam, aiobotocore in s3fs) find it through
    the standard environment variables. The bucket holds the corpus: real text lines, and one broken JSON line."""
    with s3_server(BUCKET) as client:
        lines = [t for t in (SAMPLE / "wikitext-2-test-excerpt.txt").read_text().splitlines() if len(t) > 80]
        good = [json.dumps({"id": f"w{i}", "text": t}) for i, t in enumerate(lines[:10])]
        client.put_object(Bucket=BUCKET, Key="corpus/good.jsonl", Body="\n".join(good).encode() + b"\n")
        broken = [*good[:4], '{"id": "broken", "text": "unterminated']
        client.put_object(Bucket=BUCKET, Key="corpus/broken.jsonl", Body="\n".join(broken).encode() + b"\n")
        yield client


def _argv(out: str, inputs: str = "*", per_shard: int = 4, *extra: str) -> list[str]:
    return [f"--input=web=s3://{BUCKET}/corpus/{inputs}.jsonl", f"--output={out}", "--min_patches=4",
            f"--samples_per_shard={per_shard}", *extra]


def _objects(client, prefix: str) -> dict[str, bytes]:
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    return {k[len(prefix):]: client.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def _modified(client, prefix: str) -> dict[str, object]:
    return {o["Key"][len(prefix):]: o["LastModified"]
            for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])}


@pytest.fixture(scope="module")
def runs(s3, tmp_path_factory):
    """The same job (inputs on S3) written to a local directory and to s3://pixelkit-test/run/."""
    local = tmp_path_factory.mktemp("local")
    return local, run(_argv(str(local))), run(_argv(f"s3://{BUCKET}/run"))


def test_s3_output_is_byte_identical_to_the_local_run(s3, runs):
    local, m_local, m_s3 = runs
    remote = _objects(s3, "run/")
    here = {p.name: p.read_bytes() for p in local.iterdir()}
    assert sorted(remote) == sorted(here)  # the same files: no staging object or temp file left behind
    assert {"manifest.json", "manifest.parquet", "README.md", "dead_letters.jsonl", ".pixelkit-run.json"} < set(remote)
    assert len([n for n in remote if n.endswith(".tar")]) == len(m_s3.shards) > 1
    for name in remote:
        assert remote[name] == here[name], name
    dead = [json.loads(line) for line in remote["dead_letters.jsonl"].splitlines()]
    assert [(d["reason"], d["file"]) for d in dead] == [("invalid_json", "broken.jsonl")]  # below corpus/
    assert m_s3.to_dict() == m_local.to_dict() and m_s3.counts["records_read"] == 15


def test_pixel_shards_verify_reads_s3_and_finds_a_changed_object(s3, runs, capsys):
    _, _, m = runs
    assert verify(f"s3://{BUCKET}/run") == []
    assert shards_main(["verify", f"s3://{BUCKET}/run"]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")
    for name, data in _objects(s3, "run/").items():  # a copy with one byte of one shard changed
        if name == m.shards[0].name:
            data = data[:700] + bytes([data[700] ^ 1]) + data[701:]
        s3.put_object(Bucket=BUCKET, Key=f"tampered/{name}", Body=data)
    s3.put_object(Bucket=BUCKET, Key="tampered/train-00099-of-00100.tar", Body=b"")
    problems = verify(f"s3://{BUCKET}/tampered")
    assert f"{m.shards[0].name}: size or sha256 differs from the manifest" in problems
    assert "train-00099-of-00100.tar: a shard not in the manifest" in problems
    assert shards_main(["verify", f"s3://{BUCKET}/tampered"]) == 1


def test_the_trainers_loader_reads_the_same_s3_shards(s3, runs):
    from pixelkit.trainer import tars
    from pixelkit.trainer.data import SkipCounter, read_samples
    from pixelkit.trainer.shardsets import resolve

    local, m_local, m = runs
    shard_set = resolve(f"s3://{BUCKET}/run")
    assert shard_set.urls == [f"s3://{BUCKET}/run/{s.name}" for s in m.shards]
    assert shard_set.info().max_patches == m.max_patches
    skips = SkipCounter()
    for url, info in shard_set.expected().items():  # the manifest's size and count checks, over s3fs
        assert sum(1 for _ in tars.shard_samples(url, skips, info)) == info.num_samples
    remote = list(read_samples(shard_set.urls, skips=skips))
    here = list(read_samples([str(local / s.name) for s in m_local.shards]))
    assert skips.counts == {} and len(remote) == m.num_samples
    assert [s.key for s in remote] == [s.key for s in here]
    assert all((a.pixels == b.pixels).all() and a.token_ids == b.token_ids for a, b in zip(remote, here))


@pytest.mark.slow
def test_rerun_guard_and_resume_on_s3(s3, runs):
    _, _, first = runs
    prefix = "resume/"
    out = f"s3://{BUCKET}/{prefix}".rstrip("/")
    for name in _objects(s3, "run/"):  # the finished run, copied
        s3.copy_object(Bucket=BUCKET, Key=prefix + name, CopySource={"Bucket": BUCKET, "Key": "run/" + name})
    with pytest.raises(SettingsError, match="already holds a run .* --overwrite"):
        run(_argv(out))
    with pytest.raises(SettingsError, match="other settings"):
        run(_argv(out, "*", 3, "--resume"))

    # as a run killed after some shards leaves it: no manifest, a shard missing, half uploads under hidden names
    lost = first.shards[1].name
    s3.delete_object(Bucket=BUCKET, Key=prefix + "manifest.json")
    s3.delete_object(Bucket=BUCKET, Key=prefix + lost)
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}.{lost}.uploading", Body=b"half a shard")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}.train-00002-of-00007.tar.uploading", Body=b"an older attempt's")
    before = _modified(s3, prefix)
    time.sleep(1.1)  # S3 times are in whole seconds: a rewritten object would show a later one
    again = run(_argv(out, "*", 4, "--resume"))
    after = _modified(s3, prefix)
    assert again.to_dict() == first.to_dict()
    kept = [s.name for s in first.shards if s.name != lost]
    assert all(after[n] == before[n] for n in kept)  # finished shards were kept, not rewritten
    assert lost in after and not [n for n in after if n.endswith(".uploading")]  # staging litter cleaned up
    assert verify(out) == []

    third = run(_argv(out, "good", 3, "--overwrite"))  # another run in its place; it has no dead letter
    written = _objects(s3, prefix)
    assert sorted(n for n in written if n.endswith(".tar")) == [s.name for s in third.shards]
    assert written["dead_letters.jsonl"] == b"" and third.num_samples == 10  # an empty object (see storage.py)
    assert verify(out) == []


@pytest.mark.slow
def test_the_s3_flags_reach_multi_process_workers(s3, runs, monkeypatch):
    """Beam's own --s3_* flags instead of the environment, with 2 worker processes (they get the flags through
    the pipeline options): the launcher's checks, the workers' reads and writes. Same bytes as the local run."""
    local, _, _ = runs
    endpoint = s3.meta.endpoint_url
    for k in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(k)
    flags = [f"--s3_endpoint_url={endpoint}", "--s3_access_key_id=testing", "--s3_secret_access_key=testing",
             "--s3_region_name=us-east-1"]
    run([*_argv(f"s3://{BUCKET}/flags", "*", 4, "--workers=2"), *flags])
    written = _objects(s3, "flags/")
    assert sorted(written) == sorted(p.name for p in local.iterdir())
    assert all(written[p.name] == p.read_bytes() for p in local.iterdir())


def test_a_failed_upload_never_shows_under_the_final_name(s3):
    FileSystems.set_options(PipelineOptions([]))  # Beam's S3 filesystem from the environment, as in the fixture
    # Beam's own writer completes the upload when its block fails: the part written so far becomes the object
    with pytest.raises(RuntimeError):
        with FileSystems.create(f"s3://{BUCKET}/atomic/beam.tar") as f:
            f.write(b"the first half")
            raise RuntimeError("writer failed")
    assert _objects(s3, "atomic/") == {"beam.tar": b"the first half"}

    class Breaks(io.RawIOBase):  # a source that fails after its first megabyte
        def __init__(self):
            self.sent = 0

        def readable(self):
            return True

        def readinto(self, buf):
            if self.sent >= 1 << 20:
                raise OSError("disk read failed")
            n = min(len(buf), (1 << 20) - self.sent)
            buf[:n] = b"x" * n
            self.sent += n
            return n

    final = f"s3://{BUCKET}/atomic/train-00000-of-00001.tar"
    with pytest.raises(OSError, match="disk read failed"):
        storage.write_stream(final, Breaks(), 3 << 20)
    assert not storage.exists(final) and "train-00000-of-00001.tar" not in _objects(s3, "atomic/")
    storage.write(final, b"all of it")
    assert _objects(s3, "atomic/")["train-00000-of-00001.tar"] == b"all of it"


def _block(readme: Path, marker: str) -> list[str]:
    """The lines of the bash block after ``<!-- s3-demo: marker -->``."""
    text = readme.read_text().split(f"<!-- s3-demo: {marker} -->\n```bash\n", 1)[1]
    return text.split("```", 1)[0].rstrip("\n").splitlines()


@pytest.mark.slow
def test_the_readme_commands_run_as_written(tmp_path):
    """pipeline/README.md's object-storage block, then trainer/README.md's, as one bash script: the same lines,
    on a free port instead of 5055, in a scratch directory that links the checkout's .venv and sample data."""
    import os
    import signal
    import socket
    import subprocess

    root = Path(__file__).resolve().parents[1]
    pipeline = _block(root / "pipeline" / "README.md", "pipeline")
    trainer = _block(root / "trainer" / "README.md", "trainer")
    assert pipeline[-1] == "kill %1"  # the server stops after the trainer's commands
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = "\n".join(["set -euo pipefail", *pipeline[:-1], *trainer, pipeline[-1]]).replace("5055", str(port))
    (tmp_path / ".venv").symlink_to(root / ".venv")
    (tmp_path / "pipeline").symlink_to(root / "pipeline")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"PYTHONPATH": str(root)}
    proc = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=900)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server too, if the script stopped before its last line
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    assert "s3://pixelkit-demo/shards: OK" in out
    assert (tmp_path / "out" / "train" / "s3-demo" / "model" / "model.safetensors").is_file()
