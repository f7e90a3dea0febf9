"""A sync from S3 (moto's real HTTP server) killed with SIGKILL at each point of issue #7 keeps the cache's previous
usable state, and the rerun converges on the release without downloading again what was complete and verified.

Points: mid-download (from the progress callback), after verify before ingest (`download`), mid-transaction
(`ingest`), with the catalog written just before COMMIT (`catalog`), while COMMIT runs (`during-commit`: the kill
lands during or right after it, so either state is fine, nothing in between) and right after the COMMIT (`commit`).
Oracles read the raw release files (pyarrow / the release folder); downloads are counted at the fault proxy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from s3_support import FAKE_ENV, FaultProxy, parquet_rows, s3_client, source_for, upload_subset

from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import CRASH_HOOK_ENV, sync_release

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "release/"
NEW_NOTE = "notes/PT_KILLTEST/new-note.txt"

KILLED_SYNC = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from kfexplorer.sync.engine import sync_release
    from kfexplorer.sync.s3_source import S3Source

    endpoint, bucket, cache, mid_download = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    source = S3Source(bucket, "release/", endpoint_url=endpoint, region="us-east-1")

    def progress(event):
        if mid_download and event.phase == "download" and event.total and event.done >= event.total * 0.5:
            os.kill(os.getpid(), signal.SIGKILL)

    sync_release(source, Path(cache), progress=progress, concurrency=1)
""")


def in_subset(key: str) -> bool:
    return key.startswith(("variants/", "fhir/Patient/", "fhir/ResearchSubject/", "fhir/ResearchStudy/"))


def variant_counts(cache: Path) -> dict[str, int]:
    tables = cache_status(cache)["tables"]
    return {name: tables[name] for name in ("occurrences", "variants", "consequences")}


def object_gets(proxy: FaultProxy) -> list[str]:
    """Object downloads seen by the proxy (listings and the release.json read left out)."""
    return [path for method, path in proxy.requests
            if method == "GET" and "list-type=2" not in path and not path.split("?")[0].endswith("/release.json")]


@pytest.fixture(scope="module")
def synced_before(moto_endpoint: str, small_release: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[Path, dict[str, int]]:
    """A cache synced from S3 with the subset of the release (copied for each test) and its raw variant counts."""
    bucket, _keys = upload_subset(moto_endpoint, small_release, in_subset)
    cache = tmp_path_factory.mktemp("s3kill") / "cache"
    sync_release(source_for(moto_endpoint, bucket), cache)
    old = parquet_rows(small_release)
    assert variant_counts(cache) == old
    return cache, old


def change_release(root: Path) -> list[str]:
    """Rewrite every occurrences object without its last row, delete one variants object, add a note; release.json
    lists the new sizes and sha256. Returns the changed and new keys (what the next sync must download)."""
    release = json.loads((root / "release.json").read_text())
    files = release["files"]
    changed: list[str] = []
    for path in sorted((root / "variants" / "occurrences").rglob("*.parquet")):
        table = pq.read_table(path)
        if table.num_rows < 2:
            continue
        pq.write_table(table.slice(0, table.num_rows - 1), path)
        changed.append(path.relative_to(root).as_posix())
    gone = sorted((root / "variants" / "variants").rglob("*.parquet"))[0]
    gone.unlink()
    del files[gone.relative_to(root).as_posix()]
    (root / NEW_NOTE).parent.mkdir(parents=True)
    (root / NEW_NOTE).write_bytes(b"a note added by the kill test\n")
    changed.append(NEW_NOTE)
    for key in changed:
        data = (root / key).read_bytes()
        files[key] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (root / "release.json").write_text(json.dumps(release))
    return changed


def publish(endpoint: str, bucket: str, root: Path, keys: list[str], deleted: list[str]) -> None:
    client = s3_client(endpoint)
    for key in [*keys, "release.json"]:
        client.put_object(Bucket=bucket, Key=PREFIX + key, Body=(root / key).read_bytes())
    for key in deleted:
        client.delete_object(Bucket=bucket, Key=PREFIX + key)


@pytest.mark.parametrize("point", ["mid-download", "download", "ingest", "catalog", "during-commit", "commit"])
def test_sigkill_at_each_point_keeps_a_usable_state_and_the_rerun_converges(
    point: str, moto_endpoint: str, fault_proxy: FaultProxy, small_release: Path,
    synced_before: tuple[Path, dict[str, int]], tmp_path: Path,
) -> None:
    template, old = synced_before
    cache = tmp_path / "cache"
    shutil.copytree(template, cache)
    root = tmp_path / "release"
    shutil.copytree(small_release, root)
    bucket, _keys = upload_subset(moto_endpoint, root, in_subset)
    variants_before = {p.relative_to(root).as_posix() for p in (root / "variants" / "variants").rglob("*.parquet")}
    changed = change_release(root)
    deleted = sorted(variants_before - {p.relative_to(root).as_posix()
                                        for p in (root / "variants" / "variants").rglob("*.parquet")})
    publish(moto_endpoint, bucket, root, changed, deleted)
    new = parquet_rows(root)
    assert new != old and len(changed) > 4

    env = {**os.environ, **FAKE_ENV, "PYTHONPATH": str(ROOT)}
    if point != "mid-download":
        env[CRASH_HOOK_ENV] = point
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_SYNC, moto_endpoint, bucket, str(cache), "1" if point == "mid-download" else "0"],
        env=env, capture_output=True, text=True, timeout=180)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    # the cache is readable and holds the previous state (or, killed after the COMMIT, the new one)
    after_kill = variant_counts(cache)
    note = cache / "files" / NEW_NOTE
    if point == "commit":
        assert after_kill == new
    elif point == "during-commit":
        assert after_kill in (old, new)
    else:
        assert after_kill == old
        assert not note.exists()
    verified = [p for p in (cache / "partial").iterdir() if not p.name.startswith("tmp-")]
    if point == "mid-download":
        assert 0 < len(verified) < len(changed)

    fault_proxy.clear()
    report = sync_release(source_for(fault_proxy.endpoint, bucket), cache)
    summary, details = report.to_json(), report.details_json()
    assert summary["quarantined"] == [] and details["failed"] == []
    assert variant_counts(cache) == new
    assert note.read_bytes() == (root / NEW_NOTE).read_bytes()
    assert list((cache / "partial").iterdir()) == []
    downloads = object_gets(fault_proxy)
    # nothing complete and verified before the kill is downloaded again
    if after_kill == new:  # committed: nothing left to plan
        assert summary["planned"]["objects"] == 0 and downloads == []
    else:
        assert details["resumed"]["objects"] == len(verified)
        assert summary["planned"]["objects"] == len(changed) + 1  # + release.json, changed too
        assert len(downloads) == summary["transferred"]["objects"] == summary["planned"]["objects"] - len(verified)
        if point != "mid-download":
            assert downloads == []  # every object was verified before the kill
    # a further sync is a no-op
    fault_proxy.clear()
    again = sync_release(source_for(fault_proxy.endpoint, bucket), cache).to_json()
    assert again["planned"]["objects"] == 0 and object_gets(fault_proxy) == []
