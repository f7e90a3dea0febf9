"""The imaging series of a cohort or a participant, their files in the cache, and their thumbnails (Qt-free).

Series come from the DICOM header index (`imaging_instances`, one row per synced instance), so the list is what the
cache can actually display. Thumbnails are 8-bit PNGs of a series' middle instance, kept under
`<cache>/thumbnails/` with a file name derived from a hash of the SeriesInstanceUID (never from release text).
Run everything here on a worker thread, with a cursor owned by that thread.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from kfexplorer.query.compiler import compile_cohort
from kfexplorer.query.model import Cohort
from kfexplorer.store.cache import cached_file_path, make_private_dir

THUMBNAILS_DIR_NAME = "thumbnails"
THUMBNAIL_SIZE = 96


class ThumbnailError(Exception):
    """A thumbnail could not be made (unreadable or undisplayable instance)."""


@dataclass(frozen=True)
class SeriesEntry:
    """One series as the Imaging tab lists it."""

    participant_id: str | None
    study_instance_uid: str
    study_description: str | None
    study_date: str | None
    age_at_scan_days: int | None
    series_instance_uid: str
    series_number: int | None
    series_description: str | None
    modality: str | None
    body_part: str | None
    instances: int
    frames: int
    rows: int | None
    columns: int | None
    middle_path: str  # release-relative path of the instance used for the thumbnail

    @property
    def title(self) -> str:
        number = f"#{self.series_number} " if self.series_number is not None else ""
        return f"{number}{self.series_description or self.modality or 'series'}"


@dataclass(frozen=True)
class SeriesInstance:
    """One instance of a series: its release path, its local file and its header facts."""

    sop_instance_uid: str
    path: str
    local_path: Path
    instance_number: int | None
    number_of_frames: int


def _has_index(cursor: duckdb.DuckDBPyConnection) -> bool:
    rows = cursor.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
        ["imaging_instances"],
    ).fetchall()
    return bool(rows[0][0])


SERIES_SQL = """
SELECT any_value(participant_id) AS participant_id,
       any_value(study_instance_uid) AS study_instance_uid,
       any_value(study_description) AS study_description,
       any_value(study_date) AS study_date,
       min(patient_age_days) AS age_days,
       series_instance_uid,
       min(series_number) AS series_number,
       any_value(series_description) AS series_description,
       any_value(modality) AS modality,
       any_value(body_part) AS body_part,
       count(*) AS instances,
       sum(coalesce(number_of_frames, 1)) AS frames,
       max("rows") AS max_rows,
       max("columns") AS max_columns,
       list(path ORDER BY instance_number NULLS LAST, path) AS paths
FROM imaging_instances
WHERE {where}
GROUP BY series_instance_uid
ORDER BY participant_id NULLS LAST, study_date NULLS LAST, study_instance_uid, series_number NULLS LAST,
         series_instance_uid
"""


def list_series(cursor: duckdb.DuckDBPyConnection, *, cohort: Cohort | None = None,
                participant_id: str | None = None) -> list[SeriesEntry]:
    """The series of `participant_id`, else of `cohort`'s participants, else of every participant."""
    if not _has_index(cursor):
        return []
    params: list[object] = []
    if participant_id is not None:
        where = "participant_id = ?"
        params.append(participant_id)
    elif cohort is not None:
        compiled = compile_cohort(cohort)
        where = f"participant_id IN (SELECT participant_id FROM ({compiled.sql}))"
        params.extend(compiled.params)
    else:
        where = "TRUE"
    rows = cursor.execute(SERIES_SQL.format(where=where), params).fetchall()
    entries = []
    for row in rows:
        paths = list(row[14])
        entries.append(SeriesEntry(
            participant_id=row[0], study_instance_uid=str(row[1]), study_description=row[2], study_date=row[3],
            age_at_scan_days=None if row[4] is None else int(row[4]), series_instance_uid=str(row[5]),
            series_number=None if row[6] is None else int(row[6]), series_description=row[7], modality=row[8],
            body_part=row[9], instances=int(row[10]), frames=int(row[11] or 0),
            rows=None if row[12] is None else int(row[12]), columns=None if row[13] is None else int(row[13]),
            middle_path=str(paths[len(paths) // 2]),
        ))
    return entries


def series_instances(cursor: duckdb.DuckDBPyConnection, cache_dir: Path,
                     series_instance_uid: str) -> list[SeriesInstance]:
    """The instances of a series, by InstanceNumber then path, with their local files (UnsafePathError for a path
    that would leave the cache)."""
    if not _has_index(cursor):
        return []
    rows = cursor.execute(
        "SELECT sop_instance_uid, path, instance_number, coalesce(number_of_frames, 1) FROM imaging_instances "
        "WHERE series_instance_uid = ? ORDER BY instance_number NULLS LAST, path",
        [series_instance_uid],
    ).fetchall()
    return [SeriesInstance(str(uid), str(path), cached_file_path(cache_dir, str(path)),
                           None if number is None else int(number), int(frames))
            for uid, path, number, frames in rows]


# -- thumbnails -------------------------------------------------------------------------------------------------
def thumbnail_path(cache_dir: Path, series_instance_uid: str) -> Path:
    """Where the thumbnail of a series lives: a hash of its UID names the file, so no release text reaches a path."""
    digest = hashlib.sha256(series_instance_uid.encode("utf-8")).hexdigest()[:40]
    return Path(cache_dir) / THUMBNAILS_DIR_NAME / f"{digest}.png"


def _shrink(image: np.ndarray, size: int) -> np.ndarray:
    """Box-average `image` (2-D uint8 or H×W×3) so that its longer side is at most `size` pixels."""
    height, width = image.shape[:2]
    step = max(1, int(np.ceil(max(height, width) / size)))
    if step == 1:
        return image
    cut = image[: height - height % step or height, : width - width % step or width]
    h, w = cut.shape[0] // step, cut.shape[1] // step
    if h == 0 or w == 0:
        return image[::step, ::step]
    blocks = cut[: h * step, : w * step].reshape(h, step, w, step, *cut.shape[2:]).astype(np.float32)
    return np.asarray(blocks.mean(axis=(1, 3)).round(), dtype=np.uint8)


def render_thumbnail_pixels(local_path: Path, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """The first frame of one DICOM file in its own window (or min–max), as 8-bit pixels at most `size` wide."""
    from pydicom import dcmread

    from kfexplorer.imaging.display import DisplayError, default_window, modality_values, render_uint8

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(local_path)
            values = modality_values(ds, 0)
            image = render_uint8(ds, 0, default_window(ds, values), values)
    except DisplayError as error:
        raise ThumbnailError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - release files are untrusted; any failure means "no thumbnail"
        raise ThumbnailError(f"{type(error).__name__}: {str(error)[:160]}") from None
    return _shrink(np.asarray(image, dtype=np.uint8), size)


def make_thumbnail(cache_dir: Path, entry: SeriesEntry, size: int = THUMBNAIL_SIZE) -> Path:
    """The thumbnail PNG of `entry` (made once from its middle instance, then read from the cache folder)."""
    from PIL import Image

    target = thumbnail_path(cache_dir, entry.series_instance_uid)
    if target.is_file():
        return target
    pixels = render_thumbnail_pixels(cached_file_path(cache_dir, entry.middle_path), size)
    make_private_dir(target.parent)
    partial = target.with_name(f"{target.stem}.{os.getpid()}.partial.png")
    Image.fromarray(pixels).save(partial, format="PNG")
    os.replace(partial, target)
    return target
