"""The window without and with a release: Save and Export need one; opening an imaging series shows its
participant in the Participant dock. Oracles read the raw release (its DICOM folders), never the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kfexplorer.demo.release import generate_release
from kfexplorer.sync.engine import sync_release
from kfexplorer.ui.main_window import MainWindow

TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def imaging_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("gaps-window")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=40, occurrences=2_000, seed=7, imaging=True, force=True)
    sync_release(str(release), cache)
    return release, cache


def raw_series_participants(release: Path) -> dict[str, str]:
    """Series UID → participant id from the raw release's folders: imaging/<study>/<participant>/<study>/<series>."""
    return {dcm.parent.name: dcm.parent.parent.parent.name for dcm in (release / "imaging").glob("*/*/*/*/*.dcm")}


def new_window(qtbot: QtBot, cache: Path | None) -> MainWindow:
    window = MainWindow(cache)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitSignal(window.loaded, timeout=TIMEOUT_MS):
        window.show()
    return window


def test_save_and_export_wait_for_a_release(qtbot: QtBot, imaging_release: tuple[Path, Path]) -> None:
    window = new_window(qtbot, None)
    assert window.workspace is None
    cache_actions = (window.save_action, window.save_cohort_menu_action, window.export_action)
    assert not any(action.isEnabled() for action in cache_actions)
    window.grab().save("/tmp/h5/window_no_release.png")
    with qtbot.waitSignal(window.workspace_opened, timeout=TIMEOUT_MS):
        window.open_cache(imaging_release[1])
    assert all(action.isEnabled() for action in cache_actions)
    window.release_workspace_for_sync()()  # handing the cache to a sync: nothing to save or export meanwhile
    assert not any(action.isEnabled() for action in cache_actions)


def test_opening_a_series_shows_its_participant_in_the_dock(qtbot: QtBot,
                                                            imaging_release: tuple[Path, Path]) -> None:
    release, cache = imaging_release
    owners = raw_series_participants(release)
    assert len(set(owners.values())) >= 2
    window = new_window(qtbot, cache)
    window.participant_dock.hide()
    panel = window.imaging_panel
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: bool(panel.entries) and panel.tree.isEnabled(), timeout=TIMEOUT_MS)
    assert set(panel.listed_series_uids()) == set(owners)
    first = panel.listed_series_uids()[0]
    other = next(uid for uid in panel.listed_series_uids() if owners[uid] != owners[first])
    dock = window.participant_panel
    for uid in (first, other):
        with qtbot.waitSignal(panel.series_opened, timeout=TIMEOUT_MS):
            panel.tree.itemDoubleClicked.emit(panel.series_items[uid], 0)
        owner = owners[uid]

        def dock_shows_owner(owner: str = owner) -> bool:
            return dock.detail is not None and dock.detail.participant_id == owner

        qtbot.waitUntil(dock_shows_owner, timeout=TIMEOUT_MS)
        assert window.participant_dock.isVisible()
        assert dock.headline.text().split(" · ")[0] == owner
    window.grab().save("/tmp/h5/window_series_participant.png")
