"""The user database: things users make (saved cohorts, measurements, notes), kept apart from any cache.

SQLite (stdlib), because it is small, transactional and may be written by the app while DuckDB caches are
read-only; deleting a cache never touches it. Migrations run in order on open, keyed by `PRAGMA user_version`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

USER_DB_NAME = "user.sqlite3"


def _v1(con: sqlite3.Connection) -> None:
    con.executescript(
        """
        CREATE TABLE saved_cohorts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            release_id TEXT,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE(name, release_id)
        );
        CREATE TABLE measurements (
            id INTEGER PRIMARY KEY,
            sop_instance_uid TEXT NOT NULL,
            kind TEXT NOT NULL,
            geometry TEXT NOT NULL,
            result TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1,)


@dataclass(frozen=True)
class SavedCohort:
    id: int
    name: str
    release_id: str | None
    definition: dict[str, Any]
    created_at: str
    updated_at: str


class CohortNameTakenError(ValueError):
    """Another saved cohort of the same release has that name."""


class _AnyRelease:
    """Marker: list the saved cohorts of every release."""


ANY_RELEASE = _AnyRelease()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class UserDatabase:
    """Connection wrapper for the user database; one per thread (sqlite3 connections are not shared)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._con = sqlite3.connect(path)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def _migrate(self) -> None:
        version = int(self._con.execute("PRAGMA user_version").fetchone()[0])
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number > version:
                with self._con:
                    migration(self._con)
                    self._con.execute(f"PRAGMA user_version = {number:d}")

    @property
    def schema_version(self) -> int:
        return int(self._con.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._con.close()

    def save_cohort(self, name: str, definition: dict[str, Any], release_id: str | None = None) -> int:
        """Insert or replace a named cohort; returns its id."""
        now = _now()
        payload = json.dumps(definition, sort_keys=True)
        with self._con:
            self._con.execute(
                "INSERT INTO saved_cohorts (name, release_id, definition, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name, release_id) DO UPDATE SET "
                "definition = excluded.definition, updated_at = excluded.updated_at",
                (name, release_id, payload, now, now),
            )
            row = self._con.execute(
                "SELECT id FROM saved_cohorts WHERE name = ? AND release_id IS ?", (name, release_id)
            ).fetchone()
        return int(row[0])

    def cohorts(self, release_id: str | None | _AnyRelease = ANY_RELEASE) -> list[SavedCohort]:
        """Saved cohorts by name; only those of `release_id` when given (None: saved without a release)."""
        columns = "SELECT id, name, release_id, definition, created_at, updated_at FROM saved_cohorts"
        if isinstance(release_id, _AnyRelease):
            rows = self._con.execute(f"{columns} ORDER BY name").fetchall()
        else:
            rows = self._con.execute(f"{columns} WHERE release_id IS ? ORDER BY name", (release_id,)).fetchall()
        return [SavedCohort(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    def cohort(self, cohort_id: int) -> SavedCohort | None:
        row = self._con.execute(
            "SELECT id, name, release_id, definition, created_at, updated_at FROM saved_cohorts WHERE id = ?",
            (cohort_id,),
        ).fetchone()
        return SavedCohort(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5]) if row else None

    def rename_cohort(self, cohort_id: int, name: str) -> None:
        """Rename a saved cohort; CohortNameTakenError when its release already has a cohort of that name."""
        if not name.strip():
            raise ValueError("a saved cohort needs a name")
        try:
            with self._con:
                self._con.execute("UPDATE saved_cohorts SET name = ?, updated_at = ? WHERE id = ?",
                                  (name, _now(), cohort_id))
        except sqlite3.IntegrityError:
            raise CohortNameTakenError(f"a saved cohort named {name!r} exists already") from None

    def delete_cohort(self, cohort_id: int) -> None:
        with self._con:
            self._con.execute("DELETE FROM saved_cohorts WHERE id = ?", (cohort_id,))


def open_user_database(folder: Path | None = None) -> UserDatabase:
    """The user database in the user data folder (or `folder`)."""
    if folder is None:
        from kfexplorer.config import data_dir

        folder = data_dir()
    return UserDatabase(folder / USER_DB_NAME)
