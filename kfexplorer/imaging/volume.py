"""A series of DICOM slices as one 3-D volume, and its three orthogonal views (MPR).

Public API:

- `decode_slice(path) -> DecodedSlice`: one file's geometry and modality-LUT pixels (int16 / uint16 / int32).
  Pure and picklable, so worker processes (kfexplorer.imaging.decode_pool) run it too.
- `assemble_volume(slices) -> Volume`: sorts decoded slices and builds the volume (used by `load_series` and by
  the decode pool).
- `load_series(paths, progress=None, cancel=None) -> Volume`: decode in this process and assemble. One path to a
  multi-frame object (Enhanced CT / MR / PET, RT Dose) whose frames carry geometry gives that object's volume;
  one without (ultrasound cine, secondary capture, colour) raises `FrameByFrame` (a DisplayError): it is shown
  frame by frame.
- Multi-frame objects: `read_multiframe(path) -> MultiFramePlan | None` (header only: per-frame geometry and frame
  selection from kfexplorer.imaging.multiframe, how values are stored, where the raw frames are),
  `decode_frames(plan, start, stop)` (voxel slices of kept frames, picklable for the decode pool),
  `volume_from_frames(plan, voxels)` and `load_multiframe(plan, …)`. The frames follow the same conventions as a
  series of files (below); the Volume's `instance_paths` repeat the file and `frame_numbers` name the frame of
  each z. Frames of other stacks / temporal positions / duplicate positions are left out with a warning; per-frame
  rescales that differ are applied per frame when integral, else requantised to one scale (a warning says so).
- `Volume`: `voxels` (z, y, x) int16 / uint16 (int32 only when the modality values need it), `spacing` (z, y, x)
  in mm, `origin` (patient position of voxel [0, 0, 0]), `row_cosines` (direction of +x), `column_cosines`
  (direction of +y), `normal` (direction of +z), `instance_paths` (in z order), `warnings`, `window`,
  `rescale_slope` / `rescale_intercept`, `frame_numbers` (multi-frame only), `acquired_row_cosines` /
  `acquired_column_cosines` (the directions as the files store them, before orientation). Voxels hold modality values (e.g. HU) whenever the rescale is integral
  (always for CT); for a non-integral rescale (some MR) they hold the stored integers and
  `Volume.modality_view(image)` converts one view (float32) into the units of `window` and the presets.

Geometry. Slices are sorted by the projection of ImagePositionPatient onto the slice normal (row × column cosines);
the z spacing is the median step between those projections, not SliceThickness. Warnings are raised for gantry
tilt (the step between positions is not along the normal), irregular spacing (a step differs from the median by
more than 1 % and 0.01 mm), missing slices (a step ≥ 1.5 × the median) and mixed orientation.

Orientation convention (DICOM patient coordinates, LPS: +X patient left, +Y posterior, +Z superior). After
loading, the voxel axes are permuted / flipped (views, no copy) so that +x points most nearly to the patient's
left, +y to posterior and +z to superior, whatever plane the series was acquired in. The views then follow the
radiological convention:

- `axial(k)`: the plane z = k, seen from the feet: patient left on image right, anterior at the top;
- `coronal(j)`: the plane y = j, seen from the front: patient left on image right, superior at the top;
- `sagittal(i)`: the plane x = i, seen from the patient's left: anterior on image left, superior at the top.

Each returns (image, (row spacing mm, column spacing mm)). For oblique or gantry-tilted series the views are the
planes of the acquisition grid nearest to true axial / coronal / sagittal (no resampling); `warnings` says so.
"""

from __future__ import annotations

import math
import struct
import warnings as warnings_module
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from kfexplorer.imaging.display import DisplayError, default_window, modality_from_stored, stored_pixels
from kfexplorer.imaging.multiframe import FrameGeometry, frame_count, frame_geometries, select_frames
from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent

Vector = tuple[float, float, float]

NATIVE_LITTLE_ENDIAN = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
TILT_TOLERANCE_DEGREES = 0.5
IRREGULAR_FRACTION = 0.01
IRREGULAR_MM = 0.01
MISSING_FACTOR = 1.5
MULTIFRAME_CHUNK = 16  # frames per decode step of a multi-frame file


