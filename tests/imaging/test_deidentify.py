"""De-identified export: no original identifier or UID left anywhere in the output bytes, consistent UID
remapping, stable per-participant date shifts, the salt never exported, results reopen and still display."""

from __future__ import annotations

import datetime as dt
import os
import stat
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID_dictionary, generate_uid

from kfexplorer.imaging.deid_profile import BASIC_PROFILE, OPTION_ACTIONS
from kfexplorer.imaging.deidentify import deidentify_series
from kfexplorer.imaging.display import render_uint8

IDENTIFYING = ("PatientName", "PatientID", "OtherPatientIDs", "AccessionNumber", "InstitutionName",
               "InstitutionAddress", "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
               "StationName", "DeviceSerialNumber", "StudyID", "PatientBirthDate", "PatientAddress",
               "RequestingPhysician", "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy")


def _read(path: Path | str) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def _walk(ds: Dataset):  # type: ignore[no-untyped-def]
    for element in ds:
        yield element
        if element.VR == "SQ":
            for item in element.value:
                yield from _walk(item)


def _secrets(ds: Dataset) -> set[str]:
    """Everything identifying in an input: its non-standard UIDs, identifying strings and dates."""
    found: set[str] = set()
    for element in _walk(ds):
        if element.VR == "UI" and element.value:
            values = element.value if element.VM > 1 else [element.value]
            found |= {str(v) for v in values if str(v) not in UID_dictionary}
        if element.keyword in IDENTIFYING and element.value:
            values = element.value if element.VM > 1 else [element.value]
            found |= {part for v in values for part in str(v).replace("^", " ").split() if len(part) >= 4}
        if element.VR in ("DA", "DT") and element.value and len(str(element.value)) >= 8:
            found.add(str(element.value)[:8])
    for element in getattr(ds, "file_meta", Dataset()):
        if element.VR == "UI" and str(element.value) not in UID_dictionary:
            found.add(str(element.value))
    return found


def _series(folder: Path) -> list[Path]:
    """Three CT_small-based instances carrying identifiers at the top level, in sequences and in private tags;
    the third references the first."""
    folder.mkdir(parents=True, exist_ok=True)
    base = _read(get_testdata_file("CT_small.dcm"))
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    paths: list[Path] = []
    uids = [generate_uid() for _ in range(3)]
    for n in range(3):
        ds = base.copy()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SOPInstanceUID = uids[n]
        ds.file_meta.MediaStorageSOPInstanceUID = uids[n]
        ds.PatientName = "Doe^Jonathan"
        ds.PatientID = "MRN99887766"
        ds.PatientBirthDate = "20120304"
        ds.AccessionNumber = "ACC5566778"
        ds.InstitutionName = "Springfield Childrens Hospital"
        ds.ReferringPhysicianName = "Hibbert^Julius"
        ds.StudyDescription = "Head CT for Jonathan MRN99887766"
        ds.SeriesDescription = "AXIAL 5mm"
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20190715"
        ds.PatientAge = "007Y"
        ds.OtherPatientIDsSequence = DicomSequence([Dataset()])
        ds.OtherPatientIDsSequence[0].PatientID = "OTHERID4242"
        request = Dataset()
        request.RequestedProcedureID = "REQPROC777"
        request.ScheduledProcedureStepID = "SPS31337"
        ds.RequestAttributesSequence = DicomSequence([request])
        procedure = Dataset()
        procedure.CodeValue, procedure.CodingSchemeDesignator, procedure.CodeMeaning = "X1", "99LOCAL", "Head"
        procedure.ContextUID = generate_uid()
        ds.ProcedureCodeSequence = DicomSequence([procedure])
        ds.add_new(0x00091010, "LO", "PRIVATE-SECRET-VALUE")
        ds.add_new(0x00090010, "LO", "ACME PRIVATE")
        if n == 2:
            reference = Dataset()
            reference.ReferencedSOPClassUID = ds.SOPClassUID
            reference.ReferencedSOPInstanceUID = uids[0]
            ds.ReferencedImageSequence = DicomSequence([reference])
        path = folder / f"in_{n}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@pytest.fixture()
