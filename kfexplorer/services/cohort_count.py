"""Count a cohort on a cache: run the compiled SQL read-only; the participants' SHA-256; attrition.

`participants_sha256` is the SHA-256 of the sorted participant ids joined by "\\n" (CACHE.md, `kfexplorer count`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from kfexplorer.export.sidecar import cohort_document, participants_sha256
from kfexplorer.query.compiler import (
    attrition_steps,
    compile_cohort,
    compile_facet,
    compile_facets,
    describe,
    ontology_term_ids,
)
from kfexplorer.query.model import Cohort, QueryError, cohort_from_json, is_cohort_document
from kfexplorer.query.sqon import cohort_from_sqon
from kfexplorer.store.cache import connect
from kfexplorer.store.preaggregates import preaggregates_ready


@dataclass(frozen=True)
class AttritionStep:
    criterion: str
    count: int


@dataclass(frozen=True)
class CohortCount:
    count: int
    participant_ids: tuple[str, ...]
    participants_sha256: str
    release_id: str | None
    description: str
    sql: str
    params: tuple[Any, ...]
    attrition: tuple[AttritionStep, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON `kfexplorer count --json` prints (CACHE.md)."""
        payload: dict[str, Any] = {
            "count": self.count,
            "participants_sha256": self.participants_sha256,
            "release_id": self.release_id,
            "description": self.description,
            "sql": self.sql,
        }
        if self.attrition is not None:
            payload["attrition"] = [{"criterion": step.criterion, "count": step.count} for step in self.attrition]
        return payload


def parse_cohort_document(data: Any, sets: Mapping[str, Sequence[str]] | None = None) -> Cohort:
    """Our cohort JSON, an export's sidecar (FILE.cohort.json: its cohort), or else a SQON (Kids First portal /
    Arranger)."""
    data = cohort_document(data)
    if is_cohort_document(data):
        return cohort_from_json(data)
    return cohort_from_sqon(data, sets)


def read_cohort_file(path: Path, sets: Mapping[str, Sequence[str]] | None = None) -> Cohort:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise QueryError(f"{path} is not JSON: {error.msg} (line {error.lineno})") from None
    return parse_cohort_document(data, sets)


def term_labels(con: duckdb.DuckDBPyConnection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    ordered = sorted(ids)
    rows = con.execute(
        f"SELECT id, label FROM ontology_terms WHERE id IN ({', '.join('?' for _ in ordered)})", ordered
    ).fetchall()
    return {str(row[0]): str(row[1]) for row in rows if row[1] is not None}


def release_id(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute("SELECT release_id FROM release_meta LIMIT 1").fetchall()
    except duckdb.CatalogException:
        return None
    return str(rows[0][0]) if rows else None


def cohort_participants(con: duckdb.DuckDBPyConnection, cohort: Cohort) -> list[str]:
    compiled = compile_cohort(cohort, preaggregated=preaggregates_ready(con))
    return [str(row[0]) for row in con.execute(compiled.sql, list(compiled.params)).fetchall()]


def count_cohort(con: duckdb.DuckDBPyConnection, cohort: Cohort, *, attrition: bool = False) -> CohortCount:
    """Count `cohort` on an open cache connection (one cursor per thread: pass a cursor from worker threads)."""
    labels = term_labels(con, ontology_term_ids(cohort))
    preaggregated = preaggregates_ready(con)
    compiled = compile_cohort(cohort, labels, preaggregated=preaggregated)
    ids = sorted(str(row[0]) for row in con.execute(compiled.sql, list(compiled.params)).fetchall())
    steps: tuple[AttritionStep, ...] | None = None
    if attrition:
        collected = []
        for node, partial in attrition_steps(cohort):
            step = compile_cohort(partial, preaggregated=preaggregated)
            count = con.execute(f"SELECT count(*) FROM ({step.sql})", list(step.params)).fetchall()[0][0]
            collected.append(AttritionStep(describe(node, labels), int(count)))
        steps = tuple(collected)
    return CohortCount(
        count=len(ids),
        participant_ids=tuple(ids),
        participants_sha256=participants_sha256(ids),
        release_id=release_id(con),
        description=compiled.description,
        sql=compiled.sql,
        params=compiled.params,
        attrition=steps,
    )


def facet_counts(con: duckdb.DuckDBPyConnection, cohort: Cohort, field: str) -> list[tuple[Any, int]]:
    """(value, participants) for a categorical / boolean field, ignoring the cohort's own criteria on it."""
    compiled = compile_facet(cohort, field, preaggregated=preaggregates_ready(con))
    return [(row[0], int(row[1])) for row in con.execute(compiled.sql, list(compiled.params)).fetchall()]


def facet_counts_many(
    con: duckdb.DuckDBPyConnection, cohort: Cohort, fields: Sequence[str]
) -> dict[str, list[tuple[Any, int]]]:
    """`facet_counts` of several fields in ONE query (fields that ignore nothing share the cohort's evaluation):
    field → [(value, participants)], each list in facet_counts' order."""
    if not fields:
        return {}
    compiled = compile_facets(cohort, fields, preaggregated=preaggregates_ready(con))
    row = con.execute(compiled.sql, list(compiled.params)).fetchall()[0]
    return {field: [(item["value"], int(item["participants"])) for item in (row[index] or [])]
            for index, field in enumerate(fields)}


def count_cohort_in_cache(cache_dir: Path, cohort: Cohort, *, attrition: bool = False) -> CohortCount:
    """Open the cache read-only (CacheBusyError / CacheMissingError as kfexplorer.store.cache says) and count."""
    con = connect(cache_dir, read_only=True)
    try:
        return count_cohort(con, cohort, attrition=attrition)
    finally:
        con.close()
