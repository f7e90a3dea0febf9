"""QA: switching the theme live (View ▸ Theme) repaints the whole window, not only its frame. The window carries a
style sheet, and widgets under a style sheet kept the palette they were first polished with: after Dark the docks,
the centre and the status bar stayed light while the text turned light (unreadable)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from kfexplorer.ui.app import apply_theme, current_theme
from kfexplorer.ui.main_window import MainWindow


@pytest.fixture(autouse=True)
def private_config(qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """settings.json in a private folder; the app theme restored afterwards."""
    monkeypatch.setenv("KFEXPLORER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("KFEXPLORER_DATA_DIR", str(tmp_path / "data"))
    before = current_theme(qapp)
    yield tmp_path / "config"
    apply_theme(qapp, before)


def window_lightness(widget: QWidget) -> float:
    return widget.palette().color(QPalette.ColorRole.Window).lightnessF()


def text_lightness(widget: QWidget) -> float:
    return widget.palette().color(QPalette.ColorRole.WindowText).lightnessF()


def painted_background_lightness(widget: QWidget) -> float:
    """The lightness of what the widget paints near its bottom-right corner (plain background there)."""
    image = widget.grab().toImage()
    return image.pixelColor(image.width() - 4, image.height() - 4).lightnessF()


def test_live_dark_theme_reaches_the_docks_centre_and_status_bar(qtbot: QtBot, ui_cache_dir: Path) -> None:
    window = MainWindow(ui_cache_dir)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitUntil(lambda: window.is_loaded, timeout=20_000)
    centre = window.centralWidget()
    assert centre is not None
    inner: list[QWidget] = [centre, window.participant_dock, window.participant_panel, window.facets_dock,
             window.release_status, window.variants_panel.carriers_title]
    assert all(window_lightness(w) > 0.85 for w in inner)

    window.desktop.theme_actions["dark"].trigger()
    qtbot.waitUntil(lambda: window_lightness(window) < 0.25)
    for widget in inner:
        assert window_lightness(widget) < 0.25, widget.objectName() or type(widget).__name__
        assert text_lightness(widget) > 0.75, widget.objectName() or type(widget).__name__
    assert painted_background_lightness(window.participant_dock) < 0.25

    window.desktop.theme_actions["light"].trigger()
    for widget in inner:
        assert window_lightness(widget) > 0.85 and text_lightness(widget) < 0.3
    assert painted_background_lightness(window.participant_dock) > 0.85
