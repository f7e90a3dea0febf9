"""One DICOM image on screen: a pyqtgraph ImageItem (row-major, explicit levels) in millimetre coordinates.

The view shows a 2-D slice of modality values through a linear VOI window (kfexplorer.imaging.display), so the
ImageItem's image is exactly the 8-bit picture the standard prescribes; colour slices are shown as they are.
Mouse: left-drag pans (or draws with a measurement tool), right- or middle-drag changes window / level, the wheel
scrolls slices. Corner overlays are labels over the view; `hide_identifying` blanks the ones that identify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPen, QResizeEvent
from PySide6.QtWidgets import QGraphicsEllipseItem, QLabel, QWidget

from kfexplorer.imaging.display import apply_window

Point = tuple[float, float]
TOOL_POINTS = {"length": 2, "angle": 3, "ellipse": 2}  # polygon: until double-click
MEASURE_COLOUR = QColor("#facc15")
WINDOW_DRAG_GAIN = 2.0  # window units per screen pixel of drag, scaled by the current width / 256
MIN_WIDTH = 1.0


def window_to_uint8(values: np.ndarray, center: float, width: float, invert: bool = False) -> np.ndarray:
    """The standard LINEAR VOI window (PS3.3 C.11.2.1.2.1) onto 0–255, rounded halves up; optionally inverted."""
    image = np.floor(apply_window(values, center, width, "LINEAR") + np.float32(0.5)).astype(np.uint8)
    return np.uint8(255) - image if invert else image


class WindowTable:
    """`window_to_uint8` as a look-up table over every value of a 16-bit integer type (built once per window), so
    a 512² slice windows in about a millisecond; other types are windowed directly."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._table: np.ndarray | None = None

    def apply(self, values: np.ndarray, center: float, width: float, invert: bool) -> np.ndarray:
        if values.dtype not in (np.int16, np.uint16):
            return window_to_uint8(values, center, width, invert)
        info = np.iinfo(values.dtype)
        key = (values.dtype.str, center, width, invert)
        if key != self._key or self._table is None:
            every = np.arange(info.min, info.max + 1, dtype=np.int32)
            self._table = window_to_uint8(every, center, width, invert)
            self._key = key
        offset = values.astype(np.int32) - info.min if info.min else values
        return self._table[offset]


@dataclass
class ShownSlice:
    """What the view shows: modality values (H×W) or an RGB image (H×W×3), and pixel spacing (row, column) mm."""

    values: np.ndarray
    spacing: tuple[float, float]

    @property
    def is_colour(self) -> bool:
        return self.values.ndim == 3


class _ImageViewBox(pg.ViewBox):
    """A ViewBox that gives right/middle drags, wheel turns and tool clicks to its DicomImageView."""

    def __init__(self, owner: DicomImageView) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._owner = owner

    def mouseDragEvent(self, ev: object, axis: object = None) -> None:  # noqa: N802 - Qt naming
        button = ev.button()  # type: ignore[attr-defined]
        if button in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
            ev.accept()  # type: ignore[attr-defined]
            delta = ev.screenPos() - ev.lastScreenPos()  # type: ignore[attr-defined]
            self._owner.drag_window(delta.x(), delta.y())
            return
        if button == Qt.MouseButton.LeftButton and self._owner.tool != "pan":
            ev.accept()  # type: ignore[attr-defined]
            if self._owner.tool == "ellipse":
                start = self.mapSceneToView(ev.buttonDownScenePos())  # type: ignore[attr-defined]
                end = self.mapSceneToView(ev.scenePos())  # type: ignore[attr-defined]
                self._owner.drag_ellipse(start, end, bool(ev.isFinish()))  # type: ignore[attr-defined]
            return
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev: object) -> None:  # noqa: N802 - Qt naming
        if ev.button() == Qt.MouseButton.LeftButton and self._owner.tool != "pan":  # type: ignore[attr-defined]
            ev.accept()  # type: ignore[attr-defined]
            point = self.mapSceneToView(ev.scenePos())  # type: ignore[attr-defined]
            self._owner.tool_click(point, bool(ev.double()))  # type: ignore[attr-defined]
            return
        super().mouseClickEvent(ev)

    def wheelEvent(self, ev: object, axis: object = None) -> None:  # noqa: N802 - Qt naming
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()  # type: ignore[attr-defined]
        ev.accept()  # type: ignore[attr-defined]
        if delta:
            self._owner.slice_step_requested.emit(-1 if delta > 0 else 1)


