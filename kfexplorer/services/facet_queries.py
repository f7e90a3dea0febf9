"""Facet queries of the Facets dock, Qt-free: value counts, ontology trees with roll-up, numeric histograms.

Every count is of distinct participants of the cohort *without the facet's own top-level criteria*
(`without_own_filter`: a criterion on the facet's field, negated by a NOT or not), as faceted search does. For occurrence-level fields (variant, consequence, occurrence) a
participant counts for a value when one of their carried calls (`has_alt`) has it.

- `value_counts`: (value, participants) of a categorical or boolean field (kfexplorer.query.compiler.compile_facet).
- `term_tree`: the terms of an ontology field present in the data *and their ancestors*; a term's count is the
  participants with the term or any descendant, each counted once (roll-up through `ontology_ancestors`).
- `histogram`: participants per bin of a numeric field (bins computed in DuckDB; AF fields on a log10 scale), with
  the participants whose value is missing.

Occurrence-level facets do not scan the occurrences for every edit: the distinct (participant, value) pairs of the
carried calls (for numeric fields: (participant, bin) over the whole cache's range) are read once per cache file and
field, kept in memory, and every edit only counts the cohort's participants among those pairs. The cache file's
path and modification time key them, so a sync that changes the file reads them again.

Values only ever become bound parameters; identifiers come from the field registry (kfexplorer.query.fields).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import duckdb
import pyarrow as pa

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.query.compiler import compile_cohort, compile_facet
from kfexplorer.query.fields import PARTICIPANT_SOURCES, FieldKind, FieldSpec, Level, field_spec
from kfexplorer.query.model import MISSING_VALUE, Cohort, Criterion, Group, Not, Value
from kfexplorer.store.preaggregates import preaggregates_ready

DEFAULT_BINS = 20
# Fields whose values span orders of magnitude (allele frequencies): binned on log10(value).
LOG_SCALE_FIELDS: frozenset[str] = frozenset({
    "variant.gnomad_genomes_3_af", "variant.gnomad_exomes_2_1_1_af", "variant.topmed_bravo_af",
    "variant.thousand_genomes_af",
})
LOG_FLOOR = 1e-7  # values at or below this (zero included) fall into the first bin of a log-scale histogram

_OCCURRENCE_JOINS = {
    "variants": " LEFT JOIN variants v ON v.locus_id = o.locus_id",
    "consequences": " LEFT JOIN consequences c ON c.locus_id = o.locus_id",
}


class FacetKind(Enum):
    VALUES = "values"
    TREE = "tree"
    HISTOGRAM = "histogram"


def facet_kind(spec: FieldSpec) -> FacetKind:
    """How the dock shows a field: a value list, an ontology tree or a histogram."""
    if spec.kind is FieldKind.ONTOLOGY:
        return FacetKind.TREE
    if spec.kind is FieldKind.NUMERIC:
        return FacetKind.HISTOGRAM
    if spec.kind in (FieldKind.CATEGORICAL, FieldKind.BOOLEAN):
        return FacetKind.VALUES
    raise ValueError(f"field {spec.name!r} ({spec.kind.value}) has no facet")


# --- results -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueCount:
    """One value of a facet (`MISSING_VALUE` for NULL) and its participants."""

    value: Value
    count: int


@dataclass(frozen=True)
class TermNode:
    """A term of an ontology tree: its participants (with it or a descendant) and its parents / children in the tree."""

    term_id: str
    label: str
    count: int
    parent_ids: tuple[str, ...]
    child_ids: tuple[str, ...]


@dataclass(frozen=True)
class TermTree:
    """The terms present in the data and their ancestors; `roots` are the terms without a parent in the tree."""

    nodes: Mapping[str, TermNode]
    roots: tuple[str, ...]

    def children(self, term_id: str) -> tuple[str, ...]:
        node = self.nodes.get(term_id)
        return node.child_ids if node is not None else ()

    def count(self, term_id: str) -> int:
        node = self.nodes.get(term_id)
        return node.count if node is not None else 0

    def path(self, term_id: str) -> tuple[str, ...]:
        """One path from a root down to `term_id` (through the first-listed parent at each step)."""
        path = [term_id]
        seen = {term_id}
        node = self.nodes.get(term_id)
        while node is not None and node.parent_ids:
            parent = next((p for p in node.parent_ids if p not in seen), None)
            if parent is None:
                break
            path.append(parent)
            seen.add(parent)
            node = self.nodes.get(parent)
        return tuple(reversed(path))

    def search(self, text: str, limit: int = 200) -> list[str]:
        """Terms whose label or id contains `text` (case-insensitive), largest count first."""
        needle = text.strip().lower()
        if not needle:
            return []
        found = [n for n in self.nodes.values() if needle in n.label.lower() or needle in n.term_id.lower()]
        found.sort(key=lambda n: (-n.count, n.label.lower()))
        return [n.term_id for n in found[:limit]]

    def with_ancestors(self, term_ids: Sequence[str]) -> set[str]:
        """`term_ids` and all their ancestors in the tree."""
        kept: set[str] = set()
        todo = [t for t in term_ids if t in self.nodes]
        while todo:
            term = todo.pop()
            if term in kept:
                continue
            kept.add(term)
            todo.extend(self.nodes[term].parent_ids)
        return kept


@dataclass(frozen=True)
class Histogram:
    """Participants per bin of a numeric field. `edges` has one more entry than `counts` (bin i is
    [edges[i], edges[i+1]), the last bin closed); `with_value` / `missing` are the participants with a value / with
    a row whose value is missing; `log_scale` when the bins are equal on log10(value)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    with_value: int
    missing: int
    log_scale: bool = False

    @property
    def lower(self) -> float | None:
        return self.edges[0] if self.edges else None

    @property
    def upper(self) -> float | None:
        return self.edges[-1] if self.edges else None


