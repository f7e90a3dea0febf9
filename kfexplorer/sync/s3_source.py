"""A release under an S3 prefix, read with boto3.

Credentials come the AWS way (boto3's default chain: environment, shared config and credentials files, SSO and
assume-role profiles, instance roles), with `profile`, `region` and `endpoint_url` as the AWS CLI's options. This
module never prints, logs or writes a secret: error messages name the bucket, the key and the error code only.

Keys are relative to the prefix. The listing reads the prefix's top level (with a delimiter), then lists its
top-level folders (fhir/, imaging/, variants/, …) in parallel, LISTING_THREADS at once; a folder bigger than
its first page is split, the rest of it listed as its sub-folders in parallel (the studies of imaging/: see
`_split_after`), so no big folder is listed one 1,000-key page after the other; the keys, sizes and ETags of each page are read with
ElementTree instead of botocore's generic parser (`_take_listed_contents`). The etag is S3's ETag without quotes.

`fetch` downloads with GETs pinned to the listed ETag (If-Match, so an object replaced after the listing is not
mixed up with the old one), in ranged parts for large objects (written in place with os.pwrite), and checks the
byte count: a short or broken body resumes from the last byte received. Each GET is a SigV4-presigned URL sent
through the botocore client's own HTTP session (its pool, proxies, CA bundle, timeouts), signed by
kfexplorer.sync.presigned_gets (the endpoint resolved by botocore once, SigV4 with a cached signing key: a small
part of the client CPU of a full botocore call per object; docs/sync-performance.md); a region redirect hands the GETs back to botocore's get_object. botocore's
response checksums (a CRC over every body) are off: integrity is release.json's sha256, checked by the transfer
for every object it lists (kfexplorer.sync.transfer), and TLS on the wire; the byte count is always checked. Throttling (503 SlowDown), 5xx, dropped or reset connections, timeouts and truncated
bodies are retried with exponential backoff and full jitter (botocore's own retries are off, so the policy here is
the only one). Failures are SourceError subclasses worded for the user in one line; a failure of one object after
its retries is an ObjectFetchError, which lets the other objects land.
"""

from __future__ import annotations

import hashlib
import os
import queue
import random
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
import urllib3.exceptions
from botocore.awsrequest import AWSRequest
from botocore.config import Config

from kfexplorer.sync.presigned_gets import PresignedGetSigner
from kfexplorer.sync.source import (
    AccessDeniedError,
    BytesProgress,
    CredentialsError,
    MissingBucketError,
    MissingObjectError,
    ObjectFetchError,
    ObjectInfo,
    SourceError,
)

T = TypeVar("T")

READ_CHUNK_BYTES = 1024 * 1024
# fewer, larger ranged GETs: each costs a request (and, on some servers such as moto, a read of the whole object)
DEFAULT_PART_BYTES = 32 * 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 64
LISTING_THREADS = 8  # folders of the prefix listed at once
PRESIGNED_SECONDS = 900  # lifetime of the URL of one GET (signed just before it is sent)
# a presigned GET answered with these goes to another region's endpoint: botocore's own GET (which follows
# S3's region redirects) takes over for the rest of the sync
REDIRECT_CODES = frozenset({"PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed",
                            "IllegalLocationConstraintException"})
# a folder with at most this many sub-folders is listed as its sub-folders, in parallel (else flat, page by page)
LISTING_SPLIT_MAX_FOLDERS = 32

CREDENTIAL_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                              "TokenRefreshRequired", "InvalidClientTokenId", "UnrecognizedClientException"})
ACCESS_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem", "403"})
RETRY_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "InternalError",
                         "ServiceUnavailable", "RequestTimeout", "RequestTimeTooSkewed", "BadGateway",
                         "GatewayTimeout", "500", "502", "503", "504"})