class DicomImageView(pg.GraphicsView):
    """Shows one slice with window / level, zoom, pan, measurement drawing and corner overlays.

    Signals: window_changed(center, width); slice_step_requested(step); measurement_drawn(kind, points) with
    points in pixel coordinates (x = column, y = row).
    """

    window_changed = Signal(float, float)
    slice_step_requested = Signal(int)
    measurement_drawn = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="k")
        self.setMinimumSize(240, 240)
        self.view_box = _ImageViewBox(self)
        self.setCentralItem(self.view_box)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.window_table = WindowTable()
        self.view_box.addItem(self.image_item)
        self.shown: ShownSlice | None = None
        self.window_center = 40.0
        self.window_width = 400.0
        self.invert = False
        self.tool = "pan"
        self.fit_on_resize = True  # until the user zooms or pans, the image follows the view's size
        self.view_box.sigRangeChangedManually.connect(self._user_moved)
        self._pending: list[Point] = []
        self._sketch: list[object] = []
        self._drawn: list[object] = []
        self._build_overlays()

    # -- overlays -----------------------------------------------------------------------------------------------
    def _build_overlays(self) -> None:
        font = QFont()
        font.setPointSizeF(max(8.0, font.pointSizeF() - 1))
        self.overlays: dict[str, QLabel] = {}
        for corner in ("top_left", "top_right", "bottom_left", "bottom_right"):
            label = QLabel(self)
            label.setObjectName(f"overlay_{corner}")
            label.setFont(font)
            label.setStyleSheet("color: #e5e7eb; background: transparent;")
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            right = corner.endswith("right")
            label.setAlignment((Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft)
                               | Qt.AlignmentFlag.AlignTop)
            self.overlays[corner] = label
        self.hide_identifying = False
        self._overlay_lines: dict[str, list[tuple[str, bool]]] = {}

    def set_overlay(self, corner: str, lines: Sequence[tuple[str, bool]]) -> None:
        """Lines of one corner as (text, identifying); identifying lines are blanked while hidden."""
        self._overlay_lines[corner] = list(lines)
        self._refresh_overlay(corner)

    def set_hide_identifying(self, hide: bool) -> None:
        self.hide_identifying = hide
        for corner in self.overlays:
            self._refresh_overlay(corner)

    def overlay_text(self, corner: str) -> str:
        return self.overlays[corner].text()

    def _refresh_overlay(self, corner: str) -> None:
        lines = [text for text, identifying in self._overlay_lines.get(corner, [])
                 if not (identifying and self.hide_identifying)]
        label = self.overlays[corner]
        label.setText("\n".join(lines))
        label.adjustSize()
        self._place_overlays()

    def _place_overlays(self) -> None:
        margin = 8
        w, h = self.width(), self.height()
        for corner, label in self.overlays.items():
            label.adjustSize()
            x = margin if corner.endswith("left") else w - label.width() - margin
            y = margin if corner.startswith("top") else h - label.height() - margin
            label.move(max(0, x), max(0, y))

    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(ev)
        if hasattr(self, "overlays"):
            self._place_overlays()
        if getattr(self, "fit_on_resize", False):
            self.reset_view()

    def _user_moved(self, *_args: object) -> None:
        self.fit_on_resize = False

    # -- image --------------------------------------------------------------------------------------------------
    def show_slice(self, shown: ShownSlice, *, reset_view: bool = False) -> None:
        """Show `shown` with the current window; keeps zoom and pan unless `reset_view` or the extent changed."""
        previous = self.shown
        self.shown = shown
        rows, columns = shown.values.shape[:2]
        rect = QRectF(0.0, 0.0, columns * shown.spacing[1], rows * shown.spacing[0])
        self._render()
        self.image_item.setRect(rect)
        extent_changed = previous is None or previous.values.shape[:2] != shown.values.shape[:2] \
            or previous.spacing != shown.spacing
        if reset_view or extent_changed:
            self.reset_view()

    def clear_image(self) -> None:
        self.shown = None
        self.image_item.clear()

    def _render(self) -> None:
        if self.shown is None:
            return
        if self.shown.is_colour:
            image = np.asarray(self.shown.values, dtype=np.uint8)
            self.image_item.setImage(255 - image if self.invert else image, autoLevels=False, levels=(0, 255))
            return
        image = self.window_table.apply(self.shown.values, self.window_center, self.window_width, self.invert)
        self.image_item.setImage(image, autoLevels=False, levels=(0, 255))

    def displayed_image(self) -> np.ndarray | None:
        """The 8-bit image the ImageItem holds."""
        image = self.image_item.image
        return None if image is None else np.asarray(image)

    def set_window(self, center: float, width: float) -> None:
        width = max(MIN_WIDTH, float(width))
        if (center, width) == (self.window_center, self.window_width):
            return
        self.window_center, self.window_width = float(center), width
        self._render()
        self.window_changed.emit(self.window_center, self.window_width)

    def set_invert(self, invert: bool, render: bool = True) -> None:
        self.invert = invert
        if render:
            self._render()

    def drag_window(self, dx: float, dy: float) -> None:
        """Right/middle drag: horizontal changes the width, vertical the level (down = brighter structures)."""
        gain = WINDOW_DRAG_GAIN * max(1.0, self.window_width / 256.0)
        self.set_window(self.window_center + dy * gain, self.window_width + dx * gain)

    def reset_view(self) -> None:
        if self.shown is None:
            return
        self.fit_on_resize = True
        rows, columns = self.shown.values.shape[:2]
        self.view_box.setRange(QRectF(0.0, 0.0, columns * self.shown.spacing[1], rows * self.shown.spacing[0]),
                               padding=0.02)

    def zoom(self, factor: float) -> None:
        """Zoom about the view centre (factor > 1 magnifies)."""
        self.fit_on_resize = False
        self.view_box.scaleBy((1.0 / factor, 1.0 / factor))

    # -- measurement tools ----------------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.tool = tool
        self._pending = []
        self._clear_items(self._sketch)

    def to_pixels(self, point: QPointF) -> Point:
        """View (mm) coordinates → pixel coordinates with pixel centres at integers."""
        spacing = self.shown.spacing if self.shown is not None else (1.0, 1.0)
        return point.x() / spacing[1] - 0.5, point.y() / spacing[0] - 0.5

    def to_view(self, point: Point) -> QPointF:
        spacing = self.shown.spacing if self.shown is not None else (1.0, 1.0)
        return QPointF((point[0] + 0.5) * spacing[1], (point[1] + 0.5) * spacing[0])

    def tool_click(self, point: QPointF, double: bool) -> None:
        if self.shown is None or self.tool == "ellipse":
            return
        self._pending.append(self.to_pixels(point))
        needed = TOOL_POINTS.get(self.tool)
        if (needed is not None and len(self._pending) >= needed) or (self.tool == "polygon" and double
                                                                     and len(self._pending) >= 3):
            self.finish_measurement()
        else:
            self._sketch_pending()

    def drag_ellipse(self, start: QPointF, end: QPointF, finished: bool) -> None:
        if self.shown is None:
            return
        self._pending = [self.to_pixels(start), self.to_pixels(end)]
        if finished:
            self.finish_measurement()
        else:
            self._sketch_pending()

    def finish_measurement(self) -> None:
        """Emit the pending points as a measurement of the current tool (polygon: Enter or double-click)."""
        points, self._pending = list(self._pending), []
        self._clear_items(self._sketch)
        minimum = TOOL_POINTS.get(self.tool, 3)
        if len(points) >= minimum:
            self.measurement_drawn.emit(self.tool, points)

    def _sketch_pending(self) -> None:
        self._clear_items(self._sketch)
        if self._pending:
            self._sketch = self._shape_items(self.tool, self._pending, "", closed=False)

    def _clear_items(self, items: list[object]) -> None:
        for item in items:
            self.view_box.removeItem(item)
        items.clear()

    def _shape_items(self, kind: str, points: Sequence[Point], text: str, closed: bool = True) -> list[object]:
        pen = QPen(MEASURE_COLOUR)
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        view = [self.to_view(p) for p in points]
        items: list[object] = []
        if kind == "ellipse" and len(view) == 2:
            rect = QRectF(view[0], view[1]).normalized()
            ellipse = QGraphicsEllipseItem(rect)
            ellipse.setPen(pen)
            items.append(ellipse)
        else:
            xs = [p.x() for p in view]
            ys = [p.y() for p in view]
            if kind == "polygon" and closed and len(view) >= 3:
                xs.append(xs[0])
                ys.append(ys[0])
            curve = pg.PlotCurveItem(xs, ys, pen=pen)
            items.append(curve)
            items.append(pg.ScatterPlotItem(xs, ys, size=5, pen=pen, brush=MEASURE_COLOUR))
        if text:
            label = pg.TextItem(text, color=MEASURE_COLOUR, anchor=(0, 1))
            label.setPos(view[-1] if kind != "ellipse" else QRectF(view[0], view[1]).normalized().topRight())
            items.append(label)
        for item in items:
            self.view_box.addItem(item)
        return items

    def show_measurements(self, shapes: Sequence[tuple[str, Sequence[Point], str]]) -> None:
        """Draw saved measurements of this slice: (kind, points, label)."""
        self._clear_items(self._drawn)
        for kind, points, text in shapes:
            self._drawn.extend(self._shape_items(kind, points, text))
