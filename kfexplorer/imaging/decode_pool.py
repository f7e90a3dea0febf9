"""A pool of worker processes that decode DICOM slices, started ahead of time.

Decoding holds the GIL (threads give no speed-up), so slices are decoded in processes. The processes are
*spawned* (never forked: forking after a QApplication exists copies its threads' locks), and are started and
warmed up (pydicom, numpy and the decoder plugins imported) when the pool is created, so the first series a user
opens does not pay for interpreter start-up.

Public API:

- `DecodePool(processes=2)`: start the workers (returns at once; warm-up runs in the background).
- `pool.submit(paths) -> list[Future[DecodedSlice]]`: one future per file (for thumbnails, prefetch, the first
  image of a series).
- `pool.load_volume(paths, progress=None, cancel=None) -> Volume`: decode a whole series in the workers, in
  chunks, and assemble it (sorted and oriented, see kfexplorer.imaging.volume). Transport (`transport=`):
  "shm" (default) — the parent maps an int16 volume file in /dev/shm and the workers pwrite each slice into it
  at its index, so pixels never cross a pipe and the parent copies nothing; slices that are not int16 (uint16,
  int32) come back pickled and widen the volume. "pickle" — every slice comes back pickled and is copied into
  the preallocated volume. bench/imaging.py measures both. Either way the parent holds the volume plus a few
  slices at most. Raises DisplayError for an undecodable file (also when a decoder crashed its worker: the
  pool restarts it) and kfexplorer.progress.Cancelled when `cancel` is set.
  One path to a multi-frame object: a worker reads its header (per-frame geometry, frame selection:
  kfexplorer.imaging.volume.read_multiframe), then the kept frames are decoded in chunks by the workers into the
  same shared int16 volume, and the volume is assembled as for a series (FrameByFrame, a DisplayError, when the
  object has no per-frame geometry; DisplayError for truncated pixel data).
- `pool.shutdown()`: stop the workers (pending work is cancelled).
"""

from __future__ import annotations

import contextlib
import dataclasses
import mmap
import multiprocessing
import os
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
from pydicom import dcmread

from kfexplorer.imaging.display import DisplayError
from kfexplorer.imaging.volume import (
    DecodedSlice,
    MultiFramePlan,
    Volume,
    build_volume,
    decode_frames,
    decode_slice,
    read_multiframe,
    volume_from_frames,
)
from kfexplorer.progress import Cancelled, CancelToken, ProgressCallback, ProgressEvent

CHUNK_SLICES = 8  # slices per task in load_volume: fewer round trips, still an even spread over the workers
CHUNK_FRAMES = 32  # frames per task for a multi-frame file read straight from disk
SHARED_DTYPE = np.dtype(np.int16)
SHARED_FOLDER = "/dev/shm"


def _warm_up() -> int:
    """Import what decoding needs (runs once in each worker)."""
    import os

    import pydicom.pixels  # noqa: F401

    from kfexplorer.imaging import display  # noqa: F401
    from kfexplorer.imaging.gdcm_fallback import allow_gdcm_in_process

    allow_gdcm_in_process()  # a GDCM abort here only ends this worker
    return os.getpid()


def _decode_chunk(paths: Sequence[str], target: str | None = None, start: int = 0,
                  slice_shape: tuple[int, ...] | None = None) -> list[DecodedSlice]:
    """Decode `paths` (slices start, start + 1, … of the series). With a shared `target` file, int16 slices of
    the series' shape are written into it at their index and come back without pixels; others come back whole."""
    decoded = [decode_slice(path) for path in paths]
    if target is None:
        return decoded
    descriptor = os.open(target, os.O_WRONLY)
    try:
        for offset, item in enumerate(decoded):
            if _write_shared(descriptor, item.pixels, start + offset, slice_shape):
                item.pixels = np.empty((0, 0), dtype=SHARED_DTYPE)
    finally:
        os.close(descriptor)
    return decoded


def _write_shared(descriptor: int, pixels: np.ndarray, index: int, slice_shape: tuple[int, ...] | None) -> bool:
    """pwrite one int16 slice of the volume's shape at `index`; False (nothing written) for any other slice."""
    if pixels.dtype != SHARED_DTYPE or pixels.shape != slice_shape:
        return False
    data = np.ascontiguousarray(pixels).data.cast("B")
    position = index * data.nbytes
    while data:
        written = os.pwrite(descriptor, data, position)
        data, position = data[written:], position + written
    return True


