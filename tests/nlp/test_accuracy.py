"""Accuracy on the hand-labelled set (committed before the rules), speed, and no network use."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from kfexplorer.nlp.accuracy import read_labelled_notes, score
from kfexplorer.nlp.pipeline import PhenotypeExtractor, observed_terms
from kfexplorer.ontology.hpo import load_hpo

LABELLED = Path(__file__).resolve().parents[1] / "data" / "nlp_notes"


def test_the_labelled_set_is_complete() -> None:
    texts = sorted(LABELLED.glob("*.txt"))
    assert len(texts) >= 60
    for text in texts:
        rows = json.loads(text.with_name(text.stem + ".labels.json").read_text())
        assert rows and all(set(r) == {"hpo_id", "observed"} for r in rows)


def test_observed_phenotypes_meet_the_goals(extractor: PhenotypeExtractor) -> None:
    notes = read_labelled_notes(LABELLED)
    assert len(notes) >= 60
    scores = score(notes, lambda n: observed_terms(extractor.extract(n.text)), load_hpo())
    assert scores.precision >= 0.90, scores.errors
    assert scores.recall >= 0.80, scores.errors
    started = time.perf_counter()
    for note in notes:
        extractor.extract(note.text)
    assert len(notes) / (time.perf_counter() - started) >= 10  # notes per second


def test_scoring_counts_direct_parents_and_children_only() -> None:
    hpo = load_hpo()
    notes = [n for n in read_labelled_notes(LABELLED) if n.name == "ep02_febrile.txt"]
    gold = set(notes[0].observed)
    exact = score(notes, lambda n: gold, hpo)
    assert exact.precision == exact.recall == 1.0
    # Seizure is no direct parent of "Febrile seizure (within ...)": a wrong guess, and the labelled term is missed
    wrong = score(notes, lambda n: (gold - {"HP:0002373"}) | {"HP:0001250"}, hpo)
    assert wrong.correct == len(gold) - 1 and wrong.found == len(gold) - 1
    # its direct parent counts
    parent = score(notes, lambda n: (gold - {"HP:0002373"}) | {"HP:0032894"}, hpo)
    assert parent.precision == parent.recall == 1.0


def test_no_network_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network use in the NLP pipeline")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))  # type: ignore[arg-type]
    fresh = PhenotypeExtractor()  # builds the pipeline and lexicon from installed files only
    mentions = fresh.extract((LABELLED / "bt01_medullo_presentation.txt").read_text())
    assert {"HP:0002315", "HP:0001085"} <= observed_terms(mentions)
    assert attempts == []
