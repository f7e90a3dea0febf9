"""The Summary / Compare aggregations on a synced demo release, each against an oracle that reads the raw release
(FHIR NDJSON and Parquet with pyarrow), never the cache."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Cohort, Group, criterion
from kfexplorer.services import cohort_charts
from kfexplorer.store.cache import connect
from kfexplorer.sync.engine import sync_release
from kfexplorer.sync.plan import SyncSelection

KF = "https://kidsfirstdrc.org/"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-"
AGE_EXTENSION = KF + "fhir/StructureDefinition/age-at-event"


@dataclass
class RawRelease:
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)  # participant -> sex, race, ethnicity, study
    diagnoses: list[dict[str, Any]] = field(default_factory=list)  # participant, preferred code, age, derived
    observed_hpo: dict[str, set[str]] = field(default_factory=dict)
    vital: dict[str, tuple[str, int]] = field(default_factory=dict)
    carried: list[dict[str, Any]] = field(default_factory=list)
    consequences: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _lines(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


def _identifier(resource: dict[str, Any], suffix: str) -> str | None:
    for ident in resource.get("identifier", []):
        if ident.get("system") == KF + suffix:
            return str(ident["value"])
    return None


def _us_core_text(patient: dict[str, Any], kind: str) -> str | None:
    for ext in patient.get("extension", []):
        if ext.get("url") == US_CORE + kind:
            for sub in ext.get("extension", []):
                if sub.get("url") == "text":
                    return str(sub["valueString"])
    return None


def read_raw(release: Path) -> RawRelease:
    raw = RawRelease()
    fhir = release / "fhir"
    refs: dict[str, str] = {}
    for patient in _lines(fhir / "Patient"):
        pid = _identifier(patient, "participant_id") or patient["id"]
        refs["Patient/" + patient["id"]] = pid
        raw.patients[pid] = {"sex": patient.get("gender"), "race": _us_core_text(patient, "race"),
                             "ethnicity": _us_core_text(patient, "ethnicity")}
    studies = {r["id"]: _identifier(r, "study_id") for r in _lines(fhir / "ResearchStudy")}
    for subject in _lines(fhir / "ResearchSubject"):
        raw.patients[refs[subject["individual"]["reference"]]]["study"] = studies[
            subject["study"]["reference"].split("/", 1)[1]]
    rank = {"mondo.owl": 0, "ncit.owl": 1}
    for cond in _lines(fhir / "Condition"):
        pid = refs[cond["subject"]["reference"]]
        status = {c.get("code") for c in cond.get("verificationStatus", {}).get("coding", [])}
        codings = cond.get("code", {}).get("coding", [])
        if "refuted" in status:
            continue
        if any(c["system"].endswith("hp.owl") for c in codings):
            if "confirmed" in status:
                raw.observed_hpo.setdefault(pid, set()).update(c["code"] for c in codings)
            continue
        preferred = sorted(codings, key=lambda c: (rank.get(c["system"].rsplit("/", 1)[-1], 2), c["code"]))[0]
        derived = any(t.get("code") == "SYSTEM_GENERATED" for t in cond.get("meta", {}).get("tag", []))
        raw.diagnoses.append({"participant": pid, "code": preferred["code"], "derived": derived,
                              "age": cond.get("onsetAge", {}).get("value")})
    for obs in _lines(fhir / "Observation"):
        if "263493007" not in {c.get("code") for c in obs.get("code", {}).get("coding", [])}:
            continue
        age = next(int(e["valueAge"]["value"]) for e in obs["extension"] if e["url"] == AGE_EXTENSION)
        pid = refs[obs["subject"]["reference"]]
        if pid not in raw.vital or raw.vital[pid][1] < age:
            raw.vital[pid] = (obs["valueCodeableConcept"]["text"], age)
    for path in sorted((release / "variants" / "occurrences").rglob("*.parquet")):
        raw.carried += [row for row in pq.read_table(path).to_pylist() if row["has_alt"]]
    for path in sorted((release / "variants" / "consequences").rglob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            raw.consequences.setdefault(row["locus_id"], []).append(row)
    return raw


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, RawRelease]]:
    base = tmp_path_factory.mktemp("cohort-charts")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    # without the notes: these oracles read curated FHIR phenotypes (notes-derived ones are issue #9's tests)
    sync_release(str(release), cache, selection=SyncSelection(include=frozenset({"variants", "fhir", "imaging"})))
    con = connect(cache, read_only=True)
    yield con, read_raw(release)
    con.close()


FEMALE = Cohort(criterion("participant.sex", "in", "female"))
FEMALE_HIGH = FEMALE.with_criterion(criterion("consequence.vep_impact", "in", "HIGH"))


def _ranked(counter: Counter[str], limit: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _members(raw: RawRelease, cohort: Cohort) -> set[str]:
    return {p for p, facts in raw.patients.items() if cohort == Cohort() or facts["sex"] == "female"}


@pytest.mark.parametrize("cohort", [Cohort(), FEMALE], ids=["all", "female"])
def test_participant_bars_match_fhir(synced: tuple[duckdb.DuckDBPyConnection, RawRelease], cohort: Cohort) -> None:
    con, raw = synced
    members = _members(raw, cohort)
    for builder, key in ((cohort_charts.participants_per_study, "study"), (cohort_charts.sex_counts, "sex"),
                         (cohort_charts.race_counts, "race"), (cohort_charts.ethnicity_counts, "ethnicity")):
        bars = builder(con, cohort)
        expected = Counter(raw.patients[p][key] for p in members)
        assert dict(zip(bars.values, bars.counts, strict=True)) == dict(expected), key
        assert list(bars.counts) == sorted(bars.counts, reverse=True)
    study = cohort_charts.participants_per_study(con, cohort)
    assert all(value in label for value, label in zip(study.values, study.labels, strict=True))


def test_top_diagnoses_and_phenotypes(synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    diagnoses: dict[str, set[str]] = defaultdict(set)
    for dx in raw.diagnoses:
        diagnoses[dx["code"]].add(dx["participant"])
    bars = cohort_charts.top_diagnoses(con, Cohort(), limit=8)
    assert list(zip(bars.values, bars.counts, strict=True)) == _ranked(
        Counter({code: len(ids) for code, ids in diagnoses.items()}), 8)
    assert all(label and not label.startswith("MONDO:") for label in bars.labels)
    phenotypes = Counter(term for terms in raw.observed_hpo.values() for term in terms)
    bars = cohort_charts.top_phenotypes(con, Cohort(), limit=10)
    assert list(zip(bars.values, bars.counts, strict=True)) == _ranked(phenotypes, 10)
    assert bars.field == "phenotype.observed"


def _first_diagnosis_days(raw: RawRelease) -> dict[str, int]:
    first: dict[str, int] = {}
    for dx in raw.diagnoses:
        if dx["age"] is not None and not dx["derived"]:
            first[dx["participant"]] = min(first.get(dx["participant"], dx["age"]), dx["age"])
    return first


def test_age_at_first_diagnosis_histogram(synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    members = _members(raw, FEMALE)
    years = Counter(int(days // 365.25) for p, days in _first_diagnosis_days(raw).items() if p in members)
    histogram = cohort_charts.age_at_diagnosis_histogram(con, FEMALE)
    assert {y: c for y, c in zip(histogram.years, histogram.counts, strict=True) if c} == dict(years)
    assert histogram.years == tuple(range(max(years) + 1))
    low, high = histogram.day_range(3)
    assert int(low // 365.25) == 3 and int((low - 1) // 365.25) == 2
    assert int(high // 365.25) == 3 and int((high + 1) // 365.25) == 4


def test_survival_data(synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    first = _first_diagnosis_days(raw)
    expected = {}
    for pid in raw.patients:
        if pid in first and pid in raw.vital and raw.vital[pid][1] >= first[pid]:
            expected[pid] = (raw.vital[pid][1] - first[pid], raw.vital[pid][0] == "Dead")
    data = cohort_charts.survival_data(con, Cohort())
    got = {p: (d, e) for p, d, e in zip(data.participant_ids, data.durations_days, data.events, strict=True)}
    assert got == expected
    assert data.excluded == len(raw.patients) - len(expected)
    assert any(event for _, event in expected.values())


PROTEIN_ALTERING = frozenset({"HIGH", "MODERATE"})


def _genes_oracle(raw: RawRelease, members: set[str], impacts: frozenset[str] | None) -> Counter[str]:
    """Participants per gene carrying a call with a consequence row in the gene whose impact is in `impacts`."""
    carriers: dict[str, set[str]] = defaultdict(set)
    for occ in raw.carried:
        if occ["participant_id"] not in members:
            continue
        for row in raw.consequences.get(occ["locus_id"], []):
            if row["gene_symbol"] and (impacts is None or row["vep_impact"] in impacts):
                carriers[row["gene_symbol"]].add(occ["participant_id"])
    return Counter({gene: len(ids) for gene, ids in carriers.items()})


@pytest.mark.parametrize("preaggregated", [True, False], ids=["carrier-table", "scan"])
def test_top_mutated_genes_follow_variant_criteria(synced: tuple[duckdb.DuckDBPyConnection, RawRelease],
                                                   preaggregated: bool) -> None:
    con, raw = synced
    assert cohort_charts.uses_preaggregates(con)  # a fresh sync builds them
    members = _members(raw, FEMALE)
    # protein-altering calls only (HIGH / MODERATE), narrowed further by the cohort's own variant criteria
    female_low = FEMALE.with_criterion(criterion("consequence.vep_impact", "in", "LOW"))
    for cohort, impacts in ((FEMALE, PROTEIN_ALTERING), (FEMALE_HIGH, frozenset({"HIGH"})), (female_low, None)):
        bars = cohort_charts.top_mutated_genes(con, cohort, limit=12, preaggregated=preaggregated)
        expected = _ranked(_genes_oracle(raw, members, impacts), 12) if impacts else []
        assert list(zip(bars.values, bars.counts, strict=True)) == expected
    assert bars.field == "consequence.gene_symbol" and "HIGH / MODERATE" in bars.title
    # counting every carried call ranks genes by size, not by damage: the charts differ on this release
    assert _ranked(_genes_oracle(raw, members, PROTEIN_ALTERING), 12) != _ranked(_genes_oracle(raw, members, None), 12)


def test_nested_and_groups_narrow_the_calls_as_a_flat_cohort_does(
        synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    """and(sex, and(impact HIGH, not-a-variant-criterion)) charts the HIGH calls, as and(sex, impact HIGH) does
    (a group made in the query bar must not widen the charts to every call of the members)."""
    con, raw = synced
    members = _members(raw, FEMALE)
    nested = Cohort(Group("and", (criterion("participant.sex", "in", "female"), Group("and", (
        criterion("consequence.vep_impact", "in", "HIGH"), criterion("participant.sex", "in", "female"))))))
    for preaggregated in (True, False):
        bars = cohort_charts.top_mutated_genes(con, nested, limit=12, preaggregated=preaggregated)
        high = _ranked(_genes_oracle(raw, members, frozenset({"HIGH"})), 12)
        assert list(zip(bars.values, bars.counts, strict=True)) == high
    assert high != _ranked(_genes_oracle(raw, members, PROTEIN_ALTERING), 12)


@pytest.mark.parametrize(("cohort", "impact"), [(FEMALE, None), (FEMALE_HIGH, "HIGH")], ids=["all", "high"])
def test_consequence_breakdown_counts_variants(synced: tuple[duckdb.DuckDBPyConnection, RawRelease], cohort: Cohort,
                                               impact: str | None) -> None:
    con, raw = synced
    members = _members(raw, FEMALE)
    loci: dict[str, set[str]] = defaultdict(set)
    for occ in raw.carried:
        if occ["participant_id"] in members:
            for row in raw.consequences.get(occ["locus_id"], []):
                if impact is None or row["vep_impact"] == impact:  # the qualifying consequence rows
                    for term in row["consequences"] or []:
                        loci[term].add(occ["locus_id"])
    bars = cohort_charts.consequence_breakdown(con, cohort, limit=10)
    assert list(zip(bars.values, bars.counts, strict=True)) == _ranked(
        Counter({term: len(ids) for term, ids in loci.items()}), 10)
    assert bars.unit == "variants"


def test_protein_variants_of_a_gene(synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    members = _members(raw, FEMALE)
    genes = cohort_charts.mutated_gene_names(con, FEMALE)
    assert genes
    gene = genes[0]
    carriers: dict[str, set[str]] = defaultdict(set)
    position: dict[str, int] = {}
    for occ in raw.carried:
        if occ["participant_id"] not in members:
            continue
        rows = [r for r in raw.consequences.get(occ["locus_id"], [])
                if r["gene_symbol"] == gene and r["protein_position"] is not None]
        if rows:
            best = max(rows, key=lambda r: (bool(r["mane_select"]), bool(r["canonical"])))
            carriers[occ["locus_id"]].add(occ["participant_id"])
            position[occ["locus_id"]] = best["protein_position"]
    expected = sorted((position[locus], locus, len(ids)) for locus, ids in carriers.items())
    got = cohort_charts.protein_variants(con, FEMALE, gene)
    assert [(v.position, v.locus_id, v.carriers) for v in got] == expected
    assert all(v.hgvsp.startswith("p.") for v in got)


def test_summary_charts_ignore_their_own_field(synced: tuple[duckdb.DuckDBPyConnection, RawRelease]) -> None:
    con, raw = synced
    charts = cohort_charts.summary_charts(con, FEMALE_HIGH)
    females = _members(raw, FEMALE)
    high_carriers = {occ["participant_id"] for occ in raw.carried if occ["participant_id"] in females and any(
        row["vep_impact"] == "HIGH" for row in raw.consequences.get(occ["locus_id"], []))}
    assert charts.participants == len(high_carriers)
    sex = charts.series("sex")  # the sex chart shows every sex among HIGH carriers, as a facet does
    assert set(sex.values) == {"female", "male"}
    study = charts.series("study")  # the study chart is of the whole cohort
    assert sum(study.counts) == len(high_carriers)
