"""Summary and Compare tabs: real mouse clicks on chart bars become criteria of the model, and the cohort count
then equals an oracle's count over the raw release (FHIR NDJSON, Parquet); shift-click ORs; CSV export; dimming
while loading; Kaplan–Meier of the cohort vs the rest and of two saved cohorts."""

from __future__ import annotations

import csv
import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Cohort, Criterion
from kfexplorer.services.cohort_count import count_cohort
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.workspace import Workspace
from kfexplorer.sync.engine import sync_release
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.panels.chart_cards import BarChartCard
from kfexplorer.ui.panels.compare_panel import ComparePanel
from kfexplorer.ui.panels.summary_panel import SummaryPanel

KF = "https://kidsfirstdrc.org/"


def _lines(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        yield from (json.loads(line) for line in path.read_text().splitlines() if line.strip())


def _identifier(resource: dict[str, Any], suffix: str) -> str:
    return next(str(i["value"]) for i in resource.get("identifier", []) if i.get("system") == KF + suffix)


class Oracle:
    """Study and sex per participant from FHIR; gene carriers from the Parquet occurrences and consequences."""

    def __init__(self, release: Path) -> None:
        fhir = release / "fhir"
        refs = {"Patient/" + p["id"]: _identifier(p, "participant_id") for p in _lines(fhir / "Patient")}
        self.sex = {refs["Patient/" + p["id"]]: p["gender"] for p in _lines(fhir / "Patient")}
        studies = {r["id"]: _identifier(r, "study_id") for r in _lines(fhir / "ResearchStudy")}
        self.study = {refs[s["individual"]["reference"]]: studies[s["study"]["reference"].split("/", 1)[1]]
                      for s in _lines(fhir / "ResearchSubject")}
        genes: dict[str, set[str]] = {}
        damaging: dict[str, set[str]] = {}  # genes with a HIGH / MODERATE consequence of the locus
        for path in sorted((release / "variants" / "consequences").rglob("*.parquet")):
            for row in pq.read_table(path, columns=["locus_id", "gene_symbol", "vep_impact"]).to_pylist():
                genes.setdefault(row["locus_id"], set()).add(row["gene_symbol"])
                if row["vep_impact"] in ("HIGH", "MODERATE"):
                    damaging.setdefault(row["locus_id"], set()).add(row["gene_symbol"])
        self.gene_carriers: dict[str, set[str]] = {}
        self.protein_altering_carriers: dict[str, set[str]] = {}
        for path in sorted((release / "variants" / "occurrences").rglob("*.parquet")):
            for row in pq.read_table(path, columns=["participant_id", "locus_id", "has_alt"]).to_pylist():
                if row["has_alt"]:
                    for gene in genes.get(row["locus_id"], ()):
                        self.gene_carriers.setdefault(gene, set()).add(row["participant_id"])
                    for gene in damaging.get(row["locus_id"], ()):
                        self.protein_altering_carriers.setdefault(gene, set()).add(row["participant_id"])


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Oracle]:
    base = tmp_path_factory.mktemp("summary-panel")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    return cache, Oracle(release)


@pytest.fixture
def panel(qtbot: QtBot, synced: tuple[Path, Oracle]) -> Iterator[SummaryPanel]:
    cache, _oracle = synced
    jobs = QtJobRunner()
    widget = SummaryPanel(jobs, CohortState())
    qtbot.addWidget(widget)
    widget.resize(900, 1900)
    widget.show()
    workspace = Workspace.open(cache)
    with qtbot.waitSignal(widget.charts_loaded, timeout=30_000):
        widget.set_workspace(workspace)
    yield widget
    widget.set_workspace(None)
    jobs.shutdown()
    workspace.close()


def click_bar(qtbot: QtBot, panel: SummaryPanel, card: BarChartCard, index: int, shift: bool = False) -> None:
    """A real mouse click in the middle of bar `index`, then wait for the charts of the new cohort."""
    view_box = card.plot.getPlotItem().getViewBox()
    point = card.plot.mapFromScene(view_box.mapViewToScene(card.bar_view_point(index)))
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    with qtbot.waitSignal(panel.charts_loaded, timeout=30_000):
        qtbot.mouseClick(card.plot.viewport(), Qt.MouseButton.LeftButton, modifier, point)
    assert not panel.is_dimmed


