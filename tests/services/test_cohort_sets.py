"""Venn regions and cohort set operations on a synced demo release, checked against plain-Python sets of participant
ids read from the raw release (FHIR NDJSON), never the cache or the compiler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Cohort, QueryError, criterion
from kfexplorer.services.cohort_count import cohort_participants
from kfexplorer.services.cohort_sets import (
    difference,
    intersection,
    region_cohort,
    region_words,
    union,
    venn_counts,
    venn_regions,
)
from kfexplorer.services.cohort_state import CohortState, combine_queries
from kfexplorer.store.cache import connect
from kfexplorer.sync.engine import sync_release

KF = "https://kidsfirstdrc.org/"


def _lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(folder.rglob("*.ndjson"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _identifier(resource: dict[str, Any], suffix: str) -> str:
    return next(str(i["value"]) for i in resource.get("identifier", []) if i.get("system") == KF + suffix)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    """The cache, and from the raw FHIR: 'female', 'proband', 'study:<id>' and 'all' → participant ids."""
    base = tmp_path_factory.mktemp("cohort-sets")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    fhir = release / "fhir"
    sets: dict[str, set[str]] = {"all": set(), "female": set(), "proband": set()}
    patient_ids: dict[str, str] = {}
    for patient in _lines(fhir / "Patient"):
        pid = _identifier(patient, "participant_id")
        patient_ids["Patient/" + patient["id"]] = pid
        sets["all"].add(pid)
        if patient.get("gender") == "female":
            sets["female"].add(pid)
    studies = {r["id"]: _identifier(r, "study_id") for r in _lines(fhir / "ResearchStudy")}
    for subject in _lines(fhir / "ResearchSubject"):
        study = studies[subject["study"]["reference"].split("/", 1)[1]]
        sets.setdefault("study:" + study, set()).add(patient_ids[subject["individual"]["reference"]])
    for obs in _lines(fhir / "Observation"):
        codes = {c.get("code") for c in obs.get("code", {}).get("coding", [])}
        if "85900004" in codes and obs.get("valueBoolean") is True:
            sets["proband"].add(patient_ids[obs["subject"]["reference"]])
    return cache, sets


def _cohorts(sets: dict[str, set[str]]) -> tuple[list[Cohort], list[set[str]]]:
    study = sorted(k for k in sets if k.startswith("study:"))[0]
    cohorts = [
        Cohort(criterion("participant.sex", "in", "female"), "Girls"),
        Cohort(criterion("participant.study_id", "in", study.split(":", 1)[1]), "Study"),
        Cohort(criterion("participant.is_proband", "in", True), "Probands"),
    ]
    return cohorts, [sets["female"], sets[study], sets["proband"]]


def _oracle_region(expected: list[set[str]], everyone: set[str], mask: int) -> set[str]:
    members = set(everyone)
    for i, ids in enumerate(expected):
        members = members & ids if mask >> i & 1 else members - ids
    return members


def test_venn_of_three_and_of_two_match_python_sets(synced: tuple[Path, dict[str, set[str]]]) -> None:
    cache, sets = synced
    cohorts, expected = _cohorts(sets)
    assert all(0 < len(ids) < len(sets["all"]) for ids in expected)
    con = connect(cache, read_only=True)
    try:
        for size in (3, 2):
            counts = venn_counts(con, cohorts[:size])
            assert sorted(counts.regions) == venn_regions(size) == list(range(1, 2 ** size))
            for mask in venn_regions(size):
                oracle = _oracle_region(expected[:size], sets["all"], mask)
                assert counts.regions[mask] == len(oracle), (size, mask)
                region = region_cohort(cohorts[:size], mask)
                assert set(cohort_participants(con, region)) == oracle
            assert counts.totals == tuple(len(ids) for ids in expected[:size])
            assert counts.union == len(set().union(*expected[:size]))
    finally:
        con.close()


def test_union_intersection_difference_stay_queries(synced: tuple[Path, dict[str, set[str]]]) -> None:
    cache, sets = synced
    cohorts, expected = _cohorts(sets)
    con = connect(cache, read_only=True)
    try:
        assert set(cohort_participants(con, union(cohorts))) == expected[0] | expected[1] | expected[2]
        assert set(cohort_participants(con, intersection(cohorts[:2]))) == expected[0] & expected[1]
        assert set(cohort_participants(con, difference(cohorts[0], cohorts[1:]))) == (
            expected[0] - expected[1] - expected[2])
        # the same through the query bar's combination by number ("1 and not (2 or 3)")
        state = CohortState(cohorts[0])
        state.add_query(cohorts[1])
        state.add_query(cohorts[2])
        index = state.combine("1 and not (2 or 3)")
        assert state.active_index == index == 3 and state.cohort.name == "Q1 and not (Q2 or Q3)"
        assert set(cohort_participants(con, state.cohort)) == expected[0] - (expected[1] | expected[2])
        state.combine("(1 or 2) and 3")
        assert set(cohort_participants(con, state.cohort)) == (expected[0] | expected[1]) & expected[2]
        assert state.undo() and state.active_index == 3
    finally:
        con.close()


def test_combination_errors_are_worded() -> None:
    queries = [Cohort(), Cohort()]
    for text, words in (("1 and 4", "no query Q4"), ("1 and (2", "ends too early"), ("1; DROP TABLE x", "cannot read"),
                        ("", "empty"), ("1 2", "unexpected")):
        with pytest.raises(QueryError, match=words):
            combine_queries(text, queries)
    with pytest.raises(QueryError):
        region_cohort(queries, 4)
    assert region_words(["A", "B", "C"], 0b011) == "A and B, not C"
    assert region_words(["A", "B"], 0b10) == "B only"
