"""Full validation of a sample of resources with the fhir.resources R4B models (≈ 5,000/s: never all of them)."""

from __future__ import annotations

from collections import Counter
from typing import Any

MAX_MESSAGE = 300
UNKNOWN_TYPE = "unknown FHIR R4 resource type"


class SampleValidator:
    """Validates the first `per_type` resources of each resource type it is shown; passes the rest unchecked."""

    def __init__(self, per_type: int = 20) -> None:
        self.per_type = per_type
        self._seen: Counter[str] = Counter()
        self._unknown_types: dict[str, str] = {}

    def check(self, resource: dict[str, Any]) -> str | None:
        """Why the resource fails R4B validation (one line), or None (valid, or not in the sample)."""
        resource_type = resource["resourceType"]
        if resource_type in self._unknown_types:
            return self._unknown_types[resource_type]
        if self._seen[resource_type] >= self.per_type:
            return None
        self._seen[resource_type] += 1
        problem = validation_problem(resource)
        if problem is not None and problem.startswith(UNKNOWN_TYPE):
            self._unknown_types[resource_type] = problem
        return problem


def validation_problem(resource: dict[str, Any]) -> str | None:
    """Validate one resource against its R4B model; a one-line reason when it fails."""
    from fhir.resources.R4B import get_fhir_model_class  # imported on first use: a large package

    resource_type = resource.get("resourceType", "")
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return f"{UNKNOWN_TYPE} {resource_type!r}"
    try:
        model.model_validate(resource)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        return f"{resource_type}/{resource.get('id')}: invalid: {one_line(str(exc))}"
    return None


def one_line(message: str) -> str:
    """A pydantic message on one line: its lines joined, the documentation links dropped, shortened."""
    parts = [line.strip() for line in message.splitlines()
             if line.strip() and "errors.pydantic.dev" not in line]
    text = "; ".join(parts)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
