"""The benchmarks run at a tiny scale and ours agrees with the peer (the figures themselves are not judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench(module: str, scale: int, data: Path) -> dict[str, Any]:
    """Run `python -m bench.<module>` at `scale` with its data under `data`; return its closing JSON line."""
    env = {**os.environ, "KFEXPLORER_BENCH_DATA": str(data)}
    result = subprocess.run([sys.executable, "-m", f"bench.{module}", "--scale", str(scale), "--repeat", "1"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    payload: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["bench"] == module and payload["scale"] == scale
    assert all(r["ours_ms"] > 0 and r["peer_ms"] > 0 for r in payload["results"])
    return payload


def test_sync_bench_runs_and_agrees(tmp_path: Path) -> None:
    payload = run_bench("sync", 20000, tmp_path)
    assert [r["scenario"] for r in payload["results"]] == ["full sync into an empty cache", "no-op re-sync"]


def test_fhir_bench_runs_and_agrees(tmp_path: Path) -> None:
    payload = run_bench("fhir", 60, tmp_path)
    lines = sum(1 for p in (tmp_path / "fhir-60" / "fhir").rglob("*.ndjson")
                for line in p.read_bytes().splitlines() if line.strip())
    assert payload["resources"] == lines > 0
    assert [r["scenario"] for r in payload["results"]] == ["ingest NDJSON → clinical tables",
                                                           "ingest vs. full R4B validation"]
