"""An s3:// --output or --input the run cannot use is refused before any work, in one line naming the flag and the
fix, against a real S3 server on localhost (moto's server mode, with its IAM checks switched on for the
read-only case). Beam's own S3 client retried a refused connection or missing credentials for minutes, and a
missing bucket failed at the first write with a traceback (``pipeline/s3check.py``)."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("boto3", reason="s3:// needs pip install 'pixelkit[s3]'")
pytest.importorskip("moto.server", reason="the local S3 server needs pip install 'moto[server]'")

import boto3  # noqa: E402

from pixelkit.pipeline.main import run  # noqa: E402
from pixelkit.pipeline.validate import SettingsError  # noqa: E402
from conftest import hang_guard  # noqa: E402
from s3server import s3_server  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "pipeline" / "sample_data"
TEXT = f"--input=wt={SAMPLE / 'wikitext-2-test-excerpt.txt'}"
BUCKET = "pixelkit-access"


@pytest.fixture(scope="module")
def s3():
    with s3_server(BUCKET) as client:
        yield client


def _refused(argv: list[str]) -> str:
    with hang_guard(60), pytest.raises(SettingsError) as e:
        run([*argv, "--min_patches=4"])
    return str(e.value)


def _keys(client) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_a_missing_bucket_is_refused_for_output_and_input(s3, tmp_path):
    msg = _refused([TEXT, "--output=s3://no-such-bucket/shards"])
    assert msg.startswith("--output s3://no-such-bucket/shards: bucket no-such-bucket does not exist")
    assert "aws s3 mb s3://no-such-bucket" in msg
    msg = _refused(["--input=web=s3://no-such-bucket/corpus/*.jsonl", f"--output={tmp_path / 'out'}"])
    assert msg.startswith("--input s3://no-such-bucket/corpus/*.jsonl: bucket no-such-bucket does not exist")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_endpoint_and_missing_credentials_are_refused_in_seconds(s3, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    msg = _refused([TEXT, f"--output=s3://{BUCKET}/shards", f"--s3_endpoint_url=http://127.0.0.1:{port}"])
    assert f"cannot reach the S3 endpoint http://127.0.0.1:{port}" in msg and "--s3_endpoint_url" in msg
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    msg = _refused([TEXT, f"--output=s3://{BUCKET}/shards"])
    assert msg.startswith(f"--output s3://{BUCKET}/shards: no AWS credentials") and "AWS_ACCESS_KEY_ID" in msg
    assert _keys(s3) == []


def test_pixel_shards_names_an_unreachable_endpoint_not_a_missing_manifest(s3, monkeypatch, capsys):
    """s3fs's ``isfile`` answers False when the server cannot be reached: verify said "no shard manifest"."""
    pytest.importorskip("s3fs")
    from s3fs import S3FileSystem

    from pixelkit.pipeline.cli_shards import main as shards_main

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    S3FileSystem.clear_instance_cache()  # fsspec keeps one per settings: the new endpoint must be read
    try:
        with hang_guard(120):
            assert shards_main(["verify", f"s3://{BUCKET}/shards"]) == 1
            assert shards_main(["inspect", f"s3://{BUCKET}/shards"]) == 2
    finally:
        S3FileSystem.clear_instance_cache()
    out = capsys.readouterr()
    assert "no shard manifest" not in out.out + out.err
    assert f"cannot read {BUCKET}/shards/manifest.json (EndpointConnectionError" in out.out
    assert "check the endpoint and credentials (AWS_ENDPOINT_URL_S3" in out.err


def _auth(s3, count: bytes) -> None:
    """moto's switch for its IAM checks: on after ``count`` more requests ("inf": off)."""
    req = urllib.request.Request(f"{s3.meta.endpoint_url}/moto-api/reset-auth", data=count, method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req, timeout=10).read()


def test_read_only_and_unknown_credentials_are_refused_and_nothing_is_written(s3):
    iam = boto3.client("iam", endpoint_url=s3.meta.endpoint_url)
    iam.create_user(UserName="reader")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
                                                      "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]}
    iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = [f"--s3_access_key_id={key['AccessKeyId']}", f"--s3_secret_access_key={key['SecretAccessKey']}"]
    _auth(s3, b"0")
    try:
        msg = _refused([TEXT, f"--output=s3://{BUCKET}/shards", *reader])
        assert msg.startswith(f"--output s3://{BUCKET}/shards: access denied (AccessDenied): these credentials may "
                              "not write (s3:PutObject) objects there")
        msg = _refused([TEXT, f"--output=s3://{BUCKET}/shards"])  # "testing" is no IAM user's key
        assert "refuses these credentials (InvalidAccessKeyId)" in msg and "--s3_access_key_id" in msg
    finally:
        _auth(s3, b"inf")
    assert _keys(s3) == []
