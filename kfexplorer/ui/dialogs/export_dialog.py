"""Export the cohort (toolbar Export ▾, Ctrl+E): what, format, columns, target file; the export runs as a job.

`ExportDialog` only gathers an `ExportRequest`; `ExportController` owns the toolbar menu (Export…, Import a cohort
file…, Participants from a list…), runs the export as a tracked job (progress and Cancel in the status bar; cancel
interrupts DuckDB and leaves no file) and ends with a notice naming the file and its sidecar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.config import load_settings
from kfexplorer.export.cohort_export import ExportResult, export_cohort
from kfexplorer.export.cohort_import import participant_ids_from_text, participant_list_criterion, read_cohort_or_list
from kfexplorer.export.sidecar import sidecar_path
from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.model import Cohort, QueryError
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.jobs import JobFailure
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner

# (export kind, label) in menu order.
WHAT_CHOICES: tuple[tuple[str, str], ...] = (
    ("participants", "Participants"),
    ("diagnoses", "Diagnoses"),
    ("phenotypes", "Phenotypes"),
    ("biospecimens", "Biospecimens"),
    ("files", "Data files"),
    ("variants", "Variants of the cohort"),
    ("occurrences", "Variant calls (occurrences) of the cohort"),
    ("manifest", "File manifest (id, name, URL, size, hash)"),
    ("fhir-group", "FHIR R4 Group of Patients (JSON)"),
)
FORMAT_CHOICES: tuple[tuple[str, str], ...] = (("csv", "CSV"), ("tsv", "TSV"), ("parquet", "Parquet"))
SUFFIXES = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet", "json": ".json"}
LOADING_COLUMNS_TEXT = "Loading the columns…"


@dataclass(frozen=True)
class ExportRequest:
    what: str
    file_format: str | None  # None for the FHIR Group (JSON)
    columns: tuple[str, ...] | None  # participants only; None = all
    safe: bool
    path: Path


class ExportDialog(QDialog):
    """Choose what to export, how, and where. `request()` is the choice once accepted."""

    def __init__(self, cohort_description: str, participant_columns: Sequence[str] | None,
                 folder: Path | None = None, parent: QWidget | None = None) -> None:
        """`participant_columns` None: the list reads "Loading…" until `set_participant_columns` fills it (the
        controller reads them in a worker)."""
        super().__init__(parent)
        self.setWindowTitle("Export the cohort")
        self.setMinimumWidth(520)
        self._folder = folder or Path.home()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        self.cohort_label = QLabel(f"Cohort: {cohort_description}")
        self.cohort_label.setWordWrap(True)
        layout.addWidget(self.cohort_label)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.what_combo = QComboBox()
        for kind, label in WHAT_CHOICES:
            self.what_combo.addItem(label, kind)
        form.addRow("Export", self.what_combo)
        self.format_combo = QComboBox()
        for kind, label in FORMAT_CHOICES:
            self.format_combo.addItem(label, kind)
        form.addRow("Format", self.format_combo)
        self.columns_list = QListWidget()
        self.columns_list.setMaximumHeight(150)
        self._columns_loaded = False
        self._wanted_columns: tuple[str, ...] | None = None  # set_columns before the list arrived
        self.columns_label = QLabel("Columns")
        if participant_columns is None:
            self._show_columns_message(LOADING_COLUMNS_TEXT)
        else:
            self.set_participant_columns(participant_columns)
        form.addRow(self.columns_label, self.columns_list)
        self._form = form
        self.safe_check = QCheckBox("Spreadsheet safety (text starting with = + - @ gets a leading ')")
        self.safe_check.setToolTip("So a spreadsheet never runs a cell as a formula; numbers stay numbers. "
                                   "Turn off for files read by tools (e.g. a manifest's hashes)")
        preferences = load_settings()  # the Preferences' defaults (a small JSON file)
        self.safe_check.setChecked(preferences.spreadsheet_safe_csv)
        form.addRow("", self.safe_check)
        path_row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("the file to write")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        form.addRow("File", path_row)
        layout.addLayout(form)
        self.sidecar_label = QLabel()
        self.sidecar_label.setWordWrap(True)
        self.sidecar_label.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.sidecar_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        if self.format_combo.findData(preferences.export_format) >= 0:
            self.set_format(preferences.export_format)
        self.what_combo.currentIndexChanged.connect(self._update)
        self.format_combo.currentIndexChanged.connect(self._update)
        self.path_edit.textChanged.connect(self._update_sidecar)
        self._update()

    # -- state ----------------------------------------------------------------------------------------------------
    @property
    def what(self) -> str:
        return str(self.what_combo.currentData())

    @property
    def file_format(self) -> str | None:
        return None if self.what == "fhir-group" else str(self.format_combo.currentData())

    def set_what(self, what: str) -> None:
        self.what_combo.setCurrentIndex(self.what_combo.findData(what))

    def set_format(self, file_format: str) -> None:
        self.format_combo.setCurrentIndex(self.format_combo.findData(file_format))

    @property
    def columns_loaded(self) -> bool:
        """True once the participant columns are listed (they are read in a worker)."""
        return self._columns_loaded

    def set_participant_columns(self, names: Sequence[str]) -> None:
        """List the participant columns, all checked (or as a `set_columns` made before they arrived)."""
        self.columns_list.clear()
        self.columns_list.setEnabled(True)
        for name in names:
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setCheckState(Qt.CheckState.Checked)
            if name == "participant_id":
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)  # always there, always first
            self.columns_list.addItem(item)
        self._columns_loaded = True
        self.columns_label.setText("Columns")
        if self._wanted_columns is not None:
            self.set_columns(self._wanted_columns)

    def show_columns_error(self, message: str) -> None:
        """The columns could not be read: say so (the export then writes every column)."""
        self._show_columns_message(f"Could not read the columns ({message}); every column is exported")

    def _show_columns_message(self, text: str) -> None:
        self.columns_list.clear()
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        self.columns_list.addItem(item)
        self.columns_list.setEnabled(False)

    def chosen_columns(self) -> tuple[str, ...] | None:
        if not self._columns_loaded:  # not listed yet: what set_columns asked for, else every column
            if self._wanted_columns is None:
                return None
            return ("participant_id", *(n for n in self._wanted_columns if n != "participant_id"))
        names = [str(self.columns_list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.columns_list.count())
                 if self.columns_list.item(i).checkState() == Qt.CheckState.Checked]
        if len(names) == self.columns_list.count():
            return None
        return tuple(names)

    def set_columns(self, names: Sequence[str]) -> None:
        """Check `names` (and participant_id) only; before the list arrives the choice waits for it."""
        self._wanted_columns = tuple(names)
        if not self._columns_loaded:
            return
        for i in range(self.columns_list.count()):
            item = self.columns_list.item(i)
            keep = item.text() in names or item.text() == "participant_id"
            item.setCheckState(Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)

    def _suffix(self) -> str:
        return SUFFIXES[self.file_format or "json"]

    def _default_path(self) -> Path:
        return self._folder / f"cohort-{self.what}{self._suffix()}"

    def _update(self) -> None:
        participants = self.what == "participants"
        self._form.setRowVisible(self.columns_list, participants)
        self.format_combo.setEnabled(self.what != "fhir-group")
        self.safe_check.setEnabled(self.file_format in ("csv", "tsv"))
        text = self.path_edit.text().strip()
        if not text or Path(text).name.startswith("cohort-"):
            # follow the choices while the name is still ours
            folder = Path(text).parent if text else self._folder
            self.path_edit.setText(str(folder / self._default_path().name))
        else:
            path = Path(text)
            if path.suffix.lower() in SUFFIXES.values() and path.suffix.lower() != self._suffix():
                self.path_edit.setText(str(path.with_suffix(self._suffix())))
        self._update_sidecar()
        QTimer.singleShot(0, self.adjustSize)  # once the layout knows which rows show

    def _update_sidecar(self) -> None:
        text = self.path_edit.text().strip()
        self.export_button.setEnabled(bool(text))
        if text:
            self.sidecar_label.setText(f"Beside it: {sidecar_path(Path(text)).name} — the cohort, its SQL, the "
                                       "release and a hash of its participants, so `kfexplorer count` can "
                                       "reproduce it.")

    def browse(self) -> None:
        current = self.path_edit.text().strip() or str(self._default_path())
        name_filter = {"csv": "CSV (*.csv)", "tsv": "TSV (*.tsv)", "parquet": "Parquet (*.parquet)"}.get(
            self.file_format or "", "FHIR JSON (*.json)")
        chosen, _ = QFileDialog.getSaveFileName(self, "Export to", current, name_filter)
        if chosen:
            self.path_edit.setText(chosen)

    def request(self) -> ExportRequest:
        file_format = self.file_format
        return ExportRequest(
            what=self.what,
            file_format=file_format,
            columns=self.chosen_columns() if self.what == "participants" else None,
            safe=self.safe_check.isChecked() and file_format in ("csv", "tsv"),
            path=Path(self.path_edit.text().strip()).expanduser(),
        )


class ExportController(QObject):
    """The toolbar's Export ▾: the dialog, the export job and the cohort imports, for one window."""

    def __init__(
        self,
        action: QAction,
        jobs: QtJobRunner,
        cohort_state: CohortState,
        workspace: Callable[[], Workspace | None],
        notify: Callable[[str], None],
        show_error: Callable[[str], None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self.action = action
        self.jobs = jobs
        self.cohort_state = cohort_state
        self._workspace = workspace
        self._notify = notify
        self._show_error = show_error
        self.dialog: ExportDialog | None = None
        self.last_result: ExportResult | None = None
        action.setShortcut(QKeySequence("Ctrl+E"))
        action.setToolTip("Export the cohort: tables, variants, a file manifest or a FHIR Group (Ctrl+E)")
        action.setEnabled(True)
        action.triggered.connect(self.show_dialog)
        self.menu = QMenu(parent)
        self.menu.addAction("Export the cohort…", self.show_dialog)
        self.menu.addSeparator()
        self.menu.addAction("Import a cohort, SQON or sidecar file…", self.choose_cohort_file)
        self.menu.addAction("Participants from a list…", self.paste_participants)
        action.setMenu(self.menu)

    # -- export ---------------------------------------------------------------------------------------------------
    def show_dialog(self) -> ExportDialog | None:
        workspace = self._workspace()
        if workspace is None:
            self._show_error("Open a release before exporting")
            return None
        from kfexplorer.query.compiler import describe

        dialog = ExportDialog(describe(self.cohort_state.cohort.root), None, parent=self._parent)
        dialog.accepted.connect(lambda: self.start_export(dialog.request()))
        self.dialog = dialog

        def read_columns(_progress: ProgressCallback, cancel: CancelToken) -> list[str]:
            cancel.raise_if_cancelled()
            return workspace.participant_columns()

        self.jobs.submit(read_columns, name="Participant columns", key=f"export-columns-{id(self)}",
                         on_finished=lambda names: self._columns_arrived(dialog, names),
                         on_failed=lambda failure: self._columns_failed(dialog, failure))
        dialog.open()
        return dialog

    def _columns_arrived(self, dialog: ExportDialog, names: list[str]) -> None:
        if dialog is self.dialog:  # a newer dialog replaced this one: its own job fills it
            dialog.set_participant_columns(names)

    def _columns_failed(self, dialog: ExportDialog, failure: JobFailure) -> None:
        if dialog is self.dialog:
            dialog.show_columns_error(failure.message)

    def start_export(self, request: ExportRequest) -> None:
        workspace = self._workspace()
        if workspace is None:
            self._show_error("Open a release before exporting")
            return
        cohort: Cohort = self.cohort_state.cohort

        def run(progress: ProgressCallback, cancel: CancelToken) -> ExportResult:
            return export_cohort(workspace.cursor(), cohort, request.what, request.path,
                                 file_format=request.file_format, columns=request.columns, safe=request.safe,
                                 progress=progress, cancel=cancel)

        self.jobs.submit(run, name=f"Export {request.what}", key=f"export:{request.path}", tracked=True,
                         on_finished=self._finished,
                         on_cancelled=lambda: self._notify(f"Export cancelled: nothing was written to "
                                                           f"{request.path.name}"),
                         on_failed=self._failed)

    def _finished(self, result: ExportResult) -> None:
        self.last_result = result
        self._notify(f"Exported {result.rows:,} rows of {result.participants:,} participants to {result.path} "
                     f"· sidecar {result.sidecar.name}")

    def _failed(self, failure: JobFailure) -> None:
        self.last_result = None  # the window's error notice shows the failure itself

    # -- cohorts in -----------------------------------------------------------------------------------------------
    def choose_cohort_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self._parent, "Import a cohort", str(Path.home()),
                                                "Cohorts (*.json *.txt *.csv *.tsv);;All files (*)")
        if chosen:
            self.import_cohort_file(Path(chosen))

    def import_cohort_file(self, path: Path) -> bool:
        """Our cohort JSON, a SQON or a sidecar replaces the cohort; a list of ids becomes one criterion."""
        try:
            cohort = read_cohort_or_list(path)
        except (OSError, QueryError, UnicodeDecodeError) as error:
            self._show_error(f"Could not import {path.name}: {error}")
            return False
        self.cohort_state.set_cohort(cohort)
        self._notify(f"Imported the cohort of {path.name}")
        return True

    def paste_participants(self) -> None:
        text, accepted = QInputDialog.getMultiLineText(self._parent, "Participants from a list",
                                                       "Participant ids (one per line, or separated by commas):")
        if accepted:
            self.add_participant_list(text)

    def add_participant_list(self, text: str) -> bool:
        try:
            criterion = participant_list_criterion(participant_ids_from_text(text))
        except QueryError as error:
            self._show_error(str(error))
            return False
        self.cohort_state.add(criterion)
        self._notify(f"Added {len(criterion.values):,} listed participants to the cohort")
        return True
