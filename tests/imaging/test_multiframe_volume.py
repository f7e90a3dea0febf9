"""Multi-frame objects (Enhanced CT / MR, RT Dose) as volumes.

Oracles are the voxel arrays and geometry built here (and, for RT Dose, the raw dataset read with pydicom),
never the code under test. Frames are written in a known permutation of anatomical order, so a loader that keeps
file order, or sorts the wrong way, gets different voxels.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import RLELossless

from kfexplorer.imaging.decode_pool import DecodePool
from kfexplorer.imaging.display import DisplayError, render_uint8
from kfexplorer.imaging.synthetic_series import write_ct_series, write_enhanced_image
from kfexplorer.imaging.volume import FrameByFrame, Volume, load_series
from kfexplorer.progress import Cancelled, CancelToken

ORIGIN = np.array([-40.0, -55.0, 12.5])
STEP = 2.5
PIXEL_SPACING = (0.6, 0.8)  # (between rows, between columns)
FRAMES, ROWS, COLUMNS = 12, 9, 11


def anatomical_stack(seed: int = 1, low: int = 0, high: int = 3000) -> np.ndarray:
    """Stored values of slice k (inferior → superior), row j, column i."""
    return np.random.default_rng(seed).integers(low, high, (FRAMES, ROWS, COLUMNS)).astype(np.int16)


def axial_positions(count: int = FRAMES, step: float = STEP) -> list[np.ndarray]:
    return [ORIGIN + np.array([0.0, 0.0, k * step]) for k in range(count)]


def shuffled(count: int, seed: int = 5) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(count)
    assert not np.array_equal(order, np.arange(count))
    return order


@pytest.fixture(scope="module")
def pool() -> Iterator[DecodePool]:
    decode_pool = DecodePool(processes=2)
    decode_pool.wait_ready(timeout=120)
    yield decode_pool
    decode_pool.shutdown()


def both_ways(path: Path, pool: DecodePool) -> Volume:
    """The in-process volume, after checking that the pool's is identical."""
    local = load_series([path])
    events: list[object] = []
    pooled = pool.load_volume([path], progress=events.append)
    assert np.array_equal(local.voxels, pooled.voxels) and local.voxels.dtype == pooled.voxels.dtype
    assert (local.spacing, local.origin, local.warnings, local.frame_numbers) == \
        (pooled.spacing, pooled.origin, pooled.warnings, pooled.frame_numbers)
    assert events
    return local


# -- geometry -----------------------------------------------------------------------------------------------------
def test_enhanced_ct_axial_in_shuffled_frame_order(tmp_path: Path, pool: DecodePool) -> None:
    stack = anatomical_stack()
    order = shuffled(FRAMES)  # file frame n holds anatomical slice order[n]
    positions = axial_positions()
    path = write_enhanced_image(tmp_path / "ct.dcm", stack[order], [positions[k] for k in order],
                                pixel_spacing=PIXEL_SPACING, rescales=(1.0, -1024.0))
    volume = both_ways(path, pool)
    assert volume.voxels.dtype == np.int16
    assert np.array_equal(volume.voxels, stack.astype(np.int32) - 1024)
    assert volume.spacing == (STEP, PIXEL_SPACING[0], PIXEL_SPACING[1])
    assert volume.origin == tuple(ORIGIN)
    assert volume.warnings == []
    assert volume.window == (40.0, 400.0)
    assert volume.frame_numbers == [int(np.where(order == k)[0][0]) for k in range(FRAMES)]


def test_feet_first_reversed_positions(tmp_path: Path) -> None:
    stack = anatomical_stack(seed=2)
    positions = axial_positions()
    reverse = list(range(FRAMES))[::-1]  # the file runs superior → inferior
    path = write_enhanced_image(tmp_path / "ff.dcm", stack[reverse], [positions[k] for k in reverse],
                                pixel_spacing=PIXEL_SPACING, geometry_per_frame=True)
    volume = load_series([path])
    assert np.array_equal(volume.voxels, stack.astype(np.int32) - 1024)
    assert volume.origin == tuple(ORIGIN) and volume.spacing[0] == STEP
    assert volume.frame_numbers == reverse


