"""A full disk: a cache on an 8 MB tmpfs fails a sync with one clear line, and keeps its previous state."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from release_factory import ReleaseBuilder, occurrence_table, raw_counts

from kfexplorer.cli import main
from kfexplorer.store.cache import connect
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import DiskFullError, sync_release

TMPFS_SIZE = "8m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs mounted in tmp_path (needs root or CAP_SYS_ADMIN), unmounted afterwards."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: cannot make a small tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


def cache_state(cache_dir: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Row counts per table and the catalog (key → size): what must survive a failed sync."""
    tables = cache_status(cache_dir)["tables"]
    con = connect(cache_dir, read_only=True)
    try:
        catalog = {str(k): int(v) for k, v in con.execute("SELECT key, size FROM catalog").fetchall()}
    finally:
        con.close()
    return tables, catalog


def synced_cache_on(disk: Path, release: ReleaseBuilder, tmp_path: Path) -> Path:
    """A cache of `release` on `disk`: synced on a roomy disk, then copied (8 MB cannot also hold a sync's WAL)."""
    seed = tmp_path / "seed-cache"
    sync_release(str(release.root), seed)
    cache = disk / "cache"
    shutil.copytree(seed, cache)
    return cache


def random_occurrences(rows: int) -> pa.Table:
    """Occurrences that do not compress: their Parquet and DuckDB sizes are close to rows × ~100 bytes."""
    table = occurrence_table(rows, "SD_CCCC", "1")
    for name, width in (("an_extra_column", 60), ("participant_id", 30)):
        table = table.set_column(table.schema.get_field_index(name), name,
                                 pa.array([os.urandom(width).hex() for _ in range(rows)]))
    return table


def test_the_free_space_check_fails_with_one_line_and_changes_nothing(
    small_disk: Path, release: ReleaseBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = synced_cache_on(small_disk, release, tmp_path)
    before = cache_state(cache)
    assert {t: before[0][t] for t in ("occurrences", "variants", "consequences")} == raw_counts(release.root)
    release.write_bytes("notes/big-note.txt", b"x" * 6_000_000)
    release.write_release_json()
    code = main(["sync", str(release.root), "--cache", str(cache)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("kfexplorer: error: not enough free space"), err
    assert cache_state(cache) == before
    assert list((cache / "partial").iterdir()) == [] and list((cache / "files").rglob("*.txt")) == []


@pytest.mark.parametrize("stage", ["download", "ingest"])
def test_running_out_of_space_keeps_the_previous_state(
    small_disk: Path, release: ReleaseBuilder, tmp_path: Path, stage: str
) -> None:
    cache = synced_cache_on(small_disk, release, tmp_path)
    before = cache_state(cache)
    free = shutil.disk_usage(small_disk).free
    # download: a file larger than the free space; ingest: one that downloads, but whose rows do not fit beside it
    # (~200 bytes a row; the ingest case aims at half the free space, which the cache's own growth may have cut)
    rows = 30_000 if stage == "download" else max(2_000, int(free * 0.5 / 200))
    key = release.write_table(release.occurrences_key("SD_CCCC", "1"), random_occurrences(rows))
    size = (release.root / key).stat().st_size
    assert (size > free) if stage == "download" else (free / 3 < size < free * 0.8), (size, free)
    release.write_release_json()
    with pytest.raises(DiskFullError) as raised:
        sync_release(str(release.root), cache, check_space=False)
    message = str(raised.value)
    assert "is full" in message and "previous state" in message and "\n" not in message.strip(), message
    assert cache_state(cache) == before
    assert list((cache / "partial").iterdir()) == []
    # the cache still opens read-write and syncs: without the big object there is nothing else to do
    (release.root / key).unlink()
    release.write_release_json()
    report = sync_release(str(release.root), cache, check_space=False)
    assert set(report.details_json()["planned_by_kind"]) <= {"release"}  # release.json was rewritten, nothing else
    assert cache_state(cache) == before
