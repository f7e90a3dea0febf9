"""The pre-aggregated tables that let common variant criteria and facets skip the per-occurrence scan.

Each table is a pure function of the cache's `occurrences`, `variants` and `consequences` tables (built at the end
of every ingest and eviction, in the same transaction; kfexplorer.store.preaggregates). The compiler uses one only
where it yields exactly the participants the per-occurrence path yields:

- carrier tables, one per categorical occurrence-level field: `(value, participant_id)`, the DISTINCT pairs of
  "participant has a carried (`has_alt`) occurrence whose field value is `value`" — list columns contribute each
  element; a NULL value (no annotation) is kept as NULL. So a variant expression that is just `field in [v…]`
  (no `__missing__` on a list field) holds for exactly the participants with a row whose value is in [v…], and an
  `or` of such expressions is the union (an existential distributes over `or`, never over `and` or `not`). The
  facet of such a field is a GROUP BY over its table.
- the extremes table: one row per carrier with, for each numeric variant field, the min and max over their carried
  occurrences and whether any carried occurrence has no value. "Has a carried occurrence with x < t" is
  `min_x < t`; "> t" is `max_x > t`; "or missing" adds `missing_x`. `between` needs both ends on one occurrence and
  stays on the general path.

Identifiers here are code constants; this module holds SQL text only (no DuckDB).
"""

from __future__ import annotations

from dataclasses import dataclass

from kfexplorer.query.fields import FieldSpec, Level, field_spec

# Bump when a table's definition changes: caches built with another version are rebuilt at the next sync.
PREAGGREGATE_VERSION = 1
META_TABLE = "preaggregate_meta"

# field name → carrier table (code constants: used as SQL identifiers)
CARRIER_TABLES: dict[str, str] = {
    "consequence.gene_symbol": "agg_carriers_gene_symbol",
    "consequence.vep_impact": "agg_carriers_vep_impact",
    "consequence.consequence": "agg_carriers_consequence",
    "consequence.biotype": "agg_carriers_biotype",
    "variant.clinvar_sig": "agg_carriers_clinvar_sig",
    "variant.max_impact": "agg_carriers_max_impact",
    "variant.variant_class": "agg_carriers_variant_class",
    "variant.chromosome": "agg_carriers_chromosome",
    "occurrence.zygosity": "agg_carriers_zygosity",
}

EXTREMES_TABLE = "agg_participant_extremes"

# (gene, participant) of carried calls with a HIGH or MODERATE consequence in the gene: "Top mutated genes" without
# variant criteria. Not part of PREAGGREGATE_VERSION's set: a cache built before it lacks only this table (read the
# table list before using it); the next sync or eviction adds it.
PROTEIN_ALTERING_IMPACTS = ("HIGH", "MODERATE")
PROTEIN_ALTERING_GENE_TABLE = "agg_carriers_gene_protein_altering"


@dataclass(frozen=True)
class ExtremeColumns:
    """The columns of EXTREMES_TABLE for one numeric field."""

    minimum: str
    maximum: str
    missing: str


# numeric variant field → its columns in EXTREMES_TABLE (code constants)
EXTREME_FIELDS: dict[str, ExtremeColumns] = {
    name: ExtremeColumns(f"min_{stem}", f"max_{stem}", f"missing_{stem}")
    for name, stem in (
        ("variant.gnomad_genomes_3_af", "gnomad_genomes_3_af"),
        ("variant.gnomad_exomes_2_1_1_af", "gnomad_exomes_2_1_1_af"),
        ("variant.topmed_bravo_af", "topmed_bravo_af"),
        ("variant.thousand_genomes_af", "thousand_genomes_af"),
        ("variant.cadd_phred", "cadd_phred"),
        ("variant.revel_score", "revel_score"),
        ("variant.spliceai_ds", "spliceai_ds"),
    )
}

_JOINS: dict[str, str] = {"variants": " LEFT JOIN variants v ON v.locus_id = o.locus_id",
                          "consequences": " LEFT JOIN consequences c ON c.locus_id = o.locus_id"}


def occurrence_value_rows(spec: FieldSpec) -> str:
    """SQL of (participant_id, value) for every carried occurrence of an occurrence-level field (list columns:
    one row per element). The general facet query and the carrier tables both read exactly this."""
    if spec.level is not Level.OCCURRENCE:
        raise ValueError(f"{spec.name} is not an occurrence-level field")
    value = f"unnest({spec.column})" if spec.is_list else spec.column
    return (f"SELECT o.participant_id AS participant_id, {value} AS value FROM occurrences o"
            f"{_JOINS.get(spec.source, '')} WHERE COALESCE(o.has_alt, FALSE)")


def carrier_table_sql(field: str) -> str:
    """The SELECT that fills the carrier table of `field`, sorted by value so a lookup reads few row groups."""
    return (f"SELECT DISTINCT value, participant_id FROM ({occurrence_value_rows(field_spec(field))}) rows "
            "ORDER BY value NULLS LAST, participant_id")


def extremes_table_sql() -> str:
    """The SELECT that fills EXTREMES_TABLE."""
    columns: list[str] = []
    for field, names in EXTREME_FIELDS.items():
        column = field_spec(field).column
        columns += [f"min({column}) AS {names.minimum}", f"max({column}) AS {names.maximum}",
                    f"bool_or({column} IS NULL) AS {names.missing}"]
    return (f"SELECT o.participant_id AS participant_id, {', '.join(columns)} FROM occurrences o{_JOINS['variants']} "
            "WHERE COALESCE(o.has_alt, FALSE) AND o.participant_id IS NOT NULL GROUP BY o.participant_id")


def protein_altering_gene_table_sql() -> str:
    """The SELECT that fills PROTEIN_ALTERING_GENE_TABLE (impacts inlined: code constants)."""
    impacts = ", ".join(f"'{impact}'" for impact in PROTEIN_ALTERING_IMPACTS)
    return (f"SELECT DISTINCT c.gene_symbol AS value, o.participant_id AS participant_id FROM occurrences o"
            f"{_JOINS['consequences']} WHERE COALESCE(o.has_alt, FALSE) AND o.participant_id IS NOT NULL "
            f"AND c.gene_symbol IS NOT NULL AND c.vep_impact IN ({impacts}) ORDER BY value, participant_id")


def preaggregate_tables() -> dict[str, str]:
    """Every pre-aggregated table and the SELECT that fills it."""
    tables = {table: carrier_table_sql(field) for field, table in CARRIER_TABLES.items()}
    tables[EXTREMES_TABLE] = extremes_table_sql()
    tables[PROTEIN_ALTERING_GENE_TABLE] = protein_altering_gene_table_sql()
    return tables
