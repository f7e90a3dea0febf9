"""Views of the cohort as text and numbers: its SQL (with the bound parameters listed), its Kids First SQON, an
import of a SQON or cohort file / pasted text, and the attrition funnel (count after each top-level criterion).

None of them blocks: they are non-modal windows; the attrition counts run in a worker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.compiler import compile_cohort
from kfexplorer.query.model import Cohort, QueryError, cohort_to_json
from kfexplorer.query.sqon import cohort_to_sqon
from kfexplorer.services.cohort_count import AttritionStep, count_cohort, parse_cohort_document
from kfexplorer.services.jobs import JobFailure
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.dialogs.picked_text_file import pick_file, read_picked_text
from kfexplorer.ui.dialogs.worker_dialog import WorkerDialog
from kfexplorer.ui.job_signals import QtJobRunner


def sql_text(cohort: Cohort) -> str:
    """The compiled SQL, then its bound parameters one a line (as `-- ?1 = 'value'`)."""
    compiled = compile_cohort(cohort)
    lines = [compiled.sql, "", f"-- {len(compiled.params)} bound parameter(s), in order:"]
    lines += [f"-- ?{number} = {value!r}" for number, value in enumerate(compiled.params, start=1)]
    return "\n".join(lines)


def sqon_text(cohort: Cohort) -> str:
    return json.dumps(cohort_to_sqon(cohort), indent=2)


class _TextDialog(QDialog):
    """A read-only monospace text with Copy (and Save…)."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None, save_suffix: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.text_view = QPlainTextEdit(text)
        self.text_view.setReadOnly(True)
        self.text_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        layout.addWidget(self.text_view, 1)
        row = QHBoxLayout()
        self.status = QLabel()
        row.addWidget(self.status, 1)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy)
        row.addWidget(self.copy_button)
        self._save_suffix = save_suffix
        if save_suffix:
            save = QPushButton("Save…")
            save.clicked.connect(self._choose_save)
            row.addWidget(save)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        row.addWidget(close)
        layout.addLayout(row)
        self.resize(720, 460)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text_view.toPlainText())
        self.status.setText("Copied to the clipboard")

    def _choose_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save", f"cohort{self._save_suffix}")
        if path:
            Path(path).write_text(self.text_view.toPlainText() + "\n", encoding="utf-8")
            self.status.setText(f"Saved {Path(path).name}")


class SqlDialog(_TextDialog):
    def __init__(self, cohort: Cohort, parent: QWidget | None = None) -> None:
        try:
            text = sql_text(cohort)
        except QueryError as error:
            text = f"-- this cohort cannot be compiled: {error}"
        super().__init__("Cohort SQL", text, parent, ".sql")


class SqonDialog(_TextDialog):
    def __init__(self, cohort: Cohort, parent: QWidget | None = None) -> None:
        try:
            text = sqon_text(cohort)
        except QueryError as error:
            text = f"This cohort cannot be written as a SQON: {error}"
        super().__init__("Cohort SQON (Kids First)", text, parent, ".sqon.json")
        self.cohort_json = json.dumps(cohort_to_json(cohort), indent=2)


