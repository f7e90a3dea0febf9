"""A value facet: checkable values with participant counts, sorted by count, top N with "show all", searchable.

Values the cohort excludes (a NOT pill on the field) stay listed, checked and marked "not …"; unchecking one asks
for its exclusion to be cleared (`exclusion_cleared`).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from kfexplorer.query.model import MISSING_VALUE, Value
from kfexplorer.services.facet_queries import ValueCount
from kfexplorer.ui.widgets.facet_frame import FacetFrame

TOP_N = 6
VALUE_ROLE = Qt.ItemDataRole.UserRole + 1


def value_label(value: Value) -> str:
    if value == MISSING_VALUE:
        return "missing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def row_height(view: QTreeWidget) -> int:
    """The height of one checkable row, also before the view is shown (when sizeHintForRow can be too small)."""
    indicator = view.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorHeight, None, view)
    hinted = view.sizeHintForRow(0) if view.topLevelItemCount() else 0
    return hinted if hinted > 0 else max(view.fontMetrics().height() + 2, indicator + 2)


def same_value(a: object, b: object) -> bool:
    return a == b and type(a) is type(b)


class ValueFacet(FacetFrame):
    """`selection_changed(field, values)` when the user checks or unchecks a value; `exclusion_cleared(field,
    value)` when they uncheck an excluded one."""

    selection_changed = Signal(str, list)
    exclusion_cleared = Signal(str, object)

    def __init__(self, field: str, title: str, top_n: int = TOP_N, parent: QWidget | None = None) -> None:
        super().__init__(field, title, parent=parent)
        self.top_n = top_n
        self.show_all = False
        self.counts: list[ValueCount] = []
        self.selected: tuple[Value, ...] = ()
        self.excluded: tuple[Value, ...] = ()
        self._updating = False
        self.list = QTreeWidget()
        self.list.setColumnCount(2)
        self.list.setHeaderHidden(True)
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setFrameShape(QTreeWidget.Shape.NoFrame)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.list.itemChanged.connect(self._item_changed)
        self.body_layout.addWidget(self.list)
        self.more = QPushButton("")
        self.more.setFlat(True)
        self.more.setCursor(Qt.CursorShape.PointingHandCursor)
        self.more.clicked.connect(self._toggle_show_all)
        self.more.setVisible(False)
        self.body_layout.addWidget(self.more, 0, Qt.AlignmentFlag.AlignLeft)
        self.search.textChanged.connect(lambda _text: self._fill())
        self._fit_height()

    # -- model → view -------------------------------------------------------------------------------------------
    def show_counts(self, counts: Sequence[ValueCount], selected: Sequence[Value],
                    excluded: Sequence[Value] = ()) -> None:
        """Show `counts` (largest first); values the cohort selects or excludes stay listed (count 0 when absent)."""
        self.counts = sorted(counts, key=lambda c: (-c.count, value_label(c.value).lower()))
        self.selected = tuple(selected)
        self.excluded = tuple(excluded)
        self._fill()

    def set_selected(self, selected: Sequence[Value], excluded: Sequence[Value] | None = None) -> None:
        """Check marks (and exclusions, when given) follow the cohort (undo, × on a pill) before new counts arrive."""
        self.selected = tuple(selected)
        if excluded is not None and tuple(excluded) != self.excluded:
            self.excluded = tuple(excluded)
            self._fill()  # an exclusion changes how a row reads
            return
        self._updating = True
        try:
            for item in self.items():
                value = item.data(0, VALUE_ROLE)
                checked = any(same_value(value, v) for v in (*self.selected, *self.excluded))
                item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        finally:
            self._updating = False

    def is_excluded(self, value: Value) -> bool:
        return any(same_value(value, v) for v in self.excluded)

    def _rows(self) -> tuple[list[ValueCount], int]:
        """The rows to show and how many match the search in all."""
        rows = list(self.counts)
        kept = (*self.selected, *self.excluded)
        for value in kept:
            if not any(same_value(c.value, value) for c in rows):
                rows.append(ValueCount(value, 0))
        needle = self.search.text().strip().lower()
        if needle:
            rows = [r for r in rows if needle in value_label(r.value).lower()]
        matching = len(rows)
        if not self.show_all and not needle and len(rows) > self.top_n:
            shown = rows[: self.top_n]
            shown += [r for r in rows[self.top_n:] if any(same_value(r.value, v) for v in kept)]
            rows = shown
        return rows, matching

    def _fill(self) -> None:
        rows, matching = self._rows()
        self._updating = True
        try:
            self.list.clear()
            for row in rows:
                excluded = self.is_excluded(row.value)
                label = value_label(row.value)
                item = QTreeWidgetItem([f"not {label}" if excluded else label, f"{row.count:,}"])
                item.setData(0, VALUE_ROLE, row.value)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                checked = excluded or any(same_value(row.value, v) for v in self.selected)
                item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(0, label)
                if excluded:  # "not …", in italics: the cohort leaves these participants out
                    font = item.font(0)
                    font.setItalic(True)
                    item.setFont(0, font)
                    item.setToolTip(0, f"{label} is excluded (a NOT criterion); uncheck to clear the exclusion")
                self.list.addTopLevelItem(item)
        finally:
            self._updating = False
        hidden = matching - len(rows)
        searching = bool(self.search.text().strip())
        self.more.setVisible(not searching and (hidden > 0 or (self.show_all and matching > self.top_n)))
        self.more.setText(f"Show all {matching:,}" if hidden > 0 else "Show fewer")
        self.set_note("" if self.counts or self.selected else "no values")
        self._fit_height()

    def _fit_height(self) -> None:
        """Show every listed row without a scroll bar (the dock scrolls as a whole)."""
        rows = self.list.topLevelItemCount()
        self.list.setFixedHeight(rows * row_height(self.list) + 2 * self.list.frameWidth() + 2)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._fit_height()

    def _toggle_show_all(self) -> None:
        self.show_all = not self.show_all
        self._fill()

    # -- lookups ------------------------------------------------------------------------------------------------
    def items(self) -> list[QTreeWidgetItem]:
        return [item for i in range(self.list.topLevelItemCount()) if (item := self.list.topLevelItem(i)) is not None]

    def item_for(self, value: Value) -> QTreeWidgetItem | None:
        return next((item for item in self.items() if same_value(item.data(0, VALUE_ROLE), value)), None)

    def visible_labels(self) -> list[str]:
        return [item.text(0) for item in self.items() if not item.isHidden()]

    # -- view → model -------------------------------------------------------------------------------------------
    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        value = item.data(0, VALUE_ROLE)
        if self.is_excluded(value):
            if item.checkState(0) != Qt.CheckState.Checked:
                # after this signal returns: the cohort's change refills the list (set_selected), deleting `item`
                QTimer.singleShot(0, self, lambda: self.exclusion_cleared.emit(self.field, value))
            return
        kept = [v for v in self.selected if not same_value(v, value)]
        if item.checkState(0) == Qt.CheckState.Checked:
            kept.append(value)
        self.selected = tuple(kept)
        self.selection_changed.emit(self.field, kept)
