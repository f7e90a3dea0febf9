"""DDL of the cache: bookkeeping tables, the variant tables of DATA_CONTRACT.md, and the schema version.

Every table of release data carries `_source_id BIGINT` (the catalog row of the object it came from), so that a
changed or deleted object's rows are found and replaced; sync finds those tables through information_schema.
`create_schema` also calls the clinical and imaging DDL owned by the FHIR and imaging ingests.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from kfexplorer.store.clinical_schema import create_clinical_schema
from kfexplorer.store.imaging_schema import create_imaging_schema

SCHEMA_VERSION = 1
SOURCE_ID_COLUMN = "_source_id"


@dataclass(frozen=True)
class ContractColumn:
    """One column of a release Parquet table: its name, DuckDB type, and whether a file must hold it."""

    name: str
    sql_type: str
    required: bool = False


OCCURRENCE_COLUMNS: tuple[ContractColumn, ...] = (
    ContractColumn("chromosome", "VARCHAR", True),
    ContractColumn("start", "BIGINT", True),
    ContractColumn("reference", "VARCHAR", True),
    ContractColumn("alternate", "VARCHAR", True),
    ContractColumn("locus_id", "VARCHAR"),
    ContractColumn("study_id", "VARCHAR", True),
    ContractColumn("participant_id", "VARCHAR", True),
    ContractColumn("sample_id", "VARCHAR"),
    ContractColumn("family_id", "VARCHAR"),
    ContractColumn("is_proband", "BOOLEAN"),
    ContractColumn("affected_status", "BOOLEAN"),
    ContractColumn("zygosity", "VARCHAR"),
    ContractColumn("calls", "INTEGER[]"),
    ContractColumn("dp", "INTEGER"),
    ContractColumn("gq", "INTEGER"),
    ContractColumn("ad_ref", "INTEGER"),
    ContractColumn("ad_alt", "INTEGER"),
    ContractColumn("filters", "VARCHAR[]"),
    ContractColumn("has_alt", "BOOLEAN"),
    ContractColumn("mother_id", "VARCHAR"),
    ContractColumn("father_id", "VARCHAR"),
    ContractColumn("mother_zygosity", "VARCHAR"),
    ContractColumn("father_zygosity", "VARCHAR"),
    ContractColumn("mother_calls", "INTEGER[]"),
    ContractColumn("father_calls", "INTEGER[]"),
    ContractColumn("mother_gq", "INTEGER"),
    ContractColumn("mother_dp", "INTEGER"),
    ContractColumn("father_gq", "INTEGER"),
    ContractColumn("father_dp", "INTEGER"),
    ContractColumn("mother_affected_status", "BOOLEAN"),
    ContractColumn("father_affected_status", "BOOLEAN"),
    ContractColumn("parental_origin", "VARCHAR"),
    ContractColumn("transmission_mode", "VARCHAR"),
)

VARIANT_COLUMNS: tuple[ContractColumn, ...] = (
    ContractColumn("chromosome", "VARCHAR", True),
    ContractColumn("start", "BIGINT", True),
    ContractColumn("end", "BIGINT"),
    ContractColumn("reference", "VARCHAR", True),
    ContractColumn("alternate", "VARCHAR", True),
    ContractColumn("locus_id", "VARCHAR"),
    ContractColumn("hgvsg", "VARCHAR"),
    ContractColumn("rsnumber", "VARCHAR"),
    ContractColumn("variant_class", "VARCHAR"),
    ContractColumn("gene_symbols", "VARCHAR[]"),
    ContractColumn("max_impact", "VARCHAR"),
    ContractColumn("clinvar_id", "VARCHAR"),
    ContractColumn("clinvar_sig", "VARCHAR[]"),
    ContractColumn("gnomad_genomes_3_af", "DOUBLE"),
    ContractColumn("gnomad_exomes_2_1_1_af", "DOUBLE"),
    ContractColumn("topmed_bravo_af", "DOUBLE"),
    ContractColumn("thousand_genomes_af", "DOUBLE"),
    ContractColumn("cadd_phred", "DOUBLE"),
    ContractColumn("revel_score", "DOUBLE"),
    ContractColumn("spliceai_ds", "DOUBLE"),
)

CONSEQUENCE_COLUMNS: tuple[ContractColumn, ...] = (
    ContractColumn("locus_id", "VARCHAR", True),
    ContractColumn("chromosome", "VARCHAR"),
    ContractColumn("start", "BIGINT"),
    ContractColumn("gene_symbol", "VARCHAR"),
    ContractColumn("ensembl_gene_id", "VARCHAR"),
    ContractColumn("ensembl_transcript_id", "VARCHAR"),
    ContractColumn("consequences", "VARCHAR[]"),
    ContractColumn("vep_impact", "VARCHAR"),
    ContractColumn("canonical", "BOOLEAN"),
    ContractColumn("mane_select", "BOOLEAN"),
    ContractColumn("hgvsc", "VARCHAR"),
    ContractColumn("hgvsp", "VARCHAR"),
    ContractColumn("protein_position", "INTEGER"),
    ContractColumn("amino_acids", "VARCHAR"),
    ContractColumn("biotype", "VARCHAR"),
)

CONTRACT_TABLES: dict[str, tuple[ContractColumn, ...]] = {
    "occurrences": OCCURRENCE_COLUMNS,
    "variants": VARIANT_COLUMNS,
    "consequences": CONSEQUENCE_COLUMNS,
}

_BOOKKEEPING_DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS catalog (
        source_id BIGINT PRIMARY KEY,
        key VARCHAR NOT NULL UNIQUE,
        kind VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        etag VARCHAR,
        sha256 VARCHAR,
        quarantined BOOLEAN NOT NULL DEFAULT FALSE,
        synced_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        path VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        "at" TIMESTAMP NOT NULL,
        kind VARCHAR,
        _source_id BIGINT
    )""",
    """CREATE TABLE IF NOT EXISTS release_meta (
        release_id VARCHAR NOT NULL,
        schema_version INTEGER NOT NULL,
        title VARCHAR,
        json VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS sync_warnings (origin VARCHAR NOT NULL, message VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS pending_file_moves (key VARCHAR NOT NULL, staged_path VARCHAR)""",
)