FacetResult = list[ValueCount] | TermTree | Histogram


@dataclass(frozen=True)
class FacetRequest:
    field: str
    bins: int = DEFAULT_BINS


@dataclass
class FacetResults:
    """What one facet job read: a result per field, and the fields the cache could not count (missing tables)."""

    results: dict[str, FacetResult] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


# --- SQL pieces --------------------------------------------------------------------------------------------------


def _field_rows_sql(spec: FieldSpec) -> str:
    """SELECT participant_id, value: one row per row of the field's source (carried calls for occurrence fields)."""
    if spec.level is Level.OCCURRENCE:
        joins = _OCCURRENCE_JOINS.get(spec.source, "")
        return (f"SELECT o.participant_id AS participant_id, {spec.column} AS value FROM occurrences o{joins} "
                "WHERE COALESCE(o.has_alt, FALSE) AND o.participant_id IS NOT NULL")
    source = PARTICIPANT_SOURCES[spec.source]
    condition = f" AND ({spec.condition})" if spec.condition else ""
    return (f"SELECT {source.participant_column} AS participant_id, {spec.column} AS value "
            f"FROM {source.from_sql} WHERE {source.participant_column} IS NOT NULL{condition}")


def _cohort_rows(cohort: Cohort, spec: FieldSpec, preaggregated: bool = False) -> tuple[str, list[Value]]:
    """The field's rows restricted to the cohort without the field's own criteria."""
    base = compile_cohort(cohort.without_field(spec.name), preaggregated=preaggregated)
    sql = f"SELECT participant_id, value FROM ({_field_rows_sql(spec)}) f WHERE participant_id IN ({base.sql})"
    return sql, list(base.params)


# --- queries -----------------------------------------------------------------------------------------------------


def value_counts(con: duckdb.DuckDBPyConnection, cohort: Cohort, field_name: str) -> list[ValueCount]:
    """(value, participants) of a categorical / boolean field, largest first; NULL comes back as MISSING_VALUE."""
    spec = field_spec(field_name)
    if spec.level is Level.OCCURRENCE and spec.kind in (FieldKind.CATEGORICAL, FieldKind.BOOLEAN):
        pairs = carrier_pairs(con, spec)
        base = compile_cohort(cohort.without_field(field_name), preaggregated=preaggregates_ready(con))
        with _registered(con, pairs) as view:
            rows = con.execute(
                f"SELECT value, count(DISTINCT participant_id) AS participants FROM {view} "
                f"WHERE participant_id IN ({base.sql}) GROUP BY value ORDER BY participants DESC, value",
                list(base.params),
            ).fetchall()
    else:
        compiled = compile_facet(cohort, field_name, preaggregated=preaggregates_ready(con))
        rows = con.execute(compiled.sql, list(compiled.params)).fetchall()
    return [ValueCount(_as_value(value), int(count)) for value, count in rows]


