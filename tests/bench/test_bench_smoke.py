"""The benchmarks run at a tiny scale and ours agrees with the peer (the figures themselves are not judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sync_bench_runs_and_agrees(tmp_path: Path) -> None:
    env = {**os.environ, "KFEXPLORER_BENCH_DATA": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bench.sync", "--scale", "20000", "--repeat", "1"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["bench"] == "sync" and payload["scale"] == 20000
    assert [r["scenario"] for r in payload["results"]] == ["full sync into an empty cache", "no-op re-sync"]
    assert all(r["ours_ms"] > 0 and r["peer_ms"] > 0 for r in payload["results"])