@dataclass
class DecodedSlice:
    """One decoded instance: geometry from its header and its modality-LUT pixels."""

    path: Path
    pixels: np.ndarray
    position: Vector | None
    row_cosines: Vector | None
    column_cosines: Vector | None
    pixel_spacing: tuple[float, float]
    instance_number: int | None
    window: tuple[float, float] | None
    rescale: tuple[float, float] = (1.0, 0.0)  # (slope, intercept) still to apply: non-integral rescales only
    frame: int | None = None  # the frame of a multi-frame file (None for a single-frame instance)


@dataclass
class Volume:
    """A sorted, oriented stack of slices; see the module docstring for axes and conventions."""

    voxels: np.ndarray
    spacing: tuple[float, float, float]
    origin: Vector
    row_cosines: Vector
    column_cosines: Vector
    normal: Vector
    instance_paths: list[Path]
    warnings: list[str] = field(default_factory=list)
    window: tuple[float, float] | None = None
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    frame_numbers: list[int] = field(default_factory=list)  # multi-frame: the file's frame per z (as paths)
    acquired_row_cosines: Vector | None = None  # row / column directions as the files store them
    acquired_column_cosines: Vector | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        z, y, x = self.voxels.shape
        return int(z), int(y), int(x)

    def axial(self, k: int) -> tuple[np.ndarray, tuple[float, float]]:
        """Plane z = k: patient left on image right, anterior at the top."""
        return self.voxels[k], (self.spacing[1], self.spacing[2])

    def coronal(self, j: int) -> tuple[np.ndarray, tuple[float, float]]:
        """Plane y = j: patient left on image right, superior at the top."""
        return self.voxels[::-1, j, :], (self.spacing[0], self.spacing[2])

    def sagittal(self, i: int) -> tuple[np.ndarray, tuple[float, float]]:
        """Plane x = i: anterior on image left, superior at the top."""
        return self.voxels[::-1, :, i], (self.spacing[0], self.spacing[1])

    def patient_position(self, k: int, j: int, i: int) -> np.ndarray:
        """LPS position (mm) of voxel [k, j, i]."""
        return (np.asarray(self.origin) + i * self.spacing[2] * np.asarray(self.row_cosines)
                + j * self.spacing[1] * np.asarray(self.column_cosines)
                + k * self.spacing[0] * np.asarray(self.normal))

    @property
    def nbytes(self) -> int:
        return int(self.voxels.nbytes)

    def modality_view(self, image: np.ndarray) -> np.ndarray:
        """A view (from axial / coronal / sagittal) in modality units, the units of `window` and the presets:
        the image itself when the voxels hold modality values, else slope × image + intercept in float32."""
        if self.rescale_slope == 1.0 and self.rescale_intercept == 0.0:
            return image
        return image.astype(np.float32) * np.float32(self.rescale_slope) + np.float32(self.rescale_intercept)


def _vector(value: object, size: int) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if len(numbers) != size or not all(math.isfinite(v) for v in numbers):
        return None
    return numbers


