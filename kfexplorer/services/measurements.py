"""Measurements on images (Qt-free): their geometry and results, and their rows in the user database.

Coordinates are image pixel coordinates (x = column, y = row, pixel centres at integer values); `spacing` is the
pixel spacing (row spacing, column spacing) in millimetres. Results: length in mm, angle in degrees, and for the
ellipse and polygon ROIs the mean, SD, min and max of the pixel values inside (HU for CT) with the area in mm².
A pixel is inside a ROI when its centre is.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kfexplorer.store.user_db import UserDatabase

_MIGRATION_LOCK = threading.Lock()
KINDS = ("length", "angle", "ellipse", "polygon")
Point = tuple[float, float]
CSV_COLUMNS = ("id", "sop_instance_uid", "kind", "created_at", "length_mm", "angle_deg", "mean", "sd", "min", "max",
               "area_mm2", "pixels", "points")


class MeasurementError(ValueError):
    """A measurement with the wrong number of points, or an ROI that holds no pixel."""


@dataclass(frozen=True)
class Measurement:
    """One measurement on one instance (and frame): `points` in pixel coordinates, `result` by name."""

    sop_instance_uid: str
    kind: str
    points: tuple[Point, ...]
    result: dict[str, float]
    frame: int = 0
    id: int | None = None
    created_at: str | None = None

    def summary(self) -> str:
        """One line for a list: '42.3 mm', '87.5°', 'mean 41.2 ± 3.1 HU · 120.4 mm²'."""
        r = self.result
        if self.kind == "length":
            return f"{r['length_mm']:.1f} mm"
        if self.kind == "angle":
            return f"{r['angle_deg']:.1f}°"
        return (f"mean {r['mean']:.1f} ± {r['sd']:.1f} · min {r['min']:.0f} · max {r['max']:.0f} · "
                f"{r['area_mm2']:.1f} mm²")


# -- geometry ---------------------------------------------------------------------------------------------------
def length_mm(a: Point, b: Point, spacing: tuple[float, float]) -> float:
    """Distance between two pixel positions in millimetres (row spacing scales y, column spacing scales x)."""
    row_mm, col_mm = spacing
    return math.hypot((b[0] - a[0]) * col_mm, (b[1] - a[1]) * row_mm)


def angle_deg(a: Point, vertex: Point, b: Point, spacing: tuple[float, float]) -> float:
    """The angle at `vertex` between the rays to `a` and `b`, in degrees, measured in millimetre space."""
    row_mm, col_mm = spacing
    ax, ay = (a[0] - vertex[0]) * col_mm, (a[1] - vertex[1]) * row_mm
    bx, by = (b[0] - vertex[0]) * col_mm, (b[1] - vertex[1]) * row_mm
    norm = math.hypot(ax, ay) * math.hypot(bx, by)
    if norm == 0:
        raise MeasurementError("an angle needs three distinct points")
    return math.degrees(math.acos(max(-1.0, min(1.0, (ax * bx + ay * by) / norm))))


def ellipse_mask(shape: tuple[int, int], corner: Point, opposite: Point) -> np.ndarray:
    """Pixels whose centres lie inside the ellipse inscribed in the box from `corner` to `opposite`."""
    x0, x1 = sorted((corner[0], opposite[0]))
    y0, y1 = sorted((corner[1], opposite[1]))
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    if rx <= 0 or ry <= 0:
        return np.zeros(shape, dtype=bool)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    return np.asarray(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0)


def polygon_mask(shape: tuple[int, int], vertices: Sequence[Point]) -> np.ndarray:
    """Pixels whose centres lie inside the polygon (even–odd rule)."""
    if len(vertices) < 3:
        return np.zeros(shape, dtype=bool)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    xs = xs.astype(np.float64)
    ys = ys.astype(np.float64)
    inside = np.zeros(shape, dtype=bool)
    count = len(vertices)
    for i in range(count):
        x_i, y_i = vertices[i]
        x_j, y_j = vertices[(i + 1) % count]
        if y_i == y_j:
            continue
        crosses = (y_i > ys) != (y_j > ys)
        x_at = (x_j - x_i) * (ys - y_i) / (y_j - y_i) + x_i
        inside ^= crosses & (xs < x_at)
    return inside


def roi_statistics(values: np.ndarray, mask: np.ndarray, spacing: tuple[float, float]) -> dict[str, float]:
    """Mean, SD (population), min, max of `values` under `mask`, its pixel count and area in mm²."""
    if mask.shape != values.shape:
        raise MeasurementError("the ROI mask and the image differ in shape")
    inside = values[mask].astype(np.float64)
    if inside.size == 0:
        raise MeasurementError("the ROI holds no pixel")
    return {"mean": float(inside.mean()), "sd": float(inside.std()), "min": float(inside.min()),
            "max": float(inside.max()), "pixels": float(inside.size),
            "area_mm2": float(inside.size * spacing[0] * spacing[1])}


def measure(kind: str, points: Sequence[Point], values: np.ndarray | None,
            spacing: tuple[float, float]) -> dict[str, float]:
    """The result of a measurement of `kind` over `points` (values: the slice's modality values, for ROIs)."""
    pts = [(float(x), float(y)) for x, y in points]
    if kind == "length":
        if len(pts) != 2:
            raise MeasurementError("a length needs two points")
        return {"length_mm": length_mm(pts[0], pts[1], spacing)}
    if kind == "angle":
        if len(pts) != 3:
            raise MeasurementError("an angle needs three points")
        return {"angle_deg": angle_deg(pts[0], pts[1], pts[2], spacing)}
    if values is None:
        raise MeasurementError("an ROI needs the image values")
    shape = (int(values.shape[0]), int(values.shape[1]))
    if kind == "ellipse":
        if len(pts) != 2:
            raise MeasurementError("an ellipse needs two corners")
        return roi_statistics(values, ellipse_mask(shape, pts[0], pts[1]), spacing)
    if kind == "polygon":
        if len(pts) < 3:
            raise MeasurementError("a polygon needs three or more points")
        return roi_statistics(values, polygon_mask(shape, pts), spacing)
    raise MeasurementError(f"unknown measurement kind {kind!r}")


# -- the user database ------------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class MeasurementStore:
    """Reads and writes the `measurements` table of the user database (one store per thread)."""

    def __init__(self, database_path: Path) -> None:
        with _MIGRATION_LOCK:  # two threads opening a new database at once would both migrate it
            UserDatabase(Path(database_path)).close()  # runs the migrations that create the table
        self.path = Path(database_path)
        self._con = sqlite3.connect(self.path, timeout=10.0)

    def close(self) -> None:
        self._con.close()

    def save(self, measurement: Measurement) -> Measurement:
        """Insert `measurement`; returns it with its id and creation time."""
        if measurement.kind not in KINDS:
            raise MeasurementError(f"unknown measurement kind {measurement.kind!r}")
        created = _now()
        geometry = json.dumps({"points": [list(p) for p in measurement.points], "frame": measurement.frame})
        with self._con:
            cursor = self._con.execute(
                "INSERT INTO measurements (sop_instance_uid, kind, geometry, result, created_at) VALUES (?, ?, ?, ?, ?)",
                (measurement.sop_instance_uid, measurement.kind, geometry, json.dumps(measurement.result), created),
            )
        return Measurement(measurement.sop_instance_uid, measurement.kind, measurement.points, measurement.result,
                           measurement.frame, int(cursor.lastrowid or 0), created)

    def for_instances(self, sop_instance_uids: Sequence[str]) -> list[Measurement]:
        """The measurements of these instances, oldest first."""
        found: list[Measurement] = []
        uids = list(dict.fromkeys(sop_instance_uids))
        for start in range(0, len(uids), 500):
            chunk = uids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self._con.execute(
                f"SELECT id, sop_instance_uid, kind, geometry, result, created_at FROM measurements "
                f"WHERE sop_instance_uid IN ({marks}) ORDER BY id", chunk).fetchall()
            found.extend(_row_to_measurement(row) for row in rows)
        found.sort(key=lambda m: m.id or 0)
        return found

    def delete(self, measurement_id: int) -> None:
        with self._con:
            self._con.execute("DELETE FROM measurements WHERE id = ?", (measurement_id,))


def _row_to_measurement(row: tuple[Any, ...]) -> Measurement:
    geometry = json.loads(row[3])
    points = tuple((float(p[0]), float(p[1])) for p in geometry.get("points", []))
    result = {str(k): float(v) for k, v in json.loads(row[4]).items()}
    return Measurement(str(row[1]), str(row[2]), points, result, int(geometry.get("frame", 0)), int(row[0]),
                       str(row[5]))


def measurements_csv(measurements: Sequence[Measurement]) -> str:
    """CSV text of `measurements` (one row each, CSV_COLUMNS; empty cells where a value does not apply)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for m in measurements:
        r = m.result
        cells: list[Any] = [m.id, m.sop_instance_uid, m.kind, m.created_at]
        for name in ("length_mm", "angle_deg", "mean", "sd", "min", "max", "area_mm2", "pixels"):
            cells.append("" if name not in r else f"{r[name]:.6g}")
        cells.append(" ".join(f"{x:.2f},{y:.2f}" for x, y in m.points))
        writer.writerow(["" if c is None else c for c in cells])
    return buffer.getvalue()


def export_measurements_csv(measurements: Sequence[Measurement], target: Path) -> Path:
    Path(target).write_text(measurements_csv(measurements), encoding="utf-8")
    return Path(target)
