"""`kfexplorer dicom render` and `kfexplorer dicom deidentify`: the PNG equals the standard pipeline computed
here from the raw pixels; broken input exits 1 with one line; de-identification writes a reopenable series."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file, get_testdata_files

from kfexplorer.cli import main
from kfexplorer.imaging.synthetic_series import write_ct_series


def _path(name: str) -> str:
    path = get_testdata_file(name)
    assert path is not None
    return path


def _png(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as image:
        return image.mode, np.asarray(image)


def _linear(x: np.ndarray, c: float, w: float) -> np.ndarray:
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    y[x <= c - 0.5 - (w - 1) / 2] = 0
    y[x > c - 0.5 + (w - 1) / 2] = 255
    return np.floor(y + 0.5).astype(np.uint8)


def _hu(ds: pydicom.Dataset) -> np.ndarray:
    return ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))


def test_render_default_is_min_max_when_the_file_has_no_window(tmp_path: Path) -> None:
    out = tmp_path / "ct.png"
    assert main(["dicom", "render", _path("CT_small.dcm"), "--out", str(out)]) == 0
    mode, image = _png(out)
    x = _hu(pydicom.dcmread(_path("CT_small.dcm")))
    assert mode == "L" and image.shape == (128, 128)
    np.testing.assert_array_equal(image, np.floor((x - x.min()) / (x.max() - x.min()) * 255 + 0.5).astype(np.uint8))


def test_render_default_uses_the_files_window(tmp_path: Path) -> None:
    out = tmp_path / "mr.png"
    assert main(["dicom", "render", _path("MR_small.dcm"), "--out", str(out)]) == 0
    ds = pydicom.dcmread(_path("MR_small.dcm"))
    np.testing.assert_array_equal(_png(out)[1], _linear(_hu(ds), float(ds.WindowCenter), float(ds.WindowWidth)))


def test_render_preset_and_explicit_window(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_path("CT_small.dcm"))
    assert main(["dicom", "render", _path("CT_small.dcm"), "--out", str(tmp_path / "b.png"), "--preset", "bone"]) == 0
    np.testing.assert_array_equal(_png(tmp_path / "b.png")[1], _linear(_hu(ds), 400, 1800))
    assert main(["dicom", "render", _path("CT_small.dcm"), "--out", str(tmp_path / "w.png"), "--window", "350",
                 "--level", "60"]) == 0
    np.testing.assert_array_equal(_png(tmp_path / "w.png")[1], _linear(_hu(ds), 60, 350))


def test_render_monochrome1_is_inverted(tmp_path: Path) -> None:
    source = next(p for p in get_testdata_files() if p.endswith("/6154"))
    out = tmp_path / "cr.png"
    assert main(["dicom", "render", source, "--out", str(out)]) == 0
    ds = pydicom.dcmread(source)
    expected = 255 - _linear(_hu(ds), float(ds.WindowCenter), float(ds.WindowWidth))
    assert np.abs(_png(out)[1].astype(int) - expected.astype(int)).max() <= 1


def test_render_colour_and_frame(tmp_path: Path) -> None:
    out = tmp_path / "rgb.png"
    assert main(["dicom", "render", _path("SC_rgb_rle_2frame.dcm"), "--out", str(out), "--frame", "1"]) == 0
    mode, image = _png(out)
    ds = pydicom.dcmread(_path("SC_rgb_rle_2frame.dcm"))
    assert mode == "RGB"
    np.testing.assert_array_equal(image, ds.pixel_array[1])


def test_render_series_folder_shows_the_middle_slice(tmp_path: Path) -> None:
    folder = tmp_path / "series"
    write_ct_series(folder, 7, 8, 8, lambda k, jj, ii: np.full(jj.shape, 100 * k), shuffle=True, seed=2,
                    window=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        headers = [(float(pydicom.dcmread(p).ImagePositionPatient[2]), p) for p in folder.iterdir()]
    middle = sorted(headers)[3][1]
    out_folder, out_file = tmp_path / "folder.png", tmp_path / "file.png"
    assert main(["dicom", "render", str(folder), "--out", str(out_folder), "--window", "2000", "--level", "0"]) == 0
    assert main(["dicom", "render", str(middle), "--out", str(out_file), "--window", "2000", "--level", "0"]) == 0
    np.testing.assert_array_equal(_png(out_folder)[1], _png(out_file)[1])
    assert _png(out_folder)[1][0, 0] == _linear(np.array([300.0 - 1024]), 0, 2000)[0]


def test_render_broken_input_exits_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dicom", "render", _path("MR_truncated.dcm"), "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot display" in err[0]
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"hello")
    assert main(["dicom", "render", str(junk), "--out", str(tmp_path / "y.png")]) == 1
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_deidentify_command_writes_a_pseudonymous_series(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFEXPLORER_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "series"
    paths = write_ct_series(folder, 3, 8, 8, lambda k, jj, ii: np.full(jj.shape, k), window=None)
    out = tmp_path / "out"
    assert main(["dicom", "deidentify", str(folder), "--out", str(out)]) == 0
    written = sorted(out.glob("*.dcm"))
    assert len(written) == 3
    originals = {str(pydicom.dcmread(p).SOPInstanceUID) for p in paths}
    keys = set()
    for path in written:
        ds = pydicom.dcmread(path)
        keys.add(ds.PatientID)
        assert str(ds.SOPInstanceUID) not in originals and b"SYNTHETIC" not in path.read_bytes()
    assert len(keys) == 1 and next(iter(keys)).startswith("ANON-")
    assert (tmp_path / "data" / "deidentify_salt.bin").exists()
    assert not list(out.glob("*salt*"))


def test_render_preset_choices_are_the_display_presets() -> None:
    from kfexplorer.cli import build_parser
    from kfexplorer.imaging.display import PRESETS

    parser = build_parser()
    args = parser.parse_args(["dicom", "render", "x.dcm", "--out", "y.png", "--preset", "lung"])
    assert args.preset == "lung"
    for name in PRESETS:
        assert parser.parse_args(["dicom", "render", "x", "--out", "y", "--preset", name]).preset == name
    with pytest.raises(SystemExit):
        parser.parse_args(["dicom", "render", "x", "--out", "y", "--preset", "liver"])