def cohort_ids(panel: SummaryPanel) -> set[str]:
    assert panel.workspace is not None
    return set(count_cohort(panel.workspace.cursor(), panel.state.cohort).participant_ids)


def test_study_click_then_shift_click_or(qtbot: QtBot, panel: SummaryPanel, synced: tuple[Path, Oracle]) -> None:
    _cache, oracle = synced
    card = panel.bar_cards["study"]
    series = panel.series["study"]
    first, second = series.values[0], series.values[1]
    click_bar(qtbot, panel, card, 0)
    assert panel.state.field_values("participant.study_id") == (first,)
    expected = {p for p, s in oracle.study.items() if s == first}
    assert cohort_ids(panel) == expected and len(expected) == series.counts[0]
    assert card.selected == {0}
    # the sex chart now counts only that study (from the new data)
    sex = panel.series["sex"]
    assert dict(zip(sex.values, sex.counts, strict=True)) == {
        value: sum(1 for p in expected if oracle.sex[p] == value) for value in {oracle.sex[p] for p in expected}}
    # shift-click on the second study widens the criterion with OR; the other studies' bars are back
    index = panel.series["study"].values.index(second)
    click_bar(qtbot, panel, card, index, shift=True)
    assert panel.state.field_values("participant.study_id") == (first, second)
    assert cohort_ids(panel) == {p for p, s in oracle.study.items() if s in (first, second)}
    # a plain click on a selected-only value again removes the filter
    click_bar(qtbot, panel, card, index, shift=True)
    only = panel.series["study"].values.index(first)
    click_bar(qtbot, panel, card, only)
    assert panel.state.field_values("participant.study_id") == ()
    assert cohort_ids(panel) == set(oracle.study)


def test_gene_and_sex_clicks_count_like_the_oracle(qtbot: QtBot, panel: SummaryPanel,
                                                  synced: tuple[Path, Oracle]) -> None:
    _cache, oracle = synced
    sex_series = panel.series["sex"]
    female = sex_series.values.index("female")
    click_bar(qtbot, panel, panel.bar_cards["sex"], female)
    females = {p for p, s in oracle.sex.items() if s == "female"}
    assert cohort_ids(panel) == females
    genes = panel.series["gene"]
    pick = len(genes.values) - 1  # the last bar: a gene not every female carries
    gene, bar_count = genes.values[pick], genes.counts[pick]
    click_bar(qtbot, panel, panel.bar_cards["gene"], pick)
    assert panel.state.field_values("consequence.gene_symbol") == (gene,)
    # the bar counted carriers of a HIGH / MODERATE call in the gene: the click filters on those same calls
    assert set(panel.state.field_values("consequence.vep_impact")) == {"HIGH", "MODERATE"}
    expected = females & oracle.protein_altering_carriers[str(gene)]
    assert cohort_ids(panel) == expected
    assert len(expected) == bar_count


def test_age_histogram_click_adds_a_range(qtbot: QtBot, panel: SummaryPanel) -> None:
    histogram = panel.histogram
    assert histogram is not None
    index = next(i for i, count in enumerate(histogram.counts) if count)
    click_bar(qtbot, panel, panel.age_card, index)
    criteria = [n for n in panel.state.top_level() if isinstance(n, Criterion)]
    assert criteria == [Criterion("diagnosis.age_at_event_days", "between", histogram.day_range(histogram.years[index]))]
    assert panel.age_card.selected == {index}