def salt_path(tmp_path: Path) -> Path:
    return tmp_path / "userdata" / "deidentify_salt.bin"


def test_no_identifier_or_uid_survives_anywhere_in_the_bytes(tmp_path: Path, salt_path: Path) -> None:
    inputs = _series(tmp_path / "in")
    written = deidentify_series(inputs, tmp_path / "out", "PT_0001", salt_path)
    secrets = set().union(*(_secrets(_read(p)) for p in inputs)) | {"PRIVATE-SECRET-VALUE", "ACME PRIVATE",
                                                                    "OTHERID4242", "REQPROC777", "SPS31337",
                                                                    "Jonathan", "Springfield"}
    assert len(written) == 3
    for path in written:
        data = path.read_bytes()
        leaked = sorted(s for s in secrets if s.encode() in data)
        assert leaked == [], f"{path.name} still holds {leaked}"
        assert salt_path.read_bytes() not in data


def test_result_reopens_with_the_profile_applied(tmp_path: Path, salt_path: Path) -> None:
    inputs = _series(tmp_path / "in")
    written = deidentify_series(inputs, tmp_path / "out", "PT_0001", salt_path)
    for source, path in zip(inputs, written, strict=True):
        ds, original = _read(path), _read(source)
        assert ds.PatientID == "PT_0001" and str(ds.PatientName) == "PT_0001"
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
        assert {item.CodeValue for item in ds.DeidentificationMethodCodeSequence} >= {"113100", "113107"}
        assert not any(element.tag.is_private for element in _walk(ds))
        assert "OtherPatientIDsSequence" not in ds and "RequestAttributesSequence" not in ds  # X
        assert ds.AccessionNumber == "" and ds.PatientBirthDate == ""  # Z
        assert "InstitutionName" not in ds or ds.InstitutionName == ""  # X/Z/D
        assert ds.PatientAge == "007Y" and ds.PatientSex == original.PatientSex  # Retain Patient Characteristics
        assert ds.SeriesDescription == "AXIAL 5mm"  # clean descriptors: nothing identifying to remove
        assert "Jonathan" not in ds.StudyDescription and "Head CT" in ds.StudyDescription
        assert ds.ProcedureCodeSequence[0].ContextUID.startswith("2.25.")  # UIDs inside sequences too
        assert ds.SOPClassUID == original.SOPClassUID  # registered UIDs are not identifiers
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        np.testing.assert_array_equal(render_uint8(ds), render_uint8(original))  # pixels untouched


def test_uids_remap_consistently_within_and_across_exports(tmp_path: Path, salt_path: Path) -> None:
    inputs = _series(tmp_path / "in")
    first = [_read(p) for p in deidentify_series(inputs, tmp_path / "out1", "PT_0001", salt_path)]
    again = [_read(p) for p in deidentify_series(inputs, tmp_path / "out2", "PT_0001", salt_path)]
    originals = [_read(p) for p in inputs]
    assert len({ds.StudyInstanceUID for ds in first}) == 1 and len({ds.SeriesInstanceUID for ds in first}) == 1
    assert len({ds.SOPInstanceUID for ds in first}) == 3
    assert all(ds.StudyInstanceUID != originals[0].StudyInstanceUID for ds in first)
    assert [ds.SOPInstanceUID for ds in first] == [ds.SOPInstanceUID for ds in again]
    # the reference in the third instance points at the first instance's new UID
    assert first[2].ReferencedImageSequence[0].ReferencedSOPInstanceUID == first[0].SOPInstanceUID
    for ds in first:
        for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.FrameOfReferenceUID):
            assert uid.startswith("2.25.") and len(uid) <= 64 and uid.is_valid
    other_salt = [_read(p) for p in deidentify_series(inputs, tmp_path / "out3", "PT_0001",
                                                       tmp_path / "elsewhere" / "salt.bin")]
    assert other_salt[0].SOPInstanceUID != first[0].SOPInstanceUID


