"""The benchmark method of BENCH.md: warm-up, alternating runs of ours and a peer, medians, ratio, one JSON line."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil


def machine() -> str:
    return f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"


def bench_data_dir() -> Path:
    folder = Path(os.environ.get("KFEXPLORER_BENCH_DATA", Path.home() / ".cache" / "kfexplorer-bench"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Scenario:
    name: str
    peer: str
    goal: str  # e.g. "<= 1.10" for the ratio ours / peer
    ours_ms: list[float] = field(default_factory=list)
    peer_ms: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return statistics.median(o / p for o, p in zip(self.ours_ms, self.peer_ms, strict=True))

    @property
    def met(self) -> bool:
        op, value = self.goal.split()
        return self.ratio <= float(value) if op == "<=" else self.ratio >= float(value)

    def row(self) -> dict[str, Any]:
        return {"scenario": self.name, "ours_ms": round(statistics.median(self.ours_ms), 1), "peer": self.peer,
                "peer_ms": round(statistics.median(self.peer_ms), 1), "ratio": round(self.ratio, 2),
                "goal": self.goal, "met": self.met}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def compare(scenario: Scenario, ours: Callable[[], Any], peer: Callable[[], Any], repeat: int,
            same: Callable[[Any, Any], bool] = lambda a, b: a == b) -> Scenario:
    """Warm up, check both answer the same, then alternate ours and the peer `repeat` times."""
    _, a = timed(ours)
    _, b = timed(peer)
    if not same(a, b):
        raise AssertionError(f"{scenario.name}: ours and the peer disagree: {a!r} != {b!r}")
    for _ in range(repeat):
        ms, _ = timed(ours)
        scenario.ours_ms.append(ms)
        ms, _ = timed(peer)
        scenario.peer_ms.append(ms)
    return scenario


def report(bench: str, scale: int, scenarios: list[Scenario], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Print the readable table, then the JSON line (last)."""
    print(f"{'scenario':<44}{'ours ms':>12}{'peer':>28}{'peer ms':>12}{'ratio':>8}  goal")
    for s in scenarios:
        r = s.row()
        print(f"{r['scenario']:<44}{r['ours_ms']:>12,.1f}{r['peer']:>28}{r['peer_ms']:>12,.1f}{r['ratio']:>8.2f}  "
              f"{r['goal']} {'met' if r['met'] else 'NOT met'}"
              f" (min/max ours {min(s.ours_ms):,.0f}/{max(s.ours_ms):,.0f}, peer {min(s.peer_ms):,.0f}/"
              f"{max(s.peer_ms):,.0f})")
    payload = {"bench": bench, "scale": scale, "machine": machine(), "results": [s.row() for s in scenarios],
               **(extra or {})}
    print(json.dumps(payload))
    return payload
