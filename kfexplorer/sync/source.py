"""Where a release is read from: the Source protocol and `open_source` for a URI.

A Source lists a release's objects (key = POSIX release-relative path, size, etag) and fetches one object's bytes
to a local file. Keys are untrusted: sync checks every key with `kfexplorer.store.cache.check_release_path` before
it touches the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlparse

# Called with the number of bytes written since the previous call.
BytesProgress = Callable[[int], None]


class SourceError(Exception):
    """A release source that cannot be opened or read, worded for the user in one line."""


class CredentialsError(SourceError):
    """No usable credentials: none found, an unknown key, a bad signature, an expired token or SSO session."""


class AccessDeniedError(SourceError):
    """The credentials work but may not read this bucket or prefix."""


class MissingBucketError(SourceError):
    """The bucket does not exist."""


class ObjectFetchError(SourceError):
    """One object could not be fetched (gone, changed or failing after retries); the others may still land."""


class MissingObjectError(ObjectFetchError):
    """The object is not (or no longer) in the release."""


@dataclass(frozen=True)
class ObjectInfo:
    """One object of a release: its release-relative POSIX key, size in bytes and an etag that changes with it."""

    key: str
    size: int
    etag: str


@runtime_checkable
class Source(Protocol):
    """A release root: a local folder or an S3 prefix."""

    @property
    def uri(self) -> str: ...

    def list_objects(self) -> Iterator[ObjectInfo]:
        """Every object under the release root (no folders)."""
        ...

    def fetch(self, key: str, dest: Path, progress: BytesProgress | None = None) -> str | None:
        """Write the bytes of object `key` to the local file `dest` (created or overwritten). Returns the SHA-256
        (hex) of the bytes written when the source hashed them as they arrived, in order, else None (the transfer
        then hashes the file)."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """The whole content of a small object such as release.json (raises KeyError-like SourceError if absent)."""
        ...


def open_source(
    uri: str, *, profile: str | None = None, region: str | None = None, endpoint_url: str | None = None
) -> Source:
    """A Source for a plain path, a file:// URI or s3://bucket/prefix (credentials the AWS way: environment, shared
    config and credentials files, SSO; `profile`, `region` and `endpoint_url` as the AWS CLI's options)."""
    from kfexplorer.sync.local_source import LocalSource

    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        from kfexplorer.sync.s3_source import S3Source

        return S3Source.from_uri(uri, profile=profile, region=region, endpoint_url=endpoint_url)
    if profile is not None or endpoint_url is not None:
        raise SourceError(f"--profile and --endpoint-url apply to s3:// sources only, not {uri}")
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise SourceError(f"file URI with a remote host is not supported: {uri}")
        return LocalSource(Path(unquote(parsed.path)))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise SourceError(f"unsupported release location {uri!r}: use a folder path, file:// or s3://")
    return LocalSource(Path(uri))