def test_dates_shift_by_one_stable_offset_per_participant(tmp_path: Path, salt_path: Path) -> None:
    inputs = _series(tmp_path / "in")

    def shift(folder: str, key: str) -> set[int]:
        days = set()
        for source, path in zip(inputs, deidentify_series(inputs, tmp_path / folder, key, salt_path), strict=True):
            original, ds = _read(source), _read(path)
            for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
                before = dt.datetime.strptime(original.get(keyword), "%Y%m%d")
                after = dt.datetime.strptime(ds.get(keyword), "%Y%m%d")
                days.add((before - after).days)
        return days

    first = shift("a", "PT_0001")
    assert len(first) == 1 and 365 <= next(iter(first)) <= 3650
    assert shift("b", "PT_0001") == first
    others = {next(iter(shift(f"c{n}", f"PT_{n:04d}"))) for n in range(2, 6)}
    assert others - first  # other participants get other offsets


def test_salt_is_created_private_and_never_inside_the_export(tmp_path: Path, salt_path: Path) -> None:
    inputs = _series(tmp_path / "in")
    deidentify_series(inputs[:1], tmp_path / "out", "PT_0001", salt_path)
    assert len(salt_path.read_bytes()) == 32
    assert stat.S_IMODE(os.stat(salt_path).st_mode) == 0o600
    with pytest.raises(ValueError):
        deidentify_series(inputs[:1], salt_path.parent, "PT_0001", salt_path)


def test_profile_table_is_well_formed() -> None:
    assert len(BASIC_PROFILE) >= 200
    for keyword, action in {**BASIC_PROFILE, **OPTION_ACTIONS}.items():
        assert tag_for_keyword(keyword) is not None, keyword
        assert set(action.replace("*", "").split("/")) <= {"D", "Z", "X", "K", "C", "U"}, (keyword, action)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "StudyInstanceUID", "SOPInstanceUID",
                    "InstitutionName", "AccessionNumber", "OtherPatientIDsSequence", "ReferencedSOPInstanceUID"):
        assert keyword in BASIC_PROFILE


def _bundled_instances() -> list[str]:
    chosen = []
    for path in get_testdata_files():
        if os.path.getsize(path) > 3_000_000:
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - not every bundled file is Part 10
            continue
        if "SOPInstanceUID" in ds and "PatientID" in ds and str(ds.PatientID):
            chosen.append(path)
    return chosen


def test_bundled_files_leave_no_original_uid_or_patient_identifier(tmp_path: Path, salt_path: Path) -> None:
    files = _bundled_instances()
    assert len(files) >= 40
    checked = 0
    for n, source in enumerate(files):
        original = _read(source)
        try:
            written = deidentify_series([source], tmp_path / f"o{n}", "PT_X", salt_path)
        except Exception as exc:  # noqa: BLE001 - a few bundled files are deliberately malformed
            if "unreadable" in str(exc) or "SOPInstanceUID" in str(exc):
                continue
            raise
        data = written[0].read_bytes()
        kept = f"{original.get('Manufacturer', '')} {original.get('ManufacturerModelName', '')}"  # not identifiers
        # a short number (a postal code, say) can turn up by chance inside a new 2.25 UID or pixel bytes: those are
        # looked for in the output's non-UID text values instead of its raw bytes
        texts = [str(e.value) for e in _walk(_read(written[0])) if e.VR not in ("UI", "OB", "OW", "OF", "UN")]
        leaked = sorted(s for s in _secrets(original) if s not in kept and (
            any(s in text for text in texts) if s.isdigit() and len(s) < 8 else s.encode() in data))
        assert leaked == [], f"{Path(source).name}: {leaked}"
        _read(written[0])  # reopens
        checked += 1
    assert checked >= 40


def test_burned_in_annotation_is_refused_unless_allowed(tmp_path: Path, salt_path: Path) -> None:
    inputs = _series(tmp_path / "in")
    ds = _read(inputs[1])
    ds.BurnedInAnnotation = "YES"
    ds.save_as(inputs[1])
    with pytest.raises(ValueError, match="Burned In Annotation"):
        deidentify_series(inputs, tmp_path / "out", "PT_0001", salt_path)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # nothing half-written
    assert len(deidentify_series(inputs, tmp_path / "out2", "PT_0001", salt_path, allow_burned_in=True)) == 3
