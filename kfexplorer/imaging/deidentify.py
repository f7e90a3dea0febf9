"""De-identified export of a DICOM series (PS3.15 Annex E basic profile, with three options).

Public API: `deidentify_series(paths, out_dir, participant_key, secret_salt_path) -> list[Path]` writes one
de-identified file per input into `out_dir` (named by its new SOPInstanceUID) and returns their paths.

What it does, element by element, recursively into every sequence item (table in kfexplorer.imaging.deid_profile):
- private elements (odd groups) are removed; curve groups (50xx) and overlay data / comments (60xx) removed;
- every action of Table E.1-1: X removes, Z empties (an empty sequence for SQ), D puts a dummy of the VR, K keeps,
  C cleans (the value minus every identifying token of the instance: names, IDs, accession number, institution,
  dates, runs of 6+ digits), U remaps. Combinations resolve to the stricter conforming choice: anything with Z
  → Z; X/D → X; X/Z/U* (reference sequences) → kept with every UID inside remapped;
- Patient Name and Patient ID become `participant_key` (a Z-action dummy), so exports of one participant group;
- every UID (VR UI) that is not a registered DICOM UID (SOP classes, transfer syntaxes, coding schemes …) is
  remapped, listed in the table or not: new = "2.25." + the first 128 bits of HMAC-SHA256(salt, old) as a
  decimal. The same input UID gives the same output UID within a series, across series and across runs, and
  references (ReferencedSOPInstanceUID, FrameOfReferenceUID …) stay consistent;
- options applied: Retain Patient Characteristics (age, sex, size, weight kept), Clean Descriptors (study /
  series / protocol descriptions cleaned), Retain Longitudinal Temporal Information with Modified Dates: every
  DA and DT value is shifted by a per-participant number of days (365 … 3650 days earlier, from HMAC(salt,
  participant_key)), so intervals between a participant's studies survive and the shift is the same in every
  export; times are kept; Patient Birth Date is emptied;
- Patient Identity Removed = YES, De-identification Method (+ Code Sequence), Longitudinal Temporal Information
  Modified = MODIFIED are set; the file meta group is rebuilt and the 128-byte preamble zeroed.

The salt (32 random bytes) lives at `secret_salt_path`, in the user data folder; it is created on first use and is
never written into an export (`out_dir` may not contain it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

from pydicom import dcmread
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, UID_dictionary

from kfexplorer.imaging.deid_profile import (
    BASIC_PROFILE,
    BASIC_PROFILE_TAGS,
    METHOD_CODES,
    OPTION_ACTIONS,
    REPEATING_GROUP_ACTIONS,
)
from kfexplorer.imaging.display import DisplayError

SALT_BYTES = 32
UID_ROOT = "2.25."
IMPLEMENTATION_CLASS_UID = "2.25.229318126524325393394519883153431447871"
IMPLEMENTATION_VERSION_NAME = "KFEXPLORER_DEID"
SHIFT_MIN_DAYS, SHIFT_SPAN_DAYS = 365, 3286
TEXT_DUMMY = "ANONYMIZED"
PERSON_DUMMY = "ANONYMOUS"
TEXT_VRS = {"AE", "AS", "CS", "LO", "LT", "SH", "ST", "UC", "UT", "UR"}
DIGIT_RUN = re.compile(r"\d{6,}")
IDENTIFYING_KEYWORDS = ("PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "AccessionNumber",
                        "InstitutionName", "InstitutionAddress", "ReferringPhysicianName", "PerformingPhysicianName",
                        "OperatorsName", "StationName", "StudyID", "PatientBirthDate", "StudyDate", "SeriesDate",
                        "AcquisitionDate", "ContentDate", "DeviceSerialNumber", "PatientAddress", "PatientBirthName",
                        "PatientMotherBirthName", "InstitutionalDepartmentName", "PhysiciansOfRecord")


def read_or_create_salt(secret_salt_path: Path) -> bytes:
    """The export salt; created (32 random bytes, owner-only) the first time."""
    if secret_salt_path.exists():
        salt = secret_salt_path.read_bytes()
        if len(salt) >= 16:
            return salt
    secret_salt_path.parent.mkdir(parents=True, exist_ok=True)
    salt = os.urandom(SALT_BYTES)
    descriptor = os.open(secret_salt_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(salt)
    return salt


def remapped_uid(salt: bytes, uid: str) -> str:
    """The export UID of `uid`: 2.25.<128-bit keyed hash> (≤ 44 characters)."""
    digest = hmac.new(salt, b"uid:" + uid.strip().encode("ascii", "replace"), hashlib.sha256).digest()
    return UID_ROOT + str(int.from_bytes(digest[:16], "big"))


def date_shift_days(salt: bytes, participant_key: str) -> int:
    """How many days this participant's dates move back (365 … 3650), the same in every export."""
    digest = hmac.new(salt, b"date:" + participant_key.encode("utf-8"), hashlib.sha256).digest()
    return SHIFT_MIN_DAYS + int.from_bytes(digest[:4], "big") % SHIFT_SPAN_DAYS


