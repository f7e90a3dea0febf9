"""Local sync of a demo release into an empty cache, and the no-op re-sync.

Peers, same run, same data:
- full sync: hand-written DuckDB SQL that loads the same Parquet partitions into native tables
  (CREATE TABLE … AS SELECT * FROM read_parquet), reads every FHIR NDJSON with read_json_auto and copies the DICOM and
  note files into a folder — the floor for what any sync must do; ours also lists, verifies sha256, flattens FHIR,
  indexes DICOM headers, loads the HPO / MONDO closure and commits a catalog.
- no-op re-sync: a Python walk + stat of the release (the least a change check can do).

    python -m bench.sync [--scale OCCURRENCES] [--repeat K]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from bench.harness import Scenario, bench_data_dir, compare, report
from kfexplorer.demo.release import generate_release
from kfexplorer.sync.engine import sync_release


def demo_release(scale: int) -> Path:
    root = bench_data_dir() / f"release-{scale}"
    if not (root / "release.json").exists():
        started = time.perf_counter()
        generate_release(root, participants=max(60, min(1000, scale // 5000)), occurrences=scale, seed=7,
                         force=True)
        print(f"generated {root} in {time.perf_counter() - started:.1f} s")
    return root


def ours_full(release: Path, work: Path) -> int:
    cache = Path(tempfile.mkdtemp(dir=work))
    sync_release(str(release), cache)
    con = duckdb.connect(str(cache / "kfexplorer.duckdb"), read_only=True)
    count = con.execute("SELECT count(*) FROM occurrences").fetchone()[0]
    con.close()
    shutil.rmtree(cache)
    return int(count)


def peer_full(release: Path, work: Path) -> int:
    folder = Path(tempfile.mkdtemp(dir=work))
    con = duckdb.connect(str(folder / "peer.duckdb"), config={"autoinstall_known_extensions": False})
    for table in ("occurrences", "variants", "consequences"):
        pattern = str(release / "variants" / table / "**" / "*.parquet")
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{pattern}', hive_partitioning=false)")
    ndjson = sorted(str(p) for p in (release / "fhir").rglob("*.ndjson"))
    con.execute("CREATE TABLE fhir AS SELECT * FROM read_json_auto(?, format='newline_delimited', "
                "union_by_name=true)", [ndjson])
    for part in ("imaging", "notes"):
        if (release / part).exists():
            shutil.copytree(release / part, folder / part)
    count = con.execute("SELECT count(*) FROM occurrences").fetchone()[0]
    con.close()
    shutil.rmtree(folder)
    return int(count)


def walk_and_stat(release: Path) -> int:
    n = 0
    for dirpath, _dirs, files in os.walk(release):
        for name in files:
            os.stat(os.path.join(dirpath, name))
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=5_000_000, help="occurrences in the demo release")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    release = demo_release(args.scale)
    work = Path(tempfile.mkdtemp(prefix="kfbench-sync-"))
    try:
        full = compare(Scenario("full sync into an empty cache", "DuckDB SQL + copy", "<= 3.0"),
                       lambda: ours_full(release, work), lambda: peer_full(release, work), args.repeat)
        cache = work / "cache"
        sync_release(str(release), cache)
        files = walk_and_stat(release)
        noop = compare(Scenario("no-op re-sync", "walk + stat", "<= 10.0"),
                       lambda: sync_release(str(release), cache).to_json()["transferred"]["objects"],
                       lambda: walk_and_stat(release) * 0, args.repeat)
        report("sync", args.scale, [full, noop], {"objects": files})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
