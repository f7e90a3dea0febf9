"""Per-frame geometry of a multi-frame DICOM object, and the frames that form one volume.

Public API:

- `frame_count(ds) -> int`: NumberOfFrames (1 when absent or unusable).
- `frame_geometries(ds) -> list[FrameGeometry] | None`: one FrameGeometry per frame (file order), or None when the
  object carries no usable per-frame geometry (ultrasound cine, secondary capture, NM without it: those stay
  frame by frame). Two kinds of object qualify:
    * enhanced objects (Enhanced CT / MR / PET, …): every attribute is read from the frame's item of
      PerFrameFunctionalGroupsSequence first, the SharedFunctionalGroupsSequence item as fallback —
      PlanePositionSequence › ImagePositionPatient, PlaneOrientationSequence › ImageOrientationPatient,
      PixelMeasuresSequence › PixelSpacing, PixelValueTransformationSequence › RescaleSlope / RescaleIntercept
      (top-level Rescale* as a last resort), FrameVOILUTSequence › WindowCenter / WindowWidth and (per frame
      only) FrameContentSequence › StackID, InStackPositionNumber, TemporalPositionIndex;
    * RT Dose: ImagePositionPatient + ImageOrientationPatient + GridFrameOffsetVector (offsets along the normal
      from ImagePositionPatient; PS3.3 C.8.8.3.2 also allows absolute z when the first offset equals
      ImagePositionPatient z of an axial grid) and DoseGridScaling as the rescale slope (intercept 0).
  Every frame needs a position and an orientation, else the object has no usable geometry.
- `frame_pixel_spacing(ds, frame) -> tuple[float, float] | None`: PixelSpacing at the top level, else from the
  frame's functional groups (for the frame-by-frame view's aspect); `frame_position(ds, frame)`: the frame's
  ImagePositionPatient (for the position overlay).
- `select_frames(geometries) -> FrameSelection`: the frames of one volume and warnings naming what was left
  out. An object holding several stacks (distinct StackID) keeps the first stack (lowest StackID, numbers by
  value); several temporal positions (distinct TemporalPositionIndex) keep the first (lowest) one; frames that
  still share a position along the normal (echoes, phases without an index) keep the first frame in file order at
  each position. Ordering along the normal, spacing and the remaining warnings are kfexplorer.imaging.volume's job.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

Vector = tuple[float, float, float]
DUPLICATE_TOLERANCE_MM = 1e-3


@dataclass(frozen=True)
class FrameGeometry:
    """Where one frame sits (LPS, mm) and how its stored values become modality values."""

    frame: int  # 0-based index in the file
    position: Vector
    row_cosines: Vector
    column_cosines: Vector
    pixel_spacing: tuple[float, float]
    rescale: tuple[float, float] = (1.0, 0.0)  # (slope, intercept)
    window: tuple[float, float] | None = None
    stack_id: str | None = None
    in_stack_position: int | None = None
    temporal_index: int | None = None


@dataclass
class FrameSelection:
    """The frames kept for the volume (file order) and what was left out, in words."""

    kept: list[FrameGeometry]
    warnings: list[str] = field(default_factory=list)
    total: int = 0


def frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def _numbers(value: Any, size: int) -> tuple[float, ...] | None:
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(numbers) != size or not all(math.isfinite(v) for v in numbers):
        return None
    return numbers


def _number(value: Any) -> float | None:
    if isinstance(value, (list, tuple)) or (value is not None and hasattr(value, "__len__")
                                            and not isinstance(value, (str, bytes))):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _group_item(groups: Dataset | None, sequence_keyword: str) -> Dataset | None:
    if groups is None:
        return None
    items = groups.get(sequence_keyword)
    return items[0] if items else None


class _FunctionalGroups:
    """Looks attributes up in a frame's per-frame item, then the shared item."""

    def __init__(self, ds: Dataset) -> None:
        self.per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
        shared = ds.get("SharedFunctionalGroupsSequence") or []
        self.shared: Dataset | None = shared[0] if shared else None

    def item(self, frame: int, sequence_keyword: str, keyword: str) -> Dataset | None:
        per_frame = self.per_frame[frame] if frame < len(self.per_frame) else None
        for groups in (per_frame, self.shared):
            found = _group_item(groups, sequence_keyword)
            if found is not None and keyword in found:
                return found
        return None

    def value(self, frame: int, sequence_keyword: str, keyword: str) -> Any:
        found = self.item(frame, sequence_keyword, keyword)
        return None if found is None else found.get(keyword)

    def per_frame_value(self, frame: int, sequence_keyword: str, keyword: str) -> Any:
        per_frame = self.per_frame[frame] if frame < len(self.per_frame) else None
        found = _group_item(per_frame, sequence_keyword)
        return None if found is None else found.get(keyword)


