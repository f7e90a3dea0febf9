"""The app's one DICOM decode pool (worker processes, spawned), started at app start and stopped at exit.

`start_decode_pool()` is called by kfexplorer.ui.app before the window opens; viewers use `decode_pool()` and
fall back to decoding on their job thread when there is none (tests, previews).
"""

from __future__ import annotations

import os

from kfexplorer.imaging.decode_pool import DecodePool

_POOL: list[DecodePool] = []


def start_decode_pool(processes: int | None = None) -> DecodePool:
    """Start the pool (once); it warms up in the background."""
    if not _POOL:
        count = processes if processes is not None else max(1, min(4, (os.cpu_count() or 2)))
        _POOL.append(DecodePool(count))
    return _POOL[0]


def decode_pool() -> DecodePool | None:
    return _POOL[0] if _POOL else None


def stop_decode_pool() -> None:
    while _POOL:
        _POOL.pop().shutdown()
