"""Export a cohort: its rows of one kind to CSV / TSV / Parquet (or its FHIR Group), with the sidecar beside it.

`export_cohort` works on an open connection (a worker's cursor); `export_cohort_in_cache` opens the cache
read-only first (as the CLI does). Both stream through DuckDB COPY (kfexplorer.export.copy_writer) with progress
and cancel, and leave nothing under the target name when cancelled or failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from kfexplorer.export.cohort_rows import EXPORT_KINDS, ExportError, RowsQuery, rows_query, table_columns
from kfexplorer.export.copy_writer import copy_to_file, format_for
from kfexplorer.export.fhir_group import cohort_group
from kfexplorer.export.sidecar import (
    build_sidecar,
    participants_sha256,
    release_facts,
    sidecar_path,
    write_json_atomically,
)
from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent, no_progress
from kfexplorer.query.compiler import compile_cohort, ontology_term_ids
from kfexplorer.query.model import Cohort, QueryError
from kfexplorer.store.cache import connect
from kfexplorer.store.preaggregates import preaggregates_ready

# Clinical tables whose cohort rows the sidecar counts (cheap); the exported table is always counted.
COUNTED_TABLES: tuple[str, ...] = ("participants", "diagnoses", "phenotypes", "biospecimens", "files")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sidecar: Path
    what: str
    file_format: str
    rows: int
    bytes: int
    participants: int
    participants_sha256: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "sidecar": str(self.sidecar), "what": self.what, "format": self.file_format,
                "rows": self.rows, "bytes": self.bytes, "participants": self.participants,
                "participants_sha256": self.participants_sha256, "seconds": round(self.seconds, 3)}


def _term_labels(con: duckdb.DuckDBPyConnection, cohort: Cohort) -> dict[str, str]:
    ids = sorted(ontology_term_ids(cohort))
    if not ids:
        return {}
    try:
        rows = con.execute(f"SELECT id, label FROM ontology_terms WHERE id IN ({', '.join('?' for _ in ids)})",
                           ids).fetchall()
    except duckdb.CatalogException:
        return {}
    return {str(r[0]): str(r[1]) for r in rows if r[1] is not None}


def _cohort_counts(con: duckdb.DuckDBPyConnection, members_sql: str, params: tuple[Any, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in COUNTED_TABLES:
        if not table_columns(con, table):
            continue
        counts[table] = int(con.execute(
            f"SELECT count(*) FROM {table} x WHERE x.participant_id IN ({members_sql})", list(params)
        ).fetchall()[0][0])
    return counts


def export_cohort(
    con: duckdb.DuckDBPyConnection,
    cohort: Cohort,
    what: str,
    out: Path,
    *,
    file_format: str | None = None,
    columns: Sequence[str] | None = None,
    safe: bool | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExportResult:
    """Write `what` of `cohort` to `out` and its sidecar to `out.cohort.json`.

    `safe` (spreadsheet safety) defaults to on for CSV / TSV and is ignored for Parquet and JSON."""
    started = time.perf_counter()
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    out = Path(out)
    if what not in EXPORT_KINDS:
        raise ExportError(f"cannot export {what!r} (choose one of: {', '.join(EXPORT_KINDS)})")
    cursor = con.cursor()
    try:
        try:
            preaggregated = preaggregates_ready(cursor)
            compiled = compile_cohort(cohort, _term_labels(cursor, cohort), preaggregated=preaggregated)
        except QueryError as error:
            raise ExportError(str(error)) from error
        progress(ProgressEvent("cohort", 0, 0, "its participants"))
        members = cursor.execute(
            f"SELECT m.participant_id, p.fhir_id FROM ({compiled.sql}) m "
            "LEFT JOIN (SELECT participant_id, any_value(fhir_id) AS fhir_id FROM participants GROUP BY ALL) p "
            "USING (participant_id) ORDER BY m.participant_id",
            list(compiled.params),
        ).fetchall()
        cancel.raise_if_cancelled()
        ids = [str(row[0]) for row in members]
        sha256 = participants_sha256(ids)
        release = release_facts(cursor)
        row_counts = _cohort_counts(cursor, compiled.sql, compiled.params)
        cancel.raise_if_cancelled()
        export_facts: dict[str, Any] = {"what": what, "file": out.name}
        if what == "fhir-group":
            group = cohort_group([(str(a), str(b) if b is not None else None) for a, b in members],
                                 name=cohort.name, description=compiled.description, sha256=sha256,
                                 release_id=release.release_id)
            cancel.raise_if_cancelled()
            write_json_atomically(out, group)
            rows, size, chosen = len(members), out.stat().st_size, "json"
            export_facts.update({"format": "fhir+json", "resource": "Group"})
        else:
            chosen = format_for(out, file_format)
            neutralise = (chosen != "parquet") if safe is None else (safe and chosen != "parquet")
            query: RowsQuery = rows_query(cursor, cohort, what, columns=columns, safe=neutralise,
                                         preaggregated=preaggregated)
            written = copy_to_file(cursor, query.sql, query.params, out, chosen, progress=progress, cancel=cancel)
            rows, size = written.rows, written.bytes
            row_counts[what] = rows
            export_facts.update({"format": chosen, "table": query.table, "columns": list(query.columns),
                                 "spreadsheet_safe": neutralise, "export_sql": query.sql,
                                 "export_params": _jsonable(query.params)})
        sidecar = build_sidecar(cohort=cohort, description=compiled.description, sql=compiled.sql,
                                params=_jsonable(compiled.params), release=release, participant_ids=ids,
                                row_counts=row_counts, export=export_facts)
        side = sidecar_path(out)
        try:
            write_json_atomically(side, sidecar)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    finally:
        cursor.close()
    return ExportResult(out, side, what, chosen, rows, size, len(ids), sha256, time.perf_counter() - started)


def _jsonable(values: Sequence[Any]) -> list[Any]:
    return [v if isinstance(v, str | int | float | bool) or v is None else json.dumps(v, default=str)
            for v in values]


EXPORT_MEMORY_LIMIT = "150MB"  # a code constant (SET takes no bound parameter for it)
SPILL_FOLDER = "spill"


def export_cohort_in_cache(cache_dir: Path, cohort: Cohort, what: str, out: Path, **options: Any) -> ExportResult:
    """Open the cache read-only (CacheBusyError / CacheMissingError as kfexplorer.store.cache says) and export."""
    con = connect(cache_dir, read_only=True)
    try:
        # This process owns the database instance: keep DuckDB's hash joins building on the side the SQL puts
        # there (the qualifying calls), never on the rows being written (measured: 5 GB vs 0.5 GB at 10 M calls).
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
        # Bounded memory: DuckDB's buffer pool would otherwise keep the scanned table's blocks (RSS growing with the
        # cache, ~340 MB at 10 M calls); at this limit it grows ~180 MB and spills what it must into the cache
        # folder (mode 0700: the spill holds health data), at about the same speed.
        spill = Path(cache_dir) / SPILL_FOLDER
        con.execute(f"SET memory_limit = '{EXPORT_MEMORY_LIMIT}'")
        con.execute("SET temp_directory = ?", [str(spill)])
        return export_cohort(con, cohort, what, out, **options)
    finally:
        con.close()
