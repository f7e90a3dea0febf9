"""The variants and occurrences of a cohort as pageable tables, Qt-free.

"The variants of a cohort" (CACHE.md): the carried calls (`has_alt`) of the cohort's participants that satisfy the
cohort's variant criteria (its top-level occurrence-level criteria, inheritance included); with no variant
criteria, all carried calls of its participants.

DuckDB sorts and pages. A cohort's variant rows are materialised once into an in-memory scratch database attached
to the workspace's connection (`kf_scratch`, shared by every cursor), one table per cohort and sort, each row with its
row number `rn` in that sort and the table stored in `rn` order: a page, or a jump to any row, is one range query on
`rn` (zone maps skip everything else). The occurrences view (up to the whole release) keeps only a sparse map, the
rowid of every BLOCK-th call in release order, so a page is one rowid-range query; sorting it by a column
materialises the sorted calls like the variants.

Carriers are counted as calls per variant: DATA_CONTRACT.md holds one occurrence row per participant × variant call
(and sync never duplicates rows), so that is the number of distinct carriers, at a fraction of the cost of a
count(DISTINCT) over every call. Frequencies follow DATA_CONTRACT.md: participant frequency = carriers / sequenced participants of the cohort (those
with any occurrence row); allele frequency = alternate alleles / (2 × sequenced participants), a HOM call counting 2
alleles, HET and HEM 1 (other carried calls: the number of alternate alleles in `calls`, at least 1).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from kfexplorer.query.compiler import compile_cohort, is_occurrence_level, occurrence_filter
from kfexplorer.query.inheritance import mentions_inheritance
from kfexplorer.query.model import Cohort, Group, Node, Value, cohort_to_json
from kfexplorer.query.preaggregates import CARRIER_TABLES
from kfexplorer.store.preaggregates import preaggregates_ready

SCRATCH = "kf_scratch"
BLOCK = 256
KEEP_MATERIALISED = 6  # tables kept per kind before the oldest is dropped


class BuildInterrupted(Exception):
    """A build stopped by CohortTables.interrupt_build."""


@dataclass(frozen=True)
class Column:
    """One column of a table: its name (identifier in the scratch table), title and whether it is a number."""

    name: str
    title: str
    numeric: bool = False


VARIANT_COLUMNS: tuple[Column, ...] = (
    Column("locus_id", "Variant"),
    Column("chromosome", "Chr"),
    Column("start", "Position", True),
    Column("genes", "Gene(s)"),
    Column("consequence", "Most severe consequence"),
    Column("impact", "Impact"),
    Column("hgvsp", "HGVSp"),
    Column("clinvar", "ClinVar"),
    Column("gnomad_af", "gnomAD AF", True),
    Column("topmed_af", "TOPMed AF", True),
    Column("cadd", "CADD", True),
    Column("revel", "REVEL", True),
    Column("carriers", "Carriers", True),
    Column("participant_frequency", "Participant freq.", True),
    Column("allele_frequency", "Allele freq.", True),
)

OCCURRENCE_COLUMNS: tuple[Column, ...] = (
    Column("participant_id", "Participant"),
    Column("locus_id", "Variant"),
    Column("chromosome", "Chr"),
    Column("start", "Position", True),
    Column("zygosity", "Zygosity"),
    Column("mother_zygosity", "Mother"),
    Column("father_zygosity", "Father"),
    Column("gq", "GQ", True),
    Column("dp", "DP", True),
    Column("study_id", "Study"),
    Column("family_id", "Family"),
    Column("is_proband", "Proband"),
    Column("affected_status", "Affected"),
)

# The carriers of one variant: its occurrence columns without the variant's own (locus, position) and the proband flag.
CARRIER_COLUMNS: tuple[Column, ...] = tuple(
    c for c in OCCURRENCE_COLUMNS if c.name not in {"locus_id", "chromosome", "start", "is_proband"}
)

_VARIANT_NAMES = {c.name for c in VARIANT_COLUMNS}
_OCCURRENCE_NAMES = {c.name for c in OCCURRENCE_COLUMNS}
_IMPACT_RANK = ("CASE c.vep_impact WHEN 'HIGH' THEN 0 WHEN 'MODERATE' THEN 1 WHEN 'LOW' THEN 2 "
                "WHEN 'MODIFIER' THEN 3 ELSE 4 END * 4 + CASE WHEN c.mane_select THEN 0 WHEN c.canonical THEN 1 "
                "ELSE 2 END")
_ALT_ALLELES = ("CASE zygosity WHEN 'HOM' THEN 2 WHEN 'HET' THEN 1 WHEN 'HEM' THEN 1 "
                "ELSE greatest(1, len(list_filter(calls, lambda x: x > 0))) END")


@dataclass(frozen=True)
class Sort:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class TablePage:
    """Rows `offset` … `offset + len(rows) - 1` of a table in its current sort."""

    offset: int
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    elapsed_ms: float


@dataclass(frozen=True)
class Materialised:
    """A cohort's table in one sort, ready to page: `total` rows, `table` the scratch table, `sequenced` the
    cohort's sequenced participants (-1 on the cohort's own participant table, where it is not computed)."""

    key: str
    table: str
    total: int
    sequenced: int
    seconds: float


def variant_block(cohort: Cohort) -> Node | None:
    """The cohort's variant criteria (its top-level occurrence-level criteria), or None when it has none."""
    root = cohort.root
    if is_occurrence_level(root):
        return root
    children = [c for c in cohort.top_level() if is_occurrence_level(c)]
    if not children:
        return None
    return children[0] if len(children) == 1 else Group("and", tuple(children))


