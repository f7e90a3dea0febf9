"""`kfexplorer status`: what the cache holds, read through a read-only connection.

Read-only, so it works while the app or another command holds the database read-only; a sync holding it
read-write makes it raise CacheBusyError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfexplorer.store.cache import CacheMissingError, connect
from kfexplorer.store.catalog import read_quarantine, read_release_meta, read_warnings
from kfexplorer.store.schema import existing_tables

RELEASE_DATA_TABLES: tuple[str, ...] = (
    "occurrences",
    "variants",
    "consequences",
    "participants",
    "studies",
    "families",
    "family_members",
    "diagnoses",
    "phenotypes",
    "biospecimens",
    "files",
    "imaging_studies",
    "imaging_series",
    "imaging_instances",
    "notes",
    "fhir_resources",
    "ontology_terms",
)


def cache_status(cache_dir: Path) -> dict[str, Any]:
    """The `kfexplorer status` JSON: release_id, cache, row counts per release-data table, quarantine, warnings.

    A table the cache does not have (yet) counts 0. Raises CacheMissingError when no sync has completed.
    """
    con = connect(cache_dir, read_only=True)
    try:
        release = read_release_meta(con)
        if release is None:
            raise CacheMissingError(f"the cache {cache_dir} holds no synced release; run `kfexplorer sync` first")
        present = existing_tables(con)
        counts: dict[str, int] = {}
        for table in RELEASE_DATA_TABLES:
            # table names come from the constant above, never from input
            counts[table] = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]) if table in present else 0
        return {
            "release_id": str(release["release_id"]),
            "cache": str(Path(cache_dir).resolve()),
            "tables": counts,
            "quarantined": [{"path": item.path, "reason": item.reason} for item in read_quarantine(con)],
            "warnings": read_warnings(con),
        }
    finally:
        con.close()
