"""Presigned GET URLs for the objects of one bucket, signed without botocore's per-call pipeline.

botocore's `generate_presigned_url` validates and serialises the parameters, resolves the endpoint through the S3
endpoint ruleset, emits a dozen events and signs through generic request objects on every call: ~0.35 ms, a fifth of
the client's CPU per small object of a sync. None of that changes between the keys of one bucket. So
`PresignedGetSigner` asks botocore once, for a probe key, and keeps what botocore decided: the URL up to the key
(endpoint, addressing style, bucket) and the signing region and service (from the probe's X-Amz-Credential scope).
For every key after that it builds the same URL itself: the key percent-encoded as botocore does
(`botocore.utils.percent_encode`, '/' and '~' kept), and AWS Signature Version 4 for a query-string-authenticated
S3 GET (host the only signed header, payload UNSIGNED-PAYLOAD), with the signing key derived once per day,
region and secret. Credentials come from the session the client was made from, frozen per call, so refreshable
credentials (SSO, assumed roles) refresh as they do for the client. The URL is byte for byte the one botocore
builds (tests compare them for awkward keys, path and virtual-host style, IPv6 and custom ports, with and without a
session token).

When the probe's URL does not have the expected shape (an endpoint this does not know), `sign` hands every key to
the client's `generate_presigned_url`.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
from botocore.utils import percent_encode

PROBE_KEY = "kfexplorer-presign-probe"
ALGORITHM = "AWS4-HMAC-SHA256"
DEFAULT_PORTS = {"http": 80, "https": 443}


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _host_header(url: str) -> str:
    """The Host header a client sends to `url`: the host name, the port unless it is the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    if parts.port is not None and parts.port != DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class PresignedGetSigner:
    """Presigned GetObject URLs for keys of `bucket`, built as `client.generate_presigned_url` builds them."""

    def __init__(self, client: Any, credentials_source: Any, bucket: str, expires_seconds: int) -> None:
        """`credentials_source` is the boto3 / botocore session the client was made from (its `get_credentials()`
        returns the credentials object the client signs with)."""
        self._client = client
        self._session = credentials_source
        self._bucket = bucket
        self._expires = expires_seconds
        self._base: str | None = None
        self._base_path = ""
        self._host = ""
        self._region = ""
        self._service = ""
        self._probed = False
        self._signing_key: tuple[str, str, bytes] = ("", "", b"")  # (day, secret, key)

    def _probe(self) -> None:
        self._probed = True
        url = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": PROBE_KEY}, ExpiresIn=self._expires)
        parts = urlsplit(url)
        scope = parse_qs(parts.query).get("X-Amz-Credential", [""])[0].split("/")
        if not parts.path.endswith("/" + PROBE_KEY) or len(scope) != 5 or scope[4] != "aws4_request":
            return  # an endpoint shape not known here: botocore signs every key
        self._region, self._service = scope[2], scope[3]
        self._base_path = parts.path[:-len(PROBE_KEY)]
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._host = _host_header(url)

    def _key_for(self, day: str, secret: str) -> bytes:
        cached_day, cached_secret, key = self._signing_key
        if cached_day != day or cached_secret != secret:
            key = _hmac(f"AWS4{secret}".encode(), day)
            for part in (self._region, self._service, "aws4_request"):
                key = _hmac(key, part)
            self._signing_key = (day, secret, key)
        return key

    def sign(self, key: str) -> str:
        """The presigned GET URL of `key` (the full key in the bucket)."""
        if not self._probed:
            self._probe()
        if self._base is None:
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=self._expires)
            return url
        credentials = self._session.get_credentials()
        if credentials is None:
            raise botocore.exceptions.NoCredentialsError()
        frozen = credentials.get_frozen_credentials()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        scope = f"{stamp[:8]}/{self._region}/{self._service}/aws4_request"
        params = [("X-Amz-Algorithm", ALGORITHM), ("X-Amz-Credential", f"{frozen.access_key}/{scope}"),
                  ("X-Amz-Date", stamp), ("X-Amz-Expires", str(self._expires)), ("X-Amz-SignedHeaders", "host")]
        if frozen.token is not None:
            params.append(("X-Amz-Security-Token", frozen.token))
        encoded = [(name, percent_encode(value)) for name, value in params]
        path = self._base_path + percent_encode(key, safe="/~")
        canonical_request = "\n".join((
            "GET", path, "&".join(f"{name}={value}" for name, value in sorted(encoded)),
            f"host:{self._host}\n", "host", "UNSIGNED-PAYLOAD"))
        string_to_sign = "\n".join((
            ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()))
        signature = hmac.new(self._key_for(stamp[:8], frozen.secret_key), string_to_sign.encode("utf-8"),
                             hashlib.sha256).hexdigest()
        query = "&".join(f"{name}={value}" for name, value in encoded)
        return f"{self._base}{path}?{query}&X-Amz-Signature={signature}"