def _digest(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _check_sort(sort: Sort, names: set[str]) -> None:
    if sort.column not in names:  # the whitelist: identifiers only from the column constants
        raise ValueError(f"cannot sort by unknown column {sort.column!r}")


class CohortTables:
    """The variants / occurrences / carriers of cohorts over one workspace's DuckDB connection.

    `cursor` returns the calling thread's cursor (Workspace.cursor). Thread-safe: materialising is serialised."""

    def __init__(self, cursor: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        self._cursor = cursor
        self._lock = threading.Lock()
        self._made: dict[str, Materialised] = {}
        self._order: dict[str, list[str]] = {"cohort": [], "variants": [], "occurrences": []}
        self._occurrence_cohorts: dict[str, Cohort] = {}
        self._preaggregated: bool | None = None
        self._sequenced: dict[str, int] = {}
        self._building: duckdb.DuckDBPyConnection | None = None  # the cursor running a build, for interrupt_build
        self._building_lock = threading.Lock()

    # -- scratch ------------------------------------------------------------------------------------------------
    def _scratch(self) -> duckdb.DuckDBPyConnection:
        cur = self._cursor()
        present = cur.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [SCRATCH]).fetchall()
        if not present[0][0]:
            cur.execute(f"ATTACH ':memory:' AS {SCRATCH} (READ_WRITE)")
        return cur

    def _remember(self, kind: str, made: Materialised) -> None:
        self._made[made.key] = made
        order = self._order[kind]
        order.append(made.key)
        while len(order) > KEEP_MATERIALISED:
            old = self._made.pop(order.pop(0), None)
            if old is not None:
                self._occurrence_cohorts.pop(old.key, None)
                self._cursor().execute(f"DROP TABLE IF EXISTS {old.table}")

    def preaggregated(self) -> bool:
        """True when the cache holds the pre-aggregated carrier tables (kfexplorer.query.preaggregates)."""
        if self._preaggregated is None:
            self._preaggregated = preaggregates_ready(self._cursor())
        return self._preaggregated

    def _run_build(self, cur: duckdb.DuckDBPyConnection, sql: str, params: list[Value]) -> None:
        """Run one materialising statement where interrupt_build can stop it."""
        with self._building_lock:
            self._building = cur
        try:
            cur.execute(sql, params)
        except duckdb.InterruptException as exc:
            raise BuildInterrupted("the table build was interrupted") from exc
        finally:
            with self._building_lock:
                self._building = None

    def interrupt_build(self) -> None:
        """Stop the build that is running (a newer cohort or sort replaced it); it raises duckdb's
        InterruptException in its thread."""
        with self._building_lock:
            if self._building is not None:
                self._building.interrupt()

    # -- the cohort ---------------------------------------------------------------------------------------------
    def _cohort_key(self, cohort: Cohort) -> str:
        return _digest(cohort_to_json(cohort)["query"])

    def cohort_table(self, cohort: Cohort) -> Materialised:
        """The cohort's participant ids (`participant_id`) and its sequenced count, materialised once."""
        key = "c" + self._cohort_key(cohort)
        with self._lock:
            if key in self._made:
                return self._made[key]
            started = time.perf_counter()
            cur = self._scratch()
            compiled = compile_cohort(cohort, preaggregated=self.preaggregated())
            table = f"{SCRATCH}.cohort_{key}"
            cur.execute(f"CREATE OR REPLACE TABLE {table} AS {compiled.sql}", list(compiled.params))
            total = int(cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
            made = Materialised(key, table, total, -1, time.perf_counter() - started)
            self._remember("cohort", made)
            return made

    def sequenced(self, cohort: Cohort) -> int:
        """The cohort's participants with any occurrence row (the denominator of its frequencies)."""
        people = self.cohort_table(cohort)
        with self._lock:
            if people.key not in self._sequenced:
                self._sequenced[people.key] = int(self._cursor().execute(
                    f"SELECT count(DISTINCT o.participant_id) FROM occurrences o WHERE o.participant_id IN "
                    f"(SELECT participant_id FROM {people.table})").fetchall()[0][0])
            return self._sequenced[people.key]

    def calls_sql(self, cohort: Cohort, columns: str = "o.*", rowid_range: tuple[int, int | None] | None = None
                  ) -> tuple[str, list[Value]]:
        """SELECT `columns` of the cohort's calls (CACHE.md "the variants of a cohort"), one row per call;
        `rowid_range` (low, high or None) restricts them to a range of occurrence rowids."""
        people = self.cohort_table(cohort)
        base = f"COALESCE(o.has_alt, FALSE) AND o.participant_id IN (SELECT participant_id FROM {people.table})"
        span, span_params = "", []
        if rowid_range is not None:
            low, high = rowid_range
            span = " AND o.rowid >= ?" + (" AND o.rowid <= ?" if high is not None else "")
            span_params = [low, *([high] if high is not None else [])]
        block = variant_block(cohort)
        if block is None:
            return f"SELECT {columns} FROM occurrences o WHERE {base}{span}", list(span_params)
        text, params, sources = occurrence_filter(block)
        if not ({"variants", "consequences"} & sources):
            return f"SELECT {columns} FROM occurrences o WHERE {base} AND {text}{span}", [*params, *span_params]
        joins = ""
        if "variants" in sources:
            joins += " LEFT JOIN variants v ON v.locus_id = o.locus_id"
        if "consequences" in sources:
            joins += " LEFT JOIN consequences c ON c.locus_id = o.locus_id"
        matching = f"SELECT o.rowid FROM occurrences o{joins} WHERE {base} AND {text}{span}"
        return (f"SELECT {columns} FROM occurrences o WHERE TRUE{span} AND o.rowid IN ({matching})",
                [*span_params, *params, *span_params])

    # -- variants -----------------------------------------------------------------------------------------------
    def variants(self, cohort: Cohort, sort: Sort = Sort("locus_id")) -> Materialised:
        """The cohort's variant rows in `sort`, materialised with row numbers (built once per cohort and sort)."""
        _check_sort(sort, _VARIANT_NAMES)
        sequenced = self.sequenced(cohort)
        key = "v" + _digest(self._cohort_key(cohort), sort.column, sort.descending)
        with self._lock:
            if key in self._made:
                return self._made[key]
        started = time.perf_counter()
        calls, params = self.calls_sql(cohort, "o.participant_id, o.locus_id, o.zygosity, o.calls")
        n = max(sequenced, 1)
        direction = "DESC" if sort.descending else "ASC"
        table = f"{SCRATCH}.variants_{key}"
        sql = f"""
            CREATE OR REPLACE TABLE {table} AS
            WITH calls AS ({calls}),
            agg AS (SELECT locus_id, count(*) AS carriers,
                           sum({_ALT_ALLELES}) AS alt_alleles FROM calls GROUP BY locus_id),
            top AS (SELECT c.locus_id, arg_min(struct_pack(consequence := c.consequences[1], hgvsp := c.hgvsp),
                                               {_IMPACT_RANK}) AS pick
                    FROM consequences c WHERE c.locus_id IN (SELECT locus_id FROM agg) GROUP BY c.locus_id),
            rows AS (
                SELECT agg.locus_id, v.chromosome, v.start, array_to_string(v.gene_symbols, ', ') AS genes,
                       top.pick.consequence AS consequence, v.max_impact AS impact, top.pick.hgvsp AS hgvsp,
                       array_to_string(v.clinvar_sig, ', ') AS clinvar, v.gnomad_genomes_3_af AS gnomad_af,
                       v.topmed_bravo_af AS topmed_af, v.cadd_phred AS cadd, v.revel_score AS revel,
                       agg.carriers, agg.carriers / {n}::DOUBLE AS participant_frequency,
                       agg.alt_alleles / (2.0 * {n}) AS allele_frequency
                FROM agg LEFT JOIN variants v ON v.locus_id = agg.locus_id
                LEFT JOIN top ON top.locus_id = agg.locus_id)
            SELECT row_number() OVER (ORDER BY "{sort.column}" {direction} NULLS LAST, locus_id) - 1 AS rn, *
            FROM rows ORDER BY rn"""
        with self._lock:
            cur = self._scratch()
            self._run_build(cur, sql, params)
            total = int(cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
            made = Materialised(key, table, total, sequenced, time.perf_counter() - started)
            self._remember("variants", made)
            return made

    def page(self, made: Materialised, offset: int, limit: int, columns: tuple[Column, ...] = VARIANT_COLUMNS
             ) -> TablePage:
        """Rows `offset` … `offset + limit - 1` of a materialised table: one range query on `rn`."""
        started = time.perf_counter()
        names = tuple(c.name for c in columns)
        select = ", ".join(f'"{n}"' for n in names)
        rows = self._cursor().execute(f"SELECT {select} FROM {made.table} WHERE rn >= ? AND rn < ? ORDER BY rn",
                                      [offset, offset + limit]).fetchall()
        return TablePage(offset, names, rows, (time.perf_counter() - started) * 1000.0)

    # -- occurrences --------------------------------------------------------------------------------------------
    def occurrences(self, cohort: Cohort, sort: Sort | None = None) -> Materialised:
        """The cohort's calls: in release order a sparse rowid map (every BLOCK-th call); with `sort`, a sorted
        materialised copy of the shown columns."""
        if sort is not None:
            _check_sort(sort, _OCCURRENCE_NAMES)
        sequenced = self.sequenced(cohort)
        key = "o" + _digest(self._cohort_key(cohort), sort.column if sort else None, sort.descending if sort else 0)
        with self._lock:
            if key in self._made:
                return self._made[key]
        started = time.perf_counter()
        dense = self._filter_is_costly(cohort)
        if sort is None and dense:
            calls, params = self.calls_sql(cohort, "o.rowid AS rid")
            table = f"{SCRATCH}.occdense_{key}"
            sql = (f"CREATE OR REPLACE TABLE {table} AS SELECT row_number() OVER (ORDER BY rid) - 1 AS rn, rid, "
                   f"count(*) OVER () AS total FROM ({calls}) calls ORDER BY rn")
        elif sort is None:
            calls, params = self.calls_sql(cohort, "o.rowid AS rid")
            table = f"{SCRATCH}.occmap_{key}"
            sql = (f"CREATE OR REPLACE TABLE {table} AS SELECT rn // {BLOCK} AS block, rid, rn, total FROM ("
                   f"SELECT rid, (row_number() OVER (ORDER BY rid) - 1) AS rn, count(*) OVER () AS total "
                   f"FROM ({calls}) calls) WHERE rn % {BLOCK} = 0 ORDER BY rn")
        else:
            names = ", ".join(f"o.{c.name}" for c in OCCURRENCE_COLUMNS)
            calls, params = self.calls_sql(cohort, names)
            direction = "DESC" if sort.descending else "ASC"
            table = f"{SCRATCH}.occsorted_{key}"
            sql = (f"CREATE OR REPLACE TABLE {table} AS SELECT row_number() OVER (ORDER BY \"{sort.column}\" "
                   f"{direction} NULLS LAST, participant_id, locus_id) - 1 AS rn, * FROM ({calls}) calls ORDER BY rn")
        with self._lock:
            cur = self._scratch()
            self._run_build(cur, sql, params)
            if sort is None:
                found = cur.execute(f"SELECT max(total) FROM {table}").fetchall()[0][0]
                total = int(found or 0)
            else:
                total = int(cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
            made = Materialised(key, table, total, sequenced, time.perf_counter() - started)
            self._remember("occurrences", made)
            self._occurrence_cohorts[key] = cohort
            return made

    def occurrence_page(self, made: Materialised, offset: int, limit: int) -> TablePage:
        """Rows `offset` … of the occurrences view: a rowid-range query between two blocks of the sparse map (or
        an `rn` range of the sorted copy)."""
        if "occsorted_" in made.table:
            return self.page(made, offset, limit, OCCURRENCE_COLUMNS)
        started = time.perf_counter()
        names = tuple(c.name for c in OCCURRENCE_COLUMNS)
        cur = self._cursor()
        if "occdense_" in made.table:
            select = ", ".join(f"o.{n}" for n in names)
            rows = cur.execute(
                f"WITH ids AS (SELECT rid FROM {made.table} WHERE rn >= ? AND rn < ?) SELECT {select} "
                "FROM occurrences o WHERE o.rowid BETWEEN (SELECT min(rid) FROM ids) AND (SELECT max(rid) FROM ids) "
                "AND o.rowid IN (SELECT rid FROM ids) ORDER BY o.rowid", [offset, offset + limit]).fetchall()
            return TablePage(offset, names, rows, (time.perf_counter() - started) * 1000.0)
        first, last = offset // BLOCK, (offset + limit - 1) // BLOCK + 1
        bounds = cur.execute(f"SELECT min(rid) FILTER (WHERE block = ?), min(rid) FILTER (WHERE block = ?) "
                             f"FROM {made.table} WHERE block IN (?, ?)", [first, last, first, last]).fetchall()[0]
        if bounds[0] is None:
            return TablePage(offset, names, [], (time.perf_counter() - started) * 1000.0)
        low, high = int(bounds[0]), (int(bounds[1]) - 1 if bounds[1] is not None else None)
        cohort = self._occurrence_cohorts[made.key]
        calls, params = self.calls_sql(cohort, ", ".join(f"o.{n}" for n in names) + ", o.rowid AS rid", (low, high))
        rows = cur.execute(f"SELECT {', '.join(names)} FROM ({calls}) calls ORDER BY rid LIMIT ? OFFSET ?",
                           [*params, limit, offset - first * BLOCK]).fetchall()
        return TablePage(offset, names, rows, (time.perf_counter() - started) * 1000.0)

    @staticmethod
    def _filter_is_costly(cohort: Cohort) -> bool:
        """True when the cohort's variant criteria join variants / consequences or read families (inheritance):
        its calls are then listed once (rowid per row) instead of re-filtered for every page."""
        block = variant_block(cohort)
        if block is None:
            return False
        _text, _params, sources = occurrence_filter(block)
        return bool({"variants", "consequences"} & sources) or mentions_inheritance(block)

    # -- drill-down ---------------------------------------------------------------------------------------------
    def carriers(self, cohort: Cohort, locus_id: str) -> TablePage:
        """The cohort's carriers of one variant with their call and their parents' genotypes."""
        started = time.perf_counter()
        people = self.cohort_table(cohort)
        names = tuple(c.name for c in CARRIER_COLUMNS)
        rows = self._cursor().execute(
            f"SELECT {', '.join('o.' + n for n in names)} FROM occurrences o WHERE o.locus_id = ? "
            f"AND COALESCE(o.has_alt, FALSE) AND o.participant_id IN (SELECT participant_id FROM {people.table}) "
            "ORDER BY o.participant_id", [locus_id]).fetchall()
        return TablePage(0, names, rows, (time.perf_counter() - started) * 1000.0)

    def top_genes(self, cohort: Cohort, limit: int = 20) -> list[tuple[str, int]]:
        """Genes by the number of the cohort's participants carrying one of the cohort's variants in them (with no
        variant criteria and a pre-aggregated cache: a GROUP BY over the gene carrier table)."""
        if variant_block(cohort) is None and self.preaggregated():
            people = self.cohort_table(cohort)
            table = CARRIER_TABLES["consequence.gene_symbol"]  # distinct (value, participant_id) pairs
            rows = self._cursor().execute(
                f"SELECT value, count(*) AS n FROM {table} WHERE value IS NOT NULL AND participant_id IN "
                f"(SELECT participant_id FROM {people.table}) GROUP BY value ORDER BY n DESC, value LIMIT ?",
                [limit]).fetchall()
            return [(str(g), int(n)) for g, n in rows]
        calls, params = self.calls_sql(cohort, "o.participant_id, o.locus_id")
        rows = self._cursor().execute(
            f"SELECT c.gene_symbol, count(DISTINCT calls.participant_id) AS n FROM ({calls}) calls "
            "JOIN consequences c ON c.locus_id = calls.locus_id WHERE c.gene_symbol IS NOT NULL "
            "GROUP BY c.gene_symbol ORDER BY n DESC, c.gene_symbol LIMIT ?", [*params, limit]).fetchall()
        return [(str(g), int(n)) for g, n in rows]
