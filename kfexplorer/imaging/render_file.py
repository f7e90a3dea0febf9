"""Render one DICOM file, or the middle slice of a series folder, to an 8-bit PNG (`kfexplorer dicom render`).

Public API:
- `series_files(folder) -> list[Path]`: the DICOM files of a folder in slice order (position along the normal,
  else instance number, else name); files that are not DICOM are skipped.
- `render_path(path, preset=None, window=None, frame=0) -> numpy.ndarray`: the display pipeline of
  kfexplorer.imaging.display on a file, or on the middle slice of a folder. `window` is (center, width).
- `write_png(image, out)`: an 8-bit grayscale PNG (H×W) or RGB PNG (H×W×3) at native size (Pillow, no Qt).
- `participant_key_for(path, salt)`: the pseudonymous key a de-identified export uses when none is given.
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from kfexplorer.imaging.display import PRESETS, DisplayError, render_uint8
from kfexplorer.imaging.volume import DecodedSlice, slice_order


def _header_slice(path: Path) -> DecodedSlice | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError):
        return None
    if "SOPInstanceUID" not in ds:
        return None

    def vector(keyword: str, size: int) -> tuple[float, ...] | None:
        try:
            numbers = tuple(float(v) for v in ds.get(keyword) or ())
        except (TypeError, ValueError):
            return None
        return numbers if len(numbers) == size else None

    orientation, position = vector("ImageOrientationPatient", 6), vector("ImagePositionPatient", 3)
    try:
        instance = int(ds.get("InstanceNumber"))
    except (TypeError, ValueError):
        instance = None
    return DecodedSlice(
        path=path, pixels=np.empty((0, 0), dtype=np.int16),
        position=None if position is None else (position[0], position[1], position[2]),
        row_cosines=None if orientation is None else (orientation[0], orientation[1], orientation[2]),
        column_cosines=None if orientation is None else (orientation[3], orientation[4], orientation[5]),
        pixel_spacing=(1.0, 1.0), instance_number=instance, window=None,
    )


def series_files(folder: Path) -> list[Path]:
    """The DICOM files of `folder` (not recursive) in slice order."""
    headers = [h for h in (_header_slice(p) for p in sorted(folder.iterdir()) if p.is_file()) if h is not None]
    if not headers:
        return []
    try:
        order, _, _, _ = slice_order(headers)
    except DisplayError:
        order = sorted(range(len(headers)), key=lambda n: (headers[n].instance_number or 0, n))
    return [headers[n].path for n in order]


def render_path(path: Path, preset: str | None = None, window: tuple[float, float] | None = None,
                frame: int = 0) -> np.ndarray:
    """The displayed image of a file or of a folder's middle slice; DisplayError when it cannot be shown."""
    if preset is not None:
        if preset not in PRESETS:
            raise DisplayError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        window = PRESETS[preset]
    if path.is_dir():
        files = series_files(path)
        if not files:
            raise DisplayError(f"{path} holds no DICOM files")
        path = files[len(files) // 2]
    if not path.exists():
        raise DisplayError(f"{path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(path)
    except InvalidDicomError:
        raise DisplayError(f"{path.name} is not a DICOM file") from None
    except Exception as exc:  # noqa: BLE001 - malformed headers of any kind
        raise DisplayError(f"{path.name}: unreadable DICOM header ({type(exc).__name__})") from None
    return render_uint8(ds, frame=frame, window=window)


def write_png(image: np.ndarray, out: Path) -> None:
    """Write an H×W (8-bit grayscale) or H×W×3 (RGB) uint8 image as PNG."""
    mode = "L" if image.ndim == 2 else "RGB"
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image), mode=mode).save(out, format="PNG")


def participant_key_for(path: Path, salt: bytes) -> str:
    """A stable pseudonym for the PatientID of `path` (a file, or the first DICOM file of a folder)."""
    first = path if path.is_file() else next(iter(series_files(path)), None)
    patient_id = ""
    if first is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            patient_id = str(dcmread(first, stop_before_pixels=True).get("PatientID", "") or "")
    digest = hmac.new(salt, b"participant:" + patient_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return "ANON-" + digest[:12].upper()
