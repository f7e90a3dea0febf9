"""The DICOM header index: rows equal what pydicom reads from the files; bad files are quarantined, good ones land."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, MRImageStorage

from kfexplorer.demo import imaging
from kfexplorer.demo.population import Population, build_population
from kfexplorer.imaging.header_index import index_dicom_file, index_dicom_files
from kfexplorer.store.imaging_schema import create_imaging_schema


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A release holding one brain MR and one chest CT written by the demo generator."""
    root = tmp_path_factory.mktemp("release")
    full = build_population(40, 21)
    chosen = [next(p for p in full.probands() if p.study_id == study_id)
              for study_id in ("SD_BRN8TM2Q", "SD_CHD4TRQ0")]
    with pytest.MonkeyPatch.context() as mp:
        for code in imaging.IMAGING_SHARE:
            mp.setitem(imaging.IMAGING_SHARE, code, 1.0)
        imaging.write_imaging(root, Population(21, full.studies, chosen, []), 21)
    return root


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    create_imaging_schema(connection)
    return connection


def _items(root: Path, files: list[Path], first_id: int = 1) -> list[tuple[int, str, Path]]:
    return [(first_id + i, f.relative_to(root).as_posix(), f) for i, f in enumerate(files)]


def _rows(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, object]]:
    cursor = con.execute("SELECT * FROM imaging_instances")
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def _floats(value: object) -> list[float]:
    return [float(v) for v in value]  # type: ignore[attr-defined]


def test_index_matches_pydicom(release: Path, con: duckdb.DuckDBPyConnection) -> None:
    files = sorted(release.rglob("*.dcm"))
    assert index_dicom_files(con, _items(release, files)) == []
    rows = _rows(con)
    assert len(rows) == len(files)
    for source_id, rel_path, path in _items(release, files):
        ds = pydicom.dcmread(path)
        row = rows[ds.SOPInstanceUID]
        assert row["path"] == rel_path and row["_source_id"] == source_id
        assert (row["series_instance_uid"], row["study_instance_uid"]) == (ds.SeriesInstanceUID, ds.StudyInstanceUID)
        assert row["frame_of_reference_uid"] == ds.FrameOfReferenceUID
        assert row["participant_id"] == ds.PatientID == rel_path.split("/")[2]
        assert (row["modality"], row["body_part"], row["series_description"]) == \
            (ds.Modality, ds.BodyPartExamined, ds.SeriesDescription)
        assert (row["series_number"], row["instance_number"]) == (ds.SeriesNumber, ds.InstanceNumber)
        assert (row["rows"], row["columns"], row["number_of_frames"]) == (ds.Rows, ds.Columns, 1)
        assert row["manufacturer"] == ds.Manufacturer
        assert (row["pixel_spacing_row"], row["pixel_spacing_col"]) == tuple(_floats(ds.PixelSpacing))
        assert row["slice_thickness"] == float(ds.SliceThickness)
        assert row["spacing_between_slices"] == float(ds.SpacingBetweenSlices)
        assert _floats(row["image_position"]) == _floats(ds.ImagePositionPatient)
        assert _floats(row["image_orientation"]) == _floats(ds.ImageOrientationPatient)
        assert (row["window_center"], row["window_width"]) == (float(ds.WindowCenter), float(ds.WindowWidth))
        assert row["photometric_interpretation"] == ds.PhotometricInterpretation
        assert row["transfer_syntax_uid"] == ds.file_meta.TransferSyntaxUID
        assert row["patient_age"] == ds.PatientAge and row["patient_sex"] == ds.PatientSex
        unit = {"D": 1, "W": 7, "M": 30.4375, "Y": 365.25}[ds.PatientAge[-1]]
        assert row["patient_age_days"] == int(int(ds.PatientAge[:3]) * unit)
        if ds.Modality == "MR":
            assert row["magnetic_field_strength"] == float(ds.MagneticFieldStrength)
            assert row["rescale_slope"] is None and row["pixel_representation"] == 0
        else:
            assert row["magnetic_field_strength"] is None
            assert (row["rescale_slope"], row["rescale_intercept"]) == (1.0, -1024.0)
            assert row["pixel_representation"] == 1


def test_indexed_series_geometry_is_a_regular_stack(release: Path, con: duckdb.DuckDBPyConnection) -> None:
    index_dicom_files(con, _items(release, sorted(release.rglob("*.dcm"))))
    series = con.execute("SELECT series_instance_uid, list(image_position ORDER BY instance_number), "
                         "any_value(image_orientation), any_value(spacing_between_slices) "
                         "FROM imaging_instances GROUP BY 1").fetchall()
    assert len(series) >= 6
    for _, positions, orientation, spacing in series:
        normal = np.cross(np.array(orientation[:3]), np.array(orientation[3:]))
        steps = np.diff(np.array(positions), axis=0)
        assert np.allclose(steps, spacing * normal, atol=1e-3)


