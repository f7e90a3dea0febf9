"""Participants table: model → view → change → assert (paging on scroll, sorting, formatting, copy, threads)."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.participants_model import RAW_VALUE_ROLE
from kfexplorer.ui.panels.participants_panel import ParticipantsPanel

AGE = "age_at_last_follow_up_days"


def oracle_rows(cache_dir: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(cache_dir / "kfexplorer.duckdb"), read_only=True,
                         config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def panel(qtbot: QtBot, ui_cache_dir: Path) -> ParticipantsPanel:
    jobs = QtJobRunner()
    widget = ParticipantsPanel(jobs)
    jobs.setParent(widget)
    qtbot.addWidget(widget)
    widget.resize(1000, 500)
    widget.show()
    workspace = Workspace.open(ui_cache_dir)
    with qtbot.waitSignal(widget.model.first_page_loaded, timeout=5000):
        widget.set_workspace(workspace)
    yield widget
    widget.set_workspace(None)
    jobs.shutdown()
    workspace.close()


def column_of(panel: ParticipantsPanel, name: str) -> int:
    return panel.model.columns.index(name)


def test_first_page_then_more_pages_on_scroll(qtbot: QtBot, panel: ParticipantsPanel, ui_cache_dir: Path) -> None:
    expected_ids = [r[0] for r in oracle_rows(ui_cache_dir, "SELECT participant_id FROM participants ORDER BY 1")]
    model = panel.model
    assert model.rowCount() == 256
    assert [model.index(r, 0).data() for r in (0, 255)] == [expected_ids[0], expected_ids[255]]
    panel.view.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() == 512, timeout=5000)
    panel.view.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() == len(expected_ids), timeout=5000)
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == expected_ids
    assert not model.canFetchMore()


def test_page_fetch_runs_off_the_ui_thread(qtbot: QtBot, ui_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    original = Workspace.participants_page

    def recording(self: Workspace, **kwargs: object):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return original(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Workspace, "participants_page", recording)
    jobs = QtJobRunner()
    widget = ParticipantsPanel(jobs)
    qtbot.addWidget(widget)
    widget.show()
    workspace = Workspace.open(ui_cache_dir)
    with qtbot.waitSignal(widget.model.first_page_loaded, timeout=5000):
        widget.set_workspace(workspace)
    widget.view.scrollToBottom()
    qtbot.waitUntil(lambda: widget.model.rowCount() == 512, timeout=5000)
    jobs.shutdown()
    workspace.close()
    assert len(threads) >= 2
    assert all(t is not threading.main_thread() for t in threads)


def test_clicking_a_header_sorts_in_duckdb(qtbot: QtBot, panel: ParticipantsPanel, ui_cache_dir: Path) -> None:
    smallest = oracle_rows(ui_cache_dir, f"SELECT min({AGE}) FROM participants")[0][0]
    largest = oracle_rows(ui_cache_dir, f"SELECT max({AGE}) FROM participants")[0][0]
    column = column_of(panel, AGE)
    header = panel.view.horizontalHeader()
    panel.view.scrollTo(panel.model.index(0, column))

    def click_age_header() -> None:
        x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
        with qtbot.waitSignal(panel.model.first_page_loaded, timeout=5000):
            qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))

    click_age_header()
    if header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder:
        click_age_header()
    assert panel.model.sort_state == (AGE, False)
    first = panel.model.index(0, column)
    assert first.data(RAW_VALUE_ROLE) == smallest
    assert first.data() == f"{smallest:,} d ({smallest / 365.25:.1f} y)"
    click_age_header()
    assert panel.model.sort_state == (AGE, True)
    assert panel.model.index(0, column).data(RAW_VALUE_ROLE) == largest
    assert not panel.model.is_stale


def test_cells_read_well(panel: ParticipantsPanel, ui_cache_dir: Path) -> None:
    model = panel.model
    row = oracle_rows(ui_cache_dir, f"SELECT is_proband, affected_status, {AGE} FROM participants "
                                    "WHERE participant_id = 'PT_00013'")[0]
    assert row[2] is None  # fixture: every 13th participant has no age
    r = [model.index(i, 0).data() for i in range(model.rowCount())].index("PT_00013")
    assert model.index(r, column_of(panel, "is_proband")).data() == ("Yes" if row[0] else "No")
    assert model.index(r, column_of(panel, "affected_status")).data() == ("Affected" if row[1] else "Unaffected")
    assert model.index(r, column_of(panel, AGE)).data() == "—"
    big = model.index(1, column_of(panel, AGE))
    assert big.data(Qt.ItemDataRole.TextAlignmentRole) & int(Qt.AlignmentFlag.AlignRight)
    assert model.headerData(column_of(panel, AGE), Qt.Orientation.Horizontal) == "Age at last follow-up"
    assert "," in model.index(1, column_of(panel, AGE)).data() or big.data(RAW_VALUE_ROLE) < 1000


def test_ctrl_c_copies_the_selection_as_tsv(qtbot: QtBot, panel: ParticipantsPanel, ui_cache_dir: Path) -> None:
    expected = oracle_rows(ui_cache_dir, "SELECT participant_id, sex, is_proband FROM participants ORDER BY 1 LIMIT 2")
    panel.view.selectRow(0)
    panel.view.selectionModel().select(panel.model.index(1, 0), panel.view.selectionModel().SelectionFlag.Select
                                       | panel.view.selectionModel().SelectionFlag.Rows)
    panel.activateWindow()
    qtbot.waitUntil(panel.isActiveWindow, timeout=3000)  # shortcuts fire only in the active window
    panel.view.setFocus()
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(panel.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QGuiApplication.clipboard().text().splitlines()
    header = lines[0].split("\t")
    assert header == panel.model.columns
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert [(r["participant_id"], r["sex"], r["is_proband"]) for r in rows] == [
        (pid, sex, "true" if proband else "false") for pid, sex, proband in expected
    ]


def test_years_and_ids_are_not_grouped_but_quantities_are() -> None:
    from kfexplorer.ui.models.cell_format import format_cell

    assert format_cell("birth_year", 2004) == "2004"
    assert format_cell("member_count", 12345) == "12,345"
    assert format_cell("age_at_last_follow_up_days", 5646) == "5,646 d (15.5 y)"
    assert format_cell("is_proband", None) == "—"


def test_sizes_read_in_binary_multiples() -> None:
    from kfexplorer.ui.models.cell_format import format_bytes

    assert format_bytes(512) == "512 bytes"
    assert format_bytes(1536) == "1.5 KB"
    assert format_bytes(5 * 1024**3) == "5.0 GB"
    assert format_bytes(None) == "size unknown"
