"""The Facets dock: value counts per field within the cohort (without the facet's own filter), as checkboxes.

Checking values sets that field's `in` criterion in the CohortState; unchecking all removes it. Counts are read in a
worker (one job for all groups; a newer edit cancels the older query) and the previous counts stay until then.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import duckdb
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QLabel, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.model import MISSING_VALUE, Cohort, Value
from kfexplorer.services.cohort_count import facet_counts
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.preview_host import ensure_application, open_preview_workspace, show_preview

# (group title, registry field) in display order.
FACET_GROUPS: tuple[tuple[str, str], ...] = (
    ("Study", "participant.study_id"),
    ("Sex", "participant.sex"),
    ("Proband", "participant.is_proband"),
    ("Affected status", "participant.affected_status"),
    ("Family type", "participant.family_type"),
)

VALUE_ROLE = Qt.ItemDataRole.UserRole + 1
FacetCounts = dict[str, list[tuple[Value, int]]]


def facet_value(raw: Any) -> Value:
    """A facet row's value as a criterion value (NULL is the portal's "__missing__")."""
    if raw is None:
        return MISSING_VALUE
    if isinstance(raw, str | int | float | bool):
        return raw
    return str(raw)


def value_label(value: Value) -> str:
    if value == MISSING_VALUE:
        return "missing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def child_items(group: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [child for index in range(group.childCount()) if (child := group.child(index)) is not None]


def read_facet_counts(workspace: Workspace, cohort: Cohort, cancel: CancelToken | None = None) -> FacetCounts:
    """Counts of every facet group (a field the cache cannot count comes back empty)."""
    cursor = workspace.cursor()
    counts: FacetCounts = {}
    for _title, field in FACET_GROUPS:
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            rows = facet_counts(cursor, cohort, field)
        except duckdb.Error:
            rows = []
        counts[field] = [(facet_value(value), count) for value, count in rows]
    return counts


class FacetsPanel(QWidget):
    """A search field over a tree: one collapsible group per field, one checkable value (with count) per row."""

    counts_loaded = Signal()

    def __init__(self, jobs: QtJobRunner | None = None, state: CohortState | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.state = state if state is not None else CohortState()
        self.workspace: Workspace | None = None
        self.counts: FacetCounts = {}
        self._updating = False
        self._job_key = f"facet-counts-{id(self)}"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search values…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._apply_search)
        layout.addWidget(self.search)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.group_items: dict[str, QTreeWidgetItem] = {}
        for title, field in FACET_GROUPS:
            item = QTreeWidgetItem([title, ""])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            item.setData(0, VALUE_ROLE, field)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
            self.group_items[field] = item
        self.tree.itemChanged.connect(self._item_changed)
        layout.addWidget(self.tree, 1)
        self.hint = QLabel("Open a release to count its participants by study, sex and family.")
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        layout.addWidget(self.hint)
        self.state.add_listener(self._cohort_changed)

    # -- data ---------------------------------------------------------------------------------------------------
    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        self.hint.setVisible(workspace is None)
        if workspace is not None:
            self.refresh()
        elif self.jobs is not None:
            self.jobs.runner.cancel_key(self._job_key)

    def refresh(self) -> None:
        """Re-count every group in a worker for the current cohort."""
        workspace, jobs, cohort = self.workspace, self.jobs, self.state.cohort
        if workspace is None or jobs is None:
            return
        self.tree.setEnabled(True)

        def count(_progress: ProgressCallback, cancel: CancelToken) -> FacetCounts:
            return read_facet_counts(workspace, cohort, cancel)

        jobs.submit(count, name="Facet counts", key=self._job_key,
                    on_finished=lambda counts: self._counts_arrived(cohort, counts))

    def _counts_arrived(self, cohort: Cohort, counts: FacetCounts) -> None:
        if cohort != self.state.cohort:
            return  # a newer edit's counts are on their way
        self.show_counts(counts)

    def show_counts(self, counts: FacetCounts) -> None:
        """Fill the groups from `counts`; values the cohort selects stay listed (count 0 when absent)."""
        self.counts = counts
        self._updating = True
        try:
            for field, group in self.group_items.items():
                selected = self.state.field_values(field)
                rows = list(counts.get(field, []))
                listed = {value for value, _count in rows}
                rows += [(value, 0) for value in selected if value not in listed]
                group.takeChildren()
                for value, count in rows:
                    child = QTreeWidgetItem([value_label(value), f"{count:,}"])
                    child.setData(0, VALUE_ROLE, value)
                    child.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                    child.setCheckState(0, Qt.CheckState.Checked if value in selected else Qt.CheckState.Unchecked)
                    child.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    group.addChild(child)
                group.setText(1, "")
        finally:
            self._updating = False
        self._apply_search(self.search.text())
        self.counts_loaded.emit()

    # -- interaction --------------------------------------------------------------------------------------------
    def value_item(self, field: str, value: Value) -> QTreeWidgetItem | None:
        for child in child_items(self.group_items[field]):
            if child.data(0, VALUE_ROLE) == value and type(child.data(0, VALUE_ROLE)) is type(value):
                return child
        return None

    def counts_of(self, field: str) -> dict[Value, int]:
        return {value: count for value, count in self.counts.get(field, [])}

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0 or item.parent() is None:
            return
        group = item.parent()
        if group is None:
            return
        field = str(group.data(0, VALUE_ROLE))
        values = [child.data(0, VALUE_ROLE) for child in child_items(group)
                  if child.checkState(0) == Qt.CheckState.Checked]
        self.state.set_field_values(field, values)

    def _cohort_changed(self, _cohort: Cohort) -> None:
        # Check marks follow the cohort at once (undo, × on a pill); counts follow from the worker.
        self._updating = True
        try:
            for field, group in self.group_items.items():
                selected = self.state.field_values(field)
                for child in child_items(group):
                    checked = child.data(0, VALUE_ROLE) in selected
                    child.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        finally:
            self._updating = False
        self.refresh()

    def _apply_search(self, text: str) -> None:
        needle = text.strip().lower()
        for group in self.group_items.values():
            for child in child_items(group):
                child.setHidden(bool(needle) and needle not in child.text(0).lower())


def preview(cache_dir: Path | None = None, exec_loop: bool = True) -> QWidget:
    """Open the Facets dock alone over `cache_dir`."""
    ensure_application()
    jobs = QtJobRunner()
    panel = FacetsPanel(jobs)
    jobs.setParent(panel)
    panel.set_workspace(open_preview_workspace(cache_dir))
    return show_preview(panel, "Facets", exec_loop, size=(280, 600))


if __name__ == "__main__":
    preview(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