def test_csv_export_and_dimming(qtbot: QtBot, panel: SummaryPanel, synced: tuple[Path, Oracle],
                                tmp_path: Path) -> None:
    _cache, oracle = synced
    target = tmp_path / "study.csv"
    panel.bar_cards["study"].export_csv(target)
    with target.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["label", "value", "participants"]
    counts = {row[1]: int(row[2]) for row in rows[1:]}
    assert counts == {s: sum(1 for v in oracle.study.values() if v == s) for s in set(oracle.study.values())}
    assert all(row[1] in row[0] for row in rows[1:])
    panel.lollipop.export_csv(tmp_path / "lollipop.csv")
    lollipop_rows = list(csv.reader((tmp_path / "lollipop.csv").open(newline="")))
    assert lollipop_rows[0][0] == "gene" and len(lollipop_rows) == len(panel.lollipop.variants) + 1
    panel.bar_cards["sex"].export_png(tmp_path / "sex.png")
    panel.bar_cards["sex"].export_svg(tmp_path / "sex.svg")
    assert (tmp_path / "sex.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (tmp_path / "sex.svg").read_text()
    # a cohort change dims the old charts until the new ones arrive
    with qtbot.waitSignal(panel.charts_loaded, timeout=30_000):
        panel.state.set_field_values("participant.sex", ["male"])
        assert panel.is_dimmed
    assert not panel.is_dimmed


def test_compare_panel_current_vs_rest_and_saved(qtbot: QtBot, synced: tuple[Path, Oracle]) -> None:
    cache, oracle = synced
    state = CohortState()
    saved = [("Girls", Cohort(Criterion("participant.sex", "in", ("female",)))),
             ("Boys", Cohort(Criterion("participant.sex", "in", ("male",))))]
    jobs = QtJobRunner()
    panel = ComparePanel(jobs, state, saved_cohorts=lambda: saved)
    qtbot.addWidget(panel)
    panel.resize(800, 700)
    panel.show()
    workspace = Workspace.open(cache)
    try:
        panel.set_workspace(workspace)
        assert "add a filter" in panel.status_label.text()  # everyone vs nobody is no comparison
        study = sorted(set(oracle.study.values()))[0]
        with qtbot.waitSignal(panel.comparison_loaded, timeout=30_000):
            state.set_field_values("participant.study_id", [study])
        result = panel.result
        assert result is not None and result.names == ("Cohort", "The rest")
        in_study = {p for p, s in oracle.study.items() if s == study}
        assert set(result.data[0].participant_ids) <= in_study
        assert not set(result.data[1].participant_ids) & in_study
        # every participant is in exactly one group, with survival data or left out
        assert sum(len(d.participant_ids) + d.excluded for d in result.data) == len(oracle.study)
        table = panel.survival_card.risk_table
        assert [table.item(row, 0).text() for row in range(2)] == [f"{c.subjects:,}" for c in result.curves]
        assert f"χ² = {result.log_rank.statistic:.2f}" in panel.survival_card.note_label.text()
        with qtbot.waitSignal(panel.comparison_loaded, timeout=30_000):
            panel.vs_saved.setChecked(True)
        assert panel.result is not None and panel.result.names == ("Girls", "Boys")
        girls = {p for p, s in oracle.sex.items() if s == "female"}
        assert set(panel.result.data[0].participant_ids) <= girls
        assert not set(panel.result.data[1].participant_ids) & girls
    finally:
        panel.set_workspace(None)
        jobs.shutdown()
        workspace.close()


@pytest.mark.parametrize("module_name", ["kfexplorer.ui.panels.summary_panel", "kfexplorer.ui.panels.compare_panel"])
def test_previews_open_on_a_cache_without_clinical_or_variant_tables(qtbot: QtBot, ui_cache_dir: Path,
                                                                     module_name: str) -> None:
    """The tiny UI cache has participants only: every chart comes back empty instead of failing."""
    module = importlib.import_module(module_name)
    widget = module.preview(ui_cache_dir, exec_loop=False)
    qtbot.addWidget(widget)
    assert widget.windowTitle().startswith("kfexplorer preview")
    if isinstance(widget, SummaryPanel):
        qtbot.waitUntil(lambda: widget.is_loaded, timeout=10_000)
        assert widget.series["gene"].counts == ()
        assert sum(widget.series["sex"].counts) == widget.participants
        assert widget.participants
    widget.close()
    if widget.jobs is not None:
        widget.jobs.shutdown()


def test_a_term_chosen_the_portal_way_highlights_its_bar(qtbot: QtBot) -> None:
    from kfexplorer.services.cohort_charts import BarSeries
    from kfexplorer.ui.panels.summary_panel import SummaryPanel

    state = CohortState()
    panel = SummaryPanel(None, state)
    qtbot.addWidget(panel)
    series = BarSeries("phenotypes", "Top phenotypes", "phenotype.observed", ("HP:0002013", "HP:0001250"),
                       ("Vomiting", "Seizure"), (12, 7))
    assert panel._selected_bars(series) == set()
    state.set_field_values("phenotype.observed", ["Seizure (HP:0001250)"])
    assert panel._selected_bars(series) == {1}
