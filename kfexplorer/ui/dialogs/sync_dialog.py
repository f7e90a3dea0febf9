"""The Sync dialog (non-modal): pick a release source, the S3 options and what to sync, see the plan with sizes,
then run the sync as a job with progress and Cancel.

The choices are the CLI's (`kfexplorer sync --profile --region --endpoint-url --studies --chromosomes --include`).
"Plan" runs a dry run in a worker: it reads the source's release.json (which fills the list of studies) and shows
the objects and bytes to download per kind before anything is downloaded. "Sync" runs the sync with the current
choices. The dialog never asks for a secret: S3 credentials come the AWS way (environment, ~/.aws files, SSO).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.services.jobs import Job, JobFailure
from kfexplorer.ui.icon_library import themed_icon
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.cell_format import format_bytes
from kfexplorer.ui.preview_host import ensure_application, show_preview
from kfexplorer.ui.widgets.job_status import describe_progress

CHROMOSOMES: tuple[str, ...] = (*(str(n) for n in range(1, 23)), "X", "Y", "M")
INCLUDE_PARTS: tuple[tuple[str, str], ...] = (
    ("variants", "Variants"), ("fhir", "FHIR (clinical)"), ("imaging", "Imaging (DICOM)"), ("notes", "Notes"),
)
KIND_LABELS: dict[str, str] = {
    "release": "release.json", "ontology": "Ontologies", "occurrences": "Occurrences", "variants": "Variants",
    "consequences": "Consequences", "fhir": "FHIR", "imaging": "Imaging (DICOM)", "notes": "Notes",
}
KIND_ORDER = tuple(KIND_LABELS)
DATA_ROLE = Qt.ItemDataRole.UserRole


class SyncFunction(Protocol):
    def __call__(
        self, source: str, cache_dir: Path, *, progress: ProgressCallback | None, cancel: CancelToken | None
    ) -> Any: ...


def engine_sync_release() -> SyncFunction:
    """kfexplorer.sync.engine.sync_release, imported when a sync starts."""
    from kfexplorer.sync.engine import sync_release

    return sync_release


def report_as_json(report: Any) -> dict[str, Any]:
    """The report's `to_json()` merged with its `details_json()` (planned_by_kind, resumed, excluded, failed)."""
    if hasattr(report, "to_json"):
        value = report.to_json()
        merged = dict(value) if isinstance(value, dict) else {"report": value}
        if hasattr(report, "details_json"):
            details = report.details_json()
            if isinstance(details, dict):
                merged.update(details)
        return merged
    return dict(report) if isinstance(report, dict) else {}


def summarise_report(report: dict[str, Any]) -> str:
    transferred = report.get("transferred", {}) or {}
    skipped = report.get("skipped", {}) or {}
    quarantined = report.get("quarantined", []) or []
    seconds = report.get("seconds")
    parts = [f"{int(transferred.get('objects', 0)):,} objects synced", f"{int(skipped.get('objects', 0)):,} unchanged"]
    if quarantined:
        parts.append(f"{len(quarantined):,} quarantined")
    if isinstance(seconds, int | float):
        parts.append(f"{seconds:,.1f} s")
    return "Done: " + ", ".join(parts)


def studies_of_release(release: dict[str, Any]) -> list[tuple[str, str]]:
    """(study_id, label) for each study release.json lists (untrusted: odd entries are skipped)."""
    studies = release.get("studies")
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    if not isinstance(studies, list):
        return result
    for study in studies:
        if not isinstance(study, dict) or not isinstance(study.get("study_id"), str) or not study["study_id"]:
            continue
        study_id = study["study_id"]
        if study_id in seen:
            continue
        seen.add(study_id)
        details = [str(study[k]) for k in ("study_code", "name") if isinstance(study.get(k), str) and study[k]]
        result.append((study_id, f"{study_id} — {' · '.join(details)}" if details else study_id))
    return result


# Called on the UI thread when Sync starts; returns what the worker must call before it opens the cache
# read-write (the window closes its read-only connection there).
WorkspaceRelease = Callable[[], Callable[[], None]]


