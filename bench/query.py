"""Cohort queries on a synced demo release: counts with variant criteria, and a refresh of five facets.

Ours: kfexplorer.services.cohort_count (count_cohort / facet_counts_many) on the cache, which reads the
pre-aggregated tables (kfexplorer.query.preaggregates) where they answer exactly. Peers, same run, same data:
- hand-written DuckDB SQL over the contract tables of the same cache (HAND_SQL below): the plain query a person
  would write, one statement per question (five for the facets);
- polars over the same release Parquet (occurrences, variants, consequences; read into memory once, not timed)
  plus the cache's participants table (clinical data comes from FHIR, not Parquet).
And the overhead of the compiler itself: our compiled SQL with the pre-aggregates switched off vs the hand-written
SQL (goal ≤ 1.10). Absolute goals (issue #4, at 100 M occurrences, 2 cores): gene panel ≤ 150 ms, broad ≤ 300 ms,
five facets ≤ 300 ms; they are printed after the table and in the JSON line (`absolute`).

The release is bench.sync's (`release-<scale>`, seed 7, shared with that bench); the cache is
`query-cache-<scale>-seed7` beside it, synced once and reused.

    python -m bench.query [--scale OCCURRENCES] [--repeat K] [--measure-build] [--no-polars]
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from bench.harness import Scenario, bench_data_dir, compare, report
from bench.sync import demo_release
from kfexplorer.query.compiler import compile_cohort
from kfexplorer.query.model import Cohort, Node, all_of, criterion
from kfexplorer.services.cohort_count import count_cohort, facet_counts_many
from kfexplorer.store.cache import connect, database_path
from kfexplorer.store.preaggregates import preaggregates_ready, rebuild_preaggregates
from kfexplorer.sync.engine import sync_release

PANEL_SIZE = 30
RARE_AF = 0.001
FACETS = ("participant.study_id", "participant.sex", "participant.family_type", "consequence.vep_impact",
          "variant.clinvar_sig")

# The plain SQL for each question over the contract tables; `{marks}` becomes one `?` per panel gene / study.
HAND_SQL: dict[str, str] = {
    "gene_panel": """SELECT DISTINCT p.participant_id FROM participants p WHERE p.participant_id IN (
        SELECT o.participant_id FROM occurrences o JOIN consequences c ON c.locus_id = o.locus_id
        WHERE o.has_alt AND c.gene_symbol IN ({marks})) ORDER BY 1""",
    "impact": """SELECT DISTINCT p.participant_id FROM participants p WHERE p.participant_id IN (
        SELECT o.participant_id FROM occurrences o JOIN consequences c ON c.locus_id = o.locus_id
        WHERE o.has_alt AND c.vep_impact = ?) ORDER BY 1""",
    "rare": """SELECT DISTINCT p.participant_id FROM participants p WHERE p.participant_id IN (
        SELECT o.participant_id FROM occurrences o JOIN variants v ON v.locus_id = o.locus_id
        WHERE o.has_alt AND v.gnomad_genomes_3_af < ?) ORDER BY 1""",
    # facets of the cohort "study in {marks} and carries an impact = ? call"; each ignores its own criterion
    "facet_study": """SELECT p.study_id, count(DISTINCT p.participant_id) FROM participants p
        WHERE p.participant_id IN (SELECT o.participant_id FROM occurrences o JOIN consequences c
                                   ON c.locus_id = o.locus_id WHERE o.has_alt AND c.vep_impact = ?)
        GROUP BY 1""",
    "facet_sex": """SELECT p.sex, count(DISTINCT p.participant_id) FROM participants p
        WHERE p.study_id IN ({marks}) AND p.participant_id IN (SELECT o.participant_id FROM occurrences o
              JOIN consequences c ON c.locus_id = o.locus_id WHERE o.has_alt AND c.vep_impact = ?)
        GROUP BY 1""",
    "facet_family_type": """SELECT p.family_type, count(DISTINCT p.participant_id) FROM participants p
        WHERE p.study_id IN ({marks}) AND p.participant_id IN (SELECT o.participant_id FROM occurrences o
              JOIN consequences c ON c.locus_id = o.locus_id WHERE o.has_alt AND c.vep_impact = ?)
        GROUP BY 1""",
    "facet_impact": """SELECT c.vep_impact, count(DISTINCT o.participant_id) FROM occurrences o
        LEFT JOIN consequences c ON c.locus_id = o.locus_id
        WHERE o.has_alt AND o.participant_id IN (SELECT participant_id FROM participants WHERE study_id IN ({marks}))
        GROUP BY 1""",
    "facet_clinvar": """SELECT value, count(DISTINCT participant_id) FROM (
        SELECT o.participant_id, unnest(v.clinvar_sig) AS value FROM occurrences o JOIN variants v
        ON v.locus_id = o.locus_id WHERE o.has_alt AND o.participant_id IN (
            SELECT p.participant_id FROM participants p WHERE p.study_id IN ({marks}) AND p.participant_id IN (
                SELECT o2.participant_id FROM occurrences o2 JOIN consequences c ON c.locus_id = o2.locus_id
                WHERE o2.has_alt AND c.vep_impact = ?))) GROUP BY 1""",
}


def hand_sql(name: str, count: int = 0) -> str:
    return HAND_SQL[name].replace("{marks}", ", ".join("?" for _ in range(count)))


def bench_cache(scale: int, measure_build: bool) -> tuple[Path, Path, dict[str, float]]:
    """The shared release and this bench's synced cache (made or brought up to date when needed); with
    `measure_build`, time one more build of the pre-aggregated tables (rolled back)."""
    timings: dict[str, float] = {}
    release = demo_release(scale)
    cache = bench_data_dir() / f"query-cache-{scale}-seed7"
    if not database_path(cache).is_file():
        started = time.perf_counter()
        result = sync_release(str(release), cache)
        timings["sync_seconds"] = round(time.perf_counter() - started, 1)
        timings["ingest_seconds"] = round(result.ingest_seconds, 1)
        print(f"synced {cache} in {timings['sync_seconds']} s")
    reader = connect(cache, read_only=True)  # other benches may be reading this cache: write only when needed
    try:
        ready = preaggregates_ready(reader)
    finally:
        reader.close()
    if ready and not measure_build:
        return release, cache, timings
    con = connect(cache, read_only=False)
    try:
        if not ready:
            started = time.perf_counter()
            con.execute("BEGIN TRANSACTION")
            rebuild_preaggregates(con)
            con.execute("COMMIT")
            print(f"built the pre-aggregated tables in {time.perf_counter() - started:.1f} s")
            timings["preaggregate_build_seconds"] = round(time.perf_counter() - started, 1)
        elif measure_build:
            started = time.perf_counter()
            con.execute("BEGIN TRANSACTION")
            rebuild_preaggregates(con)
            con.execute("ROLLBACK")
            timings["preaggregate_build_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        con.close()
    return release, cache, timings


class PolarsPeer:
    """The release's Parquet in polars DataFrames (carried calls only), and the cache's participants."""

    def __init__(self, release: Path, con: duckdb.DuckDBPyConnection) -> None:
        folder = release / "variants"
        self.calls = (pl.scan_parquet(folder / "occurrences" / "**" / "*.parquet", hive_partitioning=False)
                      .filter(pl.col("has_alt")).select("participant_id", "locus_id").collect())
        self.consequences = pl.scan_parquet(folder / "consequences" / "**" / "*.parquet", hive_partitioning=False
                                            ).select("locus_id", "gene_symbol", "vep_impact").collect()
        self.variants = pl.scan_parquet(folder / "variants" / "**" / "*.parquet", hive_partitioning=False
                                        ).select("locus_id", "gnomad_genomes_3_af", "clinvar_sig").collect()
        participants = pl.from_arrow(con.sql(
            "SELECT participant_id, study_id, sex, family_type FROM participants").to_arrow_table())
        assert isinstance(participants, pl.DataFrame)
        self.participants: pl.DataFrame = participants

    def _carriers_of(self, loci: pl.DataFrame) -> pl.Series:
        found = self.calls.join(loci.unique(), on="locus_id", how="semi").get_column("participant_id").unique()
        return self.participants.filter(pl.col("participant_id").is_in(found.implode())).get_column("participant_id")

    def gene_panel(self, genes: Sequence[str]) -> list[str]:
        loci = self.consequences.filter(pl.col("gene_symbol").is_in(list(genes))).select("locus_id")
        return sorted(self._carriers_of(loci).unique().to_list())

    def impact(self, impact: str) -> list[str]:
        loci = self.consequences.filter(pl.col("vep_impact") == impact).select("locus_id")
        return sorted(self._carriers_of(loci).unique().to_list())

    def rare(self, threshold: float) -> list[str]:
        loci = self.variants.filter(pl.col("gnomad_genomes_3_af") < threshold).select("locus_id")
        return sorted(self._carriers_of(loci).unique().to_list())

    def facets(self, studies: Sequence[str], impact: str) -> dict[str, set[tuple[Any, int]]]:
        high = self._carriers_of(self.consequences.filter(pl.col("vep_impact") == impact).select("locus_id"))
        people = self.participants
        in_studies = people.filter(pl.col("study_id").is_in(list(studies)))
        both = in_studies.filter(pl.col("participant_id").is_in(high.implode()))

        def counted(frame: pl.DataFrame, column: str) -> set[tuple[Any, int]]:
            grouped = frame.unique(["participant_id", column]).group_by(column).len()
            return {(row[0], int(row[1])) for row in grouped.iter_rows()}

        study_calls = self.calls.filter(pl.col("participant_id").is_in(in_studies.get_column("participant_id")
                                                                        .implode()))
        impacts = study_calls.join(self.consequences.select("locus_id", "vep_impact"), on="locus_id", how="left")
        both_calls = self.calls.filter(pl.col("participant_id").is_in(both.get_column("participant_id").implode()))
        clinvar = (both_calls.join(self.variants.select("locus_id", "clinvar_sig"), on="locus_id", how="inner")
                   .filter(pl.col("clinvar_sig").list.len() > 0).explode("clinvar_sig"))
        return {
            "participant.study_id": counted(people.filter(pl.col("participant_id").is_in(high.implode())),
                                            "study_id"),
            "participant.sex": counted(both, "sex"),
            "participant.family_type": counted(both, "family_type"),
            "consequence.vep_impact": counted(impacts, "vep_impact"),
            "variant.clinvar_sig": counted(clinvar, "clinvar_sig"),
        }


def ids_of(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> list[str]:
    return sorted(str(row[0]) for row in con.execute(sql, list(params)).fetchall())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.query", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10_000_000, help="occurrences in the release")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure-build", action="store_true", help="also time a build of the pre-aggregates")
    parser.add_argument("--no-polars", action="store_true",
                        help="skip the polars peer (its in-memory copy of 100 M calls outgrows a 24 GiB machine)")
    args = parser.parse_args(argv)
    release, cache, timings = bench_cache(args.scale, args.measure_build)
    con = connect(cache, read_only=True)
    polars_peer: PolarsPeer | None = None
    if not args.no_polars:
        started = time.perf_counter()
        polars_peer = PolarsPeer(release, con)
        timings["polars_load_seconds"] = round(time.perf_counter() - started, 1)

    genes = [str(r[0]) for r in con.execute(
        "SELECT DISTINCT gene_symbol FROM consequences WHERE gene_symbol IS NOT NULL ORDER BY 1").fetchall()]
    panel = sorted(random.Random(7).sample(genes, min(PANEL_SIZE, len(genes))))
    studies = [str(r[0]) for r in con.execute(
        "SELECT DISTINCT study_id FROM participants WHERE study_id IS NOT NULL ORDER BY 1 LIMIT 2").fetchall()]
    impact = "HIGH"

    def ours_count(node: Node) -> Callable[[], list[str]]:
        return lambda: list(count_cohort(con, Cohort(node)).participant_ids)

    def general_path(node: Node) -> Callable[[], list[str]]:
        compiled = compile_cohort(Cohort(node), preaggregated=False)
        return lambda: ids_of(con, compiled.sql, compiled.params)

    panel_node = criterion("consequence.gene_symbol", "in", *panel)
    impact_node = criterion("consequence.vep_impact", "in", impact)
    rare_node = criterion("variant.gnomad_genomes_3_af", "<", RARE_AF)
    questions: list[tuple[str, Node, Callable[[], list[str]], Callable[[PolarsPeer], list[str]]]] = [
        ("cohort count, gene panel", panel_node,
         lambda: ids_of(con, hand_sql("gene_panel", len(panel)), panel), lambda peer: peer.gene_panel(panel)),
        ("cohort count, impact HIGH", impact_node,
         lambda: ids_of(con, hand_sql("impact"), [impact]), lambda peer: peer.impact(impact)),
        (f"cohort count, gnomAD AF < {RARE_AF}", rare_node,
         lambda: ids_of(con, hand_sql("rare"), [RARE_AF]), lambda peer: peer.rare(RARE_AF)),
    ]
    scenarios: list[Scenario] = []
    absolute: list[dict[str, Any]] = []
    goals_ms = {"cohort count, gene panel": 150.0}
    for name, node, sql_peer, polars_answer in questions:
        scenarios.append(compare(Scenario(name, "hand-written SQL", "<= 1.10"), ours_count(node), sql_peer,
                                 args.repeat))
        absolute.append({"scenario": name, "ours_ms": round(statistics.median(scenarios[-1].ours_ms), 1),
                         "goal_ms": goals_ms.get(name, 300.0)})
        if polars_peer is not None:
            scenarios.append(compare(Scenario(name, "polars", "<= 1.10"), ours_count(node),
                                     functools.partial(polars_answer, polars_peer), args.repeat))
    for name, node, sql_peer, _ in questions[:2]:
        scenarios.append(compare(Scenario(f"{name}, general path", "hand-written SQL", "<= 1.10"),
                                 general_path(node), sql_peer, args.repeat))

    facet_cohort = Cohort(all_of(criterion("participant.study_id", "in", *studies), impact_node))

    def ours_facets() -> dict[str, set[tuple[Any, int]]]:
        return {field: set(rows) for field, rows in facet_counts_many(con, facet_cohort, FACETS).items()}

    def sql_facets() -> dict[str, set[tuple[Any, int]]]:
        marks = len(studies)
        runs = {"participant.study_id": (hand_sql("facet_study"), [impact]),
                "participant.sex": (hand_sql("facet_sex", marks), [*studies, impact]),
                "participant.family_type": (hand_sql("facet_family_type", marks), [*studies, impact]),
                "consequence.vep_impact": (hand_sql("facet_impact", marks), studies),
                "variant.clinvar_sig": (hand_sql("facet_clinvar", marks), [*studies, impact])}
        return {field: {(r[0], int(r[1])) for r in con.execute(sql, params).fetchall()}
                for field, (sql, params) in runs.items()}

    name = "facet refresh, 5 facets"
    scenarios.append(compare(Scenario(name, "hand-written SQL", "<= 1.10"), ours_facets, sql_facets, args.repeat))
    absolute.append({"scenario": name, "ours_ms": round(statistics.median(scenarios[-1].ours_ms), 1),
                     "goal_ms": 300.0})
    if polars_peer is not None:
        scenarios.append(compare(Scenario(name, "polars", "<= 1.10"), ours_facets,
                                 functools.partial(polars_peer.facets, studies, impact), args.repeat))
    con.close()

    for row in absolute:
        row["met"] = row["ours_ms"] <= row["goal_ms"]
        print(f"absolute: {row['scenario']:<40} {row['ours_ms']:>9,.1f} ms  goal <= {row['goal_ms']:.0f} ms "
              f"({'met' if row['met'] else 'NOT met'}; the goals are set at 100 M occurrences)")
    print(f"setup: {timings}; panel of {len(panel)} genes; facet cohort: studies {studies} and impact {impact}")
    report("query", args.scale, scenarios, {"absolute": absolute, "setup": timings})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