def _bad_dataset_without_sop_uid(path: Path) -> None:
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.StudyInstanceUID = UID("1.2.3.4")
    ds.SeriesInstanceUID = UID("1.2.3.4.5")
    ds.PatientID = "PT_X"
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.SamplesPerPixel = 2, 2, 16, 1
    ds.PixelData = b"\x00" * 8
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = UID("1.2.3.4.5.6")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)


def test_bad_files_are_quarantined_and_good_files_land(release: Path, con: duckdb.DuckDBPyConnection,
                                                       tmp_path: Path) -> None:
    good = sorted(release.rglob("*.dcm"))[:5]
    raw = good[0].read_bytes()
    bad = {
        "garbage.dcm": b"this is not a dicom file at all" * 40,
        "empty.dcm": b"",
        "truncated_pixels.dcm": raw[: len(raw) - 1000],
        "truncated_header.dcm": raw[:400],
        "no_preamble.dcm": raw[132:],
    }
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
    _bad_dataset_without_sop_uid(tmp_path / "no_sop_uid.dcm")
    items = _items(release, good) + [(100 + i, f"imaging/bad/{p.name}", p)
                                     for i, p in enumerate(sorted(tmp_path.glob("*.dcm")))]
    items.append((200, "imaging/bad/missing.dcm", tmp_path / "missing.dcm"))
    quarantined = index_dicom_files(con, items)
    reasons = {Path(q.path).name: q.reason for q in quarantined}
    assert set(reasons) == {*bad, "no_sop_uid.dcm", "missing.dcm"}
    assert "not a DICOM Part 10" in reasons["garbage.dcm"] and "not a DICOM Part 10" in reasons["no_preamble.dcm"]
    assert reasons["empty.dcm"] == "empty file"
    assert "truncated" in reasons["truncated_pixels.dcm"]
    assert "truncated" in reasons["truncated_header.dcm"]
    assert "SOPInstanceUID" in reasons["no_sop_uid.dcm"]
    assert "cannot read file" in reasons["missing.dcm"]
    assert sorted(p for (p,) in con.execute("SELECT path FROM imaging_instances").fetchall()) == \
        sorted(rel for _, rel, _ in _items(release, good))


def test_single_file_reindex_replaces_and_duplicates_are_quarantined(release: Path,
                                                                     con: duckdb.DuckDBPyConnection,
                                                                     tmp_path: Path) -> None:
    path = sorted(release.rglob("*.dcm"))[0]
    rel = path.relative_to(release).as_posix()
    assert index_dicom_file(con, 7, rel, path) == []
    assert index_dicom_file(con, 7, rel, path) == []  # the same object again: replaced, not duplicated
    assert con.execute("SELECT count(*), min(_source_id) FROM imaging_instances").fetchone() == (1, 7)
    copy = tmp_path / "copy.dcm"
    copy.write_bytes(path.read_bytes())
    quarantined = index_dicom_file(con, 8, "imaging/other/copy.dcm", copy)
    assert len(quarantined) == 1 and "duplicate SOPInstanceUID" in quarantined[0].reason
    assert con.execute("SELECT count(*) FROM imaging_instances").fetchone() == (1,)
    # an object that turns bad on a later sync loses its old row
    copy.write_bytes(b"garbage")
    assert index_dicom_file(con, 7, rel, copy)[0].path == rel
    assert con.execute("SELECT count(*) FROM imaging_instances").fetchone() == (0,)


def test_odd_values_become_nulls_not_failures(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = UID("1.2.3.9"), UID("1.2.3"), UID("1.2.3.4")
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.SamplesPerPixel = 2, 2, 16, 1
    ds.PixelSpacing = ["0.5"]  # one value instead of two
    ds.ImagePositionPatient = ["1", "2"]  # two instead of three
    with pytest.warns(UserWarning):
        ds.PatientAge = "7 years"  # not a valid AS value
    ds.PixelData = b"\x00" * 8
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = UID("1.2.3.9")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "imaging" / "SD_X" / "PT_FROMPATH" / "1.2.3" / "1.2.3.4" / "1.2.3.9.dcm"
    path.parent.mkdir(parents=True)
    ds.save_as(path, enforce_file_format=True)
    assert index_dicom_file(con, 1, path.relative_to(tmp_path).as_posix(), path) == []
    row = next(iter(_rows(con).values()))
    assert row["pixel_spacing_row"] is None and row["image_position"] is None
    assert row["patient_age"] == "7 years" and row["patient_age_days"] is None
    assert row["participant_id"] == "PT_FROMPATH"  # no PatientID: the release layout names the participant
    assert row["number_of_frames"] == 1 and not math.isnan(float(row["rows"]))  # type: ignore[arg-type]
