"""Faults between boto3 and a real S3 endpoint, injected by a proxy: retried transient failures, one-line errors for
the permanent ones, and a partial failure that names what did not land and keeps what did."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from s3_support import FAKE_ENV, FAST_RETRY, Fault, FaultProxy, source_for, upload_subset

from kfexplorer.cli import main
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import ReleaseNotFoundError, sync_release
from kfexplorer.sync.s3_source import RetryPolicy, S3Source
from kfexplorer.sync.source import (
    AccessDeniedError,
    CredentialsError,
    MissingBucketError,
    ObjectFetchError,
    SourceError,
)


def _subset(key: str) -> bool:
    return key.startswith(("fhir/Patient/", "fhir/ResearchSubject/", "notes/")) or "chromosome=1/" in key


@pytest.fixture(scope="module")
def fault_bucket(moto_endpoint: str, small_release: Path) -> tuple[str, list[str]]:
    return upload_subset(moto_endpoint, small_release, _subset)


@pytest.fixture
def proxy(fault_proxy: FaultProxy) -> FaultProxy:
    fault_proxy.clear()
    return fault_proxy


def largest(keys: list[str], root: Path) -> str:
    return max(keys, key=lambda k: (root / k).stat().st_size)


@pytest.mark.parametrize("action", ["drop", "reset", "500", "503", "truncate", "short"])
@pytest.mark.parametrize("ranged", [False, True])
def test_transient_faults_are_retried_and_the_bytes_are_whole(
    action: str, ranged: bool, proxy: FaultProxy, fault_bucket: tuple[str, list[str]], small_release: Path,
    tmp_path: Path,
) -> None:
    bucket, keys = fault_bucket
    key = largest(keys, small_release)
    raw = (small_release / key).read_bytes()
    options = {"part_bytes": 16 * 1024, "multipart_threshold": 32 * 1024} if ranged else {}
    assert not ranged or len(raw) > 3 * 16 * 1024
    source = source_for(proxy.endpoint, bucket, **options)
    assert sum(1 for info in source.list_objects() if info.key == key) == 1
    proxy.add(Fault(action, path_part=f"/release/{key}", times=2))
    received: list[int] = []
    dest = tmp_path / "object"
    streamed_sha = source.fetch(key, dest, received.append)
    assert dest.read_bytes() == raw
    # one GET: hashed as the bytes came, across resumes, equal to the file's hash; parts: left to the transfer
    assert streamed_sha == (None if ranged else hashlib.sha256(raw).hexdigest())
    assert [a for a, _ in proxy.injected] == [action, action]
    # progress counts every byte once, even when a body broke half-way and resumed
    assert sum(received) == len(raw)
    source.close()


def test_listing_and_release_json_survive_throttling(proxy: FaultProxy, fault_bucket: tuple[str, list[str]]) -> None:
    bucket, keys = fault_bucket
    proxy.add(Fault("503", path_part="list-type=2", times=2))
    proxy.add(Fault("reset", path_part="/release/release.json", times=1))
    source = source_for(proxy.endpoint, bucket)
    assert sorted(info.key for info in source.list_objects()) == sorted(keys)
    assert json.loads(source.read_bytes("release.json"))["release_id"]
    assert len(proxy.injected) == 3


def test_retries_give_up_with_backoff(proxy: FaultProxy, fault_bucket: tuple[str, list[str]], tmp_path: Path) -> None:
    bucket, keys = fault_bucket
    key = keys[-1]
    proxy.add(Fault("503", path_part=f"/release/{key}", times=100))
    policy = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.05)
    source = source_for(proxy.endpoint, bucket, retry=policy)
    list(source.list_objects())
    started = time.perf_counter()
    with pytest.raises(ObjectFetchError, match="failed after 4 attempts"):
        source.fetch(key, tmp_path / "x")
    assert len(proxy.injected) == 4
    assert time.perf_counter() - started < 2.0
    assert all(0 <= policy.delay(n) <= 0.05 for n in range(10))
    assert max(RetryPolicy(base_delay=1.0, max_delay=100).delay(5) for _ in range(50)) > 1.0  # grows with attempts


@pytest.mark.parametrize(("code", "error"), [("InvalidAccessKeyId", CredentialsError),
                                             ("SignatureDoesNotMatch", CredentialsError),
                                             ("AccessDenied", AccessDeniedError)])
def test_permanent_errors_are_one_clear_line(
    code: str, error: type[SourceError], proxy: FaultProxy, fault_bucket: tuple[str, list[str]], tmp_path: Path,
) -> None:
    bucket, _keys = fault_bucket
    proxy.add(Fault("403", path_part="/release/release.json", code=code, times=10))
    with pytest.raises(error) as raised:
        sync_release(source_for(proxy.endpoint, bucket), tmp_path / "cache")
    message = str(raised.value)
    assert "\n" not in message and code in message and FAKE_ENV["AWS_SECRET_ACCESS_KEY"] not in message
    assert len(proxy.injected) == 1  # not retried


def test_missing_bucket_prefix_profile_and_credentials(
    moto_endpoint: str, fault_bucket: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket, _keys = fault_bucket
    with pytest.raises(MissingBucketError, match="does not exist"):
        sync_release(source_for(moto_endpoint, "kf-no-such-bucket"), tmp_path / "cache")
    with pytest.raises(ReleaseNotFoundError, match="no release.json"):
        sync_release(source_for(moto_endpoint, bucket, prefix="wrong/"), tmp_path / "cache")
    assert main(["sync", "s3://kf-no-such-bucket/release/", "--endpoint-url", moto_endpoint, "--cache",
                 str(tmp_path / "cache")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "kf-no-such-bucket" in err and "does not exist" in err
    with pytest.raises(CredentialsError, match="profile"):
        S3Source(bucket, "release/", profile="kf-no-such-profile", endpoint_url=moto_endpoint)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(CredentialsError, match="no usable AWS credentials"):
        sync_release(source_for(moto_endpoint, bucket), tmp_path / "cache")


def test_partial_failure_names_what_did_not_land_and_keeps_the_rest(
    proxy: FaultProxy, fault_bucket: tuple[str, list[str]], small_release: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket, keys = fault_bucket
    cache = tmp_path / "cache"
    stuck = next(k for k in keys if k.startswith("notes/") and k.endswith(".txt"))
    proxy.add(Fault("500", path_part=f"/release/{stuck}", times=1000))
    proxy.add(Fault("503", path_part="/release/variants/", times=3))
    code = main(["sync", f"s3://{bucket}/release/", "--endpoint-url", proxy.endpoint, "--cache", str(cache),
                 "--json"])
    captured = capsys.readouterr()
    assert code == 1
    assert stuck in captured.err and "did not land" in captured.err and captured.err.count("\n") == 1
    report = json.loads(captured.out)
    assert report["transferred"]["objects"] == len(keys) - 1
    assert any(stuck in warning for warning in report["warnings"])
    assert not (cache / "files" / stuck).exists()
    landed = next(k for k in keys if k.startswith("notes/") and k != stuck)
    assert (cache / "files" / landed).read_bytes() == (small_release / landed).read_bytes()
    assert cache_status(cache)["tables"]["occurrences"] > 0
    proxy.clear()
    again = sync_release(source_for(proxy.endpoint, bucket), cache).to_json()
    assert again["transferred"]["objects"] == 1 and again["quarantined"] == []
    assert (cache / "files" / stuck).read_bytes() == (small_release / stuck).read_bytes()


def test_a_short_body_is_never_ingested(
    proxy: FaultProxy, fault_bucket: tuple[str, list[str]], small_release: Path, tmp_path: Path
) -> None:
    bucket, keys = fault_bucket
    parquet = next(k for k in keys if k.startswith("variants/occurrences/"))
    proxy.add(Fault("short", path_part=f"/release/{parquet}", times=1000))
    report = sync_release(source_for(proxy.endpoint, bucket, retry=FAST_RETRY), tmp_path / "cache")
    assert [f.path for f in report.failed] == [parquet]
    assert report.to_json()["quarantined"] == []


def test_a_corrupt_body_is_caught_by_the_release_sha256(
    proxy: FaultProxy, fault_bucket: tuple[str, list[str]], small_release: Path, tmp_path: Path
) -> None:
    """A body of the right length with one byte flipped: the digest taken while it streams in no longer matches
    release.json's sha256, so the object is quarantined and nothing of it lands; the next sync brings it whole."""
    bucket, keys = fault_bucket
    note = next(k for k in keys if k.startswith("notes/") and k.endswith(".txt"))
    raw = (small_release / note).read_bytes()
    proxy.add(Fault("corrupt", path_part=f"/release/{note}", times=1))
    cache = tmp_path / "cache"
    report = sync_release(source_for(proxy.endpoint, bucket), cache)
    assert [(a, note in p) for a, p in proxy.injected] == [("corrupt", True)]
    problems = {q.path: q.reason for q in report.quarantined}
    assert "sha256 mismatch" in problems[note]
    assert not (cache / "files" / note).exists()
    proxy.clear()
    again = sync_release(source_for(proxy.endpoint, bucket), cache)
    assert again.transferred.objects == 1 and again.quarantined == []
    assert (cache / "files" / note).read_bytes() == raw
