"""Where the files that ship inside the package live: resources/ and icons/.

In a wheel they are the packages kfexplorer.resources and kfexplorer.icons (setup.py maps the top-level folders
there); in a source checkout they are the top-level folders next to the kfexplorer package.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _folder(name: str) -> Path:
    installed = importlib.resources.files("kfexplorer") / name
    if installed.is_dir():
        return Path(str(installed))
    return _REPO_ROOT / name


def resources_dir() -> Path:
    return _folder("resources")


def icons_dir() -> Path:
    return _folder("icons")


def resource_path(*parts: str) -> Path:
    """A file under resources/, e.g. resource_path("ontologies", "mondo-subset.obo")."""
    return resources_dir().joinpath(*parts)


def icon_path(name: str) -> Path:
    """An icon under icons/, e.g. icon_path("app.svg")."""
    return icons_dir() / name
