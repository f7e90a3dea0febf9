"""The DICOM viewer on multi-frame objects: an Enhanced CT with geometry opens as a volume (slider over the kept
frames in anatomical order, MPR, window / level); an RT Dose grid scrolls as a volume in the stored units its
frames show; an ultrasound cine stays frame by frame.

Oracles: the voxel array and geometry written here, windowed with the standard's LINEAR formula
(PS3.3 C.11.2.1.2.1) computed here; never the code under test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pytestqt.qtbot import QtBot

from kfexplorer.imaging.synthetic_series import write_enhanced_image
from kfexplorer.services.imaging_catalog import SeriesEntry, SeriesInstance
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.panels.dicom_viewer import DicomViewer

TIMEOUT_MS = 20_000
FRAMES, ROWS, COLUMNS = 16, 40, 48
STEP = 2.0
PIXEL_SPACING = (0.5, 0.75)


def linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    low = center - 0.5 - (width - 1) / 2
    high = center - 0.5 + (width - 1) / 2
    y = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    y = np.where(values <= low, 0.0, np.where(values > high, 255.0, y))
    return np.floor(y + 0.5).astype(np.uint8)


def phantom(seed: int) -> np.ndarray:
    """Stored values (slice inferior → superior, row, column): a bright ball in noise, so the PNG shows something."""
    k, j, i = np.meshgrid(np.arange(FRAMES), np.arange(ROWS), np.arange(COLUMNS), indexing="ij")
    distance = np.sqrt(((k - FRAMES / 2) * STEP) ** 2 + ((j - ROWS / 2) * PIXEL_SPACING[0]) ** 2
                       + ((i - COLUMNS / 2) * PIXEL_SPACING[1]) ** 2)
    noise = np.random.default_rng(seed).integers(0, 60, k.shape)
    return (np.where(distance < 9.0, 1400, 1000) + noise + 20 * k).astype(np.int16)


def entry_for(path: Path, frames: int, modality: str) -> tuple[SeriesEntry, list[SeriesInstance]]:
    ds = dcmread(path, stop_before_pixels=True)
    entry = SeriesEntry(participant_id=None, study_instance_uid=str(ds.StudyInstanceUID), study_description=None,
                        study_date=None, age_at_scan_days=None, series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
                        series_number=None, series_description="multi-frame", modality=modality, body_part=None,
                        instances=1, frames=frames, rows=int(ds.Rows), columns=int(ds.Columns), middle_path=path.name)
    instance = SeriesInstance(sop_instance_uid=str(ds.SOPInstanceUID), path=path.name, local_path=path,
                              instance_number=1, number_of_frames=frames)
    return entry, [instance]


@pytest.fixture
def viewer(qtbot: QtBot, tmp_path: Path) -> Iterator[DicomViewer]:
    jobs = QtJobRunner()
    widget = DicomViewer(jobs, user_db_path=tmp_path / "user.sqlite3")
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    yield widget
    widget.close_series()
    jobs.shutdown(timeout=10.0)


@pytest.fixture
def two_stack_ct(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """An Enhanced CT: stack "1" (kept) and stack "2" (left out) interleaved, frames shuffled."""
    first, second = phantom(1), phantom(2) + 500
    origin = np.array([-12.0, -10.0, 30.0])
    positions = [origin + np.array([0.0, 0.0, k * STEP]) for k in range(FRAMES)]
    frames = np.concatenate([first, second])
    all_positions = positions + [p + np.array([0.0, 0.0, 0.5]) for p in positions]
    order = np.random.default_rng(4).permutation(2 * FRAMES)
    path = write_enhanced_image(tmp_path / "enhanced_ct.dcm", frames[order], [all_positions[n] for n in order],
                                pixel_spacing=PIXEL_SPACING, stack_ids=["2" if n >= FRAMES else "1" for n in order],
                                window=(400.0, 1200.0))
    return path, first.astype(np.int32) - 1024


def test_enhanced_ct_opens_as_a_volume_with_mpr(qtbot: QtBot, viewer: DicomViewer,
                                                two_stack_ct: tuple[Path, np.ndarray]) -> None:
    path, hu = two_stack_ct
    entry, instances = entry_for(path, 2 * FRAMES, "CT")
    with qtbot.waitSignal(viewer.volume_loaded, timeout=TIMEOUT_MS):
        viewer.open_series(entry, instances)
    qtbot.waitUntil(lambda: viewer.image_view.displayed_image() is not None, timeout=TIMEOUT_MS)
    # the slider runs over the kept frames (stack 1) only
    assert viewer.slider.maximum() + 1 == FRAMES and len(viewer.slices) == FRAMES
    assert viewer.mode_combo.isEnabled()
    assert "2 stacks" in viewer.warning_label.text() and viewer.warning_label.isVisible()
    # acquired frames in anatomical order, in the file's window
    for k in (0, 5, FRAMES - 1):
        viewer.show_index(k)
        assert np.array_equal(viewer.image_view.displayed_image(), linear_window(hu[k], 400.0, 1200.0))
    # the position overlay names the frame's own position (from its functional groups)
    viewer.show_index(3)
    qtbot.waitUntil(lambda: f"Pos -12.0, -10.0, {30.0 + 3 * STEP:.1f} mm" in
                    viewer.image_view.overlay_text("bottom_right"), timeout=TIMEOUT_MS)
    # MPR shapes and spacing-correct aspect
    expected = {"Axial": ((ROWS, COLUMNS), PIXEL_SPACING), "Coronal": ((FRAMES, COLUMNS), (STEP, PIXEL_SPACING[1])),
                "Sagittal": ((FRAMES, ROWS), (STEP, PIXEL_SPACING[0]))}
    for mode, (shape, spacing) in expected.items():
        viewer.set_mode(mode)
        shown = viewer.image_view.shown
        assert shown is not None and shown.values.shape == shape and shown.spacing == spacing
        assert viewer.slider.maximum() + 1 == {"Axial": FRAMES, "Coronal": ROWS, "Sagittal": COLUMNS}[mode]
    # W/L: the bone preset re-windows the coronal plane (superior at the top)
    viewer.set_mode("Coronal")
    viewer.show_index(ROWS // 2)
    viewer.apply_preset("bone")
    assert (viewer.image_view.window_center, viewer.image_view.window_width) == (400.0, 1800.0)
    assert np.array_equal(viewer.image_view.displayed_image(), linear_window(hu[::-1, ROWS // 2, :], 400.0, 1800.0))
    viewer.image_view.set_window(300.0, 500.0)
    assert np.array_equal(viewer.image_view.displayed_image(), linear_window(hu[::-1, ROWS // 2, :], 300.0, 500.0))
    viewer.grab().save(str(path.parent / "multiframe_coronal.png"))
    viewer.set_mode("Acquired")
    assert viewer.slider.maximum() + 1 == FRAMES


def test_ultrasound_cine_stays_frame_by_frame(qtbot: QtBot, viewer: DicomViewer) -> None:
    path = Path(get_testdata_file("examples_ybr_color.dcm"))
    frames = int(dcmread(path, stop_before_pixels=True).NumberOfFrames)
    entry, instances = entry_for(path, frames, "US")
    viewer.open_series(entry, instances)
    qtbot.waitUntil(lambda: viewer.image_view.displayed_image() is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: viewer.jobs.pending_count() == 0, timeout=TIMEOUT_MS)
    assert viewer.volume is None and not viewer.mode_combo.isEnabled()
    assert viewer.warning_label.isHidden()
    assert viewer.slider.maximum() + 1 == frames
    viewer.show_index(frames - 1)
    qtbot.waitUntil(lambda: viewer.image_view.shown is not None and viewer.index == frames - 1
                    and viewer.image_view.shown.is_colour, timeout=TIMEOUT_MS)
    assert viewer.error_text is None


def test_rt_dose_scrolls_as_a_volume_in_the_units_of_its_frames(qtbot: QtBot, viewer: DicomViewer) -> None:
    path = Path(get_testdata_file("rtdose.dcm"))
    raw = dcmread(path)
    stored = raw.pixel_array.astype(np.int64)
    z = [float(raw.ImagePositionPatient[2]) + float(d) for d in raw.GridFrameOffsetVector]
    order = sorted(range(len(z)), key=lambda n: z[n])
    entry, instances = entry_for(path, int(raw.NumberOfFrames), "RTDOSE")
    with qtbot.waitSignal(viewer.volume_loaded, timeout=TIMEOUT_MS):
        viewer.open_series(entry, instances)
    qtbot.waitUntil(lambda: viewer.image_view.displayed_image() is not None, timeout=TIMEOUT_MS)
    assert viewer.slider.maximum() + 1 == len(z) and viewer.mode_combo.isEnabled()
    # no window in the file: the min–max of the first frame, in the stored units the frame-by-frame view uses
    low, high = float(stored[0].min()), float(stored[0].max())
    assert (viewer.image_view.window_center, viewer.image_view.window_width) == ((low + high) / 2, high - low)
    for k in (0, 7, len(z) - 1):
        viewer.show_index(k)
        assert np.array_equal(viewer.image_view.displayed_image(),
                              linear_window(stored[order[k]], (low + high) / 2, high - low))
    viewer.set_mode("Sagittal")
    assert viewer.image_view.shown is not None and viewer.image_view.shown.values.shape == (len(z), int(raw.Rows))
