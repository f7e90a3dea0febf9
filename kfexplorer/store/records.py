"""Plain records shared by the store, sync and the domain ingesters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuarantineItem:
    """Something from a release that could not be ingested: its release-relative path and why."""

    path: str
    reason: str
