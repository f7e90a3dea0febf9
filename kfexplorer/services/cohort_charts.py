"""Pre-aggregated arrays for the Summary and Compare charts of a cohort, Qt-free (run them in workers).

Every bar counts distinct participants of the cohort, except the consequence breakdown, which counts the cohort's
variants. The cohort's *qualifying* occurrences are its participants' carried calls (`has_alt`) that satisfy the
cohort's top-level variant criteria, or all their carried calls when it has none (CACHE.md). Each bar names the
registry field and value a click filters on, so that "click → criterion → count" gives the bar's own number.
Values are bound parameters only; identifiers come from this module's constants and the compiler.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from kfexplorer.progress import CancelToken
from kfexplorer.query.compiler import CompiledQuery, compile_cohort, occurrence_filter, required_variant_criteria
from kfexplorer.query.model import MISSING_VALUE, Cohort, Node, Not, Value
from kfexplorer.query.preaggregates import PROTEIN_ALTERING_GENE_TABLE, PROTEIN_ALTERING_IMPACTS
from kfexplorer.services.facet_queries import without_own_filter
from kfexplorer.services.survival import KaplanMeier, LogRankResult, kaplan_meier, log_rank_test
from kfexplorer.store.preaggregates import preaggregates_ready
from kfexplorer.store.schema import existing_tables

DAYS_PER_YEAR = 365.25
TOP_LIMIT = 15
AGE_FIELD = "diagnosis.age_at_event_days"

# A diagnosis that counts for survival and age at diagnosis: not refuted and not derived by NLP.
_FIRST_DIAGNOSIS_ROWS = ("SELECT participant_id, min(age_at_event_days) AS first_days FROM diagnoses "
                         "WHERE age_at_event_days IS NOT NULL AND COALESCE(verification, '') <> 'refuted' "
                         "AND NOT COALESCE(derived, FALSE) GROUP BY participant_id")
_DEAD = ("dead", "deceased")


@dataclass(frozen=True)
class BarSeries:
    """One bar chart: a bar per value, with its label and count; `field` is what a click filters on."""

    key: str
    title: str
    field: str
    values: tuple[Value, ...]
    labels: tuple[str, ...]
    counts: tuple[int, ...]
    unit: str = "participants"

    def rows(self) -> list[tuple[str, Any, int]]:
        """(label, value, count) rows, e.g. for a CSV export."""
        return list(zip(self.labels, self.values, self.counts, strict=True))


@dataclass(frozen=True)
class AgeHistogram:
    """Participants by age at first diagnosis in whole years: bin i holds ages [i, i + 1) years."""

    key: str
    title: str
    field: str
    years: tuple[int, ...]
    counts: tuple[int, ...]

    def day_range(self, year: int) -> tuple[int, int]:
        """The first and last whole day of age that fall in year bin `year`."""
        return day_range_of_years(year, year)


@dataclass(frozen=True)
class SurvivalData:
    """Overall survival from the first diagnosis: time in days, event = death; `excluded` had no usable times."""

    participant_ids: tuple[str, ...]
    durations_days: tuple[int, ...]
    events: tuple[bool, ...]
    excluded: int


@dataclass(frozen=True)
class ProteinVariant:
    """A carried variant of a gene at a protein position (the lollipop's stick)."""

    locus_id: str
    position: int
    amino_acids: str
    hgvsp: str
    consequence: str
    carriers: int


@dataclass(frozen=True)
class SummaryCharts:
    bars: tuple[BarSeries, ...]
    age_histogram: AgeHistogram
    participants: int  # the cohort's size

    def series(self, key: str) -> BarSeries:
        for item in self.bars:
            if item.key == key:
                return item
        raise KeyError(key)


def day_range_of_years(first_year: int, last_year: int) -> tuple[int, int]:
    """Whole days d with first_year ≤ floor(d / 365.25) ≤ last_year."""
    return math.ceil(first_year * DAYS_PER_YEAR), math.ceil((last_year + 1) * DAYS_PER_YEAR) - 1


# --- building blocks ---------------------------------------------------------------------------------------------


def variant_criteria(cohort: Cohort) -> Node | None:
    """The variant criteria every call of a member must satisfy (through `and`s at any depth) as one expression
    (None when it has none): the same calls an export of the cohort's occurrences writes."""
    return required_variant_criteria(cohort.root)


def uses_preaggregates(cursor: duckdb.DuckDBPyConnection) -> bool:
    """True when the cache holds the pre-aggregated tables (kfexplorer.query.preaggregates) at their version."""
    try:
        return preaggregates_ready(cursor)
    except duckdb.Error:
        return False


def cohort_sql(cursor: duckdb.DuckDBPyConnection, cohort: Cohort) -> CompiledQuery:
    """The cohort's participant SQL, reading the pre-aggregated tables where the cache has them."""
    return compile_cohort(cohort, preaggregated=uses_preaggregates(cursor))


def qualifying_occurrences(cursor: duckdb.DuckDBPyConnection, cohort: Cohort, extra_where: str = "",
                           extra_params: Sequence[Value] = (),
                           columns: str = "o.participant_id, o.locus_id") -> tuple[str, list[Value]]:
    """SQL over `occurrences o` (joined to `consequences c` always and `variants v` when needed) selecting
    `columns` of the cohort's qualifying occurrences; `extra_where` (with its params) narrows further."""
    compiled = cohort_sql(cursor, cohort)
    criteria = variant_criteria(cohort)
    sources: set[str] = set()
    expression = "TRUE"
    expression_params: list[Value] = []
    if criteria is not None:
        expression, expression_params, sources = occurrence_filter(criteria)
    joins = " LEFT JOIN consequences c ON c.locus_id = o.locus_id"
    if "variants" in sources:
        joins += " LEFT JOIN variants v ON v.locus_id = o.locus_id"
    extra = f" AND ({extra_where})" if extra_where else ""
    sql = (f"SELECT {columns} FROM occurrences o{joins} WHERE COALESCE(o.has_alt, FALSE) "
           f"AND o.participant_id IN ({compiled.sql}) AND {expression}{extra}")
    return sql, [*compiled.params, *expression_params, *extra_params]


def _value(raw: Any) -> Value:
    if raw is None:
        return MISSING_VALUE
    if isinstance(raw, str | int | float | bool):
        return raw
    return str(raw)


def _label(raw: Any) -> str:
    return "missing" if raw is None else str(raw)


def _rows(cursor: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The query's rows; none when the cache lacks a table it reads (e.g. no variants synced)."""
    try:
        return cursor.execute(sql, list(params)).fetchall()
    except duckdb.CatalogException:
        return []


def _bars(cursor: duckdb.DuckDBPyConnection, key: str, title: str, field: str, sql: str,
          params: Sequence[Any], unit: str = "participants") -> BarSeries:
    rows = _rows(cursor, sql, params)
    return BarSeries(key, title, field, tuple(_value(r[0]) for r in rows),
                     tuple(str(r[1]) if r[1] is not None else _label(r[0]) for r in rows),
                     tuple(int(r[2]) for r in rows), unit)


def _participant_column_bars(cursor: duckdb.DuckDBPyConnection, cohort: Cohort, key: str, title: str,
                             field: str, column: str) -> BarSeries:
    compiled = cohort_sql(cursor, cohort)
    sql = (f"SELECT {column}, NULL, count(*) AS n FROM participants p WHERE p.participant_id IN ({compiled.sql}) "
           f"GROUP BY 1 ORDER BY n DESC, 1 NULLS LAST")
    return _bars(cursor, key, title, field, sql, compiled.params)


# --- the charts --------------------------------------------------------------------------------------------------


def participants_per_study(cursor: duckdb.DuckDBPyConnection, cohort: Cohort) -> BarSeries:
    compiled = cohort_sql(cursor, cohort)
    sql = ("SELECT p.study_id, CASE WHEN max(s.study_code) IS NULL THEN p.study_id "
           "ELSE max(s.study_code) || ' · ' || p.study_id END, count(DISTINCT p.participant_id) AS n "
           "FROM participants p LEFT JOIN studies s ON s.study_id = p.study_id "
           f"WHERE p.participant_id IN ({compiled.sql}) GROUP BY p.study_id ORDER BY n DESC, 1 NULLS LAST")
    return _bars(cursor, "study", "Participants per study", "participant.study_id", sql, compiled.params)


def sex_counts(cursor: duckdb.DuckDBPyConnection, cohort: Cohort) -> BarSeries:
    return _participant_column_bars(cursor, cohort, "sex", "Sex", "participant.sex", "p.sex")


def race_counts(cursor: duckdb.DuckDBPyConnection, cohort: Cohort) -> BarSeries:
    return _participant_column_bars(cursor, cohort, "race", "Race", "participant.race", "p.race")


def ethnicity_counts(cursor: duckdb.DuckDBPyConnection, cohort: Cohort) -> BarSeries:
    return _participant_column_bars(cursor, cohort, "ethnicity", "Ethnicity", "participant.ethnicity",
                                    "p.ethnicity")


def top_diagnoses(cursor: duckdb.DuckDBPyConnection, cohort: Cohort, limit: int = TOP_LIMIT) -> BarSeries:
    """Diagnoses (not refuted) by participants, one coding per Condition (MONDO before NCIT before the others,
    so one disease is not listed thrice); a click filters on that exact code."""
    compiled = cohort_sql(cursor, cohort)
    preferred = ("SELECT participant_id, code, label FROM diagnoses WHERE code IS NOT NULL "
                 "AND COALESCE(verification, '') <> 'refuted' QUALIFY row_number() OVER (PARTITION BY "
                 "participant_id, COALESCE(condition_id, code) ORDER BY CASE upper(system) WHEN 'MONDO' THEN 0 "
                 "WHEN 'NCIT' THEN 1 ELSE 2 END, code) = 1")
    sql = ("SELECT d.code, COALESCE(max(t.label), max(d.label), d.code), count(DISTINCT d.participant_id) AS n "
           f"FROM ({preferred}) d LEFT JOIN ontology_terms t ON t.id = d.code "
           f"WHERE d.participant_id IN ({compiled.sql}) GROUP BY d.code ORDER BY n DESC, 1 LIMIT ?")
    return _bars(cursor, "diagnosis", "Top diagnoses", "diagnosis.code", sql, [*compiled.params, limit])


def top_phenotypes(cursor: duckdb.DuckDBPyConnection, cohort: Cohort, limit: int = TOP_LIMIT) -> BarSeries:
    """Observed HPO terms by participants; a click filters on the term (and, as the field does, descendants)."""
    compiled = cohort_sql(cursor, cohort)
    sql = ("SELECT ph.hpo_id, COALESCE(max(t.label), max(ph.label), ph.hpo_id), count(DISTINCT ph.participant_id) "
           "AS n FROM phenotypes ph LEFT JOIN ontology_terms t ON t.id = ph.hpo_id "
           f"WHERE ph.hpo_id IS NOT NULL AND ph.observed AND ph.participant_id IN ({compiled.sql}) "
           "GROUP BY ph.hpo_id ORDER BY n DESC, 1 LIMIT ?")
    return _bars(cursor, "phenotype", "Top phenotypes (observed)", "phenotype.observed", sql,
                 [*compiled.params, limit])


def top_mutated_genes(cursor: duckdb.DuckDBPyConnection, cohort: Cohort, limit: int = TOP_LIMIT, *,
                      preaggregated: bool | None = None) -> BarSeries:
    """Genes by participants carrying a protein-altering call in them (a HIGH or MODERATE consequence in the gene,
    as cBioPortal's mutated genes leave out silent and non-coding ones) that also satisfies the cohort's variant
    criteria. Without variant criteria, and when the cache has it (`preaggregated` None: look), the
    protein-altering gene carrier table gives the same counts without the scan."""
    if preaggregated is None:
        preaggregated = uses_preaggregates(cursor)
    title = "Top mutated genes (HIGH / MODERATE impact)"
    if (preaggregated and variant_criteria(cohort) is None
            and PROTEIN_ALTERING_GENE_TABLE in existing_tables(cursor)):
        compiled = compile_cohort(cohort, preaggregated=True)
        table = PROTEIN_ALTERING_GENE_TABLE  # a code constant
        sql = (f"SELECT value, NULL, count(DISTINCT participant_id) AS n FROM {table} "
               f"WHERE participant_id IN ({compiled.sql}) GROUP BY value ORDER BY n DESC, 1 LIMIT ?")
        return _bars(cursor, "gene", title, "consequence.gene_symbol", sql, [*compiled.params, limit])
    slots = ", ".join("?" for _ in PROTEIN_ALTERING_IMPACTS)
    inner, params = qualifying_occurrences(
        cursor, cohort, f"c.gene_symbol IS NOT NULL AND c.vep_impact IN ({slots})", PROTEIN_ALTERING_IMPACTS,
        columns="o.participant_id, c.gene_symbol")
    sql = (f"SELECT gene_symbol, NULL, count(DISTINCT participant_id) AS n FROM ({inner}) q "
           "GROUP BY gene_symbol ORDER BY n DESC, 1 LIMIT ?")
    return _bars(cursor, "gene", title, "consequence.gene_symbol", sql, [*params, limit])


def consequence_breakdown(cursor: duckdb.DuckDBPyConnection, cohort: Cohort,
                          limit: int = TOP_LIMIT) -> BarSeries:
    """Consequence terms by the cohort's qualifying variants that have them (a variant counts once per term).
    Without variant criteria every consequence row of a carried variant counts, so the variants are found first
    (a semi-join) rather than joining every call to its consequences."""
    if variant_criteria(cohort) is None:
        compiled = cohort_sql(cursor, cohort)
        carried = ("SELECT DISTINCT o.locus_id FROM occurrences o WHERE COALESCE(o.has_alt, FALSE) "
                   f"AND o.participant_id IN ({compiled.sql})")
        inner = (f"SELECT c.locus_id, unnest(c.consequences) AS consequence FROM consequences c "
                 f"WHERE c.consequences IS NOT NULL AND c.locus_id IN ({carried})")
        params: list[Value] = list(compiled.params)
    else:
        inner, params = qualifying_occurrences(cursor, cohort, "c.consequences IS NOT NULL",
                                               columns="o.locus_id, unnest(c.consequences) AS consequence")
    sql = (f"SELECT consequence, NULL, count(DISTINCT locus_id) AS n FROM ({inner}) q "
           "GROUP BY consequence ORDER BY n DESC, 1 LIMIT ?")
    return _bars(cursor, "consequence", "Consequences", "consequence.consequence", sql, [*params, limit],
                 unit="variants")


def age_at_diagnosis_histogram(cursor: duckdb.DuckDBPyConnection, cohort: Cohort) -> AgeHistogram:
    """Participants by age at their first diagnosis, in whole years (no gaps: empty years count 0)."""
    compiled = cohort_sql(cursor, cohort)
    sql = (f"SELECT CAST(floor(first_days / {DAYS_PER_YEAR}) AS INTEGER) AS year, count(*) "
           f"FROM ({_FIRST_DIAGNOSIS_ROWS}) f WHERE f.participant_id IN ({compiled.sql}) GROUP BY 1 ORDER BY 1")
    found = {int(year): int(count) for year, count in _rows(cursor, sql, compiled.params)}
    years = tuple(range(0, max(found) + 1)) if found else ()
    return AgeHistogram("age", "Age at first diagnosis (years)", AGE_FIELD, years,
                        tuple(found.get(year, 0) for year in years))


def _own_field_excluded_bars(cursor: duckdb.DuckDBPyConnection, cohort: Cohort,
                             builders: tuple[tuple[BarBuilder, str], ...],
                             cancel: CancelToken | None) -> tuple[BarSeries, ...]:
    bars: list[BarSeries] = []
    for builder, field in builders:
        if cancel is not None:
            cancel.raise_if_cancelled()
        bars.append(builder(cursor, without_own_filter(cohort, field)))
    return tuple(bars)


def clinical_charts(cursor: duckdb.DuckDBPyConnection, cohort: Cohort,
                    cancel: CancelToken | None = None) -> SummaryCharts:
    """The participant-level charts of `cohort` (fast: no variant scan), its age histogram and its size. As
    facets do, each chart ignores the cohort's own top-level criteria on its field, plain or under a NOT
    (`without_own_filter`), so that its other values stay visible and can be added with OR, and an excluded value
    shows (as excluded) where it can be cleared."""
    compiled = cohort_sql(cursor, cohort)
    size = int(cursor.execute(f"SELECT count(*) FROM ({compiled.sql})", list(compiled.params)).fetchall()[0][0])
    bars = _own_field_excluded_bars(cursor, cohort, CLINICAL_BUILDERS, cancel)
    if cancel is not None:
        cancel.raise_if_cancelled()
    histogram = age_at_diagnosis_histogram(cursor, without_own_filter(cohort, AGE_FIELD))
    return SummaryCharts(bars, histogram, size)


def variant_charts(cursor: duckdb.DuckDBPyConnection, cohort: Cohort,
                   cancel: CancelToken | None = None) -> tuple[BarSeries, ...]:
    """The variant charts of `cohort` (top mutated genes, consequences), each ignoring its own field's criteria."""
    return _own_field_excluded_bars(cursor, cohort, VARIANT_BUILDERS, cancel)


def summary_charts(cursor: duckdb.DuckDBPyConnection, cohort: Cohort,
                   cancel: CancelToken | None = None) -> SummaryCharts:
    """Every Summary chart of `cohort` (clinical_charts and variant_charts together)."""
    clinical = clinical_charts(cursor, cohort, cancel)
    return SummaryCharts(clinical.bars + variant_charts(cursor, cohort, cancel), clinical.age_histogram,
                         clinical.participants)


BarBuilder = Callable[[duckdb.DuckDBPyConnection, Cohort], BarSeries]
CLINICAL_BUILDERS: tuple[tuple[BarBuilder, str], ...] = (
    (participants_per_study, "participant.study_id"), (sex_counts, "participant.sex"),
    (race_counts, "participant.race"), (ethnicity_counts, "participant.ethnicity"),
    (top_diagnoses, "diagnosis.code"), (top_phenotypes, "phenotype.observed"))
VARIANT_BUILDERS: tuple[tuple[BarBuilder, str], ...] = (
    (top_mutated_genes, "consequence.gene_symbol"), (consequence_breakdown, "consequence.consequence"))


def survival_data(cursor: duckdb.DuckDBPyConnection, cohort: Cohort) -> SurvivalData:
    """Per participant of the cohort: days from the first diagnosis to death (event) or to the last follow-up
    (censored). Participants without a diagnosis age, a follow-up age, a known vital status, or with a
    follow-up before the diagnosis are left out and counted in `excluded`."""
    compiled = cohort_sql(cursor, cohort)
    sql = ("SELECT p.participant_id, p.age_at_last_follow_up_days - f.first_days, "
           f"lower(trim(p.vital_status)) IN ({', '.join('?' for _ in _DEAD)}), "
           "f.first_days IS NOT NULL AND p.age_at_last_follow_up_days IS NOT NULL "
           "AND lower(trim(p.vital_status)) IN ('alive', 'dead', 'deceased') "
           "AND p.age_at_last_follow_up_days >= f.first_days "
           f"FROM participants p LEFT JOIN ({_FIRST_DIAGNOSIS_ROWS}) f ON f.participant_id = p.participant_id "
           f"WHERE p.participant_id IN ({compiled.sql}) ORDER BY p.participant_id")
    rows = _rows(cursor, sql, [*_DEAD, *compiled.params])
    usable = [row for row in rows if row[3]]
    return SurvivalData(tuple(str(r[0]) for r in usable), tuple(int(r[1]) for r in usable),
                        tuple(bool(r[2]) for r in usable), len(rows) - len(usable))


@dataclass(frozen=True)
class SurvivalComparison:
    """Kaplan–Meier curves of two cohorts and their log-rank test."""

    names: tuple[str, str]
    data: tuple[SurvivalData, SurvivalData]
    curves: tuple[KaplanMeier, KaplanMeier]
    log_rank: LogRankResult


def complement(cohort: Cohort) -> Cohort:
    """Everyone not in `cohort`."""
    return Cohort(Not(cohort.root), f"not {cohort.name}" if cohort.name else "the rest")


def compare_survival(cursor: duckdb.DuckDBPyConnection, first: Cohort, second: Cohort,
                     names: tuple[str, str], cancel: CancelToken | None = None) -> SurvivalComparison:
    """Overall survival (days from the first diagnosis) of two cohorts, their KM curves and the log-rank test."""
    data_a = survival_data(cursor, first)
    if cancel is not None:
        cancel.raise_if_cancelled()
    data_b = survival_data(cursor, second)
    curves = (kaplan_meier(data_a.durations_days, data_a.events), kaplan_meier(data_b.durations_days, data_b.events))
    test = log_rank_test(data_a.durations_days, data_a.events, data_b.durations_days, data_b.events)
    return SurvivalComparison(names, (data_a, data_b), curves, test)


def protein_variants(cursor: duckdb.DuckDBPyConnection, cohort: Cohort, gene: str) -> list[ProteinVariant]:
    """The cohort's qualifying carried variants of `gene` with a protein position, one per variant (its MANE /
    canonical transcript row first), with their carriers in the cohort; sorted by position."""
    inner, params = qualifying_occurrences(
        cursor, cohort, "c.gene_symbol = ? AND c.protein_position IS NOT NULL", [gene],
        columns=("o.participant_id, o.locus_id, c.protein_position, c.amino_acids, c.hgvsp, "
                 "c.consequences[1] AS consequence, COALESCE(c.mane_select, FALSE) AS mane, "
                 "COALESCE(c.canonical, FALSE) AS canonical"))
    sql = ("SELECT locus_id, arg_max(protein_position, (mane, canonical)), arg_max(amino_acids, (mane, canonical)), "
           "arg_max(hgvsp, (mane, canonical)), arg_max(consequence, (mane, canonical)), "
           f"count(DISTINCT participant_id) FROM ({inner}) q GROUP BY locus_id ORDER BY 2, 1")
    return [ProteinVariant(str(r[0]), int(r[1]), str(r[2] or ""), str(r[3] or ""), str(r[4] or ""), int(r[5]))
            for r in _rows(cursor, sql, params)]


def mutated_gene_names(cursor: duckdb.DuckDBPyConnection, cohort: Cohort, limit: int = 500) -> list[str]:
    """Genes with a qualifying carried variant that has a protein position (for the lollipop's gene picker),
    most carriers first."""
    inner, params = qualifying_occurrences(
        cursor, cohort, "c.gene_symbol IS NOT NULL AND c.protein_position IS NOT NULL",
        columns="o.participant_id, c.gene_symbol")
    sql = (f"SELECT gene_symbol FROM ({inner}) q GROUP BY gene_symbol "
           "ORDER BY count(DISTINCT participant_id) DESC, 1 LIMIT ?")
    return [str(r[0]) for r in _rows(cursor, sql, [*params, limit])]