def test_sagittal_acquisition_matches_the_equivalent_single_frame_series(tmp_path: Path) -> None:
    row, column = (0.0, 1.0, 0.0), (0.0, 0.0, -1.0)  # rows run posterior, columns run inferior
    normal = np.cross(row, column)  # −X: slices run towards the patient's right
    positions = [ORIGIN + k * 1.5 * normal for k in range(FRAMES)]
    stack = anatomical_stack(seed=3)
    series = write_ct_series(tmp_path / "series", FRAMES, ROWS, COLUMNS, lambda k, jj, ii: stack[k][jj, ii],
                             row_cosines=row, column_cosines=column, pixel_spacing=PIXEL_SPACING,
                             positions=positions, shuffle=True)
    order = shuffled(FRAMES, seed=9)
    enhanced = write_enhanced_image(tmp_path / "sag.dcm", stack[order], [positions[k] for k in order],
                                    row_cosines=row, column_cosines=column, pixel_spacing=PIXEL_SPACING)
    from_series = load_series(series)
    from_object = load_series([enhanced])
    assert np.array_equal(from_object.voxels, from_series.voxels)
    assert (from_object.spacing, from_object.origin) == (from_series.spacing, from_series.origin)
    assert (from_object.row_cosines, from_object.column_cosines, from_object.normal) == \
        (from_series.row_cosines, from_series.column_cosines, from_series.normal)
    assert from_object.normal == (0.0, 0.0, 1.0)  # normalised: +z superior, whatever the acquisition
    # independently: the top z plane is the acquisition's row j = 0 (superior-most), +y runs along the columns
    # (posterior) and +x (patient left) runs against the slice order
    assert np.array_equal(from_object.voxels[-1, :, :], (stack[::-1, 0, :].astype(np.int32) - 1024).T)


def test_missing_frame_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    stack = anatomical_stack(seed=4)
    positions = [ORIGIN + np.array([0.0, 0.0, k * STEP]) for k in range(FRAMES + 1) if k != 6]
    order = shuffled(FRAMES)
    path = write_enhanced_image(tmp_path / "gap.dcm", stack[order], [positions[k] for k in order])
    volume = load_series([path])
    assert volume.shape[0] == FRAMES
    assert np.array_equal(volume.voxels, stack.astype(np.int32) - 1024)
    assert any("missing slices" in w and "1 missing" in w for w in volume.warnings)
    assert volume.spacing[0] == STEP


def test_irregular_spacing_is_reported(tmp_path: Path) -> None:
    stack = anatomical_stack(seed=5)
    positions = axial_positions()
    positions[4] = positions[4] + np.array([0.0, 0.0, 0.9])
    path = write_enhanced_image(tmp_path / "irregular.dcm", stack, positions)
    volume = load_series([path])
    assert any(w.startswith("irregular slice spacing") for w in volume.warnings)
    assert np.array_equal(volume.voxels, stack.astype(np.int32) - 1024)


def test_two_stacks_keep_the_first(tmp_path: Path, pool: DecodePool) -> None:
    first, second = anatomical_stack(seed=6), anatomical_stack(seed=7)
    positions = axial_positions()
    other = [p + np.array([0.0, 0.0, 1.0]) for p in positions]  # the second stack interleaves
    frames = np.empty((2 * FRAMES, ROWS, COLUMNS), np.int16)
    frames[0::2], frames[1::2] = first, second
    all_positions = [pos for pair in zip(positions, other, strict=True) for pos in pair]
    path = write_enhanced_image(tmp_path / "stacks.dcm", frames, all_positions,
                                stack_ids=["1", "2"] * FRAMES)
    volume = both_ways(path, pool)
    assert volume.shape[0] == FRAMES
    assert np.array_equal(volume.voxels, first.astype(np.int32) - 1024)
    assert volume.frame_numbers == list(range(0, 2 * FRAMES, 2))
    assert any("2 stacks" in w and f"{FRAMES} frames" in w for w in volume.warnings)
    assert not any("irregular" in w or "duplicate" in w for w in volume.warnings)


def test_two_temporal_positions_keep_the_first(tmp_path: Path) -> None:
    early, late = anatomical_stack(seed=8), anatomical_stack(seed=9)
    positions = axial_positions()
    frames = np.concatenate([late, early])  # the later phase written first
    path = write_enhanced_image(tmp_path / "phases.dcm", frames, positions + positions,
                                temporal_indices=[2] * FRAMES + [1] * FRAMES)
    volume = load_series([path])
    assert np.array_equal(volume.voxels, early.astype(np.int32) - 1024)
    assert any("2 temporal positions" in w and f"{FRAMES} frames" in w for w in volume.warnings)


