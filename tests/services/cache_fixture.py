"""A small cache folder made by code: kfexplorer.duckdb with participants, release_meta and a few counted tables."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

RELEASE_ID = "2026-11-01"
RELEASE_TITLE = "KF test release"
VARIANT_ROWS = 1_234
IMAGING_SERIES_ROWS = 37


def build_cache(cache_dir: Path, participants: int = 700) -> Path:
    """Write DIR/kfexplorer.duckdb; participants get varied sexes, ages (some NULL), booleans and families."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(cache_dir / "kfexplorer.duckdb"))
    try:
        con.execute(
            """
            CREATE TABLE participants AS
            SELECT
                printf('PT_%05d', i) AS participant_id,
                printf('pt-%05d', i) AS fhir_id,
                CASE WHEN i % 3 = 0 THEN 'SD_ALPHA' WHEN i % 3 = 1 THEN 'SD_BETA' ELSE 'SD_GAMMA' END AS study_id,
                CASE WHEN i % 2 = 0 THEN 'Female' ELSE 'Male' END AS sex,
                CASE WHEN i % 5 = 0 THEN 'Asian' ELSE 'White' END AS race,
                'Not Hispanic or Latino' AS ethnicity,
                (i % 3 = 0) AS is_proband,
                (i % 4 = 0) AS affected_status,
                printf('FM_%04d', i // 3) AS family_id,
                'trio' AS family_type,
                CASE WHEN i % 11 = 0 THEN 'Deceased' ELSE 'Alive' END AS vital_status,
                CASE WHEN i % 13 = 0 THEN NULL ELSE CAST((i * 7919) % 6570 + 30 AS INTEGER) END
                    AS age_at_last_follow_up_days
            FROM range(?) t(i)
            """,
            [participants],
        )
        con.execute("CREATE TABLE release_meta (release_id VARCHAR, schema_version INTEGER, title VARCHAR, json VARCHAR)")
        con.execute(
            "INSERT INTO release_meta VALUES (?, 1, ?, ?)",
            [RELEASE_ID, RELEASE_TITLE, json.dumps({"release_id": RELEASE_ID, "schema_version": 1})],
        )
        con.execute("CREATE TABLE variants AS SELECT printf('1-%d-A-G', i) AS locus_id FROM range(?) t(i)", [VARIANT_ROWS])
        con.execute(
            "CREATE TABLE imaging_series AS SELECT printf('1.2.3.%d', i) AS series_instance_uid FROM range(?) t(i)",
            [IMAGING_SERIES_ROWS],
        )
    finally:
        con.close()
    return cache_dir
