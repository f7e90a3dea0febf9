"""DDL of the clinical tables flattened from FHIR (owned by the FHIR ingest)."""

from __future__ import annotations

import duckdb


def create_clinical_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw FHIR table and the clinical tables if they do not exist (placeholder: being written)."""