def _resolve(action: str) -> str:
    """A basic-profile action (possibly a combination) as the one this exporter applies."""
    if action in ("X", "Z", "D", "K", "C", "U"):
        return action
    if action.endswith("U*"):
        return "K"  # reference sequences: kept, every UID inside remapped
    if "Z" in action:
        return "Z"
    return "X"


class SeriesDeidentifier:
    """Applies the profile to datasets of one participant with one salt (see the module docstring)."""

    def __init__(self, salt: bytes, participant_key: str) -> None:
        self.salt = salt
        self.participant_key = participant_key
        self.shift = dt.timedelta(days=-date_shift_days(salt, participant_key))
        self._tokens: list[str] = []

    def uid(self, value: str) -> str:
        value = str(value).strip().rstrip("\x00")
        if not value or value in UID_dictionary:
            return value
        return remapped_uid(self.salt, value)

    def shift_date(self, value: str) -> str:
        text = str(value).strip()
        try:
            day = dt.datetime.strptime(text[:8], "%Y%m%d").date()
        except ValueError:
            return ""
        return (day + self.shift).strftime("%Y%m%d") + text[8:]

    def _identifying_tokens(self, ds: Dataset) -> list[str]:
        tokens: set[str] = set()
        for keyword in IDENTIFYING_KEYWORDS:
            try:
                value = ds.get(keyword)
            except Exception:  # noqa: BLE001 - malformed values: nothing to collect
                continue
            if value is None:
                continue
            values = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
            for item in values:
                for token in re.split(r"[\^=\s,]+", str(item)):
                    if len(token) >= 3:
                        tokens.add(token)
        return sorted(tokens, key=len, reverse=True)

    def clean(self, text: str) -> str:
        for token in self._tokens:
            text = re.sub(re.escape(token), "", text, flags=re.IGNORECASE)
        text = DIGIT_RUN.sub("", text)
        return " ".join(text.split())

    def _action(self, element: DataElement) -> str | None:
        tag = int(element.tag)
        group, number = tag >> 16, tag & 0xFFFF
        for mask, value, elem, group_action in REPEATING_GROUP_ACTIONS:
            if group & mask == value and (elem is None or number == elem):
                return group_action
        keyword = element.keyword or keyword_for_tag(tag)
        action = OPTION_ACTIONS.get(keyword) or BASIC_PROFILE.get(keyword) or BASIC_PROFILE_TAGS.get(tag)
        return None if action is None else _resolve(action)

    def _dummy(self, element: DataElement) -> object:
        if element.VR == "PN":
            return PERSON_DUMMY
        if element.VR in ("DS", "IS", "US", "SS", "UL", "SL", "FL", "FD"):
            return 0 if element.VR not in ("DS",) else "0"
        if element.VR == "TM":
            return "000000"
        if element.VR in TEXT_VRS:
            return TEXT_DUMMY
        return None

    def apply(self, ds: Dataset) -> None:
        """De-identify `ds` in place (top level: also collects the tokens that Clean removes)."""
        self._tokens = self._identifying_tokens(ds)
        self._apply(ds)
        ds.PatientID = self.participant_key
        ds.PatientName = self.participant_key
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = [meaning[:64] for _, meaning in METHOD_CODES]  # LO, one value per method
        codes = DicomSequence()
        for code, meaning in METHOD_CODES:
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code, "DCM", meaning
            codes.append(item)
        ds.DeidentificationMethodCodeSequence = codes
        ds.LongitudinalTemporalInformationModified = "MODIFIED"

    def _apply(self, ds: Dataset) -> None:
        for tag in list(ds.keys()):
            try:
                element = ds[tag]  # converts raw elements
            except Exception:  # noqa: BLE001 - an unparseable value cannot be vetted: it goes
                del ds[tag]
                continue
            if element.tag.is_private:
                del ds[tag]
                continue
            keyword = element.keyword
            action = self._action(element)
            if element.VR == "SQ":
                if action in ("X",):
                    del ds[tag]
                elif action == "Z":
                    element.value = DicomSequence()
                else:
                    for item in element.value:
                        self._apply(item)
                continue
            if element.VR == "UI":
                if action == "X":
                    del ds[tag]
                elif element.value:
                    values = element.value if element.VM > 1 else [element.value]
                    mapped = [self.uid(v) for v in values]
                    element.value = mapped if element.VM > 1 else mapped[0]
                continue
            if element.VR in ("DA", "DT"):
                if keyword == "PatientBirthDate":
                    element.value = ""
                elif element.value:
                    values = element.value if element.VM > 1 else [element.value]
                    shifted = [self.shift_date(v) for v in values]
                    element.value = shifted if element.VM > 1 else shifted[0]
                continue
            if element.VR == "TM" and action is not None and keyword != "PatientBirthTime":
                continue  # Modified Dates option: times are kept
            if action is None or action == "K":
                continue
            if action == "X":
                del ds[tag]
            elif action == "Z":
                element.value = "" if element.VR not in ("US", "SS", "UL", "SL", "FL", "FD", "OB", "OW") else None
            elif action == "D":
                element.value = self._dummy(element)
            elif action == "C":
                if element.VR in TEXT_VRS or element.VR == "PN":
                    values = element.value if element.VM > 1 else [element.value]
                    cleaned = [self.clean(str(v)) for v in values]
                    element.value = cleaned if element.VM > 1 else cleaned[0]
                else:
                    del ds[tag]
            elif action == "U":
                continue