def test_duplicate_positions_without_an_index_keep_the_first_in_file_order(tmp_path: Path) -> None:
    echo1, echo2 = anatomical_stack(seed=10), anatomical_stack(seed=11)
    positions = axial_positions()
    frames = np.empty((2 * FRAMES, ROWS, COLUMNS), np.int16)
    frames[0::2], frames[1::2] = echo1, echo2
    path = write_enhanced_image(tmp_path / "echoes.dcm", frames, [p for p in positions for _ in (0, 1)],
                                modality="MR", rescales=(1.0, 0.0), window=None)
    volume = load_series([path])
    assert np.array_equal(volume.voxels, echo1)
    assert any("share positions" in w and f"{FRAMES} frames left out" in w for w in volume.warnings)


# -- values ---------------------------------------------------------------------------------------------------------
def test_integral_per_frame_rescales_are_applied_per_frame(tmp_path: Path, pool: DecodePool) -> None:
    stack = anatomical_stack(seed=12)
    rescales = [(1.0, -1024.0) if k % 2 else (2.0, -1000.0) for k in range(FRAMES)]
    path = write_enhanced_image(tmp_path / "rescale.dcm", stack, axial_positions(), rescales=rescales)
    volume = both_ways(path, pool)
    expected = np.stack([stack[k].astype(np.int64) * s + b for k, (s, b) in enumerate(rescales)])
    assert np.array_equal(volume.voxels, expected)
    assert (volume.rescale_slope, volume.rescale_intercept) == (1.0, 0.0)


def test_frames_of_different_integer_types_widen_in_the_pool(tmp_path: Path, pool: DecodePool) -> None:
    stack = anatomical_stack(seed=13, high=30_000)
    rescales = [(1.0, 30_000.0) if k in (5, 9) else (1.0, 0.0) for k in range(FRAMES)]  # two frames beyond int16
    path = write_enhanced_image(tmp_path / "widen.dcm", stack, axial_positions(), rescales=rescales)
    volume = both_ways(path, pool)
    expected = np.stack([stack[k].astype(np.int64) * s + b for k, (s, b) in enumerate(rescales)])
    assert np.array_equal(volume.voxels, expected)
    assert volume.voxels.dtype in (np.uint16, np.int32)


def test_non_integral_per_frame_rescales_are_requantised_with_a_warning(tmp_path: Path, pool: DecodePool) -> None:
    stack = anatomical_stack(seed=14, high=4096).astype(np.uint16)
    rescales = [(0.5 if k % 3 else 0.25, 10.0 * k - 3.3) for k in range(FRAMES)]
    path = write_enhanced_image(tmp_path / "mr.dcm", stack, axial_positions(), rescales=rescales, modality="MR",
                                bits_stored=12)  # 12 of 16 bits: decoded by pydicom, not read raw
    volume = both_ways(path, pool)
    expected = np.stack([stack[k] * s + b for k, (s, b) in enumerate(rescales)])
    values = np.stack([volume.modality_view(volume.axial(k)[0]) for k in range(FRAMES)])
    assert values.dtype == np.float32 and volume.voxels.dtype == np.int16
    assert np.abs(values - expected).max() <= volume.rescale_slope / 2 + 1e-3
    assert volume.rescale_slope == 0.25  # the finest of the frames' slopes: 12-bit values fit int16 at that step
    assert any("requantised" in w for w in volume.warnings)


def test_one_non_integral_rescale_keeps_the_stored_values(tmp_path: Path) -> None:
    stack = anatomical_stack(seed=15)
    path = write_enhanced_image(tmp_path / "mr1.dcm", stack, axial_positions(), rescales=(0.75, 2.5), modality="MR")
    volume = load_series([path])
    assert np.array_equal(volume.voxels, stack)
    assert (volume.rescale_slope, volume.rescale_intercept) == (0.75, 2.5)


def test_bits_above_bits_stored_are_not_pixel_data(tmp_path: Path, pool: DecodePool) -> None:
    values = anatomical_stack(seed=19, low=-2048, high=2048)  # signed 12-bit values
    raw = ((values.astype(np.int32) & 0x0FFF) | 0x5000).astype(np.uint16).view(np.int16)  # junk in bits 12-15
    path = write_enhanced_image(tmp_path / "signed12.dcm", raw, axial_positions(), rescales=(1.0, 0.0),
                                bits_stored=12)
    assert np.array_equal(both_ways(path, pool).voxels, values)
    unsigned = anatomical_stack(seed=20, high=4096).astype(np.uint16)
    path = write_enhanced_image(tmp_path / "unsigned12.dcm", unsigned | np.uint16(0xA000), axial_positions(),
                                rescales=(1.0, -1024.0), bits_stored=12)
    assert np.array_equal(both_ways(path, pool).voxels, unsigned.astype(np.int32) - 1024)