def quote_identifier(name: str) -> str:
    """Quote an identifier that comes from code constants (never from user or release text)."""
    return '"' + name.replace('"', '""') + '"'


def contract_table_ddl(table: str) -> str:
    columns = ", ".join(f"{quote_identifier(c.name)} {c.sql_type}" for c in CONTRACT_TABLES[table])
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns}, {SOURCE_ID_COLUMN} BIGINT NOT NULL)"


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every cache table that does not exist yet and record SCHEMA_VERSION (idempotent)."""
    for ddl in _BOOKKEEPING_DDL:
        con.execute(ddl)
    for table in CONTRACT_TABLES:
        con.execute(contract_table_ddl(table))
    create_clinical_schema(con)
    create_imaging_schema(con)
    rows = con.execute("SELECT max(version) FROM schema_version").fetchall()
    if rows[0][0] != SCHEMA_VERSION:
        con.execute("INSERT INTO schema_version VALUES (?, current_timestamp)", [SCHEMA_VERSION])


def schema_is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the cache's schema was created at SCHEMA_VERSION (so create_schema has nothing to do)."""
    present = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not present:
        return False
    return bool(con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] == SCHEMA_VERSION)


def tables_with_source_id(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Base tables of the main schema that carry a `_source_id` column (release data and quarantine)."""
    rows = con.execute(
        """SELECT c.table_name FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_name = c.table_name AND t.table_schema = c.table_schema AND t.table_catalog = c.table_catalog
           WHERE c.column_name = ? AND t.table_type = 'BASE TABLE' AND c.table_schema = 'main'
             AND c.table_catalog = current_database()
           ORDER BY c.table_name""",
        [SOURCE_ID_COLUMN],
    ).fetchall()
    return [row[0] for row in rows]


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database()"
    ).fetchall()
    return {row[0] for row in rows}