# --- carrier pairs of occurrence-level fields (read once per cache file) ------------------------------------------

_PAIRS_VIEW = "_kf_facet_pairs"
_pairs_lock = threading.Lock()
_pairs_memo: dict[tuple[str, int, str, int], tuple[pa.Table, tuple[float, ...]]] = {}


def _database_key(con: duckdb.DuckDBPyConnection) -> tuple[str, int] | None:
    """(path, mtime) of the connection's database file; None for an in-memory database (nothing is memoised)."""
    rows = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchall()
    path = str(rows[0][0]) if rows and rows[0][0] else ""
    if not path or not os.path.isfile(path):
        return None
    return path, os.stat(path).st_mtime_ns


def _memoised(con: duckdb.DuckDBPyConnection, field_name: str, bins: int,
              read: Any) -> tuple[pa.Table, tuple[float, ...]]:
    key = _database_key(con)
    memo_key = (*key, field_name, bins) if key is not None else None
    if memo_key is not None:
        with _pairs_lock:
            found = _pairs_memo.get(memo_key)
        if found is not None:
            return found
    result: tuple[pa.Table, tuple[float, ...]] = read()
    if memo_key is not None:
        with _pairs_lock:
            for stale in [k for k in _pairs_memo if k[0] == memo_key[0] and k[1] != memo_key[1]]:
                del _pairs_memo[stale]
            _pairs_memo[memo_key] = result
    return result


def carrier_pairs(con: duckdb.DuckDBPyConnection, spec: FieldSpec) -> pa.Table:
    """Distinct (participant_id, value) of the carried calls for an occurrence-level categorical field."""
    value = f"unnest({spec.column})" if spec.is_list else spec.column

    def read() -> tuple[pa.Table, tuple[float, ...]]:
        joins = _OCCURRENCE_JOINS.get(spec.source, "")
        table = con.sql(
            f"SELECT DISTINCT o.participant_id AS participant_id, {value} AS value FROM occurrences o{joins} "
            "WHERE COALESCE(o.has_alt, FALSE) AND o.participant_id IS NOT NULL"
        ).to_arrow_table()
        return table, ()

    return _memoised(con, spec.name, 0, read)[0]


def carrier_bins(con: duckdb.DuckDBPyConnection, spec: FieldSpec, bins: int) -> tuple[pa.Table, tuple[float, ...]]:
    """Distinct (participant_id, bin) of the carried calls for an occurrence-level numeric field, bins equal over
    the whole cache's range (log10 for LOG_SCALE_FIELDS); bin NULL = the value is missing. Also the scaled edges."""
    log_scale = spec.name in LOG_SCALE_FIELDS

    def read() -> tuple[pa.Table, tuple[float, ...]]:
        rows_sql = _field_rows_sql(spec)
        scaled = _scaled_value(log_scale)
        low, high = con.execute(f"SELECT min({scaled}), max({scaled}) FROM ({rows_sql}) r").fetchall()[0]
        if low is None or high is None:
            edges: tuple[float, ...] = ()
            bin_sql = "CAST(NULL AS BIGINT)"
            params: list[Value] = []
        elif float(high) == float(low):
            edges = (float(low), float(high))
            bin_sql = "CASE WHEN value IS NULL THEN NULL ELSE 0 END"
            params = []
        else:
            width = (float(high) - float(low)) / bins
            edges = tuple(float(low) + i * width for i in range(bins)) + (float(high),)
            # (least() skips NULLs too: a missing value keeps a NULL bin)
            bin_sql = f"CASE WHEN value IS NULL THEN NULL ELSE least(CAST(floor(({scaled} - ?) / ?) AS BIGINT), ?) END"
            params = [float(low), width, bins - 1]
        rows = con.execute(f"SELECT DISTINCT participant_id, {bin_sql} AS bin FROM ({rows_sql}) r", params).fetchall()
        table = pa.table({"participant_id": pa.array([r[0] for r in rows], pa.string()),
                          "bin": pa.array([r[1] for r in rows], pa.int64())})
        return table, edges

    return _memoised(con, spec.name, bins, read)


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, table: pa.Table) -> Iterator[str]:
    con.register(_PAIRS_VIEW, table)
    try:
        yield _PAIRS_VIEW
    finally:
        con.unregister(_PAIRS_VIEW)


