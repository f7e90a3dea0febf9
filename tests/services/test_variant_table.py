"""The variants / occurrences tables of a cohort against an oracle over the raw release (Parquet + FHIR Patients):
carriers, participant and allele frequency, paging and jumps in the current sort, carriers drill-down."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Cohort, all_of, criterion
from kfexplorer.services.variant_table import OCCURRENCE_COLUMNS, VARIANT_COLUMNS, CohortTables, Sort
from kfexplorer.services.workspace import Workspace
from kfexplorer.sync.engine import sync_release


def _ndjson(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


class Raw:
    def __init__(self, release: Path) -> None:
        self.sex: dict[str, str] = {}
        for patient in _ndjson(release / "fhir" / "Patient"):
            pid = next((i["value"] for i in patient.get("identifier", [])
                        if str(i.get("system", "")).endswith("/participant_id")), patient["id"])
            self.sex[pid] = patient.get("gender", "")
        self.occurrences: list[dict[str, Any]] = []
        for path in sorted((release / "variants" / "occurrences").rglob("*.parquet")):
            self.occurrences += pq.read_table(path).to_pylist()
        self.impacts: dict[str, set[str]] = defaultdict(set)
        self.genes: dict[str, set[str]] = defaultdict(set)
        for path in sorted((release / "variants" / "consequences").rglob("*.parquet")):
            for c in pq.read_table(path, columns=["locus_id", "vep_impact", "gene_symbol"]).to_pylist():
                self.impacts[c["locus_id"]].add(c["vep_impact"])
                if c["gene_symbol"]:
                    self.genes[c["locus_id"]].add(c["gene_symbol"])

    def table(self, people: set[str], keep: Any = lambda r: True) -> tuple[dict[str, tuple[int, float, float]], int]:
        """locus → (carriers, participant frequency, allele frequency) over `people`'s calls satisfying keep."""
        sequenced = {r["participant_id"] for r in self.occurrences if r["participant_id"] in people}
        carriers: dict[str, set[str]] = defaultdict(set)
        alleles: dict[str, int] = defaultdict(int)
        for r in self.occurrences:
            if r["has_alt"] and r["participant_id"] in people and keep(r):
                carriers[r["locus_id"]].add(r["participant_id"])
                alleles[r["locus_id"]] += {"HOM": 2, "HET": 1, "HEM": 1}.get(
                    r["zygosity"], max(1, sum(1 for a in r["calls"] or [] if a is not None and a > 0)))
        n = len(sequenced)
        return ({locus: (len(who), len(who) / n, alleles[locus] / (2 * n)) for locus, who in carriers.items()},
                n)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CohortTables, Raw]]:
    root = tmp_path_factory.mktemp("variant_table")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    workspace = Workspace.open(cache)
    yield CohortTables(workspace.cursor), Raw(release)
    workspace.close()


def _all_rows(tables: CohortTables, cohort: Cohort, sort: Sort) -> list[tuple[Any, ...]]:
    made = tables.variants(cohort, sort)
    rows: list[tuple[Any, ...]] = []
    while len(rows) < made.total:
        page = tables.page(made, len(rows), 97)
        assert page.rows, "a page inside the table came back empty"
        rows += page.rows
    assert len(rows) == made.total
    return rows


def test_variant_rows_match_the_raw_release(setup: tuple[CohortTables, Raw]) -> None:
    tables, raw = setup
    girls = {p for p, s in raw.sex.items() if s == "female"}
    cohort = Cohort(all_of(criterion("participant.sex", "in", "female"),
                           criterion("consequence.vep_impact", "in", "HIGH", "MODERATE")))
    expected, sequenced = raw.table(girls, lambda r: bool(raw.impacts[r["locus_id"]] & {"HIGH", "MODERATE"}))
    assert expected and sequenced
    names = [c.name for c in VARIANT_COLUMNS]
    rows = _all_rows(tables, cohort, Sort("locus_id"))
    got = {r[names.index("locus_id")]: (r[names.index("carriers")], r[names.index("participant_frequency")],
                                        r[names.index("allele_frequency")]) for r in rows}
    assert got.keys() == expected.keys()
    for locus, (carriers, pf, af) in expected.items():
        assert got[locus][0] == carriers
        assert got[locus][1] == pytest.approx(pf)
        assert got[locus][2] == pytest.approx(af)
    assert [r[0] for r in rows] == sorted(expected)


