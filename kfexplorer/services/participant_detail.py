"""Everything the cache knows about one participant, read in one call (Qt-free; run it on a worker thread).

`load_participant_detail` reads the clinical tables of the cache (CACHE.md) with bound parameters only. Tables or
columns an older or partial cache lacks read as empty / None, so the detail of a participants-only cache still
loads. `read_note_text` reads a synced note file, never outside the cache's files folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from kfexplorer.services.workspace import Workspace
from kfexplorer.store.cache import UnsafePathError, cached_file_path

NOTE_TEXT_LIMIT = 1_000_000  # characters shown of one note; the rest is cut with a marker
RELATIONSHIP_ORDER = ("proband", "mother", "father")
DIAGNOSIS_SYSTEM_PREFERENCE = ("MONDO", "HP")


@dataclass(frozen=True)
class StudyInfo:
    study_id: str
    study_code: str | None = None
    title: str | None = None
    domain: str | None = None


@dataclass(frozen=True)
class FamilyMember:
    participant_id: str
    relationship_to_proband: str | None
    sex: str | None = None
    is_proband: bool | None = None
    affected_status: bool | None = None


@dataclass(frozen=True)
class FamilyInfo:
    family_id: str
    family_type: str | None
    proband_id: str | None
    members: tuple[FamilyMember, ...]


@dataclass(frozen=True)
class DiagnosisFact:
    code: str | None
    system: str | None
    label: str | None
    age_at_event_days: int | None
    source_text: str | None
    derived: bool
    verification: str | None
    other_codes: tuple[str, ...] = ()
    condition_id: str | None = None


@dataclass(frozen=True)
class PhenotypeFact:
    hpo_id: str | None
    label: str | None
    observed: bool | None
    age_at_event_days: int | None
    source: str | None
    derived: bool


@dataclass(frozen=True)
class SpecimenRecord:
    sample_id: str
    sample_type: str | None
    tissue: str | None
    age_at_collection_days: int | None
    parent_sample_id: str | None


@dataclass(frozen=True)
class FileRecord:
    file_id: str
    data_type: str | None
    format: str | None
    file_name: str | None
    size: int | None


@dataclass(frozen=True)
class ImagingStudyRecord:
    study_instance_uid: str
    description: str | None
    age_at_scan_days: int | None
    series_count: int
    modalities: tuple[str, ...]
    body_parts: tuple[str, ...]


@dataclass(frozen=True)
class NoteEvidence:
    """One HPO mention found in a note by kfexplorer.nlp (table phenotype_evidence): character span and context."""

    hpo_id: str
    label: str
    start: int
    end: int
    matched_text: str
    asserted: bool
    flags: tuple[str, ...] = ()  # of negated, uncertain, hypothetical, family, historical
    restates_diagnosis: bool = False


@dataclass(frozen=True)
class NoteRecord:
    document_id: str
    title: str | None
    path: str | None
    content_type: str | None
    evidence: tuple[NoteEvidence, ...] = ()


@dataclass(frozen=True)
class TimelineEvent:
    """One dated fact: `kind` is one of TIMELINE_KINDS."""

    kind: str
    label: str
    age_days: int
    observed: bool = True


TIMELINE_KINDS = ("Diagnosis", "Phenotype", "Specimen", "Imaging", "Follow-up")


@dataclass(frozen=True)
class ParticipantDetail:
    participant_id: str
    participant: dict[str, Any]
    study: StudyInfo | None = None
    family: FamilyInfo | None = None
    diagnoses: tuple[DiagnosisFact, ...] = ()
    phenotypes: tuple[PhenotypeFact, ...] = ()
    specimens: tuple[SpecimenRecord, ...] = ()
    files: tuple[FileRecord, ...] = ()
    imaging_studies: tuple[ImagingStudyRecord, ...] = ()
    notes: tuple[NoteRecord, ...] = ()
    timeline: tuple[TimelineEvent, ...] = field(default=())
    note_phenotypes: tuple[PhenotypeFact, ...] = ()  # derived from the notes by kfexplorer.nlp (source 'nlp')

    @property
    def observed_phenotypes(self) -> tuple[PhenotypeFact, ...]:
        return tuple(p for p in self.phenotypes if p.observed is not False)

    @property
    def not_observed_phenotypes(self) -> tuple[PhenotypeFact, ...]:
        return tuple(p for p in self.phenotypes if p.observed is False)


# -- reading ----------------------------------------------------------------------------------------------------
class _TableReader:
    """Selects known columns of the cache's tables; a missing table reads as no rows, a missing column as NULL."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor
        rows = cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
        ).fetchall()
        self.columns: dict[str, set[str]] = {}
        for table, column in rows:
            self.columns.setdefault(str(table), set()).add(str(column))

    def has(self, table: str, column: str | None = None) -> bool:
        present = self.columns.get(table)
        return present is not None and (column is None or column in present)

    def select(self, table: str, columns: tuple[str, ...], where_column: str, values: list[Any],
               order_by: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Rows of `table` whose `where_column` is one of `values` (identifiers come from code constants)."""
        if not values or not self.has(table, where_column):
            return []
        present = self.columns[table]
        select = ", ".join(f'"{c}"' if c in present else f'NULL AS "{c}"' for c in columns)
        placeholders = ", ".join("?" for _ in values)
        order = [f'"{c}" NULLS LAST' for c in order_by if c in present]
        order_sql = f" ORDER BY {', '.join(order)}" if order else ""
        sql = f'SELECT {select} FROM "{table}" WHERE "{where_column}" IN ({placeholders}){order_sql}'
        result = self.cursor.execute(sql, values).fetchall()
        return [dict(zip(columns, row, strict=True)) for row in result]


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _find_participant(reader: _TableReader, participant_id: str) -> dict[str, Any] | None:
    if not reader.has("participants", "participant_id"):
        return None
    columns = tuple(sorted(reader.columns["participants"]))
    rows = reader.select("participants", columns, "participant_id", [participant_id])
    if not rows and reader.has("participants", "fhir_id"):
        rows = reader.select("participants", columns, "fhir_id", [participant_id])
    return rows[0] if rows else None


def _study(reader: _TableReader, study_id: Any) -> StudyInfo | None:
    if study_id is None:
        return None
    rows = reader.select("studies", ("study_id", "study_code", "title", "domain"), "study_id", [str(study_id)])
    if not rows:
        return StudyInfo(study_id=str(study_id))
    row = rows[0]
    return StudyInfo(str(row["study_id"]), _text(row["study_code"]), _text(row["title"]), _text(row["domain"]))


def _relationship_rank(member: FamilyMember) -> tuple[int, str]:
    relation = (member.relationship_to_proband or "").lower()
    rank = RELATIONSHIP_ORDER.index(relation) if relation in RELATIONSHIP_ORDER else len(RELATIONSHIP_ORDER)
    return rank, member.participant_id


def _family(reader: _TableReader, participant_id: str, participant: dict[str, Any]) -> FamilyInfo | None:
    family_id = participant.get("family_id")
    if family_id is None:
        memberships = reader.select("family_members", ("family_id",), "participant_id", [participant_id],
                                    order_by=("family_id",))
        family_id = memberships[0]["family_id"] if memberships else None
    if family_id is None:
        return None
    family_id = str(family_id)
    families = reader.select("families", ("family_id", "family_type", "proband_id"), "family_id", [family_id])
    family_row = families[0] if families else {}
    member_rows = reader.select("family_members", ("participant_id", "relationship_to_proband"), "family_id",
                                [family_id])
    if not member_rows and reader.has("participants", "family_id"):
        member_rows = [{"participant_id": row["participant_id"], "relationship_to_proband": None}
                       for row in reader.select("participants", ("participant_id",), "family_id", [family_id])]
    ids = [str(row["participant_id"]) for row in member_rows if row["participant_id"] is not None]
    facts = {str(row["participant_id"]): row for row in reader.select(
        "participants", ("participant_id", "sex", "is_proband", "affected_status"), "participant_id", ids)}
    members = []
    for row in member_rows:
        if row["participant_id"] is None:
            continue
        member_id = str(row["participant_id"])
        fact = facts.get(member_id, {})
        members.append(FamilyMember(
            participant_id=member_id,
            relationship_to_proband=_text(row["relationship_to_proband"]),
            sex=_text(fact.get("sex")),
            is_proband=fact.get("is_proband"),
            affected_status=fact.get("affected_status"),
        ))
    members.sort(key=_relationship_rank)
    return FamilyInfo(
        family_id=family_id,
        family_type=_text(family_row.get("family_type") or participant.get("family_type")),
        proband_id=_text(family_row.get("proband_id")),
        members=tuple(members),
    )


def _preferred_coding(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The coding a diagnosis is shown by: MONDO first, then HPO, then the first one given."""
    for prefix in DIAGNOSIS_SYSTEM_PREFERENCE:
        for row in rows:
            if str(row["system"] or row["code"] or "").upper().startswith(prefix):
                return row
    return rows[0]


def _diagnoses(reader: _TableReader, participant_id: str) -> tuple[DiagnosisFact, ...]:
    """One fact per Condition (the table has a row per coding), ordered by age."""
    rows = reader.select(
        "diagnoses",
        ("condition_id", "code", "system", "label", "age_at_event_days", "source_text", "derived", "verification"),
        "participant_id", [participant_id], order_by=("age_at_event_days", "condition_id", "code"))
    grouped: dict[str, list[dict[str, Any]]] = {}
    for index, row in enumerate(rows):
        key = str(row["condition_id"]) if row["condition_id"] is not None else f"row-{index}"
        grouped.setdefault(key, []).append(row)
    facts = []
    for key, codings in grouped.items():
        main = _preferred_coding(codings)
        facts.append(DiagnosisFact(
            code=_text(main["code"]), system=_text(main["system"]), label=_text(main["label"]),
            age_at_event_days=_as_int(main["age_at_event_days"]), source_text=_text(main["source_text"]),
            derived=any(bool(c["derived"]) for c in codings), verification=_text(main["verification"]),
            other_codes=tuple(str(c["code"]) for c in codings if c is not main and c["code"] is not None),
            condition_id=None if key.startswith("row-") else key,
        ))
    facts.sort(key=lambda f: (f.age_at_event_days is None, f.age_at_event_days or 0, f.label or "", f.code or ""))
    return tuple(facts)


NLP_PHENOTYPE_SOURCE = "nlp"  # what kfexplorer.nlp.note_phenotypes writes (not imported here: it loads spaCy)


def _phenotypes(reader: _TableReader, participant_id: str) -> tuple[PhenotypeFact, ...]:
    rows = reader.select(
        "phenotypes", ("hpo_id", "label", "observed", "age_at_event_days", "source", "derived"),
        "participant_id", [participant_id], order_by=("age_at_event_days", "label", "hpo_id"))
    return tuple(PhenotypeFact(
        hpo_id=_text(r["hpo_id"]), label=_text(r["label"]),
        observed=None if r["observed"] is None else bool(r["observed"]),
        age_at_event_days=_as_int(r["age_at_event_days"]), source=_text(r["source"]), derived=bool(r["derived"]),
    ) for r in rows)


def _specimens(reader: _TableReader, participant_id: str) -> tuple[SpecimenRecord, ...]:
    rows = reader.select(
        "biospecimens", ("sample_id", "sample_type", "tissue", "age_at_collection_days", "parent_sample_id"),
        "participant_id", [participant_id], order_by=("age_at_collection_days", "sample_id"))
    return tuple(SpecimenRecord(
        sample_id=str(r["sample_id"]), sample_type=_text(r["sample_type"]), tissue=_text(r["tissue"]),
        age_at_collection_days=_as_int(r["age_at_collection_days"]), parent_sample_id=_text(r["parent_sample_id"]),
    ) for r in rows)


def _files(reader: _TableReader, participant_id: str) -> tuple[FileRecord, ...]:
    rows = reader.select("files", ("file_id", "data_type", "format", "file_name", "size"), "participant_id",
                         [participant_id], order_by=("data_type", "file_name", "file_id"))
    return tuple(FileRecord(
        file_id=str(r["file_id"]), data_type=_text(r["data_type"]), format=_text(r["format"]),
        file_name=_text(r["file_name"]), size=_as_int(r["size"]),
    ) for r in rows)


def _imaging(reader: _TableReader, participant_id: str) -> tuple[ImagingStudyRecord, ...]:
    studies = reader.select(
        "imaging_studies", ("study_instance_uid", "description", "age_at_scan_days", "number_of_series"),
        "participant_id", [participant_id], order_by=("age_at_scan_days", "study_instance_uid"))
    uids = [str(s["study_instance_uid"]) for s in studies if s["study_instance_uid"] is not None]
    series = reader.select("imaging_series", ("study_instance_uid", "series_instance_uid", "modality", "body_part"),
                           "study_instance_uid", uids, order_by=("series_instance_uid",))
    by_study: dict[str, list[dict[str, Any]]] = {}
    for row in series:
        by_study.setdefault(str(row["study_instance_uid"]), []).append(row)
    records = []
    for study in studies:
        uid = str(study["study_instance_uid"])
        rows = by_study.get(uid, [])
        declared = _as_int(study["number_of_series"])
        records.append(ImagingStudyRecord(
            study_instance_uid=uid,
            description=_text(study["description"]),
            age_at_scan_days=_as_int(study["age_at_scan_days"]),
            series_count=len(rows) if rows else (declared or 0),
            modalities=tuple(sorted({str(r["modality"]) for r in rows if r["modality"]})),
            body_parts=tuple(sorted({str(r["body_part"]) for r in rows if r["body_part"]})),
        ))
    return tuple(records)


_EVIDENCE_FLAGS = ("negated", "uncertain", "hypothetical", "family", "historical")


def _note_evidence(reader: _TableReader, participant_id: str) -> dict[str, tuple[NoteEvidence, ...]]:
    rows = reader.select("phenotype_evidence", ("document_id", "hpo_id", "label", "start_char", "end_char",
                                                "matched_text", "asserted", "restates_diagnosis", *_EVIDENCE_FLAGS),
                         "participant_id", [participant_id], order_by=("document_id", "start_char", "hpo_id"))
    found: dict[str, list[NoteEvidence]] = {}
    for r in rows:
        found.setdefault(str(r["document_id"]), []).append(NoteEvidence(
            hpo_id=str(r["hpo_id"]), label=str(r["label"] or r["hpo_id"]), start=_as_int(r["start_char"]) or 0,
            end=_as_int(r["end_char"]) or 0, matched_text=str(r["matched_text"] or ""), asserted=bool(r["asserted"]),
            flags=tuple(f for f in _EVIDENCE_FLAGS if r[f]), restates_diagnosis=bool(r["restates_diagnosis"])))
    return {document_id: tuple(items) for document_id, items in found.items()}


def _notes(reader: _TableReader, participant_id: str) -> tuple[NoteRecord, ...]:
    rows = reader.select("notes", ("document_id", "title", "path", "content_type"), "participant_id",
                         [participant_id], order_by=("title", "document_id"))
    evidence = _note_evidence(reader, participant_id)
    return tuple(NoteRecord(str(r["document_id"]), _text(r["title"]), _text(r["path"]), _text(r["content_type"]),
                            evidence.get(str(r["document_id"]), ())) for r in rows)


def build_timeline(detail: ParticipantDetail) -> tuple[TimelineEvent, ...]:
    """Every dated fact of `detail`, ordered by age."""
    events: list[TimelineEvent] = []
    for dx in detail.diagnoses:
        if dx.age_at_event_days is not None:
            events.append(TimelineEvent("Diagnosis", dx.label or dx.code or "diagnosis", dx.age_at_event_days))
    for ph in detail.phenotypes:
        if ph.age_at_event_days is not None:
            events.append(TimelineEvent("Phenotype", ph.label or ph.hpo_id or "phenotype", ph.age_at_event_days,
                                        observed=ph.observed is not False))
    for sp in detail.specimens:
        if sp.age_at_collection_days is not None:
            events.append(TimelineEvent("Specimen", sp.sample_type or sp.sample_id, sp.age_at_collection_days))
    for im in detail.imaging_studies:
        if im.age_at_scan_days is not None:
            events.append(TimelineEvent("Imaging", im.description or im.study_instance_uid, im.age_at_scan_days))
    follow_up = _as_int(detail.participant.get("age_at_last_follow_up_days"))
    if follow_up is not None:
        vital = detail.participant.get("vital_status")
        events.append(TimelineEvent("Follow-up", f"Last follow-up ({vital})" if vital else "Last follow-up",
                                    follow_up))
    events.sort(key=lambda e: (e.age_days, TIMELINE_KINDS.index(e.kind), e.label))
    return tuple(events)


def load_participant_detail(
    source: Workspace | duckdb.DuckDBPyConnection, participant_id: str
) -> ParticipantDetail | None:
    """Everything the cache holds about `participant_id` (or a participant whose FHIR id it is); None if unknown.

    `source` is a Workspace (its calling thread's cursor is used) or a DuckDB connection / cursor owned by the
    calling thread.
    """
    cursor = source.cursor() if isinstance(source, Workspace) else source
    reader = _TableReader(cursor)
    participant = _find_participant(reader, participant_id)
    if participant is None:
        return None
    pid = str(participant.get("participant_id") or participant_id)
    all_phenotypes = _phenotypes(reader, pid)
    detail = ParticipantDetail(
        participant_id=pid,
        participant=participant,
        study=_study(reader, participant.get("study_id")),
        family=_family(reader, pid, participant),
        diagnoses=_diagnoses(reader, pid),
        phenotypes=tuple(p for p in all_phenotypes if p.source != NLP_PHENOTYPE_SOURCE),
        note_phenotypes=tuple(p for p in all_phenotypes if p.source == NLP_PHENOTYPE_SOURCE),
        specimens=_specimens(reader, pid),
        files=_files(reader, pid),
        imaging_studies=_imaging(reader, pid),
        notes=_notes(reader, pid),
    )
    return replace(detail, timeline=build_timeline(detail))


def read_note_text(cache_dir: Path, note_path: str, limit: int = NOTE_TEXT_LIMIT) -> str:
    """The text of the synced note `note_path` (a release path) from the cache.

    Raises FileNotFoundError when the note is not in the cache and UnsafePathError when the path would leave it.
    Bytes that are not UTF-8 read as replacement characters; text past `limit` characters is cut with a marker.
    """
    path = cached_file_path(Path(cache_dir), note_path)
    if not path.is_file():
        raise FileNotFoundError(f"note {note_path!r} is not in the cache (sync the release to fetch it)")
    with path.open("rb") as handle:
        data = handle.read(limit * 4 + 4)
    text = data.decode("utf-8", errors="replace")
    if len(text) > limit:
        text = text[:limit] + "\n… (cut: the note is longer than the viewer shows)"
    return text


__all__ = [
    "DiagnosisFact", "FamilyInfo", "FamilyMember", "FileRecord", "ImagingStudyRecord", "NoteEvidence", "NoteRecord",
    "ParticipantDetail", "PhenotypeFact", "SpecimenRecord", "StudyInfo", "TIMELINE_KINDS", "TimelineEvent",
    "UnsafePathError", "build_timeline", "load_participant_detail", "read_note_text",
]
