"""The rows of a cohort in each exportable table, as one parameterised SELECT per kind of export.

A cohort selects participants (kfexplorer.query.compiler). Its rows in a clinical table are that table's rows of
those participants. Its *occurrences* are the carried calls (`has_alt`) of those participants that satisfy the
cohort's variant criteria, or all their carried calls when it has none; its *variants* are the variants of those
calls (CACHE.md "What the variants of a cohort means").

The cohort's variant criteria are the occurrence-level sub-expressions every member must satisfy: those reached
from the root through `and` only (the root itself when it is one variant expression; a `not` inside a variant
expression is per call, as the compiler has it). A variant expression under a `not` that also names participant
fields, or beside participant criteria under `or`, selects participants but not calls: it does not filter them.

Identifiers come from code constants and the cache's own catalogue (never from user text: a user's column choice
is checked against the table's columns); values are bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

import duckdb

from kfexplorer.export.spreadsheet_safety import clean_text_columns, is_text_type, neutralised_sql
from kfexplorer.query.compiler import compile_cohort, occurrence_filter, required_variant_criteria
from kfexplorer.query.model import Cohort, Node, QueryError, Value
from kfexplorer.store.schema import quote_identifier

# What can be exported, with the cache table it reads.
TABLE_KINDS: dict[str, str] = {
    "participants": "participants",
    "diagnoses": "diagnoses",
    "phenotypes": "phenotypes",
    "biospecimens": "biospecimens",
    "files": "files",
    "variants": "variants",
    "occurrences": "occurrences",
    "manifest": "files",
}
EXPORT_KINDS: tuple[str, ...] = (*TABLE_KINDS, "fhir-group")

# The columns of a file manifest, in order (the files table's names).
MANIFEST_COLUMNS: tuple[str, ...] = ("file_id", "file_name", "url", "size", "hash", "participant_id", "data_type",
                                     "format")

# Per-participant clinical tables: alias and sort order of an export.
_CLINICAL_ORDER: dict[str, tuple[str, ...]] = {
    "participants": ("participant_id",),
    "diagnoses": ("participant_id", "age_at_event_days", "code"),
    "phenotypes": ("participant_id", "age_at_event_days", "hpo_id"),
    "biospecimens": ("participant_id", "sample_id"),
    "files": ("participant_id", "file_id"),
}


class ExportError(ValueError):
    """An export that cannot run as asked, worded for the user in one line."""


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    sql_type: str


@dataclass(frozen=True)
class RowsQuery:
    """`sql` selects the rows to write (columns in `columns` order); run it with `params`."""

    kind: str
    table: str
    sql: str
    params: tuple[Value, ...]
    columns: tuple[str, ...]


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[ColumnInfo]:
    """The exportable columns of a cache table (bookkeeping columns, named `_…`, left out)."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
        "AND table_name = ? AND table_catalog = current_database() ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [ColumnInfo(str(name), str(sql_type)) for name, sql_type in rows if not str(name).startswith("_")]


def _choose_columns(available: Sequence[ColumnInfo], wanted: Sequence[str] | None, first: str | None,
                    table: str) -> list[ColumnInfo]:
    by_name = {c.name: c for c in available}
    if not by_name:
        raise ExportError(f"the cache holds no {table} table")
    if wanted:
        unknown = [name for name in wanted if name not in by_name]
        if unknown:
            raise ExportError(f"{table} has no column {unknown[0]!r} (it has: {', '.join(by_name)})")
        chosen = [by_name[name] for name in dict.fromkeys(wanted)]
    else:
        chosen = list(available)
    if first is not None and first in by_name:
        chosen = [by_name[first], *(c for c in chosen if c.name != first)]
    return chosen


def _select_list(alias: str, columns: Sequence[ColumnInfo], safe: bool, clean: Set[str] = frozenset()) -> str:
    """The columns, text ones neutralised when `safe` (except the `clean` ones, which need not be)."""
    parts = []
    for column in columns:
        ref = f"{alias}.{quote_identifier(column.name)}"
        if safe and is_text_type(column.sql_type) and column.name not in clean:
            parts.append(f"{neutralised_sql(ref)} AS {quote_identifier(column.name)}")
        else:
            parts.append(ref)
    return ", ".join(parts)


def variant_criteria(node: Node) -> Node | None:
    """The cohort's variant criteria (see the module note), as one node; None when it has none."""
    return required_variant_criteria(node)