def _scaled_value(log_scale: bool) -> str:
    # (greatest() skips NULLs: a missing value must stay NULL, not become the floor)
    if log_scale:
        return f"CASE WHEN value IS NULL THEN NULL ELSE log10(greatest(CAST(value AS DOUBLE), {LOG_FLOOR!r})) END"
    return "CAST(value AS DOUBLE)"


def _as_value(raw: Any) -> Value:
    if raw is None:
        return MISSING_VALUE
    if isinstance(raw, str | int | float | bool):
        return raw
    return str(raw)


def term_tree(con: duckdb.DuckDBPyConnection, cohort: Cohort, field_name: str) -> TermTree:
    """The ontology tree of `field_name` within the cohort (without the field's own criteria).

    Nodes are the terms of the field's ontology that participants of the cohort have, and all their ancestors;
    a node's count is the participants with it or any descendant (each once). Terms of other coding systems
    (e.g. ICD-10 codes in `diagnoses`) are not part of the tree."""
    spec = field_spec(field_name)
    if spec.kind is not FieldKind.ONTOLOGY or spec.ontology is None:
        raise ValueError(f"field {field_name!r} is not an ontology field")
    rows_sql, params = _cohort_rows(cohort, spec, preaggregates_ready(con))
    sql = f"""
        WITH present AS (SELECT DISTINCT participant_id, value AS term_id FROM ({rows_sql}) r
                         WHERE value IS NOT NULL),
        rolled AS (SELECT oa.ancestor_id AS term_id, count(DISTINCT p.participant_id) AS participants
                   FROM present p JOIN ontology_ancestors oa ON oa.id = p.term_id
                   JOIN ontology_terms t ON t.id = oa.ancestor_id AND t.ontology = ?
                   GROUP BY oa.ancestor_id),
        parents AS (SELECT oa.id AS term_id, list(oa.ancestor_id ORDER BY oa.ancestor_id) AS parent_ids
                    FROM ontology_ancestors oa
                    WHERE oa.distance = 1 AND oa.id IN (SELECT term_id FROM rolled)
                      AND oa.ancestor_id IN (SELECT term_id FROM rolled)
                    GROUP BY oa.id)
        SELECT r.term_id, any_value(t.label), any_value(r.participants), any_value(pa.parent_ids)
        FROM rolled r JOIN ontology_terms t ON t.id = r.term_id AND t.ontology = ?
        LEFT JOIN parents pa ON pa.term_id = r.term_id
        GROUP BY r.term_id
    """
    fetched = con.execute(sql, [*params, spec.ontology, spec.ontology]).fetchall()
    return build_term_tree([(str(t), str(label or t), int(n), tuple(parents or ())) for t, label, n, parents in fetched])


