"""QA: the Variants table is a window over the table's rows, so a scroll must not leave the highlighted row and the
carriers drill-down pointing at two different variants. Expected loci and carriers come from the raw release
Parquet (pyarrow), never from the cache."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kfexplorer.demo.release import generate_release
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.workspace import Workspace
from kfexplorer.sync.engine import sync_release
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.panels.variants_panel import VariantsPanel


@pytest.fixture(scope="module")
def release_and_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("qa_variants")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    return release, cache


@pytest.fixture(scope="module")
def carriers_by_locus(release_and_cache: tuple[Path, Path]) -> dict[str, set[str]]:
    carriers: dict[str, set[str]] = defaultdict(set)
    for path in sorted((release_and_cache[0] / "variants" / "occurrences").rglob("*.parquet")):
        for row in pq.read_table(path, columns=["locus_id", "participant_id", "has_alt"]).to_pylist():
            if row["has_alt"]:
                carriers[row["locus_id"]].add(row["participant_id"])
    return carriers


@pytest.fixture
def panel(qtbot: QtBot, release_and_cache: tuple[Path, Path]) -> Iterator[VariantsPanel]:
    jobs = QtJobRunner()
    widget = VariantsPanel(jobs, CohortState())
    jobs.setParent(widget)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    workspace = Workspace.open(release_and_cache[1])
    widget.set_workspace(workspace)
    qtbot.waitUntil(lambda: "built" in widget.status.text() and widget.model.is_window_loaded(), timeout=30_000)
    yield widget
    jobs.shutdown()
    workspace.close()


def table_order(carriers: dict[str, set[str]]) -> list[str]:
    """The table's default sort: most carriers first, then locus."""
    return sorted(carriers, key=lambda locus: (-len(carriers[locus]), locus))


def shown_locus(panel: VariantsPanel, row: int) -> str | None:
    record = panel.model.record(row)
    return str(record["locus_id"]) if record else None


def drill_down_settled(panel: VariantsPanel, locus: str, expected: set[str]) -> bool:
    return f"of {locus} in the cohort" in panel.carriers_title.text() and set(panel.carrier_ids()) == expected


def test_wheel_scroll_keeps_the_highlight_on_the_drilled_down_variant(
        qtbot: QtBot, panel: VariantsPanel, carriers_by_locus: dict[str, set[str]]) -> None:
    order = table_order(carriers_by_locus)
    panel.table.view.selectRow(2)
    qtbot.waitUntil(lambda: drill_down_settled(panel, order[2], carriers_by_locus[order[2]]), timeout=10_000)

    viewport = panel.table.view.viewport()
    wheel = QWheelEvent(QPointF(20, 20), QPointF(viewport.mapToGlobal(QPoint(20, 20))), QPoint(0, 0),
                        QPoint(0, -40), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)  # one row down
    qtbot.waitUntil(panel.model.is_window_loaded, timeout=10_000)

    assert panel.model.window_start == 1
    current = panel.table.view.currentIndex()
    assert current.isValid() and shown_locus(panel, current.row()) == order[2]
    assert [shown_locus(panel, i.row()) for i in panel.table.view.selectionModel().selectedRows()] == [order[2]]
    assert drill_down_settled(panel, order[2], carriers_by_locus[order[2]])


def test_key_down_past_the_last_row_drills_down_into_the_next_variant(
        qtbot: QtBot, panel: VariantsPanel, carriers_by_locus: dict[str, set[str]]) -> None:
    order = table_order(carriers_by_locus)
    last = panel.model.rowCount() - 1
    assert len(order) > last + 1
    panel.table.view.setFocus()
    panel.table.view.selectRow(last)
    qtbot.waitUntil(lambda: drill_down_settled(panel, order[last], carriers_by_locus[order[last]]), timeout=10_000)

    qtbot.keyClick(panel.table.view, Qt.Key.Key_Down)
    qtbot.waitUntil(panel.model.is_window_loaded, timeout=10_000)

    assert panel.model.window_start == 1
    assert shown_locus(panel, panel.table.view.currentIndex().row()) == order[last + 1]
    qtbot.waitUntil(lambda: drill_down_settled(panel, order[last + 1], carriers_by_locus[order[last + 1]]),
                    timeout=10_000)


def test_a_jump_to_a_row_at_the_same_window_position_drills_down_into_it(
        qtbot: QtBot, panel: VariantsPanel, carriers_by_locus: dict[str, set[str]]) -> None:
    order = table_order(carriers_by_locus)
    panel.jump_to(10)  # row 10 at the top of the window, selected: model row 0
    qtbot.waitUntil(lambda: drill_down_settled(panel, order[10], carriers_by_locus[order[10]]), timeout=10_000)

    panel.jump_to(30)  # model row 0 again, another variant
    qtbot.waitUntil(panel.model.is_window_loaded, timeout=10_000)
    assert shown_locus(panel, panel.table.view.currentIndex().row()) == order[30]
    qtbot.waitUntil(lambda: drill_down_settled(panel, order[30], carriers_by_locus[order[30]]), timeout=10_000)
