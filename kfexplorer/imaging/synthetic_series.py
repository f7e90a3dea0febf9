"""Write synthetic DICOM CT series of known geometry (for the imaging bench and the MPR tests).

`write_ct_series(out_dir, ...)` writes one uncompressed int16 CT slice per file with the given orientation
(row and column cosines in LPS), pixel spacing, slice positions and pixel content: `voxel_value(k, j, i)` gives
the stored value of slice k (in the order written), row j, column i, vectorised over j and i. Files are named
in a shuffled order when `shuffle` is set, so readers must sort by position, not by name.

`write_enhanced_image(path, stored, positions, ...)` writes ONE multi-frame Enhanced CT (or MR) object
(explicit VR little endian, SOP Class 1.2.840.10008.5.1.4.1.1.2.1 / 1.2.840.10008.5.1.4.1.1.4.1): frame n holds
`stored[n]` at `positions[n]` (frames are written in the order given, so a caller shuffles by passing a permuted
array). Orientation and pixel spacing go in the shared functional groups (or per frame with
`geometry_per_frame`); position, FrameContentSequence (StackID, InStackPositionNumber, TemporalPositionIndex)
and — when `rescales` is a list — the rescale go per frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

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


def _item(**attributes: object) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def write_enhanced_image(path: Path, stored: np.ndarray, positions: Sequence[Sequence[float]],
                         row_cosines: Sequence[float] = (1.0, 0.0, 0.0),
                         column_cosines: Sequence[float] = (0.0, 1.0, 0.0),
                         pixel_spacing: tuple[float, float] = (1.0, 1.0),
                         rescales: tuple[float, float] | Sequence[tuple[float, float]] = (1.0, -1024.0),
                         stack_ids: Sequence[str] | None = None, temporal_indices: Sequence[int] | None = None,
                         modality: str = "CT", window: tuple[float, float] | None = (40.0, 400.0),
                         geometry_per_frame: bool = False, bits_stored: int = 16) -> Path:
    """Write the multi-frame object (see the module docstring); `stored` is (frames, rows, columns) int16 or
    uint16 (values within `bits_stored` bits), `rescales` one (slope, intercept) for all frames (shared group) or one per frame."""
    frames, rows, columns = stored.shape
    if len(positions) != frames:
        raise ValueError("one position per frame")
    sop_class = EnhancedCTImageStorage if modality == "CT" else EnhancedMRImageStorage
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    sop_uid = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = generate_uid(), generate_uid(), generate_uid()
    ds.PatientID = "SYNTHETIC"
    ds.PatientName = "Synthetic^Phantom"
    ds.Modality = modality
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    signed = stored.dtype.kind == "i"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits_stored, bits_stored - 1, int(signed)
    orientation = [_ds_number(float(v)) for v in (*row_cosines, *column_cosines)]
    measures = _item(PixelSpacing=[_ds_number(v) for v in pixel_spacing],
                     SliceThickness=_ds_number(float(np.linalg.norm(np.subtract(positions[-1], positions[0])))
                                               / max(1, frames - 1)))
    per_frame_rescale = bool(rescales) and not isinstance(rescales[0], (int, float))
    frame_rescales: list[tuple[float, float]] = (
        [(float(r[0]), float(r[1])) for r in rescales] if per_frame_rescale  # type: ignore[index, arg-type]
        else [(float(rescales[0]), float(rescales[1]))] * frames)  # type: ignore[arg-type]
    shared = Dataset()
    if not geometry_per_frame:
        shared.PlaneOrientationSequence = DicomSequence([_item(ImageOrientationPatient=orientation)])
        shared.PixelMeasuresSequence = DicomSequence([measures])
    if not per_frame_rescale:
        slope, intercept = frame_rescales[0]
        shared.PixelValueTransformationSequence = DicomSequence([_item(
            RescaleSlope=_ds_number(float(slope)), RescaleIntercept=_ds_number(float(intercept)),
            RescaleType="HU" if modality == "CT" else "US")])
    if window is not None:
        shared.FrameVOILUTSequence = DicomSequence([_item(WindowCenter=_ds_number(window[0]),
                                                          WindowWidth=_ds_number(window[1]))])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    items = []
    for n in range(frames):
        item = Dataset()
        content = _item(InStackPositionNumber=n + 1)
        if stack_ids is not None:
            content.StackID = str(stack_ids[n])
        if temporal_indices is not None:
            content.TemporalPositionIndex = int(temporal_indices[n])
        item.FrameContentSequence = DicomSequence([content])
        item.PlanePositionSequence = DicomSequence([_item(
            ImagePositionPatient=[_ds_number(float(v)) for v in positions[n]])])
        if geometry_per_frame:
            item.PlaneOrientationSequence = DicomSequence([_item(ImageOrientationPatient=orientation)])
            item.PixelMeasuresSequence = DicomSequence([measures])
        if per_frame_rescale:
            slope, intercept = frame_rescales[n]
            item.PixelValueTransformationSequence = DicomSequence([_item(
                RescaleSlope=_ds_number(float(slope)), RescaleIntercept=_ds_number(float(intercept)),
                RescaleType="US")])
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(items)
    ds.PixelData = np.ascontiguousarray(stored.astype("<i2" if signed else "<u2")).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