def build_term_tree(rows: Sequence[tuple[str, str, int, tuple[str, ...]]]) -> TermTree:
    """A TermTree from (term id, label, count, parent ids); children sorted by count (largest first), then label.

    A single root with children (e.g. HPO's "All") says nothing: it is replaced by its children, repeatedly."""
    parents = {term: tuple(p for p in parent_ids if p != term) for term, _label, _count, parent_ids in rows}
    children: dict[str, list[str]] = {term: [] for term in parents}
    for term, parent_ids in parents.items():
        for parent in parent_ids:
            if parent in children:
                children[parent].append(term)
    info = {term: (label, count) for term, label, count, _parents in rows}

    def order(term: str) -> tuple[int, str, str]:
        return (-info[term][1], info[term][0].lower(), term)

    nodes = {term: TermNode(term, info[term][0], info[term][1],
                            tuple(p for p in parents[term] if p in info), tuple(sorted(children[term], key=order)))
             for term in info}
    roots = tuple(sorted((t for t, node in nodes.items() if not node.parent_ids), key=order))
    while len(roots) == 1 and nodes[roots[0]].child_ids:
        root = roots[0]
        roots = nodes[root].child_ids
        del nodes[root]
        for child in roots:
            node = nodes[child]
            nodes[child] = TermNode(node.term_id, node.label, node.count,
                                    tuple(p for p in node.parent_ids if p != root), node.child_ids)
        roots = tuple(sorted((t for t in roots if not nodes[t].parent_ids), key=order))
    return TermTree(nodes, roots)


def histogram(con: duckdb.DuckDBPyConnection, cohort: Cohort, field_name: str, bins: int = DEFAULT_BINS) -> Histogram:
    """Participants per bin of a numeric field within the cohort (without the field's own criteria).

    Bins are `bins` equal widths from the smallest to the largest value (on log10 for LOG_SCALE_FIELDS); a
    participant counts once per bin that holds one of their values; `missing` counts participants with a row of
    the field's source whose value is NULL (what a "missing" pick matches)."""
    spec = field_spec(field_name)
    if spec.kind is not FieldKind.NUMERIC:
        raise ValueError(f"field {field_name!r} is not numeric")
    bins = max(1, int(bins))
    log_scale = spec.name in LOG_SCALE_FIELDS
    if spec.level is Level.OCCURRENCE:
        return _carrier_histogram(con, cohort, spec, bins)
    rows_sql, params = _cohort_rows(cohort, spec, preaggregates_ready(con))
    scaled = _scaled_value(log_scale)
    summary = con.execute(
        f"SELECT min({scaled}), max({scaled}), count(DISTINCT participant_id) FILTER (WHERE value IS NOT NULL), "
        f"count(DISTINCT participant_id) FILTER (WHERE value IS NULL) FROM ({rows_sql}) r",
        params,
    ).fetchall()[0]
    low, high, with_value, missing = summary[0], summary[1], int(summary[2] or 0), int(summary[3] or 0)
    if low is None or high is None:
        return Histogram((), (), with_value, missing, log_scale)
    low, high = float(low), float(high)
    if high == low:
        edges_scaled = [low, high]
        rows = con.execute(f"SELECT 0, count(DISTINCT participant_id) FROM ({rows_sql}) r WHERE value IS NOT NULL",
                           params).fetchall()
    else:
        width = (high - low) / bins
        edges_scaled = [low + i * width for i in range(bins)] + [high]
        rows = con.execute(
            f"SELECT least(CAST(floor(({scaled} - ?) / ?) AS BIGINT), ?) AS bin, count(DISTINCT participant_id) "
            f"FROM ({rows_sql}) r WHERE value IS NOT NULL GROUP BY bin",
            [low, width, bins - 1, *params],
        ).fetchall()
    counts = [0] * (len(edges_scaled) - 1)
    for index, count in rows:
        counts[max(0, min(int(index), len(counts) - 1))] = int(count)
    edges = tuple(10 ** e for e in edges_scaled) if log_scale else tuple(edges_scaled)
    return Histogram(edges, tuple(counts), with_value, missing, log_scale)


def _carrier_histogram(con: duckdb.DuckDBPyConnection, cohort: Cohort, spec: FieldSpec, bins: int) -> Histogram:
    """An occurrence-level field's histogram: the cohort's participants among the memoised (participant, bin)."""
    log_scale = spec.name in LOG_SCALE_FIELDS
    table, edges_scaled = carrier_bins(con, spec, bins)
    base = compile_cohort(cohort.without_field(spec.name), preaggregated=preaggregates_ready(con))
    with _registered(con, table) as view:
        rows = con.execute(
            f"SELECT bin, count(DISTINCT participant_id) FROM {view} WHERE participant_id IN ({base.sql}) "
            "GROUP BY bin", list(base.params),
        ).fetchall()
        with_value = con.execute(
            f"SELECT count(DISTINCT participant_id) FROM {view} WHERE bin IS NOT NULL "
            f"AND participant_id IN ({base.sql})", list(base.params),
        ).fetchall()[0][0]
    counts = [0] * max(0, len(edges_scaled) - 1)
    missing = 0
    for index, count in rows:
        if index is None:
            missing = int(count)
        elif counts:
            counts[max(0, min(int(index), len(counts) - 1))] = int(count)
    edges = tuple(10 ** e for e in edges_scaled) if log_scale else tuple(edges_scaled)
    return Histogram(edges, tuple(counts), int(with_value or 0), missing, log_scale)