def cohort_calls_filter(cohort: Cohort, *, preaggregated: bool = False) -> tuple[str, tuple[Value, ...]]:
    """A predicate on `occurrences o`: a carried call of the cohort's participants that satisfies its variant
    criteria; and its parameters."""
    members = compile_cohort(cohort, preaggregated=preaggregated)
    text = f"COALESCE(o.has_alt, FALSE) AND o.participant_id IN ({members.sql})"
    params: tuple[Value, ...] = members.params
    criteria = variant_criteria(cohort.root)
    if criteria is None:
        return text, params
    predicate, listed_params, sources = occurrence_filter(criteria)
    predicate_params = tuple(listed_params)
    if sources <= {"occurrences"}:
        # The predicate reads only the call itself: no join, inline it.
        return f"{text} AND {predicate}", params + predicate_params
    joins = ""
    if "variants" in sources:
        joins += " LEFT JOIN variants v ON v.locus_id = o.locus_id"
    if "consequences" in sources:
        joins += " LEFT JOIN consequences c ON c.locus_id = o.locus_id"
    # A call qualifies when one of its (variant, consequence) rows satisfies the whole expression. The cohort's
    # filter goes inside too, so the outer scan has no other filter and DuckDB builds the semi-join on the
    # (smaller) set of qualifying calls, not on the rows being written.
    semi = (f"SELECT o.rowid FROM occurrences o{joins} WHERE {text} AND {predicate}")
    return f"COALESCE(o.has_alt, FALSE) AND o.rowid IN ({semi})", params + predicate_params


def rows_query(con: duckdb.DuckDBPyConnection, cohort: Cohort, kind: str, *, columns: Sequence[str] | None = None,
               safe: bool = False, preaggregated: bool = False) -> RowsQuery:
    """The SELECT of `kind` rows of `cohort` (columns checked against the cache; text neutralised when `safe`;
    `preaggregated`: the cache holds kfexplorer.query.preaggregates' tables, as compile_cohort takes it)."""
    if kind not in TABLE_KINDS:
        raise ExportError(f"cannot export {kind!r} as a table (choose one of: {', '.join(TABLE_KINDS)})")
    table = TABLE_KINDS[kind]
    available = table_columns(con, table)
    try:
        members = compile_cohort(cohort, preaggregated=preaggregated)
    except QueryError as error:
        raise ExportError(str(error)) from error
    if kind == "manifest":
        chosen = _choose_columns(available, [c for c in MANIFEST_COLUMNS if c in {a.name for a in available}],
                                 None, table)
        select = _select_list("f", chosen, safe)
        sql = (f"SELECT {select} FROM files f WHERE f.participant_id IN ({members.sql}) "
               "ORDER BY f.participant_id, f.file_id")
        return RowsQuery(kind, table, sql, members.params, tuple(c.name for c in chosen))
    if kind == "occurrences":
        chosen = _choose_columns(available, columns, None, table)
        where, params = cohort_calls_filter(cohort, preaggregated=preaggregated)
        text_columns = [c.name for c in chosen if is_text_type(c.sql_type)]
        clean = clean_text_columns(con, table, text_columns) if safe else set()  # 10 M cells need no test
        sql = f"SELECT {_select_list('o', chosen, safe, clean)} FROM occurrences o WHERE {where}"
        return RowsQuery(kind, table, sql, params, tuple(c.name for c in chosen))
    if kind == "variants":
        chosen = _choose_columns(available, columns, None, table)
        where, params = cohort_calls_filter(cohort, preaggregated=preaggregated)
        carriers = (f"SELECT o.locus_id, count(DISTINCT o.participant_id) AS cohort_carriers FROM occurrences o "
                    f"WHERE {where} GROUP BY o.locus_id")
        sql = (f"SELECT {_select_list('v', chosen, safe)}, k.cohort_carriers FROM variants v "
               f"JOIN ({carriers}) k ON k.locus_id = v.locus_id ORDER BY v.chromosome, v.start, v.locus_id")
        return RowsQuery(kind, table, sql, params, (*(c.name for c in chosen), "cohort_carriers"))
    first = "participant_id"
    chosen = _choose_columns(available, columns, first, table)
    order = ", ".join(f"x.{quote_identifier(name)}" for name in _CLINICAL_ORDER[table]
                      if name in {a.name for a in available})
    sql = (f"SELECT {_select_list('x', chosen, safe)} FROM {table} x WHERE x.participant_id IN ({members.sql})"
           f"{' ORDER BY ' + order if order else ''}")
    return RowsQuery(kind, table, sql, members.params, tuple(c.name for c in chosen))
