"""The DICOM viewer: one series, scrolled, windowed, measured, with the participant's genomics beside it.

Opening a series decodes its first image on a job thread and shows it at once; the whole volume then loads in
the decode pool (a tracked job: progress and Cancel in the status bar) while the slices around the current one
are prefetched. Once the volume is there, slices come from it and the Axial / Coronal / Sagittal views (MPR,
correct aspect from the spacing) open; the Volume's warnings (tilt, irregular spacing, missing slices) show above
the image. Keys (UI.md): wheel / arrows scroll, 1–6 presets, 0 the file's own window, Space reset, I invert,
C cine, +/- zoom. A broken file shows "Cannot display: …", never a crash.

A multi-frame object (one instance) whose frames carry geometry (Enhanced CT / MR / PET, RT Dose) loads as a
volume the same way: its first frame shows at once, the pool decodes the frames, then the slider runs over the
frames kept for the volume (first stack / temporal position; the warning line says what was left out) in order
along the normal, and MPR opens. A multi-frame object without geometry (ultrasound cine, secondary capture) is
shown frame by frame, as before.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.imaging.display import PRESETS, DisplayError, default_window, modality_values, render_uint8
from kfexplorer.imaging.multiframe import frame_count, frame_pixel_spacing, frame_position
from kfexplorer.imaging.volume import FrameByFrame, Volume, load_series
from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.services.imaging_catalog import SeriesEntry, SeriesInstance
from kfexplorer.services.jobs import JobFailure
from kfexplorer.services.measurements import (
    Measurement,
    MeasurementError,
    MeasurementStore,
    export_measurements_csv,
    measure,
)
from kfexplorer.services.notable_variants import notable_variants
from kfexplorer.services.participant_detail import load_participant_detail
from kfexplorer.services.workspace import Workspace
from kfexplorer.store.user_db import USER_DB_NAME
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.widgets.dicom_clinical_side import ClinicalContext, DicomClinicalSide
from kfexplorer.ui.widgets.dicom_decode_pool import decode_pool
from kfexplorer.ui.widgets.dicom_image_view import DicomImageView, ShownSlice
from kfexplorer.ui.widgets.dicom_tag_tree import DicomTagTree, TagRow, tag_rows
from kfexplorer.ui.widgets.empty_state import EmptyState

VIEW_MODES = ("Acquired", "Axial", "Coronal", "Sagittal")
PRESET_KEYS = {getattr(Qt.Key, f"Key_{n}"): name for n, name in enumerate(PRESETS, start=1)}
PREFETCH_RADIUS = 3
TAGS_DELAY_MS = 120
DECODED_LIMIT = 128  # acquired slices kept decoded while there is no volume (the farthest are dropped)
CINE_INTERVAL_MS = 66  # ~15 frames per second
TOOLS = (("pan", "Pan"), ("length", "Length"), ("angle", "Angle"), ("ellipse", "Ellipse"), ("polygon", "Polygon"))

@dataclass
class DecodedView:
    """One decoded acquired slice (from a job): values, spacing, the file's window and header facts."""

    index: int
    values: np.ndarray
    spacing: tuple[float, float]
    window: tuple[float, float] | None
    monochrome1: bool
    position: str
    tags: list[TagRow] = field(default_factory=list)


@dataclass
class SliceRef:
    instance: SeriesInstance
    frame: int


