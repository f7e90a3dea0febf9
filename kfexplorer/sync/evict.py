"""Evict part of a synced release from the cache: the occurrences of some studies and/or chromosomes.

Eviction works on whole release objects, the unit sync tracks: an occurrences object goes when every one of its
rows belongs to the named studies (and chromosomes). Its rows leave every table with a `_source_id` column
(quarantine included) and its catalog row goes too, so a later sync that selects it brings it back. With
`--chromosomes` alone, the variants and consequences objects of those chromosomes go as well (nothing else of that
chromosome is left to annotate). An object whose rows mix named and other studies or chromosomes (a release not
partitioned as DATA_CONTRACT.md describes) is kept whole and named in the report.

Everything happens in one DuckDB transaction: an error or a crash leaves the previous state.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from kfexplorer.store.cache import CacheMissingError, connect, database_path
from kfexplorer.store.catalog import delete_catalog_entries, read_release_meta, replace_warnings
from kfexplorer.store.preaggregates import rebuild_preaggregates
from kfexplorer.store.schema import existing_tables, quote_identifier, tables_with_source_id
from kfexplorer.sync.engine import SyncError, occurrence_fhir_disagreements
from kfexplorer.sync.plan import normalize_chromosome

# kind of catalog object → the table its rows land in (code constants: used as SQL identifiers)
EVICTABLE_TABLES: dict[str, str] = {"occurrences": "occurrences", "variants": "variants",
                                    "consequences": "consequences"}


class EvictError(SyncError):
    """An eviction that cannot proceed, worded for the user in one line."""


@dataclass
class EvictReport:
    """What an eviction removed: objects (and their bytes) and rows per table; objects kept because they mix."""

    studies: list[str] | None
    chromosomes: list[str] | None
    objects: int = 0
    bytes: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    kept_mixed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "studies": self.studies,
            "chromosomes": self.chromosomes,
            "evicted": {"objects": self.objects, "bytes": self.bytes},
            "rows": dict(sorted(self.rows.items())),
            "kept_mixed": list(self.kept_mixed),
        }


def _partition_value(key: str, name: str) -> str | None:
    marker = f"{name}="
    for part in key.split("/"):
        if part.startswith(marker):
            return part[len(marker):]
    return None


def _row_match_sql(kind: str, studies: list[str] | None, chromosomes: list[str] | None) -> tuple[str, list[Any]]:
    """A predicate on the rows of `kind`'s table: the row belongs to the named studies and chromosomes."""
    clauses: list[str] = []
    params: list[Any] = []
    if studies is not None and kind == "occurrences":
        clauses.append("coalesce(list_contains(?, study_id), false)")
        params.append(studies)
    if chromosomes is not None:
        # the contract's chromosome names have no 'chr' prefix; tolerate one in the data
        clauses.append("coalesce(list_contains(?, CASE WHEN upper(chromosome) = 'MT' THEN 'M' "
                       "ELSE upper(regexp_replace(chromosome, '^chr', '', 'i')) END), false)")
        params.append(chromosomes)
    return " AND ".join(clauses) or "true", params


def _key_matches(key: str, kind: str, studies: list[str] | None, chromosomes: list[str] | None) -> bool:
    """For an object with no rows (empty or quarantined): do its key's partitions name the selection?"""
    if studies is not None and kind == "occurrences":
        study = _partition_value(key, "study_id")
        if study is None or study not in studies:
            return False
    if chromosomes is not None:
        chromosome = _partition_value(key, "chromosome")
        if chromosome is None or normalize_chromosome(chromosome) not in chromosomes:
            return False
    return True


