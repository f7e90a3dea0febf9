"""DDL of the DICOM header index (owned by the imaging ingest)."""

from __future__ import annotations

import duckdb

# Column name and DuckDB type, in table order. The header index inserts by these names.
IMAGING_INSTANCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sop_instance_uid", "VARCHAR NOT NULL"),
    ("series_instance_uid", "VARCHAR NOT NULL"),
    ("study_instance_uid", "VARCHAR NOT NULL"),
    ("frame_of_reference_uid", "VARCHAR"),
    ("sop_class_uid", "VARCHAR"),
    ("participant_id", "VARCHAR"),  # DICOM PatientID
    ("patient_sex", "VARCHAR"),
    ("patient_age", "VARCHAR"),  # PatientAge as written, e.g. 007Y
    ("patient_age_days", "INTEGER"),  # PatientAge in days (Y = 365.25 d, M = 30.4375 d, W = 7 d)
    ("study_date", "VARCHAR"),  # StudyDate as written (YYYYMMDD; shifted in de-identified data)
    ("study_description", "VARCHAR"),
    ("modality", "VARCHAR"),
    ("body_part", "VARCHAR"),
    ("series_description", "VARCHAR"),
    ("series_number", "INTEGER"),
    ("instance_number", "INTEGER"),
    ("manufacturer", "VARCHAR"),
    ("magnetic_field_strength", "DOUBLE"),
    ("rows", "INTEGER"),
    ("columns", "INTEGER"),
    ("number_of_frames", "INTEGER"),  # 1 when the header has no NumberOfFrames
    ("bits_allocated", "INTEGER"),
    ("bits_stored", "INTEGER"),
    ("pixel_representation", "INTEGER"),
    ("pixel_spacing_row", "DOUBLE"),
    ("pixel_spacing_col", "DOUBLE"),
    ("slice_thickness", "DOUBLE"),
    ("spacing_between_slices", "DOUBLE"),
    ("image_position", "DOUBLE[3]"),
    ("image_orientation", "DOUBLE[6]"),
    ("window_center", "DOUBLE"),
    ("window_width", "DOUBLE"),
    ("rescale_slope", "DOUBLE"),
    ("rescale_intercept", "DOUBLE"),
    ("photometric_interpretation", "VARCHAR"),
    ("transfer_syntax_uid", "VARCHAR"),
    ("path", "VARCHAR NOT NULL"),  # release-relative path of the file, e.g. imaging/…/x.dcm
    ("_source_id", "BIGINT NOT NULL"),  # catalog id of the object the row came from
)


def create_imaging_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create imaging_instances (one row per DICOM instance) if it does not exist.

    No ART indexes: lookups by series or source are column scans that DuckDB's zone maps keep cheap, and an index
    would slow the bulk inserts of a sync."""
    columns = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in IMAGING_INSTANCE_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS imaging_instances (\n    {columns}\n)")
