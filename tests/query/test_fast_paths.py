"""The compiler's fast paths over the pre-aggregated tables give exactly the participants of the general path and
of a plain-Python evaluation over the raw release Parquet (random gene panels, impacts, ClinVar, frequencies), and
expressions they cannot answer exactly stay on the general path."""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.query.compiler import compile_cohort
from kfexplorer.query.model import Cohort, Node, all_of, any_of, criterion, negate
from kfexplorer.services.cohort_count import count_cohort, facet_counts, facet_counts_many
from kfexplorer.store.cache import connect
from kfexplorer.sync.engine import sync_release

KF_PARTICIPANT = "https://kidsfirstdrc.org/participant_id"
Call = dict[str, Any]  # one carried occurrence with its variant row ("v") and consequence rows ("c")


class Raw:
    """The raw release, read with pyarrow and json only."""

    def __init__(self, release: Path) -> None:
        self.participants: set[str] = set()
        self.sex: dict[str, str | None] = {}
        for path in sorted((release / "fhir" / "Patient").rglob("*.ndjson")):
            for line in path.read_text().splitlines():
                if line.strip():
                    patient = json.loads(line)
                    ids = [i["value"] for i in patient.get("identifier", []) if i.get("system") == KF_PARTICIPANT]
                    self.participants.add(ids[0] if ids else patient["id"])
                    self.sex[ids[0] if ids else patient["id"]] = patient.get("gender")
        variants = {r["locus_id"]: r for r in self._rows(release / "variants" / "variants")}
        consequences: dict[str, list[dict[str, Any]]] = {}
        for row in self._rows(release / "variants" / "consequences"):
            consequences.setdefault(row["locus_id"], []).append(row)
        self.calls: list[Call] = [
            {**o, "v": variants.get(o["locus_id"]), "c": consequences.get(o["locus_id"], [])}
            for o in self._rows(release / "variants" / "occurrences") if o["has_alt"]
        ]
        self.genes = sorted({c["gene_symbol"] for cs in consequences.values() for c in cs if c["gene_symbol"]})

    @staticmethod
    def _rows(folder: Path) -> list[dict[str, Any]]:
        return [row for path in sorted(folder.rglob("*.parquet")) for row in pq.read_table(path).to_pylist()]

    def carriers(self, call_matches: Callable[[Call], bool]) -> set[str]:
        return {c["participant_id"] for c in self.calls if call_matches(c)} & self.participants


def gene_in(genes: set[str]) -> Callable[[Call], bool]:
    return lambda call: any(c["gene_symbol"] in genes for c in call["c"])


def impact_in(impacts: set[str]) -> Callable[[Call], bool]:
    return lambda call: any(c["vep_impact"] in impacts for c in call["c"])


def clinvar_in(values: set[str]) -> Callable[[Call], bool]:
    return lambda call: call["v"] is not None and bool(set(call["v"]["clinvar_sig"] or []) & values)


def af(call: Call) -> float | None:
    return None if call["v"] is None else call["v"]["gnomad_genomes_3_af"]


def below(call: Call, threshold: float, missing: bool) -> bool:
    value = af(call)
    return missing if value is None else value < threshold


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Raw]]:
    base = tmp_path_factory.mktemp("fast-paths")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    con = connect(cache, read_only=True)
    yield con, Raw(release)
    con.close()


def run(con: duckdb.DuckDBPyConnection, node: Node, preaggregated: bool) -> tuple[set[str], str]:
    compiled = compile_cohort(Cohort(node), preaggregated=preaggregated)
    return {r[0] for r in con.execute(compiled.sql, list(compiled.params)).fetchall()}, compiled.sql


def check(con: duckdb.DuckDBPyConnection, node: Node, expected: set[str], fast: bool) -> None:
    """Fast path == general path == oracle, and the fast path is (or is not) taken as `fast` says."""
    got_fast, sql_fast = run(con, node, preaggregated=True)
    got_general, sql_general = run(con, node, preaggregated=False)
    assert "agg_" not in sql_general
    assert ("agg_" in sql_fast) is fast, sql_fast
    assert got_fast == got_general == expected
    assert count_cohort(con, Cohort(node)).participant_ids == tuple(sorted(expected))


