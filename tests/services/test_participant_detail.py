"""load_participant_detail / read_note_text over a real synced demo release, checked against the raw FHIR JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.services.participant_detail import (
    TIMELINE_KINDS,
    ParticipantDetail,
    load_participant_detail,
    read_note_text,
)
from kfexplorer.services.workspace import Workspace
from kfexplorer.store.cache import UnsafePathError
from kfexplorer.sync.engine import sync_release

PARTICIPANT_SYSTEM = "https://kidsfirstdrc.org/participant_id"


def build_detail_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 30-participant demo release synced into a cache, built once per test session (shared with the UI tests)."""
    base = tmp_path_factory.getbasetemp() / "kf-participant-detail"
    release, cache, done = base / "release", base / "cache", base / "built"
    if not done.is_file():
        generate_release(release, participants=30, occurrences=3_000, seed=7, force=True)
        sync_release(str(release), cache)
        done.write_text("ok")
    return release, cache


class FhirOracle:
    """Answers read straight from the release's FHIR NDJSON."""

    def __init__(self, release: Path) -> None:
        self.resources: dict[str, list[dict[str, Any]]] = {}
        for path in sorted((release / "fhir").rglob("*.ndjson")):
            for line in path.read_text().splitlines():
                if line.strip():
                    resource = json.loads(line)
                    self.resources.setdefault(resource["resourceType"], []).append(resource)
        self.pid_by_ref = {
            f"Patient/{p['id']}": next(i["value"] for i in p["identifier"] if i["system"] == PARTICIPANT_SYSTEM)
            for p in self.resources["Patient"]}
        self.ref_by_pid = {pid: ref for ref, pid in self.pid_by_ref.items()}

    @staticmethod
    def category(resource: dict[str, Any]) -> str:
        return str(resource["category"][0]["coding"][0]["code"])

    def conditions(self, pid: str, categories: set[str]) -> list[dict[str, Any]]:
        ref = self.ref_by_pid[pid]
        return [c for c in self.resources["Condition"]
                if c["subject"]["reference"] == ref and self.category(c) in categories]

    def diagnoses(self, pid: str) -> list[dict[str, Any]]:
        return self.conditions(pid, {"disease", "nlp-derived"})

    def phenotypes(self, pid: str) -> dict[str, set[str]]:
        """{'observed': labels, 'not observed': labels} (refuted = not observed)."""
        found: dict[str, set[str]] = {"observed": set(), "not observed": set()}
        for c in self.conditions(pid, {"phenotype"}):
            status = c["verificationStatus"]["coding"][0]["code"]
            found["not observed" if status == "refuted" else "observed"].add(c["code"]["coding"][0]["display"])
        return found

    def relatives(self, proband: str) -> dict[str, str]:
        """{relative participant id: relationship} from the family-relationship Observations."""
        ref = self.ref_by_pid[proband]
        return {self.pid_by_ref[o["focus"][0]["reference"]]: o["valueCodeableConcept"]["text"]
                for o in self.resources["Observation"]
                if o["code"].get("text") == "Family relationship" and o["subject"]["reference"] == ref}

    def trio_probands(self) -> list[str]:
        probands = []
        for group in self.resources["Group"]:
            if group["code"]["coding"][0]["code"] == "trio":
                members = [self.pid_by_ref[m["entity"]["reference"]] for m in group["member"]]
                probands += [pid for pid in members if self.relatives(pid)]
        return sorted(probands)

    def notes(self, pid: str) -> dict[str, str]:
        """{title: release path} of the participant's clinical notes."""
        ref = self.ref_by_pid[pid]
        return {d["content"][0]["attachment"]["title"] + "|" + d["id"]: d["content"][0]["attachment"]["url"]
                for d in self.resources["DocumentReference"]
                if d["subject"]["reference"] == ref and d["category"][0]["text"] == "Clinical Notes"}

    @staticmethod
    def preferred_label(condition: dict[str, Any]) -> str:
        codings = condition["code"]["coding"]
        mondo = [c for c in codings if c["code"].startswith("MONDO:")]
        return str((mondo or codings)[0]["display"])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_detail_release(tmp_path_factory)


@pytest.fixture(scope="module")
def oracle(built: tuple[Path, Path]) -> FhirOracle:
    return FhirOracle(built[0])


