"""The Facets dock. PLACEHOLDER until the cohort model lands: lists the coming groups and says what to expect."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from kfexplorer.ui.preview_host import ensure_application, show_preview
from kfexplorer.ui.widgets.empty_state import EmptyState

FACET_GROUPS = ("Study", "Demographics", "Phenotype", "Diagnosis", "Variants", "Imaging")


class FacetsPanel(QWidget):
    """Group names greyed out above an empty state; no fake checkboxes or counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        self.group_labels: list[QLabel] = []
        for name in FACET_GROUPS:
            label = QLabel(f"▸  {name}")
            label.setEnabled(False)
            layout.addWidget(label)
            self.group_labels.append(label)
        self.empty_state = EmptyState(
            "Facets are coming",
            "Counts per study, sex, phenotype, diagnosis, variant and imaging will appear here with the cohort "
            "model. Checking a value will add a filter pill.",
            icon_name="filter",
        )
        layout.addWidget(self.empty_state, 1)


def preview(cache_dir: Path | None = None, exec_loop: bool = True) -> QWidget:
    """Open the Facets dock alone (it does not read the cache yet)."""
    ensure_application()
    return show_preview(FacetsPanel(), "Facets", exec_loop, size=(280, 600))


if __name__ == "__main__":
    preview(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