def _native_pixels(fp: BinaryIO, ds: Dataset) -> np.ndarray | None:
    """The fast path: 16-bit little-endian native pixels read straight from the file after the header (`fp` at
    the Pixel Data element), or None when the file is anything else (pydicom's decoders then take over)."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax not in NATIVE_LITTLE_ENDIAN:
        return None
    try:
        if (int(ds.get("BitsAllocated", 0)) != 16 or int(ds.get("BitsStored", 0)) != 16
                or int(ds.get("SamplesPerPixel", 1)) != 1 or int(ds.get("NumberOfFrames", 1) or 1) != 1
                or str(ds.get("PhotometricInterpretation", "")).strip() not in ("MONOCHROME1", "MONOCHROME2")):
            return None
        rows, columns = int(ds.Rows), int(ds.Columns)
        signed = int(ds.PixelRepresentation) == 1
    except (AttributeError, TypeError, ValueError):
        return None
    head = fp.read(8)
    if len(head) < 8 or struct.unpack("<HH", head[:4]) != (0x7FE0, 0x0010):
        return None
    if syntax == ImplicitVRLittleEndian:
        length = struct.unpack("<I", head[4:8])[0]
    else:
        extra = fp.read(4)
        if head[4:6] not in (b"OW", b"OB") or len(extra) < 4:
            return None
        length = struct.unpack("<I", extra)[0]
    count = rows * columns
    if length == 0xFFFFFFFF or length < 2 * count:
        return None  # let pydicom report what is wrong
    pixels = np.fromfile(fp, dtype="<i2" if signed else "<u2", count=count)
    if pixels.size < count:
        return None
    return pixels.reshape(rows, columns).astype(np.int16 if signed else np.uint16, copy=False)


def decode_slice(path: Path | str) -> DecodedSlice:
    """Read one file and return its geometry and modality values; raises DisplayError when it cannot.

    16-bit native little-endian monochrome files (most CT / MR) are read with one header parse and one read of
    the pixel bytes; everything else goes through pydicom's decoders (kfexplorer.imaging.display)."""
    path = Path(path)
    try:
        with warnings_module.catch_warnings():
            warnings_module.simplefilter("ignore")
            with open(path, "rb") as fp:
                ds = dcmread(fp, stop_before_pixels=True)
                stored = _native_pixels(fp, ds)
            if stored is None:
                ds = dcmread(path)
    except Exception as exc:  # noqa: BLE001 - unreadable files of any kind
        raise DisplayError(f"{path.name}: unreadable DICOM file ({type(exc).__name__})") from None
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        frames = 1
    if frames > 1:
        raise DisplayError(f"{path.name}: a multi-frame file ({frames} frames) is not one slice of a series; "
                           "load_series([path]) reads it as a volume when its frames carry geometry")
    if stored is None:
        stored = stored_pixels(ds)
    pixels = modality_from_stored(ds, stored)
    if pixels.ndim != 2:
        raise DisplayError(f"{path.name}: not a single-frame monochrome image (pixels {pixels.shape})")
    rescale = (1.0, 0.0)
    window = default_window(ds, pixels)
    if pixels.dtype.kind == "f":  # non-integral rescale: keep the integer stored values, rescale per view
        if stored.dtype.kind not in "iu":
            raise DisplayError(f"{path.name}: floating-point pixel data cannot form a volume")
        rescale = (float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0))
        pixels = stored
    orientation = _vector(ds.get("ImageOrientationPatient"), 6)
    position = _vector(ds.get("ImagePositionPatient"), 3)
    spacing = _vector(ds.get("PixelSpacing"), 2) or (1.0, 1.0)
    try:
        instance_number: int | None = int(ds.get("InstanceNumber"))
    except (TypeError, ValueError):
        instance_number = None
    return DecodedSlice(
        path=path, pixels=pixels,
        position=position if position is None else (position[0], position[1], position[2]),
        row_cosines=None if orientation is None else (orientation[0], orientation[1], orientation[2]),
        column_cosines=None if orientation is None else (orientation[3], orientation[4], orientation[5]),
        pixel_spacing=(spacing[0], spacing[1]),
        instance_number=instance_number, window=window, rescale=rescale,
    )


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _as_vector(array: np.ndarray) -> Vector:
    return float(array[0]), float(array[1]), float(array[2])


