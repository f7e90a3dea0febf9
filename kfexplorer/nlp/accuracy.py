"""Precision / recall / F1 of observed phenotypes against labelled notes.

A labelled note is `<name>.txt` beside `<name>.labels.json` ([{"hpo_id": ..., "observed": true|false}], the format of
tests/data/nlp_notes and of the demo release's notes/). A predicted observed term is correct when it is a labelled
observed term, or that term's direct parent or direct child; a labelled observed term is found when such a
prediction exists. Precision = correct predictions / predictions, recall = found labelled terms / labelled terms.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kfexplorer.ontology.model import Ontology


@dataclass(frozen=True)
class LabelledNote:
    name: str
    text: str
    observed: frozenset[str]
    not_observed: frozenset[str]


@dataclass(frozen=True)
class Scores:
    notes: int
    predicted: int
    correct: int
    labelled: int
    found: int
    errors: tuple[str, ...] = ()  # "note: FP HP:..." / "note: FN HP:..."

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def read_labelled_notes(folder: Path) -> list[LabelledNote]:
    """Every <name>.txt under `folder` (recursively) that has a <name>.labels.json beside it, sorted by path."""
    notes: list[LabelledNote] = []
    for labels_path in sorted(Path(folder).rglob("*.labels.json")):
        text_path = labels_path.with_name(labels_path.name.removesuffix(".labels.json") + ".txt")
        if not text_path.is_file():
            continue
        rows = json.loads(labels_path.read_text(encoding="utf-8"))
        observed = frozenset(str(r["hpo_id"]) for r in rows if r["observed"] is True)
        not_observed = frozenset(str(r["hpo_id"]) for r in rows if r["observed"] is False)
        name = text_path.relative_to(folder).as_posix()
        notes.append(LabelledNote(name, text_path.read_text(encoding="utf-8"), observed, not_observed))
    return notes


def _neighbours(hpo: Ontology) -> Callable[[str], set[str]]:
    children: dict[str, set[str]] = {}
    for term in hpo.terms.values():
        for parent in term.parents:
            children.setdefault(parent, set()).add(term.id)

    def near(term_id: str) -> set[str]:
        term = hpo.terms.get(term_id)
        return {term_id, *(term.parents if term else ()), *children.get(term_id, ())}

    return near


def score(notes: Iterable[LabelledNote], predict: Callable[[LabelledNote], set[str]], hpo: Ontology) -> Scores:
    """Score `predict` (labelled note -> observed HPO ids; it reads `note.text`) on labelled notes."""
    near = _neighbours(hpo)
    count = predicted = correct = labelled = found = 0
    errors: list[str] = []
    for note in notes:
        count += 1
        guesses = predict(note)
        predicted += len(guesses)
        for guess in sorted(guesses):
            if near(guess) & note.observed:
                correct += 1
            else:
                errors.append(f"{note.name}: FP {guess}")
        labelled += len(note.observed)
        for gold in sorted(note.observed):
            if near(gold) & guesses:
                found += 1
            else:
                errors.append(f"{note.name}: FN {gold}")
    return Scores(count, predicted, correct, labelled, found, tuple(errors))
