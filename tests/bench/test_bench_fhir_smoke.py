"""bench.fhir runs at a tiny scale and ours agrees with the peer (the figures themselves are not judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fhir_bench_runs_and_agrees(tmp_path: Path) -> None:
    env = {**os.environ, "KFEXPLORER_BENCH_DATA": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bench.fhir", "--scale", "60", "--repeat", "1"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["bench"] == "fhir" and payload["scale"] == 60
    lines = sum(1 for p in (tmp_path / "fhir-60" / "fhir").rglob("*.ndjson")
                for line in p.read_bytes().splitlines() if line.strip())
    assert payload["resources"] == lines > 0
    assert [r["scenario"] for r in payload["results"]] == ["ingest NDJSON → clinical tables",
                                                           "ingest vs. full R4B validation"]
    assert all(r["ours_ms"] > 0 and r["peer_ms"] > 0 for r in payload["results"])
