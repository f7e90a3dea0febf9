"""Imaging: a synthetic CT series (N slices of 512² int16, uncompressed), our decode pool vs a plain pydicom loop.

Scenarios (ours vs the peer, same files, alternating):
- first image: the middle slice decoded and windowed to 8 bits. Ours: a warm worker of the DecodePool decodes it,
  the parent windows it (kfexplorer.imaging.display.apply_window). Peer: dcmread + pixel_array +
  apply_modality_lut + the linear window (numpy) in the calling process.
- whole volume: every slice decoded, sorted by position, stacked. Ours: DecodePool.load_volume (2 spawned
  workers started ahead, int16 slices pickled back and copied into the preallocated volume). Peer: a loop of
  dcmread + pixel_array, sorted by ImagePositionPatient, np.stack.
Memory: RSS growth of the parent plus the workers while loading, over the idle app with a warm pool, against the
int16 volume's size (goal ≤ 1.3×). Goals from issue #6: first image ≤ 300 ms, volume ≤ 1.5 s (for 500 slices).

    python -m bench.imaging [--scale SLICES] [--repeat K]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from pydicom import dcmread
from pydicom.pixels import apply_modality_lut

from bench.harness import Scenario, bench_data_dir, compare, report
from kfexplorer.imaging.decode_pool import DecodePool
from kfexplorer.imaging.display import apply_window
from kfexplorer.imaging.synthetic_series import write_ct_series
from kfexplorer.imaging.volume import Volume

SIZE = 512
SEED = 11
GOAL_FIRST_MS = 300.0
GOAL_VOLUME_MS_PER_500 = 1500.0
GOAL_MEMORY_RATIO = 1.3
WINDOW = (40.0, 400.0)


def ct_series(slices: int) -> list[Path]:
    """The synthetic CT (written once under the bench data folder): a noisy body ellipse with bone, in HU."""
    root = bench_data_dir() / f"ct-{slices}x{SIZE}-seed{SEED}"
    done = root / "done"
    if not done.exists():
        started = time.perf_counter()
        rng = np.random.default_rng(SEED)
        noise = rng.normal(0, 12, size=(8, SIZE, SIZE)).astype(np.int16)
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]

        def voxel(k: int, jj: np.ndarray, ii: np.ndarray) -> np.ndarray:
            body = ((xx - 256) / 200.0) ** 2 + ((yy - 256) / 150.0) ** 2 < 1.0
            bone = ((xx - 256) / 30.0) ** 2 + ((yy - 330 - 10 * np.sin(k / 20)) / 25.0) ** 2 < 1.0
            hu = np.where(body, 40, -1000) + np.where(bone, 900, 0) + noise[k % 8]
            return (hu + 1024).astype(np.int16)

        write_ct_series(root, slices, SIZE, SIZE, voxel, pixel_spacing=(0.7, 0.7), slice_step=(0.0, 0.0, 1.25),
                        origin=(-179.0, -179.0, -300.0), shuffle=True, seed=SEED, window=WINDOW)
        done.write_text("ok")
        print(f"generated {slices} slices in {root} in {time.perf_counter() - started:.1f} s")
    return sorted(root.glob("*.dcm"))


def peer_first_image(path: Path) -> np.ndarray:
    ds = dcmread(path)
    values = apply_modality_lut(ds.pixel_array, ds)
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    low, high = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
    return np.floor(np.clip((values - low) / (high - low), 0, 1) * 255 + 0.5).astype(np.uint8)


def ours_first_image(pool: DecodePool, path: Path) -> np.ndarray:
    decoded = pool.submit([path])[0].result()
    return np.floor(apply_window(decoded.pixels, *WINDOW) + 0.5).astype(np.uint8)


def peer_volume(paths: list[Path]) -> np.ndarray:
    items = []
    for path in paths:
        ds = dcmread(path)
        items.append((float(ds.ImagePositionPatient[2]), apply_modality_lut(ds.pixel_array, ds).astype(np.int16)))
    items.sort(key=lambda item: item[0])
    return np.stack([pixels for _, pixels in items])


class RssSampler:
    """Peak of the summed RSS of some processes, sampled every 5 ms on a thread."""

    def __init__(self, pids: list[int]) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def total(self) -> int:
        return sum(p.memory_info().rss for p in self.processes)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.total())
            time.sleep(0.005)

    def __enter__(self) -> RssSampler:
        self.peak = self.total()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.total())


def measure_memory(pool: DecodePool, paths: list[Path]) -> dict[str, float]:
    gc.collect()
    pids = [psutil.Process().pid, *pool.worker_pids()]
    sampler = RssSampler(pids)
    idle = sampler.total()
    cpu_before = _cpu_seconds(sampler.processes)
    started = time.perf_counter()
    with sampler:
        volume: Volume | None = pool.load_volume(paths)
        assert volume is not None
        int(volume.voxels.max())  # touch every page: shared-memory pages count once mapped in
    wall = time.perf_counter() - started
    cpu = _cpu_seconds(sampler.processes) - cpu_before
    held = sampler.total() - idle
    size = volume.nbytes
    volume = None
    gc.collect()
    return {"volume_mb": round(size / 2**20, 1), "idle_app_mb": round(idle / 2**20, 1),
            "peak_growth_mb": round((sampler.peak - idle) / 2**20, 1), "held_growth_mb": round(held / 2**20, 1),
            "peak_ratio": round((sampler.peak - idle) / size, 2), "held_ratio": round(held / size, 2),
            "goal_ratio": GOAL_MEMORY_RATIO, "met": (sampler.peak - idle) / size <= GOAL_MEMORY_RATIO,
            "load_wall_s": round(wall, 2), "load_cpu_s": round(cpu, 2),
            "load_s_on_2_idle_cores": round(cpu / 2, 2), "load_average_1min": round(os.getloadavg()[0], 1)}


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU time of the processes (machine-load-independent cost of a load)."""
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=500, help="slices of 512² (default 500)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    paths = ct_series(args.scale)
    started = time.perf_counter()
    pool = DecodePool(processes=2)
    pool.wait_ready(timeout=120)
    pool_start_ms = (time.perf_counter() - started) * 1000
    try:
        memory = measure_memory(pool, paths)  # first, on a fresh pool (nothing cached)
        middle = paths[len(paths) // 2]
        first = compare(Scenario("first image (middle slice, windowed)", "pydicom in-process", "<= 1.5"),
                        lambda: ours_first_image(pool, middle), lambda: peer_first_image(middle), args.repeat,
                        same=lambda a, b: bool(np.abs(a.astype(int) - b.astype(int)).max() <= 1))
        volume = compare(Scenario(f"whole volume ({args.scale} × {SIZE}²)", "pydicom loop", "<= 1.0"),
                         lambda: pool.load_volume(paths).voxels, lambda: peer_volume(paths), args.repeat,
                         same=lambda a, b: bool(np.array_equal(a, b)))
    finally:
        pool.shutdown()
    first_ms = statistics.median(first.ours_ms)
    volume_ms = statistics.median(volume.ours_ms)
    volume_goal = GOAL_VOLUME_MS_PER_500 * args.scale / 500
    absolute = {"first_image_ms": round(first_ms, 1), "first_image_goal_ms": GOAL_FIRST_MS,
                "first_image_met": first_ms <= GOAL_FIRST_MS, "volume_ms": round(volume_ms, 1),
                "volume_goal_ms": volume_goal, "volume_met": volume_ms <= volume_goal,
                "pool_start_ms": round(pool_start_ms, 1)}
    print(f"pool start (2 spawned workers, warm) {pool_start_ms:,.0f} ms")
    print(f"absolute: first image {first_ms:,.1f} ms (goal ≤ {GOAL_FIRST_MS:.0f}), volume {volume_ms:,.0f} ms "
          f"(goal ≤ {volume_goal:,.0f})")
    print(f"memory: volume {memory['volume_mb']} MB, peak growth {memory['peak_growth_mb']} MB "
          f"({memory['peak_ratio']}×, goal ≤ {GOAL_MEMORY_RATIO}×), held {memory['held_growth_mb']} MB")
    print(f"load CPU (parent + workers) {memory['load_cpu_s']} s → {memory['load_s_on_2_idle_cores']} s on 2 idle "
          f"cores (wall {memory['load_wall_s']} s at load average {memory['load_average_1min']})")
    report("imaging", args.scale, [first, volume], {"absolute": absolute, "memory": memory})


if __name__ == "__main__":
    main()
