"""FHIR ingest: NDJSON on disk → fhir_resources → every clinical table, committed.

Peers, same run, same files:
- raw DuckDB `read_json` of every NDJSON file into one table (the floor: parse and store, nothing derived);
- fhir.resources R4B validation of a sample per file, extrapolated to every resource (what full model validation
  would cost; resources/s of the sample times the resource count).

The issue's goal is >= 100k resources/s end to end (`goal_resources_per_s` / `goal_met` in the JSON line); the
ratio goal against raw read_json (parse + store only) is ours. 75,000 participants give ≈ 1.06 M resources.

    python -m bench.fhir [--scale PARTICIPANTS] [--repeat K]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import orjson

from bench.harness import Scenario, bench_data_dir, compare, report
from kfexplorer.demo.clinical import write_clinical
from kfexplorer.demo.population import build_population
from kfexplorer.fhir.flatten import rebuild_clinical_tables
from kfexplorer.fhir.ingest import load_fhir_object
from kfexplorer.fhir.validation import validation_problem
from kfexplorer.store.clinical_schema import create_clinical_schema

DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
VALIDATION_SAMPLE_PER_FILE = 20
GOAL_RESOURCES_PER_S = 100_000


def demo_fhir(scale: int) -> Path:
    """NDJSON of the demo clinical generator for `scale` participants (cached under the bench data folder)."""
    root = bench_data_dir() / f"fhir-{scale}"
    done = root / "done"
    if not done.exists():
        started = time.perf_counter()
        shutil.rmtree(root, ignore_errors=True)
        population = build_population(scale, seed=11)
        write_clinical(root, population, (), seed=11)
        done.write_text("ok")
        print(f"generated {root} in {time.perf_counter() - started:.1f} s")
    return root


def ndjson_files(root: Path) -> list[Path]:
    return sorted((root / "fhir").rglob("*.ndjson"))


PHASE_MS: dict[str, list[float]] = {"load": [], "rebuild": [], "commit": []}  # per run of ours_ingest


def ours_ingest(files: list[Path], work: Path) -> int:
    """Every file through load_fhir_object, then rebuild_clinical_tables, one commit; the resource count.
    The time of each phase (load every object, rebuild the clinical tables, commit) goes to PHASE_MS."""
    folder = Path(tempfile.mkdtemp(dir=work))
    con = duckdb.connect(str(folder / "ours.duckdb"), config=DUCKDB_CONFIG)
    con.execute("SET enable_progress_bar = false")
    try:
        create_clinical_schema(con)
        started = time.perf_counter()
        con.execute("BEGIN")
        for source_id, path in enumerate(files, start=1):
            rejected = load_fhir_object(con, source_id, path.name, path)
            if rejected:
                raise AssertionError(f"{path}: {rejected[:3]}")
        loaded = time.perf_counter()
        rebuild_clinical_tables(con)
        rebuilt = time.perf_counter()
        con.execute("COMMIT")
        for phase, ms in (("load", loaded - started), ("rebuild", rebuilt - loaded),
                          ("commit", time.perf_counter() - rebuilt)):
            PHASE_MS[phase].append(ms * 1000)
        row = con.execute("SELECT count(*) FROM fhir_resources").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)


def peer_read_json(files: list[Path], work: Path) -> int:
    folder = Path(tempfile.mkdtemp(dir=work))
    con = duckdb.connect(str(folder / "peer.duckdb"), config=DUCKDB_CONFIG)
    con.execute("SET enable_progress_bar = false")
    try:
        con.execute("CREATE TABLE raw AS SELECT * FROM read_json(?, format='newline_delimited', "
                    "records=false, columns={'json': 'JSON'})", [[str(p) for p in files]])
        row = con.execute("SELECT count(*) FROM raw").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)


def count_lines(files: list[Path]) -> int:
    return sum(sum(1 for line in p.open("rb") if line.strip()) for p in files)


def validation_rate(files: list[Path]) -> float:
    """Resources per second of fhir.resources R4B validation over a sample of every file."""
    sample = []
    for path in files:
        with path.open("rb") as stream:
            for _, line in zip(range(VALIDATION_SAMPLE_PER_FILE), stream, strict=False):
                sample.append(orjson.loads(line))
    validation_problem(sample[0])  # import the models outside the timing
    started = time.perf_counter()
    problems = [validation_problem(r) for r in sample]
    elapsed = time.perf_counter() - started
    bad = [p for p in problems if p]
    if bad:
        raise AssertionError(f"demo resources fail R4B validation: {bad[:3]}")
    return len(sample) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=75_000, help="participants in the demo population")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = demo_fhir(args.scale)
    files = ndjson_files(root)
    resources = count_lines(files)
    work = Path(tempfile.mkdtemp(prefix="kfbench-fhir-"))
    try:
        ingest = compare(Scenario("ingest NDJSON → clinical tables", "DuckDB read_json", "<= 4.0"),
                         lambda: ours_ingest(files, work), lambda: peer_read_json(files, work), args.repeat)
        rate = validation_rate(files)
        validate_ms = resources / rate * 1000
        validation = Scenario("ingest vs. full R4B validation", "fhir.resources (extrapolated)", "<= 1.0",
                              ours_ms=list(ingest.ours_ms), peer_ms=[validate_ms] * len(ingest.ours_ms))
        ours_rate = resources / (statistics.median(ingest.ours_ms) / 1000)
        report("fhir", args.scale, [ingest, validation],
               {"resources": resources, "files": len(files), "ours_resources_per_s": round(ours_rate),
                "goal_resources_per_s": GOAL_RESOURCES_PER_S, "goal_met": ours_rate >= GOAL_RESOURCES_PER_S,
                "ours_phase_ms": {phase: round(statistics.median(ms)) for phase, ms in PHASE_MS.items() if ms},
                "validation_resources_per_s": round(rate)})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
