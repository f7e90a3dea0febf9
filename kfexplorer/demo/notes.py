"""Free-text clinic notes for the demo release, with gold labels for the phenotypes they mention.

A share of probands (~40 %) get one or two notes under notes/<participant_id>/<document_id>.txt. A note mentions the
participant's observed phenotypes (asserted), its not-observed ones (negated), and a few others from the study's
catalog as uncertain, hypothetical or family history (all "not observed" for the patient). Beside each note,
<document_id>.labels.json lists every mentioned phenotype: [{"hpo_id": ..., "observed": ...}].
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import orjson

from kfexplorer.demo.clinical_vocab import phenotype_catalog, phenotype_entry
from kfexplorer.demo.population import Participant, Population
from kfexplorer.ontology.hpo import load_hpo

NOTE_SHARE = 0.4

NOTE_TYPES = (
    ("11506-3", "Progress note"),
    ("11488-4", "Consult note"),
    ("34117-2", "History and physical note"),
)

ASSERTED = (
    "{Pronoun} presents with {m}.",
    "Parents report {m} over the past {n} weeks.",
    "{Pronoun} has had intermittent {m} since the last visit.",
    "Exam today is notable for {m}.",
    "Mother describes {m}, worse in the mornings.",
    "There has been ongoing {m}.",
    "Today {pronoun} continues to have {m}.",
    "Review of systems positive for {m}.",
)
HISTORICAL = (
    "History of {m}, now resolved.",
    "{Pronoun} had {m} as an infant, which has since improved.",
    "Past history is significant for {m} last year.",
)
NEGATED = (
    "{Pronoun} denies {m}.",
    "No {m}.",
    "Negative for {m}.",
    "Family has not noticed any {m}.",
    "There is no evidence of {m} on exam.",
    "Without {m} at this time.",
)
UNCERTAIN = (
    "Possible {m}; will reassess at the next visit.",
    "Rule out {m}.",
    "Cannot exclude {m}.",
    "Questionable {m} reported by the school nurse.",
)
HYPOTHETICAL = (
    "Family instructed to return if {m} develops.",
    "Call the clinic if {m} occurs.",
    "Watch for {m} and report promptly.",
)
FAMILY_HISTORY = (
    "Mother has {m}.",
    "Father had {m} as a child.",
    "Maternal aunt with {m}.",
    "Family history notable for {m} in a paternal cousin.",
)
OPENINGS = (
    "{Age}-year-old {child} seen in {clinic} clinic for follow-up of {dx}.",
    "{Child_cap} of {age} years, known to our {clinic} service with {dx}, seen today with {parent}.",
    "Follow-up visit. {Age}-year-old {child} with {dx}.",
)
CLOSINGS = (
    "Plan: continue current management and follow up in {n} weeks.",
    "Discussed findings with the family; questions answered.",
    "Will review imaging and labs at the next appointment.",
    "Plan reviewed with the attending physician.",
)
CLINICS = {"cancer": "neuro-oncology", "birth-defect": "cardiology", "cleft": "craniofacial"}


class PhenotypeLike(Protocol):
    @property
    def hpo_id(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def observed(self) -> bool: ...
    @property
    def age_days(self) -> int: ...


@dataclass(frozen=True)
class NoteInfo:
    participant_index: int
    document_id: str  # FHIR-valid, also the DocumentReference id
    relative_path: str  # notes/<participant_id>/<document_id>.txt
    title: str
    loinc_code: str = "11506-3"
    age_days: int = 0
    size: int = 0
    sha1_base64: str = ""
    mentions: tuple[tuple[str, bool], ...] = field(default_factory=tuple)  # (hpo_id, observed) in label order


def _surface(rng: random.Random, hpo_id: str, label: str) -> str:
    entry = phenotype_entry(hpo_id)
    forms = [label.lower()] + (list(entry.mentions) if entry else [])
    return rng.choice(forms)


def _fill(rng: random.Random, template: str, mention: str, p: Participant) -> str:
    pronoun = "she" if p.sex == "female" else "he"
    return template.format(m=mention, n=rng.randint(2, 12), pronoun=pronoun, Pronoun=pronoun.capitalize())


def _compose(rng: random.Random, p: Participant, clinic: str, dx: str, age_days: int,
             items: Sequence[PhenotypeLike], extras: Sequence[tuple[str, str]]) -> tuple[str, list[tuple[str, bool]]]:
    child = "girl" if p.sex == "female" else "boy"
    years = max(age_days // 365, 0)
    parent = rng.choice(("mother", "father", "both parents", "grandmother"))
    opening = rng.choice(OPENINGS).format(Age=years, age=years, child=child, Child_cap=child.capitalize(),
                                          clinic=clinic, dx=dx, parent=parent)
    history: list[str] = []
    review: list[str] = []
    plan: list[str] = []
    family: list[str] = []
    labels: list[tuple[str, bool]] = []
    for item in items:
        mention = _surface(rng, item.hpo_id, item.label)
        if item.observed:
            template = rng.choice(HISTORICAL) if rng.random() < 0.2 else rng.choice(ASSERTED)
            history.append(_fill(rng, template, mention, p))
        else:
            negations = NEGATED if age_days >= 5 * 365 else tuple(t for t in NEGATED if "denies" not in t)
            review.append(_fill(rng, rng.choice(negations), mention, p))
        labels.append((item.hpo_id, item.observed))
    for hpo_id, label in extras:
        mention = _surface(rng, hpo_id, label)
        kind = rng.random()
        if kind < 0.4:
            plan.append(_fill(rng, rng.choice(UNCERTAIN), mention, p))
        elif kind < 0.7:
            plan.append(_fill(rng, rng.choice(HYPOTHETICAL), mention, p))
        else:
            family.append(_fill(rng, rng.choice(FAMILY_HISTORY), mention, p))
        labels.append((hpo_id, False))
    rng.shuffle(history)
    rng.shuffle(review)
    sections = [opening, "", "HISTORY OF PRESENT ILLNESS:", " ".join(history) or "No new concerns today."]
    if review:
        sections += ["", "REVIEW OF SYSTEMS:", " ".join(review)]
    if family:
        sections += ["", "FAMILY HISTORY:", " ".join(family)]
    sections += ["", "ASSESSMENT AND PLAN:", " ".join(plan + [rng.choice(CLOSINGS).format(n=rng.randint(2, 12))])]
    return "\n".join(sections) + "\n", labels


def write_notes(root: Path, population: Population, phenotypes: Mapping[int, Sequence[PhenotypeLike]], seed: int,
                diagnosis_text: Mapping[int, str] | None = None) -> list[NoteInfo]:
    """Write notes/<participant_id>/<document_id>.txt and .labels.json for ~40 % of probands with phenotypes."""
    rng = random.Random(f"kfexplorer-demo-{seed}-notes")
    root = Path(root)
    notes: list[NoteInfo] = []
    used_ids: set[str] = set()
    hpo = load_hpo()
    for p in population.participants:
        items = list(phenotypes.get(p.index, ()))
        if not p.is_proband or not items or rng.random() >= NOTE_SHARE:
            continue
        study = population.study(p.study_id)
        catalog = phenotype_catalog(study.domain, study.study_id)
        clinic = CLINICS["cancer"] if study.domain == "cancer" else (
            CLINICS["cleft"] if "cleft" in study.name.lower() else CLINICS["birth-defect"])
        dx = (diagnosis_text or {}).get(p.index, "a known diagnosis")
        for _ in range(1 if rng.random() < 0.7 else 2):
            assigned = {i.hpo_id for i in items}
            others = [e for e in catalog if e.hpo_id not in assigned]
            extras_entries = rng.sample(others, k=min(len(others), rng.randint(0, 3)))
            extras = [(e.hpo_id, hpo.terms[e.hpo_id].label) for e in extras_entries]
            mentioned = [i for i in items if rng.random() < 0.9] or items[:1]
            earliest = max((i.age_days for i in mentioned if i.observed), default=p.age_at_enrollment_days)
            age_days = min(max(earliest, p.age_at_enrollment_days), p.age_at_last_follow_up_days)
            age_days = min(age_days + rng.randint(0, 60), p.age_at_last_follow_up_days)
            text, labels = _compose(rng, p, clinic, dx, age_days, mentioned, extras)
            while True:
                document_id = f"nt-{rng.getrandbits(48):012x}"
                if document_id not in used_ids:
                    used_ids.add(document_id)
                    break
            folder = root / "notes" / p.participant_id
            folder.mkdir(parents=True, exist_ok=True)
            data = text.encode("utf-8")
            (folder / f"{document_id}.txt").write_bytes(data)
            label_rows = [{"hpo_id": h, "observed": o} for h, o in sorted(dict(labels).items())]
            (folder / f"{document_id}.labels.json").write_bytes(
                orjson.dumps(label_rows, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
            loinc, title = rng.choice(NOTE_TYPES)
            notes.append(NoteInfo(
                participant_index=p.index, document_id=document_id,
                relative_path=f"notes/{p.participant_id}/{document_id}.txt", title=title, loinc_code=loinc,
                age_days=age_days, size=len(data),
                sha1_base64=base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),
                mentions=tuple(sorted(dict(labels).items()))))
    return notes
