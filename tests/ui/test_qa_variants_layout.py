"""QA: the Variants tab at 1280×800 beside both docks (UI.md: check every panel at 1280×800). With every control and
the status on one row, and the carriers' title unwrapped beside its three buttons, the tab asked for ~780 px: the
Facets dock was squeezed to ~120 px (study ids cut) and the status ("… variants · … sequenced participants") was
cut off at the window's edge."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from kfexplorer.ui.main_window import MainWindow


def test_variants_tab_leaves_the_docks_their_width_and_shows_its_status_whole(
        qtbot: QtBot, ui_cache_dir: Path) -> None:
    window = MainWindow(ui_cache_dir)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitUntil(lambda: window.is_loaded, timeout=20_000)
    panel = window.variants_panel
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: "built" in panel.status.text() or "No variant calls" in panel.status.text(),
                    timeout=30_000)
    qtbot.wait(50)

    # the docks' widths the window gives them (workspace_menu: 220 and 320) leave room for the tab
    assert panel.minimumSizeHint().width() <= 1280 - 220 - 320 - 40
    assert window.facets_dock.width() >= 215 and window.participant_dock.width() >= 215
    status = panel.status
    assert status.isVisible() and status.text()
    assert status.fontMetrics().horizontalAdvance(status.text()) <= status.contentsRect().width()
    right_edge = status.mapTo(window, status.rect().topRight()).x()
    assert right_edge <= window.participant_dock.x()  # nothing of it under the Participant dock
