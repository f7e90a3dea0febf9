"""The DICOM header index: one `imaging_instances` row per DICOM file of a release.

Only headers are read (pixel data stays on disk: pydicom stops before it). A file that is not DICOM Part 10, whose
header cannot be parsed, that lacks a required UID, or whose pixel data is cut short, is quarantined with the
reason; everything else lands. Nothing here raises for bad input.

`read_header_row` is a pure function of one file (safe to run in worker processes); `insert_header_rows` writes
many rows in one Arrow insert; `index_dicom_files` does both.
"""

from __future__ import annotations

import math
import os
import re
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import pyarrow as pa
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID

from kfexplorer.store.imaging_schema import IMAGING_INSTANCE_COLUMNS
from kfexplorer.store.records import QuarantineItem

HeaderRow = dict[str, Any]

REQUIRED_UIDS = (("sop_instance_uid", "SOPInstanceUID"), ("series_instance_uid", "SeriesInstanceUID"),
                 ("study_instance_uid", "StudyInstanceUID"))
UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")
AGE_PATTERN = re.compile(r"^(\d{3})([DWMY])$")
AGE_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 30.4375, "Y": 365.25}
PIXEL_DATA_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
UNDEFINED_LENGTH = 0xFFFFFFFF
LONG_LENGTH_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
BATCH_VIEW = "imaging_instances_batch"  # name of the Arrow batch registered on the connection during an insert
DEFER_SIZE = "64 KB"  # large header elements (private blobs, icons) are not read into memory

ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
    "DOUBLE[3]": pa.list_(pa.float64(), 3), "DOUBLE[6]": pa.list_(pa.float64(), 6),
}
COLUMN_NAMES = tuple(name for name, _ in IMAGING_INSTANCE_COLUMNS)
ARROW_SCHEMA = pa.schema([(name, ARROW_TYPES[sql_type.replace(" NOT NULL", "")])
                          for name, sql_type in IMAGING_INSTANCE_COLUMNS])


class HeaderProblem(Exception):
    """Why a file cannot be indexed; its message becomes the quarantine reason."""


def _value(ds: Dataset, keyword: str) -> Any:
    """A header value, or None when absent or unparseable (release data is untrusted)."""
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - any malformed value just counts as missing
        return None
    if value is None or value == "":
        return None
    return value


def _first(value: Any) -> Any:
    if isinstance(value, (list, tuple, MultiValue)):
        return value[0] if len(value) else None
    return value


def _float(ds: Dataset, keyword: str) -> float | None:
    try:
        number = float(_first(_value(ds, keyword)))
    except (TypeError, ValueError, IndexError):
        return None
    return number if math.isfinite(number) else None


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        number = int(float(_first(_value(ds, keyword))))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return number if -(2 ** 31) <= number < 2 ** 31 else None


def _text(ds: Dataset, keyword: str) -> str | None:
    value = _value(ds, keyword)
    if value is None:
        return None
    text = str(_first(value)).strip().strip("\x00").strip()
    return text or None


def _vector(ds: Dataset, keyword: str, size: int) -> list[float] | None:
    value = _value(ds, keyword)
    try:
        numbers = [float(v) for v in value] if value is not None else []
    except (TypeError, ValueError):
        return None
    if len(numbers) != size or not all(math.isfinite(v) for v in numbers):
        return None
    return numbers


def _age_days(age: str | None) -> int | None:
    match = AGE_PATTERN.match(age or "")
    if match is None:
        return None
    return int(int(match.group(1)) * AGE_UNIT_DAYS[match.group(2)])


def _participant_from_path(rel_path: str) -> str | None:
    """imaging/<study_id>/<participant_id>/…: the participant folder of the release layout."""
    parts = rel_path.replace("\\", "/").split("/")
    return parts[2] if len(parts) >= 4 and parts[0] == "imaging" and parts[2] else None