def _objects_to_evict(
    con: duckdb.DuckDBPyConnection, kind: str, studies: list[str] | None, chromosomes: list[str] | None,
    report: EvictReport,
) -> list[tuple[int, int]]:
    """(source_id, size) of the catalog objects of `kind` that lie wholly inside the selection."""
    table = EVICTABLE_TABLES[kind]
    entries = con.execute("SELECT source_id, key, size FROM catalog WHERE kind = ? ORDER BY key", [kind]).fetchall()
    if not entries:
        return []
    counts: dict[int, tuple[int, int]] = {}
    if table in existing_tables(con):
        predicate, params = _row_match_sql(kind, studies, chromosomes)
        # table comes from EVICTABLE_TABLES, the predicate from code; values are bound
        rows = con.execute(
            f"SELECT _source_id, count(*), count(*) FILTER (WHERE {predicate}) FROM {table} GROUP BY _source_id",
            params,
        ).fetchall()
        counts = {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
    chosen: list[tuple[int, int]] = []
    for source_id, key, size in entries:
        total, matching = counts.get(int(source_id), (0, 0))
        if total == 0:
            if _key_matches(key, kind, studies, chromosomes):
                chosen.append((int(source_id), int(size)))
        elif matching == total:
            chosen.append((int(source_id), int(size)))
        elif matching > 0:
            report.kept_mixed.append(key)
    return chosen


def _clean_list(values: Collection[str] | None, normalize: bool) -> list[str] | None:
    if values is None:
        return None
    cleaned = sorted({(normalize_chromosome(v) if normalize else v.strip()) for v in values if v.strip()})
    return cleaned or None


def evict(
    cache_dir: Path,
    *,
    studies: Collection[str] | None = None,
    chromosomes: Collection[str] | None = None,
) -> EvictReport:
    """Remove the occurrences of `studies` (and/or `chromosomes`) from the cache in one transaction.

    With chromosomes and no studies, the variants and consequences of those chromosomes go too. Raises EvictError
    when neither is named, CacheMissingError for a cache never synced, CacheBusyError when another process has it.
    """
    study_list = _clean_list(studies, normalize=False)
    chromosome_list = _clean_list(chromosomes, normalize=True)
    if study_list is None and chromosome_list is None:
        raise EvictError("name what to evict: --studies and/or --chromosomes")
    cache_dir = Path(cache_dir)
    if not database_path(cache_dir).is_file():
        raise CacheMissingError(f"the cache {cache_dir} holds no synced release; nothing to evict")
    report = EvictReport(study_list, chromosome_list)
    kinds = ["occurrences"] if study_list is not None else list(EVICTABLE_TABLES)
    con = connect(cache_dir, read_only=False)
    try:
        if read_release_meta(con) is None:
            raise CacheMissingError(f"the cache {cache_dir} holds no synced release; nothing to evict")
        con.execute("BEGIN TRANSACTION")
        try:
            chosen: list[tuple[int, int]] = []
            for kind in kinds:
                chosen += _objects_to_evict(con, kind, study_list, chromosome_list, report)
            source_ids = [source_id for source_id, _size in chosen]
            if source_ids:
                for table in tables_with_source_id(con):
                    # table names come from information_schema (tables the cache's own DDL made)
                    deleted = con.execute(
                        f"DELETE FROM {quote_identifier(table)} WHERE list_contains(?, _source_id)", [source_ids]
                    ).fetchall()
                    if table in EVICTABLE_TABLES.values():
                        report.rows[table] = int(deleted[0][0]) if deleted else 0
                delete_catalog_entries(con, source_ids)
                replace_warnings(con, "agreement", occurrence_fhir_disagreements(con))
                rebuild_preaggregates(con)  # kfexplorer.query.preaggregates: consistent with the variant tables
            report.objects = len(chosen)
            report.bytes = sum(size for _source_id, size in chosen)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return report


@dataclass(frozen=True)
class EvictableParts:
    """What a cache holds that `evict` can remove: the studies and chromosomes its variant objects are split by."""

    studies: list[str]
    chromosomes: list[str]


def evictable_parts(con: duckdb.DuckDBPyConnection) -> EvictableParts:
    """The study and chromosome partitions of the synced variant objects, from the catalog's keys (any open
    connection, read-only included; empty lists for a cache without a catalog)."""
    if "catalog" not in existing_tables(con):
        return EvictableParts([], [])
    rows = con.execute("SELECT key FROM catalog WHERE list_contains(?, kind) AND NOT quarantined",
                       [list(EVICTABLE_TABLES)]).fetchall()
    studies: set[str] = set()
    chromosomes: set[str] = set()
    for (key,) in rows:
        study = _partition_value(key, "study_id")
        chromosome = _partition_value(key, "chromosome")
        if study:
            studies.add(study)
        if chromosome:
            chromosomes.add(normalize_chromosome(chromosome))
    return EvictableParts(sorted(studies), sorted(chromosomes, key=_chromosome_order))


def _chromosome_order(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (100, name)
