"""Write synthetic DICOM CT series of known geometry (for the imaging bench and the MPR tests).

`write_ct_series(out_dir, ...)` writes one uncompressed int16 CT slice per file with the given orientation
(row and column cosines in LPS), pixel spacing, slice positions and pixel content: `voxel_value(k, j, i)` gives
the stored value of slice k (in the order written), row j, column i, vectorised over j and i. Files are named
in a shuffled order when `shuffle` is set, so readers must sort by position, not by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

VoxelFunction = Callable[[int, np.ndarray, np.ndarray], np.ndarray]


def _ds_number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def write_ct_series(out_dir: Path, slices: int, rows: int, columns: int, voxel_value: VoxelFunction,
                    row_cosines: Sequence[float] = (1.0, 0.0, 0.0), column_cosines: Sequence[float] = (0.0, 1.0, 0.0),
                    origin: Sequence[float] = (0.0, 0.0, 0.0), pixel_spacing: tuple[float, float] = (1.0, 1.0),
                    slice_step: Sequence[float] | None = None, positions: Sequence[Sequence[float]] | None = None,
                    shuffle: bool = False, seed: int = 0, rescale_intercept: float = -1024.0, rescale_slope: float = 1.0,
                    window: tuple[float, float] | None = (40.0, 400.0)) -> list[Path]:
    """Write the series; return the file paths in slice order (k = 0 … slices − 1).

    Slice k sits at `positions[k]` when given, else at origin + k × slice_step (slice_step defaults to 1 mm along
    row × column)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    row = np.asarray(row_cosines, dtype=float)
    column = np.asarray(column_cosines, dtype=float)
    step = np.cross(row, column) if slice_step is None else np.asarray(slice_step, dtype=float)
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    names = list(range(slices))
    if shuffle:
        np.random.default_rng(seed).shuffle(names)
    jj, ii = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
    paths: list[Path] = []
    for k in range(slices):
        position = np.asarray(positions[k], dtype=float) if positions is not None else np.asarray(origin) + k * step
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        sop_uid = generate_uid()
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.PatientID = "SYNTHETIC"
        ds.PatientName = "Synthetic^Phantom"
        ds.Modality = "CT"
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [_ds_number(v) for v in position]
        ds.ImageOrientationPatient = [_ds_number(v) for v in (*row, *column)]
        ds.PixelSpacing = [_ds_number(v) for v in pixel_spacing]
        ds.SliceThickness = _ds_number(float(np.linalg.norm(step)))
        ds.Rows, ds.Columns = rows, columns
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = _ds_number(rescale_slope), _ds_number(rescale_intercept)
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = _ds_number(window[0]), _ds_number(window[1])
        pixels = np.asarray(voxel_value(k, jj, ii), dtype=np.int16)
        ds.PixelData = pixels.tobytes()
        path = out_dir / f"slice_{names[k]:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