def test_random_gene_panels(synced: tuple[duckdb.DuckDBPyConnection, Raw]) -> None:
    con, raw = synced
    rng = random.Random(4)
    sizes = set()
    for _ in range(25):
        panel = set(rng.sample(raw.genes, rng.choice([1, 2, 5, 20, 60])))
        expected = raw.carriers(gene_in(panel))
        sizes.add(len(expected))
        check(con, criterion("consequence.gene_symbol", "in", *sorted(panel)), expected, fast=True)
    assert len(sizes) > 3 and max(sizes) > 0  # panels of different reach, not all empty


def test_broad_criteria_and_unions(synced: tuple[duckdb.DuckDBPyConnection, Raw]) -> None:
    con, raw = synced
    check(con, criterion("consequence.vep_impact", "in", "HIGH"), raw.carriers(impact_in({"HIGH"})), fast=True)
    check(con, criterion("variant.clinvar_sig", "in", "Pathogenic", "Likely_pathogenic"),
          raw.carriers(clinvar_in({"Pathogenic", "Likely_pathogenic"})), fast=True)
    for threshold in (1e-5, 1e-3, 0.05):
        rare = raw.carriers(functools.partial(below, threshold=threshold, missing=False))
        check(con, criterion("variant.gnomad_genomes_3_af", "<", threshold), rare, fast=True)
        rare_or_missing = raw.carriers(functools.partial(below, threshold=threshold, missing=True))
        check(con, criterion("variant.gnomad_genomes_3_af", "<", threshold, "__missing__"), rare_or_missing, fast=True)
    common = raw.carriers(lambda c: (a := af(c)) is not None and a >= 0.5)
    check(con, criterion("variant.gnomad_genomes_3_af", ">=", 0.5), common, fast=True)
    panel = set(raw.genes[:7])
    union = raw.carriers(lambda c: gene_in(panel)(c) or clinvar_in({"Pathogenic"})(c))
    check(con, any_of(criterion("consequence.gene_symbol", "in", *sorted(panel)),
                      criterion("variant.clinvar_sig", "in", "Pathogenic")), union, fast=True)
    # with a participant criterion beside it
    node = all_of(criterion("participant.sex", "in", "female"), criterion("consequence.vep_impact", "in", "HIGH"))
    got, sql = run(con, node, preaggregated=True)
    assert "agg_carriers_vep_impact" in sql and got == run(con, node, preaggregated=False)[0]


def test_expressions_that_need_one_call_stay_general(synced: tuple[duckdb.DuckDBPyConnection, Raw]) -> None:
    con, raw = synced
    panel = set(raw.genes[:40])
    same_call = raw.carriers(lambda c: any(x["gene_symbol"] in panel and x["vep_impact"] == "HIGH" for x in c["c"]))
    check(con, all_of(criterion("consequence.gene_symbol", "in", *sorted(panel)),
                      criterion("consequence.vep_impact", "in", "HIGH")), same_call, fast=False)
    other = raw.carriers(lambda c: any(x["gene_symbol"] not in panel for x in c["c"] if x["gene_symbol"]))
    check(con, negate(criterion("consequence.gene_symbol", "in", *sorted(panel))),
          raw.carriers(lambda c: not any(x["gene_symbol"] in panel for x in c["c"])), fast=False)
    assert other  # the data has calls outside the panel
    between = raw.carriers(lambda c: (a := af(c)) is not None and 1e-4 <= a <= 1e-2)
    check(con, criterion("variant.gnomad_genomes_3_af", "between", 1e-4, 1e-2), between, fast=False)


def test_facets_in_one_query_match_single_facets_and_oracle(synced: tuple[duckdb.DuckDBPyConnection, Raw]) -> None:
    con, raw = synced
    cohort = Cohort(all_of(criterion("consequence.vep_impact", "in", "HIGH"), criterion("participant.sex", "in",
                                                                                          "female")))
    fields = ["participant.study_id", "participant.sex", "participant.family_type", "consequence.vep_impact",
              "variant.clinvar_sig"]
    many = facet_counts_many(con, cohort, fields)
    for field in fields:
        assert many[field] == facet_counts(con, cohort, field), field
    females = {pid for pid, sex in raw.sex.items() if sex == "female"}
    impacts: dict[Any, set[str]] = {}
    for call in raw.calls:
        if call["participant_id"] in females & raw.participants:
            for value in {c["vep_impact"] for c in call["c"]} or {None}:
                impacts.setdefault(value, set()).add(call["participant_id"])
    assert dict(many["consequence.vep_impact"]) == {k: len(v) for k, v in impacts.items()}
    assert sum(n for _, n in many["participant.sex"]) == len(raw.carriers(impact_in({"HIGH"})))
