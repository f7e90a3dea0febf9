"""The DICOM viewer on a small demo release with imaging. References are computed here from the raw release's
files with pydicom and the standard's formulas (PS3.3 C.11.2.1.2 linear window; slices ordered by
ImagePositionPatient along the slice normal), never by the code under test."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as pa_dataset
import pytest
from pydicom import dcmread
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kfexplorer.demo.release import generate_release
from kfexplorer.services.imaging_catalog import SeriesEntry, SeriesInstance, list_series, series_instances
from kfexplorer.services.measurements import MeasurementStore
from kfexplorer.services.workspace import Workspace
from kfexplorer.sync.engine import sync_release
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.panels.dicom_viewer import DicomViewer
from kfexplorer.ui.widgets.dicom_shortcuts_sheet import ShortcutsSheet

TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def imaging_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dicom-viewer")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=150, occurrences=5_000, seed=11, imaging=True, force=True)
    sync_release(str(release), cache)
    return release, cache


# -- oracles from the raw release -------------------------------------------------------------------------------
def raw_series_files(release: Path, series_uid: str) -> list[Path]:
    """The series' files ordered by ImagePositionPatient projected on the slice normal (row × column cosines)."""
    files = list((release / "imaging").glob(f"*/*/*/{series_uid}/*.dcm"))
    keyed = []
    for path in files:
        ds = dcmread(path, stop_before_pixels=True)
        orientation = [float(v) for v in ds.ImageOrientationPatient]
        normal = np.cross(orientation[:3], orientation[3:])
        keyed.append((float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient])), path))
    return [path for _, path in sorted(keyed)]


def raw_values(path: Path) -> np.ndarray:
    ds = dcmread(path)
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
    return ds.pixel_array.astype(np.float64) * slope + intercept


def linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1, onto 0–255, rounded to nearest."""
    low = center - 0.5 - (width - 1) / 2
    high = center - 0.5 + (width - 1) / 2
    y = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    y = np.where(values <= low, 0.0, np.where(values > high, 255.0, y))
    return np.floor(y + 0.5).astype(np.uint8)


def file_window(path: Path) -> tuple[float, float]:
    ds = dcmread(path, stop_before_pixels=True)
    return float(ds.WindowCenter), float(ds.WindowWidth)


def assert_same_image(shown: np.ndarray | None, expected: np.ndarray) -> None:
    assert shown is not None and shown.shape == expected.shape
    difference = np.abs(shown.astype(np.int16) - expected.astype(np.int16))
    assert difference.max() <= 1  # float32 vs float64 at a rounding half, at most
    assert (difference != 0).mean() < 0.001


# -- fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture
def workspace(imaging_release: tuple[Path, Path]) -> Iterator[Workspace]:
    ws = Workspace.open(imaging_release[1])
    yield ws
    ws.close()


@pytest.fixture
def viewer(qtbot: QtBot, tmp_path: Path, workspace: Workspace) -> Iterator[DicomViewer]:
    jobs = QtJobRunner()
    widget = DicomViewer(jobs, user_db_path=tmp_path / "user.sqlite3")
    widget.set_workspace(workspace)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    yield widget
    widget.close_series()
    jobs.shutdown(timeout=10.0)


def series_where(workspace: Workspace, predicate: object) -> tuple[SeriesEntry, list[SeriesInstance]]:
    entries = [e for e in list_series(workspace.cursor()) if predicate(e)]  # type: ignore[operator]
    assert entries
    entry = entries[0]
    return entry, series_instances(workspace.cursor(), workspace.cache_dir, entry.series_instance_uid)


def open_loaded(qtbot: QtBot, viewer: DicomViewer, entry: SeriesEntry, instances: list[SeriesInstance]) -> None:
    with qtbot.waitSignal(viewer.volume_loaded, timeout=TIMEOUT_MS):
        viewer.open_series(entry, instances)
    qtbot.waitUntil(lambda: viewer.image_view.displayed_image() is not None, timeout=TIMEOUT_MS)


def is_axial_mr(entry: SeriesEntry) -> bool:
    return entry.modality == "MR" and "AX" in (entry.series_description or "")


def is_ct(entry: SeriesEntry) -> bool:
    return entry.modality == "CT" and "AXIAL" in (entry.series_description or "")


# -- tests ------------------------------------------------------------------------------------------------------
def test_first_slice_shows_before_the_volume_then_scrolling_shows_each_instance(
        qtbot: QtBot, viewer: DicomViewer, workspace: Workspace, imaging_release: tuple[Path, Path]) -> None:
    release = imaging_release[0]
    entry, instances = series_where(workspace, is_axial_mr)
    viewer.open_series(entry, instances)
    qtbot.waitUntil(lambda: viewer.image_view.displayed_image() is not None, timeout=TIMEOUT_MS)
    assert viewer.image_view.image_item.levels is not None
    assert list(np.asarray(viewer.image_view.image_item.levels)) == [0, 255]  # explicit levels
    qtbot.waitUntil(lambda: viewer.volume is not None, timeout=TIMEOUT_MS)
    ordered = raw_series_files(release, entry.series_instance_uid)
    assert len(viewer.slices) == len(ordered)
    for _ in range(5):
        qtbot.keyClick(viewer, Qt.Key.Key_Down)
    assert viewer.index == 5
    expected = linear_window(raw_values(ordered[5]), *file_window(ordered[0]))
    assert_same_image(viewer.image_view.displayed_image(), expected)
    assert viewer.image_view.overlay_text("bottom_right").startswith(f"Slice 6 / {len(ordered)}")
    viewer.step(-2)  # the wheel and the arrows both step
    assert_same_image(viewer.image_view.displayed_image(),
                      linear_window(raw_values(ordered[3]), *file_window(ordered[0])))


def _drag(qtbot: QtBot, viewer: DicomViewer, button: Qt.MouseButton, dx: int, dy: int) -> None:
    """A real drag through the scene (pyqtgraph drops moves closer than 10 ms apart, so they are spaced)."""
    viewport = viewer.image_view.viewport()
    start = QPointF(viewport.width() / 2, viewport.height() / 2)
    press = QMouseEvent(QEvent.Type.MouseButtonPress, start, start, button, button, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, press)
    for step in range(1, 6):
        point = QPointF(start.x() + dx * step / 5, start.y() + dy * step / 5)
        move = QMouseEvent(QEvent.Type.MouseMove, point, viewport.mapToGlobal(point), Qt.MouseButton.NoButton,
                           button, Qt.KeyboardModifier.NoModifier)
        qtbot.wait(15)
        QApplication.sendEvent(viewport, move)
    end = QPointF(start.x() + dx, start.y() + dy)
    release = QMouseEvent(QEvent.Type.MouseButtonRelease, end, viewport.mapToGlobal(end), button,
                          Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, release)


def test_window_level_drag_presets_invert_and_file_window(qtbot: QtBot, viewer: DicomViewer,
                                                          workspace: Workspace,
                                                          imaging_release: tuple[Path, Path]) -> None:
    release = imaging_release[0]
    entry, instances = series_where(workspace, is_ct)
    open_loaded(qtbot, viewer, entry, instances)
    ordered = raw_series_files(release, entry.series_instance_uid)
    values = raw_values(ordered[viewer.index])
    own = file_window(ordered[0])
    assert (viewer.image_view.window_center, viewer.image_view.window_width) == own
    before = viewer.image_view.displayed_image()
    assert before is not None
    for button in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
        center, width = viewer.image_view.window_center, viewer.image_view.window_width
        _drag(qtbot, viewer, button, 60, 40)
        assert viewer.image_view.window_width > width and viewer.image_view.window_center > center
    dragged = viewer.image_view.displayed_image()
    assert dragged is not None and not np.array_equal(dragged, before)
    assert_same_image(dragged, linear_window(values, viewer.image_view.window_center,
                                             viewer.image_view.window_width))

    qtbot.keyClick(viewer, Qt.Key.Key_1)
    assert (viewer.image_view.window_center, viewer.image_view.window_width) == (40.0, 80.0)  # brain
    assert_same_image(viewer.image_view.displayed_image(), linear_window(values, 40.0, 80.0))
    qtbot.keyClick(viewer, Qt.Key.Key_3)
    assert (viewer.image_view.window_center, viewer.image_view.window_width) == (400.0, 1800.0)  # bone
    qtbot.keyClick(viewer, Qt.Key.Key_I)
    assert_same_image(viewer.image_view.displayed_image(), 255 - linear_window(values, 400.0, 1800.0))
    qtbot.keyClick(viewer, Qt.Key.Key_I)
    qtbot.keyClick(viewer, Qt.Key.Key_0)
    assert (viewer.image_view.window_center, viewer.image_view.window_width) == own
    assert "W 1800" not in viewer.image_view.overlay_text("bottom_left")


def test_length_measurement_in_mm_is_saved_and_read_back(qtbot: QtBot, viewer: DicomViewer,
                                                         workspace: Workspace, tmp_path: Path,
                                                         imaging_release: tuple[Path, Path]) -> None:
    release = imaging_release[0]
    entry, instances = series_where(workspace, is_axial_mr)
    open_loaded(qtbot, viewer, entry, instances)
    ordered = raw_series_files(release, entry.series_instance_uid)
    ds = dcmread(ordered[viewer.index], stop_before_pixels=True)
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
    viewer.set_tool("length")
    with qtbot.waitSignal(viewer.measurement_saved, timeout=TIMEOUT_MS) as saved:
        for point in ((10.0, 12.0), (40.0, 52.0)):
            viewer.image_view.tool_click(viewer.image_view.to_view(point), False)
    expected = math.hypot(30 * col_mm, 40 * row_mm)
    assert saved.args[0].result["length_mm"] == pytest.approx(expected, rel=1e-9)

    store = MeasurementStore(tmp_path / "user.sqlite3")
    try:
        back = store.for_instances([str(ds.SOPInstanceUID)])
    finally:
        store.close()
    assert [m.kind for m in back] == ["length"]
    assert np.allclose(back[0].points, [(10.0, 12.0), (40.0, 52.0)])
    assert back[0].result["length_mm"] == pytest.approx(expected, rel=1e-9)
    assert viewer.measurement_tree.topLevelItemCount() == 1

    target = viewer.export_csv(tmp_path / "measurements.csv")
    with target.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["sop_instance_uid"] == str(ds.SOPInstanceUID)
    assert float(rows[0]["length_mm"]) == pytest.approx(expected, rel=1e-5)

    viewer.measurement_tree.setCurrentItem(viewer.measurement_tree.topLevelItem(0))
    viewer.delete_selected_measurement()
    qtbot.waitUntil(lambda: viewer.measurement_tree.topLevelItemCount() == 0, timeout=TIMEOUT_MS)
    store = MeasurementStore(tmp_path / "user.sqlite3")
    try:
        assert store.for_instances([str(ds.SOPInstanceUID)]) == []
    finally:
        store.close()


def test_roi_statistics_equal_numpy_over_the_mask(qtbot: QtBot, viewer: DicomViewer, workspace: Workspace,
                                                  imaging_release: tuple[Path, Path]) -> None:
    release = imaging_release[0]
    entry, instances = series_where(workspace, is_ct)
    open_loaded(qtbot, viewer, entry, instances)
    viewer.show_index(len(viewer.slices) // 2)
    ordered = raw_series_files(release, entry.series_instance_uid)
    path = ordered[viewer.index]
    values = raw_values(path)
    row_mm, col_mm = (float(v) for v in dcmread(path, stop_before_pixels=True).PixelSpacing)

    # a polygon on pixel edges: exactly rows 40..70, columns 30..90
    rectangle = [(29.5, 39.5), (90.5, 39.5), (90.5, 70.5), (29.5, 70.5)]
    with qtbot.waitSignal(viewer.measurement_saved, timeout=TIMEOUT_MS) as saved:
        viewer.add_measurement("polygon", rectangle)
    inside = values[40:71, 30:91]
    result = saved.args[0].result
    assert result["mean"] == pytest.approx(inside.mean())
    assert result["sd"] == pytest.approx(inside.std())
    assert (result["min"], result["max"]) == (inside.min(), inside.max())
    assert result["area_mm2"] == pytest.approx(inside.size * row_mm * col_mm)

    # an angle, in millimetre space
    with qtbot.waitSignal(viewer.measurement_saved, timeout=TIMEOUT_MS) as saved:
        viewer.add_measurement("angle", [(30.0, 30.0), (64.0, 64.0), (100.0, 40.0)])
    a = np.array([(30 - 64) * col_mm, (30 - 64) * row_mm])
    b = np.array([(100 - 64) * col_mm, (40 - 64) * row_mm])
    expected_angle = math.degrees(math.acos(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    assert saved.args[0].result["angle_deg"] == pytest.approx(expected_angle)

    # an ellipse from two corners: pixel centres inside ((x-cx)/rx)² + ((y-cy)/ry)² <= 1
    with qtbot.waitSignal(viewer.measurement_saved, timeout=TIMEOUT_MS) as saved:
        viewer.add_measurement("ellipse", [(50.0, 40.0), (90.0, 60.0)])
    rows, columns = np.indices(values.shape)
    mask = ((columns - 70.0) / 20.0) ** 2 + ((rows - 50.0) / 10.0) ** 2 <= 1.0
    result = saved.args[0].result
    assert result["pixels"] == mask.sum()
    assert result["mean"] == pytest.approx(values[mask].mean())
    assert result["sd"] == pytest.approx(values[mask].std())
    assert (result["min"], result["max"]) == (values[mask].min(), values[mask].max())


def test_mpr_views_have_the_aspect_of_the_spacing_and_show_warnings(qtbot: QtBot, viewer: DicomViewer,
                                                                    workspace: Workspace,
                                                                    imaging_release: tuple[Path, Path]) -> None:
    release = imaging_release[0]
    entry, instances = series_where(workspace, is_axial_mr)
    open_loaded(qtbot, viewer, entry, instances)
    ordered = raw_series_files(release, entry.series_instance_uid)
    first = dcmread(ordered[0], stop_before_pixels=True)
    second = dcmread(ordered[1], stop_before_pixels=True)
    z_mm = abs(float(second.ImagePositionPatient[2]) - float(first.ImagePositionPatient[2]))
    col_mm = float(first.PixelSpacing[1])
    viewer.set_mode("Coronal")
    shown = viewer.image_view.shown
    assert shown is not None and shown.values.shape == (len(ordered), int(first.Columns))
    rect = viewer.image_view.image_item.mapRectToParent(viewer.image_view.image_item.boundingRect())
    assert rect.height() == pytest.approx(len(ordered) * z_mm, rel=1e-6)
    assert rect.width() == pytest.approx(int(first.Columns) * col_mm, rel=1e-6)
    assert viewer.slice_count() == int(first.Rows)

    # a volume warning (a missing slice) shows above the image
    gappy = [i for n, i in enumerate(instances) if n != len(instances) // 2]
    with qtbot.waitSignal(viewer.volume_loaded, timeout=TIMEOUT_MS):
        viewer.open_series(entry, gappy)
    assert viewer.warning_label.isVisible()
    assert "missing" in viewer.warning_label.text()


def test_a_corrupt_file_shows_cannot_display(qtbot: QtBot, viewer: DicomViewer, workspace: Workspace,
                                             tmp_path: Path) -> None:
    entry, instances = series_where(workspace, is_axial_mr)
    original = instances[0].local_path.read_bytes()
    corrupt = tmp_path / "corrupt.dcm"
    corrupt.write_bytes(original[: len(original) // 3])  # pixel data cut short
    broken = [SeriesInstance("2.25.1", "imaging/x/corrupt.dcm", corrupt, 1, 1)]
    with qtbot.waitSignal(viewer.load_failed, timeout=TIMEOUT_MS) as failed:
        viewer.open_series(entry, broken)
    assert failed.args[0].startswith("Cannot display")
    assert viewer.stack.currentWidget() is viewer.error_state
    assert viewer.error_state.text_label.text().startswith("Cannot display")
    # the viewer still works afterwards
    viewer.open_series(entry, instances)
    qtbot.waitUntil(lambda: viewer.stack.currentWidget() is viewer.image_view
                    and viewer.image_view.displayed_image() is not None, timeout=TIMEOUT_MS)


def test_overlays_hide_identifying_text_tags_search_png_and_genomics(
        qtbot: QtBot, viewer: DicomViewer, workspace: Workspace, tmp_path: Path,
        imaging_release: tuple[Path, Path]) -> None:
    release = imaging_release[0]
    entry, instances = series_where(workspace, is_ct)
    open_loaded(qtbot, viewer, entry, instances)
    ds = dcmread(raw_series_files(release, entry.series_instance_uid)[0], stop_before_pixels=True)
    participant = str(ds.PatientID)
    assert participant in viewer.image_view.overlay_text("top_left")
    assert str(ds.SeriesDescription) in viewer.image_view.overlay_text("top_right")
    viewer.hide_identifying_action.trigger()
    assert participant not in viewer.image_view.overlay_text("top_left")
    assert "Age" not in viewer.image_view.overlay_text("top_left")
    assert str(ds.SeriesDescription) in viewer.image_view.overlay_text("top_right")  # not identifying

    qtbot.waitUntil(lambda: viewer.tag_tree.tree.topLevelItemCount() > 10, timeout=TIMEOUT_MS)
    viewer.tag_tree.search.setText("PatientAge")
    assert viewer.tag_tree.visible_keywords() == ["PatientAge"]
    viewer.tag_tree.search.setText("")
    assert len(viewer.tag_tree.visible_keywords()) > 10

    target = viewer.export_png(tmp_path / "view.png")
    from PIL import Image

    with Image.open(target) as image:
        assert image.size[0] >= viewer.image_view.width() and image.getextrema() != ((0, 0),) * 3

    # beside the images: the participant's notable variants, by the raw release's Parquet
    occurrences = pa_dataset.dataset(release / "variants" / "occurrences", format="parquet", partitioning="hive")
    carried = occurrences.to_table(columns=["locus_id"], filter=(pc.field("participant_id") == participant)
                                   & (pc.field("has_alt") == True)).column("locus_id").to_pylist()  # noqa: E712
    variants = pa_dataset.dataset(release / "variants" / "variants", format="parquet", partitioning="hive")
    table = variants.to_table(columns=["locus_id", "max_impact", "clinvar_sig"])
    notable = {row["locus_id"] for row in table.to_pylist() if row["locus_id"] in set(carried)
               and (row["max_impact"] == "HIGH" or set(row["clinvar_sig"] or ())
                    & {"Pathogenic", "Likely_pathogenic"})}
    qtbot.waitUntil(lambda: "Notable variants" in viewer.clinical_side.sections, timeout=TIMEOUT_MS)
    assert len(viewer.clinical_side.section_rows("Notable variants")) == len(notable)


def test_keys_zoom_reset_cine_and_the_shortcuts_sheet(qtbot: QtBot, viewer: DicomViewer,
                                                      workspace: Workspace) -> None:
    entry, instances = series_where(workspace, is_axial_mr)
    open_loaded(qtbot, viewer, entry, instances)
    fit = viewer.image_view.view_box.viewRange()
    qtbot.keyClick(viewer, Qt.Key.Key_Plus)
    zoomed = viewer.image_view.view_box.viewRange()
    assert zoomed[0][1] - zoomed[0][0] < fit[0][1] - fit[0][0]
    qtbot.keyClick(viewer, Qt.Key.Key_Space)
    assert viewer.image_view.view_box.viewRange()[0] == pytest.approx(fit[0])
    start = viewer.index
    qtbot.keyClick(viewer, Qt.Key.Key_C)
    assert viewer.cine_timer.isActive()
    qtbot.waitUntil(lambda: viewer.index != start, timeout=TIMEOUT_MS)
    qtbot.keyClick(viewer, Qt.Key.Key_C)
    assert not viewer.cine_timer.isActive()

    sheet = ShortcutsSheet()
    qtbot.addWidget(sheet)
    keys = " ".join(k for k, _ in sheet.rows())
    for key in ("Ctrl+K", "Ctrl+Z", "Ctrl+S", "Ctrl+E", "F5", "Esc", "1 … 6", "0", "Space", "I", "C", "+ / -"):
        assert key in keys


def _bundled(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom's {name} is not installed")
    return Path(str(path))


def _single_file_entry(name: str, frames: int) -> SeriesEntry:
    return SeriesEntry(None, "1.2.3", None, None, None, "1.2.3.4", 1, name, None, None, 1, frames, None, None, "x")


def test_bundled_multiframe_colour_file_scrolls_its_frames(qtbot: QtBot, viewer: DicomViewer) -> None:
    """pydicom's RLE two-frame RGB file: each frame shows as the decoder's RGB pixels."""
    path = _bundled("SC_rgb_rle_2frame.dcm")
    frames = dcmread(path).pixel_array
    viewer.open_series(_single_file_entry(path.name, 2), [SeriesInstance("1.2.3.4.5", "x", path, 1, 2)])
    qtbot.waitUntil(lambda: viewer.image_view.displayed_image() is not None, timeout=TIMEOUT_MS)
    assert viewer.slice_count() == 2
    assert np.array_equal(viewer.image_view.displayed_image(), frames[0])
    qtbot.keyClick(viewer, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: viewer.index == 1 and viewer.decoded.get(1) is not None, timeout=TIMEOUT_MS)
    assert np.array_equal(viewer.image_view.displayed_image(), frames[1])
    assert "Colour" in viewer.image_view.overlay_text("bottom_left")


def test_bundled_truncated_file_shows_cannot_display(qtbot: QtBot, viewer: DicomViewer) -> None:
    path = _bundled("MR_truncated.dcm")
    with qtbot.waitSignal(viewer.load_failed, timeout=TIMEOUT_MS) as failed:
        viewer.open_series(_single_file_entry(path.name, 1), [SeriesInstance("1.2.3.4.6", "x", path, 1, 1)])
    assert failed.args[0].startswith("Cannot display: ")
    assert "DisplayError" not in failed.args[0]
    assert viewer.stack.currentWidget() is viewer.error_state


@pytest.mark.parametrize("module_name", ["kfexplorer.ui.panels.dicom_viewer", "kfexplorer.ui.panels.imaging_panel"])
def test_previews_open_on_their_own(qtbot: QtBot, imaging_release: tuple[Path, Path], module_name: str,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    monkeypatch.setenv("KFEXPLORER_DATA_DIR", str(tmp_path / "user-data"))  # the viewer reads measurements there
    module = importlib.import_module(module_name)
    widget = module.preview(imaging_release[1], exec_loop=False)
    qtbot.addWidget(widget)
    assert widget.isVisible() and widget.windowTitle().startswith("kfexplorer preview")
    if isinstance(widget, DicomViewer):
        qtbot.waitUntil(lambda: widget.image_view.displayed_image() is not None, timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: widget.volume is not None, timeout=TIMEOUT_MS)
        jobs = widget.jobs
    else:
        qtbot.waitUntil(lambda: bool(widget.entries), timeout=TIMEOUT_MS)
        jobs = widget.jobs
    jobs.shutdown(timeout=10.0)
    widget.close()
    if widget.workspace is not None:
        widget.workspace.close()
