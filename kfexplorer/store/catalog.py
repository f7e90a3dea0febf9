"""The catalog of synced objects, the quarantine and the release metadata, read and written in the cache.

One catalog row per release object sync has seen (kept as data, as a file, or quarantined): its key (release
relative path), kind, size, etag, sha256 (from release.json when it lists one) and whether it was quarantined.
A quarantined object keeps its catalog row, so an unchanged bad object is not fetched again on every sync;
its quarantine rows carry its `_source_id` and go when the object changes or disappears.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from kfexplorer.store.records import QuarantineItem
from kfexplorer.store.schema import existing_tables


@dataclass(frozen=True)
class CatalogEntry:
    source_id: int
    key: str
    kind: str
    size: int
    etag: str | None
    sha256: str | None
    quarantined: bool


def read_catalog(con: duckdb.DuckDBPyConnection) -> dict[str, CatalogEntry]:
    """Every catalog row by key (empty when the cache has no catalog yet)."""
    if "catalog" not in existing_tables(con):
        return {}
    rows = con.execute(
        "SELECT source_id, key, kind, size, etag, sha256, quarantined FROM catalog ORDER BY source_id"
    ).fetchall()
    return {row[1]: CatalogEntry(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6])) for row in rows}


def next_source_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT coalesce(max(source_id), 0) + 1 FROM catalog").fetchall()[0][0])


def upsert_catalog_entry(con: duckdb.DuckDBPyConnection, entry: CatalogEntry, exists: bool) -> None:
    """Insert a new catalog row, or update the row of `entry.source_id` (its key never changes)."""
    if exists:
        con.execute(
            "UPDATE catalog SET kind = ?, size = ?, etag = ?, sha256 = ?, quarantined = ?, synced_at = current_timestamp "
            "WHERE source_id = ?",
            [entry.kind, entry.size, entry.etag, entry.sha256, entry.quarantined, entry.source_id],
        )
    else:
        con.execute(
            "INSERT INTO catalog (source_id, key, kind, size, etag, sha256, quarantined, synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, current_timestamp)",
            [entry.source_id, entry.key, entry.kind, entry.size, entry.etag, entry.sha256, entry.quarantined],
        )


def delete_catalog_entries(con: duckdb.DuckDBPyConnection, source_ids: Sequence[int]) -> None:
    if source_ids:
        con.execute("DELETE FROM catalog WHERE list_contains(?, source_id)", [list(source_ids)])


def add_quarantine(
    con: duckdb.DuckDBPyConnection, items: Iterable[QuarantineItem], kind: str | None, source_id: int | None
) -> None:
    rows = [[item.path, item.reason, kind, source_id] for item in items]
    if rows:
        con.executemany(
            'INSERT INTO quarantine (path, reason, "at", kind, _source_id) VALUES (?, ?, current_timestamp, ?, ?)', rows
        )


def read_quarantine(con: duckdb.DuckDBPyConnection) -> list[QuarantineItem]:
    if "quarantine" not in existing_tables(con):
        return []
    rows = con.execute("SELECT path, reason FROM quarantine ORDER BY path, reason").fetchall()
    return [QuarantineItem(row[0], row[1]) for row in rows]


def read_release_meta(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The release.json content of the synced release, or None when no sync has completed."""
    if "release_meta" not in existing_tables(con):
        return None
    rows = con.execute("SELECT json FROM release_meta LIMIT 1").fetchall()
    if not rows:
        return None
    value = json.loads(rows[0][0])
    return value if isinstance(value, dict) else None


def write_release_meta(con: duckdb.DuckDBPyConnection, release: dict[str, Any]) -> None:
    con.execute("DELETE FROM release_meta")
    title = release.get("title")
    con.execute(
        "INSERT INTO release_meta (release_id, schema_version, title, json) VALUES (?, ?, ?, ?)",
        [str(release["release_id"]), int(release["schema_version"]), title if isinstance(title, str) else None,
         json.dumps(release, sort_keys=True)],
    )


def replace_warnings(con: duckdb.DuckDBPyConnection, origin: str, messages: Sequence[str]) -> None:
    """Replace the stored warnings of one origin (e.g. 'fhir', 'agreement') with `messages`."""
    con.execute("DELETE FROM sync_warnings WHERE origin = ?", [origin])
    if messages:
        con.executemany("INSERT INTO sync_warnings (origin, message) VALUES (?, ?)", [[origin, m] for m in messages])


def read_warnings(con: duckdb.DuckDBPyConnection) -> list[str]:
    if "sync_warnings" not in existing_tables(con):
        return []
    return [row[0] for row in con.execute("SELECT message FROM sync_warnings ORDER BY origin, message").fetchall()]
