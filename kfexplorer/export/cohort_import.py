"""Cohorts in: a cohort file (our JSON, a Kids First SQON, or an export's sidecar) or a list of participant ids.

A list of ids (one per line, or separated by commas, tabs or spaces; pasted or from a text / CSV file whose first
column holds them, header optional) becomes the criterion `participant.id in [...]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kfexplorer.export.sidecar import cohort_document
from kfexplorer.query.model import Cohort, Criterion, Group, QueryError, cohort_from_json, is_cohort_document
from kfexplorer.query.sqon import cohort_from_sqon

PARTICIPANT_FIELD = "participant.id"
# Words that name the id column of a list's header line.
_HEADER_WORDS = frozenset({"participant_id", "participant", "participant id", "id", "participants"})
_SEPARATORS = re.compile(r"[,\t; ]+")
MAX_IDS = 1_000_000


def parse_cohort_data(data: Any, sets: Mapping[str, Sequence[str]] | None = None) -> Cohort:
    """Our cohort JSON, an export sidecar (its cohort), or else a SQON."""
    data = cohort_document(data)
    if is_cohort_document(data):
        return cohort_from_json(data)
    return cohort_from_sqon(data, sets)


def participant_ids_from_text(text: str) -> list[str]:
    """The ids in pasted text or a list file, in order, without duplicates or a header word."""
    ids: list[str] = []
    for index, line in enumerate(text.splitlines()):
        line = line.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        cells = [cell.strip().strip('"').strip("'") for cell in line.split(",")] if "," in line else [line]
        if len(cells) > 1:
            tokens = [cells[0]]  # a CSV: the first column
        else:
            tokens = [token for token in _SEPARATORS.split(cells[0]) if token]
        for token in tokens:
            if index == 0 and token.strip().lower() in _HEADER_WORDS:
                continue
            ids.append(token)
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_IDS:
        raise QueryError(f"the list holds {len(unique):,} ids; at most {MAX_IDS:,} are taken")
    return unique


def participant_list_criterion(ids: Sequence[str]) -> Criterion:
    """`participant.id in [ids]`; QueryError when there are none."""
    if not ids:
        raise QueryError("the list holds no participant ids")
    return Criterion(PARTICIPANT_FIELD, "in", tuple(ids))


def read_cohort_or_list(path: Path) -> Cohort:
    """A cohort file (JSON: cohort, SQON or sidecar), else a participant id list (one cohort criterion)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise QueryError(f"{path} is not JSON: {error.msg} (line {error.lineno})") from None
        return parse_cohort_data(data)
    criterion = participant_list_criterion(participant_ids_from_text(text))
    return Cohort(Group("and", (criterion,)), f"participants listed in {path.name}")
