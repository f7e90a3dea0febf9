"""The cohort builder: facets → CohortState → query bar pills, toolbar count and Participants table."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kfexplorer.ui.main_window import MainWindow

STUDY = "participant.study_id"
SEX = "participant.sex"


@pytest.fixture(scope="module")
def release_and_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from kfexplorer.demo.release import generate_release
    from kfexplorer.sync.engine import sync_release

    root = tmp_path_factory.mktemp("cohort-builder")
    release = root / "release"
    generate_release(release, participants=30, occurrences=3000, imaging=False)
    sync_release(str(release), root / "cache")
    return release, root / "cache"


def ndjson(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for path in sorted(folder.glob("*.ndjson"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def study_members(release: Path) -> dict[str, set[str]]:
    """Oracle from the raw FHIR: study_id → participant ids (ResearchSubject → ResearchStudy identifiers)."""
    study_ids = {}
    for study in ndjson(release / "fhir" / "ResearchStudy"):
        ids = [i["value"] for i in study["identifier"] if i["system"].endswith("/study_id")]  # type: ignore[index,union-attr,attr-defined]
        study_ids[f"ResearchStudy/{study['id']}"] = ids[0]
    members: dict[str, set[str]] = {}
    for subject in ndjson(release / "fhir" / "ResearchSubject"):
        pid = [i["value"] for i in subject["identifier"] if i["system"].endswith("/participant_id")][0]  # type: ignore[index,union-attr,attr-defined]
        members.setdefault(study_ids[subject["study"]["reference"]], set()).add(pid)  # type: ignore[index]
    return members


def open_window(qtbot: QtBot, cache: Path) -> MainWindow:
    window = MainWindow(cache)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitSignal(window.loaded, timeout=10000):
        window.show()
    qtbot.waitUntil(lambda: bool(window.facets_panel.counts), timeout=10000)
    return window


def table_ids(window: MainWindow) -> set[str]:
    model = window.participants_panel.model
    column = model.columns.index("participant_id")
    return {str(model.row_record(row)["participant_id"]) for row in range(model.rowCount())} if column >= 0 else set()


def wait_settled(qtbot: QtBot, window: MainWindow, expected: set[str]) -> None:
    model = window.participants_panel.model
    qtbot.waitUntil(lambda: not model.is_loading and not model.is_stale and table_ids(window) == expected,
                    timeout=10000)
    qtbot.waitUntil(lambda: window.cohort_label.isEnabled(), timeout=10000)


def test_checking_a_study_filters_table_count_and_facets(qtbot: QtBot, release_and_cache: tuple[Path, Path]) -> None:
    release, cache = release_and_cache
    members = study_members(release)
    everyone = set().union(*members.values())
    study = min(members, key=lambda s: (len(members[s]), s))
    assert 0 < len(members[study]) < len(everyone)
    window = open_window(qtbot, cache)
    facets = window.facets_panel
    assert facets.counts_of(STUDY) == {s: len(ids) for s, ids in members.items()}
    assert window.query_bar.pill_texts() == ["All participants"]

    item = facets.value_item(STUDY, study)
    assert item is not None
    item.setCheckState(0, Qt.CheckState.Checked)
    wait_settled(qtbot, window, members[study])
    assert window.cohort_label.text() == f"Cohort: {len(members[study]):,} of {len(everyone):,} participants"
    assert window.query_bar.pill_texts() == [f"Study is {study}"]
    # Facet counts: Sex within the cohort sums to its size; Study ignores its own filter.
    qtbot.waitUntil(lambda: sum(facets.counts_of(SEX).values()) == len(members[study]), timeout=10000)
    sexes = Counter(p["gender"] for p in ndjson(release / "fhir" / "Patient")
                    if [i["value"] for i in p["identifier"]][0] in members[study])  # type: ignore[index,union-attr]
    assert {str(k): v for k, v in facets.counts_of(SEX).items()} == dict(sexes)
    assert facets.counts_of(STUDY) == {s: len(ids) for s, ids in members.items()}
    study_facet = facets.value_facet(STUDY)
    study_facet.search.setText(study[-4:].lower())
    assert study_facet.visible_labels() == [study]
    study_facet.search.clear()

    # × on the pill restores everyone; undo brings the study back; redo removes it again.
    remove = window.query_bar.pills[0].remove_button
    assert remove is not None
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    wait_settled(qtbot, window, everyone)
    assert window.query_bar.pill_texts() == ["All participants"]
    assert f"{len(everyone):,} participants" in window.cohort_label.text()
    assert facets.value_item(STUDY, study).checkState(0) == Qt.CheckState.Unchecked  # type: ignore[union-attr]
    window.query_bar.undo_button.click()
    wait_settled(qtbot, window, members[study])
    assert facets.value_item(STUDY, study).checkState(0) == Qt.CheckState.Checked  # type: ignore[union-attr]
    assert window.cohort_label.text().startswith(f"Cohort: {len(members[study]):,} of")
    window.query_bar.redo_shortcut.activated.emit()
    wait_settled(qtbot, window, everyone)
    assert not window.query_bar.redo_button.isEnabled() and window.query_bar.undo_button.isEnabled()


def test_participants_page_cohort_filter_binds_values(release_and_cache: tuple[Path, Path]) -> None:
    from kfexplorer.query.model import Cohort, criterion
    from kfexplorer.services.workspace import Workspace

    release, cache = release_and_cache
    members = study_members(release)
    study = max(members, key=lambda s: (len(members[s]), s))
    with Workspace.open(cache) as workspace:
        everyone = workspace.participants_page(limit=1000)
        assert everyone.num_rows == sum(len(ids) for ids in members.values())
        cohort = Cohort().with_criterion(criterion(STUDY, "in", study))
        page = workspace.participants_page(limit=5, offset=1, cohort=cohort, sort_column="participant_id")
        expected = sorted(members[study])[1:6]
        assert page.table.column("participant_id").to_pylist() == expected
        nobody = Cohort().with_criterion(criterion(STUDY, "in", "SD_NOPE' OR 1=1 --"))
        assert workspace.participants_page(cohort=nobody).num_rows == 0