@pytest.fixture(scope="module")
def con(built: tuple[Path, Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(built[1] / "kfexplorer.duckdb"), read_only=True,
                                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    yield connection
    connection.close()


def load(con: duckdb.DuckDBPyConnection, pid: str) -> ParticipantDetail:
    detail = load_participant_detail(con, pid)
    assert detail is not None
    return detail


def test_every_participant_matches_the_fhir_json(con: duckdb.DuckDBPyConnection, oracle: FhirOracle) -> None:
    for pid in oracle.ref_by_pid:
        detail = load(con, pid)
        assert detail.participant_id == pid
        expected_dx = oracle.diagnoses(pid)
        assert len(detail.diagnoses) == len(expected_dx)
        assert sorted(d.label or "" for d in detail.diagnoses) == sorted(map(oracle.preferred_label, expected_dx))
        expected_derived = sum(oracle.category(c) == "nlp-derived" for c in expected_dx)
        assert sum(d.derived for d in detail.diagnoses) == expected_derived
        phenotypes = oracle.phenotypes(pid)
        assert {p.label for p in detail.observed_phenotypes} == phenotypes["observed"]
        assert {p.label for p in detail.not_observed_phenotypes} == phenotypes["not observed"]
        assert {n.title + "|" + n.document_id: n.path for n in detail.notes if n.title} == oracle.notes(pid)


def test_a_trio_proband_has_the_family_with_relationships(con: duckdb.DuckDBPyConnection,
                                                          oracle: FhirOracle) -> None:
    probands = oracle.trio_probands()
    assert probands, "the demo release should hold a trio"
    for proband in probands:
        detail = load(con, proband)
        assert detail.family is not None and detail.family.family_type == "trio"
        members = {m.participant_id: m.relationship_to_proband for m in detail.family.members}
        assert members == {proband: "proband", **oracle.relatives(proband)}
        assert detail.family.members[0].participant_id == proband  # proband first
        assert detail.study is not None and detail.study.title  # the study's name, not only its id
        relative = next(iter(oracle.relatives(proband)))
        relative_detail = load(con, relative)
        assert relative_detail.family is not None
        assert relative_detail.family.family_id == detail.family.family_id


def test_timeline_orders_every_dated_fact(con: duckdb.DuckDBPyConnection, oracle: FhirOracle) -> None:
    pid = max(oracle.ref_by_pid, key=lambda p: len(oracle.diagnoses(p)) + len(oracle.conditions(p, {"phenotype"})))
    detail = load(con, pid)
    ages = [e.age_days for e in detail.timeline]
    assert ages == sorted(ages)
    assert {e.kind for e in detail.timeline} <= set(TIMELINE_KINDS)
    dated_conditions = [c for c in oracle.conditions(pid, {"disease", "nlp-derived", "phenotype"}) if "onsetAge" in c]
    assert sum(e.kind in ("Diagnosis", "Phenotype") for e in detail.timeline) == len(dated_conditions)
    follow_up = detail.participant["age_at_last_follow_up_days"]
    assert [e.age_days for e in detail.timeline if e.kind == "Follow-up"] == [follow_up]
    assert sum(not e.observed for e in detail.timeline) == len(oracle.phenotypes(pid)["not observed"])


def test_imaging_studies_count_their_series(con: duckdb.DuckDBPyConnection, oracle: FhirOracle) -> None:
    studies = oracle.resources["ImagingStudy"]
    assert studies
    for study in studies:
        pid = oracle.pid_by_ref[study["subject"]["reference"]]
        detail = load(con, pid)
        uid = study["identifier"][0]["value"].removeprefix("urn:oid:")
        shown = next(s for s in detail.imaging_studies if s.study_instance_uid == uid)
        assert shown.series_count == len(study["series"])
        assert set(shown.modalities) == {s["modality"]["code"] for s in study["series"]}


def test_note_text_comes_from_the_cache_and_stays_inside_it(built: tuple[Path, Path], con: duckdb.DuckDBPyConnection,
                                                            oracle: FhirOracle) -> None:
    release, cache = built
    pid = next(p for p in sorted(oracle.ref_by_pid) if oracle.notes(p))
    note = load(con, pid).notes[0]
    assert note.path is not None
    assert read_note_text(cache, note.path) == (release / note.path).read_text(encoding="utf-8")
    assert read_note_text(cache, note.path, limit=10).startswith((release / note.path).read_text()[:10])
    with pytest.raises(UnsafePathError):
        read_note_text(cache, "../kfexplorer.duckdb")
    with pytest.raises(FileNotFoundError):
        read_note_text(cache, "notes/nobody/missing.txt")


def test_unknown_ids_fhir_ids_and_a_workspace_source(built: tuple[Path, Path], con: duckdb.DuckDBPyConnection,
                                                     oracle: FhirOracle) -> None:
    assert load_participant_detail(con, "PT_NOBODY") is None
    assert load_participant_detail(con, "x' OR '1'='1") is None  # a value, never SQL
    pid, ref = next(iter(oracle.ref_by_pid.items()))
    assert load(con, ref.removeprefix("Patient/")).participant_id == pid
    with Workspace.open(built[1]) as workspace:
        assert load_participant_detail(workspace, pid) == load(con, pid)


def test_a_participants_only_cache_still_loads(tmp_path: Path) -> None:
    db = duckdb.connect(str(tmp_path / "only.duckdb"))
    db.execute("CREATE TABLE participants (participant_id VARCHAR, sex VARCHAR, family_id VARCHAR)")
    db.execute("INSERT INTO participants VALUES ('PT_A', 'female', 'FM_1'), ('PT_B', 'male', 'FM_1')")
    detail = load(db, "PT_A")
    assert detail.diagnoses == () and detail.phenotypes == () and detail.notes == () and detail.timeline == ()
    assert detail.family is not None
    assert {m.participant_id for m in detail.family.members} == {"PT_A", "PT_B"}
    db.close()
