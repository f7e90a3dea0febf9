"""Who is in the demo release: studies, families and participants, derived only from the seed.

Every other part of the demo generator (clinical FHIR, notes, variants, imaging) reads this one model, so
identities, families, sexes and affected status agree across the whole release.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KF_ID_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ0123456789"


@dataclass(frozen=True)
class DemoStudy:
    study_id: str
    study_code: str
    name: str
    domain: str  # cancer | birth-defect | both
    share: float  # share of participants
    family_based: float  # share of probands enrolled with a family (Group)


STUDIES: tuple[DemoStudy, ...] = (
    DemoStudy("SD_BRN8TM2Q", "KF-PBTD", "Pediatric Brain Tumor Atlas (demo)", "cancer", 0.40, 0.30),
    DemoStudy("SD_CHD4TRQ0", "KF-CHDD", "Congenital Heart Defects trios (demo)", "birth-defect", 0.35, 1.0),
    DemoStudy("SD_0FC9CL3F", "KF-OFCD", "Orofacial Cleft trios (demo)", "birth-defect", 0.25, 1.0),
)

FAMILY_TYPES = ("trio", "trio+", "duo", "proband-only")
RELEASE_YEAR = 2026  # the demo release is dated 2026-11-01


@dataclass
class Participant:
    index: int  # position in Population.participants
    participant_id: str  # PT_XXXXXXXX (Kids First identifier)
    fhir_id: str  # FHIR-valid resource id (no underscore)
    sample_id: str  # BS_XXXXXXXX
    study_id: str
    family_id: str | None  # FM_XXXXXXXX, None when enrolled without a family
    role: str  # proband | mother | father | sibling
    sex: str  # female | male
    is_proband: bool
    affected: bool  # has at least one confirmed diagnosis
    sequenced: bool  # has occurrences in the release
    mother_index: int | None = None
    father_index: int | None = None
    birth_year: int = 2010
    race: str = "White"
    ethnicity: str = "Not Hispanic or Latino"
    age_at_enrollment_days: int = 0
    vital_status: str = "Alive"  # Alive | Dead
    age_at_last_follow_up_days: int = 0


@dataclass
class Family:
    family_id: str
    study_id: str
    family_type: str  # trio | trio+ | duo | proband-only
    proband_index: int
    member_indexes: list[int] = field(default_factory=list)


@dataclass
class Population:
    seed: int
    studies: tuple[DemoStudy, ...]
    participants: list[Participant]
    families: list[Family]

    def study(self, study_id: str) -> DemoStudy:
        return next(s for s in self.studies if s.study_id == study_id)

    def probands(self) -> list[Participant]:
        return [p for p in self.participants if p.is_proband]


RACES = (
    ("White", 0.6),
    ("Black or African American", 0.13),
    ("Asian", 0.08),
    ("American Indian or Alaska Native", 0.02),
    ("Native Hawaiian or Other Pacific Islander", 0.01),
    ("Other", 0.06),
    ("Not Reported", 0.10),
)
ETHNICITIES = (("Not Hispanic or Latino", 0.78), ("Hispanic or Latino", 0.17), ("Not Reported", 0.05))


class _Ids:
    """Unique Kids First style ids (PREFIX_ + 8 characters), drawn from the seeded generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def new(self, prefix: str) -> str:
        while True:
            chars = self._rng.integers(0, len(KF_ID_ALPHABET), size=8)
            value = prefix + "_" + "".join(KF_ID_ALPHABET[c] for c in chars)
            if value not in self._seen:
                self._seen.add(value)
                return value


def _pick(rng: np.random.Generator, table: tuple[tuple[str, float], ...]) -> str:
    names = [n for n, _ in table]
    weights = np.array([w for _, w in table])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def fhir_id_for(kf_id: str) -> str:
    """A FHIR-valid resource id for a Kids First id: lower case, '-' instead of '_'."""
    return kf_id.lower().replace("_", "-")