def _check_pixel_data(fp: BinaryIO, ds: Dataset, file_size: int) -> None:
    """Raise HeaderProblem when the file has no pixel data or its pixel data is cut short.

    pydicom leaves `fp` at the Pixel Data tag when it stops before pixels; its element header (8 or 12 bytes) says
    how many bytes follow, and for native transfer syntaxes Rows × Columns × … says how many must.
    """
    start = fp.tell()
    if start >= file_size:
        raise HeaderProblem("no Pixel Data element (file truncated, or not an image instance)")
    implicit_vr, little_endian = ds.original_encoding
    order = "<" if little_endian in (True, None) else ">"
    head = fp.read(8)
    if len(head) < 8:
        raise HeaderProblem("truncated: the file ends inside the Pixel Data element header")
    group, element = struct.unpack(order + "HH", head[:4])
    if (group, element) not in PIXEL_DATA_TAGS:
        raise HeaderProblem(f"unexpected element ({group:04X},{element:04X}) where the header ended")
    if implicit_vr:
        length = struct.unpack(order + "I", head[4:8])[0]
        value_start = start + 8
    elif head[4:6] in LONG_LENGTH_VRS:
        extra = fp.read(4)
        if len(extra) < 4:
            raise HeaderProblem("truncated: the file ends inside the Pixel Data element header")
        length = struct.unpack(order + "I", extra)[0]
        value_start = start + 12
    else:
        length = struct.unpack(order + "H", head[6:8])[0]
        value_start = start + 8
    if length == UNDEFINED_LENGTH:
        if value_start >= file_size:
            raise HeaderProblem("truncated: encapsulated Pixel Data has no fragments")
        return
    available = file_size - value_start
    if available < length:
        raise HeaderProblem(f"truncated: Pixel Data declares {length} bytes but the file holds {available}")
    syntax = _value(ds.file_meta, "TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is not None and UID(str(syntax)).is_compressed:
        return
    rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
    bits = _int(ds, "BitsAllocated")
    if rows is None or columns is None or bits is None:
        raise HeaderProblem("image without Rows, Columns or BitsAllocated")
    frames = _int(ds, "NumberOfFrames") or 1
    samples = _int(ds, "SamplesPerPixel") or 1
    needed = (rows * columns * frames * samples * bits + 7) // 8
    if length < needed:
        raise HeaderProblem(f"Pixel Data holds {length} bytes but Rows × Columns × frames × samples × "
                            f"BitsAllocated need {needed}")


def _header_row(ds: Dataset, source_id: int, rel_path: str) -> HeaderRow:
    row: HeaderRow = {}
    for column, keyword in REQUIRED_UIDS:
        uid = _text(ds, keyword)
        if uid is None:
            raise HeaderProblem(f"missing {keyword}")
        if len(uid) > 64 or UID_PATTERN.match(uid) is None:
            raise HeaderProblem(f"malformed {keyword}: {uid[:80]!r}")
        row[column] = uid
    file_meta = getattr(ds, "file_meta", Dataset())
    pixel_spacing = _vector(ds, "PixelSpacing", 2)
    patient_age = _text(ds, "PatientAge")
    row.update({
        "frame_of_reference_uid": _text(ds, "FrameOfReferenceUID"),
        "sop_class_uid": _text(ds, "SOPClassUID") or _text(file_meta, "MediaStorageSOPClassUID"),
        "participant_id": _text(ds, "PatientID") or _participant_from_path(rel_path),
        "patient_sex": _text(ds, "PatientSex"),
        "patient_age": patient_age,
        "patient_age_days": _age_days(patient_age),
        "study_date": _text(ds, "StudyDate"),
        "study_description": _text(ds, "StudyDescription"),
        "modality": _text(ds, "Modality"),
        "body_part": _text(ds, "BodyPartExamined"),
        "series_description": _text(ds, "SeriesDescription"),
        "series_number": _int(ds, "SeriesNumber"),
        "instance_number": _int(ds, "InstanceNumber"),
        "manufacturer": _text(ds, "Manufacturer"),
        "magnetic_field_strength": _float(ds, "MagneticFieldStrength"),
        "rows": _int(ds, "Rows"),
        "columns": _int(ds, "Columns"),
        "number_of_frames": _int(ds, "NumberOfFrames") or 1,
        "bits_allocated": _int(ds, "BitsAllocated"),
        "bits_stored": _int(ds, "BitsStored"),
        "pixel_representation": _int(ds, "PixelRepresentation"),
        "pixel_spacing_row": pixel_spacing[0] if pixel_spacing else None,
        "pixel_spacing_col": pixel_spacing[1] if pixel_spacing else None,
        "slice_thickness": _float(ds, "SliceThickness"),
        "spacing_between_slices": _float(ds, "SpacingBetweenSlices"),
        "image_position": _vector(ds, "ImagePositionPatient", 3),
        "image_orientation": _vector(ds, "ImageOrientationPatient", 6),
        "window_center": _float(ds, "WindowCenter"),
        "window_width": _float(ds, "WindowWidth"),
        "rescale_slope": _float(ds, "RescaleSlope"),
        "rescale_intercept": _float(ds, "RescaleIntercept"),
        "photometric_interpretation": _text(ds, "PhotometricInterpretation"),
        "transfer_syntax_uid": _text(file_meta, "TransferSyntaxUID"),
        "path": rel_path,
        "_source_id": int(source_id),
    })
    return row


def read_header_row(source_id: int, rel_path: str, local_path: Path) -> HeaderRow | QuarantineItem:
    """The imaging_instances row of one DICOM file, or the QuarantineItem saying why it has none.

    Reads the header only; never raises for bad content (an unreadable file is a QuarantineItem too).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about odd values; they become NULLs or reasons here
            with open(local_path, "rb") as fp:
                file_size = os.fstat(fp.fileno()).st_size
                if file_size == 0:
                    raise HeaderProblem("empty file")
                try:
                    ds = dcmread(fp, stop_before_pixels=True, defer_size=DEFER_SIZE)
                except InvalidDicomError:
                    raise HeaderProblem("not a DICOM Part 10 file (no 'DICM' marker after the 128-byte preamble)")\
                        from None
                except Exception as exc:  # noqa: BLE001 - pydicom raises many types on malformed headers
                    raise HeaderProblem(f"unreadable DICOM header: {type(exc).__name__}: {str(exc)[:160]}") \
                        from None
                ended_early = fp.tell() >= file_size
                try:
                    row = _header_row(ds, source_id, rel_path)
                except HeaderProblem as problem:
                    prefix = "header ends before Pixel Data (file truncated?): " if ended_early else ""
                    raise HeaderProblem(prefix + str(problem)) from None
                _check_pixel_data(fp, ds, file_size)
        return row
    except HeaderProblem as problem:
        return QuarantineItem(rel_path, str(problem))
    except OSError as exc:
        return QuarantineItem(rel_path, f"cannot read file: {exc.strerror or exc}")


def insert_header_rows(con: duckdb.DuckDBPyConnection, rows: Sequence[HeaderRow],
                       replaced_source_ids: Sequence[int] = ()) -> list[QuarantineItem]:
    """Insert rows (from read_header_row) into imaging_instances in one Arrow insert.

    The earlier rows of every _source_id in the batch, and of `replaced_source_ids`, are deleted first, so
    re-indexing an object replaces its rows. A SOPInstanceUID seen twice in the batch, or already indexed from
    another source, is quarantined (the first one seen is kept).
    """
    quarantined: list[QuarantineItem] = []
    first_path: dict[str, str] = {}
    unique: list[HeaderRow] = []
    for row in rows:
        uid = row["sop_instance_uid"]
        if uid in first_path:
            quarantined.append(QuarantineItem(row["path"], f"duplicate SOPInstanceUID {uid} (also in "
                                                           f"{first_path[uid]})"))
            continue
        first_path[uid] = row["path"]
        unique.append(row)
    source_ids = sorted({int(row["_source_id"]) for row in unique} | {int(s) for s in replaced_source_ids})
    if source_ids:
        con.execute("DELETE FROM imaging_instances WHERE _source_id IN (SELECT UNNEST(?::BIGINT[]))", [source_ids])
    if not unique:
        return quarantined
    batch = pa.Table.from_pylist(unique, schema=ARROW_SCHEMA)
    columns = ", ".join(COLUMN_NAMES)
    con.register(BATCH_VIEW, batch)
    try:
        clashes = con.execute(
            f"SELECT b.path, b.sop_instance_uid, min(i.path) FROM {BATCH_VIEW} b "
            "JOIN imaging_instances i ON i.sop_instance_uid = b.sop_instance_uid GROUP BY ALL"
        ).fetchall()
        clash_paths = {path for path, _, _ in clashes}
        quarantined += [QuarantineItem(path, f"duplicate SOPInstanceUID {uid} (also in {other})")
                        for path, uid, other in clashes]
        con.execute(
            f"INSERT INTO imaging_instances ({columns}) SELECT {columns} FROM {BATCH_VIEW} "
            "WHERE path NOT IN (SELECT UNNEST(?::VARCHAR[]))", [sorted(clash_paths)]
        )
    finally:
        con.unregister(BATCH_VIEW)
    return quarantined


def index_dicom_files(con: duckdb.DuckDBPyConnection,
                      items: Sequence[tuple[int, str, Path]]) -> list[QuarantineItem]:
    """Index many DICOM files, given as (source_id, release-relative path, local path); return what was
    quarantined. Runs inside the caller's transaction; imaging_instances must exist (create_imaging_schema)."""
    rows: list[HeaderRow] = []
    quarantined: list[QuarantineItem] = []
    for source_id, rel_path, local_path in items:
        result = read_header_row(source_id, rel_path, local_path)
        if isinstance(result, QuarantineItem):
            quarantined.append(result)
        else:
            rows.append(result)
    return quarantined + insert_header_rows(con, rows, [source_id for source_id, _, _ in items])


def index_dicom_file(con: duckdb.DuckDBPyConnection, source_id: int, rel_path: str,
                     local_path: Path) -> list[QuarantineItem]:
    """Index one DICOM file: one imaging_instances row, or a QuarantineItem with the reason (nothing inserted)."""
    return index_dicom_files(con, [(source_id, rel_path, local_path)])
