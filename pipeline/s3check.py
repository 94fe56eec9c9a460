"""Before any work: can this run reach an ``s3://`` input or output, with the job's endpoint and credentials?

Beam's S3 client retries every failed call with exponential backoff, and counts a refused connection or missing
credentials as retryable: an unreachable ``--s3_endpoint_url`` or no credentials stalled a run for minutes before
it failed with a traceback, and a missing bucket failed at the first write, with Beam's ``S3ClientError``. Here one
boto3 client, built from the same options Beam's S3 filesystem uses (``--s3_*`` flags, else the SDK's
environment), with a short timeout and few retries, lists the prefix (endpoint, credentials, bucket, read access)
and, for ``--output``, writes and deletes one hidden object (a run writes, copies and deletes objects: uploads go
to a hidden name first, ``storage.py``). Each failure is one line naming the flag and the fix.
"""

from __future__ import annotations

import uuid

FLAGS = "--s3_endpoint_url / AWS_ENDPOINT_URL_S3"
KEYS = "--s3_access_key_id and --s3_secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
DENIED = {"AccessDenied", "AllAccessDisabled", "403", "Forbidden"}
BAD_KEYS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}


def _client(url: str):
    """A boto3 S3 client configured as Beam's would be for ``url`` (``apache_beam.io.aws.clients.s3``), but quick
    to give up."""
    import boto3
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions, S3Options
    from botocore.config import Config

    options = getattr(FileSystems.get_filesystem(url), "_options", None) or {}
    if isinstance(options, PipelineOptions):
        options = options.view_as(S3Options).get_all_options()
    return boto3.session.Session().client(
        "s3", region_name=options.get("s3_region_name"), api_version=options.get("s3_api_version"),
        use_ssl=not options.get("s3_disable_ssl", False), verify=options.get("s3_verify"),
        endpoint_url=options.get("s3_endpoint_url"), aws_access_key_id=options.get("s3_access_key_id"),
        aws_secret_access_key=options.get("s3_secret_access_key"),
        aws_session_token=options.get("s3_session_token"),
        config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 2, "mode": "standard"}))


def s3_problem(url: str, flag: str, write: bool = False) -> str | None:
    """Why this run cannot list (and with ``write``, write and delete) objects under ``url``; None when it can."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    bucket, _, key = url.removeprefix("s3://").partition("/")
    prefix = key.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]  # an --input pattern: what comes before a glob
    if not bucket:
        return f"{flag} {url}: no bucket name; give s3://BUCKET/PREFIX"
    client, step = _client(url), "list"
    endpoint = client.meta.endpoint_url
    try:
        client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        if write:
            probe = f"{key.rstrip('/')}/.pixelkit-access-check-{uuid.uuid4().hex}".lstrip("/")
            step = "write"
            client.put_object(Bucket=bucket, Key=probe, Body=b"")
            step = "delete"
            client.delete_object(Bucket=bucket, Key=probe)
    except (NoCredentialsError, PartialCredentialsError) as e:
        return f"{flag} {url}: no AWS credentials ({e}); give {KEYS} (or ~/.aws/credentials)"
    except ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket", "404"):
            return (f"{flag} {url}: bucket {bucket} does not exist at {endpoint}; create it first (aws s3 mb "
                    f"s3://{bucket}) or give another bucket")
        if code in BAD_KEYS:
            return f"{flag} {url}: the S3 server at {endpoint} refuses these credentials ({code}); check {KEYS}"
        if code in DENIED:
            need = {"list": "list (s3:ListBucket) objects", "write": "write (s3:PutObject) objects",
                    "delete": "delete (s3:DeleteObject) objects"}[step]
            why = "" if step == "list" else " (a run uploads to a hidden name, then copies and deletes it)"
            left = f"; delete the probe object it left, s3://{bucket}/{probe}" if step == "delete" else ""
            return (f"{flag} {url}: access denied ({code}): these credentials may not {need} there{why}{left}; "
                    f"give credentials that may ({KEYS})")
        return f"{flag} {url}: the S3 server at {endpoint} answered {code or e} on {step}; check {FLAGS} and {KEYS}"
    except BotoCoreError as e:  # no connection, timeouts, TLS: the endpoint
        return (f"{flag} {url}: cannot reach the S3 endpoint {endpoint} ({type(e).__name__}); check {FLAGS} "
                "(leave both out for AWS S3)")
    return None
