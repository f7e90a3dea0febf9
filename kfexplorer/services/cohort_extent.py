"""How far a cohort reaches beyond its participants: its variants and its imaging series (the toolbar's
"· V variants · S imaging series", UI.md).

- variants: the distinct variants (`locus_id`) of the cohort's calls — its members' carried calls (`has_alt`) that
  satisfy the cohort's variant criteria, all their carried calls when it has none (CACHE.md "What the variants of a
  cohort means"); the call filter is the export's (kfexplorer.export.cohort_rows.cohort_calls_filter);
- imaging series: the distinct series of `imaging_series` (the release's FHIR ImagingStudy series) of its members.

At 100 M calls the distinct count takes seconds, so the window runs this in its own cancellable job after the
participant count is shown; a cancel interrupts the running query. A cache without a table counts 0 of its kind.
Values are bound parameters only.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from kfexplorer.export.cohort_rows import cohort_calls_filter
from kfexplorer.progress import CancelToken
from kfexplorer.query.compiler import compile_cohort
from kfexplorer.query.model import Cohort
from kfexplorer.services.facet_queries import interrupt_on_cancel
from kfexplorer.store.preaggregates import preaggregates_ready


@dataclass(frozen=True)
class CohortExtent:
    """The cohort's distinct variants and imaging series."""

    variants: int
    imaging_series: int

    @property
    def words(self) -> str:
        """"48,211 variants · 96 imaging series"."""
        return f"{self.variants:,} variants · {self.imaging_series:,} imaging series"


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: tuple[object, ...]) -> int:
    try:
        rows = con.execute(sql, list(params)).fetchall()
    except duckdb.CatalogException:  # no such table in this cache (no variants / no imaging synced)
        return 0
    return int(rows[0][0] or 0)


def cohort_variant_count(con: duckdb.DuckDBPyConnection, cohort: Cohort) -> int:
    """The distinct variants of the cohort's calls."""
    predicate, params = cohort_calls_filter(cohort, preaggregated=preaggregates_ready(con))
    return _count(con, f"SELECT count(DISTINCT o.locus_id) FROM occurrences o WHERE {predicate}", params)


def cohort_series_count(con: duckdb.DuckDBPyConnection, cohort: Cohort) -> int:
    """The distinct imaging series of the cohort's members."""
    members = compile_cohort(cohort, preaggregated=preaggregates_ready(con))
    return _count(con, "SELECT count(DISTINCT ise.series_instance_uid) FROM imaging_series ise "
                       f"WHERE ise.participant_id IN ({members.sql})", members.params)


def cohort_extent(con: duckdb.DuckDBPyConnection, cohort: Cohort, cancel: CancelToken | None = None) -> CohortExtent:
    """Both counts (the series first: it is the cheap one); `cancel` interrupts the running query (Cancelled)."""
    with interrupt_on_cancel(con, cancel):
        series = cohort_series_count(con, cohort)
        if cancel is not None:
            cancel.raise_if_cancelled()
        variants = cohort_variant_count(con, cohort)
    if cancel is not None:
        cancel.raise_if_cancelled()
    return CohortExtent(variants, series)