def build_population(n_participants: int, seed: int) -> Population:
    """Families and participants of the demo release; about `n_participants` in all (parents included)."""
    if n_participants < 10:
        raise ValueError("the demo release needs at least 10 participants")
    rng = np.random.default_rng([seed, 1])
    ids = _Ids(rng)
    participants: list[Participant] = []
    families: list[Family] = []

    def add(study: DemoStudy, role: str, sex: str, family_id: str | None, is_proband: bool,
            affected: bool, birth_year: int) -> Participant:
        pid = ids.new("PT")
        p = Participant(
            index=len(participants), participant_id=pid, fhir_id=fhir_id_for(pid),
            sample_id=ids.new("BS"), study_id=study.study_id, family_id=family_id, role=role, sex=sex,
            is_proband=is_proband, affected=affected, sequenced=bool(rng.random() > 0.03),
            birth_year=birth_year, race=_pick(rng, RACES), ethnicity=_pick(rng, ETHNICITIES),
        )
        participants.append(p)
        return p

    for s_index, study in enumerate(STUDIES):
        target = int(round(n_participants * study.share)) if s_index < len(STUDIES) - 1 \
            else n_participants - len(participants)
        start = len(participants)
        while len(participants) - start < target:
            remaining = target - (len(participants) - start)
            child_birth = int(rng.integers(2003, 2022))
            child_sex = "female" if rng.random() < 0.48 else "male"
            with_family = rng.random() < study.family_based
            if not with_family or remaining == 1:
                proband = add(study, "proband", child_sex, None, True, True, child_birth)
                continue
            kind = str(rng.choice(FAMILY_TYPES, p=[0.6, 0.1, 0.15, 0.15]))
            size = {"trio": 3, "trio+": 4, "duo": 2, "proband-only": 1}[kind]
            if size > remaining:
                kind, size = ("duo", 2) if remaining >= 2 else ("proband-only", 1)
            family_id = ids.new("FM")
            proband = add(study, "proband", child_sex, family_id, True, True, child_birth)
            fam = Family(family_id, study.study_id, kind, proband.index, [proband.index])
            mother_birth = child_birth - int(rng.integers(20, 42))
            father_birth = child_birth - int(rng.integers(21, 48))
            if kind in ("trio", "trio+"):
                mother = add(study, "mother", "female", family_id, False, bool(rng.random() < 0.08), mother_birth)
                father = add(study, "father", "male", family_id, False, bool(rng.random() < 0.08), father_birth)
                proband.mother_index, proband.father_index = mother.index, father.index
                fam.member_indexes += [mother.index, father.index]
                if kind == "trio+":
                    sib = add(study, "sibling", "female" if rng.random() < 0.5 else "male", family_id, False,
                              bool(rng.random() < 0.25), child_birth + int(rng.integers(-6, 7)))
                    sib.mother_index, sib.father_index = mother.index, father.index
                    fam.member_indexes.append(sib.index)
            elif kind == "duo":
                if rng.random() < 0.7:
                    parent = add(study, "mother", "female", family_id, False, bool(rng.random() < 0.08),
                                 mother_birth)
                    proband.mother_index = parent.index
                else:
                    parent = add(study, "father", "male", family_id, False, bool(rng.random() < 0.08),
                                 father_birth)
                    proband.father_index = parent.index
                fam.member_indexes.append(parent.index)
            families.append(fam)

    # Ages and follow-up, consistent with the birth year: nobody is followed up past the release date.
    for p in participants:
        lived = max(60, (RELEASE_YEAR - p.birth_year) * 365 + 300)  # days from birth to the release date
        if p.role in ("mother", "father"):
            p.age_at_enrollment_days = int(rng.integers(min(18 * 365, lived // 2), lived - 30))
        else:
            p.age_at_enrollment_days = int(rng.integers(0, max(1, int(lived * 0.8))))
        follow_up = int(rng.exponential(4 * 365)) + 30
        p.age_at_last_follow_up_days = min(lived, p.age_at_enrollment_days + follow_up)
        study = next(s for s in STUDIES if s.study_id == p.study_id)
        death_risk = 0.25 if (study.domain == "cancer" and p.affected and p.is_proband) else 0.01
        if rng.random() < death_risk:
            p.vital_status = "Dead"
    return Population(seed=seed, studies=STUDIES, participants=participants, families=families)
