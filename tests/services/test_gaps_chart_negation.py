"""Summary charts drop the cohort's criteria on their own field, under a NOT too (as facets do), so an excluded
value keeps its bar; every other chart still counts the cohort with the NOT. Oracles read the raw release."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Cohort, Criterion, all_of, negate
from kfexplorer.services.cohort_charts import clinical_charts, variant_charts
from kfexplorer.services.workspace import Workspace
from kfexplorer.sync.engine import sync_release

KF = "https://kidsfirstdrc.org/"


class Raw:
    def __init__(self, release: Path) -> None:
        self.sex: dict[str, str] = {}
        self.race: dict[str, str | None] = {}
        for path in sorted((release / "fhir" / "Patient").rglob("*.ndjson")):
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                patient = json.loads(line)
                pid = next(str(i["value"]) for i in patient["identifier"] if i.get("system") == KF + "participant_id")
                self.sex[pid] = patient["gender"]
        damaging: dict[str, set[str]] = {}
        for path in sorted((release / "variants" / "consequences").rglob("*.parquet")):
            for row in pq.read_table(path, columns=["locus_id", "gene_symbol", "vep_impact"]).to_pylist():
                if row["vep_impact"] in ("HIGH", "MODERATE") and row["gene_symbol"]:
                    damaging.setdefault(row["locus_id"], set()).add(row["gene_symbol"])
        self.gene_carriers: dict[str, set[str]] = {}
        for path in sorted((release / "variants" / "occurrences").rglob("*.parquet")):
            for row in pq.read_table(path, columns=["participant_id", "locus_id", "has_alt"]).to_pylist():
                if row["has_alt"]:
                    for gene in damaging.get(row["locus_id"], ()):
                        self.gene_carriers.setdefault(gene, set()).add(row["participant_id"])


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Raw]:
    root = tmp_path_factory.mktemp("gaps-chart-negation")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    return cache, Raw(release)


def bars(series: object) -> dict[object, int]:
    return dict(zip(series.values, series.counts, strict=True))  # type: ignore[attr-defined]


def test_a_not_on_sex_keeps_every_sex_bar_and_narrows_the_other_charts(synced: tuple[Path, Raw]) -> None:
    cache, raw = synced
    not_female = Cohort(all_of(negate(Criterion("participant.sex", "in", ("female",)))))
    rest = {p for p, sex in raw.sex.items() if sex != "female"}
    assert rest and len(rest) < len(raw.sex)
    with Workspace.open(cache) as workspace:
        charts = clinical_charts(workspace.cursor(), not_female)
        none_of = clinical_charts(workspace.cursor(), Cohort(all_of(Criterion("participant.sex", "not_in",
                                                                              ("female",)))))
    assert charts.participants == len(rest)
    assert bars(charts.series("sex")) == dict(Counter(raw.sex.values()))  # female's bar is still there
    assert bars(none_of.series("sex")) == dict(Counter(raw.sex.values()))
    study_total = sum(charts.series("study").counts)  # another chart: still the cohort without the females
    assert study_total == len(rest)


def test_a_not_on_a_gene_keeps_its_bar_in_the_gene_chart(synced: tuple[Path, Raw]) -> None:
    cache, raw = synced
    gene = max(sorted(raw.gene_carriers), key=lambda g: len(raw.gene_carriers[g]))
    cohort = Cohort(all_of(negate(Criterion("consequence.gene_symbol", "in", (gene,)))))
    with Workspace.open(cache) as workspace:
        series = next(s for s in variant_charts(workspace.cursor(), cohort) if s.key == "gene")
    assert bars(series)[gene] == len(raw.gene_carriers[gene])
