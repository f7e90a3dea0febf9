"""The largest cohort export (every carried call of every participant) beside a plain DuckDB COPY of the same rows.

Ours: kfexplorer.export.cohort_export.export_cohort — the cohort compiled to SQL, its participants listed and hashed,
per-table row counts, the calls selected through the cohort, spreadsheet safety on every text column (CSV), the
COPY to a temporary name, the rename and the sidecar. Peer, same run, same cache: `COPY (SELECT <the same columns>
FROM occurrences WHERE has_alt) TO …` on a cursor with the session setting ours uses (preserve_insertion_order =
false, which DuckDB recommends for large exports; with its default the peer is slower and holds far more memory),
the floor for our overhead (goal ≤ 1.10). Both must write the same number of rows and, for CSV, the same number of
bytes (same cells, whatever the order).
Memory of ours: RSS sampled every 10 ms in a thread, growth over the RSS before each export. The first (warm-up)
run also pulls the table's blocks into DuckDB's buffer pool (a cache bounded by the table, not by what is written):
it is reported apart ("cold"); the bound (< 300 MB while writing ≥ 2 GB) is judged on the timed runs ("warm").

The cache is bench.query's (`query-cache-<scale>-seed7`, made from bench.sync's release, synced once, shared).

    python -m bench.export [--scale OCCURRENCES] [--repeat K] [--formats csv,parquet] [--study SD_…]
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psutil

from bench.harness import Scenario, bench_data_dir, compare, report
from bench.query import bench_cache
from kfexplorer.export.cohort_export import export_cohort
from kfexplorer.export.cohort_rows import table_columns
from kfexplorer.query.model import Cohort, all_of, criterion
from kfexplorer.store.cache import connect, database_path
from kfexplorer.store.schema import quote_identifier

MEMORY_BOUND_BYTES = 300 * 10**6


class PeakRss:
    """Peak RSS growth of this process during each `with` block (sampled every 10 ms in a thread): `runs`."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.runs: list[int] = []
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._baseline = self._peak = 0

    def __enter__(self) -> PeakRss:
        self._baseline = self._peak = self.process.memory_info().rss
        self._done.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self._peak = max(self._peak, self.process.memory_info().rss)

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        self.runs.append(max(self._peak, self.process.memory_info().rss) - self._baseline)


def peer_copy(con: duckdb.DuckDBPyConnection, out: Path, file_format: str, study: str | None) -> tuple[int, int]:
    columns = ", ".join(quote_identifier(c.name) for c in table_columns(con, "occurrences"))
    where = "has_alt" + (" AND participant_id IN (SELECT participant_id FROM participants WHERE study_id = ?)"
                         if study else "")
    options = "FORMAT csv, HEADER true" if file_format == "csv" else "FORMAT parquet, COMPRESSION zstd"
    cursor = con.cursor()
    try:
        cursor.execute("SET preserve_insertion_order = false")
        rows = cursor.execute(f"COPY (SELECT {columns} FROM occurrences WHERE {where}) TO ? ({options})",
                              [*([study] if study else []), str(out)]).fetchall()
    finally:
        cursor.close()
    return int(rows[0][0]), out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10_000_000, help="occurrences in the release")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--formats", default="csv,parquet", help="comma-separated: csv, parquet")
    parser.add_argument("--study", help="export the cohort of this one study instead of everyone (e.g. to write a "
                        "few GB of CSV from a 100 M cache)")
    args = parser.parse_args(argv)
    cohort = Cohort(all_of(criterion("participant.study_id", "in", args.study))) if args.study else Cohort()
    who = f"study {args.study}" if args.study else "all"

    cache = bench_data_dir() / f"query-cache-{args.scale}-seed7"
    timings: dict[str, float] = {}
    if not database_path(cache).is_file():  # else: bench.query's cache as it is (read-only: others may read it too)
        _release, cache, timings = bench_cache(args.scale, False)
    out_dir = bench_data_dir() / f"export-out-{args.scale}"
    out_dir.mkdir(parents=True, exist_ok=True)
    con = connect(cache, read_only=True)
    carried = int(con.execute("SELECT count(*) FROM occurrences WHERE has_alt AND participant_id IN (SELECT "
                              "participant_id FROM participants WHERE study_id = ? OR ? IS NULL)",
                              [args.study, args.study]).fetchall()[0][0])
    scenarios: list[Scenario] = []
    memory: dict[str, Any] = {}
    try:
        for file_format in [f.strip() for f in args.formats.split(",") if f.strip()]:
            ours_path = out_dir / f"ours.{file_format}"
            peer_path = out_dir / f"peer.{file_format}"
            rss = PeakRss()

            def ours(path: Path = ours_path, fmt: str = file_format, meter: PeakRss = rss) -> tuple[int, int]:
                with meter:
                    result = export_cohort(con, cohort, "occurrences", path, file_format=fmt)
                return result.rows, result.bytes

            def peer(path: Path = peer_path, fmt: str = file_format) -> tuple[int, int]:
                return peer_copy(con, path, fmt, args.study)

            same: Callable[[Any, Any], bool]
            if file_format == "csv":
                same = lambda a, b: a == b  # noqa: E731 - same rows, same bytes
            else:
                same = lambda a, b: a[0] == b[0]  # noqa: E731 - same rows (Parquet pages may differ)
            scenario = compare(Scenario(f"cohort export, {who} calls → {file_format}", "DuckDB COPY", "<= 1.10"),
                               ours, peer, args.repeat, same)
            scenarios.append(scenario)
            written = ours_path.stat().st_size
            warm = max(rss.runs[1:] or rss.runs)
            memory[file_format] = {"rows": carried, "bytes_written": written, "peak_rss_growth_bytes": warm,
                                   "cold_run_rss_growth_bytes": rss.runs[0], "bound_bytes": MEMORY_BOUND_BYTES,
                                   "met": warm < MEMORY_BOUND_BYTES}
            for path in (ours_path, peer_path, ours_path.with_name(ours_path.name + ".cohort.json")):
                path.unlink(missing_ok=True)
    finally:
        con.close()
    for fmt, facts in memory.items():
        print(f"{fmt}: {facts['rows']:,} rows, {facts['bytes_written'] / 1e9:.2f} GB written, peak RSS growth "
              f"{facts['peak_rss_growth_bytes'] / 1e6:,.0f} MB warm (bound < {MEMORY_BOUND_BYTES / 1e6:,.0f} MB: "
              f"{'met' if facts['met'] else 'NOT met'}), {facts['cold_run_rss_growth_bytes'] / 1e6:,.0f} MB in the "
              "cold first run (buffer pool filling)")
    report("export", args.scale, scenarios, {"memory": memory, "setup": timings})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