class SyncDialog(QDialog):
    """Source, S3 options, what to sync; Plan (sizes per kind), Sync / Cancel with progress. Never modal."""

    sync_finished = Signal(object)  # the SyncReport as JSON dict
    sync_ended = Signal(str)  # the cache folder, after any outcome (finished, failed, cancelled)
    plan_finished = Signal(object)  # the dry-run report as JSON dict (with planned_by_kind)

    def __init__(
        self,
        jobs: QtJobRunner,
        cache_dir: Path,
        *,
        sync_function: SyncFunction | None = None,
        workspace_release: WorkspaceRelease | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sync a release")
        self.setModal(False)
        self._jobs = jobs
        self._sync_function = sync_function
        self._workspace_release = workspace_release
        self._job: Job | None = None
        self._plan_job: Job | None = None
        self.last_report: dict[str, Any] | None = None
        self.last_plan: dict[str, Any] | None = None
        self._initial_cache_dir = Path(cache_dir)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        intro = QLabel("Copy a release (a folder, file:// URL or s3://bucket/prefix) into the local cache. "
                       "Plan shows what will be downloaded; only changed objects are transferred, and the window "
                       "keeps working meanwhile.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(self._build_location_form())
        layout.addWidget(self._build_s3_group())
        layout.addWidget(self._build_selection_group(), 1)
        layout.addWidget(self._build_plan_group())
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        layout.addWidget(self.progress_bar)
        self.phase_label = QLabel("Ready.")
        self.phase_label.setWordWrap(True)
        layout.addWidget(self.phase_label)
        layout.addLayout(self._build_buttons())
        # at least 640 px, and never narrower than the layout (a fixed 640 cut the check boxes' labels)
        self.setMinimumWidth(max(640, self.minimumSizeHint().width()))
        self.source_edit.textChanged.connect(self._on_source_changed)
        self._on_source_changed()

    # ---- construction ------------------------------------------------------------------------------------------

    def _build_location_form(self) -> QFormLayout:
        form = QFormLayout()
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(8)
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("/path/to/release, file:///path/to/release or s3://bucket/prefix")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_source)
        source_row = QHBoxLayout()
        source_row.setSpacing(8)
        source_row.addWidget(self.source_edit, 1)
        source_row.addWidget(browse)
        form.addRow("Source", source_row)
        self.cache_edit = QLineEdit(str(self._initial_cache_dir))
        self.cache_edit.textChanged.connect(self._mark_plan_stale)
        form.addRow("Cache folder", self.cache_edit)
        return form

    def _build_s3_group(self) -> QGroupBox:
        self.s3_group = QGroupBox("S3 options")
        self.s3_group.setToolTip("Credentials come from the environment, ~/.aws/config and credentials, or SSO; "
                                 "kfexplorer never asks for or stores a secret.")
        form = QFormLayout(self.s3_group)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(6)
        self.profile_edit = QLineEdit()
        self.profile_edit.setPlaceholderText("default (or AWS_PROFILE)")
        self.region_edit = QLineEdit()
        self.region_edit.setPlaceholderText("the profile's region, e.g. us-east-1")
        self.endpoint_edit = QLineEdit()
        self.endpoint_edit.setPlaceholderText("AWS; or an S3-compatible store, e.g. http://127.0.0.1:9000")
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(QLabel("Profile"))
        row.addWidget(self.profile_edit, 1)
        row.addWidget(QLabel("Region"))
        row.addWidget(self.region_edit, 1)
        form.addRow(row)
        form.addRow("Endpoint URL", self.endpoint_edit)
        for edit in (self.profile_edit, self.region_edit, self.endpoint_edit):
            edit.textChanged.connect(self._mark_plan_stale)
        return self.s3_group

    def _build_selection_group(self) -> QGroupBox:
        group = QGroupBox("What to sync")
        row = QHBoxLayout(group)
        row.setSpacing(16)

        studies_column = QVBoxLayout()
        studies_column.setSpacing(4)
        studies_column.addWidget(QLabel("Studies (occurrences and imaging)"))
        self.studies_list = QListWidget()
        self.studies_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.studies_list.setMinimumHeight(90)
        self.studies_list.itemChanged.connect(self._mark_plan_stale)
        studies_column.addWidget(self.studies_list, 1)
        self.studies_hint = QLabel("Plan reads the studies from the release; until then, all are synced.")
        self.studies_hint.setWordWrap(True)
        self.studies_hint.setEnabled(False)
        studies_column.addWidget(self.studies_hint)
        row.addLayout(studies_column, 1)

        right = QVBoxLayout()
        right.setSpacing(4)
        chromosome_header = QHBoxLayout()
        chromosome_header.addWidget(QLabel("Chromosomes (variant tables)"))
        chromosome_header.addStretch(1)
        all_button = QPushButton("All")
        all_button.clicked.connect(lambda: self.set_checked_chromosomes(CHROMOSOMES))
        none_button = QPushButton("None")
        none_button.clicked.connect(lambda: self.set_checked_chromosomes(()))
        chromosome_header.addWidget(all_button)
        chromosome_header.addWidget(none_button)
        right.addLayout(chromosome_header)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        self.chromosome_boxes: dict[str, QCheckBox] = {}
        columns = 9
        for index, name in enumerate(CHROMOSOMES):
            box = QCheckBox(name)
            box.setChecked(True)
            box.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)  # never narrower than its text
            box.toggled.connect(self._mark_plan_stale)
            grid.addWidget(box, index // columns, index % columns)
            self.chromosome_boxes[name] = box
        right.addLayout(grid)
        right.addSpacing(8)
        right.addWidget(QLabel("Include"))
        include_grid = QGridLayout()  # two by two: on one row beside the studies the labels were cut
        include_grid.setHorizontalSpacing(12)
        include_grid.setVerticalSpacing(2)
        self.include_boxes: dict[str, QCheckBox] = {}
        for index, (name, label) in enumerate(INCLUDE_PARTS):
            box = QCheckBox(label)
            box.setChecked(True)
            box.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)  # never narrower than its text
            box.toggled.connect(self._mark_plan_stale)
            include_grid.addWidget(box, index // 2, index % 2)
            self.include_boxes[name] = box
        include_grid.setColumnStretch(2, 1)
        right.addLayout(include_grid)
        right.addStretch(1)
        row.addLayout(right, 2)
        return group

    def _build_plan_group(self) -> QGroupBox:
        group = QGroupBox("Plan")
        column = QVBoxLayout(group)
        column.setSpacing(4)
        self.plan_label = QLabel("Press Plan to see what this sync downloads, before anything is downloaded.")
        self.plan_label.setWordWrap(True)
        column.addWidget(self.plan_label)
        self.plan_table = QTableWidget(0, 3)
        self.plan_table.setHorizontalHeaderLabels(["Part", "Objects", "Size"])
        self.plan_table.verticalHeader().setVisible(False)
        self.plan_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.plan_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.plan_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.plan_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.plan_table.setVisible(False)
        column.addWidget(self.plan_table)
        return group

    def _build_buttons(self) -> QHBoxLayout:
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addStretch(1)
        self.plan_button = QPushButton(themed_icon("search"), "Plan")
        self.plan_button.setToolTip("Read the release and show what this sync would download (a dry run)")
        self.plan_button.clicked.connect(self.start_plan)
        self.sync_button = QPushButton(themed_icon("sync"), "Sync")
        self.sync_button.setDefault(True)
        self.sync_button.clicked.connect(self.start_sync)
        self.cancel_button = QPushButton(themed_icon("cancel"), "Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_sync)
        close_button = QPushButton("Close")
        close_button.setToolTip("Close this window; a running sync continues in the status bar")
        close_button.clicked.connect(self.close)
        for button in (self.plan_button, self.sync_button, self.cancel_button, close_button):
            buttons.addWidget(button)
        return buttons

    # ---- state -------------------------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._job is not None

    @property
    def is_planning(self) -> bool:
        return self._plan_job is not None

    def set_source(self, source: str) -> None:
        self.source_edit.setText(source)

    def cache_dir(self) -> Path:
        return Path(self.cache_edit.text().strip()).expanduser()

    def is_s3_source(self) -> bool:
        return self.source_edit.text().strip().lower().startswith("s3://")

    def s3_options(self) -> dict[str, str]:
        """profile / region / endpoint_url as typed (only those set, and only for an s3:// source)."""
        if not self.is_s3_source():
            return {}
        values = {"profile": self.profile_edit.text().strip(), "region": self.region_edit.text().strip(),
                  "endpoint_url": self.endpoint_edit.text().strip()}
        return {name: value for name, value in values.items() if value}

    def study_ids(self) -> list[str]:
        return [str(self.studies_list.item(i).data(DATA_ROLE)) for i in range(self.studies_list.count())]

    def checked_studies(self) -> list[str]:
        items = (self.studies_list.item(i) for i in range(self.studies_list.count()))
        return [str(item.data(DATA_ROLE)) for item in items if item.checkState() == Qt.CheckState.Checked]

    def set_checked_studies(self, study_ids: Any) -> None:
        wanted = set(study_ids)
        for i in range(self.studies_list.count()):
            item = self.studies_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(DATA_ROLE) in wanted else Qt.CheckState.Unchecked)

    def checked_chromosomes(self) -> list[str]:
        return [name for name, box in self.chromosome_boxes.items() if box.isChecked()]

    def set_checked_chromosomes(self, names: Any) -> None:
        wanted = set(names)
        for name, box in self.chromosome_boxes.items():
            box.setChecked(name in wanted)

    def checked_parts(self) -> list[str]:
        return [name for name, box in self.include_boxes.items() if box.isChecked()]

    def set_checked_parts(self, names: Any) -> None:
        wanted = set(names)
        for name, box in self.include_boxes.items():
            box.setChecked(name in wanted)

    def selection_problem(self) -> str | None:
        """Why the current choices select nothing to sync, or None."""
        if self.studies_list.count() and not self.checked_studies():
            return "Choose at least one study."
        if not self.checked_chromosomes():
            return "Choose at least one chromosome."
        if not self.checked_parts():
            return "Choose at least one part to include."
        return None

    def selection(self) -> Any:
        """The SyncSelection of the current choices, or None when everything is chosen."""
        from kfexplorer.sync.plan import SyncSelection

        studies = self.checked_studies()
        chromosomes = self.checked_chromosomes()
        parts = self.checked_parts()
        selection = SyncSelection(
            studies=frozenset(studies) if self.studies_list.count() and len(studies) < self.studies_list.count()
            else None,
            chromosomes=frozenset(chromosomes) if len(chromosomes) < len(CHROMOSOMES) else None,
            include=frozenset(parts) if len(parts) < len(INCLUDE_PARTS) else None,
        )
        return None if selection.everything else selection

    def _sync_options(self) -> dict[str, Any]:
        options: dict[str, Any] = dict(self.s3_options())
        selection = self.selection()
        if selection is not None:
            options["selection"] = selection
        return options

    # ---- plan --------------------------------------------------------------------------------------------------

    def start_plan(self) -> Job | None:
        """Run a dry run in a worker: read release.json (the studies) and tally the objects to download by kind."""
        source = self.source_edit.text().strip()
        if not source or self._job is not None or self._plan_job is not None or self.selection_problem():
            return None
        cache_dir = self.cache_dir()
        s3 = self.s3_options()
        selection = self.selection()
        try:
            sync_function: Any = self._sync_function or engine_sync_release()
            from kfexplorer.sync.engine import read_release_json
            from kfexplorer.sync.source import open_source
        except ImportError as exc:
            self.phase_label.setText(f"Sync is not available in this build: {exc}")
            return None

        def run_plan(progress: ProgressCallback, cancel: CancelToken) -> dict[str, Any]:
            src = open_source(source, **s3)
            release = read_release_json(src)
            report = sync_function(src, cache_dir, progress=progress, cancel=cancel, dry_run=True,
                                   selection=selection)
            return {"studies": studies_of_release(release), "report": report_as_json(report)}

        self.phase_label.setText("Planning: reading the release…")
        self.progress_bar.setRange(0, 0)
        self._plan_job = self._jobs.submit(
            run_plan,
            name="Plan sync",
            key="sync-plan",
            on_progress=self._on_progress,
            on_finished=self._on_plan_finished,
            on_failed=self._on_plan_failed,
            on_cancelled=self._on_plan_cancelled,
        )
        self._update_buttons()
        return self._plan_job

    def _fill_studies(self, studies: list[tuple[str, str]]) -> None:
        if [study_id for study_id, _label in studies] == self.study_ids():
            return
        previous = set(self.checked_studies()) if self.studies_list.count() else None
        self.studies_list.blockSignals(True)
        self.studies_list.clear()
        for study_id, label in studies:
            item = QListWidgetItem(label)
            item.setData(DATA_ROLE, study_id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            checked = previous is None or study_id in previous
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.studies_list.addItem(item)
        self.studies_list.blockSignals(False)
        self.studies_hint.setText(f"{len(studies):,} studies in release.json." if studies
                                  else "release.json lists no studies: every study is synced.")

    def _set_plan_row(self, row: int, kind: str, label: str, objects: int, size: int, bold: bool = False) -> None:
        cells = (QTableWidgetItem(label), QTableWidgetItem(f"{objects:,}"), QTableWidgetItem(format_bytes(size)))
        cells[0].setData(DATA_ROLE, kind)
        cells[1].setData(DATA_ROLE, objects)
        cells[2].setData(DATA_ROLE, size)
        cells[2].setToolTip(f"{size:,} bytes")
        for cell in cells[1:]:
            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for column, cell in enumerate(cells):
            if bold:
                font = cell.font()
                font.setBold(True)
                cell.setFont(font)
            self.plan_table.setItem(row, column, cell)

    def plan_rows(self) -> dict[str, tuple[int, int]]:
        """kind → (objects, bytes) as the plan table shows them (the Total row under "total")."""
        rows: dict[str, tuple[int, int]] = {}
        for row in range(self.plan_table.rowCount()):
            kind, objects, size = (self.plan_table.item(row, column) for column in range(3))
            if kind is not None and objects is not None and size is not None:
                rows[str(kind.data(DATA_ROLE))] = (int(objects.data(DATA_ROLE)), int(size.data(DATA_ROLE)))
        return rows

    def _show_plan(self, report: dict[str, Any]) -> None:
        by_kind: dict[str, Any] = report.get("planned_by_kind", {}) or {}
        kinds = sorted(by_kind, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))
        self.plan_table.setRowCount(len(kinds) + 1)
        for row, kind in enumerate(kinds):
            tally = by_kind[kind]
            self._set_plan_row(row, kind, KIND_LABELS.get(kind, kind), int(tally["objects"]), int(tally["bytes"]))
        planned = report.get("planned", {}) or {}
        self._set_plan_row(len(kinds), "total", "Total to download", int(planned.get("objects", 0)),
                           int(planned.get("bytes", 0)), bold=True)
        self.plan_table.setVisible(True)
        self.plan_table.setEnabled(True)
        skipped = report.get("skipped", {}) or {}
        excluded = report.get("excluded", {}) or {}
        deleted = report.get("deleted", {}) or {}
        parts = [f"{int(planned.get('objects', 0)):,} objects ({format_bytes(int(planned.get('bytes', 0)))}) "
                 "to download"]
        parts.append(f"{int(skipped.get('objects', 0)):,} already in the cache")
        if excluded.get("objects"):
            parts.append(f"{int(excluded['objects']):,} not selected ({format_bytes(int(excluded.get('bytes', 0)))})")
        if deleted.get("objects"):
            parts.append(f"{int(deleted['objects']):,} to remove")
        self.plan_label.setText("Release " + str(report.get("release_id", "")) + ": " + ", ".join(parts) + ".")
        self._fit_plan_table()

    def _fit_plan_table(self) -> None:
        """Show every row of the plan (there are at most a handful), growing the dialog when it must."""
        table = self.plan_table
        table.resizeRowsToContents()
        rows_height = sum(table.rowHeight(row) for row in range(table.rowCount()))
        table.setFixedHeight(rows_height + table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth())
        wanted = self.sizeHint().height()
        if wanted > self.height():
            self.resize(self.width(), wanted)

    def _on_plan_finished(self, result: dict[str, Any]) -> None:
        self._plan_job = None
        self._fill_studies(list(result.get("studies", [])))
        report = dict(result.get("report", {}))
        self.last_plan = report
        self._show_plan(report)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.phase_label.setText("Planned; nothing was downloaded. Press Sync to run it.")
        self._update_buttons()
        self.plan_finished.emit(report)

    def _on_plan_failed(self, failure: JobFailure) -> None:
        self._plan_job = None
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.phase_label.setText(f"Plan failed: {failure.message}")
        self._update_buttons()

    def _on_plan_cancelled(self) -> None:
        self._plan_job = None
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.phase_label.setText("Plan cancelled.")
        self._update_buttons()

    def _mark_plan_stale(self, *_args: object) -> None:
        if self.last_plan is not None and self._plan_job is None:
            self.plan_table.setEnabled(False)
            self.plan_label.setText("The choices changed since this plan: press Plan again for the sizes.")
        self._update_buttons()

    # ---- sync --------------------------------------------------------------------------------------------------

    def start_sync(self) -> Job | None:
        source = self.source_edit.text().strip()
        if not source or self._job is not None or self._plan_job is not None:
            return None
        problem = self.selection_problem()
        if problem:
            self.phase_label.setText(problem)
            return None
        cache_dir = self.cache_dir()
        options = self._sync_options()
        try:
            sync_function = self._sync_function or engine_sync_release()
        except ImportError as exc:
            self.phase_label.setText(f"Sync is not available in this build: {exc}")
            return None
        before_write = self._workspace_release() if self._workspace_release is not None else None

        uses_engine = self._sync_function is None

        def run_sync(progress: ProgressCallback, cancel: CancelToken) -> dict[str, Any]:
            if uses_engine:  # the Preferences' download concurrency (read here, off the UI thread)
                from kfexplorer.config import load_settings

                options["concurrency"] = load_settings().download_concurrency
            if before_write is not None:
                before_write()
            call: Any = sync_function
            return report_as_json(call(source, cache_dir, progress=progress, cancel=cancel, **options))

        self.phase_label.setText("Starting…")
        self.progress_bar.setRange(0, 0)
        self._job = self._jobs.submit(
            run_sync,
            name="Sync",
            key="sync",
            tracked=True,
            on_progress=self._on_progress,
            on_finished=self._on_finished,
            on_failed=self._on_failed,
            on_cancelled=self._on_cancelled,
        )
        self._update_buttons()
        return self._job

    def cancel_sync(self) -> bool:
        job = self._job or self._plan_job
        if job is None:
            return False
        self._jobs.cancel(job.job_id)
        self.phase_label.setText("Cancelling…")
        return True

    def _browse_source(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Release folder", self.source_edit.text())
        if folder:
            self.source_edit.setText(folder)

    def _on_source_changed(self) -> None:
        self.s3_group.setEnabled(self.is_s3_source())
        self.s3_group.setTitle("S3 options" if self.is_s3_source() else "S3 options (for s3:// sources)")
        if self.studies_list.count():
            self.studies_list.clear()
            self.studies_hint.setText("Plan reads the studies from the release; until then, all are synced.")
        self._mark_plan_stale()

    def _update_buttons(self) -> None:
        busy = self._job is not None or self._plan_job is not None
        ready = bool(self.source_edit.text().strip()) and self.selection_problem() is None
        self.sync_button.setEnabled(not busy and ready)
        self.plan_button.setEnabled(not busy and ready)
        self.cancel_button.setEnabled(busy)
        for widget in (self.source_edit, self.cache_edit, self.profile_edit, self.region_edit, self.endpoint_edit,
                       self.studies_list, *self.chromosome_boxes.values(), *self.include_boxes.values()):
            widget.setEnabled(not busy)

    def _on_progress(self, event: ProgressEvent) -> None:
        self.phase_label.setText(describe_progress(event))
        if event.total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * (event.fraction or 0.0)))
        else:
            self.progress_bar.setRange(0, 0)

    def _settle(self, text: str, fraction: float) -> None:
        self._job = None
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(int(1000 * fraction))
        self.phase_label.setText(text)
        self._update_buttons()
        self.sync_ended.emit(str(self.cache_dir()))

    def _on_finished(self, report: dict[str, Any]) -> None:
        self.last_report = report
        if self.last_plan is not None:
            self.plan_table.setEnabled(False)
            self.plan_label.setText("Synced: press Plan again to see what is left to download.")
        self._settle(summarise_report(report), 1.0)
        self.sync_finished.emit(report)

    def _on_failed(self, failure: JobFailure) -> None:
        self._settle(f"Failed: {failure.message}", 0.0)

    def _on_cancelled(self) -> None:
        self._settle("Cancelled; the cache keeps its previous state.", 0.0)


def preview(cache_dir: Path, exec_loop: bool = True) -> QWidget:
    """Open the Sync dialog alone, targeting `cache_dir`."""
    ensure_application()
    jobs = QtJobRunner()
    dialog = SyncDialog(jobs, Path(cache_dir))
    jobs.setParent(dialog)
    return show_preview(dialog, "Sync", exec_loop, size=(760, 720))


if __name__ == "__main__":
    preview(Path(sys.argv[1]))
