"""How table cells read: numbers with thousands separators, booleans as words, ages as days and years."""

from __future__ import annotations

import datetime as dt
from typing import Any

DAYS_PER_YEAR = 365.25

COLUMN_TITLES: dict[str, str] = {
    "participant_id": "Participant",
    "fhir_id": "FHIR id",
    "study_id": "Study",
    "sex": "Sex",
    "race": "Race",
    "ethnicity": "Ethnicity",
    "is_proband": "Proband",
    "affected_status": "Affected",
    "family_id": "Family",
    "family_type": "Family type",
    "vital_status": "Vital status",
    "age_at_last_follow_up_days": "Age at last follow-up",
}

BOOLEAN_WORDS: dict[str, tuple[str, str]] = {
    "affected_status": ("Affected", "Unaffected"),
}

MISSING_TEXT = "—"


def column_title(column: str) -> str:
    if column in COLUMN_TITLES:
        return COLUMN_TITLES[column]
    words = column.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def is_age_in_days(column: str) -> bool:
    return column.startswith("age") and column.endswith("_days")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Integer columns that are labels, not quantities: no thousands separator.
PLAIN_INTEGER_COLUMNS = frozenset({"birth_year", "series_number", "instance_number"})


def format_number(value: int | float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if value != value:  # NaN
        return MISSING_TEXT
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def format_bytes(size: int | None) -> str:
    """A size for people: '512 bytes', '1.5 KB', '12.3 MB', '4.2 GB' (binary multiples); None reads 'size unknown'."""
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value):,} bytes" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size:,} bytes"


def format_age_days(days: int | float) -> str:
    """'2,345 d (6.4 y)'; under a year also reads in years with one decimal."""
    years = float(days) / DAYS_PER_YEAR
    return f"{format_number(days)} d ({years:.1f} y)"


def format_cell(column: str, value: Any) -> str:
    """The text a table cell shows for `value` in `column`."""
    if value is None:
        return MISSING_TEXT
    if isinstance(value, bool):
        yes, no = BOOLEAN_WORDS.get(column, ("Yes", "No"))
        return yes if value else no
    if is_number(value):
        if column in PLAIN_INTEGER_COLUMNS:
            return str(value)
        return format_age_days(value) if is_age_in_days(column) else format_number(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(column, item) for item in value)
    return str(value)


def copy_text(value: Any) -> str:
    """The raw text a copied cell carries (TSV for spreadsheets: no separators, no units, no tabs/newlines)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(copy_text(item) for item in value)
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")
