"""kfexplorer.variants.ingest: contract columns by name, casts, partition and derived columns, bad files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from release_factory import ReleaseBuilder, consequence_table, occurrence_table, raw_counts

from kfexplorer.store.cache import DUCKDB_CONFIG, connect
from kfexplorer.store.schema import OCCURRENCE_COLUMNS, create_schema
from kfexplorer.store.status import cache_status
from kfexplorer.sync.engine import sync_release
from kfexplorer.variants.ingest import ingest_parquet_object, partition_values


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    create_schema(connection)
    return connection


def test_partition_values_come_from_hive_folders() -> None:
    key = "variants/occurrences/study_id=SD_X%2FY/chromosome=X/part-0.parquet"
    assert partition_values(key) == {"study_id": "SD_X/Y", "chromosome": "X"}


def test_missing_columns_come_from_the_path_or_are_derived(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    raw = occurrence_table(9, "SD_AAAA", "7").drop(["chromosome", "study_id", "locus_id", "has_alt", "dp"])
    path = tmp_path / "part.parquet"
    pq.write_table(raw, path)
    key = "variants/occurrences/study_id=SD_AAAA/chromosome=7/part-0.parquet"
    assert ingest_parquet_object(con, "occurrences", 42, key, path) == []
    rows = con.execute(
        "SELECT chromosome, study_id, locus_id, has_alt, dp, _source_id FROM occurrences ORDER BY start").fetchall()
    calls = raw.column("calls").to_pylist()
    starts = raw.column("start").to_pylist()
    assert [r[0] for r in rows] == ["7"] * 9 and {r[1] for r in rows} == {"SD_AAAA"}
    assert [r[2] for r in rows] == [f"7-{s}-A-G" for s in sorted(starts)]
    assert [r[3] for r in rows] == [any(c > 0 for c in call) for _, call in sorted(zip(starts, calls, strict=True))]
    assert {r[4] for r in rows} == {None} and {r[5] for r in rows} == {42}
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'occurrences'").fetchall())
    assert [(c.name, types[c.name]) for c in OCCURRENCE_COLUMNS] == [(c.name, c.sql_type) for c in OCCURRENCE_COLUMNS]


def test_consequence_start_is_derived_from_locus_id(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    pq.write_table(consequence_table(4, "2"), path)
    assert ingest_parquet_object(con, "consequences", 1, "variants/consequences/chromosome=2/p.parquet", path) == []
    rows = con.execute("SELECT chromosome, start, protein_position FROM consequences ORDER BY start").fetchall()
    assert rows == [("2", 1000 + i, i) for i in range(4)]


def test_incompatible_or_missing_columns_are_quarantined(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    bad_type = occurrence_table(3, "SD_A", "1").set_column(1, "start", pa.array(["x", "y", "z"]))
    path = tmp_path / "bad.parquet"
    pq.write_table(bad_type, path)
    items = ingest_parquet_object(con, "occurrences", 1, "variants/occurrences/a.parquet", path)
    assert len(items) == 1 and items[0].path == "variants/occurrences/a.parquet" and "start" in items[0].reason
    pq.write_table(occurrence_table(3, "SD_A", "1").drop(["participant_id"]), path)
    items = ingest_parquet_object(con, "occurrences", 1, "variants/occurrences/a.parquet", path)
    assert "participant_id" in items[0].reason
    path.write_bytes(b"not parquet at all")
    assert "Parquet" in ingest_parquet_object(con, "occurrences", 1, "x.parquet", path)[0].reason
    assert con.execute("SELECT count(*) FROM occurrences").fetchall()[0][0] == 0


def test_a_value_that_fails_in_duckdb_quarantines_its_object_only(tmp_path: Path) -> None:
    # dp is INTEGER in the contract: an int64 beyond 2^31 passes the schema check but fails the cast in the insert
    release = ReleaseBuilder(tmp_path / "release").standard()
    overflow = occurrence_table(5, "SD_CCCC", "3")
    overflow = overflow.set_column(overflow.schema.get_field_index("dp"), "dp", pa.array([2**40] * 5, pa.int64()))
    key = release.write_table(release.occurrences_key("SD_CCCC", "3"), overflow)
    cache_dir = tmp_path / "cache"
    report = sync_release(str(release.root), cache_dir).to_json()
    assert [q["path"] for q in report["quarantined"]] == [key]
    expected = raw_counts(release.root)
    expected["occurrences"] -= 5
    tables = cache_status(cache_dir)["tables"]
    assert {t: tables[t] for t in expected} == expected
    con = connect(cache_dir, read_only=True)
    try:
        assert con.execute("SELECT quarantined FROM catalog WHERE key = ?", [key]).fetchall() == [(True,)]
    finally:
        con.close()
