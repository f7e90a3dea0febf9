"""The cache folder: private folders, safe paths for untrusted keys, clear errors, idempotent schema."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest

from kfexplorer.store.cache import (
    DUCKDB_CONFIG,
    CacheMissingError,
    UnsafePathError,
    connect,
    ensure_cache_layout,
    safe_cache_path,
)
from kfexplorer.store.schema import SCHEMA_VERSION, create_schema, schema_is_current, tables_with_source_id
from kfexplorer.store.status import cache_status


def test_layout_is_created_private(tmp_path: Path) -> None:
    cache = tmp_path / "a" / "cache"
    ensure_cache_layout(cache)
    for folder in (tmp_path / "a", cache, cache / "files", cache / "partial"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "", "a\\..\\b", "C:/x", "a/\x00"])
def test_unsafe_keys_are_rejected(tmp_path: Path, key: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_cache_path(tmp_path, key)


def test_safe_path_stays_inside_and_refuses_symlink_escapes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ensure_cache_layout(cache)
    assert safe_cache_path(cache, "notes/PT_1/d.txt") == cache / "files" / "notes" / "PT_1" / "d.txt"
    (cache / "files" / "imaging").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError):
        safe_cache_path(cache, "imaging/x.dcm")


def test_reading_a_cache_that_was_never_synced(tmp_path: Path) -> None:
    with pytest.raises(CacheMissingError):
        connect(tmp_path / "nothing", read_only=True)
    with pytest.raises(CacheMissingError):
        cache_status(tmp_path / "nothing")
    connect(tmp_path / "empty", read_only=False).close()  # a database without a completed sync
    with pytest.raises(CacheMissingError):
        cache_status(tmp_path / "empty")


def test_schema_is_idempotent_and_versioned() -> None:
    con = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    assert not schema_is_current(con)
    create_schema(con)
    create_schema(con)
    assert schema_is_current(con)
    assert con.execute("SELECT count(*), max(version) FROM schema_version").fetchall() == [(1, SCHEMA_VERSION)]
    assert {"occurrences", "variants", "consequences", "quarantine"} <= set(tables_with_source_id(con))
    assert "catalog" not in tables_with_source_id(con)
