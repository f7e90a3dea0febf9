"""The benchmarks run at a tiny scale and ours agrees with the peer (the figures themselves are not judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench(module: str, scale: int, data: Path, *options: str) -> dict[str, Any]:
    """Run `python -m bench.<module>` at `scale` with its data under `data`; return its closing JSON line."""
    env = {**os.environ, "KFEXPLORER_BENCH_DATA": str(data)}
    result = subprocess.run([sys.executable, "-m", f"bench.{module}", "--scale", str(scale), "--repeat", "1",
                             *options],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    payload: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["bench"] == module and payload["scale"] == scale
    assert all(r["ours_ms"] > 0 and r["peer_ms"] > 0 for r in payload["results"])
    return payload


def test_sync_bench_runs_and_agrees(tmp_path: Path) -> None:
    payload = run_bench("sync", 20000, tmp_path)
    assert [r["scenario"] for r in payload["results"]] == ["full sync into an empty cache", "no-op re-sync"]


def test_sync_bench_s3_runs_on_both_servers_and_agrees(tmp_path: Path) -> None:
    """moto (uploaded) and rclone (serving the release folder) hand both tools every object of the release."""
    payload = run_bench("sync", 20000, tmp_path, "--s3-only")
    names = [r["scenario"] for r in payload["results"]]
    assert names == [f"{what} ({server})" for server in ("moto", "rclone") for what in
                     ("S3 transfer into an empty cache", "S3 sync end-to-end", "S3 no-op re-sync")]
    release = tmp_path / "release-20000"
    files = [p for p in release.rglob("*") if p.is_file()]
    for server in ("moto", "rclone"):
        assert payload[f"s3_{server}_objects"] == len(files) > 100
        assert payload[f"s3_{server}_bytes"] == sum(p.stat().st_size for p in files)
        assert payload[f"s3_{server}_server_cpu_per_transfer_second"] > 0


def test_fhir_bench_runs_and_agrees(tmp_path: Path) -> None:
    payload = run_bench("fhir", 60, tmp_path)
    lines = sum(1 for p in (tmp_path / "fhir-60" / "fhir").rglob("*.ndjson")
                for line in p.read_bytes().splitlines() if line.strip())
    assert payload["resources"] == lines > 0
    assert [r["scenario"] for r in payload["results"]] == ["ingest NDJSON → clinical tables",
                                                           "ingest vs. full R4B validation"]


def test_export_bench_runs_and_agrees(tmp_path: Path) -> None:
    payload = run_bench("export", 20000, tmp_path)
    assert [r["scenario"] for r in payload["results"]] == ["cohort export, all calls → csv",
                                                           "cohort export, all calls → parquet"]
    assert payload["memory"]["csv"]["rows"] > 0 and payload["memory"]["csv"]["bytes_written"] > 0


def test_query_bench_runs_and_agrees(tmp_path: Path) -> None:
    payload = run_bench("query", 20000, tmp_path)
    names = {r["scenario"] for r in payload["results"]}
    assert {"cohort count, gene panel", "facet refresh, 5 facets"} <= names
    assert {r["peer"] for r in payload["results"]} == {"hand-written SQL", "polars"}
    assert [a["scenario"] for a in payload["absolute"]][-1] == "facet refresh, 5 facets"


def test_imaging_bench_runs_and_agrees(tmp_path: Path) -> None:
    payload = run_bench("imaging", 12, tmp_path)
    assert [r["scenario"] for r in payload["results"]] == ["first image (middle slice, windowed)",
                                                           "whole volume (12 × 512²)"]
    assert payload["memory"]["volume_mb"] == 6.0 and payload["absolute"]["volume_ms"] > 0


def test_variants_bench_runs_and_agrees(tmp_path: Path) -> None:
    payload = run_bench("variants", 20000, tmp_path)
    assert [r["scenario"] for r in payload["results"]] == [
        "build variants table (everyone, by carriers)", "page fetch, scrolling on", "jump to a random row",
        "top genes, 500-participant cohort", "comp-het over all families"]
    assert payload["variants"] > 0 and set(payload["absolute_ms"]) == set(payload["goals_ms_at_100M"])


def test_nlp_bench_runs_and_agrees(tmp_path: Path) -> None:
    payload = run_bench("nlp", 60, tmp_path)
    assert payload["accuracy"]["labelled_set"]["notes"] >= 60 and payload["accuracy"]["demo_notes"]["notes"] > 0
    assert payload["notes_per_s"] > 0 and payload["peer_notes_per_s"] > 0