def test_sort_page_and_jump(setup: tuple[CohortTables, Raw]) -> None:
    tables, raw = setup
    everyone = set(raw.sex)
    expected, _n = raw.table(everyone)
    order = sorted(expected, key=lambda locus: (-expected[locus][0], locus))
    made = tables.variants(Cohort(), Sort("carriers", descending=True))
    assert made.total == len(order)
    names = [c.name for c in VARIANT_COLUMNS]
    for row in (0, 1, len(order) // 3, len(order) - 5, len(order) - 1):
        page = tables.page(made, row, 5)
        assert [r[names.index("locus_id")] for r in page.rows] == order[row:row + 5]
    assert tables.page(made, len(order), 5).rows == []
    with pytest.raises(ValueError):
        tables.variants(Cohort(), Sort("carriers; DROP TABLE x"))


def test_occurrences_view_pages_every_call(setup: tuple[CohortTables, Raw]) -> None:
    tables, raw = setup
    boys = {p for p, s in raw.sex.items() if s == "male"}
    cohort = Cohort(all_of(criterion("participant.sex", "in", "male")))
    expected = sorted((r["participant_id"], r["locus_id"]) for r in raw.occurrences
                      if r["has_alt"] and r["participant_id"] in boys)
    made = tables.occurrences(cohort)
    assert made.total == len(expected)
    got: list[tuple[str, str]] = []
    offset = 0
    while offset < made.total:
        page = tables.occurrence_page(made, offset, 300)
        got += [(r[0], r[1]) for r in page.rows]
        offset += 300
    assert sorted(got) == expected and len(set(got)) == len(got)
    # sorted by a column: the jump lands on the right row
    by_gq = tables.occurrences(cohort, Sort("gq", descending=True))
    gq = [c.name for c in OCCURRENCE_COLUMNS].index("gq")
    values = sorted((r["gq"] for r in raw.occurrences if r["has_alt"] and r["participant_id"] in boys),
                    key=lambda v: (v is None, -(v or 0)))
    middle = len(values) // 2
    assert [r[gq] for r in tables.occurrence_page(by_gq, middle, 10).rows] == values[middle:middle + 10]


def test_carriers_and_top_genes(setup: tuple[CohortTables, Raw]) -> None:
    tables, raw = setup
    cohort = Cohort(all_of(criterion("participant.is_proband", "in", True)))
    probands = {r["participant_id"] for r in raw.occurrences if r["is_proband"]}
    expected, _n = raw.table(probands)
    locus = max(expected, key=lambda lo: (expected[lo][0], lo))
    page = tables.carriers(cohort, locus)
    zygosity = {r["participant_id"]: (r["zygosity"], r["mother_zygosity"], r["father_zygosity"])
                for r in raw.occurrences if r["locus_id"] == locus and r["has_alt"] and r["participant_id"] in probands}
    assert {r[0]: (r[1], r[2], r[3]) for r in page.rows} == zygosity
    per_gene: dict[str, set[str]] = defaultdict(set)
    for r in raw.occurrences:
        if r["has_alt"] and r["participant_id"] in probands:
            for gene in raw.genes[r["locus_id"]]:
                per_gene[gene].add(r["participant_id"])
    ranked = sorted(((g, len(who)) for g, who in per_gene.items()), key=lambda item: (-item[1], item[0]))
    assert tables.preaggregated()  # the synced cache has the carrier tables: the fast path answers
    assert tables.top_genes(cohort, 5) == ranked[:5]
    # with a variant criterion the general path answers: genes of the HOM calls only
    per_gene.clear()
    for r in raw.occurrences:
        if r["has_alt"] and r["participant_id"] in probands and r["zygosity"] == "HOM":
            for gene in raw.genes[r["locus_id"]]:
                per_gene[gene].add(r["participant_id"])
    ranked = sorted(((g, len(who)) for g, who in per_gene.items()), key=lambda item: (-item[1], item[0]))
    hom = Cohort(all_of(criterion("participant.is_proband", "in", True),
                        criterion("occurrence.zygosity", "in", "HOM")))
    assert tables.top_genes(hom, 5) == ranked[:5]