def slice_order(slices: Sequence[DecodedSlice]) -> tuple[list[int], np.ndarray, list[str], float]:
    """The indices of `slices` in order along the normal, the normal, warnings, and the slice spacing (mm)."""
    found: list[str] = []
    reference = next((s for s in slices if s.row_cosines is not None and s.position is not None), None)
    if reference is None or reference.row_cosines is None or reference.column_cosines is None:
        if len(slices) > 1:
            found.append("no ImagePositionPatient / ImageOrientationPatient: slices ordered by instance number, "
                         "spacing 1 mm assumed")
        order = sorted(range(len(slices)), key=lambda n: (slices[n].instance_number or 0, n))
        return order, np.array([0.0, 0.0, 1.0]), found, 1.0
    row = _unit(np.asarray(reference.row_cosines))
    column = _unit(np.asarray(reference.column_cosines))
    normal = _unit(np.cross(row, column))
    for s in slices:
        if s.row_cosines is None or s.column_cosines is None or s.position is None:
            raise DisplayError(f"{s.path.name}: missing ImagePositionPatient or ImageOrientationPatient")
        if (np.abs(np.asarray(s.row_cosines) - reference.row_cosines).max() > 1e-3
                or np.abs(np.asarray(s.column_cosines) - reference.column_cosines).max() > 1e-3):
            found.append("mixed orientation: the slices do not share one ImageOrientationPatient")
            break
    distances = np.array([float(np.dot(normal, s.position)) for s in slices])  # type: ignore[arg-type]
    order = sorted(range(len(slices)), key=lambda n: (distances[n], n))
    if len(slices) < 2:
        return order, normal, found, 1.0
    sorted_distances = distances[order]
    steps = np.diff(sorted_distances)
    if np.any(steps < 1e-6):
        found.append("duplicate slice positions")
    positive = steps[steps > 1e-6]
    spacing = float(np.median(positive)) if positive.size else 1.0
    if positive.size and np.any(np.abs(positive - spacing) > max(IRREGULAR_FRACTION * spacing, IRREGULAR_MM)):
        found.append(f"irregular slice spacing: steps from {positive.min():.3f} to {positive.max():.3f} mm "
                     f"(median {spacing:.3f} mm)")
    if positive.size and np.any(positive >= MISSING_FACTOR * spacing):
        missing = int(round(float(np.sum(np.round(positive / spacing) - 1))))
        found.append(f"missing slices: gaps in the positions suggest about {missing} missing")
    first = np.asarray(slices[order[0]].position)
    last = np.asarray(slices[order[-1]].position)
    offset = last - first
    if float(np.linalg.norm(offset)) > 1e-6:
        angle = math.degrees(math.acos(min(1.0, abs(float(np.dot(_unit(offset), normal))))))
        if angle > TILT_TOLERANCE_DEGREES:
            found.append(f"gantry tilt: slices are stacked {angle:.1f}° off their normal (not corrected)")
    return order, normal, found, spacing


def _permute_in_place(voxels: np.ndarray, order: Sequence[int]) -> None:
    """voxels[:] = voxels[order] without a second volume in memory (follows the permutation's cycles)."""
    done = [False] * len(order)
    buffer = np.empty_like(voxels[0])
    for start in range(len(order)):
        if done[start] or order[start] == start:
            done[start] = True
            continue
        buffer[...] = voxels[start]
        current = start
        while True:
            done[current] = True
            source = order[current]
            if source == start:
                voxels[current] = buffer
                break
            voxels[current] = voxels[source]
            current = source


