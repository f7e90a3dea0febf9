"""QA: the Participant dock keeps the participant a user opened while they refine the cohort. Every reload of the
Participants table (a facet click, any cohort edit, a sort) emptied the dock to "No participant selected", even
for a participant still in the cohort or opened from quick search. Another cache still clears it. The expected
participant comes from the raw release's FHIR Patient resources, never from the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import criterion
from kfexplorer.sync.engine import sync_release
from kfexplorer.ui.main_window import MainWindow

KF_PARTICIPANT = "https://kidsfirstdrc.org/participant_id"


@pytest.fixture(scope="module")
def release_and_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("qa_dock")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=40, occurrences=2_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    return release, cache


def raw_female(release: Path) -> str:
    """A female participant's id, read from the release's Patient NDJSON."""
    for path in sorted((release / "fhir" / "Patient").glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            patient = json.loads(line)
            if patient.get("gender") == "female":
                return next(i["value"] for i in patient["identifier"] if i["system"] == KF_PARTICIPANT)
    raise AssertionError("no female participant in the release")


def open_window(qtbot: QtBot, cache: Path) -> MainWindow:
    window = MainWindow(cache)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitUntil(lambda: window.is_loaded, timeout=20_000)
    return window


def dock_shows(window: MainWindow, participant_id: str) -> bool:
    dock = window.participant_panel
    return dock.stack.currentIndex() == 1 and dock.headline.text().startswith(participant_id)


def test_a_cohort_edit_and_a_sort_keep_the_participant_in_the_dock(
        qtbot: QtBot, release_and_cache: tuple[Path, Path]) -> None:
    release, cache = release_and_cache
    participant = raw_female(release)
    window = open_window(qtbot, cache)
    window.show_participant(participant)  # as quick search (Ctrl+K) does
    qtbot.waitUntil(lambda: dock_shows(window, participant), timeout=10_000)

    model = window.participants_panel.model
    with qtbot.waitSignal(model.first_page_loaded, timeout=10_000):
        window.cohort_state.add(criterion("participant.sex", "in", "female"))
    qtbot.wait(50)
    assert dock_shows(window, participant)

    panel = window.participants_panel
    header = panel.view.horizontalHeader()
    with qtbot.waitSignal(model.first_page_loaded, timeout=10_000):
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(header.sectionViewportPosition(2) + 8, header.height() // 2))
    qtbot.wait(50)
    assert dock_shows(window, participant)


def test_clearing_the_selection_or_another_cache_still_empties_the_dock(
        qtbot: QtBot, release_and_cache: tuple[Path, Path]) -> None:
    window = open_window(qtbot, release_and_cache[1])
    panel = window.participants_panel
    panel.view.selectRow(1)
    chosen = str(panel.model.row_record(1)["participant_id"])
    qtbot.waitUntil(lambda: dock_shows(window, chosen), timeout=10_000)
    panel.view.clearSelection()
    assert window.participant_panel.stack.currentIndex() == 0

    window.show_participant(chosen)
    qtbot.waitUntil(lambda: dock_shows(window, chosen), timeout=10_000)
    window.refresh()  # F5: the cache is opened anew
    qtbot.waitUntil(lambda: window.is_loaded, timeout=20_000)
    assert window.participant_panel.stack.currentIndex() == 0