def _window(center: Any, width: Any) -> tuple[float, float] | None:
    c, w = _number(center), _number(width)
    return (c, w) if c is not None and w is not None and w > 0 else None


def _enhanced_geometries(ds: Dataset, frames: int) -> list[FrameGeometry] | None:
    groups = _FunctionalGroups(ds)
    if not groups.per_frame and groups.shared is None:
        return None
    top_slope, top_intercept = _number(ds.get("RescaleSlope")), _number(ds.get("RescaleIntercept"))
    found: list[FrameGeometry] = []
    for frame in range(frames):
        position = _numbers(groups.value(frame, "PlanePositionSequence", "ImagePositionPatient"), 3)
        orientation = _numbers(groups.value(frame, "PlaneOrientationSequence", "ImageOrientationPatient"), 6)
        if position is None or orientation is None:
            return None
        spacing = _numbers(groups.value(frame, "PixelMeasuresSequence", "PixelSpacing"), 2)
        if spacing is None or min(spacing) <= 0:
            spacing = (1.0, 1.0)
        slope = _number(groups.value(frame, "PixelValueTransformationSequence", "RescaleSlope"))
        intercept = _number(groups.value(frame, "PixelValueTransformationSequence", "RescaleIntercept"))
        slope = slope if slope is not None else top_slope if top_slope is not None else 1.0
        intercept = intercept if intercept is not None else top_intercept if top_intercept is not None else 0.0
        stack = groups.per_frame_value(frame, "FrameContentSequence", "StackID")
        found.append(FrameGeometry(
            frame=frame, position=(position[0], position[1], position[2]),
            row_cosines=(orientation[0], orientation[1], orientation[2]),
            column_cosines=(orientation[3], orientation[4], orientation[5]),
            pixel_spacing=(spacing[0], spacing[1]), rescale=(slope, intercept),
            window=_window(groups.value(frame, "FrameVOILUTSequence", "WindowCenter"),
                           groups.value(frame, "FrameVOILUTSequence", "WindowWidth")),
            stack_id=None if stack in (None, "") else str(stack).strip(),
            in_stack_position=_integer(groups.per_frame_value(frame, "FrameContentSequence",
                                                              "InStackPositionNumber")),
            temporal_index=_integer(groups.per_frame_value(frame, "FrameContentSequence", "TemporalPositionIndex")),
        ))
    return found


def _dose_geometries(ds: Dataset, frames: int) -> list[FrameGeometry] | None:
    offsets_value = ds.get("GridFrameOffsetVector")
    position = _numbers(ds.get("ImagePositionPatient"), 3)
    orientation = _numbers(ds.get("ImageOrientationPatient"), 6)
    offsets = _numbers(offsets_value, frames) if offsets_value is not None else None
    if position is None or orientation is None or offsets is None:
        return None
    row = np.asarray(orientation[:3])
    column = np.asarray(orientation[3:])
    normal = np.cross(row, column)
    norm = float(np.linalg.norm(normal))
    if norm < 1e-6:
        return None
    normal = normal / norm
    origin = np.asarray(position)
    absolute = (offsets[0] != 0.0 and abs(offsets[0] - position[2]) < 1e-3
                and abs(abs(float(normal[2])) - 1.0) < 1e-6)
    spacing = _numbers(ds.get("PixelSpacing"), 2)
    if spacing is None or min(spacing) <= 0:
        spacing = (1.0, 1.0)
    scaling = _number(ds.get("DoseGridScaling"))
    rescale = (scaling if scaling is not None and scaling > 0 else 1.0, 0.0)
    found = []
    for frame, offset in enumerate(offsets):
        if absolute:
            point = np.array([position[0], position[1], offset])
        else:
            point = origin + offset * normal
        found.append(FrameGeometry(
            frame=frame, position=(float(point[0]), float(point[1]), float(point[2])),
            row_cosines=(orientation[0], orientation[1], orientation[2]),
            column_cosines=(orientation[3], orientation[4], orientation[5]),
            pixel_spacing=(spacing[0], spacing[1]), rescale=rescale,
        ))
    return found


