"""Fixtures of the FHIR tests: an in-memory cache with the clinical schema, and the small release on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fhir_release_fixture import write_release

from kfexplorer.store.clinical_schema import create_clinical_schema


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                                    "autoload_known_extensions": False})
    create_clinical_schema(connection)
    yield connection
    connection.close()


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    return tmp_path, write_release(tmp_path)