def bin_index(hist: Histogram, value: float) -> int:
    """The bin of `hist` that holds `value` (as the SQL assigns it)."""
    if not hist.counts:
        raise ValueError("an empty histogram has no bins")
    low, high = hist.edges[0], hist.edges[-1]
    if hist.log_scale:
        value, low, high = (math.log10(max(v, LOG_FLOOR)) for v in (value, low, high))
    if high == low:
        return 0
    width = (high - low) / len(hist.counts)
    return max(0, min(int(math.floor((value - low) / width)), len(hist.counts) - 1))


# --- one job for many facets -------------------------------------------------------------------------------------


@contextmanager
def interrupt_on_cancel(con: duckdb.DuckDBPyConnection, cancel: CancelToken | None,
                        poll_seconds: float = 0.05) -> Iterator[None]:
    """While the block runs, interrupt `con`'s running query as soon as `cancel` is set."""
    if cancel is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(poll_seconds):
            if cancel.cancelled:
                try:
                    con.interrupt()
                except duckdb.Error:
                    pass
                return

    watcher = threading.Thread(target=watch, name="kf-facet-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=1.0)


def negated_criterion(node: object) -> Criterion | None:
    """The criterion under a top-level NOT pill (`not (field …)`, or a NOT of a one-criterion group), else None."""
    if not isinstance(node, Not):
        return None
    child = node.child
    while isinstance(child, Group) and len(child.children) == 1:
        child = child.children[0]
    return child if isinstance(child, Criterion) else None


def without_own_filter(cohort: Cohort, field_name: str) -> Cohort:
    """The cohort a facet of `field_name` counts within: without its top-level criteria on that field, plain or
    under a NOT (an excluded value is the facet's own filter too: the facet lists it, so it can be cleared there)."""
    kept = tuple(node for node in cohort.top_level()
                 if not ((criterion := negated_criterion(node)) is not None and criterion.field == field_name))
    return replace(cohort, root=Group("and", kept)).without_field(field_name)


def facet_result(con: duckdb.DuckDBPyConnection, cohort: Cohort, request: FacetRequest) -> FacetResult:
    """One facet's counts within `cohort` without the facet's own filter (`without_own_filter`)."""
    cohort = without_own_filter(cohort, request.field)
    kind = facet_kind(field_spec(request.field))
    if kind is FacetKind.TREE:
        return term_tree(con, cohort, request.field)
    if kind is FacetKind.HISTOGRAM:
        return histogram(con, cohort, request.field, request.bins)
    return value_counts(con, cohort, request.field)


def read_facets(con: duckdb.DuckDBPyConnection, cohort: Cohort, requests: Sequence[FacetRequest],
                cancel: CancelToken | None = None, progress: ProgressCallback | None = None) -> FacetResults:
    """Every requested facet for `cohort`, in one go (one job); a cancel interrupts the running query.

    A field the cache cannot count (its table is missing, e.g. no variants synced) is listed in `unavailable`."""
    results = FacetResults()
    with interrupt_on_cancel(con, cancel):
        for done, request in enumerate(requests):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if progress is not None:
                progress(ProgressEvent("facets", done, len(requests), request.field))
            try:
                results.results[request.field] = facet_result(con, cohort, request)
            except duckdb.CatalogException as error:
                results.unavailable[request.field] = str(error).splitlines()[0]
            except duckdb.BinderException as error:
                results.unavailable[request.field] = str(error).splitlines()[0]
    if cancel is not None:
        cancel.raise_if_cancelled()
    return results
