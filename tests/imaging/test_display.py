"""The display pipeline against references computed here from the raw pixels by PS3.3's formulas.

Raw pixels come from pydicom's decoders (`ds.pixel_array`, or the decoder with as_rgb=False); every LUT, window
and colour formula below is written out in the test, independently of kfexplorer.imaging.display.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.sequence import Sequence as DicomSequence

from kfexplorer.imaging.display import PRESETS, DisplayError, default_window, modality_values, render_uint8


def _read(name: str) -> Dataset:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} is not bundled with this pydicom")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def _read_dicomdir_file(name: str) -> Dataset:
    paths = [p for p in get_testdata_files() if p.endswith("/" + name)]
    assert paths, name
    return pydicom.dcmread(paths[0])


def _rescaled(ds: Dataset) -> np.ndarray:
    """Modality LUT by C.11.1: output = m × SV + b (float64)."""
    raw = ds.pixel_array.astype(np.float64)
    return raw * float(ds.get("RescaleSlope", 1) or 1) + float(ds.get("RescaleIntercept", 0) or 0)


def _round(y: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(y, dtype=np.float64) + 0.5).astype(np.uint8)


def _linear(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """C.11.2.1.2.1: the standard LINEAR function onto 0..255."""
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    y[x <= c - 0.5 - (w - 1) / 2] = 0
    y[x > c - 0.5 + (w - 1) / 2] = 255
    return _round(y)


def _linear_exact(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """C.11.2.1.3.2: LINEAR_EXACT."""
    y = ((x - c) / w + 0.5) * 255.0
    y[x <= c - w / 2] = 0
    y[x > c + w / 2] = 255
    return _round(y)


def _sigmoid(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """C.11.2.1.3.1: SIGMOID."""
    return _round(255.0 / (1.0 + np.exp(-4.0 * (x - c) / w)))


def test_presets_are_the_six_named_windows_in_key_order() -> None:
    assert list(PRESETS) == ["brain", "subdural", "bone", "lung", "abdomen", "soft_tissue"]
    assert PRESETS["brain"] == (40.0, 80.0)
    assert all(width > 0 for _, width in PRESETS.values())


def test_ct_small_modality_values_stay_integer_and_exact() -> None:
    ds = _read("CT_small.dcm")
    values = modality_values(ds)
    assert values.dtype == np.int16
    np.testing.assert_array_equal(values, _rescaled(ds))


def test_ct_small_without_window_is_min_max_of_modality_output() -> None:
    ds = _read("CT_small.dcm")
    assert "WindowCenter" not in ds and default_window(ds) is None
    x = _rescaled(ds)
    expected = _round((x - x.min()) / (x.max() - x.min()) * 255.0)
    image = render_uint8(ds)
    assert image.dtype == np.uint8 and image.shape == (ds.Rows, ds.Columns)
    np.testing.assert_array_equal(image, expected)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_ct_small_presets_follow_the_linear_function(preset: str) -> None:
    ds = _read("CT_small.dcm")
    c, w = PRESETS[preset]
    np.testing.assert_array_equal(render_uint8(ds, window=(c, w)), _linear(_rescaled(ds), c, w))


def test_mr_small_uses_its_own_first_window() -> None:
    ds = _read("MR_small.dcm")
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    assert default_window(ds) == (c, w)
    np.testing.assert_array_equal(render_uint8(ds), _linear(_rescaled(ds), c, w))


@pytest.mark.parametrize("function", ["LINEAR_EXACT", "SIGMOID"])
def test_voi_lut_function_from_the_file(function: str) -> None:
    ds = _read("MR_small.dcm")
    ds.VOILUTFunction = function
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    reference = _linear_exact if function == "LINEAR_EXACT" else _sigmoid
    np.testing.assert_array_equal(render_uint8(ds), reference(_rescaled(ds), c, w))


def test_voi_lut_sequence_is_looked_up_and_scaled() -> None:
    ds = _read("CT_small.dcm")
    x = _rescaled(ds).astype(np.int64)
    first, entries, bits = int(x.min()) + 20, 600, 12
    table = ((np.arange(entries) * 7) % 4096).astype(np.uint16)  # deliberately non-monotonic
    item = Dataset()
    item.LUTDescriptor = [entries, first & 0xFFFF, bits]
    item["LUTDescriptor"].VR = "SS"
    item.LUTData = table.tolist()
    item["LUTData"].VR = "US"
    ds.VOILUTSequence = DicomSequence([item])
    index = np.clip(x, first, first + entries - 1) - first
    expected = _round(table[index].astype(np.float64) * 255.0 / (2 ** bits - 1))
    np.testing.assert_array_equal(render_uint8(ds), expected)


def test_modality_lut_sequence_replaces_rescale() -> None:
    ds = _read("MR_small.dcm")
    raw = ds.pixel_array.astype(np.int64)
    first, entries = int(raw.min()), int(raw.max() - raw.min()) + 1
    table = (np.arange(entries) // 2 + 100).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [entries, first, 16]
    item.LUTData = table.tolist()
    item["LUTData"].VR = "US"
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = DicomSequence([item])
    values = modality_values(ds)
    np.testing.assert_array_equal(values, table[raw - first])
    assert values.dtype in (np.int16, np.uint16)


@pytest.mark.parametrize("name", ["6278", "6247", "6154"])
def test_monochrome1_is_inverted_after_the_window(name: str) -> None:
    ds = _read_dicomdir_file(name)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    expected = 255 - _linear(_rescaled(ds), c, w)
    image = render_uint8(ds)
    # slope 0.684: the pipeline keeps float32 modality values; allow one grey level at rounding ties
    assert np.abs(image.astype(int) - expected.astype(int)).max() <= 1
    assert np.mean(image == expected) > 0.99
    # inversion is after VOI: the darkest output is where the window saturates high
    assert image[expected == 0].min() == 255 if np.any(expected == 0) else True


def test_rgb_is_shown_as_stored() -> None:
    ds = _read("examples_rgb_color.dcm")
    image = render_uint8(ds)
    assert image.shape == (ds.Rows, ds.Columns, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, ds.pixel_array)


def test_ybr_full_422_is_converted_by_the_standard_equations() -> None:
    ds = _read("SC_ybr_full_422_uncompressed.dcm")
    raw, _ = get_decoder(ds.file_meta.TransferSyntaxUID).as_array(ds, as_rgb=False)
    y, cb, cr = (raw[..., n].astype(np.float64) for n in range(3))
    # PS3.3 C.7.6.3.1.2 (YBR_FULL): R = Y + 1.402 (Cr − 128) …
    rgb = np.stack([y + 1.402 * (cr - 128), y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
                    y + 1.772 * (cb - 128)], axis=-1)
    expected = np.clip(np.round(rgb), 0, 255)
    image = render_uint8(ds)
    assert image.shape == expected.shape
    assert np.abs(image.astype(int) - expected.astype(int)).max() <= 1


def test_palette_color_goes_through_its_lookup_tables() -> None:
    ds = _read("examples_palette.dcm")
    raw = ds.pixel_array.astype(np.int64)
    channels = []
    for colour in ("Red", "Green", "Blue"):
        entries, first, bits = (int(v) for v in ds[f"{colour}PaletteColorLookupTableDescriptor"].value)
        entries = entries or 65536
        data = np.frombuffer(ds[f"{colour}PaletteColorLookupTableData"].value, dtype="<u2" if bits == 16 else "u1")
        index = np.clip(raw, first, first + entries - 1) - first
        channels.append(data[index].astype(np.float64) * 255.0 / (2 ** bits - 1))
    expected = _round(np.stack(channels, axis=-1))
    np.testing.assert_array_equal(render_uint8(ds), expected)


def test_multi_frame_renders_the_frame_asked_for() -> None:
    ds = _read("examples_ybr_color.dcm")
    frames = int(ds.NumberOfFrames)
    first, last = render_uint8(ds, frame=0), render_uint8(ds, frame=frames - 1)
    assert first.shape == last.shape == (ds.Rows, ds.Columns, 3)
    assert not np.array_equal(first, last)
    with pytest.raises(DisplayError, match="out of range"):
        render_uint8(ds, frame=frames)


def _lossless_twin(name: str) -> tuple[Dataset, Dataset]:
    return _read(name), _read("MR_small.dcm")


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
                                  "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_expb.dcm"])
def test_lossless_syntaxes_decode_to_the_uncompressed_pixels(name: str) -> None:
    compressed, reference = _lossless_twin(name)
    assert compressed.file_meta.TransferSyntaxUID != reference.file_meta.TransferSyntaxUID
    np.testing.assert_array_equal(modality_values(compressed), reference.pixel_array)
    np.testing.assert_array_equal(render_uint8(compressed), render_uint8(reference))


@pytest.mark.parametrize(("name", "syntax"), [
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99"),  # deflate
    ("SC_rgb_rle.dcm", "1.2.840.10008.1.2.5"),  # RLE
    ("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50"),  # JPEG baseline
    ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51"),  # JPEG extended (12-bit)
    ("SC_rgb_jpeg_gdcm.dcm", "1.2.840.10008.1.2.4.70"),  # JPEG lossless SV1
    ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),  # JPEG-LS lossless
    ("JPEGLSNearLossless_16.dcm", "1.2.840.10008.1.2.4.81"),  # JPEG-LS near-lossless
    ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90"),  # JPEG 2000 lossless
    ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91"),  # JPEG 2000
])
def test_every_transfer_syntax_decodes(name: str, syntax: str) -> None:
    ds = _read(name)
    assert ds.file_meta.TransferSyntaxUID == syntax
    image = render_uint8(ds)
    assert image.shape[:2] == (ds.Rows, ds.Columns)
    assert image.dtype == np.uint8 and int(image.max()) > int(image.min())


def test_lossy_jpeg_is_close_to_the_uncompressed_original() -> None:
    lossy, original = _read("SC_rgb_jpeg_dcmtk.dcm"), _read("SC_rgb_rle.dcm")
    difference = np.abs(render_uint8(lossy).astype(int) - render_uint8(original).astype(int))
    assert difference.mean() < 3.0


def test_jpeg_lossless_rgb_equals_the_uncompressed_original() -> None:
    lossless, original = _read("SC_rgb_jpeg_gdcm.dcm"), _read("SC_rgb_rle.dcm")
    np.testing.assert_array_equal(render_uint8(lossless), render_uint8(original))


def test_truncated_pixel_data_is_a_display_error() -> None:
    with pytest.raises(DisplayError, match="^cannot display: "):
        render_uint8(_read("MR_truncated.dcm"))


def test_no_pixel_data_is_a_display_error() -> None:
    with pytest.raises(DisplayError, match="no pixel data"):
        render_uint8(_read("rtplan.dcm"))


def test_garbled_compressed_stream_is_a_display_error() -> None:
    ds = _read("MR_small_jp2klossless.dcm")
    from pydicom.encaps import encapsulate

    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(range(256)) * 4])
    with pytest.raises(DisplayError):
        render_uint8(ds)


def test_inconsistent_header_is_a_display_error() -> None:
    ds = copy.deepcopy(_read("CT_small.dcm"))
    ds.Rows = 4096
    with pytest.raises(DisplayError):
        render_uint8(ds)


def test_display_error_survives_pickling() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(DisplayError("broken")))
    assert str(error) == "cannot display: broken"


def test_reading_an_unrelated_file_fails_cleanly(tmp_path: Path) -> None:
    from kfexplorer.imaging.render_file import render_path

    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\x00" * 128 + b"DICM" + bytes(range(256)) * 3)
    with pytest.raises(DisplayError):
        render_path(junk)
    text = tmp_path / "notes.dcm"
    text.write_text("not dicom at all")
    with pytest.raises(DisplayError):
        render_path(text)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_windowed_uint8_table_equals_the_formula(function: str) -> None:
    from kfexplorer.imaging.display import windowed_uint8

    values = np.random.default_rng(4).normal(0, 600, size=(64, 80)).astype(np.int16)
    reference = {"LINEAR": _linear, "LINEAR_EXACT": _linear_exact, "SIGMOID": _sigmoid}[function]
    np.testing.assert_array_equal(windowed_uint8(values, 35.0, 410.0, function),
                                  reference(values.astype(np.float64), 35.0, 410.0))
    floats = values.astype(np.float32) + np.float32(0.25)
    np.testing.assert_array_equal(windowed_uint8(floats, 35.0, 410.0, function),
                                  reference(floats.astype(np.float64), 35.0, 410.0))