def frame_geometries(ds: Dataset) -> list[FrameGeometry] | None:
    """Per-frame geometry of a multi-frame object (see the module docstring), or None."""
    frames = frame_count(ds)
    if frames < 2:
        return None
    if "GridFrameOffsetVector" in ds:
        return _dose_geometries(ds, frames)
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        return _enhanced_geometries(ds, frames)
    return None


def frame_pixel_spacing(ds: Dataset, frame: int = 0) -> tuple[float, float] | None:
    """PixelSpacing of `frame`: top level, else per-frame / shared PixelMeasuresSequence; None when absent."""
    spacing = _numbers(ds.get("PixelSpacing"), 2)
    if spacing is None:
        spacing = _numbers(_FunctionalGroups(ds).value(frame, "PixelMeasuresSequence", "PixelSpacing"), 2)
    if spacing is None or min(spacing) <= 0:
        return None
    return spacing[0], spacing[1]


def frame_position(ds: Dataset, frame: int) -> Vector | None:
    """ImagePositionPatient of one frame of a multi-frame object (functional groups, or RT Dose grid offsets);
    None when the object does not give one."""
    if not 0 <= frame < frame_count(ds):
        return None
    if "GridFrameOffsetVector" in ds:
        geometries = _dose_geometries(ds, frame_count(ds))
        return None if geometries is None else geometries[frame].position
    position = _numbers(_FunctionalGroups(ds).value(frame, "PlanePositionSequence", "ImagePositionPatient"), 3)
    return None if position is None else (position[0], position[1], position[2])


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _stack_key(stack_id: str) -> tuple[int, float, str]:
    """StackIDs in natural order: numbers by value ("2" before "10"), then the rest by text."""
    try:
        return 0, float(stack_id), stack_id
    except ValueError:
        return 1, 0.0, stack_id


def select_frames(geometries: Sequence[FrameGeometry]) -> FrameSelection:
    """The frames of the first stack, first temporal position, one frame per position (see the module docstring)."""
    kept = list(geometries)
    found: list[str] = []
    stacks = sorted({g.stack_id for g in kept if g.stack_id is not None}, key=_stack_key)
    if len(stacks) > 1:
        first = stacks[0]
        left = [g for g in kept if g.stack_id != first]
        kept = [g for g in kept if g.stack_id == first]
        found.append(f"{len(stacks)} stacks in this object: stack {first} shown, "
                     f"{_plural(len(left), 'frame')} of the other stacks left out")
    temporal = sorted({g.temporal_index for g in kept if g.temporal_index is not None})
    if len(temporal) > 1:
        first_time = temporal[0]
        left = [g for g in kept if g.temporal_index != first_time]
        kept = [g for g in kept if g.temporal_index == first_time]
        found.append(f"{len(temporal)} temporal positions in this object: the first shown, "
                     f"{_plural(len(left), 'frame')} of later positions left out")
    if kept:
        normal = np.cross(np.asarray(kept[0].row_cosines), np.asarray(kept[0].column_cosines))
        distances = sorted((float(np.dot(normal, np.asarray(g.position))), n) for n, g in enumerate(kept))
        dropped: set[int] = set()
        last: float | None = None
        for distance, n in distances:
            if last is not None and distance - last <= DUPLICATE_TOLERANCE_MM:
                dropped.add(n)
                continue
            last = distance
        unique = [g for n, g in enumerate(kept) if n not in dropped]
        if len(unique) < len(kept):
            found.append(f"frames share positions (several phases or echoes?): the first at each position shown, "
                         f"{_plural(len(kept) - len(unique), 'frame')} left out")
            kept = unique
    return FrameSelection(kept=kept, warnings=found, total=len(geometries))
