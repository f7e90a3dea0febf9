"""The shortcuts sheet of the Help menu: every key of UI.md, the window's and the DICOM viewer's."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.imaging.display import PRESETS

WINDOW_SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+K", "Quick search: participant, gene, HPO / MONDO term, region, rsID or HGVS"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo a cohort edit"),
    ("Ctrl+S", "Save the cohort"),
    ("Ctrl+E", "Export"),
    ("Ctrl+1 … Ctrl+5", "Summary, Participants, Variants, Imaging, Compare tabs"),
    ("F5", "Refresh"),
    ("Esc", "Cancel the focused job"),
)

KEYS_GAP = 24  # between the longest keys and their description

VIEWER_SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Wheel / ↑ ↓ / Page Up, Page Down", "Previous / next slice"),
    ("1 … 6", "Presets: " + ", ".join(name.replace("_", " ") for name in PRESETS)),
    ("0", "The file's own window"),
    ("Right- or middle-drag", "Window (horizontal) and level (vertical)"),
    ("Left-drag", "Pan (or draw with a measurement tool)"),
    ("+ / -", "Zoom in / out"),
    ("Space", "Reset zoom, pan and window"),
    ("I", "Invert"),
    ("C", "Cine: play the slices or frames"),
    ("Enter / double-click", "Close a polygon ROI"),
    ("Esc", "Drop the measurement being drawn"),
)


class ShortcutsSheet(QDialog):
    """A non-modal sheet listing the keys, grouped (Window, DICOM viewer)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Keys", "Does"])
        self.tree.setRootIsDecorated(False)
        # Nothing is cut: the keys column fits its longest entry (and a gap); the descriptions take the rest and wrap
        # when the sheet is narrower than they are.
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        for title, rows in (("Window", WINDOW_SHORTCUTS), ("DICOM viewer", VIEWER_SHORTCUTS)):
            group = QTreeWidgetItem([title, ""])
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            self.tree.addTopLevelItem(group)
            for keys, does in rows:
                group.addChild(QTreeWidgetItem([keys, does]))
            group.setExpanded(True)
        self.tree.setItemsExpandable(False)
        self.tree.setColumnWidth(0, self.tree.sizeHintForColumn(0) + KEYS_GAP)
        layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        # Wide enough for every description on one line (the tree's margins, indentation and a scroll bar aside).
        chrome = 2 * self.tree.frameWidth() + self.tree.indentation() + self.tree.verticalScrollBar().sizeHint().width()
        wanted = self.tree.columnWidth(0) + self.tree.sizeHintForColumn(1) + chrome + 24
        self.resize(max(620, wanted + 32), 520)

    def rows(self) -> list[tuple[str, str]]:
        found = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            if group is None:
                continue
            children = [group.child(j) for j in range(group.childCount())]
            found += [(child.text(0), child.text(1)) for child in children if child is not None]
        return found
