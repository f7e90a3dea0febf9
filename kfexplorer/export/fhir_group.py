"""The cohort as a FHIR R4 Group of Patients (type person, actual), validated with fhir.resources (R4B models).

Each member references the participant's Patient resource (`Patient/<id>` as the release wrote it) and carries the
Kids First participant id as the reference's identifier, so the Group resolves on the release's FHIR server and
reads without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir.resources.R4B.group import Group as FhirGroup

PARTICIPANT_ID_SYSTEM = "https://kidsfirstdrc.org/participant_id"
COHORT_HASH_SYSTEM = "urn:kfexplorer:participants_sha256"


def cohort_group(
    members: Sequence[tuple[str, str | None]],
    *,
    name: str,
    description: str,
    sha256: str,
    release_id: str | None,
) -> dict[str, Any]:
    """A Group resource (as JSON) for `members` = (participant_id, Patient resource id or None) pairs.

    Raises pydantic's ValidationError when the result is not a valid R4 Group (the R4B model checks it)."""
    group: dict[str, Any] = {
        "resourceType": "Group",
        "id": f"cohort-{sha256[:16]}",
        "identifier": [{"system": COHORT_HASH_SYSTEM, "value": sha256}],
        "active": True,
        "type": "person",
        "actual": True,
        "name": (name or description)[:500] or "kfexplorer cohort",
        "quantity": len(members),
        "member": [_member(participant_id, patient_id) for participant_id, patient_id in members],
    }
    if release_id:
        group["meta"] = {"source": f"urn:kfexplorer:release:{release_id}"}
    if description:
        group["text"] = {"status": "generated", "div": _narrative(description)}
    FhirGroup.model_validate(group)
    return group


def _member(participant_id: str, patient_id: str | None) -> dict[str, Any]:
    entity: dict[str, Any] = {"type": "Patient",
                              "identifier": {"system": PARTICIPANT_ID_SYSTEM, "value": participant_id}}
    if patient_id:
        entity["reference"] = f"Patient/{patient_id}"
    return {"entity": entity}


def _narrative(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{escaped}</div>'