def _spacing_of(ds: Any, frame: int = 0) -> tuple[float, float]:
    try:
        enhanced = frame_pixel_spacing(ds, frame) if "PixelSpacing" not in ds else None
    except Exception:  # noqa: BLE001 - untrusted functional groups
        enhanced = None
    if enhanced is not None:
        return enhanced
    try:
        values = [float(v) for v in ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing") or ()]
    except (TypeError, ValueError):
        values = []
    return (values[0], values[1]) if len(values) == 2 and values[0] > 0 and values[1] > 0 else (1.0, 1.0)


def _position_text(ds: Any, frame: int = 0) -> str:
    try:
        of_frame = frame_position(ds, frame) if frame_count(ds) > 1 else None
        position = list(of_frame) if of_frame is not None else \
            [float(v) for v in ds.get("ImagePositionPatient") or ()]
    except (TypeError, ValueError, AttributeError, IndexError):
        position = []
    if len(position) == 3:
        return "Pos " + ", ".join(f"{v:.1f}" for v in position) + " mm"
    location = ds.get("SliceLocation")
    return f"Loc {float(location):.1f} mm" if location not in (None, "") else ""


def decode_acquired_slice(index: int, ref: SliceRef, with_tags: bool = True) -> DecodedView:
    """Read one instance (frame) from disk: display values, spacing, own window, position and tags.

    Raises DisplayError for a file that cannot be displayed."""
    from pydicom import dcmread

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(ref.instance.local_path)
    except Exception as error:  # noqa: BLE001 - untrusted files
        raise DisplayError(f"{ref.instance.local_path.name}: unreadable DICOM file "
                           f"({type(error).__name__}: {str(error)[:120]})") from None
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        values = modality_values(ds, ref.frame)
        window = default_window(ds, values, ref.frame)
    else:
        values = render_uint8(ds, ref.frame)
        window = None
    rows = tag_rows(ds) if with_tags else []
    return DecodedView(index, values, _spacing_of(ds, ref.frame), window, photometric == "MONOCHROME1",
                       _position_text(ds, ref.frame),
                       rows)


def acquired_stack(volume: Volume, row_cosines: Sequence[float] | None,
                   column_cosines: Sequence[float] | None) -> np.ndarray:
    """The volume's voxels as the files store them: (slice along the acquisition normal, row, column); a view."""
    if row_cosines is None or column_cosines is None:
        return volume.voxels
    row = np.asarray(row_cosines, dtype=float)
    column = np.asarray(column_cosines, dtype=float)
    normal = np.cross(row, column)
    axes = [np.asarray(volume.normal), np.asarray(volume.column_cosines), np.asarray(volume.row_cosines)]
    order: list[int] = []
    flips: list[bool] = []
    for wanted in (normal, column, row):
        dots = [float(np.dot(wanted, axis)) for axis in axes]
        best = int(np.argmax(np.abs(dots)))
        order.append(best)
        flips.append(dots[best] < 0)
    if sorted(order) != [0, 1, 2]:
        return volume.voxels
    stack = np.transpose(volume.voxels, order)
    for axis, flip in enumerate(flips):
        if flip:
            stack = np.flip(stack, axis)
    return stack


def acquired_spacing(volume: Volume) -> tuple[float, float]:
    """Pixel spacing (between rows, between columns) of the acquired slices, from the volume's axes."""
    if volume.acquired_row_cosines is None or volume.acquired_column_cosines is None:
        return volume.spacing[1], volume.spacing[2]
    axes = [np.asarray(volume.normal), np.asarray(volume.column_cosines), np.asarray(volume.row_cosines)]

    def along(direction: Sequence[float]) -> float:
        dots = [abs(float(np.dot(direction, axis))) for axis in axes]
        return volume.spacing[int(np.argmax(dots))]

    return along(volume.acquired_column_cosines), along(volume.acquired_row_cosines)


def display_applies_rescale(volume: Volume) -> bool:
    """Whether the frame-by-frame display pipeline (kfexplorer.imaging.display) shows this volume's values with
    its rescale applied, so the volume is shown in modality units too: yes for Rescale Slope / Intercept (top level
    or functional groups); no for an RT Dose, whose DoseGridScaling the frames show unapplied."""
    if (volume.rescale_slope, volume.rescale_intercept) == (1.0, 0.0) or not volume.instance_paths:
        return True
    from pydicom import dcmread

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(volume.instance_paths[0], stop_before_pixels=True,
                         specific_tags=["DoseGridScaling", "RescaleSlope"])
    except Exception:  # noqa: BLE001 - untrusted header: modality units, as for any rescaled volume
        return True
    return "DoseGridScaling" not in ds or "RescaleSlope" in ds


def _orientation_of(path: Path) -> tuple[list[float] | None, list[float] | None]:
    """Row and column direction cosines of one file (None when it has no usable ImageOrientationPatient)."""
    from pydicom import dcmread

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = [float(v) for v in dcmread(path, stop_before_pixels=True).ImageOrientationPatient]
    except Exception:  # noqa: BLE001 - untrusted header
        return None, None
    return (values[:3], values[3:]) if len(values) == 6 else (None, None)


def format_age(days: int | None) -> str:
    if days is None:
        return ""
    return f"Age {days / 365.25:.1f} y ({days:,} d)"


class DicomViewer(QWidget):
    """A series viewer; `open_series` starts it. Signals: slice_shown(index), volume_loaded, load_failed(text),
    measurement_saved(Measurement)."""

    slice_shown = Signal(int)
    volume_loaded = Signal()
    load_failed = Signal(str)
    measurement_saved = Signal(object)

    def __init__(self, jobs: QtJobRunner, *, user_db_path: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self._user_db_path = user_db_path
        self.workspace: Workspace | None = None
        self.entry: SeriesEntry | None = None
        self.slices: list[SliceRef] = []
        self.decoded: dict[int, DecodedView] = {}
        self.volume: Volume | None = None
        self.acquired: np.ndarray | None = None
        self.volume_in_modality_units = True  # False: show the volume's stored values, as the file's frames show
        self.mode = "Acquired"
        self.index = 0
        self.mode_index: dict[str, int] = {}
        self.file_window: tuple[float, float] | None = None
        self.monochrome1 = False
        self.user_invert = False
        self.measurements: list[Measurement] = []
        self.error_text: str | None = None
        self._generation = 0
        self._current_tags_index: tuple[int, int] | None = None
        self.positions: dict[int, str] = {}
        self.cine_timer = QTimer(self)
        self.cine_timer.setInterval(CINE_INTERVAL_MS)
        self.cine_timer.timeout.connect(self._cine_step)
        self.tags_timer = QTimer(self)
        self.tags_timer.setSingleShot(True)
        self.tags_timer.setInterval(TAGS_DELAY_MS)
        self.tags_timer.timeout.connect(self._load_tags_if_needed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()

    # -- building -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        layout.addWidget(self.splitter, 1)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(4)
        self.toolbar = QToolBar("Viewer")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        left_layout.addWidget(self.toolbar)
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(VIEW_MODES)
        self.mode_combo.setToolTip("Acquired slices, or the volume's axial / coronal / sagittal planes (MPR)")
        self.mode_combo.currentTextChanged.connect(self.set_mode)
        self.toolbar.addWidget(self.mode_combo)
        self.toolbar.addSeparator()
        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for tool, label in TOOLS:
            action = QAction(label, self)
            action.setCheckable(True)
            action.setChecked(tool == "pan")
            action.triggered.connect(lambda _checked=False, name=tool: self.set_tool(name))
            self.tool_group.addAction(action)
            self.toolbar.addAction(action)
            self.tool_actions[tool] = action
        self.display_toolbar = QToolBar("Display")
        self.display_toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        left_layout.addWidget(self.display_toolbar)
        self.invert_action = QAction("Invert", self)
        self.invert_action.setCheckable(True)
        self.invert_action.setToolTip("Invert (I)")
        self.invert_action.toggled.connect(self.set_invert)
        self.display_toolbar.addAction(self.invert_action)
        self.cine_action = QAction("Cine", self)
        self.cine_action.setCheckable(True)
        self.cine_action.setToolTip("Play the slices (C)")
        self.cine_action.toggled.connect(self.set_cine)
        self.display_toolbar.addAction(self.cine_action)
        self.hide_identifying_action = QAction("Anonymise", self)
        self.hide_identifying_action.setCheckable(True)
        self.hide_identifying_action.setToolTip("Hide identifying text (participant id, age, study date) in the corners")
        self.hide_identifying_action.toggled.connect(self.set_hide_identifying)
        self.display_toolbar.addAction(self.hide_identifying_action)
        self.display_toolbar.addSeparator()
        self.png_action = QAction("PNG…", self)
        self.png_action.setToolTip("Export the view (image, measurements, overlays) as PNG")
        self.png_action.triggered.connect(self.choose_png)
        self.display_toolbar.addAction(self.png_action)

        self.warning_label = QLabel()
        self.warning_label.setObjectName("VolumeWarnings")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("QLabel#VolumeWarnings { background: #fef3c7; color: #78350f;"
                                         " border-radius: 4px; padding: 4px 8px; }")
        self.warning_label.hide()
        left_layout.addWidget(self.warning_label)

        self.stack = QStackedWidget()
        self.image_view = DicomImageView()
        self.image_view.slice_step_requested.connect(self.step)
        self.image_view.window_changed.connect(lambda _c, _w: self._update_overlays())
        self.image_view.measurement_drawn.connect(self._on_measurement_drawn)
        self.image_view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.image_view.setFocusProxy(self)  # a click on the image gives the viewer its keys
        self.empty_state = EmptyState("No series open", "Double-click a series in the list to view it.")
        self.error_state = EmptyState("Cannot display", "")
        self.error_state.setObjectName("CannotDisplay")
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.image_view)
        self.stack.addWidget(self.error_state)
        left_layout.addWidget(self.stack, 1)
        slider_row = QHBoxLayout()
        slider_row.setSpacing(8)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimum(0)
        self.slider.valueChanged.connect(self.show_index)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slice_label = QLabel("")
        self.slice_label.setMinimumWidth(80)
        self.slice_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.slice_label)
        left_layout.addLayout(slider_row)
        self.splitter.addWidget(left)

        self.side_tabs = QTabWidget()
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.setUsesScrollButtons(False)
        self.clinical_side = DicomClinicalSide()
        self.side_tabs.addTab(self.clinical_side, "Clinical")
        measurements = QWidget()
        m_layout = QVBoxLayout(measurements)
        m_layout.setContentsMargins(0, 0, 0, 0)
        m_layout.setSpacing(8)
        self.measurement_tree = QTreeWidget()
        self.measurement_tree.setHeaderLabels(["Kind", "Slice", "Result"])
        self.measurement_tree.setRootIsDecorated(False)
        self.measurement_tree.setColumnWidth(0, 64)
        self.measurement_tree.setColumnWidth(1, 48)
        m_layout.addWidget(self.measurement_tree, 1)
        buttons = QHBoxLayout()
        self.delete_measurement_button = QPushButton("Delete")
        self.delete_measurement_button.clicked.connect(self.delete_selected_measurement)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(self.choose_csv)
        buttons.addWidget(self.delete_measurement_button)
        buttons.addStretch(1)
        buttons.addWidget(self.csv_button)
        m_layout.addLayout(buttons)
        self.side_tabs.addTab(measurements, "Measures")
        self.tag_tree = DicomTagTree()
        self.side_tabs.addTab(self.tag_tree, "Tags")
        self.splitter.addWidget(self.side_tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([700, 340])
        self._sized = False
        self._set_controls_enabled(False)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        if not self._sized and self.width() > 0:
            self._sized = True
            side = max(220, min(360, self.width() * 3 // 10))
            self.splitter.setSizes([self.width() - side, side])

    def _set_controls_enabled(self, enabled: bool) -> None:
        for action in self.toolbar.actions() + self.display_toolbar.actions():
            action.setEnabled(enabled)
        self.mode_combo.setEnabled(enabled and self.volume is not None)
        self.slider.setEnabled(enabled)

    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace

    @property
    def user_db_path(self) -> Path:
        if self._user_db_path is None:
            from kfexplorer.config import data_dir

            self._user_db_path = data_dir() / USER_DB_NAME
        return self._user_db_path

    # -- opening ------------------------------------------------------------------------------------------------
    def close_series(self) -> None:
        self._generation += 1
        self.set_cine(False)
        self.tags_timer.stop()
        for key in ("dicom-volume", "dicom-slice", "dicom-prefetch", "dicom-clinical", "dicom-measurements"):
            self.jobs.runner.cancel_key(key)
        self.entry, self.slices, self.decoded = None, [], {}
        self.volume, self.acquired, self.error_text = None, None, None
        self.volume_in_modality_units = True
        self.positions = {}
        self._current_tags_index = None
        self.measurements = []
        self.mode = "Acquired"
        self.mode_index = {}
        self.file_window = None
        self.image_view.clear_image()
        self.image_view.show_measurements([])
        self.measurement_tree.clear()
        self.warning_label.hide()
        self.stack.setCurrentWidget(self.empty_state)
        self._set_controls_enabled(False)

    def open_series(self, entry: SeriesEntry, instances: Sequence[SeriesInstance]) -> None:
        """Show `entry`: its first image as soon as it is decoded, then the volume from the decode pool."""
        self.close_series()
        generation = self._generation
        self.entry = entry
        self.slices = [SliceRef(instance, frame) for instance in instances
                       for frame in range(max(1, instance.number_of_frames))]
        if not self.slices:
            self.show_error("the series has no instances in the cache")
            return
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentText("Acquired")
        self.mode_combo.blockSignals(False)
        self.slider.blockSignals(True)
        self.slider.setMaximum(len(self.slices) - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.index = 0
        self.stack.setCurrentWidget(self.image_view)
        self._request_slice(0, first=True)
        single_frames = len(instances) > 1 and all(s.number_of_frames <= 1 for s in instances)
        multi_frame = len(instances) == 1 and instances[0].number_of_frames > 1
        if single_frames or multi_frame:
            self._load_volume(generation, [s.local_path for s in instances])
        self._load_clinical(entry.participant_id)
        self._load_measurements(generation, [s.sop_instance_uid for s in instances])

    def _request_slice(self, index: int, first: bool = False) -> None:
        generation = self._generation
        ref = self.slices[index]

        def decode(_progress: ProgressCallback, cancel: CancelToken) -> DecodedView | DisplayError:
            cancel.raise_if_cancelled()
            try:
                return decode_acquired_slice(index, ref)
            except DisplayError as error:  # the viewer's own state says it; no job-failure notice on top
                return error

        self.jobs.submit(decode, name="Decode slice", key="dicom-slice",
                         on_finished=lambda view: self._slice_decoded(generation, view, first, ref),
                         on_failed=lambda failure: self._slice_failed(generation, failure))

    def _reindexed(self, view: DecodedView, ref: SliceRef) -> DecodedView | None:
        """`view` at the current index of the slice it was decoded from (the volume may have reordered the slices
        or left some frames out meanwhile); None when that slice is no longer shown."""
        if view.index < len(self.slices) and self.slices[view.index] == ref:
            return view
        if ref not in self.slices:
            return None
        return replace(view, index=self.slices.index(ref))

    def _slice_decoded(self, generation: int, decoded: DecodedView | DisplayError, first: bool,
                       ref: SliceRef) -> None:
        if generation != self._generation:
            return
        if isinstance(decoded, DisplayError):
            self.show_error(str(decoded))
            return
        view = self._reindexed(decoded, ref)
        if view is not None:
            self._remember(view)
        if first:
            self.file_window = decoded.window
            self.monochrome1 = decoded.monochrome1
            self._reset_window(decoded.values)
            self._set_controls_enabled(True)
        if view is not None and self.mode == "Acquired" and view.index == self.index:
            self._show_current(reset_view=first)
        self._prefetch()

    def _slice_failed(self, generation: int, failure: JobFailure) -> None:
        if generation == self._generation:
            self.show_error(failure.message)

    def show_error(self, message: str) -> None:
        """The 'Cannot display: …' state (keeps the rest of the app working)."""
        text = message.removeprefix("DisplayError: ")
        while text.lower().startswith("cannot display: cannot display"):
            text = text[len("cannot display: "):]
        text = text if text.lower().startswith("cannot display") else f"cannot display: {text}"
        self.error_text = text[0].upper() + text[1:]
        self.error_state.title_label.setText("Cannot display this series")
        self.error_state.text_label.setText(self.error_text)
        self.error_state.text_label.setVisible(True)
        self.stack.setCurrentWidget(self.error_state)
        self.load_failed.emit(self.error_text)

    def _remember(self, view: DecodedView) -> None:
        self.decoded[view.index] = view
        if len(self.decoded) > DECODED_LIMIT:
            farthest = sorted(self.decoded, key=lambda i: abs(i - self.index))[DECODED_LIMIT:]
            for index in farthest:
                del self.decoded[index]

    def _prefetch(self) -> None:
        """Decode the acquired slices around the current one (until the volume makes that unnecessary)."""
        if self.acquired is not None or not self.slices:
            return
        wanted = [i for step in range(1, PREFETCH_RADIUS + 1) for i in (self.index + step, self.index - step)
                  if 0 <= i < len(self.slices) and i not in self.decoded]
        if not wanted:
            return
        generation = self._generation
        refs = [(i, self.slices[i]) for i in wanted]

        def prefetch(_progress: ProgressCallback, cancel: CancelToken) -> list[tuple[DecodedView, SliceRef]]:
            views = []
            for i, ref in refs:
                cancel.raise_if_cancelled()
                try:
                    views.append((decode_acquired_slice(i, ref, with_tags=False), ref))
                except DisplayError:
                    continue  # shown as "cannot display" if the user scrolls to it
            return views

        def store(views: list[tuple[DecodedView, SliceRef]]) -> None:
            if generation != self._generation:
                return
            for decoded, ref in views:
                view = self._reindexed(decoded, ref)
                if view is not None and view.index not in self.decoded:
                    self._remember(view)

        self.jobs.submit(prefetch, name="Prefetch slices", key="dicom-prefetch", on_finished=store,
                         on_failed=lambda _failure: None)

    def _load_volume(self, generation: int, paths: list[Path]) -> None:
        pool = decode_pool()

        def load(progress: ProgressCallback, cancel: CancelToken) -> tuple[Volume, np.ndarray, bool] | DisplayError:
            try:
                volume = pool.load_volume(paths, progress, cancel) if pool is not None else \
                    load_series(paths, progress, cancel)
            except DisplayError as error:  # shown above the image, not as a job failure
                return error
            row: list[float] | None
            column: list[float] | None
            if volume.acquired_row_cosines is not None and volume.acquired_column_cosines is not None:
                row, column = list(volume.acquired_row_cosines), list(volume.acquired_column_cosines)
            else:
                row, column = _orientation_of(volume.instance_paths[0])
            return volume, acquired_stack(volume, row, column), display_applies_rescale(volume)

        self.jobs.submit(load, name="Load series", key="dicom-volume", tracked=True,
                         on_finished=lambda volume: self._volume_ready(generation, volume),
                         on_failed=lambda failure: self._volume_failed(generation, failure))

    def _volume_ready(self, generation: int, loaded: tuple[Volume, np.ndarray, bool] | DisplayError) -> None:
        if generation != self._generation:
            return
        if isinstance(loaded, FrameByFrame):
            return  # a multi-frame object without geometry: frame by frame, as it is already shown
        if isinstance(loaded, DisplayError):
            self.warning_label.setText(f"⚠ Volume views unavailable: {loaded}")
            self.warning_label.show()
            return
        volume, self.acquired, self.volume_in_modality_units = loaded
        self.volume = volume
        first = self.decoded.get(0)
        if volume.frame_numbers:  # one multi-frame object: its kept frames, in order along the normal
            by_frame = {(str(ref.instance.local_path), ref.frame): ref for ref in self.slices}
            ordered = [by_frame.get((str(path), frame))
                       for path, frame in zip(volume.instance_paths, volume.frame_numbers, strict=True)]
        else:
            by_path = {str(ref.instance.local_path): ref for ref in self.slices}
            ordered = [by_path.get(str(path)) for path in volume.instance_paths]
        kept = [ref for ref in ordered if ref is not None]
        if len(kept) == len(ordered) and (len(kept) == len(self.slices) or volume.frame_numbers):
            current = self.slices[self.index]
            self.slices = kept  # a multi-frame object's left-out frames (other stacks / times) go
            self.decoded = {}
            self.positions = {}
            self._current_tags_index = None
            self.index = kept.index(current) if current in kept else 0
            self.slider.setMaximum(max(0, len(kept) - 1))
            if first is not None:
                self.decoded[self.index] = DecodedView(self.index, self._volume_values(self.acquired[self.index]),
                                                       first.spacing, first.window, first.monochrome1, "")
        if self.acquired.shape[0] != len(self.slices):
            self.acquired = None
        if volume.warnings:
            self.warning_label.setText("⚠ " + " · ".join(volume.warnings))
            self.warning_label.show()
        if self.file_window is None and volume.window is not None:
            self.file_window = volume.window
        if first is None:  # the volume came before the first slice: it shows the acquired slices itself
            self._reset_window(self._volume_values(self.acquired[self.index] if self.acquired is not None
                                                   else volume.voxels[0]))
            self._set_controls_enabled(True)
        self.mode_combo.setEnabled(True)
        self.slider.blockSignals(True)
        self.slider.setValue(self.index)
        self.slider.blockSignals(False)
        self._show_current()
        self.volume_loaded.emit()

    def _volume_failed(self, generation: int, failure: JobFailure) -> None:
        if generation != self._generation:
            return
        # The acquired slices still display one by one; say why the volume views are not there.
        self.warning_label.setText(f"⚠ Volume views unavailable: {failure.message}")
        self.warning_label.show()

    def _load_clinical(self, participant_id: str | None) -> None:
        workspace = self.workspace
        if participant_id is None or workspace is None:
            self.clinical_side.clear("No participant")
            return
        self.clinical_side.clear(f"{participant_id} · loading…")

        def read(_progress: ProgressCallback, _cancel: CancelToken) -> ClinicalContext:
            cursor = workspace.cursor()
            return ClinicalContext(participant_id, load_participant_detail(cursor, participant_id),
                                   tuple(notable_variants(cursor, participant_id)))

        self.jobs.submit(read, name="Participant beside images", key="dicom-clinical",
                         on_finished=self._clinical_ready)

    def _clinical_ready(self, context: ClinicalContext) -> None:
        if self.entry is not None and self.entry.participant_id == context.participant_id:
            self.clinical_side.show_context(context)

    def _load_measurements(self, generation: int, sop_uids: list[str]) -> None:
        path = self.user_db_path

        def read(_progress: ProgressCallback, _cancel: CancelToken) -> list[Measurement]:
            store = MeasurementStore(path)
            try:
                return store.for_instances(sop_uids)
            finally:
                store.close()

        def show(found: list[Measurement]) -> None:
            if generation == self._generation:
                self.measurements = found
                self._refresh_measurements()

        self.jobs.submit(read, name="Read measurements", key="dicom-measurements", on_finished=show)

    # -- showing ------------------------------------------------------------------------------------------------
    def slice_count(self) -> int:
        if self.mode == "Acquired" or self.volume is None:
            return len(self.slices)
        z, y, x = self.volume.shape
        return {"Axial": z, "Coronal": y, "Sagittal": x}[self.mode]

    def _volume_values(self, image: np.ndarray) -> np.ndarray:
        """A view of the volume in the units the viewer shows (see `volume_in_modality_units`)."""
        if self.volume is None or not self.volume_in_modality_units:
            return image
        return self.volume.modality_view(image)

    def _current_shown(self) -> ShownSlice | None:
        if self.mode != "Acquired" and self.volume is not None:
            plane = {"Axial": self.volume.axial, "Coronal": self.volume.coronal,
                     "Sagittal": self.volume.sagittal}[self.mode]
            image, spacing = plane(self.index)
            return ShownSlice(self._volume_values(image), (float(spacing[0]), float(spacing[1])))
        view = self.decoded.get(self.index)
        if view is not None:
            return ShownSlice(view.values, view.spacing)
        if self.acquired is not None and self.volume is not None:
            return ShownSlice(self._volume_values(self.acquired[self.index]), acquired_spacing(self.volume))
        return None

    def _show_current(self, reset_view: bool = False) -> None:
        shown = self._current_shown()
        if shown is None:
            self._request_slice(self.index)
            return
        self.stack.setCurrentWidget(self.image_view)
        self.image_view.set_invert(self.user_invert != (self.monochrome1 and not shown.is_colour), render=False)
        self.image_view.show_slice(shown, reset_view=reset_view)
        self._draw_measurements()
        self._update_overlays()
        self.tags_timer.start()  # the header (tags, position) is read once scrolling pauses
        self.slice_shown.emit(self.index)

    def show_index(self, index: int) -> None:
        """Show slice `index` of the current view (clamped)."""
        count = self.slice_count()
        if count == 0:
            return
        index = max(0, min(count - 1, int(index)))
        self.index = index
        self.mode_index[self.mode] = index
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self._show_current()
        if self.mode == "Acquired":
            self._prefetch()

    def step(self, delta: int) -> None:
        self.show_index(self.index + delta)

    def set_mode(self, mode: str) -> None:
        """Acquired, or (once the volume is loaded) Axial / Coronal / Sagittal."""
        if mode not in VIEW_MODES or (mode != "Acquired" and self.volume is None):
            return
        self.mode_index[self.mode] = self.index
        self.mode = mode
        if self.mode_combo.currentText() != mode:
            self.mode_combo.blockSignals(True)
            self.mode_combo.setCurrentText(mode)
            self.mode_combo.blockSignals(False)
        count = self.slice_count()
        self.index = self.mode_index.get(mode, count // 2 if mode != "Acquired" else 0)
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(0, count - 1))
        self.slider.setValue(self.index)
        self.slider.blockSignals(False)
        self._show_current(reset_view=True)

    def _update_overlays(self) -> None:
        entry = self.entry
        view = self.image_view
        if entry is None:
            return
        decoded = self.decoded.get(self.index) if self.mode == "Acquired" else None
        position = decoded.position if decoded is not None else (
            self.positions.get(self.index, "") if self.mode == "Acquired" else "")
        view.set_overlay("top_left", [(entry.participant_id or "", True), (format_age(entry.age_at_scan_days), True),
                                      (entry.study_date or "", True), (entry.study_description or "", False)])
        view.set_overlay("top_right", [(entry.series_description or "", False),
                                       (" · ".join(p for p in (entry.modality, entry.body_part) if p), False),
                                       (f"{self.mode}", False)])
        colour = view.shown is not None and view.shown.is_colour
        window_text = "Colour (no window)" if colour else f"W {view.window_width:.0f}  L {view.window_center:.0f}"
        view.set_overlay("bottom_left", [(window_text, False),
                                         ("Inverted" if self.user_invert else "", False)])
        view.set_overlay("bottom_right", [(f"Slice {self.index + 1} / {self.slice_count()}", False),
                                          (position, False)])
        self.slice_label.setText(f"{self.index + 1} / {self.slice_count()}")

    def _load_tags_if_needed(self) -> None:
        if not self.slices or self.index >= len(self.slices):
            return
        if self.mode != "Acquired" or self._current_tags_index == (self._generation, self.index):
            return
        view = self.decoded.get(self.index)
        if view is not None and view.tags:
            self.tag_tree.set_rows(view.tags)
            self._current_tags_index = (self._generation, self.index)
            return
        generation, index = self._generation, self.index
        ref = self.slices[index]

        def read(_progress: ProgressCallback, _cancel: CancelToken) -> tuple[list[TagRow], str]:
            from pydicom import dcmread

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = dcmread(ref.instance.local_path, stop_before_pixels=True)
                    return tag_rows(ds), _position_text(ds, ref.frame)
            except Exception as error:  # noqa: BLE001 - an unreadable header shows as one row
                return [TagRow("", "unreadable", "", f"{type(error).__name__}: {str(error)[:120]}")], ""

        def show(found: tuple[list[TagRow], str]) -> None:
            if generation == self._generation and index == self.index:
                self.tag_tree.set_rows(found[0])
                self.positions[index] = found[1]
                self._current_tags_index = (generation, index)
                self._update_overlays()

        self.jobs.submit(read, name="Read tags", key="dicom-tags", on_finished=show,
                         on_failed=lambda _failure: None)

    # -- window / level -------------------------------------------------------------------------------------------
    def _reset_window(self, values: np.ndarray) -> None:
        if values.ndim == 3:
            return
        if self.file_window is not None:
            self.image_view.set_window(*self.file_window)
        else:
            low, high = float(values.min()), float(values.max())
            self.image_view.set_window((low + high) / 2.0, max(1.0, high - low))

    def apply_preset(self, name: str) -> None:
        center, width = PRESETS[name]
        self.image_view.set_window(center, width)

    def apply_file_window(self) -> None:
        shown = self._current_shown()
        if shown is not None:
            self._reset_window(shown.values)

    def set_invert(self, invert: bool) -> None:
        self.user_invert = bool(invert)
        if self.invert_action.isChecked() != self.user_invert:
            self.invert_action.setChecked(self.user_invert)
        if self.entry is not None:
            self._show_current()

    def reset(self) -> None:
        """Space: zoom and pan to fit, and the file's window."""
        self.apply_file_window()
        self.image_view.reset_view()

    def set_cine(self, playing: bool) -> None:
        playing = bool(playing) and self.slice_count() > 1
        if self.cine_action.isChecked() != playing:
            self.cine_action.blockSignals(True)
            self.cine_action.setChecked(playing)
            self.cine_action.blockSignals(False)
        if playing:
            self.cine_timer.start()
        else:
            self.cine_timer.stop()

    def _cine_step(self) -> None:
        count = self.slice_count()
        if count:
            self.show_index((self.index + 1) % count)

    def set_hide_identifying(self, hide: bool) -> None:
        if self.hide_identifying_action.isChecked() != hide:
            self.hide_identifying_action.setChecked(hide)
        self.image_view.set_hide_identifying(hide)

    # -- keys -----------------------------------------------------------------------------------------------------
    def handle_key(self, key: int) -> bool:
        """The viewer keys of UI.md; True when `key` was one."""
        if key in PRESET_KEYS:
            self.apply_preset(PRESET_KEYS[key])
        elif key == Qt.Key.Key_0:
            self.apply_file_window()
        elif key == Qt.Key.Key_I:
            self.set_invert(not self.user_invert)
        elif key == Qt.Key.Key_C:
            self.set_cine(not self.cine_timer.isActive())
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.image_view.zoom(1.25)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.image_view.zoom(0.8)
        elif key == Qt.Key.Key_Space:
            self.reset()
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Left, Qt.Key.Key_PageUp):
            self.step(-1)
        elif key in (Qt.Key.Key_Down, Qt.Key.Key_Right, Qt.Key.Key_PageDown):
            self.step(1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.image_view.finish_measurement()
        elif key == Qt.Key.Key_Escape and self.image_view.tool != "pan":
            self.image_view.set_tool(self.image_view.tool)
        else:
            return False
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt naming
        if self.entry is not None and self.handle_key(int(event.key())):
            event.accept()
            return
        super().keyPressEvent(event)

    # -- measurements ---------------------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.image_view.set_tool(tool)
        action = self.tool_actions.get(tool)
        if action is not None and not action.isChecked():
            action.setChecked(True)

    def _on_measurement_drawn(self, kind: str, points: list[tuple[float, float]]) -> None:
        self.add_measurement(kind, points)

    def add_measurement(self, kind: str, points: Sequence[tuple[float, float]]) -> Measurement | None:
        """Measure on the current acquired slice and save it in the user database (in a job)."""
        if self.mode != "Acquired":
            self.warning_label.setText("⚠ Measurements are made on the acquired slices (switch the view to "
                                       "Acquired)")
            self.warning_label.show()
            return None
        shown = self._current_shown()
        if shown is None or shown.is_colour and kind in ("ellipse", "polygon"):
            return None
        try:
            result = measure(kind, points, shown.values, shown.spacing)
        except MeasurementError as error:
            self.warning_label.setText(f"⚠ {error}")
            self.warning_label.show()
            return None
        ref = self.slices[self.index]
        measurement = Measurement(ref.instance.sop_instance_uid, kind, tuple((float(x), float(y)) for x, y in points),
                                  result, ref.frame)
        path = self.user_db_path
        generation = self._generation

        def save(_progress: ProgressCallback, _cancel: CancelToken) -> Measurement:
            store = MeasurementStore(path)
            try:
                return store.save(measurement)
            finally:
                store.close()

        def saved(stored: Measurement) -> None:
            if generation == self._generation:
                self.measurements.append(stored)
                self._refresh_measurements()
            self.measurement_saved.emit(stored)

        self.jobs.submit(save, name="Save measurement", on_finished=saved)
        return measurement

    def _slice_number_of(self, measurement: Measurement) -> int | None:
        for number, ref in enumerate(self.slices):
            if ref.instance.sop_instance_uid == measurement.sop_instance_uid and ref.frame == measurement.frame:
                return number
        return None

    def _refresh_measurements(self) -> None:
        self.measurement_tree.clear()
        for measurement in self.measurements:
            number = self._slice_number_of(measurement)
            item = QTreeWidgetItem([measurement.kind, "" if number is None else str(number + 1),
                                    measurement.summary()])
            item.setData(0, Qt.ItemDataRole.UserRole, measurement.id)
            item.setToolTip(2, measurement.summary())
            self.measurement_tree.addTopLevelItem(item)
        self._draw_measurements()

    def _draw_measurements(self) -> None:
        if self.mode != "Acquired" or not self.slices:
            self.image_view.show_measurements([])
            return
        ref = self.slices[self.index]
        shapes = [(m.kind, m.points,
                   m.summary() if m.kind in ("length", "angle") else f"mean {m.result['mean']:.1f}")
                  for m in self.measurements
                  if m.sop_instance_uid == ref.instance.sop_instance_uid and m.frame == ref.frame]
        self.image_view.show_measurements(shapes)

    def delete_selected_measurement(self) -> None:
        item = self.measurement_tree.currentItem()
        if item is None:
            return
        measurement_id = int(item.data(0, Qt.ItemDataRole.UserRole))
        path = self.user_db_path

        def delete(_progress: ProgressCallback, _cancel: CancelToken) -> int:
            store = MeasurementStore(path)
            try:
                store.delete(measurement_id)
            finally:
                store.close()
            return measurement_id

        def deleted(gone: int) -> None:
            self.measurements = [m for m in self.measurements if m.id != gone]
            self._refresh_measurements()

        self.jobs.submit(delete, name="Delete measurement", on_finished=deleted)

    # -- exports --------------------------------------------------------------------------------------------------
    def export_png(self, target: Path) -> Path:
        """The image view as shown (image, measurements, overlays) as a PNG."""
        if not self.image_view.grab().save(str(target), "PNG"):
            raise OSError(f"could not write {target}")
        return Path(target)

    def export_csv(self, target: Path) -> Path:
        return export_measurements_csv(self.measurements, Path(target))

    def choose_png(self) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "Export the view as PNG", "view.png", "PNG (*.png)")
        if target:
            self.export_png(Path(target))

    def choose_csv(self) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "Export measurements as CSV", "measurements.csv",
                                                "CSV (*.csv)")
        if target:
            self.export_csv(Path(target))


def preview(cache_dir: Path | None = None, exec_loop: bool = True) -> QWidget:
    """Open the viewer alone on the first series of `cache_dir`."""
    from kfexplorer.services.imaging_catalog import list_series, series_instances
    from kfexplorer.ui.preview_host import ensure_application, open_preview_workspace, show_preview

    ensure_application()
    viewer = DicomViewer(QtJobRunner())
    workspace = open_preview_workspace(cache_dir)
    viewer.set_workspace(workspace)
    if workspace is not None and cache_dir is not None:
        entries = list_series(workspace.cursor())
        if entries:
            viewer.open_series(entries[0], series_instances(workspace.cursor(), Path(cache_dir),
                                                            entries[0].series_instance_uid))
    return show_preview(viewer, "DICOM viewer", exec_loop, size=(1280, 800))


if __name__ == "__main__":
    preview(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