RETRY_EXCEPTIONS: tuple[type[BaseException], ...] = (
    botocore.exceptions.ConnectionError,  # endpoint connection, connect/read timeouts, connection closed
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.ResponseStreamingError,
    botocore.exceptions.IncompleteReadError,
    ConnectionError,  # reset / aborted / refused at the socket
    TimeoutError,
    urllib3.exceptions.HTTPError,  # a presigned GET's body read failing midway (protocol error, read timeout)
)
# the body did not match the checksum S3 sent with it (botocore checks whole-object GETs)
CHECKSUM_EXCEPTIONS: tuple[type[BaseException], ...] = tuple(
    getattr(botocore.exceptions, name) for name in ("FlexibleChecksumError", "ChecksumError")
    if hasattr(botocore.exceptions, name)
)
SSO_EXCEPTIONS: tuple[type[BaseException], ...] = tuple(
    getattr(botocore.exceptions, name)
    for name in ("SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError", "SSOError")
    if hasattr(botocore.exceptions, name)
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried: `attempts` tries in all, exponential backoff with full
    jitter (a random wait up to base × 2^attempt, capped at max_delay)."""

    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * (2 ** attempt)))


class _Retry(Exception):
    """A transient failure worth another try (the message says what happened)."""


class _TruncatedBody(Exception):
    pass


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """("bucket", "prefix/") of s3://bucket/prefix (the prefix ends with '/' unless empty)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise SourceError(f"not an S3 location: {uri!r} (expected s3://bucket/prefix)")
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parsed.netloc, prefix


def _error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "")) or str(
        error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


def _status(error: botocore.exceptions.ClientError) -> int:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return int(status) if isinstance(status, int) else 0


def _xml_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _take_listed_contents(response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                          **_kwargs: Any) -> None:
    """botocore's `before-parse.s3.ListObjectsV2` hook: read the page's <Contents> (key, size, etag: all sync
    uses) with ElementTree and hand botocore the page without them.

    botocore's generic shape-driven XML parser spends ~0.25 ms per listed key, more than a server needs to list it;
    this reads the same three fields ~20× faster. botocore still parses the rest of the page (truncation, token,
    common prefixes, encoding type) and still URL-decodes the keys (its after-call hook), so the page it returns
    has the usual shape. Anything unexpected (an error status, a body that does not parse) is left to botocore.
    """
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not isinstance(body, bytes | bytearray):
        return
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return
    if _xml_name(root.tag) != "ListBucketResult":
        return
    contents: list[dict[str, Any]] = []
    for element in [child for child in root if _xml_name(child.tag) == "Contents"]:
        fields = {_xml_name(child.tag): child.text or "" for child in element}
        try:
            contents.append({"Key": fields["Key"], "Size": int(fields["Size"]), "ETag": fields.get("ETag", "")})
        except (KeyError, ValueError):
            return  # not a page we understand: botocore parses the original body
        root.remove(element)
    if contents:
        response_dict["body"] = ElementTree.tostring(root)
        customized_response_dict["Contents"] = contents


def _client_error(status: int, body: bytes, operation: str = "GetObject") -> botocore.exceptions.ClientError:
    """The ClientError botocore would raise for an S3 error response (its XML code, else the status)."""
    code, message = "", ""
    try:
        root = ElementTree.fromstring(body) if body else None
    except ElementTree.ParseError:
        root = None
    if root is not None:
        fields = {_xml_name(child.tag): child.text or "" for child in root}
        code, message = fields.get("Code", ""), fields.get("Message", "")
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code or str(status), "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


_DATA_LOADER: list[botocore.loaders.Loader] = []
_DATA_LOADER_LOCK = threading.Lock()


def _shared_data_loader(data_path: str | None) -> botocore.loaders.Loader:
    """botocore's loader of service models, made once per process (it caches what it parsed; reads only)."""
    with _DATA_LOADER_LOCK:
        if not _DATA_LOADER:
            _DATA_LOADER.append(botocore.loaders.create_loader(data_path))
        return _DATA_LOADER[0]


def _write_all(fd: int, data: bytes, offset: int) -> None:
    """os.pwrite all of `data` at `offset` (one call may write less)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


class _StreamDigest:
    """Writes a GET's body to `fd` and hashes it in order: a restart from offset 0 (a corrupt body fetched again)
    starts the hash again; a write anywhere else out of order gives up hashing (the file is hashed afterwards)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._digest = hashlib.sha256()
        self._hashed = 0  # bytes hashed so far, all from offset 0 in order; -1 once out of order

    def write(self, offset: int, data: bytes) -> None:
        _write_all(self._fd, data, offset)
        if offset == 0 and self._hashed != 0:
            self._digest, self._hashed = hashlib.sha256(), 0
        if offset == self._hashed:
            self._digest.update(data)
            self._hashed += len(data)
        else:
            self._hashed = -1

    def hexdigest(self, size: int) -> str | None:
        """The SHA-256 of the `size` bytes written, or None when they were not all hashed in order."""
        return self._digest.hexdigest() if self._hashed == size else None


class S3Source:
    """The objects under s3://bucket/prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        retry: RetryPolicy | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        part_bytes: int = DEFAULT_PART_BYTES,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        presigned_gets: bool = True,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.retry = retry or RetryPolicy()
        self.part_bytes = max(1, part_bytes)
        self.multipart_threshold = max(self.part_bytes, multipart_threshold)
        core = botocore.session.get_session()
        # timestamps stay strings: sync never reads LastModified, and parsing one per key is most of the listing's CPU
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
        try:
            session = boto3.session.Session(profile_name=profile, region_name=region, botocore_session=core)
        except botocore.exceptions.ProfileNotFound as error:
            raise CredentialsError(f"the AWS profile {profile!r} is not configured ({error.__class__.__name__})") \
                from None
        # one data loader per process: parsing botocore's JSON service models is most of a client's creation time
        # (registered after the boto3 session, which reads the profile and adds its own resource-model path)
        core.register_component("data_loader", _shared_data_loader(core.get_config_variable("data_path")))
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            # integrity: the sha256 of release.json, checked for every object it lists (see the module docstring)
            response_checksum_validation="when_required",
            signature_version="s3v4",  # presigned GETs too (botocore would presign S3 URLs with the legacy SigV2)
            request_checksum_calculation="when_required",
            max_pool_connections=max_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            tcp_keepalive=True,
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        try:
            self._client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        except ValueError as error:
            raise SourceError(f"invalid S3 endpoint {endpoint_url!r}: {error}") from None
        self._client.meta.events.register("before-parse.s3.ListObjectsV2", _take_listed_contents)
        self._known: dict[str, ObjectInfo] = {}
        self._known_lock = threading.Lock()
        self._parts: ThreadPoolExecutor | None = None
        self._parts_lock = threading.Lock()
        self._max_connections = max_connections
        self._presigned_gets = presigned_gets
        self._signer = PresignedGetSigner(self._client, session, bucket, PRESIGNED_SECONDS)

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> S3Source:
        bucket, prefix = parse_s3_uri(uri)
        return cls(bucket, prefix, **options)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def close(self) -> None:
        with self._parts_lock:
            if self._parts is not None:
                self._parts.shutdown(wait=True)
                self._parts = None

    # ---- errors and retries ---------------------------------------------------------------------------------

    def _classify(self, error: BaseException, key: str | None) -> BaseException:
        """The error to raise for `error`, or a _Retry when it is transient."""
        where = self.uri + (key or "")
        if isinstance(error, SourceError | _Retry):
            return error
        if isinstance(error, _TruncatedBody):
            return _Retry(f"truncated body ({error})")
        if isinstance(error, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
            return CredentialsError("no usable AWS credentials found: set AWS_PROFILE or --profile, run "
                                    "`aws sso login`, or configure ~/.aws/credentials")
        if SSO_EXCEPTIONS and isinstance(error, SSO_EXCEPTIONS):
            return CredentialsError(f"the AWS SSO session is missing or expired ({error.__class__.__name__}): "
                                    "run `aws sso login` for this profile")
        if isinstance(error, botocore.exceptions.ClientError):
            code, status = _error_code(error), _status(error)
            if code in CREDENTIAL_CODES:
                return CredentialsError(f"S3 rejected the AWS credentials ({code}) for {self.uri}: check the "
                                        "profile or the access key")
            if code == "NoSuchBucket":
                return MissingBucketError(f"the bucket {self.bucket!r} does not exist ({self.uri})")
            if code in ACCESS_CODES or status == 403:
                return AccessDeniedError(f"access denied to {where} ({code}): these credentials may not read it")
            if code in ("NoSuchKey", "404") or status == 404:
                return MissingObjectError(f"{where} is not in the bucket (deleted since the listing?)")
            if code in ("PreconditionFailed", "412") or status == 412:
                return ObjectFetchError(f"{where} changed while syncing; sync again")
            if code in RETRY_CODES or status >= 500:
                return _Retry(f"{code or status}")
            return SourceError(f"S3 error {code or status} reading {where}")
        if isinstance(error, botocore.exceptions.EndpointConnectionError):
            return _Retry(f"cannot connect to the S3 endpoint: {error}")
        if isinstance(error, RETRY_EXCEPTIONS + CHECKSUM_EXCEPTIONS):
            return _Retry(error.__class__.__name__)
        return error

    def _with_retries(self, what: str, key: str | None, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except Exception as error:  # noqa: BLE001 - classified below; unknown errors propagate unchanged
                outcome = self._classify(error, key)
                if not isinstance(outcome, _Retry):
                    if outcome is error:
                        raise
                    raise outcome from None
                attempt += 1
                if attempt >= self.retry.attempts:
                    target = self.uri + (key or "")
                    failure = ObjectFetchError if key is not None else SourceError
                    raise failure(f"{what} {target} failed after {attempt} attempts ({outcome})") from None
                time.sleep(self.retry.delay(attempt - 1))

    # ---- listing ----------------------------------------------------------------------------------------------

    def list_objects(self) -> Iterator[ObjectInfo]:
        """Every object under the prefix: the top level first, then its folders listed in parallel (each folder's
        pages in order, folders interleaved); a closed iterator stops the folder listings after their current page.
        """
        folders: list[str] = []
        for page in self._pages(self.prefix, delimiter="/"):
            yield from self._infos(page)
            folders.extend(str(p["Prefix"]) for p in page.get("CommonPrefixes", []) if p.get("Prefix"))
        if folders:
            yield from self._list_in_parallel(folders)

    def _split_after(self, folder: str, last_key: str) -> tuple[list[ObjectInfo], list[tuple[str, str | None]]] | None:
        """How to list the rest of a big `folder` whose first page ended at `last_key`, in parallel: the objects
        directly in it after that key, and (sub-folder, start-after key) pairs: the sub-folder holding `last_key`
        from there, the later sub-folders whole. None (list on, page by page) when that takes more than one
        delimiter page or more than LISTING_SPLIT_MAX_FOLDERS sub-folders."""
        page = next(self._pages(folder, delimiter="/", start_after=last_key))
        later = [str(p["Prefix"]) for p in page.get("CommonPrefixes", []) if p.get("Prefix")]
        if page.get("IsTruncated") or len(later) > LISTING_SPLIT_MAX_FOLDERS:
            return None
        rest = last_key[len(folder):]
        current = folder + rest.split("/", 1)[0] + "/" if "/" in rest else None
        parts: list[tuple[str, str | None]] = [(current, last_key)] if current is not None else []
        parts += [(subfolder, None) for subfolder in later if subfolder != current]
        return self._infos(page), parts

    def _pages(self, prefix: str, delimiter: str | None = None, start_after: str | None = None
               ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": 1000}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            if token:
                kwargs["ContinuationToken"] = token
            elif start_after:
                kwargs["StartAfter"] = start_after

            def list_page(kw: dict[str, Any] = kwargs) -> dict[str, Any]:
                result: dict[str, Any] = self._client.list_objects_v2(**kw)
                return result

            page = self._with_retries("listing", None, list_page)
            yield page
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def _infos(self, page: dict[str, Any]) -> list[ObjectInfo]:
        infos: list[ObjectInfo] = []
        for item in page.get("Contents", []):
            full = str(item["Key"])
            if not full.startswith(self.prefix) or full.endswith("/"):
                continue
            infos.append(ObjectInfo(full[len(self.prefix):], int(item["Size"]), str(item["ETag"]).strip('"')))
        with self._known_lock:
            self._known.update((info.key, info) for info in infos)
        return infos

    def _list_in_parallel(self, folders: list[str]) -> Iterator[ObjectInfo]:
        """List `folders` on LISTING_THREADS threads. A folder whose first page is not the whole of it is split:
        the rest of it is listed as its sub-folders, in parallel too (see _split_after), so a big folder made of a
        few sub-folders (the studies of imaging/) is not listed one 1,000-key page after the other, and a small
        folder costs one request."""
        results: queue.Queue[list[ObjectInfo] | tuple[str, str | None] | BaseException | None] = queue.Queue()
        stop = threading.Event()

        def list_folder(folder: str, start_after: str | None, split: bool) -> None:
            try:
                pages = self._pages(folder, start_after=start_after)
                for page in pages:
                    if stop.is_set():
                        return
                    results.put(self._infos(page))
                    contents = page.get("Contents") or []
                    if split and page.get("IsTruncated") and contents:
                        split = False
                        parts = self._split_after(folder, str(contents[-1]["Key"]))
                        if parts is not None:
                            infos, subfolders = parts
                            results.put(infos)
                            for part in subfolders:
                                results.put(part)  # the consumer lists it (before this task's end is counted)
                            return
            except BaseException as error:  # handed to the consumer, raised there
                results.put(error)
            finally:
                results.put(None)

        pool = ThreadPoolExecutor(max_workers=LISTING_THREADS, thread_name_prefix="kfexplorer-list")
        running = 0
        try:
            for folder in folders:
                pool.submit(list_folder, folder, None, True)
                running += 1
            while running:
                item = results.get()
                if item is None:
                    running -= 1
                elif isinstance(item, tuple):
                    pool.submit(list_folder, item[0], item[1], False)
                    running += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield from item
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def _info(self, key: str) -> ObjectInfo:
        with self._known_lock:
            known = self._known.get(key)
        if known is not None:
            return known
        head = self._with_retries("HEAD", key, lambda: self._client.head_object(Bucket=self.bucket,
                                                                                Key=self.prefix + key))
        info = ObjectInfo(key, int(head["ContentLength"]), str(head["ETag"]).strip('"'))
        with self._known_lock:
            self._known[key] = info
        return info

    # ---- downloads --------------------------------------------------------------------------------------------

    def _get_range(self, info: ObjectInfo, start: int, end: int, write: Callable[[int, bytes], None],
                   progress: BytesProgress | None) -> None:
        """Write bytes [start, end) of the object through `write(offset, data)`, resuming after transient errors."""
        position = start
        reported = start  # progress counts each byte once, also when a corrupt body restarts from `start`

        def attempt() -> None:
            nonlocal position, reported
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.prefix + info.key,
                                      "IfMatch": f'"{info.etag}"'}
            if position > 0 or end < info.size:
                kwargs["Range"] = f"bytes={position}-{end - 1}"
            body = self._open_body(kwargs)
            try:
                while position < end:
                    chunk = body.read(min(READ_CHUNK_BYTES, end - position))
                    if not chunk:
                        break
                    write(position, chunk)
                    position += len(chunk)
                    if progress is not None and position > reported:
                        progress(position - reported)
                        reported = position
                if position < end:
                    raise _TruncatedBody(f"{position - start} of {end - start} bytes")
                if body.read(1):
                    raise ObjectFetchError(f"{self.uri}{info.key} is longer than listed; sync again")
            except CHECKSUM_EXCEPTIONS:
                position = start  # the bytes written may be wrong: fetch the whole range again
                raise
            finally:
                body.close()

        self._with_retries("download of", info.key, attempt)

    def _open_body(self, kwargs: dict[str, Any]) -> Any:
        """The body stream of a GetObject with `kwargs` (Bucket, Key, IfMatch, Range): by default a presigned URL
        sent through botocore's own HTTP session (same pool, proxies, CA bundle and timeouts), signed by
        kfexplorer.sync.presigned_gets; botocore's get_object when S3 redirects to
        another region (then for the rest of this source's life) or with `presigned_gets=False`."""
        if self._presigned_gets:
            url = self._signer.sign(kwargs["Key"])
            headers = {"If-Match": kwargs["IfMatch"]}
            if "Range" in kwargs:
                headers["Range"] = kwargs["Range"]
            request = AWSRequest("GET", url, headers=headers, stream_output=True).prepare()
            response = self._client._endpoint.http_session.send(request)
            if response.status_code < 300:
                return response.raw
            error = _client_error(response.status_code, response.content)
            if response.status_code not in (301, 307, 400) or _error_code(error) not in REDIRECT_CODES | {"301", "307"}:
                raise error
            self._presigned_gets = False
        return self._client.get_object(**kwargs)["Body"]

    def _part_pool(self) -> ThreadPoolExecutor:
        with self._parts_lock:
            if self._parts is None:
                self._parts = ThreadPoolExecutor(max_workers=max(2, self._max_connections // 2),
                                                 thread_name_prefix="kfexplorer-s3-part")
            return self._parts

    def fetch(self, key: str, dest: Path, progress: BytesProgress | None = None) -> str | None:
        """Download `key` to `dest`. An object fetched in one GET is hashed (SHA-256) as its bytes arrive, and the
        digest returned, so the transfer need not read the file again; a multipart download returns None."""
        info = self._info(key)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if info.size == 0:
                return hashlib.sha256().hexdigest()
            if info.size <= self.multipart_threshold:
                stream = _StreamDigest(fd)
                self._get_range(info, 0, info.size, stream.write, progress)
                return stream.hexdigest(info.size)
            os.ftruncate(fd, info.size)
            pool = self._part_pool()

            def write(offset: int, data: bytes) -> None:
                _write_all(fd, data, offset)

            futures = [pool.submit(self._get_range, info, start, min(info.size, start + self.part_bytes), write,
                                   progress) for start in range(0, info.size, self.part_bytes)]
            errors = [f.exception() for f in futures]
            first = next((e for e in errors if e is not None), None)
            if first is not None:
                raise first
            return None
        finally:
            os.close(fd)

    def read_bytes(self, key: str) -> bytes:
        def attempt() -> bytes:
            response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            body = response["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
            expected = response.get("ContentLength")
            if isinstance(expected, int) and len(data) != expected:
                raise _TruncatedBody(f"{len(data)} of {expected} bytes")
            return data

        return self._with_retries("read of", key, attempt)