def _rebuilt_file_meta(ds: Dataset, original: FileMetaDataset | None) -> FileMetaDataset:
    meta = FileMetaDataset()
    syntax = getattr(original, "TransferSyntaxUID", None) if original is not None else None
    meta.MediaStorageSOPClassUID = ds.get("SOPClassUID") or getattr(original, "MediaStorageSOPClassUID", "")
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax or UID("1.2.840.10008.1.2")
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def _read(source: Path, stop_before_pixels: bool) -> Dataset:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dcmread(source, stop_before_pixels=stop_before_pixels)
    except Exception as exc:  # noqa: BLE001 - unreadable input of any kind
        raise DisplayError(f"{source.name}: unreadable DICOM file ({type(exc).__name__})") from None


def _check_exportable(source: Path, allow_burned_in: bool) -> None:
    ds = _read(source, stop_before_pixels=True)
    if "SOPInstanceUID" not in ds:
        raise DisplayError(f"{source.name}: no SOPInstanceUID")
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES" and not allow_burned_in:
        raise ValueError(f"{source.name}: Burned In Annotation is YES; its pixels may show identifiers that "
                         "this export does not remove")


def deidentify_series(paths: Sequence[Path | str], out_dir: Path | str, participant_key: str,
                      secret_salt_path: Path | str, *, allow_burned_in: bool = False) -> list[Path]:
    """Write de-identified copies of `paths` into `out_dir`; return the written paths (see the module docstring).

    Raises DisplayError when a file is not readable DICOM or lacks a SOPInstanceUID, ValueError when `out_dir`
    would contain the salt, or when a file declares Burned In Annotation = YES (its pixels may show identifiers,
    which this exporter does not clean) unless `allow_burned_in`. Nothing is written unless every file passes."""
    out = Path(out_dir).resolve()
    salt_path = Path(secret_salt_path).resolve()
    if salt_path.is_relative_to(out):
        raise ValueError("the export folder may not contain the de-identification salt")
    if not participant_key.strip():
        raise ValueError("a participant key is required")
    for path in paths:
        _check_exportable(Path(path), allow_burned_in)
    deidentifier = SeriesDeidentifier(read_or_create_salt(salt_path), participant_key.strip())
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for path in paths:
        source = Path(path)
        ds = _read(source, stop_before_pixels=False)
        original_meta = getattr(ds, "file_meta", None)
        deidentifier.apply(ds)
        ds.file_meta = _rebuilt_file_meta(ds, original_meta)
        ds.preamble = b"\x00" * 128
        target = out / f"{ds.SOPInstanceUID}.dcm"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.save_as(target, enforce_file_format=True)
        written.append(target)
    return written
