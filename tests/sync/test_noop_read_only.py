"""A sync with nothing to do compares on a read-only connection: it never opens the database read-write, so it runs
while another process reads the cache; a sync with work then says the cache is busy, and keeps the verified
downloads a killed sync left for the next run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from release_factory import ReleaseBuilder, occurrence_table, raw_counts

from kfexplorer.store.cache import CacheBusyError
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import sync_release

HOLD_READ_ONLY = "import sys; from pathlib import Path; from kfexplorer.store.cache import connect; " \
                 "con = connect(Path(sys.argv[1]), read_only=True); print('ready', flush=True); sys.stdin.readline()"


def test_a_noop_sync_runs_beside_a_reader_and_writes_nothing(release: ReleaseBuilder, cache_dir: Path) -> None:
    sync_release(str(release.root), cache_dir)
    database = cache_dir / "kfexplorer.duckdb"
    before = (database.stat().st_mtime_ns, database.stat().st_size)
    reader = subprocess.Popen([sys.executable, "-c", HOLD_READ_ONLY, str(cache_dir)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        report = sync_release(str(release.root), cache_dir).to_json()
        assert report["planned"]["objects"] == 0 and report["skipped"]["objects"] > 0
        assert (database.stat().st_mtime_ns, database.stat().st_size) == before

        # with something to write, the reader blocks the write: one clear error, and the partial folder is kept
        release.write_table(release.occurrences_key("SD_AAAA", "1"), occurrence_table(5, "SD_AAAA", "1"))
        kept = cache_dir / "partial" / "left-by-a-killed-sync.parquet"
        kept.write_bytes(b"verified bytes")
        with pytest.raises(CacheBusyError, match="in use by another kfexplorer process"):
            sync_release(str(release.root), cache_dir)
        assert kept.read_bytes() == b"verified bytes"
    finally:
        assert reader.stdin is not None
        reader.stdin.write("\n")
        reader.stdin.flush()
        reader.wait(timeout=30)
    report = sync_release(str(release.root), cache_dir).to_json()
    assert report["planned"]["objects"] == 1
    tables = cache_status(cache_dir)["tables"]
    assert {name: tables[name] for name in ("occurrences", "variants", "consequences")} == raw_counts(release.root)
    assert list((cache_dir / "partial").iterdir()) == []
