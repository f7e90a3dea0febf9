"""A sync killed with SIGKILL leaves the previous state and the next sync converges; readers and writers lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from release_factory import ReleaseBuilder, occurrence_table, raw_counts

from kfexplorer.store.cache import CacheBusyError, connect
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import CRASH_HOOK_ENV, sync_release

SYNC_SCRIPT = "import sys; from pathlib import Path; from kfexplorer.sync.engine import sync_release; " \
              "sync_release(sys.argv[1], Path(sys.argv[2]))"
HOLD_SCRIPT = "import sys, time; from pathlib import Path; from kfexplorer.store.cache import connect; " \
              "con = connect(Path(sys.argv[1]), read_only=sys.argv[2] == 'ro'); print('ready', flush=True); " \
              "sys.stdin.readline()"


def variant_counts(cache_dir: Path) -> dict[str, int]:
    tables = cache_status(cache_dir)["tables"]
    return {name: tables[name] for name in ("occurrences", "variants", "consequences")}


def run_sync_killed_at(point: str, release_root: Path, cache_dir: Path) -> None:
    env = {**os.environ, CRASH_HOOK_ENV: point}
    done = subprocess.run([sys.executable, "-c", SYNC_SCRIPT, str(release_root), str(cache_dir)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr


@pytest.mark.parametrize("point", ["download", "ingest"])
def test_sigkill_before_commit_keeps_the_previous_state(release: ReleaseBuilder, cache_dir: Path, point: str) -> None:
    sync_release(str(release.root), cache_dir)
    old = variant_counts(cache_dir)
    assert old == raw_counts(release.root)
    release.write_table(release.occurrences_key("SD_AAAA", "1"), occurrence_table(77, "SD_AAAA", "1"))
    release.path("variants/variants/chromosome=X/part-0.parquet").unlink()
    release.write_bytes("notes/PT_0001/D1.txt", b"a new note")
    release.write_release_json()
    run_sync_killed_at(point, release.root, cache_dir)
    assert variant_counts(cache_dir) == old
    assert not (cache_dir / "files" / "notes" / "PT_0001" / "D1.txt").exists()
    report = sync_release(str(release.root), cache_dir).to_json()
    assert report["quarantined"] == []
    assert variant_counts(cache_dir) == raw_counts(release.root) != old
    assert (cache_dir / "files" / "notes" / "PT_0001" / "D1.txt").read_bytes() == b"a new note"
    assert list((cache_dir / "partial").iterdir()) == []


def test_sigkill_between_commit_and_file_moves_converges(release: ReleaseBuilder, cache_dir: Path) -> None:
    release.write_bytes("notes/PT_0001/D1.txt", b"old")
    release.write_bytes("notes/PT_0001/D2.txt", b"to be deleted")
    release.write_release_json()
    sync_release(str(release.root), cache_dir)
    release.write_bytes("notes/PT_0001/D1.txt", b"new")  # same size as before: only the etag tells
    os.utime(release.path("notes/PT_0001/D1.txt"), ns=(1, 1))
    release.path("notes/PT_0001/D2.txt").unlink()
    run_sync_killed_at("commit", release.root, cache_dir)
    # the committed state is readable; the next sync (even with nothing new to plan) finishes the file moves
    assert variant_counts(cache_dir) == raw_counts(release.root)
    report = sync_release(str(release.root), cache_dir).to_json()
    assert report["planned"]["objects"] == 0
    notes = cache_dir / "files" / "notes" / "PT_0001"
    assert (notes / "D1.txt").read_bytes() == b"new"
    assert not (notes / "D2.txt").exists()
    assert list((cache_dir / "partial").iterdir()) == []


def hold_connection(cache_dir: Path, mode: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, str(cache_dir), mode], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    return holder


def release_holder(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(timeout=30)


def test_status_reads_while_another_process_reads_and_writers_are_refused(
    release: ReleaseBuilder, cache_dir: Path
) -> None:
    sync_release(str(release.root), cache_dir)
    holder = hold_connection(cache_dir, "ro")
    try:
        assert variant_counts(cache_dir) == raw_counts(release.root)
        release.write_table(release.occurrences_key("SD_AAAA", "1"), occurrence_table(3, "SD_AAAA", "1"))
        with pytest.raises(CacheBusyError, match="in use by another kfexplorer process"):
            sync_release(str(release.root), cache_dir)
    finally:
        release_holder(holder)
    assert variant_counts(cache_dir) != raw_counts(release.root)  # the refused sync changed nothing


def test_a_writer_blocks_readers_and_a_second_writer(release: ReleaseBuilder, cache_dir: Path) -> None:
    sync_release(str(release.root), cache_dir)
    holder = hold_connection(cache_dir, "rw")
    try:
        with pytest.raises(CacheBusyError) as busy:
            cache_status(cache_dir)
        assert "\n" not in str(busy.value) and str(cache_dir) in str(busy.value)
        with pytest.raises(CacheBusyError):
            connect(cache_dir, read_only=False)
    finally:
        release_holder(holder)
    assert variant_counts(cache_dir) == raw_counts(release.root)
