"""PresignedGetSigner builds the URL botocore's generate_presigned_url builds, for awkward keys and endpoints."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from kfexplorer.sync.presigned_gets import PresignedGetSigner

KEYS = ["plain/file.parquet", "a b/c+d=e&f?g#h.ndjson", "ünïcode/ß 東京.dcm", "~tilde/%25 already/encoded",
        "x!*'()$,;:@[]{}", "dir//double/slash", "/leading-slash", "trailing-space "]


def _session(token: str | None = None, region: str = "us-east-1") -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG",
                                 aws_session_token=token, region_name=region)


def _same_second(signer: PresignedGetSigner, client: object, bucket: str, key: str) -> tuple[str, str]:
    for _ in range(20):  # both URLs carry X-Amz-Date (seconds): retry the rare pair that straddles a second
        ours = signer.sign(key)
        theirs = client.generate_presigned_url(  # type: ignore[attr-defined]
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900)
        if parse_qs(urlsplit(ours).query)["X-Amz-Date"] == parse_qs(urlsplit(theirs).query)["X-Amz-Date"]:
            return ours, theirs
    raise AssertionError("could not sign twice within one second")


@pytest.mark.parametrize(("endpoint", "region", "bucket", "style", "token"), [
    ("http://127.0.0.1:9000", "us-east-1", "kf-bucket", "path", None),
    ("http://127.0.0.1:9000/some/base/", "eu-west-1", "kf-bucket", "path", "a-session/token+="),
    ("http://[::1]:9000", "us-east-1", "kf-bucket", "path", None),
    ("https://s3.example.org:443", "us-east-1", "kf-bucket", "path", None),
    ("http://MinIO.Example.org:80", "us-east-1", "kf-bucket", "path", None),
    (None, "us-west-2", "kf-bucket", "virtual", None),
    (None, "us-east-1", "kf-bucket", "auto", "tok"),
    (None, "ap-southeast-2", "my.dotted.bucket", "auto", None),
])
def test_urls_equal_botocore(endpoint: str | None, region: str, bucket: str, style: str, token: str | None) -> None:
    session = _session(token, region)
    client = session.client("s3", endpoint_url=endpoint, config=Config(
        signature_version="s3v4", s3={"addressing_style": style}))
    signer = PresignedGetSigner(client, session, bucket, 900)
    for key in KEYS:
        ours, theirs = _same_second(signer, client, bucket, key)
        assert ours == theirs, key
        query = parse_qs(urlsplit(ours).query)
        assert query["X-Amz-SignedHeaders"] == ["host"] and len(query["X-Amz-Signature"][0]) == 64
    assert signer._base is not None  # the fast path was taken, not the per-key fallback


def test_another_key_or_expiry_changes_the_signature() -> None:
    session = _session()
    client = session.client("s3", endpoint_url="http://127.0.0.1:9000", config=Config(signature_version="s3v4"))
    one = PresignedGetSigner(client, session, "kf-bucket", 900)
    other = PresignedGetSigner(client, session, "kf-bucket", 60)
    a, b = (parse_qs(urlsplit(one.sign(k)).query)["X-Amz-Signature"] for k in ("k1", "k2"))
    assert a != b
    query = parse_qs(urlsplit(other.sign("k1")).query)
    assert query["X-Amz-Expires"] == ["60"]


def test_no_credentials_is_botocores_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.session.Session(region_name="us-east-1")
    client = session.client("s3", endpoint_url="http://127.0.0.1:9000", config=Config(signature_version="s3v4"))
    with pytest.raises(botocore.exceptions.NoCredentialsError):
        PresignedGetSigner(client, session, "kf-bucket", 900).sign("k")