class ImportCohortDialog(QDialog):
    """Paste or load a Kids First SQON or a kfexplorer cohort; `cohort_imported(Cohort)` when it reads."""

    cohort_imported = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a SQON or cohort")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Paste a Kids First portal SQON or a kfexplorer cohort (JSON), or load a file:"))
        self.text_box = QPlainTextEdit()
        self.text_box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text_box.setPlaceholderText('{"op": "and", "content": [{"op": "in", "content": '
                                         '{"field": "study_id", "value": ["SD_…"]}}]}')
        layout.addWidget(self.text_box, 1)
        self.error_label = QLabel()
        self.error_label.setObjectName("ImportError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b;")
        layout.addWidget(self.error_label)
        row = QHBoxLayout()
        load = QPushButton("From file…")
        load.clicked.connect(self._choose_file)
        row.addWidget(load)
        row.addStretch(1)
        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.import_text)
        row.addWidget(self.import_button)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        row.addWidget(cancel)
        layout.addLayout(row)
        self.resize(640, 420)

    def _choose_file(self) -> None:
        pick_file(self, "Import a SQON or cohort", "JSON (*.json);;All (*)", self.load_file)

    def load_file(self, path: Path) -> None:
        text = read_picked_text(path, self.error_label)
        if text is not None:
            self.text_box.setPlainText(text)

    def read(self) -> Cohort:
        """The cohort in the text; QueryError worded for the user (an unknown field is named)."""
        text = self.text_box.toPlainText().strip()
        if not text:
            raise QueryError("paste a SQON or cohort first")
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as error:
            raise QueryError(f"this is not JSON: {error.msg} (line {error.lineno})") from None
        cohort = parse_cohort_document(data)
        compile_cohort(cohort)  # unknown fields and malformed criteria fail here, named
        return cohort

    def import_text(self) -> bool:
        try:
            cohort = self.read()
        except QueryError as error:
            self.error_label.setText(f"Cannot import: {error}")
            return False
        self.error_label.clear()
        self.cohort_imported.emit(cohort)
        self.accept()
        return True


class AttritionDialog(WorkerDialog):
    """The count after each top-level criterion, in order, as a funnel (computed in a worker)."""

    computed = Signal()

    def __init__(self, jobs: QtJobRunner, workspace: Workspace | None, cohort: Cohort,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Attrition")
        self.total = 0
        self.steps: list[AttritionStep] = []
        layout = QVBoxLayout(self)
        self.status = QLabel("Counting…")
        layout.addWidget(self.status)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["After criterion", "Participants", ""])
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(2, 180)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)  # Esc closes too (QDialog)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(760, 360)
        self._jobs = jobs
        if workspace is None:
            self.status.setText("Open a release to count the attrition")
            return

        def attrition(_progress: ProgressCallback, cancel: CancelToken) -> tuple[int, tuple[AttritionStep, ...]]:
            cursor = workspace.cursor()
            total = int(cursor.execute("SELECT count(*) FROM participants").fetchall()[0][0])
            cancel.raise_if_cancelled()
            counted = count_cohort(cursor, cohort, attrition=True)
            return total, counted.attrition or ()

        jobs.submit(attrition, name="Attrition", key="attrition",
                    on_finished=lambda result: self.show_steps(*result), on_failed=self._failed)

    def done(self, result: int) -> None:
        self._jobs.runner.cancel_key("attrition")  # closed before the counts arrived: stop counting
        super().done(result)

    def _failed(self, failure: JobFailure) -> None:
        if self.closed_for_good:  # a worker answered after the dialog closed
            return
        self.status.setText(f"Could not count: {failure.message}")

    def show_steps(self, total: int, steps: tuple[AttritionStep, ...]) -> None:
        if self.closed_for_good:  # a worker answered after the dialog closed
            return
        self.total = total
        self.steps = list(steps)
        rows = [("All participants", self.total), *((s.criterion, s.count) for s in steps)]
        self.table.setRowCount(len(rows))
        for row, (words, count) in enumerate(rows):
            label = QTableWidgetItem(("AND " if row > 1 else "") + words)
            label.setToolTip(words)
            self.table.setItem(row, 0, label)
            share = f"  ({100 * count / self.total:.0f} %)" if self.total else ""
            number = QTableWidgetItem(f"{count:,}{share}")
            number.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 1, number)
            bar = QProgressBar()
            bar.setRange(0, max(self.total, 1))
            bar.setValue(min(count, max(self.total, 1)))
            bar.setTextVisible(False)
            self.table.setCellWidget(row, 2, bar)
        self.status.setText("Participants left after each criterion (in the order of the query bar)")
        self.computed.emit()
