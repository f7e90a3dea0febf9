"""DDL of the DICOM header index (owned by the imaging ingest)."""

from __future__ import annotations

import duckdb


def create_imaging_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create imaging_instances if it does not exist (placeholder: being written)."""