def orient_to_patient(voxels: np.ndarray, origin: np.ndarray, spacing: np.ndarray, axes: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Permute / flip (views only) so +x, +y, +z point most nearly to patient left, posterior, superior.

    `axes` rows are the unit directions of the array axes (z, y, x); returns voxels, origin, spacing, axes and
    warnings (oblique series)."""
    found: list[str] = []
    # patient axis (0 = X L, 1 = Y P, 2 = Z S) each array axis is nearest to; array order wanted: Z, Y, X
    dominant = [int(np.argmax(np.abs(axis))) for axis in axes]
    if len(set(dominant)) != 3:
        found.append("the slice directions are too oblique to match patient axes; shown in acquisition order")
        return voxels, origin, spacing, axes, found
    if any(float(np.max(np.abs(axis))) < math.cos(math.radians(TILT_TOLERANCE_DEGREES)) for axis in axes):
        found.append("oblique series: views are the acquisition planes nearest to axial / coronal / sagittal")
    wanted = [dominant.index(2), dominant.index(1), dominant.index(0)]
    voxels = np.transpose(voxels, wanted)
    axes = axes[wanted].copy()
    spacing = spacing[wanted].copy()
    origin = origin.copy()
    for array_axis in range(3):
        patient_axis = 2 - array_axis
        if axes[array_axis][patient_axis] < 0:
            count = voxels.shape[array_axis]
            origin = origin + axes[array_axis] * spacing[array_axis] * (count - 1)
            axes[array_axis] = -axes[array_axis]
            index: list[slice] = [slice(None)] * 3
            index[array_axis] = slice(None, None, -1)
            voxels = voxels[tuple(index)]
    return voxels, origin, spacing, axes, found


def _volume_dtype(slices: Sequence[DecodedSlice]) -> np.dtype:
    kinds = {s.pixels.dtype for s in slices}
    if len(kinds) == 1:
        return next(iter(kinds))
    low = min(int(s.pixels.min()) for s in slices)
    high = max(int(s.pixels.max()) for s in slices)
    for dtype in (np.int16, np.uint16, np.int32):
        if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int32)


def build_volume(voxels: np.ndarray, slices: Sequence[DecodedSlice], filled_in_file_order: bool = True) -> Volume:
    """A Volume from `voxels` holding slices[n].pixels at index n (sorted here, in place) and the slices' headers
    (whose `pixels` may be empty placeholders)."""
    order, normal, found, z_spacing = slice_order(slices)
    if filled_in_file_order:
        _permute_in_place(voxels, order)
    first = slices[order[0]]
    if first.row_cosines is not None and first.column_cosines is not None and first.position is not None:
        row = _unit(np.asarray(first.row_cosines))
        column = _unit(np.asarray(first.column_cosines))
        origin = np.asarray(first.position, dtype=float)
    else:
        row, column, origin = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), np.zeros(3)
    spacing = np.array([z_spacing, first.pixel_spacing[0], first.pixel_spacing[1]])
    axes = np.stack([normal, column, row])
    oriented, origin, spacing, axes, more = orient_to_patient(voxels, origin, spacing, axes)
    window = next((s.window for s in slices if s.window is not None), None)
    rescale = slices[order[0]].rescale
    if any(s.rescale != rescale for s in slices):
        found.append("the slices have different rescale slopes / intercepts: the first one is used for all")
    paths = [slices[n].path for n in order]
    frames = [slices[n].frame for n in order]
    acquired = first.row_cosines is not None and first.column_cosines is not None
    return Volume(
        voxels=oriented, spacing=(float(spacing[0]), float(spacing[1]), float(spacing[2])),
        origin=_as_vector(origin), row_cosines=_as_vector(axes[2]), column_cosines=_as_vector(axes[1]),
        normal=_as_vector(axes[0]), instance_paths=paths, warnings=found + more, window=window,
        rescale_slope=rescale[0], rescale_intercept=rescale[1],
        frame_numbers=[f for f in frames if f is not None] if any(f is not None for f in frames) else [],
        acquired_row_cosines=_as_vector(row) if acquired else None,
        acquired_column_cosines=_as_vector(column) if acquired else None,
    )


def assemble_volume(slices: Sequence[DecodedSlice]) -> Volume:
    """Stack decoded slices (any order) into a sorted, oriented Volume."""
    if not slices:
        raise DisplayError("the series has no images")
    shape = slices[0].pixels.shape
    for s in slices:
        if s.pixels.shape != shape:
            raise DisplayError(f"{s.path.name}: {s.pixels.shape[0]}×{s.pixels.shape[1]} pixels, the series has "
                               f"{shape[0]}×{shape[1]}")
    voxels = np.empty((len(slices), *shape), dtype=_volume_dtype(slices))
    for n, s in enumerate(slices):
        voxels[n] = s.pixels
    return build_volume(voxels, slices)


class FrameByFrame(DisplayError):
    """A multi-frame file that is not a volume (no per-frame geometry, colour, …): shown frame by frame."""

    def __reduce__(self) -> tuple[type[FrameByFrame], tuple[str]]:
        return FrameByFrame, (self.reason,)


@dataclass
class MultiFramePlan:
    """How to turn the kept frames of one multi-frame file into volume slices (picklable, for the workers).

    `values`: "modality" — each frame's own (integral) rescale applied, voxels in modality units; "stored" — one
    non-integral rescale shared by all frames, voxels hold the stored integers and `rescale` converts them;
    "requantised" — frames with different rescales, at least one non-integral: voxels hold
    round((slope_k × stored + intercept_k − rescale[1]) / rescale[0]) as int16, so `rescale` converts every frame
    (to within half a step of rescale[0]). `kept` is in order along the normal, so frame n is voxel slice n."""

    path: Path
    rows: int
    columns: int
    frames: int
    kept: list[FrameGeometry]
    warnings: list[str]
    values: str
    rescale: tuple[float, float]
    native_dtype: str | None  # numpy dtype of the raw frames when they can be read straight from the file
    pixel_offset: int = 0
    bits_stored: int = 16  # of the raw frames: fewer than their BitsAllocated → masked / sign-extended on reading

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * np.dtype(self.native_dtype or "u1").itemsize


def _stored_range(ds: Dataset) -> tuple[int, int]:
    bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16)
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _value_plan(ds: Dataset, kept: Sequence[FrameGeometry]) -> tuple[str, tuple[float, float], list[str]]:
    rescales = {g.rescale for g in kept}
    integral = all(float(s).is_integer() and float(b).is_integer() for s, b in rescales)
    if integral:
        return "modality", (1.0, 0.0), []
    if len(rescales) == 1:
        return "stored", next(iter(rescales)), []
    low_stored, high_stored = _stored_range(ds)
    ends = [v for s, b in rescales for v in (s * low_stored + b, s * high_stored + b)]
    low, high = min(ends), max(ends)
    step = min(abs(s) for s, _ in rescales if s != 0) if any(s != 0 for s, _ in rescales) else 1.0
    if (high - low) / step > 65535:
        step = (high - low) / 65535
    intercept = low + 32768 * step
    return "requantised", (step, intercept), [
        f"the frames have {len(rescales)} different rescale slopes / intercepts: values were requantised to one "
        f"scale (step {step:.4g})"]


def _pixel_data_start(fp: BinaryIO, syntax: object) -> tuple[int, int] | None:
    """(offset of the first pixel byte, Pixel Data length) with `fp` at the Pixel Data element; None otherwise."""
    head = fp.read(8)
    if len(head) < 8 or struct.unpack("<HH", head[:4]) != (0x7FE0, 0x0010):
        return None
    if syntax == ImplicitVRLittleEndian:
        return fp.tell(), struct.unpack("<I", head[4:8])[0]
    extra = fp.read(4)
    if head[4:6] not in (b"OW", b"OB") or len(extra) < 4:
        return None
    return fp.tell(), struct.unpack("<I", extra)[0]


def _along_normal(kept: Sequence[FrameGeometry]) -> list[FrameGeometry]:
    """The frames in the order `slice_order` gives them (so they are decoded straight into place: no permutation
    of the volume afterwards)."""
    if not kept:
        return []
    normal = _unit(np.cross(np.asarray(kept[0].row_cosines), np.asarray(kept[0].column_cosines)))
    distances = [float(np.dot(normal, g.position)) for g in kept]
    return [kept[n] for n in sorted(range(len(kept)), key=lambda n: (distances[n], n))]


def read_multiframe(path: Path | str) -> MultiFramePlan | None:
    """The volume plan of a multi-frame file; None for a single-frame file. Raises FrameByFrame for a multi-frame
    file that is not a volume and DisplayError for a broken one (e.g. truncated pixel data)."""
    path = Path(path)
    try:
        with warnings_module.catch_warnings():
            warnings_module.simplefilter("ignore")
            with open(path, "rb") as fp:
                ds = dcmread(fp, stop_before_pixels=True)
                syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
                start = _pixel_data_start(fp, syntax) if syntax in NATIVE_LITTLE_ENDIAN else None
    except Exception as exc:  # noqa: BLE001 - unreadable files of any kind
        raise DisplayError(f"{path.name}: unreadable DICOM file ({type(exc).__name__})") from None
    frames = frame_count(ds)
    if frames < 2:
        return None
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric not in ("MONOCHROME1", "MONOCHROME2") or int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise FrameByFrame(f"{path.name}: a {photometric or 'non-monochrome'} multi-frame file is shown frame "
                           "by frame")
    if "ModalityLUTSequence" in ds:
        raise FrameByFrame(f"{path.name}: a multi-frame file with a modality LUT is shown frame by frame")
    geometries = frame_geometries(ds)
    if geometries is None:
        raise FrameByFrame(f"{path.name}: a multi-frame file without per-frame geometry ({frames} frames) is shown "
                           "frame by frame")
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        bits, stored_bits = int(ds.BitsAllocated), int(ds.get("BitsStored") or ds.BitsAllocated)
        signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    except (AttributeError, TypeError, ValueError):
        raise DisplayError(f"{path.name}: incomplete image header (Rows / Columns / BitsAllocated)") from None
    if "PixelData" not in ds and start is None and ("FloatPixelData" in ds or "DoubleFloatPixelData" in ds):
        raise FrameByFrame(f"{path.name}: floating-point pixel data cannot form a volume")
    selection = select_frames(geometries)
    kept = _along_normal(selection.kept)
    values, rescale, more = _value_plan(ds, kept)
    native_dtype: str | None = None
    offset = 0
    if start is not None and bits in (8, 16, 32) and 0 < stored_bits <= bits:
        offset, length = start
        native_dtype = f"{'<' if bits > 8 else '|'}{'i' if signed else 'u'}{bits // 8}"
        needed = rows * columns * (bits // 8) * frames
        present = min(length if length != 0xFFFFFFFF else needed, max(0, path.stat().st_size - offset))
        if present < needed:
            whole = present // max(1, rows * columns * (bits // 8))
            raise DisplayError(f"{path.name}: truncated pixel data: {whole} of {frames} frames present")
    return MultiFramePlan(path=path, rows=rows, columns=columns, frames=frames, kept=kept,
                          warnings=selection.warnings + more, values=values, rescale=rescale,
                          native_dtype=native_dtype, pixel_offset=offset, bits_stored=stored_bits)


def _smallest_integer(values: np.ndarray) -> np.ndarray:
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for dtype in (np.int16, np.uint16, np.int32):
        if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
            return values.astype(dtype, copy=False)
    raise DisplayError(f"values from {low} to {high} do not fit a 32-bit volume")


def _integral_rescale(stored: np.ndarray, slope: int, intercept: int) -> np.ndarray:
    """slope × stored + intercept in the smallest of int16 / uint16 / int32 that holds the frame's results."""
    low_stored, high_stored = (int(stored.min()), int(stored.max())) if stored.size else (0, 0)
    ends = (low_stored * slope + intercept, high_stored * slope + intercept)
    low, high = min(ends), max(ends)
    for dtype in (np.int16, np.uint16, np.int32):
        if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
            if slope == 1 and stored.dtype == dtype:
                return np.add(stored, intercept, dtype=dtype, casting="unsafe")
            return (stored.astype(np.int32 if stored.dtype.itemsize < 4 else np.int64) * slope
                    + intercept).astype(dtype, copy=False)
    raise DisplayError(f"values from {low} to {high} do not fit a 32-bit volume")


def _only_stored_bits(stored: np.ndarray, bits_stored: int) -> np.ndarray:
    """Raw frame values limited to BitsStored (PS3.5 8.1.1: the bits above HighBit are not pixel data): masked
    when unsigned, sign-extended from the top stored bit when signed."""
    bits = stored.dtype.itemsize * 8
    if bits_stored >= bits:
        return stored
    if stored.dtype.kind == "i":
        shift = bits - bits_stored
        return np.right_shift(np.left_shift(stored, shift), shift)
    return np.bitwise_and(stored, stored.dtype.type((1 << bits_stored) - 1))


def _frame_values(plan: MultiFramePlan, geometry: FrameGeometry, stored: np.ndarray) -> np.ndarray:
    if stored.dtype.kind not in "iu":
        raise DisplayError(f"{plan.path.name}: floating-point pixel data cannot form a volume")
    slope, intercept = geometry.rescale
    if plan.values == "stored" or (plan.values == "modality" and slope == 1.0 and intercept == 0.0):
        if stored.dtype.itemsize == 1:
            return stored.astype(np.int16)
        return _smallest_integer(stored) if stored.dtype.itemsize > 2 else stored
    if plan.values == "modality":
        return _integral_rescale(stored, int(slope), int(intercept))
    step, base = plan.rescale
    work = stored.astype(np.float64) * slope + (intercept - base)
    return np.clip(np.rint(work / step), -32768, 32767).astype(np.int16)


def _read_whole(plan: MultiFramePlan) -> Dataset:
    try:
        with warnings_module.catch_warnings():
            warnings_module.simplefilter("ignore")
            return dcmread(plan.path)
    except Exception as exc:  # noqa: BLE001 - unreadable files of any kind
        raise DisplayError(f"{plan.path.name}: unreadable DICOM file ({type(exc).__name__})") from None


def decode_frames(plan: MultiFramePlan, start: int, stop: int, ds: Dataset | None = None) -> list[np.ndarray]:
    """Voxel slices of the kept frames start … stop − 1 (in `plan.kept` order); DisplayError when they cannot.

    Native frames are read straight from the file; others through pydicom's decoders from `ds` (the whole
    dataset; read here when not given)."""
    chosen = plan.kept[start:stop]
    if plan.native_dtype is None:
        whole = ds if ds is not None else _read_whole(plan)
        return [_frame_values(plan, geometry, stored_pixels(whole, geometry.frame)) for geometry in chosen]
    found = []
    count = plan.rows * plan.columns
    native = np.dtype(plan.native_dtype)
    with open(plan.path, "rb") as fp:
        for geometry in chosen:
            fp.seek(plan.pixel_offset + geometry.frame * plan.frame_bytes)
            stored = np.fromfile(fp, dtype=native, count=count)
            if stored.size < count:
                raise DisplayError(f"{plan.path.name}: truncated pixel data at frame {geometry.frame + 1}")
            stored = stored.reshape(plan.rows, plan.columns).astype(native.newbyteorder("="), copy=False)
            found.append(_frame_values(plan, geometry, _only_stored_bits(stored, plan.bits_stored)))
    return found


def frame_headers(plan: MultiFramePlan) -> list[DecodedSlice]:
    """One pixel-less DecodedSlice per kept frame (their geometry), for `build_volume`."""
    rescale = (1.0, 0.0) if plan.values == "modality" else plan.rescale
    empty = np.empty((0, 0), dtype=np.int16)
    return [DecodedSlice(path=plan.path, pixels=empty, position=g.position, row_cosines=g.row_cosines,
                         column_cosines=g.column_cosines, pixel_spacing=g.pixel_spacing, instance_number=None,
                         window=g.window, rescale=rescale, frame=g.frame) for g in plan.kept]


def volume_from_frames(plan: MultiFramePlan, voxels: np.ndarray) -> Volume:
    """The Volume of `voxels` (kept frame n at index n, sorted here in place) and the plan's warnings."""
    volume = build_volume(voxels, frame_headers(plan))
    volume.warnings = plan.warnings + volume.warnings
    return volume


def load_multiframe(plan: MultiFramePlan, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> Volume:
    """Decode the kept frames of a multi-frame file in this process and return its Volume."""
    count = len(plan.kept)
    voxels: np.ndarray | None = None
    whole = _read_whole(plan) if plan.native_dtype is None else None  # decoders need the dataset: read it once
    for start in range(0, count, MULTIFRAME_CHUNK):
        if cancel is not None:
            cancel.raise_if_cancelled()
        for offset, pixels in enumerate(decode_frames(plan, start, min(count, start + MULTIFRAME_CHUNK), whole)):
            if voxels is None:
                voxels = np.empty((count, plan.rows, plan.columns), dtype=pixels.dtype)
            elif pixels.dtype != voxels.dtype:
                voxels = voxels.astype(np.promote_types(voxels.dtype, pixels.dtype))
            voxels[start + offset] = pixels
        if progress is not None:
            progress(ProgressEvent("decode", min(count, start + MULTIFRAME_CHUNK), count))
    if voxels is None:
        raise DisplayError(f"{plan.path.name}: no frames to show")
    return volume_from_frames(plan, voxels)


def load_series(paths: Sequence[Path | str], progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> Volume:
    """Decode every file of a series in this process and return its Volume (DisplayError when it cannot).

    One multi-frame path with per-frame geometry gives that object's volume (FrameByFrame when it has none)."""
    if len(paths) == 1:
        plan = read_multiframe(paths[0])
        if plan is not None:
            return load_multiframe(plan, progress, cancel)
    slices: list[DecodedSlice] = []
    for n, path in enumerate(paths):
        if cancel is not None:
            cancel.raise_if_cancelled()
        slices.append(decode_slice(path))
        if progress is not None:
            progress(ProgressEvent("decode", n + 1, len(paths)))
    return assemble_volume(slices)
