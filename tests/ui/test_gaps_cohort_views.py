"""Variants drill-down buttons say what they do ("Make all N carriers the cohort" vs "Keep only carriers in this
cohort"), and Summary charts show a value the cohort excludes (NOT on the chart's field) as a hatched "not …" bar
that clears the NOT when clicked. Oracles read the raw release (FHIR NDJSON, Parquet), never the cache."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Cohort, Criterion, Not, all_of, criterion, negate
from kfexplorer.services.cohort_count import count_cohort
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.workspace import Workspace
from kfexplorer.sync.engine import sync_release
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.panels.chart_cards import BarChartCard
from kfexplorer.ui.panels.summary_panel import SummaryPanel
from kfexplorer.ui.panels.variants_panel import VariantsPanel

KF = "https://kidsfirstdrc.org/"
TIMEOUT_MS = 30_000


class Raw:
    """Sex per participant (FHIR Patient) and carriers per variant (Parquet occurrences with has_alt)."""

    def __init__(self, release: Path) -> None:
        self.sex: dict[str, str] = {}
        for path in sorted((release / "fhir" / "Patient").rglob("*.ndjson")):
            for line in path.read_text().splitlines():
                if line.strip():
                    patient = json.loads(line)
                    pid = next(str(i["value"]) for i in patient["identifier"]
                               if i.get("system") == KF + "participant_id")
                    self.sex[pid] = patient["gender"]
        self.carriers: dict[str, set[str]] = defaultdict(set)
        for path in sorted((release / "variants" / "occurrences").rglob("*.parquet")):
            for row in pq.read_table(path, columns=["participant_id", "locus_id", "has_alt"]).to_pylist():
                if row["has_alt"]:
                    self.carriers[row["locus_id"]].add(row["participant_id"])


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Raw]:
    root = tmp_path_factory.mktemp("gaps-cohort-views")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    return cache, Raw(release)


@pytest.fixture
def workspace(synced: tuple[Path, Raw]) -> Iterator[Workspace]:
    opened = Workspace.open(synced[0])
    yield opened
    opened.close()


def cohort_ids(workspace: Workspace, cohort: Cohort) -> set[str]:
    return set(count_cohort(workspace.cursor(), cohort).participant_ids)


# -- Variants: the two carrier buttons ---------------------------------------------------------------------------

@pytest.fixture
def variants(qtbot: QtBot, workspace: Workspace) -> Iterator[VariantsPanel]:
    jobs = QtJobRunner()
    panel = VariantsPanel(jobs, CohortState(Cohort(all_of(criterion("participant.sex", "in", "female")))))
    jobs.setParent(panel)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    panel.set_workspace(workspace)
    yield panel
    jobs.shutdown()


def test_carrier_buttons_name_the_release_count_and_keep_or_replace_the_cohort(
        qtbot: QtBot, variants: VariantsPanel, workspace: Workspace, synced: tuple[Path, Raw]) -> None:
    raw = synced[1]
    females = {p for p, sex in raw.sex.items() if sex == "female"}
    in_cohort = {locus: people & females for locus, people in raw.carriers.items()}
    top = sorted((locus for locus in in_cohort if in_cohort[locus]), key=lambda lo: (-len(in_cohort[lo]), lo))[0]
    assert len(raw.carriers[top]) > len(in_cohort[top]), "the variant has carriers outside the cohort"
    qtbot.waitUntil(lambda: "built" in variants.status.text() and variants.model.is_window_loaded(),
                    timeout=TIMEOUT_MS)
    assert str(variants.model.index(0, 0).data()) == top
    variants.table.view.selectRow(0)
    total = len(raw.carriers[top])
    qtbot.waitUntil(lambda: variants.carriers_model.rowCount() == len(in_cohort[top])
                    and variants.carrier_cohort_button.text() == f"Make all {total:,} carriers the cohort",
                    timeout=TIMEOUT_MS)
    assert set(variants.carrier_ids()) == in_cohort[top]
    assert f"{len(in_cohort[top]):,} carriers of {top} in the cohort" in variants.carriers_title.text()
    assert variants.keep_carriers_button.text() == "Keep only carriers in this cohort"
    assert variants.keep_carriers_button.isEnabled() and variants.carrier_cohort_button.isEnabled()
    variants.grab().save("/tmp/h5/variants_carrier_buttons.png")
    sex_female = Criterion("participant.sex", "in", ("female",))
    carries = Criterion("variant.locus_id", "in", (top,))
    # keep: the cohort AND carries it = exactly the carriers the list showed
    variants.keep_carriers_button.click()
    assert variants._state.cohort.top_level() == (sex_female, carries)
    assert cohort_ids(workspace, variants._state.cohort) == in_cohort[top]
    # make all: the criterion alone = every carrier in the release (the number the button named)
    variants._state.undo()
    variants.carrier_cohort_button.click()
    assert variants._state.cohort.top_level() == (carries,)
    assert cohort_ids(workspace, variants._state.cohort) == raw.carriers[top]


# -- Summary: an excluded value's bar --------------------------------------------------------------------------

@pytest.fixture
def summary(qtbot: QtBot, workspace: Workspace) -> Iterator[SummaryPanel]:
    jobs = QtJobRunner()
    panel = SummaryPanel(jobs, CohortState())
    qtbot.addWidget(panel)
    panel.resize(900, 1900)
    panel.show()
    with qtbot.waitSignal(panel.charts_loaded, timeout=TIMEOUT_MS):
        panel.set_workspace(workspace)
    yield panel
    panel.set_workspace(None)
    jobs.shutdown()


def click_bar(qtbot: QtBot, panel: SummaryPanel, card: BarChartCard, index: int) -> None:
    view_box = card.plot.getPlotItem().getViewBox()
    point = card.plot.mapFromScene(view_box.mapViewToScene(card.bar_view_point(index)))
    with qtbot.waitSignal(panel.charts_loaded, timeout=TIMEOUT_MS):
        qtbot.mouseClick(card.plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)


def sex_bars(panel: SummaryPanel) -> dict[Any, int]:
    series = panel.series["sex"]
    return dict(zip(series.values, series.counts, strict=True))


def test_a_not_on_the_charts_field_shows_as_an_excluded_bar_that_clears_it(
        qtbot: QtBot, summary: SummaryPanel, workspace: Workspace, synced: tuple[Path, Raw]) -> None:
    raw = synced[1]
    everyone = {sex: sum(1 for s in raw.sex.values() if s == sex) for sex in set(raw.sex.values())}
    with qtbot.waitSignal(summary.charts_loaded, timeout=TIMEOUT_MS):
        summary.state.add(negate(Criterion("participant.sex", "in", ("female",))))
    assert summary.participants == len(raw.sex) - everyone["female"]
    assert sex_bars(summary) == everyone  # the chart ignores the NOT on its own field: female is still there
    card = summary.bar_cards["sex"]
    female = summary.series["sex"].values.index("female")
    assert card.excluded == {female} and card.selected == set()
    assert card.shown_labels()[female] == "not female"
    summary.grab().save("/tmp/h5/summary_excluded_bar.png")
    # "none of" (not_in) reads the same way
    summary.state.set_cohort(Cohort(all_of(Criterion("participant.sex", "not_in", ("male",)))))
    qtbot.waitUntil(lambda: summary.is_loaded and not summary.is_dimmed, timeout=TIMEOUT_MS)
    assert card.excluded == {summary.series["sex"].values.index("male")}
    summary.state.set_cohort(Cohort(all_of(negate(Criterion("participant.sex", "in", ("female",))))))
    qtbot.waitUntil(lambda: summary.is_loaded and not summary.is_dimmed and card.excluded == {female},
                    timeout=TIMEOUT_MS)
    # clicking the excluded bar clears the NOT: back to everyone, nothing excluded, nothing selected
    click_bar(qtbot, summary, card, female)
    assert not any(isinstance(node, Not) for node in summary.state.top_level())
    assert summary.state.top_level() == ()
    assert cohort_ids(workspace, summary.state.cohort) == set(raw.sex)
    assert card.excluded == set() and card.selected == set()
