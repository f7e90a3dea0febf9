"""The display pipeline of one DICOM frame: stored pixels → modality LUT → VOI LUT → 8-bit image.

Public API (the viewer and `kfexplorer dicom render` both use it):

- `PRESETS`: window presets, name → (center, width), in key order 1–6 (brain, subdural, bone, lung, abdomen,
  soft_tissue); values in modality-LUT output units (HU for CT).
- `modality_values(ds, frame=0)` (`modality_from_stored(ds, stored, frame)` for pixels decoded elsewhere): the
  frame's stored pixels through the Modality LUT Sequence, or Rescale Slope /
  Intercept. Integer results stay integer (int16 / uint16 / int32, the smallest that holds them exactly); only a
  non-integral rescale gives float32. Never float64.
- `default_window(ds, values=None)`: the file's first WindowCenter / WindowWidth (top level, else the functional
  groups of an enhanced multi-frame object) as (center, width), or None when it has none (or an unusable one).
- `render_uint8(ds, frame=0, window=None, values=None, function=None)`: the displayable image, H×W uint8 for
  monochrome and H×W×3 uint8 (RGB) for colour. Monochrome, in order (PS3.3 C.11.2.1.2):
    1. `window` given → that window; else the file's first WindowCenter / WindowWidth; else its first VOI LUT
       Sequence item; else the min–max of the modality output mapped linearly onto 0–255;
    2. the window function is `function`, else the file's VOILUTFunction, else LINEAR:
       LINEAR        x ≤ c − 0.5 − (w − 1)/2 → 0;  x > c − 0.5 + (w − 1)/2 → 255;
                     else ((x − (c − 0.5)) / (w − 1) + 0.5) × 255
       LINEAR_EXACT  x ≤ c − w/2 → 0;  x > c + w/2 → 255;  else ((x − c) / w + 0.5) × 255
       SIGMOID       255 / (1 + exp(−4 (x − c) / w))
       VOI LUT Sequence: x clipped to [first mapped, first mapped + entries − 1], looked up, then scaled from
       0 … 2^bits − 1 to 0 … 255;
    3. rounded to the nearest integer (halves away from zero: floor(y + 0.5));
    4. MONOCHROME1 is inverted after the VOI step (255 − y).
  Colour: RGB as is, YBR_FULL / YBR_FULL_422 / YBR_ICT / YBR_RCT converted to RGB by the decoder, PALETTE COLOR
  through its palette; samples of more than 8 bits scaled to 0–255 (v × 255 / (2^bits − 1), rounded).
- `apply_window(values, center, width, function)` (float, 0–255) and `windowed_uint8(...)` (uint8, through a
  look-up table for integer input): the VOI window alone, for views that re-window often.
- `DisplayError`: raised with "cannot display: <reason>" for files that are genuinely broken or undecodable
  (truncated pixel data, no pixel data, unsupported compression, inconsistent header). Nothing else escapes.

Pass `values` (the output of `modality_values`) to `render_uint8` when re-windowing the same frame repeatedly,
so the frame is decoded once.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import get_decoder
from pydicom.uid import UID, ImplicitVRLittleEndian, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1

from kfexplorer.imaging.gdcm_fallback import decode_with_gdcm_isolated

PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "subdural": (75.0, 215.0),
    "bone": (400.0, 1800.0),
    "lung": (-600.0, 1500.0),
    "abdomen": (50.0, 400.0),
    "soft_tissue": (50.0, 350.0),
}

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
GDCM_SYNTAXES = (JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1)  # only GDCM decodes these permissively


class DisplayError(Exception):
    """A DICOM frame that cannot be displayed; the message reads "cannot display: <reason>"."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot display: {reason}")
        self.reason = reason

    def __reduce__(self) -> tuple[type[DisplayError], tuple[str]]:  # survives the trip back from a worker process
        return DisplayError, (self.reason,)


def _first_number(value: Any) -> float | None:
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _functional_item(ds: Dataset, frame: int, sequence_keyword: str) -> Dataset | None:
    """The first item of `sequence_keyword` for `frame` in an enhanced object's per-frame, else shared, groups."""
    for groups_keyword, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        groups = ds.get(groups_keyword)
        if not groups or index >= len(groups):
            continue
        items = groups[index].get(sequence_keyword)
        if items:
            return items[0]  # type: ignore[no-any-return]
    return None


