"""MONDO: a release's mondo.obo when there is one, else the subset the project packages (resources/ontologies)."""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

from kfexplorer.ontology.model import Ontology
from kfexplorer.ontology.obo import parse_obo, parse_obo_text

SUBSET_NAME = "mondo-subset.obo"


def _packaged_subset_text() -> str:
    try:
        resource = importlib.resources.files("kfexplorer.resources") / "ontologies" / SUBSET_NAME
        return resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # A development checkout: resources/ sits next to the kfexplorer package, not inside it.
        import kfexplorer

        repo_root = Path(kfexplorer.__file__).resolve().parent.parent
        return (repo_root / "resources" / "ontologies" / SUBSET_NAME).read_text(encoding="utf-8")


@functools.cache
def _packaged_subset() -> Ontology:
    return parse_obo_text(_packaged_subset_text(), "mondo")


def load_mondo(path: Path | None = None) -> Ontology:
    """The MONDO ontology from `path` (a release's ontologies/mondo.obo), or the packaged subset."""
    if path is not None:
        return parse_obo(path, "mondo")
    return _packaged_subset()
