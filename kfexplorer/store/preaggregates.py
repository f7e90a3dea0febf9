"""Build the pre-aggregated tables of kfexplorer.query.preaggregates, and tell whether a cache has them.

`rebuild_preaggregates` runs inside the caller's transaction (the sync's ingest transaction, an eviction), after
the variant tables changed, so the tables are always consistent with `occurrences` / `variants` / `consequences`:
a rolled-back sync or eviction rolls them back too. A cache without them (synced by an older version, or with a
different PREAGGREGATE_VERSION) is still fully queryable: the compiler then stays on the general path.
"""

from __future__ import annotations

import duckdb

from kfexplorer.query.preaggregates import META_TABLE, PREAGGREGATE_VERSION, preaggregate_tables
from kfexplorer.store.schema import existing_tables

_VARIANT_TABLES = ("occurrences", "variants", "consequences")


def rebuild_preaggregates(con: duckdb.DuckDBPyConnection) -> None:
    """Recreate every pre-aggregated table from the variant tables (call inside a transaction)."""
    present = existing_tables(con)
    if not all(table in present for table in _VARIANT_TABLES):
        return
    for table, select in preaggregate_tables().items():
        # table names and SELECTs are code constants (kfexplorer.query.preaggregates)
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"CREATE TABLE {table} AS {select}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (version INTEGER NOT NULL, built_at TIMESTAMP NOT NULL)")
    con.execute(f"DELETE FROM {META_TABLE}")
    con.execute(f"INSERT INTO {META_TABLE} VALUES (?, current_timestamp)", [PREAGGREGATE_VERSION])


def preaggregates_ready(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the cache holds the pre-aggregated tables of the current PREAGGREGATE_VERSION."""
    present = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()", [META_TABLE]).fetchall()[0][0]
    if not present:
        return False
    rows = con.execute(f"SELECT max(version) FROM {META_TABLE}").fetchall()
    return bool(rows and rows[0][0] == PREAGGREGATE_VERSION)
