"""The Summary tab: a grid of charts of the current cohort (cBioPortal-style) where every bar is a filter.

Charts are re-read in workers on every cohort change (a newer change cancels the older jobs): the participant
charts in one fast job, the variant charts (which scan the calls) in another; each chart stays, dimmed, until its
new data arrive. Clicking a bar sets that field's criterion to the bar's value; shift-click widens it with OR (or
takes the value out again). A value the cohort excludes (a NOT / "none of" on the chart's field) shows as a hatched
"not …" bar; clicking it clears that exclusion. Each chart's context menu exports PNG / SVG / CSV.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.compiler import ontology_term_id
from kfexplorer.query.model import MISSING_VALUE, Cohort, Criterion, Value
from kfexplorer.query.preaggregates import PROTEIN_ALTERING_IMPACTS
from kfexplorer.services.cohort_charts import (
    AGE_FIELD,
    AgeHistogram,
    BarSeries,
    ProteinVariant,
    SummaryCharts,
    clinical_charts,
    day_range_of_years,
    mutated_gene_names,
    protein_variants,
    variant_charts,
)
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.panels.chart_cards import BarChartCard, ChartCard
from kfexplorer.ui.panels.facets_panel import cohort_without_exclusion, excluded_values
from kfexplorer.ui.panels.lollipop_card import LollipopCard
from kfexplorer.ui.preview_host import preview_panel_with_jobs

# (series key, title) in grid order, two per row; the age histogram and the lollipop span the rows after them.
BAR_CHARTS: tuple[tuple[str, str], ...] = (
    ("study", "Participants per study"), ("sex", "Sex"), ("race", "Race"), ("ethnicity", "Ethnicity"),
    ("diagnosis", "Top diagnoses"), ("phenotype", "Top phenotypes (observed)"),
    ("gene", "Top mutated genes (HIGH / MODERATE)"), ("consequence", "Consequences (variants)"),
)
DIMMED_OPACITY = 0.45
IMPACT_FIELD = "consequence.vep_impact"


@dataclass(frozen=True)
class VariantSummary:
    """The variant charts, the genes of the lollipop picker, and the lollipop of the chosen gene."""

    bars: tuple[BarSeries, ...]
    genes: tuple[str, ...]
    gene: str
    variants: tuple[ProteinVariant, ...]


def read_variant_summary(workspace: Workspace, cohort: Cohort, gene: str, cancel: CancelToken) -> VariantSummary:
    """The variant charts of `cohort`; the lollipop shows `gene` when it has variants, else the most-carried gene."""
    cursor = workspace.cursor()
    bars = variant_charts(cursor, cohort, cancel)
    cancel.raise_if_cancelled()
    genes = tuple(mutated_gene_names(cursor, cohort))
    chosen = gene if gene in genes else (genes[0] if genes else "")
    cancel.raise_if_cancelled()
    variants = tuple(protein_variants(cursor, cohort, chosen)) if chosen else ()
    return VariantSummary(bars, genes, chosen, variants)


def value_text(value: Value) -> str:
    return "missing" if value == MISSING_VALUE else str(value)


def dim(card: ChartCard, dimmed: bool) -> None:
    """Show `card` faded while its data are being re-read (the plot's items fade; the title greys out)."""
    card.plot.getPlotItem().setOpacity(DIMMED_OPACITY if dimmed else 1.0)
    card.title_label.setEnabled(not dimmed)


def is_dim(card: ChartCard) -> bool:
    return card.plot.getPlotItem().opacity() < 1.0


class SummaryPanel(QWidget):
    """The chart grid; follows `state` (a CohortState) and edits it on clicks. `charts_loaded` fires when every
    chart shows the current cohort."""

    charts_loaded = Signal()

    def __init__(self, jobs: QtJobRunner | None = None, state: CohortState | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.state = state if state is not None else CohortState()
        self.workspace: Workspace | None = None
        self.series: dict[str, BarSeries] = {}
        self.histogram: AgeHistogram | None = None
        self.participants: int | None = None
        self._pending: set[str] = set()
        self._stale = False  # a refresh waits until the tab is shown
        self._clinical_key = f"summary-clinical-{id(self)}"
        self._variant_key = f"summary-variants-{id(self)}"
        self._lollipop_key = f"summary-lollipop-{id(self)}"
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.status_label = QLabel("Open a release to see charts of the cohort.")
        self.status_label.setEnabled(False)
        self.status_label.setWordWrap(True)
        self.status_label.setContentsMargins(8, 4, 8, 0)
        outer.addWidget(self.status_label)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.grid_host = QWidget()
        grid = QGridLayout(self.grid_host)
        grid.setContentsMargins(8, 8, 8, 8)
        grid.setSpacing(8)
        self.bar_cards: dict[str, BarChartCard] = {}
        for index, (key, title) in enumerate(BAR_CHARTS):
            card = BarChartCard(title, horizontal=True)
            card.bar_clicked.connect(lambda bar, shift, key=key: self.bar_clicked(key, bar, shift))
            self.bar_cards[key] = card
            grid.addWidget(card, index // 2, index % 2)
        for key in ("sex", "ethnicity"):
            self.bar_cards[key].plot.setMinimumHeight(140)
        row = len(BAR_CHARTS) // 2
        self.age_card = BarChartCard("Age at first diagnosis (years)", horizontal=False)
        self.age_card.bar_clicked.connect(self.age_clicked)
        grid.addWidget(self.age_card, row, 0, 1, 2)
        self.lollipop = LollipopCard()
        self.lollipop.gene_chosen.connect(self.show_gene)
        grid.addWidget(self.lollipop, row + 1, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        scroll.setWidget(self.grid_host)
        outer.addWidget(scroll, 1)
        self.state.add_listener(self._cohort_changed)

    def cards(self) -> list[ChartCard]:
        return [*self.bar_cards.values(), self.age_card, self.lollipop]

    # -- data ---------------------------------------------------------------------------------------------------
    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        if workspace is not None:
            self.refresh()
        elif self.jobs is not None:
            for key in (self._clinical_key, self._variant_key, self._lollipop_key):
                self.jobs.runner.cancel_key(key)

    @property
    def is_dimmed(self) -> bool:
        return any(is_dim(card) for card in self.cards())

    @property
    def is_loaded(self) -> bool:
        return not self._pending and self.histogram is not None

    def refresh(self) -> None:
        """Re-read every chart for the current cohort in two workers; the current charts dim until then."""
        workspace, jobs, cohort = self.workspace, self.jobs, self.state.cohort
        if workspace is None or jobs is None:
            return
        if not self.isVisible():  # a hidden tab reads its charts when it is shown
            self._stale = True
            for key in (self._clinical_key, self._variant_key, self._lollipop_key):
                jobs.runner.cancel_key(key)
            return
        self._stale = False
        gene = self.lollipop.gene
        if self.histogram is not None:
            for card in self.cards():
                dim(card, True)
        self._pending = {"clinical", "variants"}
        self.status_label.setText("Updating the charts…")

        def read_clinical(_progress: ProgressCallback, cancel: CancelToken) -> SummaryCharts:
            return clinical_charts(workspace.cursor(), cohort, cancel)

        def read_variants(_progress: ProgressCallback, cancel: CancelToken) -> VariantSummary:
            return read_variant_summary(workspace, cohort, gene, cancel)

        jobs.runner.cancel_key(self._lollipop_key)
        jobs.submit(read_clinical, name="Summary charts", key=self._clinical_key,
                    on_finished=lambda charts: self._clinical_arrived(cohort, charts))
        jobs.submit(read_variants, name="Variant charts", key=self._variant_key,
                    on_finished=lambda summary: self._variants_arrived(cohort, summary))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _show_series(self, series: BarSeries) -> None:
        self.series[series.key] = series
        card = self.bar_cards[series.key]
        card.set_bars(series.labels, series.counts, self._selected_bars(series), note=series.unit,
                      excluded=self._excluded_bars(series))
        card.csv_header = ["label", "value", series.unit]
        card.csv_rows = [[label, value_text(value), count] for label, value, count in series.rows()]
        dim(card, False)

    def _clinical_arrived(self, cohort: Cohort, charts: SummaryCharts) -> None:
        if cohort != self.state.cohort:
            return  # a newer edit's charts are on their way
        for series in charts.bars:
            self._show_series(series)
        histogram = charts.age_histogram
        self.histogram, self.participants = histogram, charts.participants
        self.age_card.set_bars([str(y) for y in histogram.years], histogram.counts, self._selected_years(histogram),
                               positions=[float(y) for y in histogram.years], note="participants")
        self.age_card.csv_header = ["age_from_years", "age_to_years", "participants"]
        self.age_card.csv_rows = [[y, y + 1, c] for y, c in zip(histogram.years, histogram.counts, strict=True)]
        dim(self.age_card, False)
        self._part_done("clinical")

    def _variants_arrived(self, cohort: Cohort, summary: VariantSummary) -> None:
        if cohort != self.state.cohort:
            return
        for series in summary.bars:
            self._show_series(series)
        self.lollipop.set_genes(summary.genes, summary.gene)
        self.lollipop.set_variants(summary.gene, summary.variants)
        dim(self.lollipop, False)
        self._part_done("variants")

    def _part_done(self, part: str) -> None:
        self._pending.discard(part)
        if self._pending:
            return
        self.status_label.setText(f"Charts of {self.participants or 0:,} participants (a chart with a filter of its "
                                  "own counts without it; the chosen bars are darker, excluded ones hatched) · "
                                  "click a bar to filter (an excluded one to clear its NOT), shift-click to add it "
                                  "with OR · right-click to export")
        self.charts_loaded.emit()

    def show_gene(self, gene: str) -> None:
        """Draw the lollipop of `gene` for the current cohort (read in a worker)."""
        workspace, jobs, cohort = self.workspace, self.jobs, self.state.cohort
        if workspace is None or jobs is None:
            return

        def read(_progress: ProgressCallback, _cancel: CancelToken) -> tuple[ProteinVariant, ...]:
            return tuple(protein_variants(workspace.cursor(), cohort, gene))

        dim(self.lollipop, True)
        jobs.submit(read, name="Lollipop", key=self._lollipop_key,
                    on_finished=lambda variants: self._gene_arrived(cohort, gene, variants))

    def _gene_arrived(self, cohort: Cohort, gene: str, variants: tuple[ProteinVariant, ...]) -> None:
        if cohort == self.state.cohort:
            self.lollipop.set_variants(gene, variants)
            dim(self.lollipop, False)

    # -- selection and clicks -----------------------------------------------------------------------------------
    def _selected_bars(self, series: BarSeries) -> set[int]:
        chosen = set(self.state.field_values(series.field))
        # ontology values may be written as the portal writes them ("Seizure (HP:0001250)"): compare their term ids
        chosen |= {term for term in (ontology_term_id(v) for v in chosen) if term}
        return {i for i, value in enumerate(series.values) if value in chosen}

    def _excluded_value(self, series: BarSeries, value: Value) -> Value | None:
        """The value as the cohort excludes it on the chart's field (a NOT / not_in lists it), else None."""
        for excluded in excluded_values(self.state.cohort, series.field):
            if excluded == value or ontology_term_id(excluded) == value:
                return excluded
        return None

    def _excluded_bars(self, series: BarSeries) -> set[int]:
        return {i for i, value in enumerate(series.values) if self._excluded_value(series, value) is not None}

    def _age_range(self) -> tuple[int, Criterion] | None:
        for index, node in enumerate(self.state.top_level()):
            if isinstance(node, Criterion) and node.field == AGE_FIELD and node.op == "between":
                return index, node
        return None

    def _selected_years(self, histogram: AgeHistogram) -> set[int]:
        found = self._age_range()
        if found is None:
            return set()
        low, high = sorted(float(v) for v in found[1].values)
        return {i for i, year in enumerate(histogram.years)
                if low <= day_range_of_years(year, year)[0] and day_range_of_years(year, year)[1] <= high}

    def bar_clicked(self, key: str, index: int, shift: bool) -> None:
        """Click: that value alone (clicking the only selected value again removes the filter); shift-click:
        add the value to the field's values with OR (or take it out when it is there)."""
        series = self.series.get(key)
        if series is None:
            return
        value = series.values[index]
        excluded = self._excluded_value(series, value)
        if excluded is not None:  # an excluded value's bar: clear the exclusion (the NOT pill's value)
            self.state.set_cohort(cohort_without_exclusion(self.state.cohort, series.field, excluded))
            return
        current = list(self.state.field_values(series.field))
        if shift:
            values = [v for v in current if v != value] if value in current else [*current, value]
        else:
            values = [] if current == [value] else [value]
        if (key == "gene" and values and self.state.top_op == "and"
                and not self.state.field_values(IMPACT_FIELD)):
            # the bars count carriers of a HIGH / MODERATE call in the gene: filter on those same calls
            self.state.set_fields_values({series.field: values, IMPACT_FIELD: PROTEIN_ALTERING_IMPACTS})
            return
        self.state.set_field_values(series.field, values)

    def age_clicked(self, index: int, shift: bool) -> None:
        """Click: "age at diagnosis between" that year's days; shift-click widens the range to take it in."""
        if self.histogram is None:
            return
        year = self.histogram.years[index]
        low, high = day_range_of_years(year, year)
        found = self._age_range()
        if found is not None:
            position, node = found
            old_low, old_high = sorted(int(float(v)) for v in node.values)
            if shift:
                low, high = min(low, old_low), max(high, old_high)
            elif (old_low, old_high) == (low, high):
                self.state.remove(position)
                return
            self.state.replace(position, Criterion(AGE_FIELD, "between", (low, high)))
        else:
            self.state.add(Criterion(AGE_FIELD, "between", (low, high)))

    def _cohort_changed(self, _cohort: Cohort) -> None:
        for key, series in self.series.items():  # highlights follow at once; data follow from the workers
            self.bar_cards[key].set_selected(self._selected_bars(series), self._excluded_bars(series))
        if self.histogram is not None:
            self.age_card.set_selected(self._selected_years(self.histogram))
        self.refresh()


def preview(cache_dir: Path | None = None, exec_loop: bool = True) -> QWidget:
    """Open the Summary tab alone over `cache_dir`."""
    return preview_panel_with_jobs(SummaryPanel, cache_dir, "Summary", exec_loop, size=(1000, 800))


if __name__ == "__main__":
    preview(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
