"""The pre-aggregated tables stay equal to what the raw release says, through sync, eviction and re-sync.

The oracle recomputes every table from the release's Parquet files with pyarrow and plain Python (never the cache
or kfexplorer's SQL): carrier tables are the distinct (value, participant) pairs of carried calls (list columns
element by element, an absent annotation as None); the extremes table is min / max / any-missing per carrier."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.query.preaggregates import CARRIER_TABLES, EXTREME_FIELDS, EXTREMES_TABLE, META_TABLE
from kfexplorer.store.cache import connect
from kfexplorer.store.preaggregates import preaggregates_ready
from kfexplorer.sync.engine import sync_release
from kfexplorer.sync.evict import evict

# field → (raw table, raw column, is a list) — written from DATA_CONTRACT.md, independently of the registry
RAW_CARRIER_COLUMNS: dict[str, tuple[str, str, bool]] = {
    "consequence.gene_symbol": ("consequences", "gene_symbol", False),
    "consequence.vep_impact": ("consequences", "vep_impact", False),
    "consequence.consequence": ("consequences", "consequences", True),
    "consequence.biotype": ("consequences", "biotype", False),
    "variant.clinvar_sig": ("variants", "clinvar_sig", True),
    "variant.max_impact": ("variants", "max_impact", False),
    "variant.variant_class": ("variants", "variant_class", False),
    "variant.chromosome": ("occurrences", "chromosome", False),
    "occurrence.zygosity": ("occurrences", "zygosity", False),
}
RAW_NUMERIC_COLUMNS: dict[str, str] = {
    "variant.gnomad_genomes_3_af": "gnomad_genomes_3_af",
    "variant.gnomad_exomes_2_1_1_af": "gnomad_exomes_2_1_1_af",
    "variant.topmed_bravo_af": "topmed_bravo_af",
    "variant.thousand_genomes_af": "thousand_genomes_af",
    "variant.cadd_phred": "cadd_phred",
    "variant.revel_score": "revel_score",
    "variant.spliceai_ds": "spliceai_ds",
}


def _rows(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.parquet")):
        table = pq.read_table(path)
        for row in table.to_pylist():
            for part in path.relative_to(folder).parts[:-1]:  # hive partition values absent from the file
                name, _, value = part.partition("=")
                row.setdefault(name, value)
            rows.append(row)
    return rows


def raw_aggregates(release: Path, skip_studies: Iterable[str] = ()) -> dict[str, Any]:
    skipped = set(skip_studies)
    occurrences = [o for o in _rows(release / "variants" / "occurrences")
                   if o["has_alt"] and o["study_id"] not in skipped]
    variants: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(release / "variants" / "variants"):
        variants.setdefault(row["locus_id"], []).append(row)
    consequences: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(release / "variants" / "consequences"):
        consequences.setdefault(row["locus_id"], []).append(row)
    carriers: dict[str, set[tuple[Any, str]]] = {}
    for field, (table, column, is_list) in RAW_CARRIER_COLUMNS.items():
        pairs: set[tuple[Any, str]] = set()
        for occ in occurrences:
            joined: list[dict[str, Any] | None] = [occ]
            if table != "occurrences":
                joined = [*(variants if table == "variants" else consequences).get(occ["locus_id"], [])] or [None]
            for annotation in joined:
                value = None if annotation is None else annotation.get(column)
                if is_list:
                    pairs.update((item, occ["participant_id"]) for item in (value or []))
                else:
                    pairs.add((value, occ["participant_id"]))
        carriers[field] = pairs
    extremes: dict[str, dict[str, tuple[Any, Any, bool]]] = {}
    for field, column in RAW_NUMERIC_COLUMNS.items():
        values: dict[str, list[float | None]] = {}
        for occ in occurrences:
            found: list[dict[str, Any] | None] = [*variants.get(occ["locus_id"], [])] or [None]
            for variant in found:
                values.setdefault(occ["participant_id"], []).append(None if variant is None else variant.get(column))
        extremes[field] = {
            pid: (min((v for v in vs if v is not None), default=None), max((v for v in vs if v is not None),
                                                                            default=None),
                  any(v is None for v in vs))
            for pid, vs in values.items()
        }
    return {"carriers": carriers, "extremes": extremes}


def cached_aggregates(cache: Path) -> dict[str, Any]:
    con = connect(cache, read_only=True)
    try:
        assert preaggregates_ready(con)
        carriers = {field: set(con.execute(f"SELECT value, participant_id FROM {table}").fetchall())
                    for field, table in CARRIER_TABLES.items()}
        extremes: dict[str, dict[str, tuple[Any, Any, bool]]] = {}
        for field, names in EXTREME_FIELDS.items():
            rows = con.execute(f"SELECT participant_id, {names.minimum}, {names.maximum}, {names.missing} "
                               f"FROM {EXTREMES_TABLE}").fetchall()
            extremes[field] = {r[0]: (r[1], r[2], bool(r[3])) for r in rows}
        return {"carriers": carriers, "extremes": extremes}
    finally:
        con.close()


def assert_same(cached: dict[str, Any], raw: dict[str, Any]) -> None:
    for field in RAW_CARRIER_COLUMNS:
        assert cached["carriers"][field] == raw["carriers"][field], field
    for field in RAW_NUMERIC_COLUMNS:
        got, want = cached["extremes"][field], raw["extremes"][field]
        assert got.keys() == want.keys(), field
        for pid, (low, high, missing) in want.items():
            g_low, g_high, g_missing = got[pid]
            assert g_missing == missing, (field, pid)
            for a, b in ((g_low, low), (g_high, high)):
                assert (a is None and b is None) or math.isclose(a, b, rel_tol=1e-12), (field, pid, a, b)


@pytest.fixture(scope="module")
def release_and_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("preaggregates")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    return release, cache


def test_sync_builds_tables_equal_to_raw_release(release_and_cache: tuple[Path, Path]) -> None:
    release, cache = release_and_cache
    raw = raw_aggregates(release)
    assert len(raw["carriers"]["consequence.gene_symbol"]) > 100  # the data exercises the tables
    assert_same(cached_aggregates(cache), raw)


def test_evict_then_resync_keep_tables_right(release_and_cache: tuple[Path, Path], tmp_path: Path) -> None:
    release, original = release_and_cache
    cache = tmp_path / "cache"
    shutil.copytree(original, cache)
    studies = sorted({p.name.split("=", 1)[1] for p in (release / "variants" / "occurrences").iterdir()})
    evicted = studies[0]
    evict(cache, studies=[evicted])
    after_evict = raw_aggregates(release, skip_studies=[evicted])
    assert after_evict["carriers"] != raw_aggregates(release)["carriers"]  # the eviction changes the tables
    assert_same(cached_aggregates(cache), after_evict)

    # a new release without one chromosome's partitions: re-sync brings back the study, drops the chromosome
    changed = tmp_path / "release"
    shutil.copytree(release, changed)
    manifest = json.loads((changed / "release.json").read_text())
    for path in sorted(changed.glob("variants/**/chromosome=2")):
        for file in path.rglob("*.parquet"):
            manifest["files"].pop(file.relative_to(changed).as_posix(), None)
        shutil.rmtree(path)
    (changed / "release.json").write_text(json.dumps(manifest))
    sync_release(str(changed), cache)
    expected = raw_aggregates(changed)
    assert all(value != "2" for value, _ in expected["carriers"]["variant.chromosome"])
    assert_same(cached_aggregates(cache), expected)
    con = connect(cache, read_only=True)
    try:
        assert con.execute(f"SELECT count(*) FROM {META_TABLE}").fetchall()[0][0] == 1
    finally:
        con.close()
