"""Export dialog: the participant columns are read in a worker (the UI thread never queries DuckDB); the list says
"Loading…" until they arrive, then lists the cache's participant columns (the fixture's own table definition)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.workspace import Workspace
from kfexplorer.store.cache import connect
from kfexplorer.ui.dialogs.export_dialog import LOADING_COLUMNS_TEXT, ExportController
from kfexplorer.ui.job_signals import QtJobRunner

# The participant columns tests/services/cache_fixture.py creates (its CREATE TABLE), participant_id first.
FIXTURE_COLUMNS = {"participant_id", "fhir_id", "study_id", "sex", "race", "ethnicity", "is_proband",
                   "affected_status", "family_id", "family_type", "vital_status", "age_at_last_follow_up_days"}


class ThreadRecordingWorkspace(Workspace):
    """A real workspace that notes which thread asks for a cursor (each DuckDB query starts there)."""

    def __init__(self, cache_dir: Path) -> None:
        super().__init__(cache_dir, connect(cache_dir, read_only=True))
        self.cursor_threads: list[int] = []

    def cursor(self) -> duckdb.DuckDBPyConnection:
        self.cursor_threads.append(threading.get_ident())
        return super().cursor()


@pytest.fixture
def controller(qtbot: QtBot, ui_cache_dir: Path) -> Iterator[tuple[ExportController, ThreadRecordingWorkspace]]:
    parent = QWidget()
    qtbot.addWidget(parent)
    jobs = QtJobRunner(parent=parent)
    workspace = ThreadRecordingWorkspace(ui_cache_dir)
    errors: list[str] = []
    export = ExportController(QAction("Export", parent), jobs, CohortState(), lambda: workspace,
                              notify=lambda _text: None, show_error=errors.append, parent=parent)
    yield export, workspace
    if export.dialog is not None:
        export.dialog.close()
    jobs.shutdown()
    workspace.close()
    assert not errors


def listed_columns(controller: ExportController) -> list[str]:
    assert controller.dialog is not None
    columns = controller.dialog.columns_list
    return [columns.item(i).text() for i in range(columns.count())]


def test_columns_arrive_from_a_worker_and_the_ui_thread_never_queries(
        qtbot: QtBot, controller: tuple[ExportController, ThreadRecordingWorkspace]) -> None:
    export, workspace = controller
    ui_thread = threading.get_ident()
    dialog = export.show_dialog()
    assert dialog is not None
    assert not dialog.columns_loaded and listed_columns(export) == [LOADING_COLUMNS_TEXT]
    assert not dialog.columns_list.isEnabled()
    qtbot.waitUntil(lambda: dialog.columns_loaded, timeout=10_000)
    names = listed_columns(export)
    assert set(names) == FIXTURE_COLUMNS and len(names) == len(FIXTURE_COLUMNS) and names[0] == "participant_id"
    assert all(dialog.columns_list.item(i).checkState() == Qt.CheckState.Checked for i in range(len(names)))
    assert workspace.cursor_threads, "the columns were read through the workspace"
    assert ui_thread not in workspace.cursor_threads, "the UI thread queried DuckDB"
    dialog.grab().save("/tmp/h5/export_dialog_loaded.png")


def test_a_column_choice_made_while_loading_is_kept(
        qtbot: QtBot, controller: tuple[ExportController, ThreadRecordingWorkspace]) -> None:
    export, _workspace = controller
    dialog = export.show_dialog()
    assert dialog is not None
    dialog.set_what("participants")
    dialog.set_columns(["sex", "race"])
    assert dialog.chosen_columns() == ("participant_id", "sex", "race")  # before the list is there
    qtbot.waitUntil(lambda: dialog.columns_loaded, timeout=10_000)
    chosen = dialog.chosen_columns()
    assert chosen is not None and set(chosen) == {"participant_id", "sex", "race"} and chosen[0] == "participant_id"
    assert dialog.request().columns == chosen
