"""A text file a person picks in a dialog ("From file…", "Load a list…"): ask for it, read it, say why not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QLabel, QWidget


def pick_file(parent: QWidget, caption: str, name_filter: str, load: Callable[[Path], None]) -> None:
    """Ask for a file to open; `load` it unless the person cancels."""
    path, _ = QFileDialog.getOpenFileName(parent, caption, "", name_filter)
    if path:
        load(Path(path))


def read_picked_text(path: Path, error_label: QLabel) -> str | None:
    """The text of `path` (undecodable bytes replaced); None, with the reason in `error_label`, when unreadable."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        error_label.setText(f"Could not read {path.name}: {error.strerror}")
        return None
