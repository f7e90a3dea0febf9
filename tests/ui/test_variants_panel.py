"""The Variants tab over a small synced demo release: model → view → change the cohort → the view follows.
Expected rows come from the raw release Parquet (pyarrow), never from the cache."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Criterion
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.variant_table import VARIANT_COLUMNS, Column, TablePage
from kfexplorer.services.workspace import Workspace
from kfexplorer.sync.engine import sync_release
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.variants_model import PENDING_TEXT, WindowedTableModel
from kfexplorer.ui.panels.variants_panel import VariantsPanel


@pytest.fixture(scope="module")
def release_and_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("variants_panel")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    return release, cache


@pytest.fixture(scope="module")
def raw_calls(release_and_cache: tuple[Path, Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((release_and_cache[0] / "variants" / "occurrences").rglob("*.parquet")):
        rows += [r for r in pq.read_table(path).to_pylist() if r["has_alt"]]
    return rows


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
    yield widget
    jobs.shutdown()
    workspace.close()


def _ready(qtbot: QtBot, panel: VariantsPanel) -> None:
    qtbot.waitUntil(lambda: "built" in panel.status.text() and panel.model.is_window_loaded(), timeout=30_000)


def _order(calls: list[dict[str, Any]]) -> list[str]:
    carriers: dict[str, set[str]] = defaultdict(set)
    for r in calls:
        carriers[r["locus_id"]].add(r["participant_id"])
    return sorted(carriers, key=lambda locus: (-len(carriers[locus]), locus))


def _locus(panel: VariantsPanel, row: int) -> str:
    return str(panel.model.index(row, 0).data())


def test_table_rows_scroll_and_jump(qtbot: QtBot, panel: VariantsPanel, raw_calls: list[dict[str, Any]]) -> None:
    _ready(qtbot, panel)
    order = _order(raw_calls)
    assert panel.model.total == len(order)
    assert f"{len(order):,} variants" in panel.status.text()
    assert [_locus(panel, r) for r in range(5)] == order[:5]
    assert 10 < panel.model.rowCount() < 60  # a window, not the whole table
    panel.jump_to(len(order) // 2)
    qtbot.waitUntil(panel.model.is_window_loaded, timeout=10_000)
    assert _locus(panel, 0) == order[len(order) // 2]
    assert panel.table.view.selectionModel().isRowSelected(0)
    assert panel.model.headerData(0, Qt.Orientation.Vertical) == f"{len(order) // 2 + 1:,}"
    panel.table.scrollbar.setValue(panel.table.scrollbar.maximum())
    qtbot.waitUntil(panel.model.is_window_loaded, timeout=10_000)
    assert _locus(panel, panel.model.rowCount() - 1) == order[-1]
    # sort by clicking a header: the table is rebuilt in DuckDB in that order
    column = [c.name for c in VARIANT_COLUMNS].index("locus_id")
    panel.table.view.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: panel.model.is_window_loaded() and _locus(panel, 0) == min(order), timeout=30_000)


def test_drill_down_and_make_cohort(qtbot: QtBot, panel: VariantsPanel, raw_calls: list[dict[str, Any]]) -> None:
    _ready(qtbot, panel)
    locus = _order(raw_calls)[0]
    panel.table.view.selectRow(0)
    expected = {r["participant_id"] for r in raw_calls if r["locus_id"] == locus}
    qtbot.waitUntil(lambda: panel.carriers_model.rowCount() == len(expected), timeout=10_000)
    assert set(panel.carrier_ids()) == expected
    with qtbot.waitSignal(panel.participant_activated) as signal:
        panel.carriers_view.doubleClicked.emit(panel.carriers_model.index(0, 0))
    assert signal.args == [sorted(expected)[0]]
    text = panel.copy_selection()
    assert text.splitlines()[0].startswith("locus_id\t") and locus in text
    assert QGuiApplication.clipboard().text() == text
    panel.make_variant_cohort()
    assert panel._state.cohort.top_level() == (Criterion("variant.locus_id", "in", (locus,)),)
    qtbot.waitUntil(lambda: panel.model.total == 1 and panel.model.is_window_loaded(), timeout=30_000)
    assert _locus(panel, 0) == locus


def test_inheritance_picker_is_a_cohort_criterion(qtbot: QtBot, panel: VariantsPanel,
                                                 raw_calls: list[dict[str, Any]]) -> None:
    _ready(qtbot, panel)
    index = panel.inheritance_choice.findData("de_novo")
    panel.inheritance_choice.setCurrentIndex(index)
    panel.inheritance_choice.activated.emit(index)
    assert panel._state.field_values("inheritance") == ("de_novo",)
    de_novo = {r["locus_id"] for r in raw_calls if r["zygosity"] == "HET" and r["mother_zygosity"] == "WT"
               and r["father_zygosity"] == "WT" and (r["mother_gq"] or 0) >= 20 and (r["father_gq"] or 0) >= 20
               and (r["mother_dp"] or 0) >= 10 and (r["father_dp"] or 0) >= 10}
    assert de_novo
    qtbot.waitUntil(lambda: panel.model.total == len(de_novo) and panel.model.is_window_loaded(), timeout=30_000)
    assert {_locus(panel, r) for r in range(panel.model.rowCount())} == de_novo
    # the parental thresholds are part of the criterion
    assert panel.parent_gq_box.isEnabled()
    panel.parent_gq_box.setValue(30)
    assert panel._state.field_values("inheritance") == ("de_novo", "min_parent_gq=30")
    strict = {r["locus_id"] for r in raw_calls if r["zygosity"] == "HET" and r["mother_zygosity"] == "WT"
              and r["father_zygosity"] == "WT" and (r["mother_gq"] or 0) >= 30 and (r["father_gq"] or 0) >= 30
              and (r["mother_dp"] or 0) >= 10 and (r["father_dp"] or 0) >= 10}
    qtbot.waitUntil(lambda: panel.model.total == len(strict) and panel.model.is_window_loaded(), timeout=30_000)
    panel._state.set_field_values("inheritance", [])
    assert panel.inheritance_choice.currentIndex() == 0 and not panel.parent_gq_box.isEnabled()
    assert panel.parent_gq_box.value() == 20


def test_occurrences_view_and_column_chooser(qtbot: QtBot, panel: VariantsPanel,
                                            raw_calls: list[dict[str, Any]]) -> None:
    _ready(qtbot, panel)
    panel.view_choice.setCurrentText("Occurrences")
    qtbot.waitUntil(lambda: panel.model.total == len(raw_calls) and panel.model.is_window_loaded(), timeout=30_000)
    first = panel.model.record(0)
    assert first is not None
    with qtbot.waitSignal(panel.participant_activated) as signal:
        panel.table.view.doubleClicked.emit(panel.model.index(0, 0))
    assert signal.args == [first["participant_id"]]
    gq = [c.name for c in panel.model.columns].index("gq")
    assert not panel.table.view.isColumnHidden(gq)
    action = next(a for a in panel.columns_menu.actions() if a.text() == "GQ")
    action.setChecked(False)
    assert panel.table.view.isColumnHidden(gq)


def test_windowed_model_scrolls_a_200_million_row_table(qtbot: QtBot) -> None:
    jobs = QtJobRunner()
    model = WindowedTableModel(jobs, "Huge")
    columns = (Column("n", "Row", True),)
    asked: list[int] = []

    def fetch(offset: int, limit: int) -> TablePage:
        asked.append(offset)
        return TablePage(offset, ("n",), [(offset + i,) for i in range(limit)], 0.1)

    model.set_window_rows(30)
    model.set_source(columns, 200_000_000, fetch)
    assert model.rowCount() == 30
    qtbot.waitUntil(model.is_window_loaded, timeout=5_000)
    model.set_window_start(10**9)  # past the end: clamped to the last window
    assert model.window_start == 200_000_000 - 30
    assert model.index(0, 0).data() in (PENDING_TEXT, f"{200_000_000 - 30:,}")
    qtbot.waitUntil(model.is_window_loaded, timeout=5_000)
    assert model.index(29, 0).data() == f"{199_999_999:,}"
    assert model.headerData(29, Qt.Orientation.Vertical) == "200,000,000"
    assert len(asked) <= 4  # a page or two per window, never the table
    jobs.shutdown()


def test_rapid_cohort_edits_settle_on_the_last_one_without_errors(qtbot: QtBot, panel: VariantsPanel,
                                                                 raw_calls: list[dict[str, Any]]) -> None:
    _ready(qtbot, panel)
    failures: list[Any] = []
    panel._jobs.job_failed.connect(failures.append)
    for zygosity in ("HET", "HOM", "HET", "HOM"):  # each edit replaces (and interrupts) the build before it
        panel._state.set_field_values("occurrence.zygosity", [zygosity])
    hom = {r["locus_id"] for r in raw_calls if r["zygosity"] == "HOM"}
    qtbot.waitUntil(lambda: panel.model.total == len(hom) and panel.model.is_window_loaded(), timeout=30_000)
    qtbot.wait(200)
    assert failures == [] and "built" in panel.status.text()


def test_preview_over_a_cache_without_variant_calls(qtbot: QtBot, ui_cache_dir: Path) -> None:
    from kfexplorer.ui.panels.variants_panel import preview

    widget = preview(ui_cache_dir, exec_loop=False)
    qtbot.addWidget(widget)
    panel = widget if isinstance(widget, VariantsPanel) else widget.findChild(VariantsPanel)
    assert panel is not None
    qtbot.waitUntil(lambda: "No variant calls" in panel.status.text(), timeout=10_000)
    assert panel.model.rowCount() == 0
    widget.close()
