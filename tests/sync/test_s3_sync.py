"""Sync from a real S3 endpoint (moto in server mode over HTTP): counts, incremental re-sync, deletes, selection,
the free-space check and the command line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from s3_support import FAKE_ENV, FaultProxy, parquet_rows, s3_client, source_for, upload_subset

from kfexplorer.cli import main
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import InsufficientSpaceError, sync_release
from kfexplorer.sync.plan import SyncSelection


def object_gets(proxy: FaultProxy) -> list[str]:
    """Object downloads seen by the proxy (listing and release.json reads left out)."""
    return [path for method, path in proxy.requests
            if method == "GET" and "list-type=2" not in path and not path.split("?")[0].endswith("/release.json")]


def raw_patients(root: Path) -> int:
    return sum(1 for line in (root / "fhir" / "Patient" / "Patient.ndjson").read_text().splitlines() if line.strip())


def variant_counts(cache: Path) -> dict[str, int]:
    tables = cache_status(cache)["tables"]
    return {name: tables[name] for name in ("occurrences", "variants", "consequences")}


def test_s3_release_syncs_then_resyncs_only_what_changed(
    moto_endpoint: str, fault_proxy: FaultProxy, uploaded: tuple[str, list[str]], small_release: Path,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    bucket, keys = uploaded
    cache = tmp_path / "cache"
    # the first sync through the command line, as a user runs it
    code = main(["sync", f"s3://{bucket}/release", "--cache", str(cache), "--endpoint-url", moto_endpoint,
                 "--region", "us-east-1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    sizes = {key: (small_release / key).stat().st_size for key in keys}
    assert report["planned"] == {"objects": len(keys), "bytes": sum(sizes.values())}
    assert report["transferred"] == report["planned"] and report["quarantined"] == []
    assert report["transfer_seconds"] > 0 and report["ingest_seconds"] > 0
    assert FAKE_ENV["AWS_SECRET_ACCESS_KEY"] not in out + err
    assert variant_counts(cache) == parquet_rows(small_release)
    assert cache_status(cache)["tables"]["participants"] == raw_patients(small_release)
    note_key = next(k for k in keys if k.startswith("notes/") and k.endswith(".txt"))
    assert (cache / "files" / note_key).read_bytes() == (small_release / note_key).read_bytes()

    source = source_for(fault_proxy.endpoint, bucket)
    fault_proxy.clear()
    again = sync_release(source, cache).to_json()
    assert again["transferred"]["objects"] == 0 and again["planned"]["objects"] == 0
    assert again["skipped"]["objects"] == len(keys) and object_gets(fault_proxy) == []

    # re-upload one object with other bytes (and release.json, which lists its size and sha256): only they move
    client = s3_client(moto_endpoint)
    new_note = b"a rewritten note"
    release_json = json.loads((small_release / "release.json").read_text())
    release_json["files"][note_key] = {"size": len(new_note), "sha256": hashlib.sha256(new_note).hexdigest()}
    client.put_object(Bucket=bucket, Key="release/" + note_key, Body=new_note)
    client.put_object(Bucket=bucket, Key="release/release.json", Body=json.dumps(release_json).encode())
    fault_proxy.clear()
    touched = sync_release(source, cache).to_json()
    assert touched["transferred"]["objects"] == 2 and touched["quarantined"] == []
    assert [p.split("?")[0] for p in object_gets(fault_proxy)] == [f"/{bucket}/release/{note_key}"]
    assert (cache / "files" / note_key).read_bytes() == new_note
    # a re-upload of the same bytes keeps the ETag: nothing to do
    client.put_object(Bucket=bucket, Key="release/" + note_key, Body=new_note)
    assert sync_release(source, cache).to_json()["transferred"]["objects"] == 0

    # delete one occurrences partition: its rows leave the cache, nothing else moves
    gone = next(k for k in keys if k.startswith("variants/occurrences/"))
    client.delete_object(Bucket=bucket, Key="release/" + gone)
    deleted = sync_release(source, cache).to_json()
    assert deleted["deleted"] == {"objects": 1, "bytes": sizes[gone]} and deleted["transferred"]["objects"] == 0
    expected = parquet_rows(small_release)
    expected["occurrences"] -= pq.read_metadata(small_release / gone).num_rows
    assert variant_counts(cache) == expected


def _partition(key: str, name: str) -> str | None:
    return next((p.split("=", 1)[1] for p in key.split("/") if p.startswith(name + "=")), None)


def test_selection_prunes_the_plan_and_a_full_sync_completes_it(
    moto_endpoint: str, uploaded: tuple[str, list[str]], small_release: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket, keys = uploaded
    cache = tmp_path / "cache"
    study = sorted({_partition(k, "study_id") for k in keys if _partition(k, "study_id")})[0]
    assert study is not None
    # --dry-run prints the plan with sizes per kind and writes nothing
    code = main(["sync", f"s3://{bucket}/release/", "--cache", str(cache), "--endpoint-url", moto_endpoint,
                 "--studies", study, "--chromosomes", "1,chrX", "--include", "variants,notes", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "occurrences" in out and "notes" in out and "imaging" not in out and "bytes" in out
    assert not (cache / "kfexplorer.duckdb").exists()

    selection = SyncSelection.parse(studies=study, chromosomes="1,chrX", include="variants,notes")
    report = sync_release(source_for(moto_endpoint, bucket), cache, selection=selection).to_json()

    def selected(key: str) -> bool:
        if key == "release.json" or key.startswith("notes/"):
            return True
        if not key.startswith("variants/") or _partition(key, "chromosome") not in ("1", "X"):
            return False
        return _partition(key, "study_id") in (None, study)

    wanted = [k for k in keys if selected(k)]
    assert report["planned"]["objects"] == len(wanted) == report["transferred"]["objects"]
    occurrence_files = [small_release / k for k in wanted if k.startswith("variants/occurrences/")]
    assert occurrence_files and cache_status(cache)["tables"]["occurrences"] == sum(
        pq.read_metadata(p).num_rows for p in occurrence_files)
    assert cache_status(cache)["tables"]["imaging_instances"] == 0
    # the full sync brings the rest and deletes nothing
    full = sync_release(source_for(moto_endpoint, bucket), cache).to_json()
    assert full["transferred"]["objects"] == len(keys) - len(wanted) and full["deleted"]["objects"] == 0
    assert variant_counts(cache) == parquet_rows(small_release)
    # a narrower sync afterwards leaves what it does not select alone
    narrow = sync_release(source_for(moto_endpoint, bucket), cache, selection=selection).to_json()
    assert narrow["deleted"]["objects"] == 0 and narrow["planned"]["objects"] == 0
    with pytest.raises(ValueError, match="unknown --include part"):
        SyncSelection.parse(include="variants,videos")


def test_free_space_is_checked_before_downloading(
    moto_endpoint: str, fault_proxy: FaultProxy, small_release: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket, _keys = upload_subset(moto_endpoint, small_release, lambda key: key.startswith("variants/variants/"))
    monkeypatch.setattr("kfexplorer.sync.engine.free_bytes", lambda path: 10 * 1024 * 1024)
    fault_proxy.clear()
    with pytest.raises(InsufficientSpaceError, match="not enough free space.*MB free"):
        sync_release(source_for(fault_proxy.endpoint, bucket), tmp_path / "cache")
    assert object_gets(fault_proxy) == []