def test_compressed_enhanced_object_decodes_through_pydicom(tmp_path: Path, pool: DecodePool) -> None:
    stack = anatomical_stack(seed=21)
    order = shuffled(FRAMES, seed=2)
    positions = axial_positions()
    path = write_enhanced_image(tmp_path / "plain.dcm", stack[order], [positions[k] for k in order])
    ds = dcmread(path)
    ds.compress(RLELossless)
    ds.save_as(tmp_path / "rle.dcm", enforce_file_format=True)
    volume = both_ways(tmp_path / "rle.dcm", pool)
    assert np.array_equal(volume.voxels, stack.astype(np.int32) - 1024)


# -- RT Dose --------------------------------------------------------------------------------------------------------
def test_rt_dose_grid_becomes_a_volume(pool: DecodePool) -> None:
    path = Path(get_testdata_file("rtdose.dcm"))
    raw = dcmread(path)
    offsets = [float(v) for v in raw.GridFrameOffsetVector]
    z_expected = sorted(float(raw.ImagePositionPatient[2]) + d for d in offsets)
    volume = both_ways(path, pool)
    assert volume.shape == (15, int(raw.Rows), int(raw.Columns))
    z_positions = [float(volume.patient_position(k, 0, 0)[2]) for k in range(volume.shape[0])]
    assert z_positions == pytest.approx(z_expected, abs=1e-6)
    assert volume.rescale_slope == float(raw.DoseGridScaling) and volume.rescale_intercept == 0.0
    order = np.argsort([float(raw.ImagePositionPatient[2]) + d for d in offsets], kind="stable")
    assert np.array_equal(volume.voxels.astype(np.int64), raw.pixel_array[order].astype(np.int64))
    assert volume.spacing[1:] == tuple(float(v) for v in raw.PixelSpacing)


# -- what stays frame by frame, and broken files ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["examples_ybr_color.dcm", "SC_rgb_rle_2frame.dcm"])
def test_objects_without_geometry_stay_frame_by_frame(name: str, pool: DecodePool) -> None:
    path = Path(get_testdata_file(name))
    with pytest.raises(FrameByFrame):
        load_series([path])
    with pytest.raises(FrameByFrame):
        pool.load_volume([path])
    ds = dcmread(path)
    last = int(ds.NumberOfFrames) - 1
    image = render_uint8(ds, last)  # the frame-by-frame path still decodes every frame
    assert image.shape == (int(ds.Rows), int(ds.Columns), 3)


def test_truncated_multiframe_file_is_a_clear_error_and_the_pool_survives(tmp_path: Path, pool: DecodePool) -> None:
    stack = anatomical_stack(seed=16)
    path = write_enhanced_image(tmp_path / "cut.dcm", stack, axial_positions())
    size = path.stat().st_size
    frame_bytes = ROWS * COLUMNS * 2
    with open(path, "r+b") as handle:
        handle.truncate(size - 5 * frame_bytes)
    with pytest.raises(DisplayError, match="truncated pixel data: 7 of 12 frames"):
        load_series([path])
    with pytest.raises(DisplayError, match="truncated"):
        pool.load_volume([path])
    good = write_enhanced_image(tmp_path / "good.dcm", stack, axial_positions())
    assert np.array_equal(pool.load_volume([good]).voxels, stack.astype(np.int32) - 1024)


def test_cancel_stops_a_multiframe_load(tmp_path: Path, pool: DecodePool) -> None:
    path = write_enhanced_image(tmp_path / "c.dcm", anatomical_stack(seed=17), axial_positions())
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        pool.load_volume([path], cancel=token)
    assert pool.load_volume([path]).shape == (FRAMES, ROWS, COLUMNS)  # the pool carries on


def test_single_frame_series_are_unchanged(tmp_path: Path, pool: DecodePool) -> None:
    stack = anatomical_stack(seed=18)
    positions: Sequence[np.ndarray] = axial_positions()
    paths = write_ct_series(tmp_path / "s", FRAMES, ROWS, COLUMNS, lambda k, jj, ii: stack[k][jj, ii],
                            positions=positions, pixel_spacing=PIXEL_SPACING, shuffle=True)
    volume = pool.load_volume(paths)
    assert np.array_equal(volume.voxels, stack.astype(np.int32) - 1024)
    assert volume.frame_numbers == [] and volume.instance_paths == paths
