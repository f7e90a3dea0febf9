"""Volumes and MPR on synthetic series of known geometry (axial, reversed, sagittal, coronal, oblique, tilted).

Each voxel's stored value is a function of its patient position (LPS), computed here from the geometry written
into the headers: value = 3·X + 5·Y + 11·Z + 1500 (rounded). So in every view, which way a patient axis points
follows from the sign of the image's gradients, independently of how the loader indexes its array.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from kfexplorer.imaging.decode_pool import DecodePool
from kfexplorer.imaging.display import DisplayError
from kfexplorer.imaging.synthetic_series import write_ct_series
from kfexplorer.imaging.volume import load_series
from kfexplorer.progress import Cancelled, CancelToken

INTERCEPT = -1024


def _patient_value(position: np.ndarray) -> np.ndarray:
    return np.rint(3 * position[..., 0] + 5 * position[..., 1] + 11 * position[..., 2] + 1500)


def _write(folder: Path, row: tuple[float, float, float], column: tuple[float, float, float], slices: int = 12,
           size: tuple[int, int] = (10, 14), spacing: tuple[float, float] = (1.0, 1.5), step: float = 2.0,
           tilt_mm: float = 0.0, skip: int | None = None, irregular: bool = False) -> list[Path]:
    row_v, column_v = np.asarray(row, float), np.asarray(column, float)
    normal = np.cross(row_v, column_v)
    origin = np.array([-7.0, 4.0, 20.0])
    offsets = [k * step for k in range(slices + (1 if skip is not None else 0)) if k != skip]
    if irregular:
        offsets[3] += 0.4 * step
    positions = [origin + d * normal + np.array([0.0, tilt_mm * n, 0.0]) for n, d in enumerate(offsets)]

    def value(k: int, jj: np.ndarray, ii: np.ndarray) -> np.ndarray:
        pos = (positions[k][None, None, :] + ii[..., None] * spacing[1] * row_v + jj[..., None] * spacing[0] * column_v)
        return _patient_value(pos)

    return write_ct_series(folder, len(positions), size[0], size[1], value, row_cosines=row, column_cosines=column,
                           pixel_spacing=spacing, positions=positions, shuffle=True, seed=3,
                           rescale_intercept=INTERCEPT)


def _check_geometry(volume) -> None:  # type: ignore[no-untyped-def]
    """Every voxel holds the value of the patient position the volume says it has."""
    z, y, x = volume.shape
    k, j, i = np.meshgrid(np.arange(z), np.arange(y), np.arange(x), indexing="ij")
    positions = (np.asarray(volume.origin) + i[..., None] * volume.spacing[2] * np.asarray(volume.row_cosines)
                 + j[..., None] * volume.spacing[1] * np.asarray(volume.column_cosines)
                 + k[..., None] * volume.spacing[0] * np.asarray(volume.normal))
    expected = _patient_value(positions) + INTERCEPT
    assert np.abs(volume.voxels.astype(np.int64) - expected).max() <= 1


def _gradients(image: np.ndarray) -> tuple[float, float]:
    """Mean change per pixel to the right and downwards."""
    values = image.astype(np.float64)
    return float(np.mean(np.diff(values, axis=1))), float(np.mean(np.diff(values, axis=0)))


def _check_views(volume, exact: bool = True) -> None:  # type: ignore[no-untyped-def]
    axial, axial_spacing = volume.axial(volume.shape[0] // 2)
    right, down = _gradients(axial)
    assert right > 0 and down > 0  # patient left (+X) on image right, posterior (+Y) at the bottom
    assert not exact or right == pytest.approx(3 * axial_spacing[1], rel=0.15)
    coronal, coronal_spacing = volume.coronal(volume.shape[1] // 2)
    right, down = _gradients(coronal)
    assert right > 0 and down < 0  # left on the right, superior (+Z) at the top
    assert not exact or -down == pytest.approx(11 * coronal_spacing[0], rel=0.15)
    sagittal, sagittal_spacing = volume.sagittal(volume.shape[2] // 2)
    right, down = _gradients(sagittal)
    assert right > 0 and down < 0  # anterior on the left (posterior to the right), superior at the top
    assert not exact or right == pytest.approx(5 * sagittal_spacing[1], rel=0.15)


ORIENTATIONS = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "axial_feet_first": ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
}


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_orthogonal_acquisitions_load_with_true_geometry(tmp_path: Path, name: str) -> None:
    row, column = ORIENTATIONS[name]
    paths = _write(tmp_path, row, column)
    volume = load_series(paths[::-1])
    assert volume.voxels.dtype == np.int16
    assert volume.warnings == []
    assert sorted(volume.spacing) == sorted((2.0, 1.0, 1.5))
    assert volume.window == (40.0, 400.0)
    _check_geometry(volume)
    _check_views(volume)
    assert sorted(volume.instance_paths) == sorted(paths)


def test_axial_slices_are_sorted_by_position_not_by_file_name(tmp_path: Path) -> None:
    paths = _write(tmp_path, *ORIENTATIONS["axial"])
    volume = load_series(sorted(tmp_path.glob("*.dcm")))  # names are shuffled
    assert volume.instance_paths == paths  # written inferior → superior
    assert volume.spacing == (2.0, 1.0, 1.5)


def test_oblique_series_warns_and_keeps_exact_geometry(tmp_path: Path) -> None:
    angle = math.radians(15)
    row = (math.cos(angle), math.sin(angle), 0.0)
    column = (-math.sin(angle), math.cos(angle), 0.0)
    volume = load_series(_write(tmp_path, row, column))
    assert any("oblique" in w for w in volume.warnings)
    _check_geometry(volume)
    _check_views(volume, exact=False)


def test_gantry_tilt_is_detected(tmp_path: Path) -> None:
    volume = load_series(_write(tmp_path, *ORIENTATIONS["axial"], tilt_mm=0.5))
    tilt = [w for w in volume.warnings if "gantry tilt" in w]
    assert tilt and f"{math.degrees(math.atan(0.5 / 2.0)):.1f}°" in tilt[0]


def test_missing_slice_is_detected(tmp_path: Path) -> None:
    volume = load_series(_write(tmp_path, *ORIENTATIONS["axial"], skip=5))
    assert any("missing slices" in w and "about 1 missing" in w for w in volume.warnings)
    assert volume.spacing[0] == 2.0


def test_irregular_spacing_is_detected(tmp_path: Path) -> None:
    volume = load_series(_write(tmp_path, *ORIENTATIONS["axial"], irregular=True))
    assert any("irregular slice spacing" in w for w in volume.warnings)


def test_mismatched_slice_size_is_a_display_error(tmp_path: Path) -> None:
    paths = _write(tmp_path / "a", *ORIENTATIONS["axial"], slices=3)
    other = _write(tmp_path / "b", *ORIENTATIONS["axial"], slices=1, size=(8, 8))
    with pytest.raises(DisplayError):
        load_series(paths + other)


@pytest.fixture(scope="module")
def pool():  # type: ignore[no-untyped-def]
    decode_pool = DecodePool(processes=2)
    decode_pool.wait_ready(timeout=120)
    yield decode_pool
    decode_pool.shutdown()


def test_pool_volume_equals_the_in_process_volume(tmp_path: Path, pool: DecodePool) -> None:
    paths = _write(tmp_path, *ORIENTATIONS["sagittal"], slices=20)
    events = []
    volume = pool.load_volume(paths, progress=events.append)
    reference = load_series(paths)
    np.testing.assert_array_equal(volume.voxels, reference.voxels)
    assert volume.spacing == reference.spacing and volume.origin == reference.origin
    assert volume.instance_paths == reference.instance_paths
    assert events and events[-1].done == events[-1].total == 20
    _check_geometry(volume)


def test_pool_submit_gives_one_slice_per_file(tmp_path: Path, pool: DecodePool) -> None:
    paths = _write(tmp_path, *ORIENTATIONS["axial"], slices=3)
    slices = [future.result(timeout=60) for future in pool.submit(paths)]
    assert [s.path for s in slices] == paths
    assert all(s.pixels.dtype == np.int16 and s.pixels.shape == (10, 14) for s in slices)


def test_pool_reports_a_corrupt_file_as_display_error(tmp_path: Path, pool: DecodePool) -> None:
    paths = _write(tmp_path, *ORIENTATIONS["axial"], slices=4)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) // 2])
    with pytest.raises(DisplayError, match="^cannot display: "):
        pool.load_volume(paths)


def test_pool_load_can_be_cancelled(tmp_path: Path, pool: DecodePool) -> None:
    paths = _write(tmp_path, *ORIENTATIONS["axial"], slices=6)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        pool.load_volume(paths, cancel=token)


def test_pickle_transport_gives_the_same_volume_and_no_shared_file_is_left(tmp_path: Path, pool: DecodePool) -> None:
    paths = _write(tmp_path, *ORIENTATIONS["coronal"], slices=10)
    before = set(Path("/dev/shm").glob("kfexplorer-volume-*")) if Path("/dev/shm").is_dir() else set()
    shared = pool.load_volume(paths)
    after = set(Path("/dev/shm").glob("kfexplorer-volume-*")) if Path("/dev/shm").is_dir() else set()
    assert after == before
    with DecodePool(processes=1, transport="pickle") as pickled_pool:
        pickled = pickled_pool.load_volume(paths)
    np.testing.assert_array_equal(shared.voxels, pickled.voxels)
    assert shared.origin == pickled.origin


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
                                  "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"])
def test_decode_slice_equals_pydicom_pixels_through_the_rescale(name: str) -> None:
    import pydicom
    from pydicom.data import get_testdata_file

    from kfexplorer.imaging.volume import decode_slice

    path = get_testdata_file(name)
    ds = pydicom.dcmread(path)
    expected = ds.pixel_array.astype(np.int64) * int(ds.get("RescaleSlope", 1)) + int(ds.get("RescaleIntercept", 0))
    decoded = decode_slice(path)
    assert decoded.pixels.dtype in (np.int16, np.uint16)
    np.testing.assert_array_equal(decoded.pixels, expected)
    assert decoded.position == tuple(float(v) for v in ds.ImagePositionPatient)


def test_decode_slice_of_truncated_native_file_is_a_display_error(tmp_path: Path) -> None:
    from kfexplorer.imaging.volume import decode_slice

    paths = _write(tmp_path, *ORIENTATIONS["axial"], slices=1)
    data = paths[0].read_bytes()
    paths[0].write_bytes(data[:-10])
    with pytest.raises(DisplayError):
        decode_slice(paths[0])


def test_non_integral_rescale_keeps_stored_integers_and_rescales_per_view(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, 4, 6, 6, lambda k, jj, ii: (k * 100 + jj * 10 + ii).astype(np.int16),
                            rescale_slope=0.25, rescale_intercept=-3.5)
    volume = load_series(paths)
    assert volume.voxels.dtype == np.int16
    assert (volume.rescale_slope, volume.rescale_intercept) == (0.25, -3.5)
    image, _ = volume.axial(2)
    np.testing.assert_array_equal(image, 200 + np.arange(6)[:, None] * 10 + np.arange(6)[None, :])
    view = volume.modality_view(image)
    assert view.dtype == np.float32
    np.testing.assert_allclose(view, image * 0.25 - 3.5)


def test_a_decoder_crash_in_a_worker_is_a_display_error_and_the_pool_recovers(tmp_path: Path,
                                                                                 pool: DecodePool) -> None:
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(range(256)) * 4])  # makes GDCM abort its process
    garbled = tmp_path / "garbled.dcm"
    ds.save_as(garbled)
    with pytest.raises(DisplayError):
        pool.load_volume([garbled])
    paths = _write(tmp_path / "ok", *ORIENTATIONS["axial"], slices=3)
    assert pool.load_volume(paths).shape == (3, 10, 14)
    assert [f.result(timeout=60).pixels.shape for f in pool.submit(paths)] == [(10, 14)] * 3


def test_multi_frame_file_is_not_taken_for_one_slice() -> None:
    from pydicom.data import get_testdata_file

    from kfexplorer.imaging.volume import decode_slice

    with pytest.raises(DisplayError, match="multi-frame"):
        decode_slice(get_testdata_file("rtdose.dcm"))