def _decode_frame_chunk(plan: MultiFramePlan, start: int, stop: int, target: str | None = None
                        ) -> list[np.ndarray | None]:
    """Decode the kept frames of `plan` (a slice of the whole plan: frames start … stop − 1 of the volume); with
    a shared `target`, int16 frames are written into it (None comes back for them), others come back whole."""
    decoded: list[np.ndarray | None] = list(decode_frames(plan, 0, stop - start))  # the plan holds these frames
    if target is None:
        return decoded
    descriptor = os.open(target, os.O_WRONLY)
    try:
        for offset, pixels in enumerate(decoded):
            if pixels is not None and _write_shared(descriptor, pixels, start + offset, (plan.rows, plan.columns)):
                decoded[offset] = None
    finally:
        os.close(descriptor)
    return decoded


class _SharedVolume:
    """An int16 volume in a file in shared memory (/dev/shm when there is one) that the workers write slices into
    and the parent maps; the file is unlinked once the load ends (the mapping lives on with the array)."""

    def __init__(self, path: str, shape: tuple[int, int, int]) -> None:
        self.path = path
        self.shape = shape
        size = int(np.prod(shape)) * np.dtype(SHARED_DTYPE).itemsize
        with open(path, "r+b") as handle:
            handle.truncate(size)
            mapping = mmap.mmap(handle.fileno(), size)
        self.voxels = np.frombuffer(mapping, dtype=SHARED_DTYPE).reshape(shape)

    @classmethod
    def create_shaped(cls, shape: tuple[int, int, int]) -> _SharedVolume:
        folder = SHARED_FOLDER if os.path.isdir(SHARED_FOLDER) else None
        descriptor, path = tempfile.mkstemp(prefix="kfexplorer-volume-", suffix=".raw", dir=folder)
        os.close(descriptor)
        try:
            return cls(path, shape)
        except BaseException:
            os.unlink(path)
            raise

    @classmethod
    def create(cls, names: Sequence[str]) -> _SharedVolume | None:
        """A shared volume shaped by the first file's header; None when it cannot be read (the pickle path
        then reports the problem)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                header = dcmread(names[0], stop_before_pixels=True)
            rows, columns = int(header.Rows), int(header.Columns)
        except Exception:  # noqa: BLE001 - unreadable first file: decoded (and reported) by the workers
            return None
        return cls.create_shaped((len(names), rows, columns))

    def unlink(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class DecodePool:
    """Worker processes for decoding; see the module docstring."""

    def __init__(self, processes: int = 2, transport: str = "shm") -> None:
        if transport not in ("shm", "pickle"):
            raise ValueError("transport is 'shm' or 'pickle'")
        self.processes = max(1, processes)
        self.transport = transport
        self._executor = ProcessPoolExecutor(max_workers=self.processes,
                                             mp_context=multiprocessing.get_context("spawn"))
        self._warm = [self._executor.submit(_warm_up) for _ in range(self.processes)]

    def wait_ready(self, timeout: float | None = None) -> list[int]:
        """Block until the workers are warm; their process ids (for memory accounting)."""
        return [future.result(timeout=timeout) for future in self._warm]

    def worker_pids(self) -> list[int]:
        processes = getattr(self._executor, "_processes", None) or {}
        return [int(pid) for pid in processes]

    def submit(self, paths: Sequence[Path | str]) -> list[Future[DecodedSlice]]:
        """Decode each file in a worker; one future per path, resolving to a DecodedSlice (or DisplayError)."""
        try:
            return [self._executor.submit(decode_slice, str(path)) for path in paths]
        except BrokenProcessPool:  # a decoder crashed a worker earlier: start afresh
            self._restart()
            return [self._executor.submit(decode_slice, str(path)) for path in paths]

    def load_volume(self, paths: Sequence[Path | str], progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> Volume:
        """Decode a series in the workers and return its Volume."""
        if not paths:
            raise DisplayError("the series has no images")
        names = [str(path) for path in paths]
        if len(names) == 1:
            plan = self._read_plan(names[0], cancel)
            if plan is not None:
                return self._load_frames(plan, progress, cancel)
        target = _SharedVolume.create(names) if self.transport == "shm" else None
        try:
            return self._load(names, target, progress, cancel)
        finally:
            if target is not None:
                target.unlink()

    def _load(self, names: list[str], target: _SharedVolume | None, progress: ProgressCallback | None,
              cancel: CancelToken | None) -> Volume:
        if getattr(self._executor, "_broken", False):
            self._restart()
        chunks = {self._executor.submit(_decode_chunk, names[start:start + CHUNK_SLICES],
                                        None if target is None else target.path, start,
                                        None if target is None else target.shape[1:]): start
                  for start in range(0, len(names), CHUNK_SLICES)}
        pending: set[Future[list[DecodedSlice]]] = set(chunks)
        voxels: np.ndarray | None = None if target is None else target.voxels
        headers: list[DecodedSlice | None] = [None] * len(names)
        in_shared: list[int] = []  # slices the workers wrote into the shared volume
        done_count = 0
        try:
            while pending:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled("cancelled by the user")
                finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                for future in finished:
                    start = chunks[future]
                    for offset, decoded in enumerate(future.result()):
                        index = start + offset
                        if not decoded.pixels.size:
                            in_shared.append(index)
                        if decoded.pixels.size:  # not written into the shared volume: copy it here
                            if voxels is None:
                                voxels = np.empty((len(names), *decoded.pixels.shape), dtype=decoded.pixels.dtype)
                            if decoded.pixels.shape != voxels.shape[1:]:
                                raise DisplayError(f"{decoded.path.name}: {decoded.pixels.shape[0]}×"
                                                   f"{decoded.pixels.shape[1]} pixels, the series has "
                                                   f"{voxels.shape[1]}×{voxels.shape[2]}")
                            if decoded.pixels.dtype != voxels.dtype:
                                voxels = _widen(voxels, decoded.pixels)
                            voxels[index] = decoded.pixels
                            decoded.pixels = np.empty((0, 0), dtype=voxels.dtype)
                        headers[index] = decoded
                    done_count += len(names[start:start + CHUNK_SLICES])
                    if progress is not None:
                        progress(ProgressEvent("decode", done_count, len(names)))
        except BrokenProcessPool:
            self._restart()
            raise DisplayError("a decoder crashed on this series (the worker was restarted)") from None
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        assert voxels is not None
        if target is not None and voxels is not target.voxels and in_shared:  # widened: bring the int16 slices
            voxels[in_shared] = target.voxels[in_shared]
        return build_volume(voxels, [h for h in headers if h is not None])

    def _read_plan(self, name: str, cancel: CancelToken | None) -> MultiFramePlan | None:
        """A worker reads the file's header: its multi-frame plan, or None for a single-frame file."""
        if getattr(self._executor, "_broken", False):
            self._restart()
        try:
            future = self._executor.submit(read_multiframe, name)
            while True:
                if cancel is not None and cancel.cancelled:
                    future.cancel()
                    raise Cancelled("cancelled by the user")
                finished, _ = wait([future], timeout=0.1)
                if finished:
                    return future.result()
        except BrokenProcessPool:
            self._restart()
            raise DisplayError("a decoder crashed reading this file (the worker was restarted)") from None

    def _load_frames(self, plan: MultiFramePlan, progress: ProgressCallback | None,
                     cancel: CancelToken | None) -> Volume:
        """Decode the plan's kept frames in the workers (into shared memory) and assemble the volume."""
        count = len(plan.kept)
        chunk = CHUNK_FRAMES if plan.native_dtype is not None else max(CHUNK_FRAMES, -(-count // self.processes))
        target = _SharedVolume.create_shaped((count, plan.rows, plan.columns)) if self.transport == "shm" else None
        try:
            if getattr(self._executor, "_broken", False):
                self._restart()
            chunks = {self._executor.submit(_decode_frame_chunk,
                                            dataclasses.replace(plan, kept=plan.kept[start:start + chunk]),
                                            start, min(count, start + chunk),
                                            None if target is None else target.path): start
                      for start in range(0, count, chunk)}
            pending: set[Future[list[np.ndarray | None]]] = set(chunks)
            voxels: np.ndarray | None = None if target is None else target.voxels
            shared: list[int] = []  # frames the workers wrote into the shared volume
            done_count = 0
            try:
                while pending:
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled("cancelled by the user")
                    finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                    for future in finished:
                        start = chunks[future]
                        frames = future.result()
                        for offset, pixels in enumerate(frames):
                            if pixels is None:
                                shared.append(start + offset)
                                continue
                            if voxels is None:
                                voxels = np.empty((count, plan.rows, plan.columns), dtype=pixels.dtype)
                            if pixels.dtype != voxels.dtype:
                                voxels = _widen(voxels, pixels)
                            voxels[start + offset] = pixels
                        done_count += len(frames)
                        if progress is not None:
                            progress(ProgressEvent("decode", done_count, count))
            except BrokenProcessPool:
                self._restart()
                raise DisplayError("a decoder crashed on this file (the worker was restarted)") from None
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            assert voxels is not None
            if target is not None and voxels is not target.voxels and shared:  # widened: bring the int16 frames
                voxels[shared] = target.voxels[shared]
            return volume_from_frames(plan, voxels)
        finally:
            if target is not None:
                target.unlink()

    def _restart(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = ProcessPoolExecutor(max_workers=self.processes,
                                             mp_context=multiprocessing.get_context("spawn"))
        self._warm = [self._executor.submit(_warm_up) for _ in range(self.processes)]

    def shutdown(self) -> None:
        """Stop the workers; queued work is cancelled."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def _widen(voxels: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """A volume dtype that holds both (rare: slices of one series with different pixel types)."""
    dtype = np.promote_types(voxels.dtype, pixels.dtype)
    if dtype.itemsize > 4:
        dtype = np.dtype(np.int32)
    return voxels.astype(dtype)
