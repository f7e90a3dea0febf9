"""The Compare tab: Kaplan–Meier overall survival of two cohorts side by side, with censor ticks, numbers at risk
and the log-rank p-value. The two cohorts are the current cohort and its complement, or two saved cohorts from the
user database. Below it, a row opens the Venn diagram of 2–3 cohorts (`venn_requested`; the window shows it).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.model import Cohort
from kfexplorer.services.cohort_charts import DAYS_PER_YEAR, SurvivalComparison, compare_survival, complement
from kfexplorer.services.cohort_count import parse_cohort_document
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.panels.chart_cards import ChartCard, chart_colors, series_color
from kfexplorer.ui.preview_host import ensure_application, open_preview_workspace, show_preview

SavedCohortLoader = Callable[[], list[tuple[str, Cohort]]]
MAX_RISK_COLUMNS = 11


def saved_cohorts_from_user_database(folder: Path | None = None) -> list[tuple[str, Cohort]]:
    """(name, cohort) of every saved cohort of the user database that reads as a cohort."""
    from kfexplorer.store.user_db import open_user_database

    database = open_user_database(folder)
    try:
        found = []
        for saved in database.cohorts():
            try:
                found.append((saved.name, parse_cohort_document(saved.definition)))
            except ValueError:
                continue
        return found
    finally:
        database.close()


def risk_table_years(longest_years: float) -> list[float]:
    """Whole-year time points for the numbers-at-risk table: 0 … the longest follow-up, at most 11 columns."""
    last = max(1, math.ceil(longest_years))
    step = max(1, math.ceil(last / (MAX_RISK_COLUMNS - 1)))
    return [float(year) for year in range(0, last + 1, step)]


def format_p_value(p_value: float) -> str:
    return "p < 0.0001" if p_value < 1e-4 else f"p = {p_value:.4f}" if p_value < 0.01 else f"p = {p_value:.3f}"


@dataclass(frozen=True)
class CompareRequest:
    first: Cohort
    second: Cohort
    names: tuple[str, str]


class SurvivalCard(ChartCard):
    """Two step curves (years on x) with censor ticks, and a numbers-at-risk table below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Overall survival (Kaplan–Meier)", parent)
        self.title_label.setToolTip("From the first diagnosis to death (event) or the last follow-up (censored)")
        self.plot.getAxis("bottom").setLabel("years since first diagnosis")
        self.plot.getAxis("left").setLabel("survival")
        self.plot.getAxis("left").setWidth(48)
        self.plot.setMinimumHeight(220)
        self.legend = self.plot.getPlotItem().addLegend(offset=(10, -10), labelTextColor=chart_colors()["text"])
        self.risk_table = QTableWidget(2, 0)
        self.risk_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.risk_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.risk_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.risk_caption = QLabel("Numbers at risk")
        self.risk_caption.setEnabled(False)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.addWidget(self.risk_caption)
        layout.addWidget(self.risk_table)
        self._items: list[pg.GraphicsObject] = []
        self.csv_header = ["group", "time_years", "survival", "at_risk", "events", "censored"]

    def show_comparison(self, result: SurvivalComparison) -> None:
        plot_item = self.plot.getPlotItem()
        for item in self._items:
            plot_item.removeItem(item)
        self._items = []
        self.legend.clear()
        colors = chart_colors()
        longest = 0.0
        self.csv_rows = []
        for index, (name, curve, data) in enumerate(zip(result.names, result.curves, result.data, strict=True)):
            color = series_color(index)
            xs, ys = curve.step_points()
            deaths = sum(data.events)
            label = f"{name} (n = {curve.subjects:,}, {deaths:,} death{'' if deaths == 1 else 's'})"
            line = pg.PlotDataItem([x / DAYS_PER_YEAR for x in xs], ys, pen=pg.mkPen(color, width=2), name=label)
            plot_item.addItem(line)
            self._items.append(line)
            marks = curve.censor_marks()
            if marks:
                ticks = pg.ScatterPlotItem([t / DAYS_PER_YEAR for t, _ in marks], [s for _, s in marks], symbol="|",
                                           size=9, pen=pg.mkPen(color, width=1.5), brush=pg.mkBrush(color))
                plot_item.addItem(ticks)
                self._items.append(ticks)
            longest = max(longest, (curve.times[-1] if curve.times else 0.0) / DAYS_PER_YEAR)
            for time, value, at_risk, events, censored in zip(curve.times, curve.survival, curve.at_risk,
                                                              curve.events, curve.censored, strict=True):
                self.csv_rows.append([name, round(time / DAYS_PER_YEAR, 4), round(value, 6), at_risk, events,
                                      censored])
        plot_item.setXRange(0, max(longest, 1.0) * 1.02, padding=0)
        plot_item.setYRange(0, 1.05, padding=0)
        years = risk_table_years(longest)
        self.risk_table.setColumnCount(len(years))
        self.risk_table.setHorizontalHeaderLabels([f"{year:g} y" for year in years])
        self.risk_table.setVerticalHeaderLabels(list(result.names))
        for row, curve in enumerate(result.curves):
            for column, year in enumerate(years):
                item = QTableWidgetItem(f"{curve.at_risk_at(year * DAYS_PER_YEAR):,}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setForeground(series_color(row))
                self.risk_table.setItem(row, column, item)
        self.risk_table.resizeRowsToContents()
        self.risk_table.setFixedHeight(self.risk_table.horizontalHeader().height()
                                       + sum(self.risk_table.rowHeight(r) for r in range(2)) + 4)
        test = result.log_rank
        self.note_label.setEnabled(True)
        self.note_label.setText(f"log-rank χ² = {test.statistic:.2f}, {format_p_value(test.p_value)}")
        self.note_label.setStyleSheet(f"color: {colors['text'].name()};")


class ComparePanel(QWidget):
    """Chooses two cohorts, computes their survival in a worker, and shows the Kaplan–Meier card."""

    comparison_loaded = Signal()
    venn_requested = Signal()

    def __init__(self, jobs: QtJobRunner | None = None, state: CohortState | None = None,
                 saved_cohorts: SavedCohortLoader | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.state = state if state is not None else CohortState()
        self.workspace: Workspace | None = None
        self.saved_loader: SavedCohortLoader = saved_cohorts or saved_cohorts_from_user_database
        self.saved: list[tuple[str, Cohort]] = []
        self.result: SurvivalComparison | None = None
        self._stale = False  # a refresh waits until the tab is shown
        self._job_key = f"compare-survival-{id(self)}"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        chooser = QHBoxLayout()
        chooser.setSpacing(8)
        self.vs_rest = QRadioButton("Current cohort vs the rest")
        self.vs_saved = QRadioButton("Two saved cohorts:")
        self.vs_rest.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.vs_rest)
        group.addButton(self.vs_saved)
        self.first_combo = QComboBox()
        self.second_combo = QComboBox()
        for combo in (self.first_combo, self.second_combo):
            combo.setMinimumWidth(110)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
            combo.currentIndexChanged.connect(lambda _index: self._saved_choice_changed())
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read the saved cohorts again")
        self.reload_button.clicked.connect(self.load_saved_cohorts)
        chooser.addWidget(self.vs_rest)
        chooser.addWidget(self.vs_saved)
        chooser.addStretch(1)
        layout.addLayout(chooser)
        pickers = QHBoxLayout()
        pickers.setSpacing(8)
        pickers.addWidget(self.first_combo, 1)
        pickers.addWidget(QLabel("vs"))
        pickers.addWidget(self.second_combo, 1)
        pickers.addWidget(self.reload_button)
        pickers.addStretch(1)
        layout.addLayout(pickers)
        self.vs_rest.toggled.connect(lambda _checked: self._mode_changed())
        self.status_label = QLabel("Open a release to compare the survival of cohorts.")
        self.status_label.setEnabled(False)
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.survival_card = SurvivalCard()
        layout.addWidget(self.survival_card, 3)
        venn_row = QHBoxLayout()
        venn_row.setSpacing(8)
        venn_label = QLabel("Overlap of 2–3 cohorts (queries Q1, Q2… or saved cohorts), each region a cohort:")
        venn_label.setWordWrap(True)
        self.venn_button = QPushButton("Venn diagram…")
        self.venn_button.clicked.connect(self.venn_requested.emit)
        venn_row.addWidget(venn_label, 1)
        venn_row.addWidget(self.venn_button)
        layout.addLayout(venn_row)
        self._mode_changed()
        self.state.add_listener(lambda _cohort: self.refresh() if self.vs_rest.isChecked() else None)

    # -- choosing -----------------------------------------------------------------------------------------------
    def _mode_changed(self) -> None:
        saved = self.vs_saved.isChecked()
        for widget in (self.first_combo, self.second_combo, self.reload_button):
            widget.setEnabled(saved)
        if saved and not self.saved:
            self.load_saved_cohorts()
        else:
            self.refresh()

    def _saved_choice_changed(self) -> None:
        if self.vs_saved.isChecked():
            self.refresh()

    def load_saved_cohorts(self) -> None:
        """Read the saved cohorts (in a worker) into the two pickers."""
        if self.jobs is None:
            return
        loader = self.saved_loader

        def read(_progress: ProgressCallback, _cancel: CancelToken) -> list[tuple[str, Cohort]]:
            return loader()

        self.jobs.submit(read, name="Saved cohorts", key=f"{self._job_key}-saved", on_finished=self.set_saved)

    def set_saved(self, saved: list[tuple[str, Cohort]]) -> None:
        self.saved = list(saved)
        for index, combo in enumerate((self.first_combo, self.second_combo)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([name for name, _cohort in self.saved])
            combo.setCurrentIndex(min(index, len(self.saved) - 1))
            combo.blockSignals(False)
        self.refresh()

    def request(self) -> CompareRequest | None:
        """The two cohorts to compare now, or None (with the reason in the status line)."""
        if self.vs_rest.isChecked():
            cohort = self.state.cohort
            if not self.state.top_level():
                self.status_label.setText("The cohort is everyone: add a filter to compare it with the rest, or "
                                          "choose two saved cohorts.")
                return None
            return CompareRequest(cohort, complement(cohort), ("Cohort", "The rest"))
        first, second = self.first_combo.currentIndex(), self.second_combo.currentIndex()
        if len(self.saved) < 2 or first < 0 or second < 0:
            self.status_label.setText("Save two cohorts (toolbar → Save) to compare them here.")
            return None
        (name_a, cohort_a), (name_b, cohort_b) = self.saved[first], self.saved[second]
        return CompareRequest(cohort_a, cohort_b, (name_a, name_b if name_b != name_a else f"{name_b} (2)"))

    # -- data ---------------------------------------------------------------------------------------------------
    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        if workspace is not None:
            self.refresh()
        elif self.jobs is not None:
            self.jobs.runner.cancel_key(self._job_key)

    def refresh(self) -> None:
        workspace, jobs = self.workspace, self.jobs
        if workspace is None or jobs is None:
            return
        if not self.isVisible():  # a hidden tab computes when it is shown
            self._stale = True
            jobs.runner.cancel_key(self._job_key)
            return
        self._stale = False
        request = self.request()
        if request is None:
            jobs.runner.cancel_key(self._job_key)
            return
        self.survival_card.setEnabled(False)  # dimmed until the new curves arrive
        self.status_label.setText("Computing survival…")

        def compute(_progress: ProgressCallback, cancel: CancelToken) -> SurvivalComparison:
            return compare_survival(workspace.cursor(), request.first, request.second, request.names, cancel)

        jobs.submit(compute, name="Survival comparison", key=self._job_key,
                    on_finished=lambda result: self._arrived(request, result))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _arrived(self, request: CompareRequest, result: SurvivalComparison) -> None:
        if request != self.request():
            return
        self.show_comparison(result)

    def show_comparison(self, result: SurvivalComparison) -> None:
        self.result = result
        self.survival_card.show_comparison(result)
        self.survival_card.setEnabled(True)
        excluded = sum(d.excluded for d in result.data)
        self.status_label.setText(
            f"{result.names[0]}: {len(result.data[0].durations_days):,} participants with survival data · "
            f"{result.names[1]}: {len(result.data[1].durations_days):,} · {excluded:,} left out (no diagnosis age, "
            "follow-up or vital status). Ticks mark censored participants.")
        self.comparison_loaded.emit()


def preview(cache_dir: Path | None = None, exec_loop: bool = True) -> QWidget:
    """Open the Compare tab alone over `cache_dir`."""
    ensure_application()
    jobs = QtJobRunner()
    panel = ComparePanel(jobs)
    jobs.setParent(panel)
    panel.set_workspace(open_preview_workspace(cache_dir))
    return show_preview(panel, "Compare", exec_loop, size=(1000, 700))


if __name__ == "__main__":
    preview(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
