"""Test helper: a real S3 server (moto's server mode) on a free localhost port, found by the AWS SDKs (boto3 in Beam,
aiobotocore in s3fs) through the standard environment variables, with one bucket made."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import pytest


@contextmanager
def s3_server(bucket: str) -> Iterator:
    """Yields a boto3 client of the server; the environment points every SDK at it while the block runs."""
    import boto3
    from moto import server as moto_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL_S3": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
                mp.delenv(k, raising=False)
            client = boto3.client("s3")
            client.create_bucket(Bucket=bucket)
            yield client
    finally:
        server.stop()
