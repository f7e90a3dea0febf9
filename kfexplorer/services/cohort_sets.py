"""Set operations on cohorts and Venn counts, Qt-free.

Union / intersection / difference build cohort *trees* with the model's `or` / `and` / `not`, so the result stays a
query that follows the cache (never a frozen list of ids). Venn counts for 2–3 cohorts come from one DuckDB query:
every participant of any cohort gets a bit mask of the cohorts it belongs to, then the masks are counted.

A Venn region is named by its mask: bit i set means "in cohort i" (region 0b011 of three cohorts is "in A and B,
not in C"). `region_cohort` turns a region into a cohort tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from kfexplorer.query.compiler import compile_cohort
from kfexplorer.query.model import Cohort, Group, Node, Not, QueryError, Value


def union(cohorts: Sequence[Cohort], name: str = "") -> Cohort:
    """Participants in any of `cohorts`."""
    return Cohort(Group("or", tuple(c.root for c in cohorts)), name)


def intersection(cohorts: Sequence[Cohort], name: str = "") -> Cohort:
    """Participants in all of `cohorts`."""
    return Cohort(Group("and", tuple(c.root for c in cohorts)), name)


def difference(first: Cohort, others: Sequence[Cohort], name: str = "") -> Cohort:
    """Participants in `first` and in none of `others`."""
    return Cohort(Group("and", (first.root, *(Not(c.root) for c in others))), name)


def _check_venn_size(count: int) -> None:
    if not 2 <= count <= 3:
        raise QueryError(f"a Venn diagram takes 2 or 3 cohorts, not {count}")


def venn_regions(count: int) -> list[int]:
    """The region masks of a Venn of `count` cohorts: 1 … 2**count - 1 (every non-empty combination)."""
    _check_venn_size(count)
    return list(range(1, 2 ** count))


def region_cohort(cohorts: Sequence[Cohort], mask: int, name: str = "") -> Cohort:
    """The cohort of one Venn region: in every cohort whose bit is set in `mask`, in none of the others."""
    _check_venn_size(len(cohorts))
    if not 0 < mask < 2 ** len(cohorts):
        raise QueryError(f"no Venn region {mask} for {len(cohorts)} cohorts")
    parts: list[Node] = [c.root if mask >> i & 1 else Not(c.root) for i, c in enumerate(cohorts)]
    return Cohort(Group("and", tuple(parts)), name)


def region_words(names: Sequence[str], mask: int) -> str:
    """"A and B, not C" for region `mask` of cohorts named `names`."""
    inside = [n for i, n in enumerate(names) if mask >> i & 1]
    outside = [n for i, n in enumerate(names) if not mask >> i & 1]
    text = " and ".join(inside) + (" only" if len(inside) == 1 and outside else "")
    return text + (", not " + " or ".join(outside) if outside and len(inside) > 1 else "")


@dataclass(frozen=True)
class VennCounts:
    """Participants per region (`regions[mask]`, every mask present, zeros included) and per cohort."""

    regions: dict[int, int]
    totals: tuple[int, ...]

    @property
    def union(self) -> int:
        return sum(self.regions.values())


def venn_sql(cohorts: Sequence[Cohort]) -> tuple[str, list[Value]]:
    """One query yielding (mask, participants) for every non-empty region of the cohorts."""
    _check_venn_size(len(cohorts))
    selects: list[str] = []
    params: list[Value] = []
    for index, cohort in enumerate(cohorts):
        compiled = compile_cohort(cohort)
        selects.append(f"SELECT participant_id, {1 << index:d} AS bit FROM ({compiled.sql}) AS cohort_{index:d}")
        params.extend(compiled.params)
    sql = (
        "SELECT mask, count(*) AS participants FROM ("
        "SELECT participant_id, bit_or(bit) AS mask FROM (" + " UNION ALL ".join(selects) + ") AS tagged "
        "GROUP BY participant_id) AS members GROUP BY mask ORDER BY mask"
    )
    return sql, params


def venn_counts(con: duckdb.DuckDBPyConnection, cohorts: Sequence[Cohort]) -> VennCounts:
    """Counts of every region of the Venn of 2–3 cohorts, in one query (pass a cursor from worker threads)."""
    sql, params = venn_sql(cohorts)
    found = {int(mask): int(count) for mask, count in con.execute(sql, params).fetchall()}
    regions = {mask: found.get(mask, 0) for mask in venn_regions(len(cohorts))}
    totals = tuple(sum(n for mask, n in regions.items() if mask >> i & 1) for i in range(len(cohorts)))
    return VennCounts(regions, totals)
