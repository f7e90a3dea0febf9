"""Centre tabs that are not built yet (Summary, Variants, Imaging, Compare): each says what is coming."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QWidget

from kfexplorer.ui.preview_host import ensure_application, show_preview
from kfexplorer.ui.widgets.empty_state import EmptyState

COMING_TABS: dict[str, str] = {
    "Summary": "A grid of charts of the current cohort is coming; clicking a bar or slice will add a filter.",
    "Variants": "The cohort's variants with inheritance filters and drill-down to carriers are coming.",
    "Imaging": "The cohort's imaging series, grouped by participant, and the slice viewer are coming.",
    "Compare": "Venn diagrams of 2–3 cohorts and Kaplan–Meier curves with log-rank are coming.",
}


class ComingPanel(EmptyState):
    """An empty state naming the tab and what it will show."""

    def __init__(self, tab_name: str, parent: QWidget | None = None) -> None:
        super().__init__(f"{tab_name} — coming soon", COMING_TABS.get(tab_name, ""), parent=parent)
        self.tab_name = tab_name


def preview(cache_dir: Path | None = None, exec_loop: bool = True) -> QWidget:
    """Open the Summary placeholder alone."""
    ensure_application()
    return show_preview(ComingPanel("Summary"), "Summary", exec_loop)


if __name__ == "__main__":
    preview(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
