"""Saved cohorts of the open release (user database): open, rename, delete; and saving a cohort under a name.

Names and definitions are stored with bound parameters (kfexplorer.store.user_db); a name is only ever shown as
plain text here (never as rich text).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.query.compiler import describe
from kfexplorer.query.model import Cohort, QueryError, cohort_from_json, cohort_to_json
from kfexplorer.store.user_db import CohortNameTakenError, SavedCohort, UserDatabase


def save_cohort(database: UserDatabase, cohort: Cohort, name: str, release_id: str | None) -> int:
    """Save `cohort` as `name` for `release_id` (replacing a cohort of that name); returns its id."""
    name = name.strip()
    if not name:
        raise QueryError("a saved cohort needs a name")
    return database.save_cohort(name, cohort_to_json(cohort.with_name(name)), release_id)


def ask_and_save(parent: QWidget, database: UserDatabase, cohort: Cohort, release_id: str | None,
                 suggested: str = "") -> str | None:
    """Ask for a name (Ctrl+S) and save; the name saved, or None when cancelled."""
    name, ok = QInputDialog.getText(parent, "Save cohort", "Name of the cohort:", QLineEdit.EchoMode.Normal,
                                    suggested or cohort.name)
    if not ok or not name.strip():
        return None
    save_cohort(database, cohort, name, release_id)
    return name.strip()


def saved_cohort_tree(saved: SavedCohort) -> Cohort:
    return cohort_from_json(saved.definition).with_name(saved.name)


def readable_saved_cohorts(database: UserDatabase, release_id: str | None) -> list[tuple[str, Cohort]]:
    """(name, cohort) of the release's saved cohorts that still read (a damaged definition is left out)."""
    readable = []
    for saved in database.cohorts(release_id):
        try:
            readable.append((saved.name, saved_cohort_tree(saved)))
        except QueryError:
            continue
    return readable


class SavedCohortsDialog(QDialog):
    """The saved cohorts of `release_id`; `open_requested(Cohort)` when the user opens one."""

    open_requested = Signal(object)

    def __init__(self, database: UserDatabase, release_id: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Saved cohorts")
        self.database, self.release_id = database, release_id
        layout = QVBoxLayout(self)
        heading = QLabel()
        heading.setTextFormat(Qt.TextFormat.PlainText)
        heading.setText(f"Cohorts saved for release {release_id or '(none)'}")
        layout.addWidget(heading)
        self.list = QListWidget()
        self.list.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        layout.addWidget(self.list, 1)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(self.open_selected)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self._ask_rename)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._ask_delete)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        for button in (self.open_button, self.rename_button, self.delete_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(close)
        layout.addLayout(row)
        self.resize(560, 400)
        self.reload()

    def reload(self) -> None:
        self.list.clear()
        for saved in self.database.cohorts(self.release_id):
            item = QListWidgetItem(saved.name)
            item.setData(Qt.ItemDataRole.UserRole, saved.id)
            try:
                item.setToolTip(describe(saved_cohort_tree(saved).root))
            except QueryError as error:
                item.setToolTip(f"cannot be read: {error}")
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.status.setText("No saved cohorts yet: Ctrl+S saves the current one")
        self._update_buttons()

    def names(self) -> list[str]:
        return [self.list.item(r).text() for r in range(self.list.count())]

    def _update_buttons(self) -> None:
        selected = self.list.currentItem() is not None
        for button in (self.open_button, self.rename_button, self.delete_button):
            button.setEnabled(selected)

    def _selected_id(self) -> int | None:
        item = self.list.currentItem()
        return int(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def select(self, name: str) -> None:
        matches = self.list.findItems(name, Qt.MatchFlag.MatchExactly)
        if matches:
            self.list.setCurrentItem(matches[0])

    def open_selected(self) -> None:
        cohort_id = self._selected_id()
        saved = self.database.cohort(cohort_id) if cohort_id is not None else None
        if saved is None:
            return
        try:
            cohort = saved_cohort_tree(saved)
        except QueryError as error:
            self.status.setText(f"Cannot open {saved.name}: {error}")
            return
        self.open_requested.emit(cohort)

    def rename_selected(self, name: str) -> bool:
        cohort_id = self._selected_id()
        if cohort_id is None:
            return False
        try:
            self.database.rename_cohort(cohort_id, name.strip())
        except (CohortNameTakenError, ValueError) as error:
            self.status.setText(str(error))
            return False
        self.reload()
        self.select(name.strip())
        return True

    def delete_selected(self) -> None:
        cohort_id = self._selected_id()
        if cohort_id is not None:
            self.database.delete_cohort(cohort_id)
            self.reload()

    def _ask_rename(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        name, ok = QInputDialog.getText(self, "Rename cohort", "New name:", QLineEdit.EchoMode.Normal, item.text())
        if ok:
            self.rename_selected(name)

    def _ask_delete(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Delete cohort", f"Delete the saved cohort “{item.text()}”?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # a name is text, never markup
        if box.exec() == QMessageBox.StandardButton.Yes:
            self.delete_selected()