def _attribute_source(ds: Dataset, frame: int, keyword: str, sequence_keyword: str) -> Dataset:
    """The dataset that carries `keyword` for `frame`: the top level, else the functional group item."""
    if keyword in ds:
        return ds
    item = _functional_item(ds, frame, sequence_keyword)
    return item if item is not None else ds


def _frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def stored_pixels(ds: Dataset, frame: int = 0) -> np.ndarray:
    """One frame's pixels as the decoder gives them (stored values; colour already converted to RGB)."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise DisplayError("the file has no pixel data")
    frames = _frame_count(ds)
    if not 0 <= frame < frames:
        raise DisplayError(f"frame {frame} is out of range (the file has {frames})")
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None) or ImplicitVRLittleEndian
    try:
        decoder = get_decoder(syntax)
    except Exception:  # noqa: BLE001 - unknown or unsupported transfer syntax
        raise DisplayError(f"unsupported transfer syntax {syntax}") from None
    failures: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for plugin in _plugin_order(decoder.available_plugins):
            try:
                pixels, _ = decoder.as_array(ds, index=frame, decoding_plugin=plugin)
                return _native_byte_order(np.asarray(pixels))
            except Exception as exc:  # noqa: BLE001 - decoders raise many types on broken data
                failures.append(f"{plugin or 'pydicom'}: {type(exc).__name__}: {str(exc)[:160]}")
    if UID(syntax).is_compressed and (syntax in GDCM_SYNTAXES or "gdcm" in decoder.available_plugins):
        isolated = decode_with_gdcm_isolated(ds, frame)
        if isolated is not None:
            return isolated
        failures.append("gdcm: cannot decode")
    if not failures:
        raise DisplayError(f"no decoder installed for {UID(syntax).name}")
    raise DisplayError("; ".join(failures))


def _native_byte_order(pixels: np.ndarray) -> np.ndarray:
    """Big-endian files decode to big-endian arrays: converted, so every consumer sees plain int16 / uint16."""
    return pixels if pixels.dtype.isnative else pixels.astype(pixels.dtype.newbyteorder("="))


def _plugin_order(plugins: Sequence[str]) -> list[str]:
    """The decoder's plugins without GDCM (it may abort the process on garbled data: tried last, isolated);
    [""] (pydicom's own decoding) for native transfer syntaxes, which have no plugins."""
    if not plugins:
        return [""]
    return [plugin for plugin in plugins if plugin != "gdcm"]


def _smallest_integer_array(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values.astype(np.int16)
    low, high = int(values.min()), int(values.max())
    for dtype in (np.int16, np.uint16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return values.astype(dtype, copy=False)
    return values.astype(np.float32)


def _integer_rescale(stored: np.ndarray, slope: int, intercept: int) -> np.ndarray:
    """slope × stored + intercept, computed directly in the smallest integer type that holds every result."""
    if stored.size == 0:
        return stored.astype(np.int16)
    ends = (int(stored.min()) * slope + intercept, int(stored.max()) * slope + intercept)
    low, high = min(ends), max(ends)
    for dtype in (np.int16, np.uint16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            work = np.int32 if stored.dtype.itemsize < 4 and dtype != np.int32 else np.int64
            if slope == 1 and np.can_cast(stored.dtype, dtype) and dtype == stored.dtype:
                return np.add(stored, intercept, dtype=dtype, casting="unsafe")
            result = stored.astype(work) * slope + intercept
            return result.astype(dtype, copy=False)
    return stored.astype(np.float32) * np.float32(slope) + np.float32(intercept)


def _lut_descriptor(item: Dataset) -> tuple[int, int, int]:
    descriptor = [int(v) for v in item.LUTDescriptor]
    if len(descriptor) != 3:
        raise DisplayError("LUT Descriptor does not have three values")
    entries, first, bits = descriptor
    entries = entries or 65536
    return entries, first, bits


def _lut_data(item: Dataset, entries: int, bits: int) -> np.ndarray:
    raw = item.get("LUTData")
    if raw is None:
        raise DisplayError("LUT without LUT Data")
    if isinstance(raw, (bytes, bytearray)):
        dtype = np.uint8 if bits <= 8 and len(raw) == entries else np.dtype("<u2")
        table = np.frombuffer(raw, dtype=dtype)
    else:
        table = np.asarray(list(raw) if isinstance(raw, MultiValue) else [raw], dtype=np.int64)
    if len(table) < entries:
        raise DisplayError(f"LUT Data holds {len(table)} entries, its descriptor says {entries}")
    return table[:entries].astype(np.int64)


def _apply_lut(values: np.ndarray, item: Dataset, first_signed: bool) -> tuple[np.ndarray, int]:
    entries, first, bits = _lut_descriptor(item)
    if first_signed and first >= 32768:
        first -= 65536
    table = _lut_data(item, entries, bits)
    index = np.clip(values.astype(np.int64, copy=False), first, first + entries - 1) - first
    return table[index], bits


def modality_values(ds: Dataset, frame: int = 0) -> np.ndarray:
    """The frame's modality-LUT output (see the module docstring); raises DisplayError for broken files."""
    return modality_from_stored(ds, stored_pixels(ds, frame), frame)


def modality_from_stored(ds: Dataset, stored: np.ndarray, frame: int = 0) -> np.ndarray:
    """The modality LUT of `ds` applied to stored pixels already decoded (by stored_pixels or a reader's own)."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric not in MONOCHROME:
        return stored
    if stored.dtype.kind == "f":
        return stored.astype(np.float32, copy=False)
    try:
        lut_items = ds.get("ModalityLUTSequence")
        if lut_items:
            signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
            looked_up, _ = _apply_lut(stored, lut_items[0], signed)
            return _smallest_integer_array(looked_up)
        source = _attribute_source(ds, frame, "RescaleSlope", "PixelValueTransformationSequence")
        slope = _first_number(source.get("RescaleSlope"))
        intercept = _first_number(source.get("RescaleIntercept"))
    except DisplayError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed LUT / rescale attributes
        raise DisplayError(f"unusable modality LUT: {type(exc).__name__}: {exc}") from None
    slope = 1.0 if slope is None else slope
    intercept = 0.0 if intercept is None else intercept
    if slope == 1.0 and intercept == 0.0:
        return stored
    if slope.is_integer() and intercept.is_integer():
        return _integer_rescale(stored, int(slope), int(intercept))
    return (stored.astype(np.float32) * np.float32(slope) + np.float32(intercept)).astype(np.float32)


def default_window(ds: Dataset, values: np.ndarray | None = None, frame: int = 0) -> tuple[float, float] | None:
    """The file's first (WindowCenter, WindowWidth), or None when it has none or its width is not positive."""
    source = _attribute_source(ds, frame, "WindowCenter", "FrameVOILUTSequence")
    try:
        center = _first_number(source.get("WindowCenter"))
        width = _first_number(source.get("WindowWidth"))
    except Exception:  # noqa: BLE001 - malformed values count as absent
        return None
    if center is None or width is None or width <= 0:
        return None
    return center, width


def voi_function(ds: Dataset, frame: int = 0) -> str:
    """The file's VOILUTFunction (LINEAR when absent or unknown)."""
    source = _attribute_source(ds, frame, "WindowCenter", "FrameVOILUTSequence")
    name = str(source.get("VOILUTFunction", "") or ds.get("VOILUTFunction", "") or "LINEAR").strip().upper()
    return name if name in VOI_FUNCTIONS else "LINEAR"


def apply_window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """The VOI window of PS3.3 C.11.2.1.2 (C.11.2.1.3.2 for SIGMOID) onto 0–255, before rounding.

    Computed in float64 for one frame (exact on integer input); volumes are never converted as a whole."""
    x = values.astype(np.float64, copy=False)
    if function == "SIGMOID":
        if width <= 0:
            raise DisplayError("SIGMOID window width must be positive")
        with np.errstate(over="ignore"):
            return 255.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    if function == "LINEAR_EXACT":
        if width <= 0:
            raise DisplayError("LINEAR_EXACT window width must be positive")
        low, high = center - width / 2.0, center + width / 2.0
        y = ((x - center) / width + 0.5) * 255.0
    else:
        width = max(width, 1.0)
        low, high = center - 0.5 - (width - 1.0) / 2.0, center - 0.5 + (width - 1.0) / 2.0
        if width == 1.0:
            return np.where(x <= low, 0.0, 255.0)
        y = ((x - (center - 0.5)) / (width - 1.0) + 0.5) * 255.0
    y = np.where(x <= low, 0.0, y)
    y = np.where(x > high, 255.0, y)
    return np.clip(y, 0.0, 255.0)


def _to_uint8(y: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(y, 0.0, 255.0) + 0.5).astype(np.uint8)


LUT_MAX_ENTRIES = 1 << 17  # integer images whose value range is at most this go through a look-up table


def windowed_uint8(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """`values` through the VOI window, rounded to uint8 (before any MONOCHROME1 inversion).

    Integer images (int16 / uint16 / int32 volumes' slices) use a table of the window over their value range —
    the same formula evaluated once per distinct value, identical output, a few times faster (scrolling and
    window drags); other input is computed directly."""
    if values.dtype.kind in "iu" and values.size:
        low, high = int(values.min()), int(values.max())
        if high - low < LUT_MAX_ENTRIES:
            table = _to_uint8(apply_window(np.arange(low, high + 1, dtype=np.int64), center, width, function))
            return table[values.astype(np.intp, copy=False) - low] if low else table[values]
    return _to_uint8(apply_window(values, center, width, function))


def _min_max(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.float64)
    return (values.astype(np.float64) - low) * (255.0 / (high - low))


def _scale_colour(pixels: np.ndarray, bits: int) -> np.ndarray:
    if pixels.dtype == np.uint8 and bits <= 8:
        return pixels
    top = float(2 ** bits - 1)
    return _to_uint8(pixels.astype(np.float64) * (255.0 / top))


def _render_colour(ds: Dataset, frame: int, photometric: str) -> np.ndarray:
    pixels = stored_pixels(ds, frame)
    if photometric == "PALETTE COLOR":
        try:
            from pydicom.pixels import apply_color_lut

            rgb = np.asarray(apply_color_lut(pixels, ds))
            bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        except Exception as exc:  # noqa: BLE001 - malformed palettes
            raise DisplayError(f"unusable palette: {type(exc).__name__}: {exc}") from None
        bits = 16 if rgb.dtype == np.uint16 and bits not in (8, 16) else bits
        return _scale_colour(rgb, bits)
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise DisplayError(f"{photometric} pixels have shape {pixels.shape}, expected rows × columns × 3")
    bits = int(ds.get("BitsStored", 8) or 8)
    return _scale_colour(pixels, bits)


def render_uint8(ds: Dataset, frame: int = 0, window: tuple[float, float] | None = None,
                 values: np.ndarray | None = None, function: str | None = None) -> np.ndarray:
    """The frame as displayed: H×W uint8 (monochrome) or H×W×3 uint8 (colour); see the module docstring."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if photometric not in MONOCHROME:
        return _render_colour(ds, frame, photometric)
    if values is None:
        values = modality_values(ds, frame)
    if values.ndim != 2:
        raise DisplayError(f"monochrome frame has shape {values.shape}, expected rows × columns")
    if values.size == 0:
        raise DisplayError("the image has no pixels")
    name = (function or voi_function(ds, frame)).upper()
    if window is None:
        window = default_window(ds, values, frame)
    if window is not None:
        image = windowed_uint8(values, window[0], window[1], name if name in VOI_FUNCTIONS else "LINEAR")
        return np.uint8(255) - image if photometric == "MONOCHROME1" else image
    else:
        voi_items = ds.get("VOILUTSequence")
        if voi_items:
            try:
                looked_up, bits = _apply_lut(values, voi_items[0], values.dtype.kind == "i")
            except DisplayError:
                raise
            except Exception as exc:  # noqa: BLE001 - malformed VOI LUT
                raise DisplayError(f"unusable VOI LUT: {type(exc).__name__}: {exc}") from None
            y = looked_up.astype(np.float64) * (255.0 / float(2 ** bits - 1))
        else:
            y = _min_max(values)
    image = _to_uint8(y)
    if photometric == "MONOCHROME1":
        image = np.uint8(255) - image
    return image
