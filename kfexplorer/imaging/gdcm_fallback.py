"""Decoding with GDCM, kept away from the app's own process.

GDCM (python-gdcm, BSD) is the only permissive decoder of JPEG Lossless (processes 14) and of 12-bit JPEG Extended,
but on a garbled stream it can abort the whole process (an uncaught C++ exception). So:

- In processes that may crash safely (the decode pool's workers call `allow_gdcm_in_process()`), GDCM runs
  directly.
- Anywhere else, `decode_with_gdcm_isolated(ds, frame)` runs it in one spawned helper process, reused between
  calls and restarted after a crash; a crash becomes a DisplayError-worthy None, never the app's death.

`decode_frame_with_gdcm(ds, frame)` is the decoding itself: pydicom's GDCM plugin, else (12-bit JPEG Extended,
which that plugin refuses) GDCM's own ImageReader on the file.
"""

from __future__ import annotations

import multiprocessing
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import JPEGExtended12Bit

GDCM_DTYPES = {"UINT8": np.uint8, "INT8": np.int8, "UINT16": np.uint16, "INT16": np.int16}
ISOLATED_TIMEOUT_S = 60.0

_state = {"in_process": False}
_helper_lock = threading.Lock()
_helper: list[ProcessPoolExecutor] = []


def allow_gdcm_in_process() -> None:
    """Mark this process as one whose crash is survivable (a decode worker): GDCM then runs directly."""
    _state["in_process"] = True


def gdcm_in_process() -> bool:
    return _state["in_process"]


def read_file_with_gdcm(path: str, rows: int, columns: int, frame: int = 0) -> np.ndarray | None:
    """One monochrome frame through GDCM's ImageReader, or None."""
    try:
        import gdcm
    except ImportError:
        return None
    reader = gdcm.ImageReader()
    reader.SetFileName(path)
    if not reader.Read():
        return None
    image = reader.GetImage()
    pixel_format = image.GetPixelFormat()
    dtype = GDCM_DTYPES.get(pixel_format.GetScalarTypeAsString())
    if dtype is None or pixel_format.GetSamplesPerPixel() != 1:
        return None
    buffer = image.GetBuffer()
    if buffer is None:
        return None
    data = buffer.encode("utf-8", "surrogateescape") if isinstance(buffer, str) else bytes(buffer)
    frame_size = rows * columns * np.dtype(dtype).itemsize
    if len(data) < (frame + 1) * frame_size:
        return None
    pixels = np.frombuffer(data, dtype=dtype, count=rows * columns, offset=frame * frame_size)
    return pixels.reshape(rows, columns).copy()


def decode_frame_with_gdcm(ds: Dataset, frame: int) -> np.ndarray | None:
    """Decode one frame with GDCM in this process (may abort the process on garbled data)."""
    syntax = ds.file_meta.TransferSyntaxUID
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pixels, _ = get_decoder(syntax).as_array(ds, index=frame, decoding_plugin="gdcm")
            return np.asarray(pixels)
        except Exception:  # noqa: BLE001 - refused or failed: try the direct reader below
            pass
    filename = getattr(ds, "filename", None)
    if syntax == JPEGExtended12Bit and isinstance(filename, str):
        return read_file_with_gdcm(filename, int(ds.Rows), int(ds.Columns), frame)
    return None


def _helper_pool() -> ProcessPoolExecutor:
    with _helper_lock:
        if not _helper:
            _helper.append(ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")))
        return _helper[0]


def _drop_helper(pool: ProcessPoolExecutor) -> None:
    with _helper_lock:
        if _helper and _helper[0] is pool:
            _helper.clear()
    pool.shutdown(wait=False, cancel_futures=True)


def decode_with_gdcm_isolated(ds: Dataset, frame: int) -> np.ndarray | None:
    """GDCM in this process when that is safe, else in the helper process; None when it cannot decode."""
    if gdcm_in_process():
        return decode_frame_with_gdcm(ds, frame)
    pool = _helper_pool()
    try:
        return pool.submit(decode_frame_with_gdcm, ds, frame).result(timeout=ISOLATED_TIMEOUT_S)
    except BrokenProcessPool:
        _drop_helper(pool)  # GDCM aborted the helper: the next call starts a fresh one
        return None
    except Exception:  # noqa: BLE001 - timeout or an unpicklable dataset: cannot decode
        return None


def shutdown_helper() -> None:
    """Stop the helper process (at app exit; it also ends with its parent)."""
    with _helper_lock:
        pools = list(_helper)
        _helper.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)
