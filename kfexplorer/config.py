"""Typed settings of kfexplorer, with defaults, stored as JSON in the user config folder.

Only plain preferences live here (never secrets: S3 credentials come from the AWS chain at run time). Qt's
QSettings keeps window geometry and dock state only. Older settings files are migrated on load.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "kfexplorer"
SETTINGS_VERSION = 1
DEFAULT_WORKSPACE = "default"

THEMES = ("system", "light", "dark")
EXPORT_FORMATS = ("csv", "tsv", "parquet")


def config_dir() -> Path:
    """Folder of settings.json (KFEXPLORER_CONFIG_DIR overrides, for tests and portable installs)."""
    override = os.environ.get("KFEXPLORER_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    """Folder of the user database (saved cohorts, measurements): apart from any cache."""
    override = os.environ.get("KFEXPLORER_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def log_dir() -> Path:
    override = os.environ.get("KFEXPLORER_LOG_DIR")
    return Path(override) if override else Path(platformdirs.user_log_dir(APP_NAME))


def cache_root() -> Path:
    """Parent folder of the workspaces (one cache folder per release or project)."""
    override = os.environ.get("KFEXPLORER_CACHE_ROOT")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME))


@dataclass
class Settings:
    """Preferences a user can change; every field has a safe default."""

    version: int = SETTINGS_VERSION
    cache_root: str = ""  # empty = platform default (cache_root())
    current_workspace: str = DEFAULT_WORKSPACE
    recent_caches: list[str] = field(default_factory=list)
    download_concurrency: int = 8
    theme: str = "system"
    export_format: str = "csv"
    spreadsheet_safe_csv: bool = True
    page_size: int = 256

    def validated(self) -> Settings:
        """A copy with out-of-range values replaced by defaults."""
        defaults = Settings()
        fixed = dataclasses.replace(self)
        if fixed.theme not in THEMES:
            fixed.theme = defaults.theme
        if fixed.export_format not in EXPORT_FORMATS:
            fixed.export_format = defaults.export_format
        if not 1 <= fixed.download_concurrency <= 64:
            fixed.download_concurrency = defaults.download_concurrency
        if not 16 <= fixed.page_size <= 10_000:
            fixed.page_size = defaults.page_size
        recent = [str(p) for p in fixed.recent_caches if isinstance(p, str | os.PathLike) and str(p)]
        fixed.recent_caches = list(dict.fromkeys(recent))[:20]  # no duplicates, most recent first
        return fixed

    def default_cache_dir(self) -> Path:
        root = Path(self.cache_root) if self.cache_root else cache_root()
        return root / self.current_workspace


def _migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring an older settings dict up to SETTINGS_VERSION."""
    version = int(raw.get("version", 0))
    if version < 1:
        # version 0 (unversioned) called the concurrency "threads" and stored the theme as "dark_mode": bool.
        if "threads" in raw and "download_concurrency" not in raw:
            raw["download_concurrency"] = raw.pop("threads")
        if "dark_mode" in raw and "theme" not in raw:
            raw["theme"] = "dark" if raw.pop("dark_mode") else "light"
        raw["version"] = 1
    return raw


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """Settings from disk, migrated and validated; defaults when the file is missing or unreadable."""
    path = path or settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("settings file is not a JSON object")
    except (OSError, ValueError):
        return Settings()
    raw = _migrate(raw)
    known = {f.name for f in dataclasses.fields(Settings)}
    values = {k: v for k, v in raw.items() if k in known}
    try:
        return Settings(**values).validated()
    except TypeError:
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write settings atomically (temporary file + rename)."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(settings.validated()), indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
