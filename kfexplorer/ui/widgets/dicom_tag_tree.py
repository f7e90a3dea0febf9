"""The tag browser: a tree of one DICOM instance's attributes (sequences nested), with a search field.

`tag_rows(ds)` (pure) turns a pydicom Dataset into rows the tree shows; the widget filters them as you type (a
row matches on tag, keyword, VR or value; the parents of a match stay visible).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

VALUE_LIMIT = 160
MAX_ROWS = 20_000


@dataclass
class TagRow:
    tag: str
    keyword: str
    vr: str
    value: str
    children: list[TagRow] = field(default_factory=list)


def _value_text(element: object) -> str:
    vr = getattr(element, "VR", "")
    if vr in ("OB", "OW", "OF", "OD", "OL", "OV", "UN") or getattr(element, "tag", 0) == 0x7FE00010:
        length = getattr(element, "length", 0) or 0
        return f"<{length:,} bytes>"
    try:
        text = str(getattr(element, "value", ""))
    except Exception:  # noqa: BLE001 - a malformed value shows as unreadable, never raises
        return "<unreadable>"
    return text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT] + "…"


def tag_rows(ds: Dataset, budget: list[int] | None = None) -> list[TagRow]:
    """The attributes of `ds` (and of its file meta, first) as rows; sequences hold one child row per item."""
    budget = budget if budget is not None else [MAX_ROWS]
    rows: list[TagRow] = []
    datasets: list[Dataset] = []
    meta = getattr(ds, "file_meta", None)
    if meta is not None and len(meta):
        datasets.append(meta)
    datasets.append(ds)
    for source in datasets:
        for element in source:
            if budget[0] <= 0:
                return rows
            budget[0] -= 1
            tag = f"({element.tag.group:04X},{element.tag.element:04X})"
            keyword = element.keyword or ("private" if element.tag.is_private else "")
            row = TagRow(tag, keyword, str(element.VR), "" if element.VR == "SQ" else _value_text(element))
            if element.VR == "SQ":
                items = element.value or []
                row.value = f"{len(items)} item(s)"
                for number, item in enumerate(items, start=1):
                    item_row = TagRow("", f"Item {number}", "", "", tag_rows_of_item(item, budget))
                    row.children.append(item_row)
            rows.append(row)
    return rows


def tag_rows_of_item(item: Dataset, budget: list[int]) -> list[TagRow]:
    plain = Dataset()
    plain.update(item)
    return tag_rows(plain, budget)


class DicomTagTree(QWidget):
    """Search field over a tree of tag / keyword / VR / value."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tags (keyword, tag, value)…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_filter)
        layout.addWidget(self.search)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Tag", "Keyword", "VR", "Value"])
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setColumnWidth(0, 96)
        self.tree.setColumnWidth(1, 170)
        self.tree.setColumnWidth(2, 36)
        layout.addWidget(self.tree, 1)

    def set_rows(self, rows: list[TagRow]) -> None:
        self.tree.clear()
        self._add(self.tree.invisibleRootItem(), rows)
        self.apply_filter(self.search.text())

    def _add(self, parent: QTreeWidgetItem, rows: list[TagRow]) -> None:
        for row in rows:
            item = QTreeWidgetItem([row.tag, row.keyword, row.vr, row.value])
            item.setToolTip(3, row.value)
            parent.addChild(item)
            if row.children:
                self._add(item, row.children)

    def apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for item in _children(self.tree.invisibleRootItem()):
            self._filter(item, needle)

    def _filter(self, item: QTreeWidgetItem, needle: str) -> bool:
        own = not needle or any(needle in item.text(column).lower() for column in range(4))
        child_match = False
        for child in _children(item):
            child_match = self._filter(child, needle if not own else "") or child_match
        visible = own or child_match
        item.setHidden(not visible)
        if needle and child_match:
            item.setExpanded(True)
        return visible

    def visible_keywords(self) -> list[str]:
        """Keywords of the visible top-level rows (for tests and copy)."""
        return [item.text(1) for item in _children(self.tree.invisibleRootItem()) if not item.isHidden()]


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    found = (item.child(index) for index in range(item.childCount()))
    return [child for child in found if child is not None]
