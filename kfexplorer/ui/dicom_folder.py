"""A folder of DICOM files from outside the cache (dropped on the window) as one series for the viewer.

Worker code (no widgets): reads headers only (no pixel data), never writes, follows no symlinks out of the folder.
The largest series in the folder wins when it holds several.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pydicom
from pydicom.errors import InvalidDicomError

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.services.imaging_catalog import SeriesEntry, SeriesInstance

MAX_FILES = 5_000  # a dropped folder is a series or a study, not an archive


class NoDicomSeriesError(ValueError):
    """The folder holds no readable DICOM image."""


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and str(value) != "" else None
    except (TypeError, ValueError):
        return None


def _text_or_none(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def candidate_files(folder: Path, limit: int = MAX_FILES) -> list[Path]:
    """Regular files under `folder` (not following symlinks), at most `limit`, in a stable order."""
    root = folder.resolve()
    found: list[Path] = []
    for path in sorted(root.rglob("*")):
        if len(found) >= limit:
            break
        if path.is_symlink() or not path.is_file():
            continue
        found.append(path)
    return found


def read_folder_series(folder: Path, progress: ProgressCallback | None = None,
                       cancel: CancelToken | None = None) -> tuple[SeriesEntry, list[SeriesInstance]]:
    """The largest image series in `folder`, its instances sorted by InstanceNumber (then file name)."""
    files = candidate_files(folder)
    series: dict[str, list[tuple[Any, Path]]] = defaultdict(list)
    for done, path in enumerate(files, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True, force=False)
        except (InvalidDicomError, OSError, ValueError, AttributeError, EOFError):
            continue
        uid = _text_or_none(header.get("SeriesInstanceUID"))
        if uid is None or header.get("Rows") is None:
            continue  # not an image (SR, presentation state…) or no series
        series[uid].append((header, path))
        if progress is not None and done % 50 == 0:
            progress(ProgressEvent(phase="Reading DICOM headers", done=done, total=len(files)))
    if not series:
        raise NoDicomSeriesError(f"{folder.name} holds no DICOM image series")
    uid, members = max(series.items(), key=lambda item: len(item[1]))
    members.sort(key=lambda member: (_int_or_none(member[0].get("InstanceNumber")) or 0, member[1].name))
    root = folder.resolve()
    instances = [
        SeriesInstance(
            sop_instance_uid=_text_or_none(header.get("SOPInstanceUID")) or path.name,
            path=str(path.relative_to(root)),
            local_path=path,
            instance_number=_int_or_none(header.get("InstanceNumber")),
            number_of_frames=max(1, _int_or_none(header.get("NumberOfFrames")) or 1),
        )
        for header, path in members
    ]
    first = members[0][0]
    entry = SeriesEntry(
        participant_id=None,
        study_instance_uid=_text_or_none(first.get("StudyInstanceUID")) or "",
        study_description=_text_or_none(first.get("StudyDescription")),
        study_date=_text_or_none(first.get("StudyDate")),
        age_at_scan_days=None,
        series_instance_uid=uid,
        series_number=_int_or_none(first.get("SeriesNumber")),
        series_description=_text_or_none(first.get("SeriesDescription")) or f"{folder.name} (dropped folder)",
        modality=_text_or_none(first.get("Modality")),
        body_part=_text_or_none(first.get("BodyPartExamined")),
        instances=len(instances),
        frames=sum(instance.number_of_frames for instance in instances),
        rows=_int_or_none(first.get("Rows")),
        columns=_int_or_none(first.get("Columns")),
        middle_path=instances[len(instances) // 2].path,
    )
    return entry, instances
