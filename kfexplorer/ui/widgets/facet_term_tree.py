"""An ontology facet: a lazily expanded tree of the terms present in the data and their ancestors, counts rolled up.

A term with several parents appears under each of them; checking it anywhere checks it everywhere. The search shows
the matching terms under their path (ancestors expanded). Several fields may share the tree (a switch at the top:
e.g. HPO observed / not observed); `selection_changed(field, term_ids)` names the field the switch shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from kfexplorer.services.facet_queries import TermTree
from kfexplorer.ui.widgets.facet_frame import FacetFrame
from kfexplorer.ui.widgets.facet_value_list import row_height

TERM_ROLE = Qt.ItemDataRole.UserRole + 1
PLACEHOLDER = "…"
TREE_MAX_ROWS = 14
TREE_MIN_ROWS = 3


class TermTreeFacet(FacetFrame):
    """`fields`: (switch label, registry field) pairs; the first is shown first. One field: no switch."""

    selection_changed = Signal(str, list)
    field_switched = Signal(str)

    def __init__(self, fields: Sequence[tuple[str, str]], title: str, parent: QWidget | None = None) -> None:
        super().__init__(fields[0][1], title, parent=parent)
        self.fields = tuple(fields)
        self.tree_data: TermTree | None = None
        self.selected: dict[str, tuple[str, ...]] = {name: () for _label, name in self.fields}
        self._updating = False
        # The switch sits in the title row (compact): e.g. "observed ▾" / "not observed".
        self.switch = QComboBox()
        self.switch.setToolTip("Which of the ontology's fields the tree counts and filters")
        for label, name in self.fields:
            self.switch.addItem(label, name)
        self.switch.setVisible(len(self.fields) > 1)
        self.switch.setMinimumWidth(72)  # may shrink below its text in a narrow dock (the list shows it whole)
        self.switch.currentIndexChanged.connect(lambda index: self._switch(str(self.switch.itemData(index))))
        self.title_row.insertWidget(1, self.switch)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.tree.setIndentation(12)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemExpanded.connect(self._expand)
        self.tree.itemExpanded.connect(lambda _item: self._fit_height())
        self.tree.itemCollapsed.connect(lambda _item: self._fit_height())
        self.tree.itemChanged.connect(self._item_changed)
        self.body_layout.addWidget(self.tree)
        self.search.setPlaceholderText("Search terms or ids…")
        self.search_button.setChecked(True)
        self._fit_height()
        self.search.textChanged.connect(lambda _text: self._rebuild())

    # -- model → view -------------------------------------------------------------------------------------------
    def show_tree(self, tree: TermTree, selected: dict[str, tuple[str, ...]]) -> None:
        """Show `tree` (counts for the current field); `selected` maps each field to its checked term ids."""
        expanded = self.expanded_terms()
        self.tree_data = tree
        self.selected = {name: tuple(selected.get(name, ())) for _label, name in self.fields}
        self._rebuild(expanded)

    def set_selected(self, selected: dict[str, tuple[str, ...]]) -> None:
        self.selected = {name: tuple(selected.get(name, ())) for _label, name in self.fields}
        self._updating = True
        try:
            for item in self.all_items():
                item.setCheckState(0, self._check_state(str(item.data(0, TERM_ROLE))))
        finally:
            self._updating = False

    def _check_state(self, term: str) -> Qt.CheckState:
        return Qt.CheckState.Checked if term in self.selected.get(self.field, ()) else Qt.CheckState.Unchecked

    def _new_item(self, term: str, lazy_children: bool) -> QTreeWidgetItem:
        tree = self.tree_data
        node = tree.nodes.get(term) if tree is not None else None
        label = node.label if node is not None else term
        count = node.count if node is not None else 0
        item = QTreeWidgetItem([label, f"{count:,}"])
        item.setData(0, TERM_ROLE, term)
        item.setToolTip(0, f"{label} ({term})")
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(0, self._check_state(term))
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if lazy_children and node is not None and node.child_ids:
            item.addChild(QTreeWidgetItem([PLACEHOLDER, ""]))
        return item

    def _rebuild(self, expanded: set[str] | None = None) -> None:
        tree = self.tree_data
        self._updating = True
        try:
            self.tree.clear()
            if tree is None:
                return
            needle = self.search.text().strip()
            checked = [t for t in self.selected.get(self.field, ()) if t not in tree.nodes]
            if needle:
                self._build_search(tree, needle)
            else:
                for term in (*tree.roots, *checked):
                    self.tree.addTopLevelItem(self._new_item(term, lazy_children=True))
                self._expand_terms(expanded or set())
        finally:
            self._updating = False
        self.search.setPlaceholderText(f"Search {len(tree.nodes):,} terms or ids…" if tree.nodes else "No terms")
        self._fit_height()

    def visible_rows(self) -> int:
        """Rows a user can see by scrolling: top-level items and the children of expanded items."""
        rows = 0
        todo = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while todo:
            item = todo.pop()
            if item is None:
                continue
            rows += 1
            if item.isExpanded():
                todo.extend(item.child(i) for i in range(item.childCount()))
        return rows

    def _fit_height(self) -> None:
        rows = min(TREE_MAX_ROWS, max(TREE_MIN_ROWS, self.visible_rows()))
        self.tree.setFixedHeight(rows * row_height(self.tree) + 2 * self.tree.frameWidth() + 4)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._fit_height()

    def _expand_terms(self, terms: set[str]) -> None:
        """Expand every item of `terms`, outermost first (inner items exist once their parent opened)."""
        for _depth in range(64):
            opened = [item for item in self.all_items()
                      if str(item.data(0, TERM_ROLE)) in terms and not item.isExpanded()]
            if not opened:
                return
            for item in opened:
                item.setExpanded(True)

    def _build_search(self, tree: TermTree, needle: str) -> None:
        """Matching terms under their paths: only matches and their ancestors, everything expanded."""
        matches = tree.search(needle)
        keep = tree.with_ancestors(matches)
        match_set = set(matches)

        def add(term: str, parent: QTreeWidgetItem | None) -> None:
            item = self._new_item(term, lazy_children=False)
            if term in match_set:
                font = item.font(0)
                font.setBold(True)
                item.setFont(0, font)
            if parent is None:
                self.tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
            for child in tree.children(term):
                if child in keep:
                    add(child, item)
            item.setExpanded(True)

        for root in tree.roots:
            if root in keep:
                add(root, None)

    def _expand(self, item: QTreeWidgetItem) -> None:
        """Fill a lazily created item's children the first time it opens."""
        first = item.child(0) if item.childCount() == 1 else None
        if first is None or first.data(0, TERM_ROLE) is not None:
            return
        tree = self.tree_data
        if tree is None:
            return
        was_updating, self._updating = self._updating, True
        try:
            item.takeChildren()
            for child in tree.children(str(item.data(0, TERM_ROLE))):
                item.addChild(self._new_item(child, lazy_children=True))
        finally:
            self._updating = was_updating

    # -- lookups ------------------------------------------------------------------------------------------------
    def all_items(self) -> list[QTreeWidgetItem]:
        found: list[QTreeWidgetItem] = []
        todo = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while todo:
            item = todo.pop()
            if item is None or item.data(0, TERM_ROLE) is None:
                continue
            found.append(item)
            todo.extend(item.child(i) for i in range(item.childCount()))
        return found

    def items_for(self, term: str) -> list[QTreeWidgetItem]:
        return [item for item in self.all_items() if item.data(0, TERM_ROLE) == term]

    def expanded_terms(self) -> set[str]:
        return {str(item.data(0, TERM_ROLE)) for item in self.all_items() if item.isExpanded()}

    def top_level_terms(self) -> list[str]:
        return [str(self.tree.topLevelItem(i).data(0, TERM_ROLE))  # type: ignore[union-attr]
                for i in range(self.tree.topLevelItemCount())]

    def reveal(self, term: str) -> QTreeWidgetItem | None:
        """Expand the path down to `term` and return its item (None when the tree does not hold it)."""
        tree = self.tree_data
        if tree is None or term not in tree.nodes:
            return None
        path = tree.path(term)
        items = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        found: QTreeWidgetItem | None = None
        for step in path:
            found = next((i for i in items if i is not None and i.data(0, TERM_ROLE) == step), None)
            if found is None:
                return None
            found.setExpanded(True)
            items = [found.child(i) for i in range(found.childCount())]
        return found

    # -- view → model -------------------------------------------------------------------------------------------
    def _switch(self, field: str) -> None:
        if field == self.field:
            return
        self.field = field
        self.tree_data = None
        self.tree.clear()
        self._fit_height()
        self.set_stale(True)
        self.field_switched.emit(field)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        term = str(item.data(0, TERM_ROLE))
        checked = item.checkState(0) == Qt.CheckState.Checked
        kept = [t for t in self.selected.get(self.field, ()) if t != term]
        if checked:
            kept.append(term)
        self.selected[self.field] = tuple(kept)
        self._updating = True
        try:
            for twin in self.items_for(term):
                twin.setCheckState(0, item.checkState(0))
        finally:
            self._updating = False
        self.selection_changed.emit(self.field, kept)
